"""Statistics for the CSR, each checked against R to 1e-6 (see ``tests/reference/``).

Conventions (stable public API, docs/design.md §6):

* ``clopper_pearson``: exact binomial CI, identical to R ``binom.test()$conf.int``.
* ``kaplan_meier``: product-limit estimate with Greenwood variance and the CI transforms of
  R ``survival::survfit(conf.type=)``; quantiles/median and their CIs follow
  ``quantile.survfit()`` exactly (midpoint rule on a flat stretch at p, limits not reached -> nan).
* ``logrank_test``: R ``survival::survdiff`` (rho = 0).
* ``cumulative_incidence``: Aalen-Johansen estimate of one cause among competing causes, with
  the variance of R ``cmprsk::cuminc`` (Gray's Fortran ``cinc``, ties by its rules) read at
  given times as ``cmprsk::timepoints``; CI by the log(-log) transform tidycmprsk documents.
* ``nca``/``auc_interval``: PKNCA rules (first Tmax, Tlast = last measurable, lin-up/log-down
  or linear trapezoid, AUCint with interpolation and zero after Tlast) plus an explicit BLQ rule.
* ``describe``: quartiles by R's default ``quantile(type = 7)`` (= numpy "linear").
* ``round_half_away``: SAS ``ROUND`` (half away from zero) on the decimal repr of the float.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as _sps

__all__ = [
    "BLQ_RULES",
    "CumulativeIncidence",
    "KaplanMeier",
    "LogrankResult",
    "auc_interval",
    "clopper_pearson",
    "cumulative_incidence",
    "describe",
    "kaplan_meier",
    "logrank_test",
    "nca",
    "round_half_away",
    "three_plus_three",
]

_TOL = math.sqrt(np.finfo(float).eps)  # R: sqrt(.Machine$double.eps), used by quantile.survfit


# --------------------------------------------------------------------------- binomial
def clopper_pearson(x: int, n: int, conf_level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) CI for x successes in n trials, as R ``binom.test``.

    x = 0 gives lower 0, x = n gives upper 1, n = 0 gives (nan, nan).
    """
    x, n = _as_count(x, "x"), _as_count(n, "n")
    if x > n:
        raise ValueError(f"clopper_pearson: x={x} exceeds n={n}")
    if not 0 < conf_level < 1:
        raise ValueError(f"clopper_pearson: conf_level={conf_level} must be in (0, 1)")
    if n == 0:
        return (math.nan, math.nan)
    alpha = 1 - conf_level
    lower = 0.0 if x == 0 else float(_sps.beta.ppf(alpha / 2, x, n - x + 1))
    upper = 1.0 if x == n else float(_sps.beta.ppf(1 - alpha / 2, x + 1, n - x))
    return (lower, upper)


def _as_count(v: Any, name: str) -> int:
    if isinstance(v, (bool, np.bool_)) or not float(v).is_integer() or v < 0:
        raise ValueError(f"clopper_pearson: {name}={v!r} must be a non-negative integer")
    return int(v)


# --------------------------------------------------------------------------- Kaplan-Meier
def _num(x: Any, name: str, fn: str) -> np.ndarray:
    """1-D float array from a list/array/Series (pandas NA -> nan); non-numbers are an error."""
    if isinstance(x, (np.ndarray, pd.Series)) and x.dtype.kind in "fiub":  # fast path: already numeric
        return np.asarray(x, dtype=float).ravel()
    raw = x.reset_index(drop=True) if isinstance(x, pd.Series) else pd.Series(np.asarray(x, dtype=object).ravel())
    val = pd.to_numeric(raw, errors="coerce")
    bad = np.flatnonzero(raw.notna().to_numpy() & val.isna().to_numpy())
    if bad.size:
        raise ValueError(f"{fn}: {name} is not numeric at positions {bad[:10].tolist()}: {raw.iloc[bad[:10]].tolist()}")
    return val.to_numpy(dtype=float, na_value=np.nan)


