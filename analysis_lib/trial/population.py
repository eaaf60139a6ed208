"""Study population, baseline, exposure and DLT summaries (CSR sections 14.1 and 14.3.1).

Helpers behind the disposition, demographics, exposure and DLT chapters. Summaries are built in
two steps, as everywhere in the report: an ARD (long, one statistic per row, built with
:mod:`analysis_lib.toolkit.ard`) and a display frame of strings (built with :mod:`analysis_lib.toolkit.formats`
conventions). A table's layout is a *spec*, a list of :class:`Count`, :class:`Levels` and
:class:`Continuous` items: :func:`summary_ard` computes the numbers of a spec and
:func:`summary_table` lays the same spec out, so rows and numbers cannot drift apart.

Generic on ADaM: column names are arguments with ADSL/ADAE defaults. Bad input raises
``ValueError`` naming the dataset, the column and the rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis_lib.toolkit import ard, formats, frames, stats

CD22 = "CD22 CAR-T"
PHASE_LABELS = {"DOSE ESCALATION": "Escalation", "DOSE EXPANSION": "Expansion"}
NOT_ASSIGNED = "Not assigned"


# --------------------------------------------------------------------------------------------
# table specs


@dataclass(frozen=True)
class Count:
    """One row: subjects with ``var == level``, n (%) of the column's subjects."""

    var: str
    level: Any
    label: str
    indent: int = 0


@dataclass(frozen=True)
class Levels:
    """n (%) for each level of ``var`` (declared ``levels`` first, then observed), optionally only
    among rows with ``among = (column, value)``; percentages of all the column's subjects.
    ``label`` adds a header row; ``value_labels`` maps levels to display text."""

    var: str
    label: str | None = None
    levels: Sequence | None = None
    among: tuple[str, Any] | None = None
    value_labels: Mapping[Any, str] | None = None
    indent: int = 0


@dataclass(frozen=True)
class Continuous:
    """n, mean (SD), median, Q1/Q3, min/max of ``var``; ``digits`` is the precision of the data."""

    var: str
    label: str
    digits: int = 0
    indent: int = 0


Item = Count | Levels | Continuous


def _check_spec(spec: Sequence[Item]) -> None:
    seen: set = set()
    for it in spec:
        key = (it.var, it.level) if isinstance(it, Count) else (it.var,)
        clash = [k for k in seen if k[0] == it.var and (len(k) == 1 or len(key) == 1 or k == key)]
        if clash:
            raise ValueError(f"summary spec: variable {it.var} is used by more than one item")
        seen.add(key)


def summary_ard(
    df: pd.DataFrame,
    spec: Sequence[Item],
    *,
    by: str,
    by_levels: Sequence | None = None,
    total: bool = True,
    id_var: str = "USUBJID",
) -> pd.DataFrame:
    """ARD of a spec over subject-level ``df`` (one row per subject), columns by ``by``.

    Denominators N are the subjects of each ``by`` level in ``df`` (and all of them for Total).
    Count/Levels rows hold n, N, p (``ard.categorical_ard``); Continuous rows the
    ``ard.continuous_ard`` statistics (missing values counted in ``nmiss``, never dropped silently).
    """
    _check_spec(spec)
    frames.require_columns(
        df,
        [id_var, by, *[it.var for it in spec], *[it.among[0] for it in spec if isinstance(it, Levels) and it.among]],
        "summary data",
    )
    frames.unique_ids(df, id_var, "summary data")
    if by_levels is None:
        by_levels = sorted(df[by].dropna().unique(), key=str)
    common: dict[str, Any] = dict(by=by, by_levels=list(by_levels), total=total)
    parts = []
    for it in spec:
        if isinstance(it, Count):
            sub = df[df[it.var] == it.level]
            parts.append(
                ard.categorical_ard(sub, it.var, denominator=df, id_var=id_var, levels={it.var: [it.level]}, **common)
            )
        elif isinstance(it, Levels):
            sub = df if it.among is None else df[df[it.among[0]] == it.among[1]]
            declared = None
            if it.levels is not None:
                observed = [
                    v
                    for v in sorted(sub[it.var].dropna().unique(), key=str)
                    if v not in list(it.levels) and str(v).strip()
                ]
                declared = list(it.levels) + observed
            parts.append(
                ard.categorical_ard(
                    sub,
                    it.var,
                    denominator=df,
                    id_var=id_var,
                    levels=None if declared is None else {it.var: declared},
                    **common,
                )
            )
        elif isinstance(it, Continuous):
            parts.append(ard.continuous_ard(df, it.var, **common))
        else:
            raise ValueError(f"summary spec: unknown item {it!r}")
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=ard.ARD_COLUMNS)


