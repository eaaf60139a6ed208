# Descriptive statistics reference (R defaults: quantile type 7, sd with n-1).
# Run: Rscript describe_reference.R -> describe.csv
vals <- list(
  a = c(2.1, 3.5, 0.7, 12.25, 5, 5, 8.8, 1.05, 44.2),
  b = c(10, 20),
  c = c(3.3),
  theoph_cmax = sapply(split(Theoph$conc, Theoph$Subject), max))
out <- list()
for (nm in names(vals)) {
  x <- vals[[nm]]; q <- quantile(x, c(0.25, 0.75), type = 7)
  out[[length(out) + 1]] <- data.frame(
    name = nm, n = length(x), mean = mean(x), sd = if (length(x) > 1) sd(x) else NA,
    median = median(x), q1 = q[[1]], q3 = q[[2]], min = min(x), max = max(x),
    geo_mean = exp(mean(log(x))),
    geo_cv = if (length(x) > 1) 100 * sqrt(exp(sd(log(x))^2) - 1) else NA)
}
write.csv(do.call(rbind, out), "describe.csv", row.names = FALSE)
write.csv(data.frame(name = rep(names(vals), lengths(vals)), value = unlist(vals)),
          "describe_input.csv", row.names = FALSE)
