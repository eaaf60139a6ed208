# Reference values for analysis_lib.toolkit.stats.cumulative_incidence (Aalen-Johansen).
# Run from this folder:  Rscript cuminc_reference.R   (R 4.2, cmprsk 2.2-11, survival 3.5-3;
# Debian: apt-get install r-cran-cmprsk)
# Writes
#   mgus2.csv          survival::mgus2 as the survival vignette sets it up for competing risks:
#                      etime = time to progression (PCM) or death/censoring, event 0 censored,
#                      1 progression to plasma-cell malignancy, 2 death without progression
#   cuminc_inputs.csv  every input data set (dataset, time, status, group)
#   cuminc_ref.csv     dataset, group, cause, time, est, var, lower, upper at the requested times
#                      (cmprsk::timepoints on cmprsk::cuminc; CI by the log(-log) transform
#                      tidycmprsk documents: est ^ exp(-+z se / (est log est)), z = qnorm(0.975))
suppressMessages(library(survival))
suppressMessages(library(cmprsk))
options(digits = 17)
wr <- function(x, f) write.csv(x, f, row.names = FALSE, na = "NA")

m <- survival::mgus2
m$etime <- ifelse(m$pstat == 0, m$futime, m$ptime)
m$event <- ifelse(m$pstat == 0, 2 * m$death, 1)
wr(data.frame(id = m$id, sex = as.character(m$sex), etime = m$etime, event = m$event), "mgus2.csv")

# small cohorts: the cases a phase I trial hits (name -> time, status)
edge <- list(
  no_competing    = list(t = c(1, 2, 2, 3, 4, 5, 7, 8), s = c(1, 0, 1, 1, 0, 1, 0, 1)),
  only_competing  = list(t = c(1, 2, 3, 3, 5, 8), s = c(2, 0, 2, 0, 2, 0)),
  ties_causes     = list(t = c(1, 2, 2, 2, 3, 4, 4, 6, 6, 9), s = c(1, 1, 2, 0, 2, 1, 2, 1, 2, 0)),
  censor_tied     = list(t = c(2, 2, 2, 5, 5, 5, 7, 7, 9), s = c(1, 0, 0, 2, 0, 1, 1, 0, 0)),
  n6              = list(t = c(3, 10, 10, 21, 30, 44), s = c(1, 2, 0, 1, 0, 2)),
  all_cause1      = list(t = c(1, 2, 3, 4), s = c(1, 1, 1, 1)),
  event_at_zero   = list(t = c(0, 0, 4, 6, 6, 11, 12), s = c(1, 2, 1, 0, 2, 1, 0)),
  last_competing  = list(t = c(1, 3, 4, 6, 8), s = c(1, 0, 1, 0, 2)),
  censored_only   = list(t = c(2, 4, 6), s = c(0, 0, 0))
)
datasets <- list()
datasets[["mgus2"]] <- data.frame(time = m$etime, status = m$event, group = "all")
datasets[["mgus2_sex"]] <- data.frame(time = m$etime, status = m$event, group = as.character(m$sex))
for (nm in names(edge))
  datasets[[nm]] <- data.frame(time = edge[[nm]]$t, status = edge[[nm]]$s, group = "all")
wr(do.call(rbind, lapply(names(datasets), function(nm) cbind(dataset = nm, datasets[[nm]]))),
   "cuminc_inputs.csv")

# cmprsk's own Fortran routine, for a cause cuminc() skips because it has no event of that cause
cinc <- function(time, status, cause) {
  o <- order(time); time <- time[o]; status <- status[o]
  n2 <- 2 * length(unique(time[status == cause])) + 2
  z <- .Fortran("cinc", as.double(time), as.integer(status != 0), as.integer(status == cause),
                as.integer(length(time)), x = double(n2), f = double(n2), v = double(n2),
                PACKAGE = "cmprsk")
  list(time = z$x, est = z$f, var = z$v)
}

z <- qnorm(0.975)
out <- list()
for (nm in names(datasets)) {
  d <- datasets[[nm]]
  for (g in unique(d$group)) {
    dg <- d[d$group == g, ]
    # every distinct time, half-way points, beyond the largest time and before 0
    ut <- sort(unique(dg$time))
    times <- sort(unique(c(ut, (head(ut, -1) + tail(ut, -1)) / 2, max(ut) + 1, -1)))
    if (nm %in% c("mgus2", "mgus2_sex")) times <- c(-1, 0, 6, 12, 24, 60, 120, 240, 360, 420, max(ut), max(ut) + 1)
    times <- sort(unique(times))  # timepoints() returns its columns in this order
    for (cause in 1:2) {
      if (any(dg$status == cause)) {
        fit <- cuminc(dg$time, dg$status, cencode = 0)
        key <- paste("1", cause)
        tp <- timepoints(fit[key], times)
        est <- as.numeric(tp$est); v <- as.numeric(tp$var)
      } else {
        w <- list(cinc(dg$time, dg$status, cause)); names(w) <- "x"
        tp <- timepoints(w, times)
        est <- as.numeric(tp$est); v <- as.numeric(tp$var)
      }
      se <- sqrt(v)
      lower <- est ^ exp(-z * se / (est * log(est)))
      upper <- est ^ exp(z * se / (est * log(est)))
      out[[length(out) + 1]] <- data.frame(dataset = nm, group = g, cause = cause, time = times,
                                           est = est, var = v, lower = lower, upper = upper)
    }
  }
}
wr(do.call(rbind, out), "cuminc_ref.csv")
