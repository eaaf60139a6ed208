# NCA reference values on R's datasets::Theoph, following PKNCA's documented rules
# (PKNCA itself is not installable here). Run: Rscript nca_reference.R -> nca_theoph.csv
#  - Cmax = max(conc); Tmax = first time of Cmax
#  - Tlast/Clast = last time/conc with conc > 0
#  - AUClast: trapezoids from the first sample to Tlast. "linear": (c1+c2)/2*dt.
#    "lin up/log down": log trapezoid (c1-c2)/log(c1/c2)*dt when 0 < c2 < c1, else linear.
#  - AUCint(start, end) ("aucint.last"): concentration at an end point between samples is
#    interpolated (linear, or log-linear when 0 < c2 < c1 under lin up/log down);
#    after Tlast the concentration is 0, so the area stops at Tlast.
aucs <- function(t, c, method) {
  s <- 0
  for (i in seq_len(length(t) - 1)) {
    dt <- t[i + 1] - t[i]; c1 <- c[i]; c2 <- c[i + 1]
    if (method == "log" && c2 > 0 && c2 < c1) s <- s + (c1 - c2) / log(c1 / c2) * dt
    else s <- s + (c1 + c2) / 2 * dt
  }
  s
}
interp <- function(t, c, tout, method) {
  if (tout %in% t) return(c[t == tout])
  i <- max(which(t < tout)); t1 <- t[i]; t2 <- t[i + 1]; c1 <- c[i]; c2 <- c[i + 1]
  f <- (tout - t1) / (t2 - t1)
  if (method == "log" && c2 > 0 && c2 < c1) exp(log(c1) + f * (log(c2) - log(c1)))
  else c1 + f * (c2 - c1)
}
aucint <- function(t, c, start, end, method) {
  tlast <- max(t[c > 0])
  keep <- t <= tlast; t <- t[keep]; c <- c[keep]
  end2 <- min(end, tlast)
  tt <- sort(unique(c(start, t[t > start & t < end2], end2)))
  cc <- sapply(tt, function(x) interp(t, c, x, method))
  aucs(tt, cc, method)
}
out <- list()
for (s in levels(Theoph$Subject)) {
  d <- Theoph[Theoph$Subject == s, ]; d <- d[order(d$Time), ]
  t <- d$Time; c <- d$conc
  tl <- max(t[c > 0]); k <- t <= tl
  out[[length(out) + 1]] <- data.frame(
    subject = s, cmax = max(c), tmax = t[which.max(c)], tlast = tl, clast = c[t == tl],
    auclast_linear = aucs(t[k], c[k], "linear"), auclast_linlog = aucs(t[k], c[k], "log"),
    auc0_10_linear = aucint(t, c, 0, 10, "linear"), auc0_10_linlog = aucint(t, c, 0, 10, "log"),
    auc0_30_linlog = aucint(t, c, 0, 30, "log"), auc2_6_linlog = aucint(t, c, 2, 6, "log"))
}
write.csv(do.call(rbind, out), "nca_theoph.csv", row.names = FALSE)
write.csv(data.frame(subject = Theoph$Subject, time = Theoph$Time, conc = Theoph$conc),
          "theoph.csv", row.names = FALSE)
