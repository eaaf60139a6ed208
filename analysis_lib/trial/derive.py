"""Apply the data cut and derive the ADaM-like datasets of ``docs/adam.md`` (``csr derive``).

Each dataset is a small pure function of the input domains (strings as delivered, or already
typed), the study parameters (``params/study.yml``) and the cut date, so every rule can be tested
on hand-made frames. :func:`derive_cut` validates first, derives everything and writes Parquet
atomically (a failed run never touches an earlier good ``_output/<cut>/adam/``).

Conventions (see docs/adam.md for the full list):
* Day 0 = CD19 CAR-T infusion; ``*DY0 = date - CD19 date`` in days; CDISC ``*DY`` has no Day 0.
* Partial AE/CM start dates: first day of the period, or the CD19 infusion date if that falls in
  the period (and not after the event's end); partial end dates: last day of the period, but not
  after death or the data cut.
* Last known alive (LSTALVDT): the latest full date of any record (the dates listed in
  ``sdtm.CUT_DATE_COLUMNS``), never after the cut; for a subject who died, the death date.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis_lib.trial import datacut
from analysis_lib.trial.sdtm import CUT_DATE_COLUMNS, DOMAINS
from analysis_lib.trial.validate import ValidationFailed, date_bounds, read_and_validate

if TYPE_CHECKING:
    from analysis_lib.trial.config import Cut

CD19, CD22 = "CD19 CAR-T", "CD22 CAR-T"
DEATH_FROM_ALL = "RELAPSE/PROGRESSION OF ALL"
PROGRESSION = ("RELAPSE", "PD")
RESPONSE_ORDER = ("CR", "CRI", "NR", "PD", "RELAPSE", "NE")  # best first, for best overall response
ADSL_KEYS = ["STUDYID", "USUBJID", "TRT01A", "TRT01AN", "PHASE", "COHORT", "DOSELVL"]


# ---------------------------------------------------------------- typing helpers


def typed(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """Domain ``name`` with int/float/date columns converted (pdate columns stay text)."""
    out = df.copy()
    for col in DOMAINS[name].columns:
        if col.name not in out:
            continue
        s = out[col.name]
        if pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s):
            s = s.astype(str).str.strip().replace("", None)
        if col.kind == "int":
            out[col.name] = pd.to_numeric(s, errors="raise").astype("Int64")
        elif col.kind == "float":
            out[col.name] = pd.to_numeric(s, errors="raise").astype("float64")
        elif col.kind == "date" and not pd.api.types.is_datetime64_any_dtype(s):
            out[col.name] = pd.to_datetime(s, format="%Y-%m-%d")
    return out


def _get(domains: dict[str, pd.DataFrame], name: str) -> pd.DataFrame:
    return typed(domains[name], name)


def _days(later: pd.Series, earlier: pd.Series) -> pd.Series:
    """Whole days between two datetime series (nullable Int64)."""
    return (later - earlier).dt.days.astype("Int64")


def _cdisc_dy(date: pd.Series, ref: pd.Series) -> pd.Series:
    """CDISC study day (Day 1 = reference date, no Day 0)."""
    d = _days(date, ref)
    return d.where(d < 0, d + 1)


def _yn(mask) -> np.ndarray:
    """ "Y"/"N" from a boolean mask (missing counts as False)."""
    return np.where(pd.Series(np.asarray(mask)).fillna(False).astype(bool).to_numpy(), "Y", "N")


def _first(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """First row per USUBJID after sorting by ``by`` (stable, deterministic)."""
    return df.sort_values(["USUBJID", *by], kind="stable").drop_duplicates("USUBJID")


def imputation_flag(dtc: pd.Series) -> pd.Series:
    """ADaM date imputation flag: "D" (day imputed, YYYY-MM), "M" (month and day, YYYY), else ""."""
    n = dtc.astype(str).str.strip().str.len()
    return pd.Series(np.select([n == 7, n == 4], ["D", "M"], ""), index=dtc.index)


def impute_start(dtc: pd.Series, ref: pd.Series, end: pd.Series | None = None) -> tuple[pd.Series, pd.Series]:
    """Impute partial start dates: first day of the period, or ``ref`` (CD19 infusion) when it
    lies in the period and not after the known ``end``. Returns (date, flag "D"/"M"/"")."""
    lo, hi = date_bounds(dtc)
    if end is not None:
        hi = hi.where(end.isna() | (end > hi) | (end < lo), end)
    use_ref = ref.notna() & (ref >= lo) & (ref <= hi)
    return lo.where(~use_ref, ref), imputation_flag(dtc)


def impute_end(dtc: pd.Series, cap: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Impute partial end dates: last day of the period, but not after ``cap`` (death or cut) when
    ``cap`` lies in the period. Returns (date, flag)."""
    lo, hi = date_bounds(dtc)
    capped = cap.notna() & (cap >= lo) & (cap < hi)
    return hi.where(~capped, cap), imputation_flag(dtc)


# ---------------------------------------------------------------- ADSL


def _age_group(age: pd.Series) -> pd.Series:
    return pd.Series(np.select([age < 18, age < 40], ["<18", "18-39"], ">=40"), index=age.index)


def last_known_alive(domains: dict[str, pd.DataFrame], cut_date: dt.date) -> pd.Series:
    """Latest full date of any record per subject (dates in ``CUT_DATE_COLUMNS``), capped at the cut."""
    parts = []
    for name, cols in CUT_DATE_COLUMNS.items():
        if name not in domains:
            continue
        df = domains[name]
        for col in cols:
            if col in df:
                s = df[col]
                d = (
                    s
                    if pd.api.types.is_datetime64_any_dtype(s)
                    else pd.to_datetime(
                        s.astype(str).where(s.astype(str).str.fullmatch(r"\d{4}-\d{2}-\d{2}")),
                        format="%Y-%m-%d",
                        errors="coerce",
                    )
                )
                parts.append(pd.DataFrame({"USUBJID": df["USUBJID"], "DT": d}))
    dates = pd.concat(parts).dropna(subset=["DT"])
    return dates.groupby("USUBJID")["DT"].max().clip(upper=pd.Timestamp(cut_date))


