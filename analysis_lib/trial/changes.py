"""Changes since the previous data cut: what a safety review committee reads first.

Both cuts are analysed with the same code and parameters: :func:`derive_previous` derives the
previous cut's ADaM in memory (so the chapter never depends on an earlier run), then

* :func:`key_estimates` -> ARD of the key estimates of one cut (population sizes, DLTs, CRS,
  ICANS, acute GVHD, SAEs, deaths, ORR and MRD-negative CR/CRi at the first response day, OS and
  EFS median and 12-month rate), built with :mod:`analysis_lib.toolkit.ard`;
* :func:`compare` -> ARD with the previous value, the current value and the change of each;
* :func:`new_items` -> the records that are new in this cut (subjects, infusions, transplants,
  DLTs, deaths, SAEs) and the per-subject changes of response and status;
* :func:`changes_ard`, :func:`estimates_table`, :func:`changes_table`, :func:`changed_listing`
  turn them into ARDs and display frames (strings only) for Tables 14.4.1-2 / Listing 16.2.7.4.

Records are matched by USUBJID (subjects) and USUBJID + AESEQ (adverse events).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from analysis_lib.toolkit import ard as ardlib
from analysis_lib.toolkit import formats, frames, stats
from analysis_lib.toolkit.ard import TOTAL

#: Landmark of the OS/EFS rates among the key estimates (months).
LANDMARK_MONTHS = 12

#: Key estimate code -> (row label, kind). Kinds: count, rate (n/N), rate_ci (n/N + exact CI), km.
ESTIMATES: dict[str, tuple[str, str]] = {
    "ENRL": ("Subjects enrolled", "count"),
    "SAF": ("Subjects infused with CD19 CAR-T (safety population)", "count"),
    "DLT": ("Subjects with a DLT (DLT-evaluable population)", "rate_ci"),
    "CRS": ("CRS, any grade", "rate"),
    "CRS3": ("CRS, grade ≥3", "rate"),
    "ICANS": ("ICANS, any grade", "rate"),
    "ICANS3": ("ICANS, grade ≥3", "rate"),
    "AGVHD2": ("Acute GVHD grade II-IV (transplanted subjects)", "rate"),
    "AE3": ("Subjects with a grade ≥3 adverse event", "rate"),
    "SAE": ("Subjects with a serious adverse event", "rate"),
    "DEATH": ("Deaths", "rate"),
    "DEATHNRM": ("Non-relapse deaths (not due to ALL)", "rate"),
    "ORR": ("Overall response (CR + CRi) at Day {day} (efficacy population)", "rate_ci"),
    "MRDN": ("MRD-negative CR/CRi at Day {day} (efficacy population)", "rate_ci"),
    "OS": ("Overall survival", "km"),
    "EFS": ("Event-free survival", "km"),
}
_CUT_LEVELS = ("previous", "current", "change")


# --------------------------------------------------------------------------------------------
# previous cut


def derive_previous(cut, study: Mapping | None = None):
    """``(previous Cut, its ADaM datasets)`` derived in memory, or ``None`` for the first cut.

    The previous cut's inputs are validated and cut like ``csr derive``; problems raise
    :class:`analysis_lib.trial.validate.ValidationFailed` listing them all.
    """
    from analysis_lib.trial import config
    from analysis_lib.trial.derive import derive_at_cut
    from analysis_lib.trial.validate import ValidationFailed, read_and_validate

    if not cut.previous:
        return None
    prev = config.load_cut(cut.previous, cut.root)
    if prev.cut_date >= cut.cut_date:
        raise config.ConfigError(
            f"{cut.params_file}: previous cut '{prev.id}' ({prev.cut_date}) is not before this cut ({cut.cut_date})"
        )
    params = dict(study) if study is not None else config.load_study(cut.root)
    if prev.sponsor_adam:  # the previous cut came as a sponsor's ADaM: compare with it as delivered
        from analysis_lib.trial import adam_contract

        return prev, adam_contract.read_sponsor_adam(prev.data_dir, off=[t for t, _ in prev.tlfs_off])
    domains, problems = read_and_validate(prev.data_dir, params)
    if problems:
        raise ValidationFailed(problems)
    return prev, derive_at_cut(domains, params, prev.cut_date)[0]


# --------------------------------------------------------------------------------------------
# key estimates


def _need(datasets: Mapping[str, pd.DataFrame], name: str, cols: Sequence[str]) -> pd.DataFrame:
    if name not in datasets:
        raise ValueError(f"key_estimates: dataset '{name}' is missing (have {sorted(datasets)})")
    df = datasets[name]
    frames.require_columns(df, cols, name.upper())
    return df


def _relabel(
    ard: pd.DataFrame, variable: str, stats: Mapping[str, str] | None = None, row: Mapping[str, Any] | None = None
) -> list[tuple]:
    """Rows of ``ard`` (optionally only those matching ``row``) as key-estimate rows of
    ``variable``; ``stats`` maps the source stat_name to the output one (default: keep all)."""
    out = []
    for rec in ard.to_dict("records"):
        if row and any(frames.key(rec[k]) != v for k, v in row.items()):
            continue
        name = rec["stat_name"] if stats is None else stats.get(rec["stat_name"])
        if name is None:
            continue
        level = frames.key(rec["variable_level"]) if rec["variable"] in ("AVALM", "AVAL") else None
        out.append((None, None, None, None, variable, level, name, rec["stat_value"]))
    return out


def _ae_rows(
    adsl: pd.DataFrame, adae: pd.DataFrame, where, codes: Mapping[str, str | None], high_grade: int = 3
) -> list[tuple]:
    """Subjects with >= 1 TEAE matching ``where`` among ADSL SAFFL subjects: ``codes`` maps
    "any" and "high" to the key-estimate codes for any grade and grade >= ``high_grade``."""
    ae = adae[adae["USUBJID"].isin(adsl["USUBJID"])]
    a = ardlib.ae_ard(adsl, ae, by=None, where=where, grade="AETOXGR", high_grade=high_grade)
    rows = []
    if codes.get("any"):
        rows += _relabel(a, str(codes["any"]), {"n": "n", "N": "N", "p": "p"}, {"variable": "ANY"})
    if codes.get("high"):
        rows += _relabel(
            a,
            str(codes["high"]),
            {f"n_grade_ge{high_grade}": "n", "N": "N", f"p_grade_ge{high_grade}": "p"},
            {"variable": "ANY"},
        )
    return rows


def _rate_rows(df: pd.DataFrame, flag: str, code: str, ci: bool) -> list[tuple]:
    """n, N, p (and exact CI) of ``flag == "Y"`` among the rows of a subject-level frame."""
    a = ardlib.response_ard(df.assign(_R=frames.yes(df[flag]).map({True: "Y", False: "N"})), "_R")
    keep = {"n": "n", "N": "N", "p": "p"} | ({"ci_low": "ci_low", "ci_high": "ci_high"} if ci else {})
    return _relabel(a, code, keep)


def key_estimates(datasets: Mapping[str, pd.DataFrame], study: Mapping[str, Any]) -> pd.DataFrame:
    """ARD of the key estimates of one data cut (codes in :data:`ESTIMATES`).

    ``datasets``: the cut's ADaM (adsl, adae, adrs, adtte; docs/adam.md). Rates among the safety
    population unless the label says otherwise; acute GVHD among transplanted safety subjects
    (HSCTFL); response at the first day of ``study["response"]["visits"]`` among efficacy
    subjects whose window has closed (AVALC "NOT DUE" left out); OS/EFS by Kaplan-Meier in months
    (AVALM) with ``study["time_to_event"]["conf_type"]`` CIs and the rate at
    :data:`LANDMARK_MONTHS` (``variable_level``). Columns: ARD_COLUMNS, groups empty.
    """
    adsl = _need(
        datasets, "adsl", ["USUBJID", "ENRLFL", "SAFFL", "EFFFL", "DLTEVLFL", "DLTFL", "HSCTFL", "DTHFL", "DTHTRTFL"]
    )
    adae = _need(datasets, "adae", ["USUBJID", "AESICAT", "AETOXGR", "AESER", "TRTEMFL"])
    adrs = _need(datasets, "adrs", ["USUBJID", "PARAMCD", "AVALC", "EFFFL"])
    adtte = _need(datasets, "adtte", ["USUBJID", "PARAMCD", "AVALM", "CNSR"])
    responders = list(study["response"]["responder"])
    day = int(study["response"]["visits"][0])
    conf_type = study["time_to_event"].get("conf_type", "log-log")

    saf = adsl[frames.yes(adsl["SAFFL"])]
    rows: list[tuple] = [
        (None, None, None, None, "ENRL", None, "n", int(frames.yes(adsl["ENRLFL"]).sum())),
        (None, None, None, None, "SAF", None, "n", len(saf)),
    ]
    rows += _rate_rows(adsl[frames.yes(adsl["DLTEVLFL"])], "DLTFL", "DLT", ci=True)
    for cat, code in (("CRS", "CRS"), ("ICANS", "ICANS")):
        rows += _ae_rows(adsl, adae, {"AESICAT": cat}, {"any": code, "high": f"{code}3"})
    hsct = adsl[frames.yes(adsl["HSCTFL"])]
    rows += _ae_rows(hsct, adae, {"AESICAT": "ACUTE GVHD"}, {"high": "AGVHD2"}, high_grade=2)
    rows += _ae_rows(adsl, adae, None, {"high": "AE3"})
    rows += _ae_rows(adsl, adae, {"AESER": "Y"}, {"any": "SAE"})
    rows += _rate_rows(saf, "DTHFL", "DEATH", ci=False)
    rows += _rate_rows(saf, "DTHTRTFL", "DEATHNRM", ci=False)

    eff = adrs[frames.yes(adrs["EFFFL"]) & adrs["AVALC"].ne("NOT DUE")]
    orr = eff[eff["PARAMCD"] == f"RSPD{day}"]
    a = ardlib.response_ard(orr.assign(_R=orr["AVALC"].isin(responders).map({True: "Y", False: "N"})), "_R")
    rows += [r[:5] + (day,) + r[6:] for r in _relabel(a, "ORR")]
    mrd = eff[eff["PARAMCD"] == f"MRDND{day}"]
    rows += [r[:5] + (day,) + r[6:] for r in _rate_rows(mrd, "AVALC", "MRDN", ci=True)]

    # the landmark is a study day the schedule reaches (12 months = Day 365), read on the months scale
    dpm = float(study["time_to_event"]["days_per_month"])
    lm_m = stats.round_half_away(LANDMARK_MONTHS * dpm) / dpm
    for p in ("OS", "EFS"):
        sub = adtte[adtte["PARAMCD"] == p]
        k = ardlib.km_ard(sub, None, time_var="AVALM", landmarks=[lm_m], conf_type=conf_type)
        k["variable_level"] = k["variable_level"].map(lambda v: LANDMARK_MONTHS if v == lm_m else v)
        rows += _relabel(k, p)
    return ardlib.frame(rows)


# --------------------------------------------------------------------------------------------
# comparison of two cuts


def _key(rec: Mapping) -> tuple:
    lvl = frames.key(rec["variable_level"])
    if isinstance(lvl, float) and lvl.is_integer():
        lvl = int(lvl)
    return (rec["variable"], lvl, rec["stat_name"])


def _num(v: Any) -> float:
    v = frames.key(v)
    return float(v) if isinstance(v, (int, float)) else math.nan


def compare(prev_ard: pd.DataFrame | None, curr_ard: pd.DataFrame) -> pd.DataFrame:
    """ARD of both cuts side by side: ``group1 = "CUT"``, ``group1_level`` "previous", "current"
    and "change" (current - previous; nan when either is missing or not estimable).

    Statistics are matched on (variable, variable_level, stat_name); the row order is the current
    ARD's, then statistics only in the previous one. ``prev_ard=None`` (first cut): "current" only.
    """
    for a in (prev_ard, curr_ard):
        if a is not None:
            ardlib.check(a)
    curr = {_key(r): r["stat_value"] for r in curr_ard.to_dict("records")}
    prev = {} if prev_ard is None else {_key(r): r["stat_value"] for r in prev_ard.to_dict("records")}
    keys = list(curr) + [k for k in prev if k not in curr]
    rows = []
    for var, lvl, stat in keys:
        levels = [("current", curr.get(k := (var, lvl, stat)))]
        if prev_ard is not None:
            a, b = frames.key(curr.get(k)), frames.key(prev.get(k))
            ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (a, b))
            change = a - b if ints else _num(a) - _num(b)
            levels = [("previous", prev.get(k)), *levels, ("change", change)]
        for cut_level, value in levels:
            value = frames.key(value)
            rows.append(("CUT", cut_level, None, None, var, lvl, stat, math.nan if value is None else frames.py(value)))
    return ardlib.frame(rows)


# --------------------------------------------------------------------------------------------
# new records and changed statuses


@dataclass
class NewItems:
    """What is new in the current cut (frames keyed by USUBJID, AE frames also by AESEQ)."""

    enrolled: pd.DataFrame
    infused: pd.DataFrame
    transplanted: pd.DataFrame
    cd22: pd.DataFrame
    dlts: pd.DataFrame
    deaths: pd.DataFrame
    saes: pd.DataFrame
    changed: pd.DataFrame  # USUBJID, TRT01A, ITEM, PREVIOUS, CURRENT


def _new_flag(prev: pd.DataFrame, curr: pd.DataFrame, flag: str, cols: Sequence[str]) -> pd.DataFrame:
    """Current ADSL subjects with ``flag == "Y"`` who did not have it (or were absent) before."""
    had = set(prev.loc[frames.yes(prev[flag]), "USUBJID"])
    new = curr[frames.yes(curr[flag]) & ~curr["USUBJID"].isin(had)]
    return new[["USUBJID", *cols]].sort_values("USUBJID", kind="stable").reset_index(drop=True)


def _new_ae(prev: pd.DataFrame, curr: pd.DataFrame, mask) -> pd.DataFrame:
    """Current ADAE records matching ``mask`` whose USUBJID + AESEQ did not match it before."""
    old = set(map(tuple, prev.loc[mask(prev), ["USUBJID", "AESEQ"]].astype(str).to_numpy()))
    rec = curr[mask(curr)]
    keys = pd.Series(list(map(tuple, rec[["USUBJID", "AESEQ"]].astype(str).to_numpy())), index=rec.index, dtype=object)
    new = rec[~keys.isin(old)] if len(rec) else rec
    cols = ["USUBJID", "TRT01A", "AESEQ", "AEDECOD", "AETOXGR", "ASTDY0", "AESER", "AEDLT"]
    return new[cols].sort_values(["USUBJID", "AESEQ"], kind="stable").reset_index(drop=True)


def _day_value(flag: pd.Series, day: pd.Series) -> pd.Series:
    return pd.Series(
        [
            f"Yes (Day {int(d)})" if f == "Y" and not pd.isna(d) else ("Yes" if f == "Y" else "No")
            for f, d in zip(flag.astype(str), day)
        ],
        index=flag.index,
        dtype=object,
    )


def _status_items(ds: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per subject and item: the displayed value and the value compared."""
    adsl, adrs = ds["adsl"], ds["adrs"]
    items = []

    def add(ids, name, shown, compared=None):
        items.append(
            pd.DataFrame(
                {
                    "USUBJID": list(ids),
                    "ITEM": name,
                    "SHOWN": list(shown),
                    "VALUE": list(shown if compared is None else compared),
                }
            )
        )

    reason = adsl["DCSREAS"].fillna("").astype(str)
    add(
        adsl["USUBJID"],
        "Study status",
        [s if not r else f"{s}: {r}" for s, r in zip(adsl["EOSSTT"].astype(str), reason)],
    )
    add(adsl["USUBJID"], "Allo-HSCT", _day_value(adsl["HSCTFL"], adsl["HSCTDY0"]))
    add(adsl["USUBJID"], "CD22 CAR-T", _day_value(adsl["CD22FL"], adsl["CD22DY0"]))
    best = adrs[adrs["PARAMCD"] == "BESTRSP"]
    add(best["USUBJID"], "Best overall response", best["AVALC"].astype(str))
    visits = sorted(
        {int(p[4:]) for p in adrs["PARAMCD"].astype(str).unique() if p.startswith("RSPD") and p[4:].isdigit()}
    )
    for d in visits:
        r = adrs[adrs["PARAMCD"] == f"RSPD{d}"]
        add(r["USUBJID"], f"Response at Day {d}", r["AVALC"].astype(str))
    ovr = adrs[(adrs["PARAMCD"] == "OVRLRESP") & adrs["ADT"].notna()]
    last = ovr.sort_values(["USUBJID", "ADT"], kind="stable").groupby("USUBJID", sort=False).tail(1)
    add(
        last["USUBJID"],
        "Latest response assessment",
        [f"{v} (Day {int(d)})" if not pd.isna(d) else str(v) for v, d in zip(last["AVALC"], last["ADY0"])],
        last["AVALC"].astype(str),
    )
    return pd.concat(items, ignore_index=True)


