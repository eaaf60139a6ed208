"""Safety summaries behind the adverse-event and deaths/SAE chapters (docs/design.md §4, §7).

Everything here turns ADaM-shaped ADSL/ADAE into long ARDs (columns as :mod:`analysis_lib.toolkit.ard`)
or into display frames of strings, so the chapter notebooks stay thin:

- AE periods: :func:`period_mask`, :func:`period2_population` (the period-2 denominator);
- :func:`overview_ard` — subjects with any / grade >= 3 / serious / related / DLT / fatal AEs;
- AESIs: :func:`crs_icans_ard`, :func:`gvhd_ard`, :func:`aesi_other_ard` (explicit zero rows, so
  ARDs of different cuts line up);
- deaths: :func:`deaths_ard` (cause, treatment-related vs relapse, timing windows);
- display: :func:`summary_table` (rows picked from an ARD), :func:`death_listing`,
  :func:`sae_listing`; :func:`stat` reads one number for interpretive text.

Counting rules: only treatment-emergent AEs (``TRTEMFL == "Y"``) of subjects in the population
count; a subject counts once per row (at the worst grade where grades are shown); percentages are
of the column's population N. AESI tables cover the whole study (both AE periods), because acute
and chronic GVHD mostly start after period 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from analysis_lib.toolkit import ard as ard_mod
from analysis_lib.toolkit import formats, frames, stats

#: One row of :func:`summary_table`: (label, indent, ARD key (group2_level, variable, variable_level)
#: or None, kind).
RowSpec = tuple[str, int, Any, str]

ID = "USUBJID"
TOTAL = "Total"
DEATH_FROM_ALL = "RELAPSE/PROGRESSION OF ALL"
NON_RELAPSE = "NON-RELAPSE MORTALITY"  # death not due to ALL, whatever its cause
VALUE_STATS = ("n", "mean", "sd", "median", "q1", "q3", "min", "max")
#: Display labels of the death-cause categories (sdtm DS.DTHCAUS); others are capitalised.
CAUSE_LABELS = {
    DEATH_FROM_ALL: "Relapse/progression of ALL",
    "INFECTION": "Infection",
    "GVHD": "GVHD",
    "CRS": "CRS",
    "ICANS": "ICANS",
    "OTHER TREATMENT-RELATED": "Other treatment-related",
    "OTHER": "Other",
}


def cause_label(cause: Any) -> str:
    """Display label of a DTHCAUS value."""
    return CAUSE_LABELS.get(str(cause), str(cause).capitalize())


# --------------------------------------------------------------------------------------------
# input checks and groups


def _population(adsl: pd.DataFrame, pop_flag: str | None) -> pd.DataFrame:
    frames.require_columns(adsl, [ID] + ([pop_flag] if pop_flag else []), "ADSL")
    pop = adsl[frames.yes(adsl[pop_flag])] if pop_flag else adsl
    dup = pop[ID].duplicated(keep=False)
    if dup.any():
        raise ValueError(f"ADSL: {ID} must be unique but is repeated in {frames.rows_where(dup)}")
    return pop


def _teae(adae: pd.DataFrame, pop: pd.DataFrame, cols: Sequence[str] = ()) -> pd.DataFrame:
    """Treatment-emergent AEs of the population's subjects."""
    frames.require_columns(adae, [ID, "TRTEMFL", *cols], "ADAE")
    ae = adae[frames.yes(adae["TRTEMFL"]) & adae[ID].isin(pop[ID])]
    return ae


def _groups(pop: pd.DataFrame, by: str | None, by_levels: Sequence | None, total: bool) -> list[tuple[Any, set[Any]]]:
    """[(level, subject ids)] per ``by`` level (+ Total), from :func:`ard.group_masks`."""
    return [(lvl, set(pop.loc[mask, ID])) for lvl, mask in ard_mod.group_masks(pop, by, by_levels, total, "ADSL")]


def _py(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, (bool,)):
        return int(v)
    if hasattr(v, "item"):
        return v.item()
    return v


# --------------------------------------------------------------------------------------------
# generic ARD builders: counts and values per group


@dataclass(frozen=True)
class Hit:
    """One ARD row of subject counts: the key and the records (or subject ids) that count."""

    variable: str
    level: Any = None
    records: Any = None  # a frame of event records, or a set of subject ids
    group2: str | None = None
    group2_level: Any = None


def count_ard(
    pop: pd.DataFrame,
    hits: Sequence[Hit],
    *,
    by: str | None = "TRT01A",
    by_levels: Sequence | None = None,
    total: bool = True,
) -> pd.DataFrame:
    """Subjects n, population N and p = n/N per group for each hit; ``events`` when the hit
    carries records (one per event). Rows appear even when n = 0. Each ``n`` row carries the
    subjects it counts (:data:`ard.SUBJECTS`, the drill-down's subject list)."""
    groups = _groups(pop, by, by_levels, total)
    rows: list[tuple] = []
    for h in hits:
        recs = h.records
        is_frame = isinstance(recs, pd.DataFrame)
        ids = set(recs[ID]) if is_frame else set(recs or ())
        for lvl, gids in groups:
            counted = ard_mod.subject_ids(ids & gids)
            n, N = len(counted), len(gids)
            st: list[tuple[str, Any, Any]] = [("n", n, counted), ("N", N, None), ("p", n / N if N else math.nan, None)]
            if is_frame:
                st.append(("events", int(recs[ID].isin(gids).sum()), None))
            g1 = (by, _py(lvl)) if by else (None, None)
            rows.extend((*g1, h.group2, _py(h.group2_level), h.variable, _py(h.level), s, v, c) for s, v, c in st)
    return ard_mod.frame(rows)


