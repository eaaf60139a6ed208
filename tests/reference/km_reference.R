# Reference values for analysis_lib.stats Kaplan-Meier, quantiles and log-rank.
# Run from this folder:  Rscript km_reference.R   (R 4.2, survival 3.5-3)
# Writes km_*.csv (km_inputs.csv = every input data set, lung.csv = survival::lung columns used). cdiscpilot01_adtte_ttde.csv is the TTDE / SAFFL=="Y" subset of
# ../shared/reference-data/cdiscpilot01/adtte.xpt (USUBJID, TRTA, AVAL, CNSR) exported
# with pyreadstat, because R's foreign package is not installed here.
suppressMessages(library(survival))
options(digits = 17)
wr <- function(x, f) write.csv(x, f, row.names = FALSE, na = "NA")

lung2 <- survival::lung
lung2$event <- as.integer(lung2$status == 2)

# small edge-case data sets: name -> (time, event)
edge <- list(
  all_censored   = list(t = c(2, 4, 4, 7), e = c(0, 0, 0, 0)),
  single_event   = list(t = 5, e = 1),
  single_censor  = list(t = 5, e = 0),
  flat_half      = list(t = c(1, 2, 3, 4), e = c(1, 1, 1, 1)),
  flat_half_cens = list(t = c(1, 2, 3, 4), e = c(1, 1, 0, 0)),
  above_half     = list(t = c(1, 3, 5, 6, 8, 9, 10), e = c(1, 0, 1, 0, 0, 0, 0)),
  ties           = list(t = c(1, 1, 2, 2, 2, 3, 5, 5, 8, 8, 9), e = c(1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 0)),
  to_zero        = list(t = c(1, 2, 3, 4, 6), e = c(1, 0, 1, 1, 1)),
  ci_not_reached = list(t = c(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), e = c(1, 1, 1, 1, 1, 1, 0, 0, 0, 0))
)

datasets <- list()
datasets[["lung"]] <- data.frame(time = lung2$time, event = lung2$event, strata = "all")
datasets[["lung_sex"]] <- data.frame(time = lung2$time, event = lung2$event,
                                     strata = paste0("sex=", lung2$sex))
for (nm in names(edge))
  datasets[[nm]] <- data.frame(time = edge[[nm]]$t, event = edge[[nm]]$e, strata = "all")
cd <- read.csv("cdiscpilot01_adtte_ttde.csv")
datasets[["cdisc_ttde"]] <- data.frame(time = cd$AVAL, event = 1 - cd$CNSR, strata = cd$TRTA)

inputs <- do.call(rbind, lapply(names(datasets), function(nm) cbind(dataset = nm, datasets[[nm]])))
wr(inputs, "km_inputs.csv")
wr(data.frame(time = lung2$time, status = lung2$status, sex = lung2$sex, ph.ecog = lung2$ph.ecog),
   "lung.csv")

curves <- list(); quants <- list(); atrisk <- list()
grid <- list(lung = c(0, 100, 200, 300, 365.25, 500, 800, 1100),
             cdisc_ttde = seq(0, 200, by = 20))
for (nm in names(datasets)) {
  d <- datasets[[nm]]
  for (ct in c("log", "log-log", "plain")) {
    for (s in unique(d$strata)) {
      ds <- d[d$strata == s, ]
      fit <- survfit(Surv(time, event) ~ 1, data = ds, conf.type = ct)
      sm <- summary(fit, censored = TRUE)
      if (length(sm$time))
        curves[[length(curves) + 1]] <- data.frame(
          dataset = nm, strata = s, conf_type = ct, time = sm$time, n_risk = sm$n.risk,
          n_event = sm$n.event, n_censor = sm$n.censor, surv = sm$surv,
          std_err = sm$std.err, lower = sm$lower, upper = sm$upper)
      q <- quantile(fit, probs = c(0.25, 0.5, 0.75))
      quants[[length(quants) + 1]] <- data.frame(
        dataset = nm, strata = s, conf_type = ct, prob = c(0.25, 0.5, 0.75),
        quantile = as.numeric(q$quantile), lower = as.numeric(q$lower),
        upper = as.numeric(q$upper),
        median_print = as.numeric(summary(fit)$table["median"]))
      g <- if (nm %in% names(grid)) grid[[nm]] else if (startsWith(nm, "lung")) grid$lung else
        c(0, 0.5, 1, 2, 2.5, 3, 4, 5, 6, 8, 9, 10, 12)
      sg <- summary(fit, times = g, extend = TRUE)
      atrisk[[length(atrisk) + 1]] <- data.frame(
        dataset = nm, strata = s, conf_type = ct, time = sg$time, n_risk = sg$n.risk,
        surv = sg$surv, lower = sg$lower, upper = sg$upper)
    }
  }
}
wr(do.call(rbind, curves), "km_curves.csv")
wr(do.call(rbind, quants), "km_quantiles.csv")
wr(do.call(rbind, atrisk), "km_at_times.csv")

# conf.int = 0.90 on lung by sex, log-log: a check of conf_level
q90 <- list()
for (s in 1:2) {
  fit <- survfit(Surv(time, event) ~ 1, data = lung2[lung2$sex == s, ], conf.int = 0.90)
  sm <- summary(fit, censored = TRUE); q <- quantile(fit, 0.5)
  q90[[s]] <- data.frame(strata = paste0("sex=", s), time = sm$time, surv = sm$surv,
                         lower = sm$lower, upper = sm$upper,
                         median = as.numeric(q$quantile), median_lower = as.numeric(q$lower),
                         median_upper = as.numeric(q$upper))
}
wr(do.call(rbind, q90), "km_lung_sex_conf90.csv")

# log-rank (survdiff, rho = 0)
lr <- function(name, time, event, group) {
  sd <- survdiff(Surv(time, event) ~ group)
  df <- length(sd$n) - 1
  data.frame(test = name, chisq = sd$chisq, df = sum(sd$exp > 0) - 1,
             p = pchisq(sd$chisq, sum(sd$exp > 0) - 1, lower.tail = FALSE))
}
lrs <- rbind(
  lr("lung_sex", lung2$time, lung2$event, lung2$sex),
  lr("lung_ecog", lung2$time[!is.na(lung2$ph.ecog)], lung2$event[!is.na(lung2$ph.ecog)],
     lung2$ph.ecog[!is.na(lung2$ph.ecog)]),
  lr("cdisc_ttde", cd$AVAL, 1 - cd$CNSR, cd$TRTA),
  lr("ties", edge$ties$t, edge$ties$e, c(1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1))
)
wr(lrs, "km_logrank.csv")