def new_items(prev_datasets: Mapping[str, pd.DataFrame], curr_datasets: Mapping[str, pd.DataFrame]) -> NewItems:
    """Records new in the current cut and per-subject changes of response and status.

    New: subjects enrolled, infused with CD19 CAR-T (SAFFL), transplanted (HSCTFL), given CD22
    CAR-T (CD22FL), dead (DTHFL); DLTs (AEDLT = Y starting in the DLT window, DLTWINFL) and SAEs
    (AESER = Y) by USUBJID + AESEQ, including an AE that became serious or a DLT. ``changed``: for
    subjects of the previous cut (a subject missing now shows "No record"), each item of study status, HSCT,
    CD22 CAR-T, best overall response,
    response at each Day-nn window and latest response whose value differs, in subject order.
    """
    for label, ds in (("previous", prev_datasets), ("current", curr_datasets)):
        for name, cols in (
            (
                "adsl",
                [
                    "USUBJID",
                    "TRT01A",
                    "ENRLFL",
                    "SAFFL",
                    "HSCTFL",
                    "CD22FL",
                    "DTHFL",
                    "EOSSTT",
                    "DCSREAS",
                    "HSCTDY0",
                    "CD22DY0",
                ],
            ),
            ("adae", ["USUBJID", "AESEQ", "AESER", "AEDLT", "DLTWINFL"]),
            ("adrs", ["USUBJID", "PARAMCD", "AVALC", "ADT", "ADY0"]),
        ):
            try:
                _need(ds, name, cols)
            except ValueError as exc:
                raise ValueError(f"new_items ({label} cut): {exc}") from None
    p, c = prev_datasets, curr_datasets
    padsl, cadsl = p["adsl"], c["adsl"]
    enrolled = cadsl[frames.yes(cadsl["ENRLFL"]) & ~cadsl["USUBJID"].isin(padsl["USUBJID"])]
    enrolled = enrolled[["USUBJID", "TRT01A"]].sort_values("USUBJID", kind="stable").reset_index(drop=True)

    prev_items, curr_items = _status_items(p), _status_items(c)
    m = curr_items.merge(prev_items, on=["USUBJID", "ITEM"], how="outer", suffixes=("", "_P"), sort=False)
    m = m[m["USUBJID"].isin(padsl["USUBJID"])]  # new subjects are counted as new, not listed
    differs = m["VALUE"].fillna("\0") != m["VALUE_P"].fillna("\0")
    m = m[differs].copy()
    order = {name: i for i, name in enumerate(dict.fromkeys(curr_items["ITEM"].tolist() + prev_items["ITEM"].tolist()))}
    m["_o"] = m["ITEM"].map(order)
    m = m.sort_values(["USUBJID", "_o"], kind="stable")
    trt = pd.concat([cadsl, padsl[~padsl["USUBJID"].isin(cadsl["USUBJID"])]]).set_index("USUBJID")["TRT01A"]
    changed = pd.DataFrame(
        {
            "USUBJID": m["USUBJID"].to_numpy(),
            "TRT01A": m["USUBJID"].map(trt).to_numpy(),
            "ITEM": m["ITEM"].to_numpy(),
            "PREVIOUS": m["SHOWN_P"].fillna("No record").to_numpy(),
            "CURRENT": m["SHOWN"].fillna("No record").to_numpy(),
        }
    ).astype(object)

    def dlt(df):
        return frames.yes(df["AEDLT"]) & frames.yes(df["DLTWINFL"])

    return NewItems(
        enrolled=enrolled,
        infused=_new_flag(padsl, cadsl, "SAFFL", ["TRT01A"]),
        transplanted=_new_flag(padsl, cadsl, "HSCTFL", ["TRT01A", "HSCTDY0"]),
        cd22=_new_flag(padsl, cadsl, "CD22FL", ["TRT01A", "CD22DY0"]),
        dlts=_new_ae(p["adae"], c["adae"], dlt),
        deaths=_new_flag(padsl, cadsl, "DTHFL", ["TRT01A", "DTHDY0", "DTHCAUS"]),
        saes=_new_ae(p["adae"], c["adae"], lambda df: frames.yes(df["AESER"])),
        changed=changed.reset_index(drop=True),
    )


