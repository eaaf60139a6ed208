"""Laboratory evaluations (ICH E3 12.4): ADLB, count recovery and engraftment, B-cell aplasia.

Derivations (rules from ``params/study.yml`` ``laboratory``):

* **ADLB** (:func:`derive_adlb`, ADaM BDS, one row per LB result of an infused subject): AVAL =
  LBSTRESN; ADY0 = days from CD19 CAR-T (Day 0), ADY the CDISC study day, HSCTDY days from the
  allo-HSCT date; baseline (ABLFL, BASE, CHG) = the last non-missing value on or before Day 0;
  CTCAE v5.0 grade (ATOXGR, baseline BTOXGR) for the tests in ``laboratory.ctcae`` -- grade g
  when the value is below the g-th limit, grade 1 at the record's lower limit of normal (a value
  on a limit has the milder grade); tests CTCAE does not grade on a value (CRP, ferritin, IL-6,
  IgG, B cells, chimerism) have no grade. APHASE: PRE-INFUSION (Day <= 0), CD19 CAR-T, ALLO-HSCT
  (from the start of conditioning), CD22 CAR-T (from its lymphodepletion). WORSTFL marks the
  post-baseline record with the worst grade (then the lowest value, then the earliest).
* **ADLBTTE** (:func:`derive_adlbtte`): neutrophil and platelet engraftment after HSCT (CIBMTR:
  first of ``consecutive`` samples on different days at or above the threshold after the
  post-transplant nadir, platelets without transfusion from ``transfusion_free_days`` before the
  first of them to the last), death before engraftment competing; count recovery after CD19
  CAR-T (the same rule from Day 0, censored at the start of conditioning); B-cell aplasia
  duration (first CD19+ B-cell count below ``b_cell_aplasia_below`` after Day 0 to the first later
  count at or above it, censored at the last sample); CAR-T persistence in blood (flow cytometry,
  either product: Day 0 to the first sample after the last detectable one).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis_lib.toolkit import ard, escape, formats, stats
from analysis_lib.toolkit.figures import cif_plot, km_plot
from analysis_lib.trial.sdtm import LB_TESTS

GRADED_ORDER = ("NEUT", "PLAT", "HGB", "LYM")
SHORT = {
    "NEUT": "ANC",
    "PLAT": "Platelets",
    "HGB": "Haemoglobin",
    "LYM": "Lymphocytes",
    "CRP": "CRP",
    "FERRITIN": "Ferritin",
    "IL6": "IL-6",
    "IGG": "IgG",
    "CD19": "CD19+ B cells",
    "CHIMER": "Donor chimerism",
}
TTE_LABELS = {
    "NEUTENG": "Neutrophil engraftment",
    "PLATENG": "Platelet engraftment",
    "NEUTREC": "Neutrophil recovery after CD19 CAR-T",
    "PLATREC": "Platelet recovery after CD19 CAR-T",
    "BCAPL": "B-cell aplasia (duration from onset)",
    "CARTPERS": "CAR-T cells detectable in blood",
}
ALL = "All subjects"
KM_SHORT = {"BCAPL": "B-cell aplasia", "CARTPERS": "CAR-T detectable"}
ADLB_KEYS = ["STUDYID", "USUBJID", "TRT01A", "TRT01AN", "PHASE", "COHORT", "DOSELVL", "SAFFL", "HSCTFL"]


# --------------------------------------------------------------------------------------------
# grades, baseline, onset rules (small pure functions, tested on hand-made cases)


def grade_limits(study: Mapping[str, Any], paramcd: str, lln: float) -> list[float]:
    """CTCAE limits of ``paramcd`` (params ``laboratory.ctcae``) with "LLN" replaced by ``lln``."""
    spec = study["laboratory"]["ctcae"][paramcd]["limits"]
    return [float(lln) if x == "LLN" else float(x) for x in spec]


def ctcae_grade(value: Any, limits: Sequence[float]) -> float:
    """CTCAE grade of a "decreased" test: the number of limits the value is strictly below
    (grade 1 below the LLN, ...) -- 0 at or above the LLN, even if a lower record-specific LLN
    lies below a grade-2 limit; a value on a limit has the milder grade; nan for no value."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return math.nan
    v = float(value)
    if v >= limits[0]:  # at or above the lower limit of normal: not decreased
        return 0.0
    return float(sum(v < lim for lim in limits))


def grades(adlb: pd.DataFrame, study: Mapping[str, Any], value: str = "AVAL") -> pd.Series:
    """ATOXGR of every ADLB row (nan for tests CTCAE does not grade or without a value); the LLN is
    the record's ANRLO, else the contract's normal range."""
    out = pd.Series(np.nan, index=adlb.index, dtype="float64")
    graded = study["laboratory"]["ctcae"]
    for code in graded:
        m = adlb["PARAMCD"] == code
        if not m.any():
            continue
        default = LB_TESTS[code].low if code in LB_TESTS else math.nan
        lln = adlb.loc[m, "ANRLO"].astype("float64").fillna(default)
        vals = adlb.loc[m, value].astype("float64")
        out[m] = [ctcae_grade(v, grade_limits(study, code, lo)) for v, lo in zip(vals, lln)]
    return out


def baseline_flags(adlb: pd.DataFrame) -> pd.Series:
    """ABLFL: "Y" on the last non-missing value on or before Day 0 (ADY0 <= 0) per subject and
    parameter (latest date, then highest LBSEQ); "" elsewhere."""
    cand = adlb[(adlb["ADY0"] <= 0) & adlb["AVAL"].notna()]
    last = (
        cand.sort_values(["USUBJID", "PARAMCD", "ADT", "LBSEQ"], kind="stable").groupby(["USUBJID", "PARAMCD"]).tail(1)
    )
    return pd.Series(np.where(adlb.index.isin(last.index), "Y", ""), index=adlb.index)


def onset(
    days: Sequence[float],
    values: Sequence[float],
    threshold: float,
    consecutive: int,
    *,
    transfusions: Iterable[float] = (),
    free_days: int = 0,
    after_nadir: bool = True,
) -> float | None:
    """Day of the first of ``consecutive`` successive samples (on different days, in day order)
    with a value at or above ``threshold`` -- after the first sample below it when
    ``after_nadir`` (CIBMTR: after the post-transplant nadir) -- with no transfusion from
    ``free_days`` days before the first of them to the last of them; None if never."""
    order = np.argsort(np.asarray(days, dtype=float), kind="stable")
    d = np.asarray(days, dtype=float)[order]
    v = np.asarray(values, dtype=float)[order]
    tx = np.asarray(sorted(float(t) for t in transfusions), dtype=float)
    start = 0
    if after_nadir:
        below = np.flatnonzero(v < threshold)
        if not below.size:
            return None
        start = int(below[0]) + 1
    for i in range(start, len(d) - consecutive + 1):
        run = v[i : i + consecutive]
        if np.isnan(run).any() or not (run >= threshold).all():
            continue
        if tx.size and ((tx >= d[i] - free_days) & (tx <= d[i + consecutive - 1])).any():
            continue
        return float(d[i])
    return None


# --------------------------------------------------------------------------------------------
# ADLB