def derive_adsl(domains: dict[str, pd.DataFrame], study: dict[str, Any], cut_date: dt.date) -> pd.DataFrame:
    """One row per enrolled subject: populations, treatment, key dates, disposition, baseline disease."""
    dm, ex, pr, ds = (_get(domains, n) for n in ("dm", "ex", "pr", "ds"))
    cut = pd.Timestamp(cut_date)
    labels = {int(d["level"]): d["label"] for d in study["dose_levels"]}
    a = dm[
        [
            "STUDYID",
            "USUBJID",
            "SUBJID",
            "SITEID",
            "AGE",
            "SEX",
            "RACE",
            "WEIGHTBL",
            "PHASE",
            "COHORT",
            "DOSELVL",
            "DONORTYP",
            "RFICDTC",
        ]
    ].rename(columns={"RFICDTC": "RFICDT"})
    a = a.sort_values("USUBJID", kind="stable").reset_index(drop=True)
    a["AGEGR1"] = _age_group(a["AGE"])

    for prod, pre in ((CD19, "CD19"), (CD22, "CD22")):
        first = _first(ex[ex["EXTRT"] == prod], ["EXSTDTC", "EXSEQ"]).set_index("USUBJID")
        a[f"{pre}DT"] = a["USUBJID"].map(first["EXSTDTC"])
        a[f"{pre}DOSE"] = a["USUBJID"].map(first["EXDOSE"])
    infused = a["CD19DT"].notna()
    a["TRTSDT"] = a["CD19DT"]
    a["TRT01A"] = np.where(infused, a["DOSELVL"].map(labels), "Not infused")
    a["TRT01AN"] = a["DOSELVL"].where(infused).astype("Int64")
    a["CD22FL"] = _yn(a["CD22DT"].notna())
    a["CD22DY0"] = _days(a["CD22DT"], a["CD19DT"])

    ld = pr[(pr["PRCAT"] == "LYMPHODEPLETION") & (pr.get("PRREF", pd.Series("", index=pr.index)) != CD22)]
    a["LDSTDT"] = a["USUBJID"].map(ld.groupby("USUBJID")["PRSTDTC"].min())
    hsct = pr[pr["PRCAT"] == "ALLO-HSCT"].groupby("USUBJID")["PRSTDTC"].min()
    a["HSCTDT"] = a["USUBJID"].map(hsct)
    a["HSCTFL"] = _yn(a["HSCTDT"].notna())
    a["HSCTDY0"] = _days(a["HSCTDT"], a["CD19DT"])

    death = _first(ds[ds["DSDECOD"] == "DEATH"], ["DSSTDTC", "DSSEQ"]).set_index("USUBJID")
    a["DTHDT"] = a["USUBJID"].map(death["DSSTDTC"])
    a["DTHFL"] = _yn(a["DTHDT"].notna())
    a["DTHDY0"] = _days(a["DTHDT"], a["CD19DT"])
    a["DTHCAUS"] = a["USUBJID"].map(death["DTHCAUS"]).fillna("")
    a["DTHTRTFL"] = _yn(a["DTHDT"].notna() & (a["DTHCAUS"] != DEATH_FROM_ALL))
    lstalv = a["USUBJID"].map(last_known_alive(domains, cut_date))
    a["LSTALVDT"] = a["DTHDT"].fillna(lstalv)
    a["CUTOFFDT"] = cut
    a["FUDY0"] = _days(a["LSTALVDT"], a["CD19DT"])

    disp = ds[ds["DSCAT"] == "DISPOSITION EVENT"]
    completed = set(disp.loc[disp["DSDECOD"] == "COMPLETED", "USUBJID"])
    stop = _first(disp[disp["DSDECOD"] != "COMPLETED"], ["DSSTDTC", "DSSEQ"]).set_index("USUBJID")
    a["DCSREAS"] = a["USUBJID"].map(stop["DSDECOD"]).fillna("")
    a["EOSSTT"] = np.select(
        [a["USUBJID"].isin(completed), a["DCSREAS"] != ""], ["COMPLETED", "DISCONTINUED"], "ONGOING"
    )
    a.loc[a["EOSSTT"] == "COMPLETED", "DCSREAS"] = ""

    # AE periods (ADaM APxxSDT/APxxEDT) from params: period 1 ends min(CD22 + offset, max_end).
    p1, p2 = study["ae_periods"][0], study["ae_periods"][-1]
    p1_end = (a["CD22DY0"] + int(p1["cd22_offset"])).clip(upper=int(p1["max_end"])).fillna(int(p1["max_end"]))
    a["AP01SDT"] = a["CD19DT"] + pd.to_timedelta(int(p1.get("start", 0)), unit="D")
    a["AP01EDT"] = a["CD19DT"] + pd.to_timedelta(p1_end.astype("float64"), unit="D")
    a["AP02SDT"] = a["AP01EDT"] + pd.Timedelta(days=1)
    a["AP02EDT"] = a["CD19DT"] + pd.Timedelta(days=int(p2["end"]))

    # Populations.
    a["ENRLFL"] = "Y"
    a["SAFFL"] = _yn(infused)
    lo, hi = (int(x) for x in study["dlt"]["window"])
    ae = _get(domains, "ae")
    dlt = ae[ae["AEDLT"] == "Y"]
    ref = dlt["USUBJID"].map(a.set_index("USUBJID")["CD19DT"])
    dlt_day = _days(impute_start(dlt["AESTDTC"], ref)[0], ref)
    had_dlt = a["USUBJID"].isin(dlt.loc[dlt_day.between(lo, hi).fillna(False).astype(bool), "USUBJID"])
    a["DLTFL"] = _yn(infused & had_dlt)
    completed_window = a["FUDY0"].ge(hi)  # alive (or died) on/after the last day of the window
    a["DLTEVLFL"] = _yn(infused & (a["PHASE"] == "DOSE ESCALATION") & (had_dlt | completed_window))
    bl = _get(domains, "bl")
    a["EFFFL"] = _yn(infused & a["USUBJID"].isin(bl["USUBJID"]))
    ck = _get(domains, "ck")
    ck_post = ck[ck["CKDTC"] > ck["USUBJID"].map(a.set_index("USUBJID")["CD19DT"])]
    a["CKEVLFL"] = _yn(infused & a["USUBJID"].isin(ck_post["USUBJID"]))

    # Baseline disease.
    blf = bl.drop_duplicates("USUBJID").set_index("USUBJID")
    a["DIAGDT"] = a["USUBJID"].map(date_bounds(blf["DIAGDTC"])[0])  # partial: first day of the period
    a["DIAGDTF"] = a["USUBJID"].map(imputation_flag(blf["DIAGDTC"])).fillna("")
    for col in (
        "DISSTAT",
        "PRLINES",
        "PRHSCT",
        "PRBLIN",
        "PRINO",
        "PRTKI",
        "BMBLAST",
        "MRDBL",
        "CNSSTAT",
        "EMDFL",
        "CYTORISK",
        "PHSTAT",
    ):
        a[col] = a["USUBJID"].map(blf[col])
    a["PRLINES"] = a["PRLINES"].astype("Int64")
    order = [
        "STUDYID",
        "USUBJID",
        "SUBJID",
        "SITEID",
        "AGE",
        "AGEGR1",
        "SEX",
        "RACE",
        "WEIGHTBL",
        "PHASE",
        "COHORT",
        "DOSELVL",
        "TRT01A",
        "TRT01AN",
        "DONORTYP",
        "ENRLFL",
        "SAFFL",
        "DLTEVLFL",
        "DLTFL",
        "EFFFL",
        "CKEVLFL",
        "RFICDT",
        "CD19DT",
        "TRTSDT",
        "CD19DOSE",
        "LDSTDT",
        "HSCTFL",
        "HSCTDT",
        "HSCTDY0",
        "CD22FL",
        "CD22DT",
        "CD22DY0",
        "CD22DOSE",
        "AP01SDT",
        "AP01EDT",
        "AP02SDT",
        "AP02EDT",
        "DTHFL",
        "DTHDT",
        "DTHDY0",
        "DTHCAUS",
        "DTHTRTFL",
        "LSTALVDT",
        "CUTOFFDT",
        "EOSSTT",
        "DCSREAS",
        "FUDY0",
        "DIAGDT",
        "DIAGDTF",
        "DISSTAT",
        "PRLINES",
        "PRHSCT",
        "PRBLIN",
        "PRINO",
        "PRTKI",
        "BMBLAST",
        "MRDBL",
        "CNSSTAT",
        "EMDFL",
        "CYTORISK",
        "PHSTAT",
    ]
    return a[order]