def _ard_index(
    ard_df: pd.DataFrame,
) -> tuple[list[Any], dict[tuple[Any, Any], dict[Any, dict[str, Any]]], dict[str, list[Any]]]:
    """(group levels in order, {(variable, level): {group: {stat: value}}}, levels per variable),
    through :func:`ard.index`."""
    group_keys, row_keys, table = ard.index(ard_df, row_cols=("variable", "variable_level"))
    cells = {key: {g[0]: st for g, st in per_group.items()} for key, per_group in table.items()}
    var_levels: dict[str, list[Any]] = {}
    for var, lvl in row_keys:
        var_levels.setdefault(var, []).append(lvl)
    return [g[0] for g in group_keys], cells, var_levels


def summary_table(
    ard_df: pd.DataFrame,
    spec: Sequence[Item],
    *,
    label_col: str = "Characteristic",
    big_n: Mapping[Any, int] | None = None,
    digits: int = 1,
) -> pd.DataFrame:
    """Display frame of a spec from its :func:`summary_ard`: one column per group with its N.

    Count -> one "n (%)" row; Levels -> optional header row, then one row per level; Continuous
    -> a header row and n, Mean (SD), Median, Q1, Q3, Min, Max (mean/median/quartiles one more
    decimal than the data, SD two more). ``digits`` is the percentage precision.
    """
    groups, cells, var_levels = _ard_index(ard_df)
    if big_n is None:
        big_n = {}
        for (_, _), per_g in cells.items():
            for g, st in per_g.items():
                if st.get("N") is not None:
                    big_n.setdefault(g, int(st["N"]))
    headers = [formats.header(g, big_n.get(g)) for g in groups]
    empty = [""] * len(groups)

    def pct(key) -> list[str]:
        return [
            formats.fmt_n_pct(cells[key].get(g, {}).get("n"), cells[key].get(g, {}).get("N"), digits) for g in groups
        ]

    recs: list[tuple[str, int, list[str]]] = []
    for it in spec:
        if isinstance(it, Count):
            recs.append((it.label, it.indent, pct((it.var, it.level))))
        elif isinstance(it, Levels):
            inner = it.indent
            if it.label:
                recs.append((it.label, it.indent, empty))
                inner += 1
            names = dict(it.value_labels or {})
            for lvl in var_levels.get(it.var, []):
                recs.append((names.get(lvl, str(lvl)), inner, pct((it.var, lvl))))
        else:
            per_group = [
                dict(formats.describe_cells(cells.get((it.var, None), {}).get(g, {}), it.digits)) for g in groups
            ]
            recs.append((it.label, it.indent, empty))
            stat_rows = [name for name, _ in formats.describe_cells({}, it.digits)]
            recs.extend((name, it.indent + 1, [c[name] for c in per_group]) for name in stat_rows)
    indent = [min(int(i), 2) for _, i, _ in recs]
    return formats.display_frame([(lbl, ind, c) for (lbl, _, c), ind in zip(recs, indent)], label_col, headers)


# --------------------------------------------------------------------------------------------
# columns, decodes


def dose_label_map(study: Mapping) -> dict[int, str]:
    """Dose level number -> label (e.g. 1 -> "DL1 1×10⁵/kg") from ``params/study.yml``."""
    return {int(d["level"]): str(d["label"]) for d in study["dose_levels"]}