#: t-changes rows: ARD variable -> (label, NewItems attribute, counts events too).
CHANGE_ROWS: dict[str, tuple[str, str, bool]] = {
    "NEWENRL": ("Subjects newly enrolled", "enrolled", False),
    "NEWSAF": ("Subjects newly infused with CD19 CAR-T", "infused", False),
    "NEWHSCT": ("Subjects newly transplanted (allo-HSCT)", "transplanted", False),
    "NEWCD22": ("Subjects newly infused with CD22 CAR-T", "cd22", False),
    "NEWDLT": ("New dose-limiting toxicities", "dlts", True),
    "NEWSAE": ("New serious adverse events", "saes", True),
    "NEWDEATH": ("New deaths", "deaths", False),
    "CHGSUBJ": ("Subjects with a changed response or status", "changed", False),
}


def changes_ard(
    items: NewItems | None,
    adsl: pd.DataFrame,
    *,
    by: str = "TRT01A",
    by_levels: Sequence | None = None,
    total: bool = True,
) -> pd.DataFrame:
    """ARD of :class:`NewItems` counts per ``by`` level of the current ADSL (+ Total):
    ``n`` subjects and, for DLTs and SAEs, ``events`` (records), per :data:`CHANGE_ROWS` variable.
    ``items=None`` (first cut): an empty ARD."""
    if items is None:
        return ardlib.frame([])
    groups = ardlib.group_masks(adsl, by, by_levels, total, "ADSL (current cut)")
    level_of = adsl.set_index("USUBJID")[by]
    rows = []
    for var, (_, attr, events) in CHANGE_ROWS.items():
        df = getattr(items, attr)
        grp = df["USUBJID"].map(level_of)
        for lvl, _ in groups:
            sub = df if lvl == TOTAL else df[grp == lvl]
            st = [("n", int(sub["USUBJID"].nunique()))] + ([("events", len(sub))] if events else [])
            rows += [(by, frames.py(lvl), None, None, var, None, s, v) for s, v in st]
    return ardlib.frame(rows)


