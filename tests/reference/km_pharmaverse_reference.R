# KM medians/CIs, numbers at risk and log-rank for pharmaverseadam ADTTE_ONCO (OS, PFS by ARM).
# Run from this folder: Rscript km_pharmaverse_reference.R [path/to/adtte_onco.csv]
# (default ../../../shared/reference-data/pharmaverseadam/adtte_onco.csv) -> km_pharmaverse.csv,
# km_pharmaverse_logrank.csv
suppressMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
f <- if (length(args)) args[1] else "../../../shared/reference-data/pharmaverseadam/adtte_onco.csv"
d <- read.csv(f)
grid <- c(0, 30, 60, 90, 180, 365)
out <- list(); lr <- list()
for (p in c("OS", "PFS")) {
  dp <- d[d$PARAMCD == p, ]
  for (arm in sort(unique(dp$ARM))) for (ct in c("log", "log-log")) {
    fit <- survfit(Surv(AVAL, 1 - CNSR) ~ 1, data = dp[dp$ARM == arm, ], conf.type = ct)
    q <- quantile(fit, 0.5)
    s <- summary(fit, times = grid, extend = TRUE)
    out[[length(out) + 1]] <- data.frame(
      paramcd = p, arm = arm, conf_type = ct, median = as.numeric(q$quantile),
      median_lower = as.numeric(q$lower), median_upper = as.numeric(q$upper),
      time = s$time, n_risk = s$n.risk, surv = s$surv, lower = s$lower, upper = s$upper)
  }
  sd <- survdiff(Surv(AVAL, 1 - CNSR) ~ ARM, data = dp)
  lr[[p]] <- data.frame(paramcd = p, chisq = sd$chisq, df = sum(sd$exp > 0) - 1,
                        p = pchisq(sd$chisq, sum(sd$exp > 0) - 1, lower.tail = FALSE))
}
write.csv(do.call(rbind, out), "km_pharmaverse.csv", row.names = FALSE)
write.csv(do.call(rbind, lr), "km_pharmaverse_logrank.csv", row.names = FALSE)