def phase_dose_column(
    adsl: pd.DataFrame, dose_labels: Mapping[int, str], *, phase: str = "PHASE", dose: str = "DOSELVL"
) -> tuple[pd.Series, list[str]]:
    """Column label per subject, "<Phase>\\n<dose label>", and the labels in display order.

    Uses the *planned* dose level (DM's DOSELVL), so enrolled subjects never infused stay in their
    cohort's column. Order: escalation then expansion (other phases after, sorted), dose levels
    in protocol order within a phase; only combinations present in ``adsl``.
    """
    frames.require_columns(adsl, [phase, dose], "ADSL")
    frames.no_missing(adsl, phase, "ADSL")
    lvl = pd.to_numeric(adsl[dose], errors="coerce")
    unknown = lvl.notna() & ~lvl.isin(list(dose_labels))
    if unknown.any():
        raise ValueError(
            f"ADSL: column {dose} has level(s) {sorted(int(v) for v in lvl[unknown].unique())} "
            f"not in params/study.yml dose_levels {sorted(dose_labels)} ({frames.rows_where(unknown)})"
        )
    dl = lvl.map(lambda v: NOT_ASSIGNED if pd.isna(v) else dose_labels[int(v)])
    ph = adsl[phase].astype(str)
    col = ph.map(lambda p: PHASE_LABELS.get(p, p.title())) + "\n" + dl
    phase_rank = {p: i for i, p in enumerate(PHASE_LABELS)}
    dose_rank = {lab: i for i, lab in enumerate(dose_labels.values())}
    keys = pd.DataFrame({"col": col, "ph": ph, "dl": dl}).drop_duplicates("col")
    keys["k"] = [
        (phase_rank.get(p, len(phase_rank)), p, dose_rank.get(d, len(dose_rank)), d)
        for p, d in zip(keys["ph"], keys["dl"])
    ]
    order = [c for _, c in sorted(zip(keys["k"], keys["col"]))]
    return col.rename("PHDOSE"), order


_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def fmt_dose(x: float) -> str:
    """A cell dose as in the dose-level labels: 100000 -> "1×10⁵", 300000 -> "3×10⁵"."""
    if x is None or not np.isfinite(x) or x <= 0:
        raise ValueError(f"fmt_dose: dose must be a positive number, got {x!r}")
    exp = int(np.floor(np.log10(x) + 1e-12))
    mant = stats.round_half_away(x / 10**exp, 2)
    if mant >= 10:
        mant, exp = mant / 10, exp + 1
    return f"{mant:g}×10{str(exp).translate(_SUPERSCRIPT)}"


# --------------------------------------------------------------------------------------------
# disposition, populations, demographics, baseline


def disposition_spec(adsl: pd.DataFrame, follow_up_years: str) -> list[Item]:
    """Enrolled -> CD19 CAR-T -> allo-HSCT -> CD22 CAR-T -> completed/ongoing/discontinued
    (with the reasons observed) and deaths; ``follow_up_years`` is the protocol's follow-up
    (``catalogue.protocol_context(study)["follow_up_years"]``)."""
    return [
        Count("ENRLFL", "Y", "Enrolled"),
        Count("SAFFL", "Y", "Received CD19 CAR-T"),
        Count("HSCTFL", "Y", "Underwent allo-HSCT"),
        Count("CD22FL", "Y", "Received CD22 CAR-T"),
        Count("EOSSTT", "COMPLETED", f"Completed {follow_up_years}-year follow-up"),
        Count("EOSSTT", "ONGOING", "Ongoing at the data cut"),
        Count("EOSSTT", "DISCONTINUED", "Discontinued from the study"),
        Levels(
            "DCSREAS",
            among=("EOSSTT", "DISCONTINUED"),
            indent=1,
            value_labels={v: str(v).capitalize() for v in adsl["DCSREAS"].dropna().unique()},
        ),
        Count("DTHFL", "Y", "Died"),
    ]


POPULATION_SPEC: list[Item] = [
    Count("ENRLFL", "Y", "Enrolled"),
    Count("SAFFL", "Y", "Safety population"),
    Count("DLTEVLFL", "Y", "DLT-evaluable population"),
    Count("EFFFL", "Y", "Efficacy population"),
    Count("CKEVLFL", "Y", "Cellular-kinetic evaluable population"),
]

YES_NO = {"Y": "Yes", "N": "No"}

DEMOG_SPEC: list[Item] = [
    Continuous("AGE", "Age (years)", digits=0),
    Levels("AGEGR1", "Age group (years), n (%)", levels=["<18", "18-39", ">=40"]),
    Levels("SEX", "Sex, n (%)", levels=["M", "F"], value_labels={"M": "Male", "F": "Female"}),
    Levels("RACE", "Race, n (%)"),
    Continuous("WEIGHTBL", "Weight at baseline (kg)", digits=1),
]


def _title(values: pd.Series) -> dict:
    return {v: str(v).capitalize() for v in values.dropna().unique()}