def value_ard(
    pop: pd.DataFrame,
    values: pd.DataFrame,
    variable: str,
    level: Any = None,
    *,
    value: str = "AVAL",
    group2: str | None = None,
    group2_level: Any = None,
    by: str | None = "TRT01A",
    by_levels: Sequence | None = None,
    total: bool = True,
) -> pd.DataFrame:
    """Descriptive statistics (n, mean, sd, median, q1, q3, min, max) of ``values[value]`` per
    group (records of ``values`` belong to the group of their subject)."""
    frames.require_columns(values, [ID, value], f"value_ard({variable})")
    rows: list[tuple] = []
    for lvl, gids in _groups(pop, by, by_levels, total):
        d = stats.describe(values.loc[values[ID].isin(gids), value].astype(float))
        g1 = (by, _py(lvl)) if by else (None, None)
        rows.extend((*g1, group2, _py(group2_level), variable, _py(level), s, _py(d[s])) for s in VALUE_STATS)
    return ard_mod.frame(rows)


# --------------------------------------------------------------------------------------------
# AE periods and the overview


def period_mask(adae: pd.DataFrame, period: int | None) -> pd.Series:
    """ADAE rows of AE period ``period`` (``APERIOD``); every row when ``period`` is None."""
    if period is None:
        return pd.Series(True, index=adae.index)
    frames.require_columns(adae, ["APERIOD"], "ADAE")
    return pd.to_numeric(adae["APERIOD"], errors="coerce").eq(period)


def period2_population(
    adsl: pd.DataFrame, adae: pd.DataFrame, *, flag: str = "AP02FL", pop_flag: str = "SAFFL"
) -> pd.DataFrame:
    """ADSL with ``flag`` = "Y" for population subjects followed beyond the end of period 1.

    Followed beyond = last known alive/death date (``LSTALVDT``) after ``AP01EDT``, or any
    period-2 AE (a subject with a period-2 AE was followed into period 2 even if an imputed
    date makes LSTALVDT look earlier). Denominator of the period-2 tables.
    """
    frames.require_columns(adsl, [ID, pop_flag, "LSTALVDT", "AP01EDT"], "ADSL")
    frames.require_columns(adae, [ID, "APERIOD"], "ADAE")
    in_p2 = set(adae.loc[period_mask(adae, 2), ID])
    followed = (adsl["LSTALVDT"] > adsl["AP01EDT"]).fillna(False) | adsl[ID].isin(in_p2)
    out = adsl.copy()
    out[flag] = (frames.yes(adsl[pop_flag]) & followed).map({True: "Y", False: "N"})
    return out


#: Overview rows: (key, label, ADAE record selector).
OVERVIEW: tuple[tuple[str, str, Callable[[pd.DataFrame], pd.Series]], ...] = (
    ("ANY", "Any adverse event", lambda d: pd.Series(True, index=d.index)),
    ("GE3", "Grade ≥3 adverse event", lambda d: pd.to_numeric(d["AETOXGR"]) >= 3),
    ("SER", "Serious adverse event", lambda d: frames.yes(d["AESER"])),
    ("REL", "Treatment-related adverse event", lambda d: d["AEREL"].eq("RELATED")),
    (
        "RELGE3",
        "Treatment-related grade ≥3 adverse event",
        lambda d: d["AEREL"].eq("RELATED") & (pd.to_numeric(d["AETOXGR"]) >= 3),
    ),
    ("RELSER", "Treatment-related serious adverse event", lambda d: d["AEREL"].eq("RELATED") & frames.yes(d["AESER"])),
    ("DLT", "Dose-limiting toxicity", lambda d: frames.yes(d["AEDLT"])),
    ("GR5", "Grade 5 adverse event", lambda d: pd.to_numeric(d["AETOXGR"]) == 5),
    ("FATAL", "Adverse event with fatal outcome", lambda d: d["AEOUT"].eq("FATAL")),
)


def overview_ard(
    adsl: pd.DataFrame,
    adae: pd.DataFrame,
    *,
    period: int | None = None,
    pop_flag: str = "SAFFL",
    by: str | None = "TRT01A",
    by_levels: Sequence | None = None,
    total: bool = True,
) -> pd.DataFrame:
    """Subjects with >= 1 AE of each :data:`OVERVIEW` kind (and their events), one
    ``ard.ae_ard`` call per kind restricted to ``period``; ``variable = "OVERVIEW"``,
    ``variable_level`` = the kind's key."""
    frames.require_columns(adae, ["AETOXGR", "AESER", "AEREL", "AEDLT", "AEOUT"], "ADAE")
    parts = []
    for key, _, select in OVERVIEW:
        a = ard_mod.ae_ard(
            adsl,
            adae,
            by=by,
            pop_flag=pop_flag,
            by_levels=by_levels,
            total=total,
            where=lambda d, s=select: (period_mask(d, period) & s(d)).to_numpy(bool),
        )
        a = a[a["variable"] == "ANY"].copy()
        a["variable"], a["variable_level"] = "OVERVIEW", key
        parts.append(a)
    return pd.concat(parts, ignore_index=True).astype(object)


