# KM summaries for tests/test_efficacy.py::test_tte_ard_matches_r (efficacy.tte_ard, months).
# Run from this folder: Rscript efficacy_km_reference.R -> efficacy_km.csv
# Landmark rates as summary.survfit(times=, extend = FALSE): a landmark after the last time is
# not selected (written as NA), which tte_ard reports as not estimable.
suppressMessages(library(survival))
d <- read.csv("efficacy_km_input.csv")
out <- list()
for (p in c("DOR", "EFS", "OS")) {
  fit <- survfit(Surv(AVALM, 1 - CNSR) ~ 1, data = d[d$PARAMCD == p, ], conf.type = "log-log")
  q <- quantile(fit, 0.5)
  for (lm in c(6, 12, 24)) {
    has <- lm <= max(fit$time)  # extend = FALSE selects no point after the last time
    s <- summary(fit, times = if (has) lm else 0, extend = FALSE)
    out[[length(out) + 1]] <- data.frame(
      paramcd = p, n = fit$n, events = sum(fit$n.event), median = as.numeric(q$quantile),
      median_lower = as.numeric(q$lower), median_upper = as.numeric(q$upper), landmark = lm,
      surv = if (has) s$surv else NA, lower = if (has) s$lower else NA,
      upper = if (has) s$upper else NA,
      n_risk = summary(fit, times = lm, extend = TRUE)$n.risk)
  }
}
write.csv(do.call(rbind, out), "efficacy_km.csv", row.names = FALSE)