def baseline_spec(adsl: pd.DataFrame) -> list[Item]:
    """Disease status, prior therapy, marrow disease, CNS/EMD, cytogenetics, Ph and donor type."""
    yn: dict[str, Any] = dict(levels=["Y", "N"], value_labels=YES_NO)
    return [
        Levels(
            "DISSTAT",
            "Disease status, n (%)",
            levels=["PRIMARY REFRACTORY", "FIRST RELAPSE", "SECOND OR LATER RELAPSE", "RELAPSE AFTER HSCT"],
            value_labels=_title(adsl["DISSTAT"]) | {"RELAPSE AFTER HSCT": "Relapse after allo-HSCT"},
        ),
        Continuous("PRLINES", "Prior lines of therapy", digits=0),
        Levels("PRHSCT", "Prior allo-HSCT, n (%)", **yn),
        Levels("PRBLIN", "Prior blinatumomab, n (%)", **yn),
        Levels("PRINO", "Prior inotuzumab ozogamicin, n (%)", **yn),
        Levels("PRTKI", "Prior tyrosine kinase inhibitor, n (%)", **yn),
        Continuous("BMBLAST", "Bone marrow blasts (%)", digits=1),
        Continuous("MRDBL", "MRD by flow cytometry (%)", digits=2),
        Levels("CNSSTAT", "CNS status, n (%)", levels=["CNS1", "CNS2", "CNS3"]),
        Levels("EMDFL", "Extramedullary disease, n (%)", **yn),
        Levels(
            "CYTORISK",
            "Cytogenetic risk, n (%)",
            levels=["STANDARD", "HIGH", "UNKNOWN"],
            value_labels=_title(adsl["CYTORISK"]),
        ),
        Levels(
            "PHSTAT",
            "Philadelphia chromosome, n (%)",
            levels=["POSITIVE", "NEGATIVE", "UNKNOWN"],
            value_labels=_title(adsl["PHSTAT"]),
        ),
        Levels(
            "DONORTYP",
            "Donor type, n (%)",
            levels=["MATCHED SIBLING", "MATCHED UNRELATED", "HAPLOIDENTICAL"],
            value_labels=_title(adsl["DONORTYP"]),
        ),
    ]


# --------------------------------------------------------------------------------------------
# exposure and procedures


def exposure_frame(adsl: pd.DataFrame) -> pd.DataFrame:
    """ADSL with displayed dose categories (CD19DOSEC, CD22DOSEC) and days from allo-HSCT to
    CD22 CAR-T (HSCT22DY)."""
    frames.require_columns(adsl, ["CD19DOSE", "CD22DOSE", "HSCTDY0", "CD22DY0"], "ADSL")
    out = adsl.copy()
    for v in ("CD19DOSE", "CD22DOSE"):
        text = out[v].map(lambda x: None if pd.isna(x) else fmt_dose(float(x)) + " cells/kg")
        order = out[[v]].assign(t=text).dropna().sort_values(v, kind="stable")["t"].unique()
        out[v + "C"] = pd.Categorical(text, categories=list(order))  # levels in dose order
    out["HSCT22DY"] = (pd.to_numeric(out["CD22DY0"]) - pd.to_numeric(out["HSCTDY0"])).astype("Int64")
    return out


EXPOSURE_SPEC: list[Item] = [
    Count("SAFFL", "Y", "Received CD19 CAR-T, n (%)"),
    Levels("CD19DOSEC", "CD19 CAR-T dose (CAR+), n (%)", among=("SAFFL", "Y"), indent=1),
    Count("HSCTFL", "Y", "Underwent allo-HSCT, n (%)"),
    Continuous("HSCTDY0", "Days from CD19 CAR-T to allo-HSCT", indent=1),
    Count("CD22FL", "Y", "Received CD22 CAR-T, n (%)"),
    Levels("CD22DOSEC", "CD22 CAR-T dose (CAR+), n (%)", among=("CD22FL", "Y"), indent=1),
    Continuous("CD22DY0", "Days from CD19 CAR-T to CD22 CAR-T", indent=1),
    Continuous("HSCT22DY", "Days from allo-HSCT to CD22 CAR-T", indent=1),
]