def derive_adlb(lb: pd.DataFrame, adsl: pd.DataFrame, pr: pd.DataFrame, study: Mapping[str, Any]) -> pd.DataFrame:
    """ADLB (module docstring) from typed LB and PR, ADSL of the infused subjects."""
    saf = adsl[adsl["SAFFL"] == "Y"]
    s = saf.set_index("USUBJID")
    out = saf[ADLB_KEYS].merge(lb, on="USUBJID", how="inner")
    out["ADT"] = out["LBDTC"]
    cd19 = out["USUBJID"].map(s["CD19DT"])
    out["ADY0"] = (out["ADT"] - cd19).dt.days.astype("Int64")
    out["ADY"] = out["ADY0"].where(out["ADY0"] < 0, out["ADY0"] + 1)
    out["HSCTDY"] = (out["ADT"] - out["USUBJID"].map(s["HSCTDT"])).dt.days.astype("Int64")
    out["PARAMCD"] = out["LBTESTCD"]
    out["PARAM"] = out["LBTEST"] + " (" + out["LBSTRESU"] + ")"
    out["PARCAT1"] = out["LBCAT"]
    out["AVAL"] = out["LBSTRESN"].astype("float64")
    out["AVALU"] = out["LBSTRESU"]
    out["ANRLO"], out["ANRHI"] = out["LBSTNRLO"].astype("float64"), out["LBSTNRHI"].astype("float64")
    out["ANRIND"] = np.select(
        [out["AVAL"] < out["ANRLO"], out["AVAL"] > out["ANRHI"]],
        ["LOW", "HIGH"],
        np.where(out["ANRLO"].notna(), "NORMAL", ""),
    )
    out["AVISIT"] = out["VISIT"]
    out["AVISITN"] = pd.to_numeric(out["VISIT"].str.extract(r"^DAY\s+(-?\d+)$", expand=False), errors="coerce")
    # phases: conditioning start and CD22 lymphodepletion from PR
    cond = pr[pr["PRCAT"] == "CONDITIONING"].groupby("USUBJID")["PRSTDTC"].min()
    ld22 = pr[(pr["PRCAT"] == "LYMPHODEPLETION") & (pr["PRREF"] == "CD22 CAR-T")].groupby("USUBJID")["PRSTDTC"].min()
    c_day = (out["USUBJID"].map(cond) - cd19).dt.days
    l_day = (out["USUBJID"].map(ld22) - cd19).dt.days
    y0 = out["ADY0"].astype("float64")
    out["APHASE"] = np.select(
        [y0 <= 0, y0 >= l_day.fillna(np.inf), y0 >= c_day.fillna(np.inf)],
        ["PRE-INFUSION", "CD22 CAR-T", "ALLO-HSCT"],
        "CD19 CAR-T",
    )
    out["CONDDY0"] = c_day.astype("float64")
    out["ABLFL"] = baseline_flags(out)
    base = out[out["ABLFL"] == "Y"].set_index(["USUBJID", "PARAMCD"])["AVAL"]
    key = pd.MultiIndex.from_frame(out[["USUBJID", "PARAMCD"]])
    out["BASE"] = base.reindex(key).to_numpy()
    out["CHG"] = (out["AVAL"] - out["BASE"]).where(out["ADY0"] > 0)
    out["ATOXGR"] = grades(out, study)
    bgr = out[out["ABLFL"] == "Y"].set_index(["USUBJID", "PARAMCD"])["ATOXGR"]
    out["BTOXGR"] = bgr.reindex(key).to_numpy()
    out.loc[~out["PARAMCD"].isin(list(study["laboratory"]["ctcae"])), "BTOXGR"] = np.nan
    out["ATOXDSCL"] = out["PARAMCD"].map({k: v["term"] for k, v in study["laboratory"]["ctcae"].items()}).fillna("")
    out["ONTRTFL"] = np.where(out["ADY0"] > 0, "Y", "")
    post = out[(out["ONTRTFL"] == "Y") & out["ATOXGR"].notna()]
    worst = post.assign(_NG=-post["ATOXGR"]).sort_values(["USUBJID", "PARAMCD", "_NG", "AVAL", "ADT"], kind="stable")
    worst = worst.groupby(["USUBJID", "PARAMCD"]).head(1)
    out["WORSTFL"] = np.where(out.index.isin(worst.index), "Y", "")
    cols = [
        *ADLB_KEYS,
        "LBSEQ",
        "PARAMCD",
        "PARAM",
        "PARCAT1",
        "AVAL",
        "AVALU",
        "ANRLO",
        "ANRHI",
        "ANRIND",
        "BASE",
        "CHG",
        "ABLFL",
        "ATOXGR",
        "BTOXGR",
        "ATOXDSCL",
        "WORSTFL",
        "ONTRTFL",
        "APHASE",
        "CONDDY0",
        "ADT",
        "ADY",
        "ADY0",
        "HSCTDY",
        "AVISIT",
        "AVISITN",
    ]
    return out[cols].sort_values(["USUBJID", "LBSEQ"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# ADLBTTE: engraftment, recovery, B-cell aplasia, persistence


def _tte_row(u: str, paramcd: str, aval: float, cnsr: int, cmp: bool, desc: str, start: float) -> dict:
    return dict(
        USUBJID=u,
        PARAMCD=paramcd,
        PARAM=TTE_LABELS[paramcd] + " (days)",
        AVAL=float(aval),
        CNSR=int(cnsr),
        CMPEVFL="Y" if cmp else "N",
        EVNTDESC=desc if cnsr == 0 else "",
        CNSDTDSC=desc if cnsr == 1 else "",
        STARTDY0=float(start),
    )


def _count_event(
    g: pd.DataFrame,
    rule: Mapping[str, Any],
    tx_days: Sequence[float],
    start: float,
    stop: float,
    death: float | None,
) -> tuple[float, int, bool, str]:
    """(time from ``start``, CNSR, competing, description) of one subject's count onset between
    ``start`` and ``stop`` (study days); death before onset competes; else censored at the last
    sample (or ``stop``)."""
    w = g[(g["ADY0"] >= start) & (g["ADY0"] < stop)]
    day = onset(
        w["ADY0"].astype(float).tolist(),
        w["AVAL"].tolist(),
        float(rule["threshold"]),
        int(rule["consecutive"]),
        transfusions=tx_days,
        free_days=int(rule.get("transfusion_free_days", 0)),
    )
    if day is not None:
        return day - start, 0, False, "ENGRAFTMENT" if start > 0 else "RECOVERY"
    if death is not None and death < stop:
        return death - start, 1, True, "DEATH BEFORE ONSET"
    if math.isfinite(stop):
        return stop - start, 1, False, "START OF TRANSPLANT CONDITIONING"
    last = float(w["ADY0"].max()) if not w.empty else start
    return last - start, 1, False, "LAST SAMPLE"


def derive_adlbtte(
    adlb: pd.DataFrame, adsl: pd.DataFrame, xt: pd.DataFrame, adck: pd.DataFrame, study: Mapping[str, Any]
) -> pd.DataFrame:
    """ADLBTTE rows (module docstring): NEUTENG, PLATENG (days from HSCT, transplanted subjects),
    NEUTREC, PLATREC (days from Day 0, subjects whose count fell below the threshold after Day 0
    before conditioning), BCAPL (days from aplasia onset), CARTPERS (days from Day 0)."""
    lab = study["laboratory"]
    saf = adsl[adsl["SAFFL"] == "Y"].set_index("USUBJID")
    cd19 = saf["CD19DT"]
    death = ((saf["DTHDT"] - cd19).dt.days).astype("float64")
    hsct = ((saf["HSCTDT"] - cd19).dt.days).astype("float64")
    cond = adlb.groupby("USUBJID")["CONDDY0"].first()
    plt_tx = xt[xt["XTTRT"] == "PLATELETS"]
    tx_by: dict[str, list] = {}
    if len(plt_tx):
        tx_day = (pd.to_datetime(plt_tx["XTSTDTC"]) - plt_tx["USUBJID"].map(cd19)).dt.days
        tx_by = tx_day.groupby(plt_tx["USUBJID"]).apply(list).to_dict()
    rows: list[dict] = []
    by = dict(list(adlb.groupby(["USUBJID", "PARAMCD"])))
    for u in saf.index:
        dth = None if math.isnan(death.get(u, math.nan)) else float(death[u])
        for code, pre in (("neutrophil", "NEUT"), ("platelet", "PLAT")):
            g = by.get((u, lab["engraftment"][code]["test"]))
            if g is None:
                continue
            txs = tx_by.get(u, []) if code == "platelet" else []
            h = hsct.get(u, math.nan)
            if not math.isnan(h):
                t, c, cmp, desc = _count_event(g, lab["engraftment"][code], txs, h, math.inf, dth)
                rows.append(_tte_row(u, f"{pre}ENG", t, c, cmp, desc, h))
            rec = lab["recovery"][code]
            stop = float(cond.get(u, math.nan))
            stop = math.inf if math.isnan(stop) else stop
            w = g[(g["ADY0"] > 0) & (g["ADY0"] < stop)]
            if (w["AVAL"] < float(rec["threshold"])).any():
                t, c, cmp, desc = _count_event(g, rec, txs, 0.0, stop, dth)
                rows.append(_tte_row(u, f"{pre}REC", t, c, cmp, desc, 0.0))
        g = by.get((u, "CD19"))
        if g is not None:
            post = g[g["ADY0"] > 0].sort_values("ADY0")
            below = post[post["AVAL"] < float(lab["b_cell_aplasia_below"])]
            if len(below):
                d0 = float(below["ADY0"].iloc[0])
                later = post[(post["ADY0"] > d0) & (post["AVAL"] >= float(lab["b_cell_aplasia_below"]))]
                if len(later):
                    rows.append(
                        _tte_row(u, "BCAPL", float(later["ADY0"].iloc[0]) - d0, 0, False, "B-CELL RECOVERY", d0)
                    )
                else:
                    last = float(post["ADY0"].max())
                    rows.append(_tte_row(u, "BCAPL", last - d0, 1, False, "LAST B-CELL SAMPLE", d0))
    if adck is not None and len(adck):
        ck = adck[
            (adck["CKSPEC"] == "PERIPHERAL BLOOD") & (adck["CKMETHOD"] == "FLOW CYTOMETRY") & (adck["ANL01FL"] == "Y")
        ]
        ck = ck.assign(DY0=(ck["ADT"] - ck["USUBJID"].map(cd19)).dt.days.astype(float))
        for u, g in ck.groupby("USUBJID"):
            if u not in saf.index:
                continue
            det = g[g["BLQFL"] != "Y"]
            if det.empty:
                continue
            last_det = float(det["DY0"].max())
            after = g[g["DY0"] > last_det]
            if len(after):
                rows.append(_tte_row(u, "CARTPERS", float(after["DY0"].min()), 0, False, "NOT DETECTABLE", 0.0))
            else:
                rows.append(_tte_row(u, "CARTPERS", last_det, 1, False, "LAST SAMPLE (DETECTABLE)", 0.0))
    cols = ["USUBJID", "PARAMCD", "PARAM", "AVAL", "CNSR", "CMPEVFL", "EVNTDESC", "CNSDTDSC", "STARTDY0"]
    t = pd.DataFrame(rows, columns=cols)
    t = adsl[["STUDYID", "USUBJID", "TRT01A", "TRT01AN", "SAFFL", "HSCTFL"]].merge(t, on="USUBJID", how="inner")
    order = {p: i for i, p in enumerate(TTE_LABELS)}
    t["_P"] = t["PARAMCD"].map(order)
    t["CNSR"] = t["CNSR"].astype("Int64")
    return t.sort_values(["USUBJID", "_P"], kind="stable").drop(columns="_P").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# analysis: shift tables


def _label(code: str, adlb: pd.DataFrame | None = None) -> str:
    unit = LB_TESTS[code].unit if code in LB_TESTS else ""
    return f"{SHORT.get(code, code)} ({unit})" if unit else SHORT.get(code, code)


def cart_phase_end(adlb: pd.DataFrame, study: Mapping[str, Any]) -> pd.Series:
    """Last study day of the CD19 CAR-T phase per ADLB row: the prolonged-cytopenia day, or the
    day before transplant conditioning starts if that is earlier."""
    day = float(study["laboratory"]["prolonged_cytopenia"]["day"])
    return np.minimum(adlb["CONDDY0"].fillna(np.inf) - 1, day)


def shift_ard(adlb: pd.DataFrame, params: Sequence[str], *, window: pd.Series | None = None) -> pd.DataFrame:
    """CTCAE shift: subjects by baseline grade (group2 BTOXGR: 0-4 or "Missing") and worst
    post-baseline grade (variable_level: 0-4) per parameter (group1 PARAMCD), in the
    post-baseline records selected by ``window`` (default all); N per parameter = subjects with a
    post-baseline graded value; ``n`` per cell, ``p`` = n/N."""
    post = adlb[(adlb["ONTRTFL"] == "Y") & adlb["ATOXGR"].notna()]
    if window is not None:
        post = post[window.reindex(post.index).fillna(False).astype(bool)]
    rows: list[tuple] = []
    for code in params:
        d = post[post["PARAMCD"] == code]
        worst = d.groupby("USUBJID")["ATOXGR"].max()
        base = adlb[(adlb["PARAMCD"] == code) & (adlb["ABLFL"] == "Y")].set_index("USUBJID")["ATOXGR"]
        b = base.reindex(worst.index)
        n_all = len(worst)
        rows.append(("PARAMCD", code, None, None, "ATOXGR", None, "N", n_all))
        for bl in [0, 1, 2, 3, 4, "Missing"]:
            mb = b.isna() if bl == "Missing" else (b == bl)
            for w in range(5):
                n = int((mb & (worst == w)).sum())
                rows.append(("PARAMCD", code, "BTOXGR", str(bl), "ATOXGR", w, "n", n))
                rows.append(("PARAMCD", code, "BTOXGR", str(bl), "ATOXGR", w, "p", n / n_all if n_all else math.nan))
            rows.append(("PARAMCD", code, "BTOXGR", str(bl), "ATOXGR", "Total", "n", int(mb.sum())))
    return ard.frame(rows)


def shift_table(shift: pd.DataFrame) -> pd.DataFrame:
    """Display of :func:`shift_ard`: per test a heading, rows baseline grade, columns worst grade
    0-4 and total, cells n (%) of the test's N."""
    recs = []
    for code in dict.fromkeys(shift["group1_level"]):
        s = shift[shift["group1_level"] == code]
        n_all = int(ard.stat(s, "N", group1_level=code))
        recs.append((f"{_label(code)} (N={n_all})", 0, [""] * 6))
        for bl in ["0", "1", "2", "3", "4", "Missing"]:
            cells = []
            for w in [0, 1, 2, 3, 4, "Total"]:
                n = ard.stat(s, "n", group2_level=bl, variable_level=w)
                cells.append(str(int(n)) if w == "Total" else formats.fmt_n_pct(n, n_all))
            recs.append((f"Baseline grade {bl}" if bl != "Missing" else "Baseline missing", 1, cells))
    headers = [f"Worst grade {g}" for g in range(5)] + ["Total, n"]
    return formats.display_frame(recs, "Test\nBaseline CTCAE grade", headers)


def shift_text(shift: pd.DataFrame, min_grade: int) -> str:
    """'Worst post-baseline grade >= 3: ANC 44/46 (95.7%), ...' from :func:`shift_ard`."""
    parts = []
    for code in dict.fromkeys(shift["group1_level"]):
        s = shift[(shift["group1_level"] == code) & (shift["stat_name"] == "n")]
        hit = s[s["variable_level"].map(lambda v: isinstance(v, (int, float)) and not _nan(v) and v >= min_grade)]
        parts.append(
            f"{SHORT[code]} {formats.n_of_N(int(hit['stat_value'].sum()), ard.stat(shift, 'N', group1_level=code))}"
        )
    return f"Worst grade >= {min_grade} in the window: " + ", ".join(parts) + "."


# --------------------------------------------------------------------------------------------
# analysis: recovery, engraftment, prolonged cytopenia


def cif_summary_ard(adlbtte: pd.DataFrame, params: Sequence[str], landmarks: Sequence[float]) -> pd.DataFrame:
    """Cumulative incidence ARD (``ard.cif_ard``, all subjects) of each onset parameter, plus the
    median and range of the onset day among subjects with the event (stat_name event_median,
    event_min, event_max). When no subject is censored, the estimate after the last observation
    is the final incidence (its CI stays not estimable)."""
    blocks = []
    for p in params:
        d = adlbtte[adlbtte["PARAMCD"] == p].assign(ALLSUBJ=ALL)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # CI at an incidence of 1
            blocks.append(ard.cif_ard(d, p, "ALLSUBJ", landmarks=list(landmarks), by_levels=[ALL]))
        if len(d) and not (ard.cr_status(d) == 0).any():
            # nobody censored: the incidence stays at its final value after the last event
            blk = blocks[-1]
            late = (blk["stat_name"] == "estimate") & blk["stat_value"].map(_nan) & blk["variable_level"].notna()
            blk.loc[late, "stat_value"] = float((ard.cr_status(d) == 1).mean())
        ev = d.loc[d["CNSR"] == 0, "AVAL"].astype(float)
        extra = [
            (name, float(f(ev)) if len(ev) else math.nan)
            for name, f in (("event_median", np.median), ("event_min", np.min), ("event_max", np.max))
        ]
        blocks.append(ard.frame([("ALLSUBJ", ALL, None, None, p, None, s, v) for s, v in extra]))
    return pd.concat(blocks, ignore_index=True).astype(object)


def cif_summary_table(summary: pd.DataFrame, params: Sequence[str], origin: str, unit: str = "days") -> pd.DataFrame:
    """Display of :func:`cif_summary_ard`: the cumulative-incidence block of each parameter
    (``formats.cif_table``) with the median (range) onset day among subjects with the event."""
    core = summary[~summary["stat_name"].isin(["event_median", "event_min", "event_max"])]
    labels = {
        p: {
            float(t): f"{unit[:-1] if unit.endswith('s') else unit} {t:g}"
            for t in core["variable_level"].dropna().unique()
        }
        for p in params
    }
    body = formats.cif_table(
        core,
        params=list(params),
        endpoint_labels=TTE_LABELS,
        landmark_labels=labels,
        origin=dict.fromkeys(params, origin),
        overall="All subjects",
    )
    out = []
    label_col = body.columns[0]
    current = None
    for rec in body.to_dict("records"):
        out.append(rec)
        if rec[formats.INDENT] == 0:
            current = next((p for p in params if rec[label_col].startswith(TTE_LABELS[p])), None)
        if current is not None and rec[label_col].startswith("Censored"):
            med = ard.stat(summary, "event_median", variable=current)
            lo, hi = ard.stat(summary, "event_min", variable=current), ard.stat(summary, "event_max", variable=current)
            cell = formats.NE if _nan(med) else f"{_num(med)} ({_num(lo)}-{_num(hi)})"
            label = f"Days to the event ({origin}), median (range)"
            out.append({label_col: label, **dict.fromkeys(body.columns[1:-1], cell), formats.INDENT: 1})
    return pd.DataFrame(out, columns=body.columns)


def _num(x: Any) -> str:
    """A day count as text: whole numbers without decimals, else one decimal."""
    return formats.fmt_num(x, 0 if float(x).is_integer() else 1)


def _nan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def cif_text(summary: pd.DataFrame, paramcd: str, unit: str) -> str:
    """'Neutrophil engraftment: 40/40 (100%), median day 13 (range 11 to 20); cumulative incidence
    by day 14 ...' from :func:`cif_summary_ard` (landmarks beyond the last follow-up are left out)."""
    s = summary[(summary["variable"] == paramcd) & (summary["group1_level"] == ALL)]
    n = ard.stat(s, "n", variable_level=None)
    ev = ard.stat(s, "events", variable_level=None)
    cmp_ = ard.stat(s, "competing", variable_level=None)
    med = ard.stat(s, "event_median")
    lo, hi = ard.stat(s, "event_min"), ard.stat(s, "event_max")
    txt = f"{TTE_LABELS[paramcd]}: {formats.n_of_N(ev, n)}"
    if not _nan(med):
        m = formats.fmt_num(med, 0 if float(med).is_integer() else 1)
        txt += f", median {unit} {m} (range {formats.fmt_num(lo, 0)} to {formats.fmt_num(hi, 0)})"
    for lm in dict.fromkeys(v for v in s["variable_level"] if not _nan(v)):
        est = ard.stat(s, "estimate", variable_level=lm)
        if _nan(est) or float(est) == 0:
            continue
        ci = [ard.stat(s, k, variable_level=lm) for k in ("ci_low", "ci_high")]
        ci_txt = (
            ""
            if any(_nan(c) for c in ci)
            else (f" (95% CI {formats.fmt_num(100 * float(ci[0]), 1)}% to {formats.fmt_num(100 * float(ci[1]), 1)}%)")
        )
        txt += f"; by {unit} {float(lm):g}: {formats.fmt_num(100 * float(est), 1)}%{ci_txt}"
    return txt + f"; {int(cmp_)} died before the event"


def prolonged_cytopenia(adlb: pd.DataFrame, adsl: pd.DataFrame, study: Mapping[str, Any]) -> pd.DataFrame:
    """Per subject with an ANC or platelet count within ``prolonged_cytopenia.window`` days of Day
    ``prolonged_cytopenia.day`` (the sample nearest the day): the two grades, whether either is
    >= ``min_grade`` (PROLFL) and whether the subject was transplanted by that day (HSCTBYFL)."""
    pc = study["laboratory"]["prolonged_cytopenia"]
    day, win = int(pc["day"]), int(pc["window"])
    d = adlb[adlb["PARAMCD"].isin(["NEUT", "PLAT"]) & adlb["ADY0"].between(day - win, day + win)].copy()
    d["DIST"] = (d["ADY0"].astype(float) - day).abs()
    d = d.sort_values(["USUBJID", "PARAMCD", "DIST", "ADY0"], kind="stable").groupby(["USUBJID", "PARAMCD"]).head(1)
    w = d.pivot(index="USUBJID", columns="PARAMCD", values="ATOXGR").reindex(columns=["NEUT", "PLAT"])
    s = adsl.set_index("USUBJID")
    out = pd.DataFrame({"USUBJID": w.index, "NEUTGR": w["NEUT"].to_numpy(), "PLATGR": w["PLAT"].to_numpy()})
    out["PROLFL"] = np.where((w.fillna(-1) >= int(pc["min_grade"])).any(axis=1).to_numpy(), "Y", "N")
    tx = out["USUBJID"].map(s["HSCTDY0"]).astype("float64")
    out["HSCTBYFL"] = np.where(tx <= day, "Y", "N")
    return out.reset_index(drop=True)


def prolonged_ard(pc: pd.DataFrame, study: Mapping[str, Any]) -> pd.DataFrame:
    """n / N / p of grade >= min_grade neutropenia, thrombocytopenia and either at the day, by
    transplant status at that day (group1 HSCTBYFL: Y, N) and overall ("Total")."""
    g = int(study["laboratory"]["prolonged_cytopenia"]["min_grade"])
    rows: list[tuple] = []
    for lv, m in (("Y", pc["HSCTBYFL"] == "Y"), ("N", pc["HSCTBYFL"] == "N"), (ard.TOTAL, pc["HSCTBYFL"].notna())):
        d = pc[m]
        big_n = len(d)
        for var, hit in (
            ("NEUT", d["NEUTGR"] >= g),
            ("PLAT", d["PLATGR"] >= g),
            ("EITHER", d["PROLFL"] == "Y"),
        ):
            n = int(hit.sum())
            rows += [
                ("HSCTBYFL", lv, None, None, var, None, s, v)
                for s, v in (("n", n), ("N", big_n), ("p", n / big_n if big_n else math.nan))
            ]
    return ard.frame(rows)


def prolonged_table(pa: pd.DataFrame, study: Mapping[str, Any]) -> pd.DataFrame:
    pc = study["laboratory"]["prolonged_cytopenia"]
    day, g = int(pc["day"]), int(pc["min_grade"])
    cols = [("Y", f"HSCT by Day {day}"), ("N", f"No HSCT by Day {day}"), (ard.TOTAL, "All subjects")]
    headers = [formats.header(lbl, ard.stat(pa, "N", group1_level=lv, variable="EITHER")) for lv, lbl in cols]
    recs = [
        (
            "Subjects with a count at the day, n",
            0,
            [str(int(ard.stat(pa, "N", group1_level=lv, variable="EITHER"))) for lv, _ in cols],
        )
    ]
    for var, lbl in (
        ("NEUT", f"Neutropenia grade >= {g} (ANC)"),
        ("PLAT", f"Thrombocytopenia grade >= {g}"),
        ("EITHER", "Either, n (%)"),
    ):
        recs.append(
            (
                lbl + ("" if var == "EITHER" else ", n (%)"),
                1,
                [
                    formats.fmt_n_pct(
                        ard.stat(pa, "n", group1_level=lv, variable=var),
                        ard.stat(pa, "N", group1_level=lv, variable=var),
                    )
                    for lv, _ in cols
                ],
            )
        )
    return formats.display_frame(recs, "Statistic", headers)


# --------------------------------------------------------------------------------------------
# analysis: B-cell aplasia, CAR-T persistence, IgG


def bcell_km_ard(adlbtte: pd.DataFrame, landmarks: Sequence[float], conf_type: str = "log-log") -> pd.DataFrame:
    """Kaplan-Meier ARD of B-cell aplasia duration (BCAPL) and CAR-T persistence (CARTPERS), one
    group each (group1 ENDPOINT)."""
    d = adlbtte[adlbtte["PARAMCD"].isin(["BCAPL", "CARTPERS"])].copy()
    d["ENDPOINT"] = d["PARAMCD"].map(TTE_LABELS)
    d["ID"] = d["USUBJID"] + "/" + d["PARAMCD"]
    levels = [TTE_LABELS[p] for p in ("BCAPL", "CARTPERS")]
    return ard.km_ard(
        d, None, "ENDPOINT", landmarks=list(landmarks), conf_type=conf_type, by_levels=levels, id_var="ID"
    ).astype(object)


def bcell_table(km: pd.DataFrame) -> pd.DataFrame:
    return formats.km_table(
        km,
        time_unit="days",
        label_col="Statistic",
        landmark_labels={float(t): f"Day {t:g}" for t in km["variable_level"].dropna().unique()},
    )


def hypogam_ard(adlb: pd.DataFrame, study: Mapping[str, Any]) -> pd.DataFrame:
    """Subjects with IgG below ``hypogammaglobulinaemia_below`` at baseline, at any post-baseline
    sample and at each of ``igg_days`` (nearest sample, +/- 15% of the day): n, N, p; and the
    median (IQR) IgG at those days."""
    lab = study["laboratory"]
    thr = float(lab["hypogammaglobulinaemia_below"])
    igg = adlb[adlb["PARAMCD"] == "IGG"]
    rows: list[tuple] = []

    def add(var, level, vals):
        vals = vals.dropna()
        n, big_n = int((vals < thr).sum()), len(vals)
        st = stats.describe(vals)
        rows.extend(
            (None, None, None, None, var, level, s, v)
            for s, v in (
                ("n", n),
                ("N", big_n),
                ("p", n / big_n if big_n else math.nan),
                ("median", st["median"]),
                ("q1", st["q1"]),
                ("q3", st["q3"]),
            )
        )

    add("BASELINE", None, igg[igg["ABLFL"] == "Y"].set_index("USUBJID")["AVAL"])
    post = igg[igg["ONTRTFL"] == "Y"]
    add("ANY", None, post.groupby("USUBJID")["AVAL"].min())
    near = nominal(post, [int(x) for x in lab["igg_days"]])
    for day in lab["igg_days"]:
        add("DAY", int(day), near.loc[near["NOMDAY"] == int(day)].set_index("USUBJID")["AVAL"])
    return ard.frame(rows)


def hypogam_table(h: pd.DataFrame, study: Mapping[str, Any]) -> pd.DataFrame:
    thr = formats.fmt_num(float(study["laboratory"]["hypogammaglobulinaemia_below"]), 1)
    recs = []
    for var, lvl, lbl in [("BASELINE", None, "Baseline"), ("ANY", None, "Any post-baseline sample (lowest value)")] + [
        ("DAY", int(d), f"Day {int(d)}") for d in study["laboratory"]["igg_days"]
    ]:
        g = lambda s: ard.stat(h, s, variable=var, variable_level=lvl)
        recs.append(
            (lbl, 0, [str(int(g("N"))), formats.fmt_n_pct(g("n"), g("N")), _med_iqr(g("median"), g("q1"), g("q3"), 2)])
        )
    return formats.display_frame(
        recs, "Time point", ["Subjects with IgG, n", f"IgG < {thr} g/L, n (%)", "IgG, g/L, median (IQR)"]
    )


def _med_iqr(med: Any, q1: Any, q3: Any, digits: int) -> str:
    if _nan(med):
        return formats.NE
    return f"{formats.fmt_num(med, digits)} ({formats.fmt_num(q1, digits)}, {formats.fmt_num(q3, digits)})"


# --------------------------------------------------------------------------------------------
# over-time summaries and figures


def nominal(adlb: pd.DataFrame, days: Sequence[int], day_var: str = "ADY0") -> pd.DataFrame:
    """ADLB rows assigned to the nearest nominal day of ``days`` within max(2, 15% of the day)
    days, one sample per subject, parameter and nominal day (the nearest; then the earlier);
    column NOMDAY."""
    d = adlb[adlb[day_var].notna()].copy()
    t = d[day_var].astype(float).to_numpy()
    grid = np.asarray(sorted(days), dtype=float)
    idx = np.abs(t[:, None] - grid[None, :]).argmin(axis=1) if len(t) else np.array([], int)
    near = grid[idx] if len(t) else np.array([])
    dist = np.abs(t - near) if len(t) else np.array([])
    ok = dist <= np.maximum(2.0, 0.15 * np.abs(near)) if len(t) else np.array([], bool)
    d = d[ok].assign(NOMDAY=near[ok].astype(int), _DIST=dist[ok])
    d = d.sort_values(["USUBJID", "PARAMCD", "NOMDAY", "_DIST", day_var], kind="stable")
    return d.drop_duplicates(["USUBJID", "PARAMCD", "NOMDAY"]).drop(columns="_DIST")


def over_time_ard(
    adlb: pd.DataFrame, params: Sequence[str], days: Sequence[int], day_var: str = "ADY0"
) -> pd.DataFrame:
    """n, median, q1, q3, min, max of each parameter (variable) at each nominal day
    (variable_level; :func:`nominal`)."""
    d = nominal(adlb[adlb["PARAMCD"].isin(list(params))], days, day_var)
    rows: list[tuple] = []
    for p in params:
        for day in sorted(days):
            st = stats.describe(d.loc[(d["PARAMCD"] == p) & (d["NOMDAY"] == day), "AVAL"])
            rows.extend(
                (None, None, None, None, p, int(day), s, st[s]) for s in ("n", "median", "q1", "q3", "min", "max")
            )
    return ard.frame(rows)


def over_time_figure(
    ot: pd.DataFrame,
    params: Sequence[str],
    *,
    log: Sequence[str],
    ref_lines: Mapping[str, Sequence[tuple[float, str]]] | None = None,
    xlabel: str = "Nominal day after CD19 CAR-T infusion",
    ncols: int = 2,
) -> Figure:
    """Median (IQR) over nominal days (:func:`over_time_ard`) per parameter, with the contract's
    normal range shaded."""
    wide = ot.pivot_table(
        index=["variable", "variable_level"], columns="stat_name", values="stat_value", aggfunc="first"
    )
    wide = wide.reset_index().rename(columns={"variable": "panel", "variable_level": "day"})
    for c in ("n", "median", "q1", "q3"):
        wide[c] = pd.to_numeric(wide[c], errors="coerce")
    wide["n"] = wide["n"].fillna(0)
    ranges = {p: (LB_TESTS[p].low, LB_TESTS[p].high) for p in params if p in LB_TESTS}
    titles = {p: _label(p) for p in params}
    from analysis_lib.toolkit.figures import summary_over_time_plot

    return summary_over_time_plot(
        wide,
        list(params),
        titles=titles,
        log={p: p in log for p in params},
        normal_range=ranges,
        ref_lines=ref_lines,
        xlabel=xlabel,
        ncols=ncols,
    )


def crs_grade_by_subject(adae: pd.DataFrame, adlb: pd.DataFrame, study: Mapping[str, Any]) -> pd.Series:
    """Worst CRS grade (ADAE AESICAT "CRS") with onset in the marker window, 0 without CRS, per
    subject with a marker sample."""
    lo, hi = (int(x) for x in study["laboratory"]["crs_markers"]["window"])
    crs = adae[(adae["AESICAT"] == "CRS") & adae["ASTDY0"].between(lo, hi)]
    worst = crs.groupby("USUBJID")["AETOXGR"].max()
    subj = adlb.loc[adlb["PARAMCD"].isin(study["laboratory"]["crs_markers"]["tests"]), "USUBJID"].unique()
    return worst.reindex(subj).fillna(0).astype(int)


def crs_peaks(adlb: pd.DataFrame, adae: pd.DataFrame, study: Mapping[str, Any]) -> pd.DataFrame:
    """Per subject and marker: the peak value in the window and the worst CRS grade (group)."""
    cfg = study["laboratory"]["crs_markers"]
    lo, hi = (int(x) for x in cfg["window"])
    d = adlb[adlb["PARAMCD"].isin(cfg["tests"]) & adlb["ADY0"].between(lo, hi)]
    pk = d.groupby(["PARAMCD", "USUBJID"], as_index=False)["AVAL"].max()
    grade = crs_grade_by_subject(adae, adlb, study)
    pk["CRSGR"] = pk["USUBJID"].map(grade).fillna(0).astype(int)
    return pk


def crs_group(grade: int) -> str:
    return "No CRS" if grade == 0 else f"Grade {grade}"


def crs_peak_ard(pk: pd.DataFrame, tests: Sequence[str]) -> pd.DataFrame:
    """n, median, q1, q3, min, max of each marker's peak (variable) by CRS grade (group1 CRSGR)."""
    rows: list[tuple] = []
    for t in tests:
        for g in sorted(pk["CRSGR"].unique()):
            st = stats.describe(pk.loc[(pk["PARAMCD"] == t) & (pk["CRSGR"] == g), "AVAL"])
            rows.extend(
                ("CRSGR", crs_group(int(g)), None, None, t, None, s, st[s])
                for s in ("n", "median", "q1", "q3", "min", "max")
            )
    return ard.frame(rows)


def crs_peak_figure(pk: pd.DataFrame, tests: Sequence[str]) -> Figure:
    from analysis_lib.toolkit.figures import values_by_group_plot

    groups = [str(int(g)) for g in sorted(pk["CRSGR"].unique())]
    data = pk.assign(panel=pk["PARAMCD"], group=pk["CRSGR"].astype(int).astype(str), value=pk["AVAL"])
    return values_by_group_plot(
        data,
        list(tests),
        groups,
        titles={t: f"Peak {_label(t)}" for t in tests},
        log=True,
        xlabel="Worst CRS grade (ASTCT 2019; 0: no CRS)",
    )


def crs_peak_text(pa: pd.DataFrame, test: str) -> str:
    parts = []
    for g in dict.fromkeys(pa["group1_level"]):
        s = pa[(pa["group1_level"] == g) & (pa["variable"] == test)]
        med = ard.stat(s, "median")
        parts.append(f"{g.lower() if g != 'No CRS' else g} {formats.fmt_sig(med, 3)} (n={int(ard.stat(s, 'n'))})")
    return f"Median peak {SHORT[test]} ({LB_TESTS[test].unit}) by worst CRS grade: " + "; ".join(parts)


def bcell_figure(adlbtte: pd.DataFrame, ticks: Sequence[int], conf_type: str = "log-log") -> Figure:
    """Kaplan-Meier curves of B-cell aplasia (from its onset) and CAR-T persistence (from Day 0)."""
    fits = {}
    for p in ("BCAPL", "CARTPERS"):
        d = adlbtte[adlbtte["PARAMCD"] == p]
        if len(d):
            fits[KM_SHORT[p]] = stats.kaplan_meier(d["AVAL"], 1 - d["CNSR"].astype(int), conf_type=conf_type)
    if not fits:
        from analysis_lib.trial.efficacy import no_data_figure

        return no_data_figure("No B-cell or CAR-T samples at this data cut")
    return km_plot(
        fits,
        list(ticks),
        ci=True,
        xmax=ticks[-1],
        xlabel="Days (B-cell aplasia: from onset; CAR-T: from infusion)",
        ylabel="Probability ongoing",
        conf_type=conf_type,
    )


def engraftment_figure(adlbtte: pd.DataFrame, params: Sequence[str], ticks: Sequence[int], xlabel: str) -> Figure:
    """Cumulative incidence curves of the onset parameters (e.g. NEUTENG, PLATENG) with numbers at risk."""
    fits, short = {}, {}
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # CI at an incidence of 1
        for p in params:
            d = adlbtte[adlbtte["PARAMCD"] == p]
            if len(d):
                fits[TTE_LABELS[p]] = stats.cumulative_incidence(d["AVAL"], ard.cr_status(d), cause=1)
                short[TTE_LABELS[p]] = SHORT.get(p[:4], p)
        if not fits:
            from analysis_lib.trial.efficacy import no_data_figure

            return no_data_figure("No subjects at this data cut")
        return cif_plot(
            fits, list(ticks), xmax=ticks[-1], ymax=1.0, xlabel=xlabel, ylabel="Cumulative incidence", risk_labels=short
        )


# --------------------------------------------------------------------------------------------
# listing of grade >= 3 abnormalities


def grade3_episodes(adlb: pd.DataFrame, min_grade: int) -> pd.DataFrame:
    """Episodes of post-baseline CTCAE grade >= ``min_grade`` values: successive samples of one
    test at or above the grade (an episode ends at a sample below it), with first and last study
    day, number of samples, worst grade, nadir and the phase at its start."""
    d = adlb[(adlb["ONTRTFL"] == "Y") & adlb["ATOXGR"].notna()].sort_values(
        ["USUBJID", "PARAMCD", "ADY0"], kind="stable"
    )
    hit = d["ATOXGR"] >= min_grade
    new = hit & ~(hit.groupby([d["USUBJID"], d["PARAMCD"]]).shift(1, fill_value=False))
    ep = new.astype(int).groupby([d["USUBJID"], d["PARAMCD"]]).cumsum()
    e = d[hit].assign(EP=ep[hit])
    if e.empty:
        return pd.DataFrame(
            columns=[
                "USUBJID",
                "TRT01A",
                "PARAMCD",
                "APHASE",
                "START",
                "END",
                "SAMPLES",
                "WORST",
                "NADIR",
                "AVALU",
                "BTOXGR",
            ]
        )
    agg = e.groupby(["USUBJID", "PARAMCD", "EP"], sort=False).agg(
        TRT01A=("TRT01A", "first"),
        APHASE=("APHASE", "first"),
        START=("ADY0", "min"),
        END=("ADY0", "max"),
        SAMPLES=("ADY0", "size"),
        WORST=("ATOXGR", "max"),
        NADIR=("AVAL", "min"),
        AVALU=("AVALU", "first"),
        BTOXGR=("BTOXGR", "first"),
    )
    return agg.reset_index().drop(columns="EP")


def grade3_listing(ep: pd.DataFrame) -> pd.DataFrame:
    """Display of :func:`grade3_episodes`, by subject and onset day."""
    order = {c: i for i, c in enumerate(GRADED_ORDER)}
    ep = ep.assign(_O=ep["PARAMCD"].map(order)).sort_values(["USUBJID", "START", "_O"], kind="stable")
    phase = {"CD19 CAR-T": "CD19 CAR-T", "ALLO-HSCT": "Allo-HSCT", "CD22 CAR-T": "CD22 CAR-T"}
    return pd.DataFrame(
        {
            "Subject": ep["USUBJID"].str.extract(r"(\d+-\d+)$", expand=False).fillna(ep["USUBJID"]),
            "Dose level": ep["TRT01A"].str.split(" ").str[0],
            "Test (unit)": [f"{SHORT[c]} ({u})" for c, u in zip(ep["PARAMCD"], ep["AVALU"])],
            "Phase at onset": ep["APHASE"].map(phase).fillna(ep["APHASE"]),
            "First day": ep["START"].astype(int).astype(str),
            "Last day": ep["END"].astype(int).astype(str),
            "Samples": ep["SAMPLES"].astype(int).astype(str),
            "Worst grade": ep["WORST"].astype(int).astype(str),
            "Nadir": [f"{v:g}" for v in ep["NADIR"]],
            "Baseline grade": ep["BTOXGR"].map(lambda g: "" if _nan(g) or pd.isna(g) else str(int(g))),
        }
    ).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# text


def populations(adsl: pd.DataFrame, adlb: pd.DataFrame, adlbtte: pd.DataFrame) -> dict[str, int]:
    saf = adsl[adsl["SAFFL"] == "Y"]
    return {
        "saf": len(saf),
        "lab": int(adlb["USUBJID"].nunique()),
        "tx": int((adlbtte["PARAMCD"] == "NEUTENG").sum()),
        "bcell": int((adlbtte["PARAMCD"] == "BCAPL").sum()),
    }


@escape.returns_markup
def methods_text(study: Mapping[str, Any]) -> str:
    """The laboratory rules, each with the parameter it comes from, as a Markdown list (the
    parameters' own text escaped: it is data, never markup)."""
    lab = study["laboratory"]
    e, r, pc = lab["engraftment"], lab["recovery"], lab["prolonged_cytopenia"]
    md = escape.markdown
    ct = "; ".join(
        f"{md(SHORT[k])} ({md(v['term'])}): grade g below the g-th of "
        + ", ".join(md(x) for x in v["limits"])
        + f" {md(LB_TESTS[k].unit)}"
        for k, v in lab["ctcae"].items()
    )
    return "\n".join(
        [
            f"- **Baseline** (`laboratory.baseline`): the {md(lab['baseline'])}. Lymphocytes and sometimes "
            "counts on Day 0 follow lymphodepletion.",
            f"- **CTCAE v5.0 grades** (`laboratory.ctcae`): {ct}; LLN = the record's lower limit of normal; a value "
            "on a "
            "limit takes the milder grade. CRP, ferritin, IL-6, IgG, CD19+ B cells and chimerism are not graded on a "
            "value "
            "(CTCAE has no value-based term for them); they are summarised as values.",
            "- **Neutrophil engraftment** (`laboratory.engraftment.neutrophil`): first of "
            f"{e['neutrophil']['consecutive']} "
            f"successive samples on different days with ANC >= {e['neutrophil']['threshold']} x10^9/L after the "
            f"post-transplant nadir; **platelet engraftment**: first of {e['platelet']['consecutive']} successive "
            "samples "
            f">= {e['platelet']['threshold']} x10^9/L with no platelet transfusion (XT) from "
            f"{e['platelet']['transfusion_free_days']} days before the first to the last of them. Days from the "
            "allo-HSCT "
            "date; cumulative incidence (Aalen-Johansen) with death before engraftment as the competing event, "
            "censored at "
            "the last sample.",
            "- **Count recovery after CD19 CAR-T** (`laboratory.recovery`): the same rules from Day 0 in subjects "
            "whose "
            f"count fell below the threshold ({r['neutrophil']['threshold']} / {r['platelet']['threshold']} x10^9/L) "
            "before "
            "conditioning; censored at the start of transplant conditioning; death competes.",
            f"- **Cytopenia at Day {pc['day']}** (`laboratory.prolonged_cytopenia`): grade >= {pc['min_grade']} "
            "neutropenia "
            f"or thrombocytopenia on the sample nearest Day {pc['day']} (+/- {pc['window']} days), shown separately "
            "for "
            "subjects transplanted by then (whose counts reflect the conditioning aplasia).",
            f"- **B-cell aplasia** (`laboratory.b_cell_aplasia_below`): CD19+ B cells < {lab['b_cell_aplasia_below']} "
            "cells/uL; duration from the first such sample after Day 0 to the first later sample at or above it "
            "(Kaplan-Meier; "
            "censored at the last sample). **CAR-T persistence**: Day 0 to the first blood sample (flow cytometry, "
            "either "
            "product) after the last detectable one; censored at the last sample if still detectable.",
            f"- **Hypogammaglobulinaemia** (`laboratory.hypogammaglobulinaemia_below`): IgG < "
            f"{lab['hypogammaglobulinaemia_below']} g/L.",
            f"- **CRS biomarkers** (`laboratory.crs_markers`): peak value from Day {lab['crs_markers']['window'][0]} "
            "to Day "
            f"{lab['crs_markers']['window'][1]} by the worst CRS grade (ASTCT) with onset in that window.",
            "- **Over-time figures**: the sample nearest each nominal day (`laboratory.figure_days`) within max(2 "
            "days, 15% "
            "of the day), one per subject; median and interquartile range; log scales for counts and markers.",
        ]
    )


__all__ = [
    "ADLB_KEYS",
    "ALL",
    "GRADED_ORDER",
    "KM_SHORT",
    "SHORT",
    "TTE_LABELS",
    "baseline_flags",
    "bcell_figure",
    "bcell_km_ard",
    "bcell_table",
    "bcell_text",
    "bcell_ticks",
    "cart_phase_end",
    "chimerism_text",
    "cif_summary_ard",
    "cif_summary_table",
    "cif_text",
    "crs_grade_by_subject",
    "crs_group",
    "crs_peak_ard",
    "crs_peak_figure",
    "crs_peak_text",
    "crs_peaks",
    "ctcae_grade",
    "derive_adlb",
    "derive_adlbtte",
    "engraftment_figure",
    "engraftment_ticks",
    "grade3_episodes",
    "grade3_listing",
    "grade_limits",
    "grades",
    "heme_ref_lines",
    "hypogam_ard",
    "hypogam_table",
    "immune_ref_lines",
    "methods_text",
    "nominal",
    "onset",
    "over_time_ard",
    "over_time_figure",
    "populations",
    "prolonged_ard",
    "prolonged_cytopenia",
    "prolonged_table",
    "prolonged_text",
    "shift_ard",
    "shift_table",
    "shift_text",
]


# --------------------------------------------------------------------------------------------
# small helpers of the chapter (ticks, reference lines, text)


def engraftment_ticks(study: Mapping[str, Any]) -> list[int]:
    """Ticks of the engraftment figure: every 7 days to the last landmark after HSCT."""
    last = int(max(study["laboratory"]["engraftment"]["landmarks"]))
    return list(range(0, last + 1, 7)) + ([last] if last % 7 else [])


def bcell_ticks(study: Mapping[str, Any]) -> list[int]:
    """Ticks of the B-cell figure: every 90 days up to the end of protocol follow-up."""
    return list(range(0, int(study["timeline"]["end_of_follow_up"]) + 1, 90))


def heme_ref_lines(study: Mapping[str, Any]) -> dict[str, list[tuple[float, str]]]:
    """Engraftment thresholds drawn on the ANC and platelet panels."""
    e = study["laboratory"]["engraftment"]
    return {
        e["neutrophil"]["test"]: [(float(e["neutrophil"]["threshold"]), f"{e['neutrophil']['threshold']:g}")],
        e["platelet"]["test"]: [(float(e["platelet"]["threshold"]), f"{e['platelet']['threshold']:g}")],
    }


def immune_ref_lines(study: Mapping[str, Any]) -> dict[str, list[tuple[float, str]]]:
    lab = study["laboratory"]
    return {
        "IGG": [(float(lab["hypogammaglobulinaemia_below"]), f"{lab['hypogammaglobulinaemia_below']:g}")],
        "CD19": [(float(lab["b_cell_aplasia_below"]), f"{lab['b_cell_aplasia_below']:g}")],
    }


def prolonged_text(pa: pd.DataFrame, study: Mapping[str, Any]) -> str:
    pc = study["laboratory"]["prolonged_cytopenia"]
    g = lambda lv, s: ard.stat(pa, s, group1_level=lv, variable="EITHER")
    return (
        f"Grade >= {pc['min_grade']} neutropenia or thrombocytopenia at Day {pc['day']}: "
        f"{formats.n_of_N(g('N', 'n'), g('N', 'N'))} of the subjects not transplanted by then and "
        f"{formats.n_of_N(g('Y', 'n'), g('Y', 'N'))} of those transplanted by then (conditioning aplasia); "
        f"{formats.n_of_N(g(ard.TOTAL, 'n'), g(ard.TOTAL, 'N'))} overall."
    )


def chimerism_text(ot: pd.DataFrame) -> str:
    s = ot[ot["variable"] == "CHIMER"]
    parts = []
    for day in dict.fromkeys(s["variable_level"]):
        n = ard.stat(s, "n", variable_level=day)
        if n:
            parts.append(f"Day {day}: {formats.fmt_num(ard.stat(s, 'median', variable_level=day), 1)}% (n={int(n)})")
    return "Median donor chimerism by nominal day after CD19 CAR-T: " + "; ".join(parts) + "." if parts else ""


def bcell_text(km: pd.DataFrame) -> str:
    out = []
    for p in ("BCAPL", "CARTPERS"):
        lab = TTE_LABELS[p]
        s = km[(km["group1_level"] == lab) & km["variable_level"].isna()]
        if s.empty or not ard.stat(s, "n"):
            continue
        med = ard.stat(s, "median")
        lo, hi = ard.stat(s, "median_ci_low"), ard.stat(s, "median_ci_high")
        m = "not reached" if _nan(med) else f"{formats.fmt_num(med, 0)} days"
        ci = f"95% CI {formats.fmt_num(lo, 0)} to {formats.fmt_num(hi, 0)}"
        out.append(f"{lab}: median {m} ({ci}; {int(ard.stat(s, 'events'))} events in {int(ard.stat(s, 'n'))} subjects)")
    return ". ".join(out) + "." if out else ""
