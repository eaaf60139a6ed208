# Clopper-Pearson reference values: binom.test()$conf.int for x = 0..n.
# Run from this folder: Rscript binom_reference.R  -> binom_cp.csv
out <- list()
for (cl in c(0.95, 0.90))
  for (n in c(1, 2, 3, 5, 10, 12, 20, 36, 48, 100))
    for (x in 0:n) {
      ci <- binom.test(x, n, conf.level = cl)$conf.int
      out[[length(out) + 1]] <- data.frame(x = x, n = n, conf_level = cl,
                                           lower = ci[1], upper = ci[2])
    }
write.csv(do.call(rbind, out), "binom_cp.csv", row.names = FALSE)