# --------------------------------------------------------------------------------------------
# display frames

NO_PREVIOUS = "No previous data cut: this is the first data cut of the study"


def _signed(x: float, digits: int) -> str:
    """Change with an explicit sign ("+3", "-1.4", "0"); NE when not computable."""
    s = formats.fmt_num(x, digits)
    return s if s == formats.NE or s.startswith("-") or float(s) == 0 else "+" + s


def _int(v: Any) -> int:
    v = _num(v)
    return 0 if math.isnan(v) else int(v)


def _rate(st: Mapping) -> str:
    """ "n/N (x.x)" in a table cell: :func:`formats.n_of_N` without the % sign (the header says %)."""
    return formats.n_of_N(_int(st.get("n")), _int(st.get("N"))).replace("%", "")


def _landmark(st: Mapping) -> str:
    """Landmark rate % (CI); NE when nobody is at risk and the curve has not reached 0."""
    surv, risk = _num(st.get("surv")), _num(st.get("n_risk"))
    if math.isnan(surv) or (risk == 0 and surv > 0):
        return formats.NE
    return formats.fmt_est_ci(st.get("surv"), st.get("surv_ci_low"), st.get("surv_ci_high"), 1, scale=100.0)


def _median(st: Mapping) -> str:
    if _int(st.get("n")) == 0:
        return formats.NE
    return formats.fmt_est_ci(
        st.get("median"), st.get("median_ci_low"), st.get("median_ci_high"), 1, est_na=formats.NOT_REACHED
    )