def overview_rows(events_label: str = "Number of adverse events") -> list[RowSpec]:
    """:func:`summary_table` rows for an overview ARD: n (%) per kind, then the event count."""
    rows: list[RowSpec] = [("Subjects with at least one:", 0, None, "header")]
    rows += [(label, 1, (None, "OVERVIEW", key), "n_pct") for key, label, _ in OVERVIEW]
    rows.append((events_label, 0, (None, "OVERVIEW", "ANY"), "count:events"))
    return rows


# --------------------------------------------------------------------------------------------
# AEs of special interest


def _aesi(adae: pd.DataFrame, pop: pd.DataFrame, category: str) -> pd.DataFrame:
    ae = _teae(adae, pop, ["AESICAT", "AETOXGR", "ASTDT"])
    return ae[ae["AESICAT"] == category]


def _worst_grade_hits(
    recs: pd.DataFrame, group2: str, group2_level: Any, grades: Sequence[int], ge: Sequence[int] = (3,)
) -> list[Hit]:
    """Hits for 'any', each worst grade and each 'grade >= g' of the records' subjects."""
    worst = recs.groupby(ID)["AETOXGR"].max() if len(recs) else pd.Series(dtype=float)
    hits = [Hit("AESICAT", group2_level, recs)]
    hits += [Hit("WORSTGR", g, set(worst.index[worst == g]), group2, group2_level) for g in grades]
    hits += [Hit("WORSTGRGE", g, set(worst.index[worst >= g]), group2, group2_level) for g in ge]
    return hits


def _first(recs: pd.DataFrame) -> pd.DataFrame:
    """The first record per subject (by start date, then AESEQ)."""
    order = [c for c in ("ASTDT", "AESEQ") if c in recs.columns]
    return recs.sort_values([ID, *order]).drop_duplicates(ID)


def crs_icans_ard(
    adsl: pd.DataFrame,
    adae: pd.DataFrame,
    *,
    categories: Sequence[str] = ("CRS", "ICANS"),
    pop_flag: str = "SAFFL",
    by: str | None = "TRT01A",
    by_levels: Sequence | None = None,
    total: bool = True,
) -> pd.DataFrame:
    """CRS and ICANS (AESICAT): subjects and episodes, worst ASTCT grade 1-5 and >= 3, onset day
    of the first episode (``ASTDY0``), duration of each episode (``ADURN``), subjects with an
    episode after CD22 CAR-T (start on/after ``CD22DT``), and subjects given tocilizumab
    (``CMTOCIFL``) or corticosteroids (``CMSTERFL``) for it. ``group2 = "AESICAT"``."""
    pop = _population(adsl, pop_flag)
    frames.require_columns(adae, ["ASTDY0", "ADURN", "CMTOCIFL", "CMSTERFL", "AESEQ"], "ADAE")
    kw: dict[str, Any] = dict(by=by, by_levels=by_levels, total=total)
    cd22 = pop.set_index(ID)["CD22DT"] if "CD22DT" in pop.columns else pd.Series(dtype="datetime64[ns]")
    parts = []
    for cat in categories:
        recs = _aesi(adae, pop, cat)
        hits = _worst_grade_hits(recs, "AESICAT", cat, grades=(1, 2, 3, 4, 5))
        after = recs[recs["ASTDT"] >= recs[ID].map(cd22)]
        hits += [
            Hit("AFTERCD22", "Y", after, "AESICAT", cat),
            Hit("CMTOCIFL", "Y", recs[frames.yes(recs["CMTOCIFL"])], "AESICAT", cat),
            Hit("CMSTERFL", "Y", recs[frames.yes(recs["CMSTERFL"])], "AESICAT", cat),
        ]
        parts.append(count_ard(pop, hits, **kw))
        parts.append(
            value_ard(pop, _first(recs), "ONSETDY0", None, value="ASTDY0", group2="AESICAT", group2_level=cat, **kw)
        )
        parts.append(value_ard(pop, recs, "ADURN", None, value="ADURN", group2="AESICAT", group2_level=cat, **kw))
    return pd.concat(parts, ignore_index=True).astype(object)


CRS_ICANS_LABELS = {
    "CRS": "Cytokine release syndrome (CRS)",
    "ICANS": "Immune effector cell-associated neurotoxicity syndrome (ICANS)",
}