# ---------------------------------------------------------------- ADAE


def _aesi(ae: pd.DataFrame, aesi: dict[str, dict]) -> pd.Series:
    """AESI category per event: the first category in params order whose preferred terms
    (``decod``) or SOCs (``bodsys``) match (case-insensitive) and, if given, whose
    ``min_duration_days`` the event lasts (ADURN)."""
    cat = pd.Series("", index=ae.index, dtype=object)
    decod = ae["AEDECOD"].str.strip().str.casefold()
    bodsys = ae["AEBODSYS"].str.strip().str.casefold()
    for name, rule in aesi.items():
        hit = decod.isin([t.casefold() for t in rule.get("decod", [])]) | bodsys.isin(
            [t.casefold() for t in rule.get("bodsys", [])]
        )
        if "min_duration_days" in rule:
            hit &= ae["ADURN"].ge(int(rule["min_duration_days"])).fillna(False).astype(bool)
        cat = cat.mask((cat == "") & hit, name)
    return cat


def _worst_flag(ae: pd.DataFrame, keys: list[str]) -> pd.Series:
    """Y on the first treatment-emergent record at the worst grade per ``keys`` (by date, AESEQ)."""
    te = ae[ae["TRTEMFL"] == "Y"].sort_values(
        ["AETOXGR", "ASTDT", "AESEQ"], ascending=[False, True, True], kind="stable"
    )
    first = te.drop_duplicates(keys).index
    return pd.Series(_yn(ae.index.isin(first)), index=ae.index)