def estimates_table(
    comparison: pd.DataFrame,
    prev_header: str = "Previous data cut",
    curr_header: str = "This data cut",
    *,
    label_col: str = "Key estimate",
) -> pd.DataFrame:
    """Display frame of :func:`compare`: label, previous, current, change.

    Rates read ``n/N (%)`` with the change in percentage points; exact CIs and KM CIs in % or
    months; medians "Not reached" when not reached; NE when not estimable. Without a previous cut
    one labelled row says so.
    """
    ardlib.check(comparison)
    if "previous" not in set(comparison["group1_level"]):
        return formats.display_frame([(NO_PREVIOUS, 0, ["", "", ""])], label_col, [prev_header, curr_header, "Change"])
    table: dict = {}
    for rec in comparison.to_dict("records"):
        table.setdefault((rec["variable"], frames.key(rec["variable_level"])), {}).setdefault(rec["group1_level"], {})[
            rec["stat_name"]
        ] = frames.key(rec["stat_value"])
    recs = []

    def add(label, indent, f, change):
        recs.append((label, indent, [f(table[key].get("previous", {})), f(table[key].get("current", {})), change]))

    for code, (label, kind) in ESTIMATES.items():
        keys = [k for k in table if k[0] == code]
        if not keys:
            continue
        key = keys[0]
        ch = table[key].get("change", {})
        day = key[1]
        label = label.format(day=day)
        if kind == "count":
            add(f"{label}, n", 0, lambda s: str(_int(s.get("n"))), _signed(_num(ch.get("n")), 0))
        elif kind in ("rate", "rate_ci"):
            add(
                f"{label}, n/N (%)",
                0,
                _rate,
                f"{_signed(100 * _num(ch.get('p')), 1)} points" if not math.isnan(_num(ch.get("p"))) else formats.NE,
            )
            if kind == "rate_ci":
                add(
                    "95% CI (exact), %",
                    1,
                    lambda s: formats.fmt_ci(s.get("ci_low"), s.get("ci_high"), 1, scale=100.0),
                    "",
                )
        else:
            key = (code, None)
            ch = table[key].get("change", {})
            add(
                f"{label}: events/subjects",
                0,
                lambda s: f"{_int(s.get('events'))}/{_int(s.get('n'))}",
                _signed(_num(ch.get("events")), 0),
            )
            med_change = _num(ch.get("median"))
            add("Median (95% CI), months", 1, _median, formats.NE if math.isnan(med_change) else _signed(med_change, 1))
            lm = table.get((code, LANDMARK_MONTHS), {})
            prev_lm, curr_lm = lm.get("previous", {}), lm.get("current", {})
            both = _landmark(prev_lm) != formats.NE and _landmark(curr_lm) != formats.NE
            recs.append(
                (
                    f"{LANDMARK_MONTHS}-month rate, % (95% CI)",
                    1,
                    [
                        _landmark(prev_lm),
                        _landmark(curr_lm),
                        f"{_signed(100 * _num(lm.get('change', {}).get('surv')), 1)} points" if both else formats.NE,
                    ],
                )
            )
    return formats.display_frame(recs, label_col, [prev_header, curr_header, "Change"])