def crs_icans_rows(labels: Mapping[str, str] = CRS_ICANS_LABELS) -> list[RowSpec]:
    """:func:`summary_table` rows for :func:`crs_icans_ard`, per category in ``labels`` order."""
    rows: list[RowSpec] = []
    for cat, label in labels.items():
        rows += [
            (f"{label}, any grade", 0, (None, "AESICAT", cat), "n_pct"),
            ("Number of episodes", 1, (None, "AESICAT", cat), "count:events"),
        ]
        rows += [(f"Worst grade {g}", 1, (cat, "WORSTGR", g), "n_pct") for g in (1, 2, 3, 4, 5)]
        rows += [
            ("Worst grade ≥3", 1, (cat, "WORSTGRGE", 3), "n_pct"),
            ("Onset of first episode, day, median (min, max)", 1, (cat, "ONSETDY0", None), "median_range"),
            ("Duration per episode, days, median (min, max)", 1, (cat, "ADURN", None), "median_range"),
            ("Episode after CD22 CAR-T", 1, (cat, "AFTERCD22", "Y"), "n_pct"),
            ("Tocilizumab given", 1, (cat, "CMTOCIFL", "Y"), "n_pct"),
            ("Corticosteroids given", 1, (cat, "CMSTERFL", "Y"), "n_pct"),
        ]
    return rows


def gvhd_ard(
    adsl: pd.DataFrame,
    adae: pd.DataFrame,
    *,
    acute: str = "ACUTE GVHD",
    chronic: str = "CHRONIC GVHD",
    pop_flag: str = "SAFFL",
    by: str | None = "TRT01A",
    by_levels: Sequence | None = None,
    total: bool = True,
) -> pd.DataFrame:
    """Acute GVHD (MAGIC: any, worst grade II-IV, III-IV) and chronic GVHD (NIH: any, worst
    mild/moderate/severe = grade 1/2/3), in the population (``group2_level = "SAFETY"``) and
    among its transplanted subjects (``HSCTFL == "Y"``, ``"TRANSPLANTED"``, where N = the
    transplanted subjects), plus onset of the first episode in days after allo-HSCT."""
    pop = _population(adsl, pop_flag)
    frames.require_columns(pop, ["HSCTFL", "HSCTDT"], "ADSL")
    kw: dict[str, Any] = dict(by=by, by_levels=by_levels, total=total)
    hsct = pop[frames.yes(pop["HSCTFL"])]
    parts = []
    for block, bpop in (("SAFETY", pop), ("TRANSPLANTED", hsct)):
        a_recs = _aesi(adae, bpop, acute)
        c_recs = _aesi(adae, bpop, chronic)
        aw = a_recs.groupby(ID)["AETOXGR"].max() if len(a_recs) else pd.Series(dtype=float)
        cw = c_recs.groupby(ID)["AETOXGR"].max() if len(c_recs) else pd.Series(dtype=float)
        hits = [Hit("HSCTFL", "Y", set(hsct[ID]), "POPULATION", block)] if block == "SAFETY" else []
        hits += [
            Hit("ACUTE", "ANY", a_recs, "POPULATION", block),
            Hit("ACUTE", "II-IV", set(aw.index[aw >= 2]), "POPULATION", block),
            Hit("ACUTE", "III-IV", set(aw.index[aw >= 3]), "POPULATION", block),
            Hit("CHRONIC", "ANY", c_recs, "POPULATION", block),
        ]
        hits += [
            Hit("CHRONIC", sev, set(cw.index[cw == g]), "POPULATION", block)
            for g, sev in ((1, "MILD"), (2, "MODERATE"), (3, "SEVERE"))
        ]
        # N per group = the block's own population (safety or transplanted subjects)
        parts.append(count_ard(bpop, hits, **{**kw, "by_levels": _levels_of(pop, by, by_levels)}))
    days = {}
    for name, cat in (("ACUTE", acute), ("CHRONIC", chronic)):
        first = _first(_aesi(adae, hsct, cat))
        first = first.assign(DAYS=(first["ASTDT"] - first[ID].map(hsct.set_index(ID)["HSCTDT"])).dt.days)
        days[name] = value_ard(
            hsct,
            first,
            "ONSETHSCT",
            name,
            value="DAYS",
            group2="POPULATION",
            group2_level="TRANSPLANTED",
            **{**kw, "by_levels": _levels_of(pop, by, by_levels)},
        )
    return pd.concat(parts + list(days.values()), ignore_index=True).astype(object)


def _levels_of(pop: pd.DataFrame, by: str | None, by_levels: Sequence | None) -> list | None:
    """The group levels of the full population, so sub-populations keep empty groups."""
    if by is None:
        return None
    return list(by_levels) if by_levels is not None else sorted(pop[by].dropna().unique(), key=str)


def gvhd_rows() -> list[RowSpec]:
    """:func:`summary_table` rows for :func:`gvhd_ard`: safety block, then transplanted block."""
    rows: list[RowSpec] = []
    for block, head in (("SAFETY", "Safety population"), ("TRANSPLANTED", "Transplanted subjects (allo-HSCT)")):
        rows.append((head, 0, None, "header"))
        if block == "TRANSPLANTED":
            rows.append(("Transplanted subjects, n (% of safety population)", 1, ("SAFETY", "HSCTFL", "Y"), "n_pct"))
        rows += [
            ("Acute GVHD, any grade", 1, (block, "ACUTE", "ANY"), "n_pct"),
            ("Grade II-IV", 2, (block, "ACUTE", "II-IV"), "n_pct"),
            ("Grade III-IV", 2, (block, "ACUTE", "III-IV"), "n_pct"),
        ]
        if block == "TRANSPLANTED":
            rows.append(
                (
                    "Onset, days after allo-HSCT, median (min, max)",
                    2,
                    ("TRANSPLANTED", "ONSETHSCT", "ACUTE"),
                    "median_range",
                )
            )
        rows += [
            ("Chronic GVHD, any severity", 1, (block, "CHRONIC", "ANY"), "n_pct"),
            ("Mild", 2, (block, "CHRONIC", "MILD"), "n_pct"),
            ("Moderate", 2, (block, "CHRONIC", "MODERATE"), "n_pct"),
            ("Severe", 2, (block, "CHRONIC", "SEVERE"), "n_pct"),
        ]
        if block == "TRANSPLANTED":
            rows.append(
                (
                    "Onset, days after allo-HSCT, median (min, max)",
                    2,
                    ("TRANSPLANTED", "ONSETHSCT", "CHRONIC"),
                    "median_range",
                )
            )
    return rows