def _time_event(time: Any, event: Any, fn: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate survival input: equal length, finite times, events coded 0/1 (or bool)."""
    t, e = _num(time, "time", fn), _num(event, "event", fn)
    if t.shape != e.shape:
        raise ValueError(f"{fn}: time has {t.size} values but event has {e.size}")
    if t.size == 0:
        raise ValueError(f"{fn}: no observations")
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        raise ValueError(f"{fn}: time is missing or not finite at positions {bad[:10].tolist()}")
    bad = np.flatnonzero(~np.isin(e, (0.0, 1.0)))
    if bad.size:
        raise ValueError(
            f"{fn}: event must be 0 (censored) or 1 (event); positions {bad[:10].tolist()} have {e[bad[:10]].tolist()}"
        )
    return t, e.astype(int)


def _confint(p: np.ndarray, se: np.ndarray, conf_type: str, conf_level: float):
    """Pointwise CI of S(t) as R ``survival:::survfit_confint`` (se = se of the cumulative hazard)."""
    z = _sps.norm.ppf(1 - (1 - conf_level) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "plain":
            se2 = se * p * z
            return np.maximum(p - se2, 0.0), np.minimum(p + se2, 1.0)
        if conf_type == "log":
            xx = np.where(p == 0, np.nan, p)
            return np.exp(np.log(xx) - z * se), np.minimum(np.exp(np.log(xx) + z * se), 1.0)
        # log-log (SAS PROC LIFETEST default; R survfit defaults to "log")
        xx = np.where((p == 0) | (p == 1), np.nan, p)
        se2 = z * se / np.log(xx)
        return (np.exp(-np.exp(np.log(-np.log(xx)) - se2)), np.exp(-np.exp(np.log(-np.log(xx)) + se2)))


def _findq(x: np.ndarray, y: np.ndarray, p: float, tol: float = _TOL) -> float:
    """Time where the curve y = 1 - S(t) reaches p: a line-by-line port of R survival's findq."""
    if np.all(np.isnan(y)) or np.nanmax(y) < p:
        return math.nan
    xmax = x[-1]
    keep, seen, seen_nan = [], set(), False
    for i, v in enumerate(y):  # R duplicated(): NA counts as a value
        if np.isnan(v):
            if not seen_nan:
                keep.append(i)
            seen_nan = True
        elif v not in seen:
            seen.add(v)
            keep.append(i)
    x, y = x[keep], y[keep]
    idx = np.arange(len(y))

    def approx_const(knots: np.ndarray) -> float:
        # approx(knots, idx, p, method="constant", f=1): NA pairs dropped, sorted, rule=1
        ok = ~np.isnan(knots)
        k, i = knots[ok], idx[ok]
        order = np.argsort(k, kind="stable")
        k, i = k[order], i[order]
        if k.size == 0 or p < k[0] or p > k[-1]:
            return math.nan
        return float(i[np.searchsorted(k, p, side="left")])

    i1, i2 = approx_const(y + tol), approx_const(y - tol)
    xi = lambda j: math.nan if math.isnan(j) else float(x[int(j)])
    quant = (xi(i1) + xi(i2)) / 2
    if p == 0:
        quant = float(x[0])
    if not np.isnan(y[-1]) and abs(p - y[-1]) < tol:
        quant = (xi(i1) + float(xmax)) / 2
    return quant


@dataclass(frozen=True, eq=False)
class KaplanMeier:
    """A fitted Kaplan-Meier curve; ``table`` has one row per distinct time (events and censorings).

    Columns of ``table``: time, n_risk, n_event, n_censor, surv, std_err (of S, Greenwood),
    lower, upper -- as ``summary(survfit(...), censored=TRUE)``.
    """

    table: pd.DataFrame
    conf_type: str
    conf_level: float
    n: int
    n_events: int
    _time: np.ndarray = field(repr=False)
    _se_cumhaz: np.ndarray = field(repr=False)

    def quantile(self, p: float) -> tuple[float, float, float]:
        """(estimate, lower, upper) of the p-th failure quantile, as R ``quantile.survfit``.

        p = 0.5 is the median: the first time S(t) <= 0.5, or the midpoint of the flat stretch
        when S equals 0.5 exactly (tolerance sqrt(eps)); nan when not reached. The CI limits
        apply the same rule to the lower and upper confidence curves.
        """
        if not 0 <= p <= 1:
            raise ValueError(f"quantile: p={p} must be in [0, 1]")
        x = np.concatenate([[0.0], self.table["time"].to_numpy(float)])
        tab = self.table
        curves = [tab["surv"], tab["lower"], tab["upper"]]
        est, lo, hi = (_findq(x, np.concatenate([[0.0], 1 - c.to_numpy(float)]), p) for c in curves)
        return (est, lo, hi)

    @property
    def median(self) -> float:
        """Median survival time (math.nan when not reached)."""
        return self.quantile(0.5)[0]

    @property
    def median_ci(self) -> tuple[float, float]:
        """(lower, upper) CI of the median; math.nan for a limit not reached."""
        _, lo, hi = self.quantile(0.5)
        return (lo, hi)

    def _row_at(self, times: Iterable[float]) -> tuple[np.ndarray, np.ndarray]:
        t = np.atleast_1d(np.asarray(list(times) if not np.isscalar(times) else [times], float))
        if np.isnan(t).any():
            raise ValueError("KaplanMeier: requested times contain nan")
        pos = np.searchsorted(self.table["time"].to_numpy(float), t, side="right") - 1
        return t, pos

    def n_at_risk(self, times: Iterable[float]) -> list[int]:
        """Number at risk (time >= t) at each requested time, as ``summary(fit, times=, extend=TRUE)``."""
        t, _ = self._row_at(times)
        srt = np.sort(self._time)
        return [int(v) for v in len(srt) - np.searchsorted(srt, t, side="left")]

    def survival(self, times: Iterable[float]) -> list[float]:
        """S(t) at each requested time (1 before the first time; last value carried forward)."""
        _, pos = self._row_at(times)
        s = self.table["surv"].to_numpy(float)
        return [1.0 if i < 0 else float(s[i]) for i in pos]

    def survival_ci(self, times: Iterable[float]) -> list[tuple[float, float]]:
        """(lower, upper) CI of S(t) at each requested time; (1, 1) before the first time as R."""
        _, pos = self._row_at(times)
        lo, hi = self.table["lower"].to_numpy(float), self.table["upper"].to_numpy(float)
        return [(1.0, 1.0) if i < 0 else (float(lo[i]), float(hi[i])) for i in pos]


def kaplan_meier(
    time: Sequence[float], event: Sequence[int], conf_type: str = "log-log", conf_level: float = 0.95
) -> KaplanMeier:
    """Kaplan-Meier estimate with Greenwood variance; CIs as R ``survfit(conf.type=conf_type)``.

    ``event`` is 1 for an event and 0 for censored (ADaM: event = 1 - CNSR). Times are used
    as given (R's ``timefix`` merging of near-equal floats is not applied).
    """
    if conf_type not in ("log", "log-log", "plain"):
        raise ValueError(f"kaplan_meier: conf_type={conf_type!r}; use 'log', 'log-log' or 'plain'")
    if not 0 < conf_level < 1:
        raise ValueError(f"kaplan_meier: conf_level={conf_level} must be in (0, 1)")
    t, e = _time_event(time, event, "kaplan_meier")
    ut, inv = np.unique(t, return_inverse=True)
    n_event = np.bincount(inv, weights=e, minlength=ut.size).astype(int)
    n_total = np.bincount(inv, minlength=ut.size)
    n_risk = t.size - np.concatenate([[0], np.cumsum(n_total)[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1 - n_event / n_risk)
        inc = np.where(n_event == 0, 0.0, n_event / (n_risk * (n_risk - n_event)))
        se_cumhaz = np.sqrt(np.cumsum(inc))  # inf once everyone at risk has failed
        std_err = surv * se_cumhaz  # 0 * inf -> nan, as R's NA
    lower, upper = _confint(surv, se_cumhaz, conf_type, conf_level)
    table = pd.DataFrame(
        {
            "time": ut,
            "n_risk": n_risk.astype(int),
            "n_event": n_event,
            "n_censor": (n_total - n_event).astype(int),
            "surv": surv,
            "std_err": std_err,
            "lower": lower,
            "upper": upper,
        }
    )
    return KaplanMeier(
        table=table,
        conf_type=conf_type,
        conf_level=conf_level,
        n=int(t.size),
        n_events=int(e.sum()),
        _time=t,
        _se_cumhaz=se_cumhaz,
    )


# --------------------------------------------------------------------------- log-rank
@dataclass(frozen=True)
class LogrankResult:
    """Log-rank test as R ``survdiff``: chi-square, df, p, and per-group n/observed/expected."""

    chisq: float
    df: int
    p: float
    groups: list
    n: list[int]
    observed: list[float]
    expected: list[float]


def logrank_test(time: Sequence[float], event: Sequence[int], group: Sequence[Any]) -> LogrankResult:
    """Log-rank (Mantel-Haenszel) test of equal survival across groups, matching ``survdiff``."""
    t, e = _time_event(time, event, "logrank_test")
    g = np.asarray(group, dtype=object).ravel()
    if g.size != t.size:
        raise ValueError(f"logrank_test: group has {g.size} values but time has {t.size}")
    miss = np.flatnonzero(pd.isna(g))
    if miss.size:
        raise ValueError(f"logrank_test: group is missing at positions {miss[:10].tolist()}")
    levels = sorted(set(g.tolist()), key=lambda v: (str(type(v)), v))
    if len(levels) < 2:
        raise ValueError(f"logrank_test: need at least 2 groups, got {levels}")
    gi = np.array([levels.index(v) for v in g])
    k = len(levels)
    obs = np.bincount(gi, weights=e, minlength=k)
    exp = np.zeros(k)
    var = np.zeros((k, k))
    for tt in np.unique(t[e == 1]):
        at_risk = t >= tt
        nk = np.bincount(gi[at_risk], minlength=k).astype(float)
        n = nk.sum()
        d = float(e[t == tt].sum())
        exp += d * nk / n
        if n > 1:
            var += d * (n - d) / (n * n * (n - 1)) * (np.diag(nk) * n - np.outer(nk, nk))
    use = np.flatnonzero(exp > 0)
    df = use.size - 1
    diff = (obs - exp)[use][1:]
    vv = var[np.ix_(use, use)][1:, 1:]
    chisq = float(diff @ np.linalg.solve(vv, diff)) if df > 0 else 0.0
    p = float(_sps.chi2.sf(chisq, df)) if df > 0 else math.nan
    return LogrankResult(
        chisq=chisq,
        df=int(df),
        p=p,
        groups=levels,
        n=np.bincount(gi, minlength=k).tolist(),
        observed=obs.tolist(),
        expected=exp.tolist(),
    )


# --------------------------------------------------------------------------- competing risks
def _time_status(time: Any, status: Any, fn: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate competing-risks input: equal length, finite times >= 0, status 0 or a positive integer."""
    t, s = _num(time, "time", fn), _num(status, "status", fn)
    if t.shape != s.shape:
        raise ValueError(f"{fn}: time has {t.size} values but status has {s.size}")
    if t.size == 0:
        raise ValueError(f"{fn}: no observations")
    bad = np.flatnonzero(~np.isfinite(t) | (t < 0))
    if bad.size:
        raise ValueError(f"{fn}: time is missing, negative or not finite at positions {bad[:10].tolist()}")
    bad = np.flatnonzero(~np.isfinite(s) | (s < 0) | (s != np.round(s)))
    if bad.size:
        raise ValueError(
            f"{fn}: status must be 0 (censored) or a cause 1, 2, ...; positions "
            f"{bad[:10].tolist()} have {s[bad[:10]].tolist()}"
        )
    return t, s.astype(int)


@dataclass(frozen=True, eq=False)
class CumulativeIncidence:
    """A fitted cumulative incidence function (Aalen-Johansen) of one cause.

    ``table`` has one row per distinct time (events of any cause and censorings): time, n_risk,
    n_event (this cause), n_competing (other causes), n_censor, estimate, variance, std_err,
    lower, upper. The estimate is a right-continuous step function; the variance is R
    ``cmprsk::cuminc``'s (it changes only at times of this cause). Read at given times with
    :meth:`estimate`, :meth:`variance`, :meth:`ci` -- as ``cmprsk::timepoints``: nan before time 0
    and after the largest observed time (no follow-up there).
    """

    table: pd.DataFrame
    cause: int
    conf_level: float
    n: int
    n_events: int
    n_competing: int
    _time: np.ndarray = field(repr=False)

    @property
    def max_time(self) -> float:
        """The largest observed time (event or censoring): the estimate ends there."""
        return float(self._time.max())

    def _at(self, times: Iterable[float], col: str, before: float) -> list[float]:
        t = np.atleast_1d(np.asarray(list(times) if not np.isscalar(times) else [times], float))
        if np.isnan(t).any():
            raise ValueError("CumulativeIncidence: requested times contain nan")
        tab = self.table
        pos = np.searchsorted(tab["time"].to_numpy(float), t, side="right") - 1
        vals = tab[col].to_numpy(float)
        out = np.where(pos < 0, before, vals[np.maximum(pos, 0)])
        out = np.where((t < 0) | (t > self.max_time), math.nan, out)
        return [float(v) for v in out]

    def estimate(self, times: Iterable[float]) -> list[float]:
        """Cumulative incidence of ``cause`` at each time (0 from time 0 to the first event)."""
        return self._at(times, "estimate", 0.0)

    def variance(self, times: Iterable[float]) -> list[float]:
        """Variance of the estimate at each time, as ``cmprsk::timepoints(cuminc(...))$var``."""
        return self._at(times, "variance", 0.0)

    def ci(self, times: Iterable[float]) -> list[tuple[float, float]]:
        """Pointwise CI at each time by the log(-log) transform (nan where the estimate is 0)."""
        return list(zip(self._at(times, "lower", math.nan), self._at(times, "upper", math.nan)))

    def n_at_risk(self, times: Iterable[float]) -> list[int]:
        """Number at risk (time >= t) at each requested time."""
        t = np.atleast_1d(np.asarray(list(times) if not np.isscalar(times) else [times], float))
        srt = np.sort(self._time)
        return [int(v) for v in len(srt) - np.searchsorted(srt, t, side="left")]


def _cif_ci(est: np.ndarray, var: np.ndarray, conf_level: float) -> tuple[np.ndarray, np.ndarray]:
    """est ** exp(-/+ z se / (est log est)) (Pintilie; tidycmprsk); nan where est is 0."""
    z = _sps.norm.ppf(1 - (1 - conf_level) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.where(est > 0, est, np.nan)
        k = z * np.sqrt(var) / (e * np.log(e))
        return e ** np.exp(-k), e ** np.exp(k)


def cumulative_incidence(time: Any, status: Any, cause: int = 1, conf_level: float = 0.95) -> CumulativeIncidence:
    """Aalen-Johansen cumulative incidence of ``cause``; status 0 = censored, 1, 2, ... = cause.

    Estimate and variance follow Gray's ``cinc`` routine of R ``cmprsk`` step by step: at each
    distinct time t with d1 events of the cause, d2 of other causes and r at risk (censorings at
    t are still at risk, as in R), F(t) = F(t-) + S(t-) d1 / r with S the all-cause Kaplan-Meier
    survival; the variance accumulates cmprsk's delta-method terms with its tie correction
    1 - (d - 1) / (r - 1). No jitter of tied times (lifelines' ``AalenJohansenFitter`` jitters,
    which changes the result). A cause without events gives an estimate of 0.
    """
    if not 0 < conf_level < 1:
        raise ValueError(f"cumulative_incidence: conf_level={conf_level} must be in (0, 1)")
    t, s = _time_status(time, status, "cumulative_incidence")
    if isinstance(cause, (bool, np.bool_)) or not float(cause).is_integer() or cause < 1:
        raise ValueError(f"cumulative_incidence: cause={cause!r} must be a positive integer")
    cause = int(cause)
    ut, inv = np.unique(t, return_inverse=True)
    d1 = np.bincount(inv, weights=(s == cause), minlength=ut.size).astype(int)
    d_all = np.bincount(inv, weights=(s != 0), minlength=ut.size).astype(int)
    n_tot = np.bincount(inv, minlength=ut.size)
    risk = t.size - np.concatenate([[0], np.cumsum(n_tot)[:-1]])
    est, var = np.zeros(ut.size), np.zeros(ut.size)
    fk, f, v, v1, v2, v3 = 1.0, 0.0, 0.0, 0.0, 0.0, 0.0
    for i in range(ut.size):
        rs, nd1 = float(risk[i]), int(d1[i])
        nd2 = int(d_all[i]) - nd1
        if nd1 + nd2:
            fkn = fk * (rs - nd1 - nd2) / rs
            if nd1:
                f = f + fk * nd1 / rs
            if nd2 > 0 and fkn > 0:
                t5 = 1 - (nd2 - 1) / (rs - 1) if nd2 > 1 else 1.0
                t6 = fk * fk * t5 * nd2 / (rs * rs)
                t3, t4 = 1 / fkn, f / fkn
                v1, v2, v3 = v1 + t4 * t4 * t6, v2 + t3 * t4 * t6, v3 + t3 * t3 * t6
            if nd1:
                t5 = 1 - (nd1 - 1) / (rs - 1) if nd1 > 1 else 1.0
                t6 = fk * fk * t5 * nd1 / (rs * rs)
                t3 = 1 / fkn if fkn > 0 else 0.0
                t4 = 1 + t3 * f
                v1, v2, v3 = v1 + t4 * t4 * t6, v2 + t3 * t4 * t6, v3 + t3 * t3 * t6
                v = v1 + f * f * v3 - 2 * f * v2
            fk = fkn
        est[i], var[i] = f, v
    lower, upper = _cif_ci(est, var, conf_level)
    table = pd.DataFrame(
        {
            "time": ut,
            "n_risk": risk.astype(int),
            "n_event": d1,
            "n_competing": (d_all - d1).astype(int),
            "n_censor": (n_tot - d_all).astype(int),
            "estimate": est,
            "variance": var,
            "std_err": np.sqrt(var),
            "lower": lower,
            "upper": upper,
        }
    )
    return CumulativeIncidence(
        table=table,
        cause=cause,
        conf_level=conf_level,
        n=int(t.size),
        n_events=int(d1.sum()),
        n_competing=int((d_all - d1).sum()),
        _time=t,
    )


# --------------------------------------------------------------------------- NCA
BLQ_RULES = {
    "zero-before-first-else-drop": "BLQ before the first measurable value -> 0; later BLQ dropped "
    "(PKNCA default conc.blq: first='keep', middle='drop')",
    "zero": "every BLQ value -> 0",
    "drop": "every BLQ value dropped",
    "half-lloq": "every BLQ value -> LLOQ/2 (needs lloq)",
}
_AUC_METHODS = {"lin-up/log-down": "log", "lin up/log down": "log", "linear": "linear"}


def _profile(time, conc, blq: str, lloq, blq_mask, fn: str):
    """Apply the BLQ rule; return sorted (time, conc, measurable) with missing values dropped.

    BLQ is ``blq_mask`` if given, else ``conc < lloq`` if lloq is given, else ``conc == 0``.
    A missing concentration that is not flagged BLQ is dropped (PKNCA conc.na='drop').
    """
    if blq not in BLQ_RULES:
        raise ValueError(f"{fn}: blq={blq!r}; use one of {sorted(BLQ_RULES)}")
    t, c = _num(time, "time", fn), _num(conc, "conc", fn)
    if t.size != c.size:
        raise ValueError(f"{fn}: time has {t.size} values but conc has {c.size}")
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        raise ValueError(f"{fn}: time is missing at positions {bad[:10].tolist()}")
    neg = np.flatnonzero(c < 0)
    if neg.size:
        raise ValueError(f"{fn}: conc is negative at positions {neg[:10].tolist()}")
    lq = None if lloq is None else np.broadcast_to(np.asarray(lloq, dtype=float), c.shape)
    if blq_mask is not None:
        raw = np.asarray(blq_mask, dtype=object).ravel()
        bad = np.flatnonzero([not (isinstance(v, (bool, np.bool_)) or v in (0, 1)) for v in raw])
        if bad.size:
            raise ValueError(
                f"{fn}: blq_mask must be True/False; positions {bad[:10].tolist()} have {raw[bad[:10]].tolist()}"
            )
        is_blq = raw.astype(bool)
        if is_blq.size != c.size:
            raise ValueError(f"{fn}: blq_mask has {is_blq.size} values but conc has {c.size}")
    elif lq is not None:
        is_blq = c < lq
    else:
        is_blq = c == 0
    if blq == "half-lloq" and lq is None:
        raise ValueError(f"{fn}: blq='half-lloq' needs lloq")
    order = np.argsort(t, kind="stable")
    t, c, is_blq = t[order], c[order], is_blq[order]
    lq = None if lq is None else lq[order]
    dup = np.flatnonzero(np.diff(t) == 0)
    if dup.size:
        raise ValueError(f"{fn}: duplicated sampling times {t[dup][:10].tolist()}")
    keep = is_blq | ~np.isnan(c)
    first_meas = np.flatnonzero(~is_blq & keep)
    first_t = t[first_meas[0]] if first_meas.size else math.inf
    c = c.copy()
    if blq == "zero":
        c[is_blq] = 0.0
    elif blq == "drop":
        keep &= ~is_blq
    elif blq == "half-lloq":
        assert lq is not None  # checked above
        c[is_blq] = lq[is_blq] / 2
    else:
        c[is_blq] = 0.0
        keep &= ~(is_blq & (t > first_t))
    return t[keep], c[keep], ~is_blq[keep]


def _auc(t: np.ndarray, c: np.ndarray, method: str) -> float:
    """Sum of trapezoids; 'log' uses the log trapezoid where 0 < c2 < c1 (PKNCA lin up/log down)."""
    if t.size < 2:
        return 0.0
    c1, c2, dt = c[:-1], c[1:], np.diff(t)
    lin = (c1 + c2) / 2 * dt
    if method == "linear":
        return float(lin.sum())
    down = (c2 > 0) & (c2 < c1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log = (c1 - c2) / np.log(c1 / c2) * dt
    return float(np.where(down, log, lin).sum())


def _interp(t: np.ndarray, c: np.ndarray, tout: float, method: str) -> float:
    """Concentration at tout (PKNCA interpolate.conc): 0 before the first sample, log-linear
    between a decreasing positive pair under lin-up/log-down, else linear."""
    if tout < t[0]:
        return 0.0
    hit = np.flatnonzero(t == tout)
    if hit.size:
        return float(c[hit[0]])
    i = int(np.searchsorted(t, tout)) - 1
    t1, t2, c1, c2 = t[i], t[i + 1], c[i], c[i + 1]
    f = (tout - t1) / (t2 - t1)
    if method == "log" and 0 < c2 < c1:
        return float(math.exp(math.log(c1) + f * (math.log(c2) - math.log(c1))))
    return float(c1 + f * (c2 - c1))


def _method(auc_method: str, fn: str) -> str:
    if auc_method not in _AUC_METHODS:
        raise ValueError(f"{fn}: auc_method={auc_method!r}; use 'lin-up/log-down' or 'linear'")
    return _AUC_METHODS[auc_method]


def _aucint(t, c, meas, start: float, end: float, method: str) -> float:
    if not end > start:
        raise ValueError(f"auc_interval: end={end} must be after start={start}")
    if not meas.any():
        return 0.0
    tlast = t[meas][-1]
    upto = t <= tlast
    t, c = t[upto], c[upto]
    stop = min(end, tlast)
    if start >= stop:
        return 0.0
    inner = t[(t > start) & (t < stop)]
    tt = np.concatenate([[start], inner, [stop]])
    cc = np.array([_interp(t, c, v, method) for v in tt])
    return _auc(tt, cc, method)


def auc_interval(
    time,
    conc,
    start: float,
    end: float,
    method: str = "lin-up/log-down",
    *,
    blq: str = "zero-before-first-else-drop",
    lloq=None,
    blq_mask=None,
) -> float:
    """AUC from start to end as PKNCA ``aucint.last``: the concentration at a boundary between
    samples is interpolated (see ``_interp``; 0 before the first sample) and is 0 after Tlast,
    so the area stops at Tlast. BLQ handling as in :func:`nca`.
    """
    m = _method(method, "auc_interval")
    t, c, meas = _profile(time, conc, blq, lloq, blq_mask, "auc_interval")
    return _aucint(t, c, meas, float(start), float(end), m)


def nca(
    time,
    conc,
    auc_method: str = "lin-up/log-down",
    *,
    end: float | None = None,
    blq: str = "zero-before-first-else-drop",
    lloq=None,
    blq_mask=None,
    auc_needs_sample: bool = True,
) -> dict[str, float]:
    """Non-compartmental parameters of one profile, PKNCA conventions.

    Returns cmax, tmax (first time of Cmax), tlast/clast (last measurable, i.e. non-BLQ, sample),
    auclast (first sample to Tlast; ``auc_method`` "lin-up/log-down" or "linear"); with ``end``
    also ``auc0_<end>`` (e.g. auc0_28), the AUC from 0 to end per :func:`auc_interval`.

    BLQ: a value is BLQ where ``blq_mask`` is True, else where conc < ``lloq``, else where
    conc == 0. ``blq`` picks the rule (see ``BLQ_RULES``); the default sets BLQ values before
    the first measurable one to 0 and drops later ones. A profile with no measurable value
    gives cmax 0, auclast 0 and nan times (PKNCA). With ``auc_needs_sample`` (default) the
    partial AUC is not calculable (nan) when no sample, quantifiable or BLQ, lies in [0, end]:
    an area of 0 from "zero before the first sample" alone would read as "no quantifiable sample".
    """
    m = _method(auc_method, "nca")
    t, c, meas = _profile(time, conc, blq, lloq, blq_mask, "nca")
    if not meas.any():
        out = {
            "cmax": 0.0 if t.size else math.nan,
            "tmax": math.nan,
            "tlast": math.nan,
            "clast": math.nan,
            "auclast": 0.0 if t.size else math.nan,
        }
    else:
        imax = int(np.argmax(c))
        ilast = int(np.flatnonzero(meas)[-1])
        out = {
            "cmax": float(c[imax]),
            "tmax": float(t[imax]),
            "tlast": float(t[ilast]),
            "clast": float(c[ilast]),
            "auclast": _auc(t[: ilast + 1], c[: ilast + 1], m),
        }
    if end is not None:
        raw_t = _num(time, "time", "nca")
        inside = bool(((raw_t >= 0) & (raw_t <= float(end))).any())
        calculable = t.size and (inside or not auc_needs_sample)
        out[f"auc0_{float(end):g}"] = _aucint(t, c, meas, 0.0, float(end), m) if calculable else math.nan
    return out


# --------------------------------------------------------------------------- descriptives
def describe(values: Iterable[float]) -> dict[str, float]:
    """n, mean, sd, median, q1, q3, min, max, geo_mean, geo_cv of the non-missing values.

    Quartiles use R's default ``quantile(type = 7)``. sd uses n - 1. geo_cv (%) is
    100*sqrt(exp(sd(log x)^2) - 1); geometric statistics are nan unless every value is > 0.
    """
    x = pd.to_numeric(pd.Series(list(values), dtype=object), errors="raise").to_numpy(float)
    x = x[~np.isnan(x)]
    n = int(x.size)
    nan = math.nan
    if n == 0:
        return dict(n=0, mean=nan, sd=nan, median=nan, q1=nan, q3=nan, min=nan, max=nan, geo_mean=nan, geo_cv=nan)
    q1, med, q3 = np.quantile(x, [0.25, 0.5, 0.75], method="linear")
    pos = bool((x > 0).all())
    lx = np.log(x) if pos else np.array([])
    return dict(
        n=n,
        mean=float(x.mean()),
        sd=float(x.std(ddof=1)) if n > 1 else nan,
        median=float(med),
        q1=float(q1),
        q3=float(q3),
        min=float(x.min()),
        max=float(x.max()),
        geo_mean=float(np.exp(lx.mean())) if pos else nan,
        geo_cv=float(100 * math.sqrt(math.expm1(lx.std(ddof=1) ** 2))) if pos and n > 1 else nan,
    )


def round_half_away(x: float, digits: int = 0) -> float:
    """Round half away from zero (SAS ROUND), on the shortest decimal repr of x.

    2.675 -> 2.68 and 0.125 -> 0.13 (Python's round gives 2.67 and 0.12); nan stays nan.
    """
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return x
    d = Decimal(repr(float(x)))
    return float(d.quantize(Decimal(1).scaleb(-int(digits)), rounding=ROUND_HALF_UP))


# --------------------------------------------------------------------------- dose escalation
def three_plus_three(
    cohorts: Sequence[tuple[Any, int, int]], levels: Sequence[Any] | None = None
) -> list[dict[str, Any]]:
    """Standard 3+3 decision after each cohort of ``(dose_level, n_treated, n_dlt)``.

    ``levels`` is the ordered list of planned dose levels (default: the distinct levels in
    ``cohorts``, sorted). Rules on the cumulative count at the current level:
    0/3 -> escalate; 1/3 -> expand cohort (to 6); <=1/6 -> escalate; >=2/3 or >=2/6 -> MTD
    exceeded: de-escalate (expand the level below to 6) or, if the level below already has
    <=1/6, stop with MTD = that level. No escalation into a level that exceeded the MTD
    (expand to 6 then stop). At the top level: 0/3 -> expand; <=1/6 -> stop, MTD/RP2D = the
    highest tested dose. >=2 DLT at the lowest level -> stop, MTD below the lowest level.
    Each result row: cohort, dose_level, n_treated, n_dlt, n_at_level, dlt_at_level,
    decision, next_dose_level (None after stop), mtd (set on the stop row), reason.
    """
    if levels is None:
        levels = sorted({c[0] for c in cohorts})
    levels = list(levels)
    seen: dict[Any, list[int]] = {lv: [0, 0] for lv in levels}
    exceeded = len(levels)  # index of the lowest level whose MTD was exceeded
    out: list[dict[str, Any]] = []
    expected = None
    for k, (lv, n_t, n_d) in enumerate(cohorts, start=1):
        if out and out[-1]["decision"] == "stop":
            raise ValueError(f"three_plus_three: cohort {k} follows a 'stop' decision")
        if lv not in seen:
            raise ValueError(f"three_plus_three: cohort {k} dose level {lv!r} not in levels {levels}")
        if expected is not None and lv != expected:
            raise ValueError(
                f"three_plus_three: cohort {k} at level {lv!r}, but the previous "
                f"decision was to treat at level {expected!r}"
            )
        if not (int(n_t) == n_t and int(n_d) == n_d and 0 <= n_d <= n_t and n_t > 0):
            raise ValueError(f"three_plus_three: cohort {k} has n_treated={n_t}, n_dlt={n_d}")
        i = levels.index(lv)
        seen[lv][0] += int(n_t)
        seen[lv][1] += int(n_d)
        n, d = seen[lv]
        if n not in (3, 6):
            raise ValueError(f"three_plus_three: cohort {k}: {n} patients at level {lv!r}; 3+3 needs 3 or 6 per level")
        nxt, mtd = None, None
        if d >= 2:
            exceeded = min(exceeded, i)
            if i == 0:
                dec, reason = "stop", "MTD exceeded at the lowest dose level; MTD not determined"
            elif seen[levels[i - 1]][0] >= 6:
                dec, mtd = "stop", levels[i - 1]
                reason = f"{d}/{n} DLT; MTD is the level below"
            else:
                dec, nxt = "de-escalate", levels[i - 1]
                reason = f"{d}/{n} DLT; MTD exceeded, expand the level below to 6"
        elif n == 3 and (d == 1 or i + 1 >= exceeded):
            dec, nxt = "expand cohort", lv
            reason = f"{d}/3 DLT; expand to 6" + ("" if d == 1 else " (no higher level to test)")
        elif i + 1 < exceeded:
            dec, nxt, reason = "escalate", levels[i + 1], f"{d}/{n} DLT; escalate"
        else:
            dec, mtd = "stop", lv
            reason = (
                f"{d}/6 DLT at the highest tested dose"
                if i + 1 == len(levels)
                else f"{d}/6 DLT; the next level exceeded the MTD"
            ) + "; MTD/RP2D is this level"
        expected = nxt
        out.append(
            dict(
                cohort=k,
                dose_level=lv,
                n_treated=int(n_t),
                n_dlt=int(n_d),
                n_at_level=n,
                dlt_at_level=d,
                decision=dec,
                next_dose_level=nxt,
                mtd=mtd,
                reason=reason,
            )
        )
    return out