def changes_table(ard: pd.DataFrame | None, *, label_col: str = "New since the previous data cut") -> pd.DataFrame:
    """Display frame of :func:`changes_ard`: subjects per group (``n [E]`` for DLTs and SAEs,
    E = events). ``ard=None`` (first cut): one labelled row saying there is no previous cut."""
    if ard is None or ard.empty:
        return formats.display_frame([(NO_PREVIOUS, 0, [""])], label_col, [TOTAL])
    groups, keys, table = ardlib.index(ard)
    headers = [formats.header(g[0]) for g in groups]
    recs = []
    for key in keys:
        var = key[1]
        label, _, events = CHANGE_ROWS[var]
        cells = []
        for g in groups:
            st = table[key].get(g, {})
            n = int(st.get("n") or 0)
            cells.append(f"{n} [{int(st.get('events') or 0)}]" if events else str(n))
        recs.append((label + (", n [E]" if events else ", n"), 0, cells))
    return formats.display_frame(recs, label_col, headers)


def changed_listing(changed: pd.DataFrame | None) -> pd.DataFrame:
    """Listing frame of ``NewItems.changed``: subject, dose level, item, previous, this cut.
    ``None`` (first cut) -> one row saying there is no previous cut; no change -> "No subjects"."""
    cols = ["Subject", "Dose level", "Item", "Previous data cut", "This data cut"]
    if changed is None or changed.empty:
        label = NO_PREVIOUS if changed is None else "No subjects"
        return pd.DataFrame([[label, "", "", "", ""]], columns=cols).astype(object)
    out = changed[["USUBJID", "TRT01A", "ITEM", "PREVIOUS", "CURRENT"]].astype(str).copy()
    out.columns = cols
    return out.reset_index(drop=True)