def aesi_other_ard(
    adsl: pd.DataFrame,
    adae: pd.DataFrame,
    *,
    categories: Sequence[str] = ("INFECTION", "CMV REACTIVATION", "PROLONGED CYTOPENIA"),
    pop_flag: str = "SAFFL",
    by: str | None = "TRT01A",
    by_levels: Sequence | None = None,
    total: bool = True,
) -> pd.DataFrame:
    """Per AESI category: subjects and events (``variable = "AESICAT"``), worst grade >= 3 and
    grade 5, and per preferred term (``variable = "AEDECOD"``, ``group2_level`` = category)."""
    pop = _population(adsl, pop_flag)
    parts = []
    for cat in categories:
        recs = _aesi(adae, pop, cat)
        frames.require_columns(recs, ["AEDECOD"], "ADAE")
        hits = _worst_grade_hits(recs, "AESICAT", cat, grades=(5,), ge=(3,))
        hits += [
            Hit("AEDECOD", pt, recs[recs["AEDECOD"] == pt], "AESICAT", cat)
            for pt in sorted(recs["AEDECOD"].unique(), key=str)
        ]
        parts.append(count_ard(pop, hits, by=by, by_levels=by_levels, total=total))
    return pd.concat(parts, ignore_index=True).astype(object)


def aesi_other_rows(ard: pd.DataFrame, labels: Mapping[str, str]) -> list[RowSpec]:
    """Rows per category (``labels`` category -> label, in order): any grade, grade >= 3,
    grade 5, then its preferred terms by descending frequency in the last group (ties A-Z)."""
    groups, keys, get = _lookup(ard)
    last = groups[-1] if groups else None
    rows: list[RowSpec] = []
    for cat, label in labels.items():
        rows += [
            (f"{label}, any grade", 0, (None, "AESICAT", cat), "n_pct"),
            ("Grade ≥3", 1, (cat, "WORSTGRGE", 3), "n_pct"),
            ("Grade 5 (fatal)", 1, (cat, "WORSTGR", 5), "n_pct"),
        ]
        pts = [k for k in keys if k[0] == cat and k[1] == "AEDECOD"]
        pts.sort(key=lambda k: (-int(get(k, last, "n") or 0), str(k[2])))
        if pts:
            rows.append(("By preferred term", 1, None, "header"))
        rows += [(str(k[2]), 2, k, "n_pct") for k in pts]
    return rows


# --------------------------------------------------------------------------------------------
# deaths


def death_window_labels(windows: Sequence[int]) -> list[tuple[str, str]]:
    """[(key, label)]: cumulative 'On or before Day w' per window, then 'After Day <last>'."""
    out = [(f"LE{w}", f"On or before Day {w}") for w in windows]
    return out + [(f"GT{windows[-1]}", f"After Day {windows[-1]}")]


def deaths_ard(
    adsl: pd.DataFrame,
    *,
    windows: Sequence[int],
    pop_flag: str = "SAFFL",
    by: str | None = "TRT01A",
    by_levels: Sequence | None = None,
    total: bool = True,
) -> pd.DataFrame:
    """Deaths (``DTHFL``) by category — relapse/progression of ALL vs non-relapse mortality
    (``DTHTRTFL``: any death not due to ALL; not called treatment-related unless coded so), by cause (``DTHCAUS``)
    — and by timing (``DTHDY0``; cumulative windows
    on or before each Day in ``windows`` and after the last), each split by category.

    Rows: ``DTHFL``; ``DTHCAT`` (group2 None); ``DTHCAUS`` (group2 ``DTHCAT``); ``DTHWIN`` and
    ``DTHCAT`` within it (group2 ``DTHWIN``). Causes appear in descending frequency (ties A-Z).
    """
    pop = _population(adsl, pop_flag)
    frames.require_columns(pop, ["DTHFL", "DTHDY0", "DTHCAUS", "DTHTRTFL"], "ADSL")
    dead = pop[frames.yes(pop["DTHFL"])]
    bad = dead["DTHDY0"].isna() | dead["DTHCAUS"].fillna("").astype(str).str.strip().eq("")
    if bad.any():
        raise ValueError(
            f"ADSL: subjects with DTHFL = 'Y' need DTHDY0 and DTHCAUS; missing in {frames.rows_where(bad)}"
        )
    if list(windows) != sorted(windows) or not windows:
        raise ValueError(f"deaths_ard: windows must be increasing days, got {list(windows)}")
    cat = frames.yes(dead["DTHTRTFL"]).map({True: NON_RELAPSE, False: DEATH_FROM_ALL})
    cats = [DEATH_FROM_ALL, NON_RELAPSE]
    hits = [Hit("DTHFL", "Y", set(dead[ID]))]
    hits += [Hit("DTHCAT", c, set(dead.loc[cat == c, ID])) for c in cats]
    for c in cats:
        causes = dead.loc[cat == c, "DTHCAUS"].value_counts()
        for cause in sorted(causes.index, key=lambda x: (-causes[x], str(x))):
            if c == DEATH_FROM_ALL and cause == DEATH_FROM_ALL:
                continue
            hits.append(Hit("DTHCAUS", cause, set(dead.loc[(cat == c) & (dead["DTHCAUS"] == cause), ID]), "DTHCAT", c))
    day = pd.to_numeric(dead["DTHDY0"])
    for key, _ in death_window_labels(windows):
        w = int(key[2:])
        in_w = day <= w if key.startswith("LE") else day > w
        hits.append(Hit("DTHWIN", key, set(dead.loc[in_w, ID])))
        hits += [Hit("DTHCAT", c, set(dead.loc[in_w & (cat == c), ID]), "DTHWIN", key) for c in cats]
    return count_ard(pop, hits, by=by, by_levels=by_levels, total=total)