def derive_adae(
    domains: dict[str, pd.DataFrame], adsl: pd.DataFrame, study: dict[str, Any], cut_date: dt.date
) -> pd.DataFrame:
    """One row per AE: imputed dates, Day-0 days, duration, TEAE, AE period, DLT window, AESI,
    worst-grade flags and the CRS/ICANS drugs given for it (CM.CMAESEQ)."""
    ae, cm = _get(domains, "ae"), _get(domains, "cm")
    cut = pd.Timestamp(cut_date)
    s = adsl.set_index("USUBJID")
    out = ae.merge(adsl[ADSL_KEYS + ["SAFFL"]], on="USUBJID", how="left", validate="many_to_one")
    ref = out["USUBJID"].map(s["CD19DT"])
    death = out["USUBJID"].map(s["DTHDT"])
    stop = death.where(death < cut, cut)  # nothing is known after death or after the cut
    out["AENDT"], out["AENDTF"] = impute_end(out["AEENDTC"], stop)
    out["ASTDT"], out["ASTDTF"] = impute_start(out["AESTDTC"], ref, out["AENDT"])
    out["ASTDY0"], out["AENDY0"] = _days(out["ASTDT"], ref), _days(out["AENDT"], ref)
    out["ASTDY"], out["AENDY"] = _cdisc_dy(out["ASTDT"], ref), _cdisc_dy(out["AENDT"], ref)
    ongoing = out["AEENDTC"].str.strip() == ""
    out["AONGOFL"] = _yn(ongoing)
    out["ADURN"] = _days(out["AENDT"].where(~ongoing, stop), out["ASTDT"]) + 1

    p1, p2 = study["ae_periods"][0], study["ae_periods"][-1]
    p1_end = _days(out["USUBJID"].map(s["AP01EDT"]), ref)
    p2_end = int(p2["end"])
    day = out["ASTDY0"]
    out["TRTEMFL"] = _yn(day.between(int(p1.get("start", 0)), p2_end))
    period = np.select(
        [
            day.between(int(p1.get("start", 0)), p1_end).fillna(False).astype(bool),
            ((day > p1_end) & (day <= p2_end)).fillna(False).astype(bool),
        ],
        [1, 2],
        0,
    )
    out["APERIOD"] = pd.Series(period, index=out.index).replace(0, pd.NA).astype("Int64")
    out["APERIODC"] = out["APERIOD"].map({1: p1["label"], 2: p2["label"]}).fillna("")
    lo, hi = (int(x) for x in study["dlt"]["window"])
    out["DLTWINFL"] = _yn(day.between(lo, hi))
    out["AESICAT"] = _aesi(out, study.get("aesi", {}))
    out["WGRSUBFL"] = _worst_flag(out, ["USUBJID"])
    out["WGRPTFL"] = _worst_flag(out, ["USUBJID", "AEDECOD"])
    out["WGRSOCFL"] = _worst_flag(out, ["USUBJID", "AEBODSYS"])
    treated = cm[cm["CMAESEQ"].notna()]
    for flag, cls in (("CMTOCIFL", "IL-6 RECEPTOR ANTAGONIST"), ("CMSTERFL", "CORTICOSTEROID")):
        keys = pd.MultiIndex.from_frame(treated.loc[treated["CMCLAS"] == cls, ["USUBJID", "CMAESEQ"]])
        out[flag] = _yn(pd.MultiIndex.from_frame(out[["USUBJID", "AESEQ"]]).isin(keys))
    order = [
        *ADSL_KEYS,
        "SAFFL",
        "AESEQ",
        "AETERM",
        "AEDECOD",
        "AEBODSYS",
        "AETOXGR",
        "AEGRSCL",
        "AESER",
        "AEREL",
        "AEOUT",
        "AEDLT",
        "AESTDTC",
        "AEENDTC",
        "ASTDT",
        "ASTDTF",
        "AENDT",
        "AENDTF",
        "ASTDY0",
        "AENDY0",
        "ASTDY",
        "AENDY",
        "ADURN",
        "AONGOFL",
        "TRTEMFL",
        "APERIOD",
        "APERIODC",
        "DLTWINFL",
        "AESICAT",
        "WGRSUBFL",
        "WGRPTFL",
        "WGRSOCFL",
        "CMTOCIFL",
        "CMSTERFL",
    ]
    return out[order].sort_values(["USUBJID", "AESEQ"], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------- ADRS


def _visit_day(visit: pd.Series) -> pd.Series:
    """Nominal day of a visit name such as "DAY 30" (NaN if none)."""
    return pd.to_numeric(visit.str.extract(r"(?i)DAY\s*(-?\d+)", expand=False), errors="coerce")


def _nearest_in_window(recs: pd.DataFrame, days: list[int], window: int) -> pd.DataFrame:
    """Per subject and nominal day nn: the record with ADY0 in [nn - window, nn + window] nearest
    to nn (ties: the earlier one, then lower RSSEQ). Columns of ``recs`` plus NOMDAY."""
    grid = recs.merge(pd.DataFrame({"NOMDAY": days}), how="cross")
    grid = grid[(grid["ADY0"] - grid["NOMDAY"]).abs() <= window]
    grid = grid.assign(DIST=(grid["ADY0"] - grid["NOMDAY"]).abs())
    grid = grid.sort_values(["USUBJID", "NOMDAY", "DIST", "ADY0", "RSSEQ"], kind="stable")
    return grid.drop_duplicates(["USUBJID", "NOMDAY"]).drop(columns="DIST")


def derive_adrs(domains: dict[str, pd.DataFrame], adsl: pd.DataFrame, study: dict[str, Any]) -> pd.DataFrame:
    """Response records: OVRLRESP and MRD by visit, and per efficacy subject RSPDnn (response in the
    Day-nn window), MRDNDnn (MRD-negative CR/CRi at Day nn) and BESTRSP.

    Window rule: the assessment nearest Day nn within +/- ``response.window`` days. Without one:
    DIED if the subject died before the window closed, NOT DUE if the window had not closed by
    the data cut, else MISSING. MRDNDnn is Y when RSPDnn is CR/CRi and the MRD result nearest
    Day nn in the same window is NEGATIVE. BESTRSP is the best post-infusion (ADY0 >= 0)
    response in the order CR, CRi, NR, PD, relapse, NE; MISSING if none.
    """
    rs = _get(domains, "rs")
    resp = study["response"]
    responders = list(resp["responder"])
    window, days = int(resp["window"]), [int(d) for d in resp["visits"]]
    s = adsl.set_index("USUBJID")
    rs = rs[rs["USUBJID"].isin(s.index)].copy()
    rs["ADT"] = rs["RSDTC"]
    rs["ADY0"] = _days(rs["ADT"], rs["USUBJID"].map(s["CD19DT"]))
    rs["ADY"] = _cdisc_dy(rs["ADT"], rs["USUBJID"].map(s["CD19DT"]))
    rs["AVISIT"], rs["AVISITN"] = rs["VISIT"], _visit_day(rs["VISIT"])
    rs["AVALC"] = rs["RSSTRESC"]
    rs["PARAMCD"] = rs["RSTESTCD"]
    rs["PARAM"] = rs["PARAMCD"].map(
        {"OVRLRESP": "Overall response (NCCN ALL)", "MRD": "Minimal residual disease (flow cytometry)"}
    )
    rs["AVAL"] = np.where(rs["PARAMCD"] == "MRD", rs["RSSTRESN"], rs["AVALC"].isin(responders).astype(float))
    post = rs[rs["ADY0"].notna()]
    chosen = {p: _nearest_in_window(post[post["PARAMCD"] == p], days, window) for p in ("OVRLRESP", "MRD")}
    used = pd.MultiIndex.from_frame(pd.concat(chosen.values())[["USUBJID", "RSSEQ"]])
    rs["ANL01FL"] = _yn(pd.Series(pd.MultiIndex.from_frame(rs[["USUBJID", "RSSEQ"]]).isin(used), index=rs.index))

    eff = adsl.loc[adsl["EFFFL"] == "Y", ["USUBJID", "CD19DT", "DTHDY0", "CUTOFFDT"]]
    grid = eff.merge(pd.DataFrame({"NOMDAY": days}), how="cross")
    keep = ["USUBJID", "NOMDAY", "AVALC", "ADT", "ADY0", "ADY", "AVISIT", "AVISITN"]
    grid = grid.merge(chosen["OVRLRESP"][keep], on=["USUBJID", "NOMDAY"], how="left")
    mrd = chosen["MRD"][["USUBJID", "NOMDAY", "AVALC"]].rename(columns={"AVALC": "MRDC"})
    grid = grid.merge(mrd, on=["USUBJID", "NOMDAY"], how="left")
    closes = grid["NOMDAY"] + window
    none = grid["AVALC"].isna()
    died = none & grid["DTHDY0"].le(closes).fillna(False).astype(bool)
    not_due = none & ~died & (_days(grid["CUTOFFDT"], grid["CD19DT"]) < closes).fillna(False).astype(bool)
    grid["AVALC"] = np.select([died, not_due, none], ["DIED", "NOT DUE", "MISSING"], grid["AVALC"].astype(object))
    resp_ok = grid["AVALC"].isin(responders)
    rspd = grid.assign(
        PARAMCD="RSPD" + grid["NOMDAY"].astype(str).str.zfill(2),
        PARAM="Response at Day " + grid["NOMDAY"].astype(str) + f" (+/-{window} days)",
        AVAL=np.where(not_due, np.nan, resp_ok.astype(float)),
    )
    mrdnd = grid.assign(
        PARAMCD="MRDND" + grid["NOMDAY"].astype(str).str.zfill(2),
        PARAM="MRD-negative CR/CRi at Day " + grid["NOMDAY"].astype(str),
        AVALC=np.where(not_due, "NOT DUE", _yn(resp_ok & (grid["MRDC"] == "NEGATIVE"))),
        AVAL=np.where(not_due, np.nan, (resp_ok & (grid["MRDC"] == "NEGATIVE")).astype(float)),
    )
    derived = pd.concat([rspd, mrdnd])
    derived["ANL01FL"] = "Y"

    rank = {c: i for i, c in enumerate(RESPONSE_ORDER)}
    ovr = post[(post["PARAMCD"] == "OVRLRESP") & (post["ADY0"] >= 0)].copy()
    ovr["RANK"] = ovr["AVALC"].map(rank).fillna(len(rank))
    best = ovr.sort_values(["USUBJID", "RANK", "ADT", "RSSEQ"], kind="stable").drop_duplicates("USUBJID")
    best = eff[["USUBJID"]].merge(
        best[["USUBJID", "AVALC", "ADT", "ADY0", "ADY", "AVISIT", "AVISITN"]], on="USUBJID", how="left"
    )
    best["AVALC"] = best["AVALC"].fillna("MISSING")
    best = best.assign(
        PARAMCD="BESTRSP", PARAM="Best overall response", ANL01FL="Y", AVAL=best["AVALC"].isin(responders).astype(float)
    )

    cols = [
        "USUBJID",
        "PARAMCD",
        "PARAM",
        "AVALC",
        "AVAL",
        "ADT",
        "ADY0",
        "ADY",
        "AVISIT",
        "AVISITN",
        "ANL01FL",
        "RSSEQ",
    ]
    out = pd.concat([rs[cols], derived[cols[:-1]], best[cols[:-1]]])
    response_param = out["PARAMCD"].isin(["OVRLRESP", "BESTRSP"]) | out["PARAMCD"].str.startswith("RSPD")
    out["CRFL"] = _yn(response_param & out["AVALC"].isin(responders))
    out["AVISIT"] = out["AVISIT"].fillna("")
    out["RSSEQ"] = out["RSSEQ"].astype("Int64")
    pord = {"OVRLRESP": 0, "MRD": 1, "BESTRSP": 4}
    out["_P"] = out["PARAMCD"].map(pord).fillna(out["PARAMCD"].str[:4].map({"RSPD": 2, "MRDN": 3}))
    out["_N"] = pd.to_numeric(out["PARAMCD"].str.extract(r"(\d+)$", expand=False))
    out = out.sort_values(["USUBJID", "_P", "_N", "ADT", "RSSEQ"], kind="stable", na_position="last")
    out = adsl[ADSL_KEYS + ["EFFFL"]].merge(out.drop(columns=["_P", "_N"]), on="USUBJID", how="inner")
    return out.reset_index(drop=True)


# ---------------------------------------------------------------- ADTTE

TTE_COLUMNS = [
    *ADSL_KEYS,
    "SAFFL",
    "EFFFL",
    "HSCTFL",
    "PARAMCD",
    "PARAM",
    "STARTDT",
    "ADT",
    "ADY0",
    "AVAL",
    "AVALM",
    "CNSR",
    "CMPEVFL",
    "EVNTDESC",
    "CNSDTDSC",
    "SRCDOM",
]
END_OF_FOLLOW_UP = "END OF PROTOCOL FOLLOW-UP"


def _earliest(cands: list[pd.DataFrame]) -> pd.DataFrame:
    """Per subject, the earliest candidate (ties: the earlier list position)."""
    c = pd.concat([df.assign(_PRI=i) for i, df in enumerate(cands)], ignore_index=True)
    return c.sort_values(["USUBJID", "ADT", "_PRI"], kind="stable").drop_duplicates("USUBJID").drop(columns="_PRI")


def tte_rules(study: dict[str, Any]) -> dict[str, Any]:
    """The time-to-event rules of ``params/study.yml`` in one place (days on the Day-0 scale)."""
    tte = study["time_to_event"]
    return {
        "end_day": int(study["timeline"]["end_of_follow_up"]),
        "final_window": int(tte["final_visit_window"]),
        "days_per_month": float(tte["days_per_month"]),
    }


def tte_parameter(
    base: pd.DataFrame,
    events: list[pd.DataFrame],
    censor: pd.DataFrame,
    paramcd: str,
    param: str,
    rules: dict[str, Any],
    competing: list[pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """One PARAMCD: the earliest event (or competing event) per subject in ``base`` (subjects with
    STARTDT; CD19DT, EOSSTT and CUTOFFDT for the end of follow-up), else the censoring row. Frames hold
    USUBJID, ADT, EVNTDESC or CNSDTDSC, SRCDOM. A competing event ends follow-up with CNSR = 1 and
    CMPEVFL = "Y". Then the end of protocol follow-up (``rules``) applies: an event or
    competing event after it is censored there; a completer censored within the final visit
    window of it is censored there."""
    empty = pd.DataFrame(columns=["USUBJID", "ADT", "EVNTDESC", "SRCDOM"])
    tagged = [df.assign(_CMP=False) for df in events] + [df.assign(_CMP=True) for df in competing or []]
    ev = _earliest(tagged) if tagged else empty.assign(_CMP=False)
    ev = ev.assign(
        CNSR=np.where(ev["_CMP"].astype(bool), 1, 0), CMPEVFL=_yn(ev["_CMP"].astype(bool)), CNSDTDSC=""
    ).drop(columns="_CMP")
    cn = censor[~censor["USUBJID"].isin(ev["USUBJID"])].assign(CNSR=1, CMPEVFL="N", EVNTDESC="")
    t = base.merge(pd.concat([ev, cn], ignore_index=True), on="USUBJID", how="left")
    end = t["CD19DT"] + pd.Timedelta(days=rules["end_day"])
    if "CUTOFFDT" in t:  # nothing is known after the data cut
        end = end.where(end <= t["CUTOFFDT"], t["CUTOFFDT"])
    day = _days(t["ADT"], t["CD19DT"])
    late = day.gt(rules["end_day"]).fillna(False).astype(bool)
    reached = (
        (t["CNSR"] == 1)
        & (t["CMPEVFL"] != "Y")
        & (t["EOSSTT"] == "COMPLETED")
        & day.ge(rules["end_day"] - rules["final_window"]).fillna(False).astype(bool)
    )
    admin = late | reached
    t.loc[admin, "ADT"] = end[admin]
    t.loc[admin, ["CNSR", "CMPEVFL", "EVNTDESC", "SRCDOM"]] = [1, "N", "", "ADSL"]
    t.loc[admin, "CNSDTDSC"] = f"{END_OF_FOLLOW_UP} (DAY {rules['end_day']})"
    t["ADY0"] = _days(t["ADT"], t["CD19DT"])
    t["AVAL"] = (t["ADT"] - t["STARTDT"]).dt.days.astype("float64")
    t["AVALM"] = t["AVAL"] / rules["days_per_month"]
    t["CNSR"] = t["CNSR"].astype("Int64")
    return t.assign(PARAMCD=paramcd, PARAM=param)


def _efs(
    base,
    saf,
    first_cr,
    prog,
    death_ev,
    disc,
    cens,
    rules,
    study,
    *,
    induction_failure_event: bool,
    withdrawal_event: bool,
    paramcd: str,
    param: str,
) -> pd.DataFrame:
    """EFS with the two rule choices of ``time_to_event.efs`` (see :func:`derive_adtte`)."""
    events = [prog.assign(EVNTDESC="RELAPSE/PROGRESSION", SRCDOM="RS"), death_ev]
    if withdrawal_event:
        events.append(disc)
    if induction_failure_event:
        limit = int(study["time_to_event"]["efs"]["induction_assessment_day"]) + int(study["response"]["window"])
        s = saf.set_index("USUBJID")
        cr_day = saf["USUBJID"].map(first_cr.set_index("USUBJID")["ADT"]).sub(saf["CD19DT"].values).dt.days
        cr_by = cr_day.le(limit).fillna(False).astype(bool).to_numpy()
        died_before = saf["DTHDY0"].le(limit).fillna(False).astype(bool).to_numpy()
        followed = (
            saf["FUDY0"].ge(limit).fillna(False).astype(bool).to_numpy()
            | saf["CUTOFFDT"].sub(saf["CD19DT"]).dt.days.ge(limit).to_numpy()
            & (saf["EOSSTT"] != "DISCONTINUED").to_numpy()
        )
        fail = saf.loc[~cr_by & ~died_before & followed, ["USUBJID"]]
        fail = fail.assign(
            ADT=fail["USUBJID"].map(s["CD19DT"]),
            EVNTDESC=f"INDUCTION FAILURE (NO CR/CRI BY DAY {limit})",
            SRCDOM="ADRS",
        )
        events.insert(0, fail)
    return tte_parameter(base, events, cens, paramcd, param, rules)


def derive_adtte(
    domains: dict[str, pd.DataFrame],
    adsl: pd.DataFrame,
    adrs: pd.DataFrame,
    study: dict[str, Any],
    adae: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """OS, EFS (primary and sensitivity), DOR and the transplant endpoints for the safety
    population, days from STARTDT; every rule from ``params/study.yml`` ``time_to_event``.

    End of protocol follow-up (``timeline.end_of_follow_up``, Day 730) for every endpoint: an
    event after it is censored there, and a subject who completed the study (EOSSTT COMPLETED)
    and was censored within ``time_to_event.final_visit_window`` days of it is censored there.
    OS: CD19 infusion to death from any cause; alive -> censored at last known alive.
    EFS: CD19 infusion to the earliest of induction failure (no CR/CRi by Day
    ``efs.induction_assessment_day`` + ``response.window``, in a subject alive and followed to
    then: an event at Day 0), relapse/progression (RS RELAPSE or PD), death, and study
    withdrawal (DS discontinuation other than completion or death); ``efs.primary`` and
    ``efs.sensitivity`` say whether induction failure and withdrawal are events (PARAMCD EFS and
    EFSSENS). No event -> censored at the last disease assessment on/after Day 0 (Day 0 if none).
    DOR: first CR/CRi to the earliest relapse/progression after it or death from ALL (DTHCAUS
    "RELAPSE/PROGRESSION OF ALL"); death from another cause without relapse -> censored at that
    death date; otherwise censored at the last disease assessment. HSCT and CD22 CAR-T are protocol
    treatment and do not censor. Transplant endpoints (CIR, NRM, AGVHD*, CGVHD, GRFS):
    :func:`analysis_lib.trial.transplant.derive_tte`. All dates are on or before the data cut.
    """
    from analysis_lib.trial import transplant

    rules = tte_rules(study)
    efs_cfg = study["time_to_event"]["efs"]
    saf = adsl[adsl["SAFFL"] == "Y"]
    keys = saf[ADSL_KEYS + ["SAFFL", "EFFFL", "HSCTFL", "CD19DT", "EOSSTT", "CUTOFFDT"]]
    base = keys.assign(STARTDT=saf["CD19DT"].values)
    deaths = saf.loc[saf["DTHFL"] == "Y", ["USUBJID", "DTHDT", "DTHCAUS"]].rename(columns={"DTHDT": "ADT"})
    death_ev = deaths[["USUBJID", "ADT"]].assign(EVNTDESC="DEATH", SRCDOM="DS")
    alive = saf.loc[saf["DTHFL"] != "Y", ["USUBJID", "LSTALVDT"]].rename(columns={"LSTALVDT": "ADT"})
    os_ = tte_parameter(
        base,
        [death_ev],
        alive.assign(CNSDTDSC="LAST KNOWN ALIVE DATE", SRCDOM="ADSL"),
        "OS",
        "Overall survival (days)",
        rules,
    )

    ovr = adrs[(adrs["PARAMCD"] == "OVRLRESP") & (adrs["ADY0"] >= 0)]
    prog = ovr.loc[ovr["AVALC"].isin(PROGRESSION), ["USUBJID", "ADT"]]
    first_prog = prog.sort_values(["USUBJID", "ADT"]).drop_duplicates("USUBJID")
    last_assess = ovr.groupby("USUBJID", as_index=False)["ADT"].max()
    ds = _get(domains, "ds")
    disc = ds[(ds["DSCAT"] == "DISPOSITION EVENT") & ~ds["DSDECOD"].isin(["COMPLETED", "DEATH"])]
    disc = disc[disc["USUBJID"].isin(saf["USUBJID"])]
    disc = disc.assign(ADT=disc["DSSTDTC"], EVNTDESC="DISCONTINUATION: " + disc["DSDECOD"], SRCDOM="DS")
    disc = disc[["USUBJID", "ADT", "EVNTDESC", "SRCDOM"]]
    efs_cens = base[["USUBJID", "STARTDT"]].merge(last_assess, on="USUBJID", how="left")
    efs_cens = efs_cens.assign(
        CNSDTDSC=np.where(efs_cens["ADT"].notna(), "LAST DISEASE ASSESSMENT", "CD19 CAR-T INFUSION (NO ASSESSMENT)"),
        ADT=efs_cens["ADT"].fillna(efs_cens["STARTDT"]),
        SRCDOM=np.where(efs_cens["ADT"].notna(), "RS", "ADSL"),
    )
    efs_cens = efs_cens.drop(columns="STARTDT")
    resp = ovr[ovr["AVALC"].isin(study["response"]["responder"])]
    first_cr = resp.sort_values(["USUBJID", "ADT"]).drop_duplicates("USUBJID")[["USUBJID", "ADT"]]
    efs_args = (base, saf, first_cr, first_prog, death_ev, disc, efs_cens, rules, study)
    efs = _efs(*efs_args, **efs_cfg["primary"], paramcd="EFS", param="Event-free survival (days)")
    efs_s = _efs(
        *efs_args, **efs_cfg["sensitivity"], paramcd="EFSSENS", param="Event-free survival, sensitivity analysis (days)"
    )

    dbase = keys.merge(first_cr.rename(columns={"ADT": "STARTDT"}), on="USUBJID", how="inner")
    after = lambda df: df[df["ADT"] > df["USUBJID"].map(dbase.set_index("USUBJID")["STARTDT"])]
    d_prog = after(prog).sort_values(["USUBJID", "ADT"]).drop_duplicates("USUBJID")
    d_death_all = deaths[deaths["DTHCAUS"] == DEATH_FROM_ALL][["USUBJID", "ADT"]]
    d_events = [
        d_prog.assign(EVNTDESC="RELAPSE/PROGRESSION", SRCDOM="RS"),
        d_death_all.assign(EVNTDESC="DEATH FROM ALL", SRCDOM="DS"),
    ]
    d_last = after(ovr).groupby("USUBJID", as_index=False)["ADT"].max()
    d_cens = dbase[["USUBJID", "STARTDT"]].merge(d_last, on="USUBJID", how="left")
    d_cens = d_cens.assign(
        ADT=d_cens["ADT"].fillna(d_cens["STARTDT"]), CNSDTDSC="LAST DISEASE ASSESSMENT", SRCDOM="RS"
    ).drop(columns="STARTDT")
    other = deaths[(deaths["DTHCAUS"] != DEATH_FROM_ALL)][["USUBJID", "ADT"]]
    other = other.assign(CNSDTDSC="DEATH FROM OTHER CAUSE", SRCDOM="DS")
    d_cens = pd.concat(
        [other[other["USUBJID"].isin(dbase["USUBJID"])], d_cens[~d_cens["USUBJID"].isin(other["USUBJID"])]],
        ignore_index=True,
    )
    dor = tte_parameter(dbase, d_events, d_cens, "DOR", "Duration of response (days)", rules)

    parts = [os_, efs, efs_s, dor]
    if adae is not None:
        parts += transplant.derive_tte(keys, adsl, adae, first_cr, first_prog, efs_cens, deaths, rules, study)
    out = pd.concat([p[TTE_COLUMNS] for p in parts], ignore_index=True)
    order = {p: i for i, p in enumerate(dict.fromkeys(out["PARAMCD"]))}
    out["_P"] = out["PARAMCD"].map(order)
    return out.sort_values(["USUBJID", "_P"], kind="stable").drop(columns="_P").reset_index(drop=True)


# ---------------------------------------------------------------- ADCK

CK_CODES = {
    "CD19 CAR-T": "CD19",
    "CD22 CAR-T": "CD22",
    "PERIPHERAL BLOOD": "PB",
    "CSF": "CS",
    "FLOW CYTOMETRY": "FL",
    "QPCR": "QP",
}


def derive_adck(domains: dict[str, pd.DataFrame], adsl: pd.DataFrame, study: dict[str, Any]) -> pd.DataFrame:
    """Kinetics records: time since that product's infusion (ARELTM, days; NaN if the product was
    not given), BLQ flag (no numeric result, or result below LLOQ) with AVAL NaN when BLQ, and
    ANL01FL = Y for samples on/after that product's infusion."""
    ck = _get(domains, "ck")
    s = adsl.set_index("USUBJID")
    out = adsl[ADSL_KEYS + ["CKEVLFL"]].merge(ck, on="USUBJID", how="inner")
    infusion = np.where(out["CKTRT"] == CD19, out["USUBJID"].map(s["CD19DT"]), out["USUBJID"].map(s["CD22DT"]))
    out["ADT"] = out["CKDTC"]
    out["ARELTM"] = (out["ADT"] - pd.to_datetime(pd.Series(infusion, index=out.index))).dt.days.astype("float64")
    out["ARELTMU"] = "DAYS"
    blq = out["CKSTRESN"].isna() | (out["CKSTRESN"] < out["CKLLOQ"])
    out["BLQFL"] = _yn(blq)
    out["AVAL"] = out["CKSTRESN"].where(~blq)
    out["AVALU"], out["LLOQ"] = out["CKSTRESU"], out["CKLLOQ"]
    out["PARAMCD"] = out["CKTRT"].map(CK_CODES) + out["CKSPEC"].map(CK_CODES) + out["CKMETHOD"].map(CK_CODES)
    out["PARAM"] = (
        out["CKTRT"]
        + ", "
        + out["CKSPEC"].str.lower()
        + ", "
        + out["CKMETHOD"].str.replace("QPCR", "qPCR").str.replace("FLOW CYTOMETRY", "flow cytometry")
        + " ("
        + out["CKSTRESU"]
        + ")"
    )
    out["AVISIT"] = out["VISIT"]
    out["ANL01FL"] = _yn(out["ARELTM"] >= 0)
    cols = [
        *ADSL_KEYS,
        "CKEVLFL",
        "CKSEQ",
        "CKTRT",
        "CKSPEC",
        "CKMETHOD",
        "PARAMCD",
        "PARAM",
        "CKORRES",
        "AVAL",
        "AVALU",
        "LLOQ",
        "BLQFL",
        "ADT",
        "ARELTM",
        "ARELTMU",
        "AVISIT",
        "ANL01FL",
    ]
    return out[cols].sort_values(["USUBJID", "CKSEQ"], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------- ADPP


def derive_adpp(adck: pd.DataFrame, study: dict[str, Any]) -> pd.DataFrame:
    """NCA parameters per subject x product x specimen x method (analysis samples, ANL01FL = Y)
    with :func:`analysis_lib.toolkit.stats.nca`: time = ARELTM (days since that product's infusion), BLQ
    samples flagged by BLQFL and handled by ``kinetics.blq_rule``, AUC method
    ``kinetics.auc_method``, partial AUC to ``kinetics.auc_window_days``."""
    from analysis_lib.toolkit import stats

    kin = study["kinetics"]
    end = float(kin["auc_window_days"])
    rule = kin["blq_rule"]
    if rule not in stats.BLQ_RULES:
        raise ValueError(
            f"params/study.yml: kinetics.blq_rule '{rule}' is not one of "
            f"{', '.join(stats.BLQ_RULES)} (analysis_lib.toolkit.stats.BLQ_RULES)"
        )
    auc_key, auc_cd = f"auc0_{end:g}", f"AUC0_{end:g}"
    names = {"cmax": "CMAX", "tmax": "TMAX", "clast": "CLAST", "tlast": "TLAST", "auclast": "AUCLST", auc_key: auc_cd}
    groups = ["USUBJID", "CKTRT", "CKSPEC", "CKMETHOD"]
    a = adck[adck["ANL01FL"] == "Y"].sort_values([*groups, "ARELTM"], kind="stable")
    # Profiles are contiguous after sorting: slice numpy arrays instead of iterating a groupby.
    gid = a.groupby(groups, sort=False).ngroup().to_numpy()
    starts = np.flatnonzero(np.r_[True, gid[1:] != gid[:-1]]) if len(a) else np.array([], int)
    ends = np.r_[starts[1:], len(a)].astype(int)
    t_, c_, b_ = a["ARELTM"].to_numpy(float), a["AVAL"].to_numpy(float), (a["BLQFL"] == "Y").to_numpy()
    res = []
    for s, e in zip(starts, ends):
        try:
            res.append(
                stats.nca(
                    t_[s:e],
                    c_[s:e],
                    kin["auc_method"],
                    end=end,
                    blq=rule,
                    blq_mask=b_[s:e],
                    auc_needs_sample=bool(kin.get("auc_needs_sample_in_window", True)),
                )
            )
        except ValueError as exc:
            who = ", ".join(map(str, a.iloc[s][groups]))
            raise ValueError(f"ck: NCA for {who}: {exc}") from None
    head = (
        a.iloc[starts][[*ADSL_KEYS, "CKEVLFL", *groups[1:], "PARAMCD", "AVALU"]]
        .rename(columns={"PARAMCD": "CKPARMCD", "AVALU": "CKU"})
        .reset_index(drop=True)
    )
    values = pd.DataFrame(res, columns=list(names)).rename(columns=names)
    pp = pd.concat([head, values], axis=1).melt(id_vars=list(head.columns), var_name="PARAMCD", value_name="AVAL")
    time_unit = pp["PARAMCD"].isin(["TMAX", "TLAST"])
    auc = pp["PARAMCD"].isin(["AUCLST", auc_cd])
    pp["AVALU"] = np.where(time_unit, "days", np.where(auc, pp["CKU"] + "*days", pp["CKU"]))
    pp["_P"] = pp["PARAMCD"].map({cd: i for i, cd in enumerate(names.values())})
    pp = pp.sort_values(["USUBJID", "CKTRT", "CKSPEC", "CKMETHOD", "_P"], kind="stable")
    return pp.drop(columns=["CKU", "_P"]).reset_index(drop=True)


# ---------------------------------------------------------------- whole cut


def derive_adpr(domains: dict[str, pd.DataFrame], adsl: pd.DataFrame) -> pd.DataFrame:
    """Procedures (lymphodepletion, conditioning, allo-HSCT) with Day-0 study days, as PR delivers them."""
    pr = _get(domains, "pr")
    keep = ["USUBJID", "PRSEQ", "PRCAT", "PRTRT", "PRREF", "PRSTDTC", "PRENDTC"]
    pr = pr[[c for c in keep if c in pr]].copy()
    if "PRREF" not in pr:
        pr["PRREF"] = None
    pr = pr.merge(adsl[["USUBJID", "CD19DT"]], on="USUBJID", how="inner")
    pr["ASTDY0"] = _days(pr["PRSTDTC"], pr["CD19DT"])
    pr["AENDY0"] = _days(pr["PRENDTC"], pr["CD19DT"])
    return pr.drop(columns="CD19DT").sort_values(["USUBJID", "PRSEQ"]).reset_index(drop=True)


def derive_all(domains: dict[str, pd.DataFrame], study: dict[str, Any], cut_date: dt.date) -> dict[str, pd.DataFrame]:
    """Every ADaM dataset from validated domains (strings as delivered)."""
    domains = {name: typed(df, name) for name, df in domains.items()}
    adsl = derive_adsl(domains, study, cut_date)
    adrs = derive_adrs(domains, adsl, study)
    adck = derive_adck(domains, adsl, study)
    adae = derive_adae(domains, adsl, study, cut_date)
    out = {
        "adsl": adsl,
        "adae": adae,
        "adrs": adrs,
        "adtte": derive_adtte(domains, adsl, adrs, study, adae),
        "adck": adck,
    }
    out["adpp"] = derive_adpp(adck, study)
    out["adpr"] = derive_adpr(domains, adsl)
    from analysis_lib.trial import laboratory

    out["adlb"] = laboratory.derive_adlb(domains["lb"], adsl, domains["pr"], study)
    out["adlbtte"] = laboratory.derive_adlbtte(out["adlb"], adsl, domains["xt"], adck, study)
    for df in out.values():  # one date type everywhere (docs/adam.md): datetime64[ns]
        for col in df.columns[[pd.api.types.is_datetime64_any_dtype(t) for t in df.dtypes]]:
            df[col] = df[col].astype("datetime64[ns]")
    return out


def write_datasets(datasets: dict[str, pd.DataFrame], out_dir: Path) -> None:
    """Write ``<name>.parquet`` files into ``out_dir`` atomically: into a sibling temporary folder
    first, then swapped into place, so an interrupted or failed run leaves the old folder intact."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}")
    old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        for name, df in sorted(datasets.items()):
            df.to_parquet(tmp / f"{name}.parquet", index=False, engine="pyarrow")
        if out_dir.exists():
            out_dir.rename(old)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not out_dir.exists():
            old.rename(out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


def derive_at_cut(
    domains: dict[str, pd.DataFrame], study: dict[str, Any], cut_date: dt.date
) -> tuple[dict[str, pd.DataFrame], datacut.CutLog]:
    """Apply the data cut to validated domains (a snapshot may hold later records), then derive every
    ADaM dataset: ``(datasets, cut log)`` (docs/design.md §2: read + validate -> cut -> derive)."""
    at_cut, log = datacut.apply_cut(domains, cut_date)
    return derive_all(at_cut, study, cut_date), log


def with_cut_log(datasets: dict[str, pd.DataFrame], log: datacut.CutLog) -> dict[str, pd.DataFrame]:
    """The datasets to write into ``adam/``: the ADaM datasets and the cut log (``dcutlog``, read by the
    provenance chapter; kept there so the chapters' cache key, which hashes ``adam/``, covers it)."""
    return {**datasets, datacut.LOG_DATASET: datacut.log_frame(log)}


def derive_cut(cut: Cut, out_dir: Path | None = None) -> dict[str, pd.DataFrame]:
    """Validate the cut's inputs (raise :class:`ValidationFailed` listing every problem), apply the
    data cut, derive all ADaM datasets and write them with the cut log as Parquet to ``out_dir``
    (default ``cut.adam_dir``)."""
    from analysis_lib.trial.config import load_study

    study = load_study(cut.root)
    domains, problems = read_and_validate(cut.data_dir, study)
    if problems:
        raise ValidationFailed(problems)
    datasets, log = derive_at_cut(domains, study, cut.cut_date)
    write_datasets(with_cut_log(datasets, log), Path(out_dir) if out_dir is not None else cut.adam_dir)
    return datasets