def procedure_timing(adsl: pd.DataFrame, pr: pd.DataFrame) -> pd.DataFrame:
    """ADSL plus, per subject, the first lymphodepletion before CD19 CAR-T (LD19*), transplant
    conditioning (COND*) and lymphodepletion before CD22 CAR-T (LD22*) from the PR domain.

    ``pr`` is SDTM PR with PRSTDTC/PRENDTC as dates or ISO text. Records after the data cut
    (ADSL CUTOFFDT) are ignored. Columns per prefix: ``<p>FL`` (Y/N), ``<p>TRT`` (regimen),
    ``<p>DUR`` (days, end - start + 1) and the start day relative to the reference event:
    LD19SDY (CD19 infusion), CONDSDY (allo-HSCT), LD22SDY (CD22 infusion) -- negative before it.
    """
    frames.require_columns(adsl, ["USUBJID", "CD19DT", "HSCTDT", "CD22DT", "CUTOFFDT"], "ADSL")
    frames.require_columns(pr, ["USUBJID", "PRCAT", "PRTRT", "PRSTDTC", "PRENDTC"], "PR")
    p = pr.copy()
    for c in ("PRSTDTC", "PRENDTC"):
        raw = p[c]
        p[c] = (
            pd.to_datetime(raw.where(~frames.is_missing(raw)), format="%Y-%m-%d", errors="coerce")
            if not pd.api.types.is_datetime64_any_dtype(raw)
            else raw
        )
        bad = p[c].isna() & ~frames.is_missing(raw) if c == "PRENDTC" else p[c].isna()
        if bad.any():
            raise ValueError(f"PR: column {c} must be a full date (YYYY-MM-DD) in {frames.rows_where(bad)}")
    unknown = ~p["USUBJID"].isin(adsl["USUBJID"])
    if unknown.any():
        raise ValueError(
            f"PR: USUBJID not found in ADSL in {frames.rows_where(unknown)}: "
            f"{sorted(p.loc[unknown, 'USUBJID'].unique())[:5]}"
        )
    cut = p["USUBJID"].map(adsl.set_index("USUBJID")["CUTOFFDT"])
    p = p[p["PRSTDTC"] <= cut]
    ref = p["PRREF"].fillna("").astype(str) if "PRREF" in p else pd.Series("", index=p.index)
    parts = {
        "LD19": (p[(p["PRCAT"] == "LYMPHODEPLETION") & (ref != CD22)], "CD19DT"),
        "COND": (p[p["PRCAT"] == "CONDITIONING"], "HSCTDT"),
        "LD22": (p[(p["PRCAT"] == "LYMPHODEPLETION") & (ref == CD22)], "CD22DT"),
    }
    out = adsl.copy()
    for pre, (recs, ref_col) in parts.items():
        first = recs.sort_values(["USUBJID", "PRSTDTC"], kind="stable").drop_duplicates("USUBJID")
        first = first.set_index("USUBJID")
        start = out["USUBJID"].map(first["PRSTDTC"])
        end = out["USUBJID"].map(first["PRENDTC"])
        out[f"{pre}FL"] = np.where(start.notna(), "Y", "N")
        out[f"{pre}TRT"] = out["USUBJID"].map(first["PRTRT"])
        out[f"{pre}SDY"] = (start - out[ref_col]).dt.days.astype("Int64")
        out[f"{pre}DUR"] = ((end - start).dt.days + 1).astype("Int64")
    return out


LYMPHODEP_SPEC: list[Item] = [
    Count("LD19FL", "Y", "Lymphodepletion before CD19 CAR-T, n (%)"),
    Levels("LD19TRT", "Regimen, n (%)", among=("LD19FL", "Y"), indent=1),
    Continuous("LD19SDY", "Start, days relative to CD19 CAR-T", indent=1),
    Continuous("LD19DUR", "Duration (days)", indent=1),
    Count("CONDFL", "Y", "Conditioning for allo-HSCT, n (%)"),
    Levels("CONDTRT", "Regimen, n (%)", among=("CONDFL", "Y"), indent=1),
    Continuous("CONDSDY", "Start, days relative to allo-HSCT", indent=1),
    Continuous("CONDDUR", "Duration (days)", indent=1),
    Count("LD22FL", "Y", "Lymphodepletion before CD22 CAR-T, n (%)"),
    Levels("LD22TRT", "Regimen, n (%)", among=("LD22FL", "Y"), indent=1),
    Continuous("LD22SDY", "Start, days relative to CD22 CAR-T", indent=1),
    Continuous("LD22DUR", "Duration (days)", indent=1),
]