def listing_ard(changed: pd.DataFrame | None) -> pd.DataFrame:
    """ARD of the changed items: group1 USUBJID, variable = item, stat_name previous/current."""
    rows = []
    for r in [] if changed is None else changed.itertuples(index=False):
        rows += [
            ("USUBJID", r.USUBJID, "TRT01A", r.TRT01A, r.ITEM, None, "previous", r.PREVIOUS),
            ("USUBJID", r.USUBJID, "TRT01A", r.TRT01A, r.ITEM, None, "current", r.CURRENT),
        ]
    return ardlib.frame(rows)


# --------------------------------------------------------------------------------------------
# interpretive text (numbers from the ARDs)


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def changes_summary(ard: pd.DataFrame) -> str:
    """One or two sentences on the Total column of :func:`changes_ard` (empty: no previous cut)."""
    if ard.empty:
        return "There is no previous data cut to compare with."
    tot = {
        (r["variable"], r["stat_name"]): int(r["stat_value"])
        for r in ard.to_dict("records")
        if r["group1_level"] == TOTAL
    }
    return (
        f"Since the previous data cut {_plural(tot['NEWENRL', 'n'], 'subject was', 'subjects were')} "
        f"enrolled and {tot['NEWSAF', 'n']} infused with CD19 CAR-T. "
        f"{_plural(tot['NEWDLT', 'events'], 'new DLT')}, {_plural(tot['NEWDEATH', 'n'], 'new death')} and "
        f"{_plural(tot['NEWSAE', 'events'], 'new serious adverse event')} "
        f"(in {_plural(tot['NEWSAE', 'n'], 'subject')}) were reported; "
        f"{_plural(tot['CHGSUBJ', 'n'], 'subject')} had a changed response or status."
    )


