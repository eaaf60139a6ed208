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

from analysis_lib.toolkit import ard, formats, stats
from analysis_lib.toolkit.figures import STYLE, cif_plot, km_plot
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
ADLB_KEYS = ["STUDYID", "USUBJID", "TRT01A", "TRT01AN", "PHASE", "COHORT", "DOSELVL", "SAFFL", "HSCTFL"]


# --------------------------------------------------------------------------------------------
# grades, baseline, onset rules (small pure functions, tested on hand-made cases)


def grade_limits(study: Mapping[str, Any], paramcd: str, lln: float) -> list[float]:
    """CTCAE limits of ``paramcd`` (params ``laboratory.ctcae``) with "LLN" replaced by ``lln``."""
    spec = study["laboratory"]["ctcae"][paramcd]["limits"]
    return [float(lln) if x == "LLN" else float(x) for x in spec]


def ctcae_grade(value: Any, limits: Sequence[float]) -> float:
    """CTCAE grade of a "decreased" test: the number of limits the value is strictly below
    (grade 1 below the LLN, ...); a value on a limit has the milder grade; nan for no value."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return math.nan
    return float(sum(float(value) < lim for lim in limits))


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
    tx_day = (plt_tx["XTSTDTC"] - plt_tx["USUBJID"].map(cd19)).dt.days
    tx_by = tx_day.groupby(plt_tx["USUBJID"]).apply(list).to_dict() if len(plt_tx) else {}
    rows: list[dict] = []
    by = {k: g for k, g in adlb.groupby(["USUBJID", "PARAMCD"])}
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