def deaths_rows(ard: pd.DataFrame, windows: Sequence[int]) -> list[RowSpec]:
    """:func:`summary_table` rows for :func:`deaths_ard`: category with causes, then timing."""
    _, keys, _ = _lookup(ard)
    labels = {DEATH_FROM_ALL: "Relapse/progression of ALL", NON_RELAPSE: "Non-relapse mortality"}
    rows: list[RowSpec] = [("Deaths, any cause", 0, (None, "DTHFL", "Y"), "n_pct")]
    for c in (DEATH_FROM_ALL, NON_RELAPSE):
        rows.append((labels[c], 1, (None, "DTHCAT", c), "n_pct"))
        rows += [(cause_label(k[2]), 2, k, "n_pct") for k in keys if k[0] == c and k[1] == "DTHCAUS"]
    rows.append(("Timing after CD19 CAR-T", 0, None, "header"))
    for key, label in death_window_labels(windows):
        rows.append((label, 1, (None, "DTHWIN", key), "n_pct"))
        rows += [(labels[c], 2, (key, "DTHCAT", c), "n_pct") for c in (DEATH_FROM_ALL, NON_RELAPSE)]
    return rows


# --------------------------------------------------------------------------------------------
# display


def _median_range(st: Mapping, digits: int) -> str:
    if not st or not st.get("n"):
        return formats.NE
    return (
        f"{formats.fmt_num(st.get('median'), digits)} "
        f"({formats.fmt_num(st.get('min'), 0)}, {formats.fmt_num(st.get('max'), 0)})"
    )


def summary_table(ard: pd.DataFrame, rows: Sequence[tuple], *, label_col: str = "", digits: int = 1) -> pd.DataFrame:
    """Display frame (``formats`` conventions) of chosen ARD rows, one column per group.

    ``rows``: ``(label, indent, key, kind)`` with key ``(group2_level, variable,
    variable_level)`` and kind ``"n_pct"`` (n (%) of the row's N), ``"count:<stat>"``,
    ``"median_range"`` or ``"header"`` (blank cells). A key absent from the ARD is an error (rows are explicit,
    never silently empty).
    """
    group_keys, _, table = ard_mod.index(ard)
    groups = [g[0] for g in group_keys]
    headers = [formats.header(g, _big_n(table, g)) for g in groups]
    recs = []
    for label, indent, key, kind in rows:
        if kind != "header" and key not in table:
            raise ValueError(f"summary_table: row '{label}' needs ARD key {key}, not in the ARD")
        cells = []
        for g in groups:
            st = table.get(key, {}).get((g,), {}) if key is not None else {}
            if kind == "header":
                cells.append("")
            elif kind == "n_pct":
                cells.append(formats.fmt_n_pct(st.get("n"), st.get("N")))
            elif kind.startswith("count:"):
                cells.append(str(int(st.get(kind[6:]) or 0)))
            elif kind == "median_range":
                cells.append(_median_range(st, digits))
            else:
                raise ValueError(f"summary_table: unknown row kind {kind!r} (row '{label}')")
        recs.append([label, *cells, int(indent)])
    return pd.DataFrame(recs, columns=[label_col, *headers, formats.INDENT])


def drilldown_keys(rows: Sequence[tuple]) -> list[Any]:
    """The ARD row key of each display row of :func:`summary_table` whose cells are subject
    counts (``n_pct``), None for the others — for ``formats.drilldown_cells``."""
    return [key if kind == "n_pct" else None for _, _, key, kind in rows]


def _lookup(ard: pd.DataFrame) -> tuple[list[Any], list[tuple[Any, ...]], Any]:
    """(groups, row keys, get(key, group, stat)) of an ARD through :func:`ard.index`."""
    group_keys, keys, table = ard_mod.index(ard)

    def get(key: tuple[Any, ...], group: Any, stat_name: str) -> Any:
        return table.get(key, {}).get((group,), {}).get(stat_name)

    return [g[0] for g in group_keys], keys, get