# --------------------------------------------------------------------------------------------
# DLT and dose escalation


def dlt_mask(adae: pd.DataFrame, *, dlt_flag: str = "AEDLT", window_flag: str = "DLTWINFL") -> pd.Series:
    """AE records that are DLTs: adjudicated DLT (``AEDLT = Y``) starting in the DLT window."""
    frames.require_columns(adae, [dlt_flag, window_flag], "ADAE")
    return frames.flag_yes(adae, dlt_flag) & frames.flag_yes(adae, window_flag)


def escalation_cohorts(
    adsl: pd.DataFrame, *, phase_value: str = "DOSE ESCALATION", eval_flag: str = "DLTEVLFL", dlt_flag: str = "DLTFL"
) -> pd.DataFrame:
    """One row per dose-escalation cohort in the order treated (first CD19 infusion, then cohort
    id): COHORT, DOSELVL, n_treated (SAFFL), n_evaluable, n_dlt (DLT-evaluable with DLTFL = Y)."""
    frames.require_columns(
        adsl, ["USUBJID", "PHASE", "COHORT", "DOSELVL", "SAFFL", "CD19DT", eval_flag, dlt_flag], "ADSL"
    )
    esc = adsl[adsl["PHASE"] == phase_value].copy()
    frames.no_missing(esc, "COHORT", "ADSL (escalation)")
    frames.no_missing(esc, "DOSELVL", "ADSL (escalation)")
    levels = esc.groupby("COHORT")["DOSELVL"].nunique()
    if (levels > 1).any():
        bad = esc["COHORT"].isin(levels[levels > 1].index)
        raise ValueError(
            f"ADSL: a cohort must have one DOSELVL; cohort(s) {sorted(levels[levels > 1].index)} "
            f"have several ({frames.rows_where(bad)})"
        )
    ev = frames.flag_yes(esc, eval_flag)
    esc = esc.assign(
        _saf=frames.flag_yes(esc, "SAFFL").astype(int),
        _ev=ev.astype(int),
        _dlt=(ev & frames.flag_yes(esc, dlt_flag)).astype(int),
    )
    out = (
        esc.groupby("COHORT", sort=True)
        .agg(
            DOSELVL=("DOSELVL", "first"),
            first_dt=("CD19DT", "min"),
            n_treated=("_saf", "sum"),
            n_evaluable=("_ev", "sum"),
            n_dlt=("_dlt", "sum"),
        )
        .reset_index()
    )
    out = out.sort_values(["first_dt", "COHORT"], kind="stable", na_position="last")
    out["DOSELVL"] = out["DOSELVL"].astype(int)
    return out.drop(columns="first_dt").reset_index(drop=True)