def listing_summary(changed: pd.DataFrame | None) -> str:
    """One sentence on :attr:`NewItems.changed` (None: no previous cut)."""
    if changed is None:
        return "There is no previous data cut to compare with."
    if changed.empty:
        return "No subject of the previous data cut had a changed response or status."
    return (
        f"{_plural(changed['USUBJID'].nunique(), 'subject')} of the previous data cut had "
        f"{_plural(len(changed), 'changed item')}."
    )


def estimates_summary(comparison: pd.DataFrame, study: Mapping[str, Any]) -> str:
    """Sentences on the DLT rate, grade >=3 CRS and ORR at the first response day, both cuts."""

    def val(var, stat, cut):
        sel = (comparison["variable"] == var) & (comparison["stat_name"] == stat) & (comparison["group1_level"] == cut)
        return frames.key(comparison.loc[sel, "stat_value"].iloc[0]) if sel.any() else None

    def rate(var, cut):
        n, N = val(var, "n", cut), val(var, "N", cut)
        return formats.n_of_N(n, N) if _int(N) else "not evaluable"

    day = int(study["response"]["visits"][0])
    if "previous" not in set(comparison["group1_level"]):
        return (
            f"First data cut: DLTs {rate('DLT', 'current')}, grade ≥3 CRS {rate('CRS3', 'current')}, "
            f"response at Day {day} {rate('ORR', 'current')}."
        )
    return (
        f"Subjects with a DLT: {rate('DLT', 'current')}, previously {rate('DLT', 'previous')}; "
        f"grade ≥3 CRS: {rate('CRS3', 'current')}, previously {rate('CRS3', 'previous')}; "
        f"CR/CRi at Day {day}: {rate('ORR', 'current')}, previously {rate('ORR', 'previous')}."
    )


def estimates_footnotes(study: Mapping[str, Any]) -> list[str]:
    """Footnotes of Table 14.4.2 with the parameters actually used."""
    r, t = study["response"], study["time_to_event"]
    return [
        "Rates among the safety population unless stated otherwise: DLTs among DLT-evaluable subjects, "
        "acute GVHD (MAGIC grade II-IV) among transplanted subjects.",
        f"Response at Day {r['visits'][0]}: assessment nearest the day within +/- {r['window']} days; "
        "subjects whose window had not closed at the data cut are not in the denominator. 95% CI exact "
        "(Clopper-Pearson).",
        f"Kaplan-Meier estimates in months ({t['days_per_month']} days per month), {t['conf_type']} 95% CI; "
        f"a {LANDMARK_MONTHS}-month rate is NE when no subject remained at risk and the curve had not reached 0.",
        "Change: this cut minus the previous cut (rates in percentage points). NE: not estimable.",
    ]