def _big_n(table: Mapping, group: Any) -> Any:
    """The group's denominator: the first N of any row."""
    return next(
        (cells[(group,)]["N"] for cells in table.values() if cells.get((group,), {}).get("N") is not None), None
    )


def stat(
    ard: pd.DataFrame,
    variable: str,
    level: Any = None,
    stat_name: str = "n",
    *,
    group: Any = TOTAL,
    group2_level: Any = None,
) -> Any:
    """One statistic of a safety ARD row by its variable/level/group (:func:`ard.stat`)."""
    return ard_mod.stat(
        ard, stat_name, group1_level=group, group2_level=group2_level, variable=variable, variable_level=level
    )


def n_pct(ard: pd.DataFrame, variable: str, level: Any = None, *, group: Any = TOTAL, group2_level: Any = None) -> str:
    """'n/N (x.x%)' of one ARD row, for interpretive text."""
    n = stat(ard, variable, level, "n", group=group, group2_level=group2_level)
    N = stat(ard, variable, level, "N", group=group, group2_level=group2_level)
    return formats.n_of_N(n, N)


# --------------------------------------------------------------------------------------------
# listings


def _subject(df: pd.DataFrame) -> pd.Series:
    """Short subject label for listings: SITEID-SUBJID when both are present, else USUBJID."""
    if {"SITEID", "SUBJID"} <= set(df.columns) and not (df["SITEID"].isna() | df["SUBJID"].isna()).any():
        return df["SITEID"].astype(str) + "-" + df["SUBJID"].astype(str)
    return df[ID].astype(str)


def _day(v: Any) -> str:
    return "" if v is None or pd.isna(v) else str(int(v))


def death_listing(
    adsl: pd.DataFrame, adae: pd.DataFrame, *, pop_flag: str = "SAFFL", by: str = "TRT01A"
) -> pd.DataFrame:
    """One row per death: subject, dose level, day, cause, category, HSCT/CD22 days, and the
    AEs with fatal outcome (PT, grade, onset day). A "No deaths" row when there are none."""
    pop = _population(adsl, pop_flag)
    frames.require_columns(pop, [by, "DTHFL", "DTHDY0", "DTHCAUS", "DTHTRTFL", "HSCTDY0", "CD22DY0"], "ADSL")
    frames.require_columns(adae, [ID, "AEDECOD", "AETOXGR", "ASTDY0", "AEOUT"], "ADAE")
    dead = pop[frames.yes(pop["DTHFL"])].sort_values(["DTHDY0", ID])
    fatal = adae[adae["AEOUT"].eq("FATAL") & adae[ID].isin(dead[ID])].sort_values([ID, "ASTDY0", "AEDECOD"])
    fatal_txt = (
        fatal.groupby(ID).apply(
            lambda d: "; ".join(f"{r.AEDECOD} (grade {int(r.AETOXGR)}, Day {_day(r.ASTDY0)})" for r in d.itertuples()),
            include_groups=False,
        )
        if len(fatal)
        else pd.Series(dtype=object)
    )
    cols = [
        "Subject",
        "Dose level",
        "Day of death",
        "Cause of death",
        "Category",
        "Allo-HSCT (day)",
        "CD22 CAR-T (day)",
        "AE with fatal outcome (grade, onset day)",
    ]
    if dead.empty:
        return pd.DataFrame([["No deaths", *[""] * (len(cols) - 1)]], columns=cols)
    out = pd.DataFrame(
        {
            "Subject": _subject(dead),
            "Dose level": dead[by].astype(str),
            "Day of death": dead["DTHDY0"].map(_day),
            "Cause of death": dead["DTHCAUS"].map(cause_label),
            "Category": frames.yes(dead["DTHTRTFL"]).map({True: "Non-relapse mortality", False: "Relapse/progression"}),
            "Allo-HSCT (day)": dead["HSCTDY0"].map(_day).replace("", "Not done"),
            "CD22 CAR-T (day)": dead["CD22DY0"].map(_day).replace("", "Not given"),
            "AE with fatal outcome (grade, onset day)": dead[ID].map(fatal_txt).fillna("–").astype(str),
        }
    )
    return out.reset_index(drop=True)