def escalation_ard(cohorts: pd.DataFrame, levels: Sequence[int]) -> pd.DataFrame:
    """3+3 decision after each cohort (``stats.three_plus_three`` on the DLT-evaluable counts).

    A last cohort that does not yet have 3 DLT-evaluable subjects (or that leaves a level with a
    count other than 3 or 6) is shown as "pending". Rows: group1 COHORT; statistics dose_level,
    n_treated, n_evaluable, n_dlt, n_at_level, dlt_at_level, decision, next_dose_level, reason;
    then one row ``variable = "RECOMMENDED"`` with ``dose_level`` = the MTD/RP2D (None when the
    escalation has not stopped or the MTD is below the lowest level).
    """
    recs = cohorts.to_dict("records")
    complete, pending = recs, None
    if recs:
        seen: dict[int, int] = {}
        for r in recs[:-1]:
            seen[r["DOSELVL"]] = seen.get(r["DOSELVL"], 0) + int(r["n_evaluable"])
        last = recs[-1]
        if int(last["n_evaluable"]) == 0 or seen.get(last["DOSELVL"], 0) + int(last["n_evaluable"]) not in (3, 6):
            complete, pending = recs[:-1], last
    try:
        seq = stats.three_plus_three(
            [(r["DOSELVL"], int(r["n_evaluable"]), int(r["n_dlt"])) for r in complete], levels=list(levels)
        )
    except ValueError as exc:
        raise ValueError(f"ADSL escalation cohorts {[r['COHORT'] for r in complete]}: {exc}") from None
    rows: list[tuple] = []

    def add(cohort, stat_pairs):
        rows.extend(("COHORT", cohort, None, None, "DLT", None, s, frames.py(v)) for s, v in stat_pairs)

    for r, s in zip(complete, seq):
        add(
            r["COHORT"],
            [
                ("dose_level", r["DOSELVL"]),
                ("n_treated", r["n_treated"]),
                ("n_evaluable", r["n_evaluable"]),
                ("n_dlt", r["n_dlt"]),
                ("n_at_level", s["n_at_level"]),
                ("dlt_at_level", s["dlt_at_level"]),
                ("decision", s["decision"]),
                ("next_dose_level", s["next_dose_level"]),
                ("reason", s["reason"]),
            ],
        )
    if pending is not None:
        n_prev = sum(int(r["n_evaluable"]) for r in complete if r["DOSELVL"] == pending["DOSELVL"])
        d_prev = sum(int(r["n_dlt"]) for r in complete if r["DOSELVL"] == pending["DOSELVL"])
        add(
            pending["COHORT"],
            [
                ("dose_level", pending["DOSELVL"]),
                ("n_treated", pending["n_treated"]),
                ("n_evaluable", pending["n_evaluable"]),
                ("n_dlt", pending["n_dlt"]),
                ("n_at_level", n_prev + int(pending["n_evaluable"])),
                ("dlt_at_level", d_prev + int(pending["n_dlt"])),
                ("decision", "pending"),
                ("next_dose_level", None),
                ("reason", "cohort not yet fully DLT-evaluable"),
            ],
        )
    stop = [s for s in seq if s["decision"] == "stop"]
    rec = stop[-1]["mtd"] if stop and pending is None else None
    rows.append((None, None, None, None, "RECOMMENDED", None, "dose_level", frames.py(rec)))
    return ard.frame(rows)


def recommended_dose(esc_ard: pd.DataFrame) -> Any:
    """The MTD/RP2D dose level of an :func:`escalation_ard` (None when not determined)."""
    rec = esc_ard[esc_ard["variable"] == "RECOMMENDED"]["stat_value"]
    return None if rec.empty or frames.is_missing_value(rec.iloc[0]) else int(rec.iloc[0])


def escalation_table(esc_ard: pd.DataFrame, dose_labels: Mapping[int, str]) -> pd.DataFrame:
    """Display frame: one row per cohort with its counts and the 3+3 decision; a final row with the
    recommended dose (or why there is none yet)."""
    rows = esc_ard[esc_ard["variable"] == "DLT"]
    lab = lambda v: "" if frames.is_missing_value(v) else dose_labels.get(int(v), str(v))
    cols = [
        "Cohort",
        "Dose level",
        "Treated",
        "DLT-evaluable",
        "Subjects with DLT",
        "DLTs / evaluable at dose level",
        "Decision",
        "Next dose level",
    ]
    recs = []
    for cohort, g in rows.groupby("group1_level", sort=False):
        s = dict(zip(g["stat_name"], g["stat_value"]))
        recs.append(
            [
                str(cohort),
                lab(s["dose_level"]),
                str(int(s["n_treated"])),
                str(int(s["n_evaluable"])),
                str(int(s["n_dlt"])),
                f"{int(s['dlt_at_level'])}/{int(s['n_at_level'])}",
                str(s["decision"]).capitalize(),
                lab(s["next_dose_level"]) or "-",
            ]
        )
    if not recs:
        recs.append(["No subjects"] + [""] * (len(cols) - 1))
    rec = recommended_dose(esc_ard)
    decided = bool(len(rows)) and rows[rows["stat_name"] == "decision"]["stat_value"].iloc[-1] == "stop"
    text = (
        lab(rec)
        if rec is not None
        else (
            "Not determined (MTD below the lowest dose level)" if decided else "Not yet determined (escalation ongoing)"
        )
    )
    recs.append(["Recommended dose (MTD)", text] + [""] * (len(cols) - 2))
    return pd.DataFrame(recs, columns=cols)


def dlt_listing(adsl: pd.DataFrame, adae: pd.DataFrame, *, pop_flag: str = "DLTEVLFL") -> pd.DataFrame:
    """Listing of DLTs (:func:`dlt_mask`) of subjects in the population, by dose level, subject and
    start day; a single "No DLTs" row when there are none."""
    frames.require_columns(
        adae,
        [
            "USUBJID",
            "TRT01A",
            "TRT01AN",
            "COHORT",
            "AEDECOD",
            "AETERM",
            "AETOXGR",
            "AEGRSCL",
            "ASTDY0",
            "ADURN",
            "AONGOFL",
            "AESER",
            "AEREL",
            "AEOUT",
        ],
        "ADAE",
    )
    frames.require_columns(adsl, ["USUBJID", pop_flag], "ADSL")
    ids = adsl.loc[frames.flag_yes(adsl, pop_flag), "USUBJID"]
    d = adae[dlt_mask(adae) & adae["USUBJID"].isin(ids)]
    d = d.sort_values(["TRT01AN", "USUBJID", "ASTDY0", "AEDECOD"], kind="stable")
    cols = [
        "Subject",
        "Dose level",
        "Cohort",
        "Preferred term",
        "Reported term",
        "Grade (scale)",
        "Start day",
        "Duration (days)",
        "Serious",
        "Related",
        "Outcome",
    ]
    if d.empty:
        return pd.DataFrame([["No DLTs"] + [""] * (len(cols) - 1)], columns=cols)
    dur = [
        ("NE" if pd.isna(x) else str(int(x))) + (" (ongoing)" if o == "Y" else "")
        for x, o in zip(d["ADURN"], d["AONGOFL"])
    ]
    body = pd.DataFrame(
        {
            "Subject": d["USUBJID"].astype(str),
            "Dose level": d["TRT01A"].astype(str),
            "Cohort": d["COHORT"].astype(str),
            "Preferred term": d["AEDECOD"].astype(str),
            "Reported term": d["AETERM"].astype(str),
            "Grade (scale)": [f"{int(g)} ({s})" for g, s in zip(d["AETOXGR"], d["AEGRSCL"])],
            "Start day": d["ASTDY0"].map(lambda x: "NE" if pd.isna(x) else str(int(x))),
            "Duration (days)": dur,
            "Serious": d["AESER"].map(lambda v: YES_NO.get(v, str(v))),
            "Related": d["AEREL"].astype(str).str.capitalize(),
            "Outcome": d["AEOUT"].astype(str).str.capitalize(),
        }
    )
    return body.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# numbers for the interpretive text (always read back from the ARD)


def ard_stat(ard_df: pd.DataFrame, stat_name: str, *, variable: str, level: Any = None, group: Any = ard.TOTAL) -> Any:
    """:func:`ard.stat` of a summary ARD row by variable, level and group (default the Total)."""
    return ard.stat(ard_df, stat_name, variable=variable, variable_level=level, group1_level=group)


def n_pct_text(ard_df: pd.DataFrame, variable: str, level: Any = None, group: Any = ard.TOTAL) -> str:
    """ "n/N (x.x%)" of an n/N row for running text (:func:`formats.n_of_N`)."""
    return formats.n_of_N(
        ard_stat(ard_df, "n", variable=variable, level=level, group=group),
        ard_stat(ard_df, "N", variable=variable, level=level, group=group),
    )


def median_range_text(ard_df: pd.DataFrame, variable: str, group: Any = ard.TOTAL, digits: int = 0) -> str:
    """ "median x, range a to b" of a continuous ARD row, or "not estimable (no data)"."""
    s = {k: ard_stat(ard_df, k, variable=variable, group=group) for k in ("n", "median", "min", "max")}
    if not s["n"]:
        return "not estimable (no data)"
    f = formats.fmt_num
    return f"median {f(s['median'], digits)}, range {f(s['min'], digits)} to {f(s['max'], digits)}"


def fractions_text(ard_df: pd.DataFrame, variable: str, level: Any = None) -> str:
    """ "n/N in <group>" for each group except Total, joined with commas ("" if there are none)."""
    groups = [
        g
        for g in dict.fromkeys(ard_df.loc[ard_df["variable"] == variable, "group1_level"])
        if not frames.is_missing_value(g) and g != ard.TOTAL
    ]
    parts = [
        f"{int(ard_stat(ard_df, 'n', variable=variable, level=level, group=g))}/"
        f"{int(ard_stat(ard_df, 'N', variable=variable, level=level, group=g))} at {g}"
        for g in groups
    ]
    return ", ".join(parts[:-2] + [" and ".join(parts[-2:])]) if parts else ""