def sae_listing(adsl: pd.DataFrame, adae: pd.DataFrame, *, pop_flag: str = "SAFFL", by: str = "TRT01A") -> pd.DataFrame:
    """One row per treatment-emergent serious AE (whole study), by subject and onset; a
    "No serious adverse events" row when there are none."""
    pop = _population(adsl, pop_flag)
    need = ["AESEQ", "AEDECOD", "AETOXGR", "AESER", "AEREL", "AEOUT", "AEDLT", "ASTDY0", "AENDY0", "AONGOFL", "ADURN"]
    ae = _teae(adae, pop, need)
    keep = [c for c in (ID, by, "SITEID", "SUBJID") if c in pop.columns]
    ae = ae[frames.yes(ae["AESER"])].drop(columns=[c for c in keep if c != ID and c in ae.columns])
    ae = ae.merge(pop[keep], on=ID, how="left", validate="many_to_one")
    ae = ae.sort_values([ID, "ASTDY0", "AESEQ"])
    cols = [
        "Subject",
        "Dose level",
        "Preferred term",
        "Grade",
        "Onset / end day",
        "Duration (days)",
        "Related",
        "DLT",
        "Outcome",
    ]
    if ae.empty:
        return pd.DataFrame([["No serious adverse events", *[""] * (len(cols) - 1)]], columns=cols)
    ongoing = frames.yes(ae["AONGOFL"])
    out = pd.DataFrame(
        {
            "Subject": _subject(ae),
            "Dose level": ae[by].astype(str),
            "Preferred term": ae["AEDECOD"].astype(str),
            "Grade": ae["AETOXGR"].map(_day),
            "Onset / end day": ae["ASTDY0"].map(_day) + " / " + ae["AENDY0"].map(_day).where(~ongoing, "ongoing"),
            "Duration (days)": ae["ADURN"].map(_day) + ongoing.map({True: "+", False: ""}),
            "Related": ae["AEREL"].eq("RELATED").map({True: "Yes", False: "No"}),
            "DLT": frames.yes(ae["AEDLT"]).map({True: "Yes", False: "No"}),
            "Outcome": ae["AEOUT"].astype(str).str.capitalize(),
        }
    )
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# helpers for the chapters


def ae_filter(
    *, period: int | None = None, min_grade: int | None = None, serious: bool = False, related: bool = False
) -> Callable[[pd.DataFrame], Any]:
    """``where=`` callable for ``ard.ae_ard``: AE period, grade >= ``min_grade``, serious
    (``AESER == "Y"``), related (``AEREL == "RELATED"``); a plain boolean mask."""

    def select(d: pd.DataFrame):
        m = period_mask(d, period)
        if min_grade is not None:
            m &= pd.to_numeric(d["AETOXGR"]) >= min_grade
        if serious:
            m &= frames.yes(d["AESER"])
        if related:
            m &= d["AEREL"].eq("RELATED")
        return m.fillna(False).to_numpy(bool)

    return select


#: Worst-grade groups of the compact grade tables: label -> grades.
GRADE_GROUPS = {"1-2": (1, 2), "3-4": (3, 4), "5": (5,)}


def with_grade_group(
    adae: pd.DataFrame,
    groups: Mapping[str, Sequence[int]] = GRADE_GROUPS,
    *,
    grade: str = "AETOXGR",
    out: str = "AGRGRP",
) -> pd.DataFrame:
    """ADAE with ``out`` = the label of the group holding ``grade`` (for ``ae_ard(grade=out,
    grade_levels=list(groups))``: worst grade group per subject, in increasing severity)."""
    frames.require_columns(adae, [grade], "ADAE")
    lookup = {int(g): label for label, gs in groups.items() for g in gs}
    g = pd.to_numeric(adae[grade], errors="coerce")
    bad = g.isna() | ~g.isin(list(lookup))
    if bad.any():
        raise ValueError(
            f"ADAE: column {grade} has value(s) {sorted(map(str, adae.loc[bad, grade].unique()))} "
            f"outside the grade groups {dict(groups)} in {frames.rows_where(bad)}"
        )
    return adae.assign(**{out: g.astype(int).map(lookup)})


def grade_group_table(ae_ard: pd.DataFrame, *, group: Any = TOTAL, **kw: Any) -> pd.DataFrame:
    """``formats.ae_grade_table`` of one group (default Total) of a grade-group AE ARD, with
    columns "Any grade", "Grade 1-2", "Grade 3-4", "Grade 5" — four columns keep the SOC/PT
    labels readable on a portrait page."""
    sub = ae_ard[ae_ard["group1_level"] == group]
    if sub.empty:
        raise ValueError(f"grade_group_table: no group {group!r} in the ARD (build it with total=True)")
    keys = [s[len("n_grade_") :] for s in dict.fromkeys(sub["stat_name"]) if s.startswith("n_grade_")]
    return formats.ae_grade_table(sub, grade_labels={k: f"Grade {k}" for k in keys}, **kw)


def top_terms(ae_ard: pd.DataFrame, k: int = 3, *, group: Any = TOTAL) -> list[tuple[str, int, int]]:
    """The ``k`` most frequent preferred terms of an ``ard.ae_ard`` result in ``group``:
    [(term, n, N)] by descending n, ties alphabetical."""
    _, keys, get = _lookup(ae_ard)
    pts = [key for key in keys if key[0] is not None and get(key, group, "n")]
    pts.sort(key=lambda key: (-int(get(key, group, "n")), str(key[2])))
    return [(str(key[2]), int(get(key, group, "n")), int(get(key, group, "N"))) for key in pts[:k]]


def terms_text(ae_ard: pd.DataFrame, k: int = 3, *, group: Any = TOTAL) -> str:
    """'Pyrexia 20/46 (43.5%), Nausea ...' for interpretive text: plain text (the terms are data;
    ``chapter.text`` escapes it as a whole); 'none' when empty."""
    terms = top_terms(ae_ard, k, group=group)
    return ", ".join(f"{t} {formats.n_of_N(n, N)}" for t, n, N in terms) or "none"
