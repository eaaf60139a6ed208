"""Analysis results datasets (ARDs): long frames, one statistic per row.

Every number in a CSR table comes from an ARD built here; tables are formatted views of ARDs
(see :mod:`analysis_lib.toolkit.formats`). Columns follow the CDISC Analysis Results Standard and R's
``cards`` (docs/design.md §6)::

    group1, group1_level, group2, group2_level, variable, variable_level, stat_name, stat_value

All columns have object dtype; ``stat_value`` holds Python ``int``/``float`` (never formatted
strings) and ``None`` marks a grouping or level that does not apply. Row order is deterministic:
rows, then groups in their level order (``Total`` last), then statistics in a fixed order.
Groups with zero subjects still appear (n = 0, N = 0, p = nan).

Functions take ADaM-shaped frames with standard variable names and the grouping variable as an
argument, so they run unchanged on any study's ADaM. Bad input raises ``ValueError`` naming the
dataset, the column, the rows and the rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis_lib.toolkit import stats
from analysis_lib.toolkit.frames import flag_yes as _flag_yes
from analysis_lib.toolkit.frames import (
    is_missing as _is_missing,
)
from analysis_lib.toolkit.frames import is_missing_value
from analysis_lib.toolkit.frames import (
    no_missing as _no_missing,
)
from analysis_lib.toolkit.frames import (
    py as _py,
)
from analysis_lib.toolkit.frames import (
    require_columns as _require,
)
from analysis_lib.toolkit.frames import (
    rows_where as _rows_where,
)
from analysis_lib.toolkit.frames import (
    unique_ids as _unique_ids,
)

ARD_COLUMNS = [
    "group1",
    "group1_level",
    "group2",
    "group2_level",
    "variable",
    "variable_level",
    "stat_name",
    "stat_value",
]
#: Order of the descriptive statistics in continuous and NCA ARDs (keys of ``stats.describe``).
DESCRIBE_STATS = ("n", "mean", "sd", "median", "q1", "q3", "min", "max", "geo_mean", "geo_cv")
TOTAL = "Total"
#: Hidden column of an ARD whose counts are subjects: on each subject-count row (``n``, ``n_grade_*``)
#: the sorted tuple of the USUBJIDs it counts, None on every other row. It is the subject-level
#: companion of the ARD, filled by the same code that counts, so a count and its list of subjects
#: cannot disagree (the HTML drill-down, docs/design.md §7). :func:`check` and :func:`write` leave
#: it out (the ARD file is the same with or without it); :func:`subjects` and
#: :func:`write_subjects` give it as rows (``ard/<tlf id>-subjects.csv``).
SUBJECTS = "_subjects"


# --------------------------------------------------------------------------------------------
# the ARD itself: build, check, write, read (one way each)


def frame(rows: Sequence[tuple[Any, ...]]) -> pd.DataFrame:
    """An ARD from row tuples in :data:`ARD_COLUMNS` order (all columns object dtype). A row may
    carry a ninth element, the subjects it counts (:data:`SUBJECTS`); the frame then has that
    hidden column (None on the rows without one)."""
    rows = list(rows)
    if any(len(r) > len(ARD_COLUMNS) for r in rows):
        rows = [tuple(r) + (None,) * (len(ARD_COLUMNS) + 1 - len(r)) for r in rows]
        df = pd.DataFrame(rows, columns=[*ARD_COLUMNS, SUBJECTS], dtype=object)
    else:
        df = pd.DataFrame(rows, columns=ARD_COLUMNS, dtype=object)
    return df.astype(object).reset_index(drop=True)


def subject_ids(ids: Any) -> tuple[str, ...]:
    """The subjects of one count as the :data:`SUBJECTS` cell holds them: sorted, unique, text."""
    return tuple(sorted({str(i) for i in ids}))


SUBJECT_KEY_COLUMNS = [c for c in ARD_COLUMNS if c != "stat_value"]


def subjects(ard: pd.DataFrame, id_var: str = "USUBJID", what: str = "ARD") -> pd.DataFrame:
    """The subject-level companion of ``ard``: one row per subject of every subject count (the
    ARD row's keys, ``stat_name`` and ``id_var``), in ARD order, subjects sorted. Every list is
    checked against its count first: a list whose length differs from ``stat_value`` is an error
    naming the row (it would be a count and a list that disagree). Empty without :data:`SUBJECTS`."""
    out: list[tuple[Any, ...]] = []
    if SUBJECTS in ard.columns:
        for i, rec in enumerate(ard[[*ARD_COLUMNS, SUBJECTS]].to_dict("records")):
            ids = rec[SUBJECTS]
            if not isinstance(ids, tuple):
                continue
            if _py(rec["stat_value"]) != len(ids):
                key = ", ".join(f"{c}={_key(rec[c])!r}" for c in SUBJECT_KEY_COLUMNS if _key(rec[c]) is not None)
                raise ValueError(f"{what}: row {i} ({key}) counts {rec['stat_value']} subjects but lists {len(ids)}")
            out.extend((*(_key(rec[c]) for c in SUBJECT_KEY_COLUMNS), s) for s in ids)
    return pd.DataFrame(out, columns=[*SUBJECT_KEY_COLUMNS, id_var], dtype=object)


def has_subjects(ard: pd.DataFrame) -> bool:
    """True when ``ard`` carries the subjects of its counts (:data:`SUBJECTS`)."""
    return SUBJECTS in ard.columns and bool(ard[SUBJECTS].map(lambda v: isinstance(v, tuple)).any())


def write_subjects(ard: pd.DataFrame, path: Path, id_var: str = "USUBJID", what: str = "ARD") -> Path:
    """Write :func:`subjects` of ``ard`` as CSV, deterministically and atomically."""
    from analysis_lib.toolkit.files import atomic_write

    data = subjects(ard, id_var, what).to_csv(index=False, lineterminator="\n")
    atomic_write(Path(path), data.encode("utf-8"))
    return Path(path)


def read_subjects(path: Path) -> pd.DataFrame:
    """A subject companion written by :func:`write_subjects` (blank keys as None, numbers as numbers)."""
    df = pd.read_csv(path, dtype=object, keep_default_na=False, na_values=[""])
    df = df.astype(object).where(df.notna(), None)
    df["variable_level"] = df["variable_level"].map(_number).astype(object)
    df["group2_level"] = df["group2_level"].map(_number).astype(object)
    return df


def check(ard: pd.DataFrame, what: str = "ARD") -> pd.DataFrame:
    """The one ARD schema check: a DataFrame with every column of :data:`ARD_COLUMNS` and a
    statistic name on every row. Returns the ARD restricted to those columns, in that order."""
    if not isinstance(ard, pd.DataFrame):
        raise ValueError(f"{what}: expected an ARD DataFrame, got {type(ard).__name__}")
    missing = [c for c in ARD_COLUMNS if c not in ard.columns]
    if missing:
        raise ValueError(f"{what}: missing ARD column(s) {missing}")
    bad = _is_missing(ard["stat_name"])
    if bad.any():
        raise ValueError(f"{what}: stat_name is missing in {_rows_where(bad)}")
    return ard[ARD_COLUMNS]


def write(ard: pd.DataFrame, path: Path, what: str = "ARD") -> Path:
    """Write a checked ARD as CSV, deterministically (fixed columns, row order kept, floats to
    10 significant digits, ``\\n`` line ends) and atomically (a failed run leaves no half file)."""
    from analysis_lib.toolkit.files import atomic_write

    data = check(ard, what).to_csv(index=False, lineterminator="\n", float_format="%.10g")
    atomic_write(Path(path), data.encode("utf-8"))
    return Path(path)


def _number(text: Any) -> Any:
    """A statistic read back from CSV: int or float when it is one, else the text."""
    if text is None:
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def read(path: Path) -> pd.DataFrame:
    """An ARD written by :func:`write`: blank cells as None, statistics as numbers."""
    df = pd.read_csv(path, dtype=object, keep_default_na=False, na_values=[""])
    df = df.astype(object).where(df.notna(), None)
    df["stat_value"] = df["stat_value"].map(_number).astype(object)
    return check(df, str(path))


def _key(v: Any) -> Any:
    """Key value with NaN (from a CSV round trip) and None unified to None."""
    return None if is_missing_value(v) else v


def stat(ard: pd.DataFrame, stat_name: str, **where: Any) -> Any:
    """The one statistic ``stat_name`` of the row matching ``where`` (column=value; None matches
    a blank). Zero or several matching rows is an error naming the selection — never a silent
    nan that running text would print as "not estimable"."""
    check(ard)
    unknown = [c for c in where if c not in ARD_COLUMNS]
    if unknown:
        raise ValueError(f"ARD has no column(s) {unknown}")
    mask = ard["stat_name"] == stat_name
    for col, val in where.items():
        mask &= ard[col].map(_key) == val if val is not None else ard[col].map(_key).isna()
    hits = ard.loc[mask, "stat_value"]
    if len(hits) != 1:
        sel = ", ".join(f"{k}={v!r}" for k, v in where.items())
        raise ValueError(
            f"ARD: {len(hits)} rows with stat_name={stat_name!r}"
            + (f" and {sel}" if sel else "")
            + " (exactly one expected)"
        )
    return _py(hits.iloc[0])


def index(
    ard: pd.DataFrame,
    group_cols: Sequence[str] = ("group1_level",),
    row_cols: Sequence[str] = ("group2_level", "variable", "variable_level"),
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], dict[tuple[Any, ...], dict[tuple[Any, ...], dict[str, Any]]]]:
    """(ordered group keys, ordered row keys, {row: {group: {stat: value}}}) in ARD order — how
    display frames look statistics up."""
    check(ard)
    groups: dict[tuple[Any, ...], None] = {}
    rows: dict[tuple[Any, ...], dict[tuple[Any, ...], dict[str, Any]]] = {}
    for rec in ard.to_dict("records"):
        g = tuple(_key(rec[c]) for c in group_cols)
        r = tuple(_key(rec[c]) for c in row_cols)
        groups.setdefault(g, None)
        rows.setdefault(r, {}).setdefault(g, {})[rec["stat_name"]] = _key(rec["stat_value"])
    return list(groups), list(rows), rows


def subject_index(
    ard: pd.DataFrame,
    group_cols: Sequence[str] = ("group1_level",),
    row_cols: Sequence[str] = ("group2_level", "variable", "variable_level"),
) -> dict[tuple[Any, ...], dict[tuple[Any, ...], dict[str, tuple[str, ...]]]]:
    """{row: {group: {stat: subjects}}} of the subject counts of ``ard`` (:data:`SUBJECTS`),
    keyed as :func:`index` keys its statistics; empty when the ARD carries no subjects."""
    out: dict[tuple[Any, ...], dict[tuple[Any, ...], dict[str, tuple[str, ...]]]] = {}
    if SUBJECTS not in ard.columns:
        return out
    for rec in ard.to_dict("records"):
        if isinstance(rec[SUBJECTS], tuple):
            g = tuple(_key(rec[c]) for c in group_cols)
            r = tuple(_key(rec[c]) for c in row_cols)
            out.setdefault(r, {}).setdefault(g, {})[rec["stat_name"]] = rec[SUBJECTS]
    return out


def listing_ard(body: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The records of a listing as an ARD: one row per cell (group1 ``row`` = the listing row
    number from 1, variable = the column header, stat_name ``value``, stat_value = the text shown)."""
    rows = [
        ("row", i, None, None, col, None, "value", str(rec[col]))
        for i, rec in enumerate(body[list(columns)].to_dict("records"), start=1)
        for col in columns
    ]
    return frame(rows)


# --------------------------------------------------------------------------------------------
# helpers


def _frame(rows: list[tuple]) -> pd.DataFrame:
    """Rows -> ARD frame with exactly ARD_COLUMNS, all object dtype."""
    return frame(rows)


def _levels(values: pd.Series, declared: Sequence | None, what: str, col: str) -> list:
    """Level order: declared list, else categorical categories, else sorted observed values."""
    observed = values[~_is_missing(values)]
    if declared is not None:
        declared = list(declared)
        extra = observed[~observed.isin(declared)]
        if len(extra):
            raise ValueError(
                f"{what}: column {col} has value(s) {sorted(map(str, extra.unique()))} "
                f"not among the declared levels {declared} "
                f"({_rows_where(~_is_missing(values) & ~values.isin(declared))})"
            )
        return declared
    if isinstance(values.dtype, pd.CategoricalDtype):
        return list(values.cat.categories)
    return sorted(observed.unique(), key=lambda v: (str(type(v)), v))


def group_masks(
    df: pd.DataFrame, by: str | None, by_levels: Sequence | None, total: bool, what: str
) -> list[tuple[Any, pd.Series]]:
    """[(group level, row mask)] for each by level (+ Total); [(None, all)] when by is None."""
    everyone = pd.Series(True, index=df.index)
    if by is None:
        return [(None, everyone)]
    _no_missing(df, by, what)
    levels = _levels(df[by], by_levels, what, by)
    if total and TOTAL in [str(v) for v in levels]:
        raise ValueError(
            f"{what}: column {by} has a level named {TOTAL!r}, which clashes with the "
            "Total column; rename the level or use total=False"
        )
    out = [(lvl, df[by] == lvl) for lvl in levels]
    if total:
        out.append((TOTAL, everyone))
    return out


def _group_cols(by: str | None, level: Any) -> tuple:
    return (by, _py(level)) if by is not None else (None, None)


def _apply_where(df: pd.DataFrame, where: Mapping[str, Any] | Callable | None, what: str) -> pd.DataFrame:
    """Subset by {column: value or list of values} or by a callable frame -> boolean mask."""
    if where is None:
        return df
    if callable(where):
        mask = pd.Series(where(df), index=df.index)
        if mask.dtype != bool:
            raise ValueError(f"{what}: the where= callable must return a boolean mask")
        return df[mask]
    _require(df, list(where), what)
    mask = pd.Series(True, index=df.index)
    for col, val in where.items():
        vals = list(val) if isinstance(val, (list, tuple, set, frozenset)) else [val]
        mask &= df[col].isin(vals)
    return df[mask]


def _select_param(df: pd.DataFrame, paramcd: str | None, what: str) -> pd.DataFrame:
    """The records of one PARAMCD (all records when ``paramcd`` is None); none is an error."""
    if paramcd is None:
        return df
    data = df[df["PARAMCD"] == paramcd]
    if data.empty:
        raise ValueError(
            f"{what}: no records with PARAMCD == {paramcd!r}; "
            f"available: {sorted(map(str, df['PARAMCD'].unique()))[:20]}"
        )
    return data


def _p(n: int, N: int) -> float:
    return n / N if N else math.nan


def _level_key(v: Any) -> str:
    """String key of a grade level: 3, 3.0 and "3" all give "3"."""
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v).strip()


# --------------------------------------------------------------------------------------------
# adverse events


def ae_ard(
    adsl: pd.DataFrame,
    adae: pd.DataFrame,
    *,
    by: str | None = "TRT01A",
    pop_flag: str | None = "SAFFL",
    teae_flag: str | None = "TRTEMFL",
    by_levels: Sequence | None = None,
    total: bool = False,
    grade: str | None = None,
    grade_levels: Sequence | None = None,
    high_grade: Any = "default",
    where: Mapping[str, Any] | Callable | None = None,
    soc: str = "AEBODSYS",
    pt: str = "AEDECOD",
    id_var: str = "USUBJID",
) -> pd.DataFrame:
    """Subjects and events with adverse events: any AE, by SOC and by SOC/PT (docs/design.md §6).

    Denominators N are the ADSL subjects with ``pop_flag == "Y"`` per ``by`` level (the subject's
    group is taken from ADSL, not ADAE); ADAE records of subjects outside the population are not
    counted. Statistics per row and group: ``n`` (subjects with >= 1 event), ``N``, ``p`` (n/N),
    ``events`` (records). ``variable`` is "ANY" for the any-AE row, ``soc`` for SOC rows, and
    ``pt`` (with ``group2 = soc``) for PT rows.

    ``grade`` (e.g. "AETOXGR" or "AESEV") adds the worst grade per subject and row:
    ``n_grade_<g>``/``p_grade_<g>`` for each level of ``grade_levels`` (default 1..5 for numeric
    grades) and ``n_grade_ge<h>``/``p_grade_ge<h>`` for grade >= ``high_grade`` (default 3 for the
    numeric default levels, none otherwise). ``where`` restricts the AE records further, as
    ``{"AESER": "Y"}`` / ``{"APERIOD": [1]}`` or a callable ``adae -> bool mask``. ``total=True``
    adds a "Total" group over all ``by`` levels.
    """
    _require(adsl, [id_var, by, pop_flag], "ADSL")
    _require(adae, [id_var, soc, pt, teae_flag, grade], "ADAE")
    pop = adsl[_flag_yes(adsl, pop_flag)] if pop_flag else adsl
    _unique_ids(pop, id_var, "ADSL")
    groups = group_masks(pop, by, by_levels, total, f"ADSL ({pop_flag} == 'Y')" if pop_flag else "ADSL")

    unknown = ~adae[id_var].isin(adsl[id_var])
    if unknown.any():
        raise ValueError(
            f"ADAE: {id_var} not found in ADSL in {_rows_where(unknown)}: "
            f"{sorted(adae.loc[unknown, id_var].unique())[:5]}"
        )
    ae = adae[_flag_yes(adae, teae_flag)] if teae_flag else adae
    ae = _apply_where(ae, where, "ADAE")
    ae = ae[ae[id_var].isin(pop[id_var])]
    for col in (soc, pt):
        _no_missing(ae, col, "ADAE")
    keep = [id_var, soc, pt] + ([grade] if grade else [])
    ae = ae[keep].copy()
    if by is not None:
        ae = ae.merge(pop[[id_var, by]], on=id_var, how="left", validate="many_to_one")

    grade_keys: list[str] = []
    high_rank = None
    if grade:
        _no_missing(ae, grade, "ADAE")
        if grade_levels is None:
            ctcae = {"1", "2", "3", "4", "5"}
            if not set(ae[grade].map(_level_key)) <= ctcae:
                raise ValueError(
                    f"ADAE: grade column {grade} is not a 1-5 grade; pass grade_levels "
                    "in increasing severity, e.g. ['MILD', 'MODERATE', 'SEVERE']"
                )
            grade_levels = [1, 2, 3, 4, 5]
            if high_grade == "default":
                high_grade = 3
        if high_grade == "default":
            high_grade = None
        grade_keys = [_level_key(g) for g in grade_levels]
        keys = ae[grade].map(_level_key)
        bad = ~keys.isin(grade_keys)
        if bad.any():
            raise ValueError(
                f"ADAE: column {grade} has value(s) {sorted(keys[bad].unique())} "
                f"outside the grade levels {grade_keys} in {_rows_where(bad)}"
            )
        ae["_grank"] = keys.map({k: i for i, k in enumerate(grade_keys)}).astype(int)
        if high_grade is not None:
            if _level_key(high_grade) not in grade_keys:
                raise ValueError(f"ae_ard: high_grade {high_grade!r} is not one of {grade_keys}")
            high_rank = grade_keys.index(_level_key(high_grade))

    big_n = [int(mask.sum()) for _, mask in groups]
    ae_masks = [
        pd.Series(True, index=ae.index) if by is None or (total and lvl == TOTAL) else ae[by] == lvl
        for lvl, _ in groups
    ]

    rows: list[tuple] = []

    def add(recs: pd.DataFrame, g2: tuple, var: str, var_level: Any) -> None:
        for (lvl, _), N, m in zip(groups, big_n, ae_masks):
            sub = recs[m.loc[recs.index]]
            n = int(sub[id_var].nunique())
            g1 = _group_cols(by, lvl)
            st: list[tuple[str, Any, Any]] = [
                ("n", n, subject_ids(sub[id_var])), ("N", N, None), ("p", _p(n, N), None), ("events", len(sub), None)
            ]  # fmt: skip
            if grade:
                worst = sub.groupby(id_var)["_grank"].max()
                counts = worst.value_counts()
                for i, k in enumerate(grade_keys):
                    c = int(counts.get(i, 0))
                    st += [(f"n_grade_{k}", c, subject_ids(worst.index[worst == i])), (f"p_grade_{k}", _p(c, N), None)]
                if high_rank is not None:
                    c = int((worst >= high_rank).sum())
                    ge = grade_keys[high_rank]
                    st += [(f"n_grade_ge{ge}", c, subject_ids(worst.index[worst >= high_rank])),
                           (f"p_grade_ge{ge}", _p(c, N), None)]  # fmt: skip
            rows.extend((*g1, *g2, var, _py(var_level), s, _py(v), ids) for s, v, ids in st)

    add(ae, (None, None), "ANY", None)
    for soc_val in sorted(ae[soc].unique(), key=str):
        in_soc = ae[ae[soc] == soc_val]
        add(in_soc, (None, None), soc, soc_val)
        for pt_val in sorted(in_soc[pt].unique(), key=str):
            add(in_soc[in_soc[pt] == pt_val], (soc, soc_val), pt, pt_val)
    return _frame(rows)


# --------------------------------------------------------------------------------------------
# categorical and continuous summaries


def _denominators(groups, df, denominator, id_var, what) -> list[int]:
    """N per group: rows (or distinct ids) of df, or a mapping level -> N."""
    if denominator is None:
        return [int(df.loc[m, id_var].nunique()) if id_var else int(m.sum()) for _, m in groups]
    if isinstance(denominator, Mapping):
        return [
            int(denominator.get(TOTAL, sum(denominator.values())) if lvl == TOTAL else denominator.get(lvl, 0))
            for lvl, _ in groups
        ]
    raise ValueError(f"{what}: denominator must be None, a DataFrame or a mapping level -> N")


def categorical_ard(
    df: pd.DataFrame,
    variables: str | Sequence[str],
    by: str | None = None,
    denominator: pd.DataFrame | Mapping | None = None,
    *,
    levels: Mapping[str, Sequence] | None = None,
    by_levels: Sequence | None = None,
    total: bool = False,
    id_var: str | None = None,
    missing_label: str = "Missing",
) -> pd.DataFrame:
    """Counts ``n``, denominators ``N`` and proportions ``p`` for each level of each variable.

    Level order per variable: ``levels[var]``, else the categories of a categorical column, else
    sorted observed values; declared levels with no subjects appear with n = 0, and values outside
    declared levels are an error. Missing values are counted in a ``missing_label`` level (shown
    only when present). N is the number of rows per ``by`` level (distinct ``id_var`` when given),
    or taken from ``denominator``: a frame (e.g. the ADSL population, whose ``by`` levels then
    define the groups, including ones with no records in ``df``) or a mapping level -> N.
    """
    variables = [variables] if isinstance(variables, str) else list(variables)
    _require(df, [*variables, by, id_var], "categorical_ard data")
    levels = dict(levels or {})
    if isinstance(denominator, pd.DataFrame):
        _require(denominator, [by, id_var], "categorical_ard denominator")
        den_groups = group_masks(denominator, by, by_levels, total, "categorical_ard denominator")
        big_n = [int(denominator.loc[m, id_var].nunique()) if id_var else int(m.sum()) for _, m in den_groups]
        by_levels = [lvl for lvl, _ in den_groups if not (total and lvl == TOTAL)] if by else None
        groups = group_masks(df, by, by_levels, total, "categorical_ard data")
    else:
        groups = group_masks(df, by, by_levels, total, "categorical_ard data")
        big_n = _denominators(groups, df, denominator, id_var, "categorical_ard")

    rows: list[tuple] = []
    for var in variables:
        col = df[var]
        miss = _is_missing(col)
        lv = _levels(col, levels.get(var), "categorical_ard data", var)
        keys = [(lvl, col == lvl) for lvl in lv]
        if miss.any():
            keys.append((missing_label, miss))
        for lvl, is_lvl in keys:
            for (g, gm), N in zip(groups, big_n):
                sel = gm & is_lvl
                n = int(df.loc[sel, id_var].nunique()) if id_var else int(sel.sum())
                g1 = _group_cols(by, g)
                rows.extend(
                    (*g1, None, None, var, _py(lvl), s, _py(v)) for s, v in (("n", n), ("N", N), ("p", _p(n, N)))
                )
    return _frame(rows)


def _numeric(df: pd.DataFrame, col: str, what: str) -> pd.Series:
    num = pd.to_numeric(df[col], errors="coerce")
    bad = num.isna() & ~_is_missing(df[col])
    if bad.any():
        raise ValueError(
            f"{what}: column {col} must be numeric; non-numeric values "
            f"{sorted(map(str, df.loc[bad, col].unique()))[:5]} in {_rows_where(bad)}"
        )
    return num.astype(float)


def _describe_rows(
    values: pd.Series, g1: tuple, g2: tuple, var: str, var_level: Any, extra: Sequence[tuple] = ()
) -> list[tuple]:
    d = stats.describe(values.to_numpy(dtype=float))
    out = [(*g1, *g2, var, var_level, s, _py(d[s])) for s in DESCRIBE_STATS]
    out.extend((*g1, *g2, var, var_level, s, _py(v)) for s, v in extra)
    return out


def continuous_ard(
    df: pd.DataFrame,
    variables: str | Sequence[str],
    by: str | None = None,
    *,
    by_levels: Sequence | None = None,
    total: bool = False,
) -> pd.DataFrame:
    """Descriptive statistics (``stats.describe``) per variable and ``by`` level.

    Statistics: n, mean, sd, median, q1, q3, min, max, geo_mean, geo_cv (of the non-missing
    values) and ``nmiss`` (missing values, reported rather than dropped silently).
    """
    variables = [variables] if isinstance(variables, str) else list(variables)
    _require(df, [*variables, by], "continuous_ard data")
    groups = group_masks(df, by, by_levels, total, "continuous_ard data")
    rows: list[tuple] = []
    for var in variables:
        num = _numeric(df, var, "continuous_ard data")
        for g, gm in groups:
            vals = num[gm]
            rows += _describe_rows(
                vals.dropna(), _group_cols(by, g), (None, None), var, None, extra=[("nmiss", int(vals.isna().sum()))]
            )
    return _frame(rows)


# --------------------------------------------------------------------------------------------
# response rates


def response_ard(
    df: pd.DataFrame,
    responder: str,
    by: str | None = None,
    *,
    values: Sequence | None = None,
    paramcd: str | None = None,
    denominator: pd.DataFrame | None = None,
    id_var: str = "USUBJID",
    conf_level: float = 0.95,
    by_levels: Sequence | None = None,
    total: bool = False,
) -> pd.DataFrame:
    """Response rate with exact (Clopper-Pearson) CI: n, N, p, ci_low, ci_high per ``by`` level.

    ``df`` is subject-level (ADSL, or ADRS restricted by ``paramcd`` to one record per subject).
    A responder has ``responder == "Y"`` (or 1), or, with ``values``, ``responder`` in ``values``
    (e.g. ``responder="AVALC", values=["CR", "PR"]``). With ``denominator`` (e.g. the efficacy
    population from ADSL) N and the groups come from it and its subjects without a record in
    ``df`` count as non-responders.
    """
    _require(df, [id_var, responder, by, "PARAMCD" if paramcd else None], "response_ard data")
    data = _select_param(df, paramcd, "response_ard data")
    _unique_ids(data, id_var, "response_ard data")
    if values is not None:
        resp = data[responder].isin(list(values))
        var_level = "+".join(map(str, values))
    else:
        raw = data[responder].map(lambda v: str(v).strip())
        resp = raw.isin(["Y", "1", "1.0"])
        bad = ~(resp | raw.isin(["N", "0", "0.0"]))
        if bad.any():
            raise ValueError(
                f"response_ard data: responder flag {responder} must be Y/N or 1/0; "
                f"found {sorted(raw[bad].unique())} in {_rows_where(bad)}; pass values= "
                "to define responders from a category column"
            )
        var_level = "Y"
    responders = set(data.loc[resp, id_var])
    if denominator is not None:
        _require(denominator, [id_var, by], "response_ard denominator")
        _unique_ids(denominator, id_var, "response_ard denominator")
        base = denominator
    else:
        base = data
    groups = group_masks(
        base, by, by_levels, total, "response_ard " + ("denominator" if denominator is not None else "data")
    )
    variable = paramcd if paramcd is not None else responder
    rows: list[tuple] = []
    for g, gm in groups:
        ids = base.loc[gm, id_var]
        N = len(ids)
        n = int(ids.isin(responders).sum())
        lo, hi = stats.clopper_pearson(n, N, conf_level) if N else (math.nan, math.nan)
        g1 = _group_cols(by, g)
        counted = subject_ids(ids[ids.isin(responders)])
        rows.extend(
            (*g1, None, None, variable, var_level, s, _py(v), counted if s == "n" else None)
            for s, v in (("n", n), ("N", N), ("p", _p(n, N)), ("ci_low", lo), ("ci_high", hi))
        )
    return _frame(rows)


# --------------------------------------------------------------------------------------------
# time to event


def km_ard(
    adtte: pd.DataFrame,
    paramcd: str | None = None,
    by: str | None = None,
    *,
    landmarks: Sequence[float] = (),
    time_var: str = "AVAL",
    cnsr_var: str = "CNSR",
    conf_type: str = "log-log",
    conf_level: float = 0.95,
    by_levels: Sequence | None = None,
    total: bool = False,
    id_var: str = "USUBJID",
) -> pd.DataFrame:
    """Kaplan-Meier summary per ``by`` level (``stats.kaplan_meier``; ``CNSR == 1`` is censored).

    Rows with ``variable_level = None``: n, events, censored, median, median_ci_low,
    median_ci_high (nan = not reached / not estimable). For each landmark time (in the unit of
    ``time_var``: days for AVAL, months for e.g. AVALM) a row block with ``variable_level`` = the
    landmark: surv, surv_ci_low, surv_ci_high, n_risk.
    """
    _require(adtte, [id_var, time_var, cnsr_var, by, "PARAMCD" if paramcd else None], "ADTTE")
    data = _select_param(adtte, paramcd, "ADTTE")
    _unique_ids(data, id_var, f"ADTTE (PARAMCD {paramcd})" if paramcd else "ADTTE")
    time = _numeric(data, time_var, "ADTTE")
    cnsr = _numeric(data, cnsr_var, "ADTTE")
    bad = time.isna() | cnsr.isna() | ~cnsr.isin([0.0, 1.0]) | (time < 0)
    if bad.any():
        raise ValueError(
            f"ADTTE: {time_var} must be a non-negative number and {cnsr_var} 0 or 1; violated in {_rows_where(bad)}"
        )
    groups = group_masks(data, by, by_levels, total, "ADTTE")
    variable = paramcd if paramcd is not None else time_var
    lms = [float(t) for t in landmarks]
    rows: list[tuple] = []
    for g, gm in groups:
        t, c = time[gm].to_numpy(), cnsr[gm].to_numpy()
        n, events = len(t), int((c == 0).sum())
        g1 = _group_cols(by, g)
        if n:
            km = stats.kaplan_meier(t, (c == 0).astype(int), conf_type=conf_type, conf_level=conf_level)
            med, (mlo, mhi) = km.median, km.median_ci
            surv = km.survival(lms) if lms else []
            ci = km.survival_ci(lms) if lms else []
            risk = km.n_at_risk(lms) if lms else []
        else:
            med = mlo = mhi = math.nan
            surv, ci, risk = [math.nan] * len(lms), [(math.nan, math.nan)] * len(lms), [0] * len(lms)
        rows.extend(
            (*g1, None, None, variable, None, s, _py(v))
            for s, v in (
                ("n", n),
                ("events", events),
                ("censored", n - events),
                ("median", float(med)),
                ("median_ci_low", float(mlo)),
                ("median_ci_high", float(mhi)),
            )
        )
        for lm, s_, (lo, hi), r in zip(landmarks, surv, ci, risk):
            rows.extend(
                (*g1, None, None, variable, _py(lm), s, _py(v))
                for s, v in (
                    ("surv", float(s_)),
                    ("surv_ci_low", float(lo)),
                    ("surv_ci_high", float(hi)),
                    ("n_risk", int(r)),
                )
            )
    return _frame(rows)


def cr_status(adtte: pd.DataFrame, cnsr_var: str = "CNSR", competing_var: str = "CMPEVFL") -> np.ndarray:
    """Competing-risks status of ADTTE rows: 1 = event of interest (CNSR 0), 2 = competing event
    (CNSR 1 with ``competing_var`` "Y"), 0 = censored."""
    cnsr = pd.to_numeric(adtte[cnsr_var], errors="coerce").to_numpy(float)
    comp = (adtte[competing_var].astype(str) == "Y").to_numpy()
    return np.where(cnsr == 0, 1, np.where(comp, 2, 0))


def cif_ard(
    adtte: pd.DataFrame,
    paramcd: str | None = None,
    by: str | None = None,
    *,
    landmarks: Sequence[float] = (),
    time_var: str = "AVAL",
    cnsr_var: str = "CNSR",
    competing_var: str = "CMPEVFL",
    conf_level: float = 0.95,
    by_levels: Sequence | None = None,
    total: bool = False,
    id_var: str = "USUBJID",
) -> pd.DataFrame:
    """Cumulative incidence (Aalen-Johansen, ``stats.cumulative_incidence``) per ``by`` level.

    ADTTE convention for competing risks: ``CNSR == 0`` is the event of interest, ``CNSR == 1``
    with ``competing_var == "Y"`` a competing event, other ``CNSR == 1`` rows censored.
    Rows with ``variable_level = None``: n, events, competing, censored. For each landmark (in
    the unit of ``time_var``) a block with ``variable_level`` = the landmark: estimate, ci_low,
    ci_high (log(-log)), variance (as R cmprsk), n_risk; nan beyond the last follow-up time.
    ``variable`` is the PARAMCD (or ``time_var`` without one).
    """
    _require(adtte, [id_var, time_var, cnsr_var, competing_var, by, "PARAMCD" if paramcd else None], "ADTTE")
    data = _select_param(adtte, paramcd, "ADTTE")
    _unique_ids(data, id_var, f"ADTTE (PARAMCD {paramcd})" if paramcd else "ADTTE")
    time = _numeric(data, time_var, "ADTTE")
    cnsr = _numeric(data, cnsr_var, "ADTTE")
    bad = time.isna() | cnsr.isna() | ~cnsr.isin([0.0, 1.0]) | (time < 0)
    bad |= (cnsr == 0) & (data[competing_var].astype(str) == "Y")
    if bad.any():
        raise ValueError(
            f"ADTTE: {time_var} must be a non-negative number, {cnsr_var} 0 or 1 and "
            f"{competing_var} not 'Y' on an event (CNSR 0); violated in {_rows_where(bad)}"
        )
    status = pd.Series(cr_status(data, cnsr_var, competing_var), index=data.index)
    groups = group_masks(data, by, by_levels, total, "ADTTE")
    variable = paramcd if paramcd is not None else time_var
    lms = [float(t) for t in landmarks]
    rows: list[tuple] = []
    for g, gm in groups:
        t, st = time[gm].to_numpy(), status[gm].to_numpy()
        g1 = _group_cols(by, g)
        n = len(t)
        rows.extend(
            (*g1, None, None, variable, None, s, _py(v))
            for s, v in (
                ("n", n),
                ("events", int((st == 1).sum())),
                ("competing", int((st == 2).sum())),
                ("censored", int((st == 0).sum())),
            )
        )
        if n:
            cif = stats.cumulative_incidence(t, st, cause=1, conf_level=conf_level)
            est, var, ci, risk = cif.estimate(lms), cif.variance(lms), cif.ci(lms), cif.n_at_risk(lms)
        else:
            est = var = [math.nan] * len(lms)
            ci, risk = [(math.nan, math.nan)] * len(lms), [0] * len(lms)
        for lm, e, v, (lo, hi), r in zip(landmarks, est, var, ci, risk):
            rows.extend(
                (*g1, None, None, variable, _py(lm), s, _py(x))
                for s, x in (
                    ("estimate", float(e)),
                    ("ci_low", float(lo)),
                    ("ci_high", float(hi)),
                    ("variance", float(v)),
                    ("n_risk", int(r)),
                )
            )
    return _frame(rows)


# --------------------------------------------------------------------------------------------
# cellular kinetics / PK parameters


def nca_ard(
    adpp: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    *,
    params: Sequence[str] | None = None,
    param_var: str = "PARAMCD",
    value_var: str = "AVAL",
    unit_var: str | None = None,
    id_var: str = "USUBJID",
) -> pd.DataFrame:
    """Summary of NCA parameters (one record per subject, parameter and group) per group.

    ``by`` is one column or a list: the first goes to group1, the second to group2; further
    columns are joined into group2 / group2_level with " / " (e.g. product x specimen x method).
    Groups are the observed combinations in sorted (or categorical) order. ``variable`` is the
    parameter code, ``variable_level`` its unit when ``unit_var`` is given (must be unique per
    parameter within a group). Statistics as :func:`continuous_ard` (n, mean, sd, median, q1, q3, min, max,
    geo_mean, geo_cv) plus ``nmiss``.
    """
    by_cols = [] if by is None else ([by] if isinstance(by, str) else list(by))
    _require(adpp, [id_var, param_var, value_var, unit_var, *by_cols], "ADPP")
    data = adpp
    present = list(dict.fromkeys(map(str, adpp[param_var])))
    if params is not None:
        missing = [p for p in params if p not in present]
        if missing:
            raise ValueError(f"ADPP: parameter(s) {missing} not found in {param_var}; available: {sorted(present)}")
        data = adpp[adpp[param_var].isin(list(params))]
        param_order = list(params)
    else:
        param_order = sorted(present)
    for col in [param_var, *by_cols]:
        _no_missing(data, col, "ADPP")
    dup = data.duplicated([id_var, param_var, *by_cols], keep=False)
    if dup.any():
        raise ValueError(
            f"ADPP: more than one record per {id_var} x {param_var}"
            f"{' x ' + ' x '.join(by_cols) if by_cols else ''} in {_rows_where(dup)}; "
            "restrict the data (e.g. one analysis visit/method) first"
        )
    values = _numeric(data, value_var, "ADPP")

    if by_cols:
        combos = data[by_cols].drop_duplicates()
        sort_keys = {
            c: (
                data[c].cat.codes.reindex(combos.index)
                if isinstance(data[c].dtype, pd.CategoricalDtype)
                else combos[c].astype(str)
            )
            for c in by_cols
        }
        combos = combos.assign(**{f"_k{i}": sort_keys[c] for i, c in enumerate(by_cols)})
        combos = combos.sort_values([f"_k{i}" for i in range(len(by_cols))])[by_cols]
        combos = [tuple(r) for r in combos.itertuples(index=False)]
    else:
        combos = [()]

    def gcols(combo: tuple) -> tuple:
        if not combo:
            return (None, None, None, None)
        if len(combo) == 1:
            return (by_cols[0], _py(combo[0]), None, None)
        return (
            by_cols[0],
            _py(combo[0]),
            " / ".join(by_cols[1:]),
            _py(combo[1]) if len(combo) == 2 else " / ".join(map(str, combo[1:])),
        )

    rows: list[tuple] = []
    for combo in combos:
        gm = pd.Series(True, index=data.index)
        for c, v in zip(by_cols, combo):
            gm &= data[c] == v
        g = gcols(combo)
        for prm in param_order:
            pm = gm & (data[param_var] == prm)
            if not pm.any():
                continue
            unit = None
            if unit_var:
                units = data.loc[pm, unit_var].dropna().unique()
                if len(units) > 1:
                    raise ValueError(
                        f"ADPP: parameter {prm} has more than one unit in {unit_var} "
                        f"within group {dict(zip(by_cols, combo))}: "
                        f"{sorted(map(str, units))}; add the column that separates "
                        "them (e.g. CKMETHOD) to by"
                    )
                unit = _py(units[0]) if len(units) else None
            vals = values[pm]
            rows += _describe_rows(vals.dropna(), g[:2], g[2:], prm, unit, extra=[("nmiss", int(vals.isna().sum()))])
    return _frame(rows)


def records_ard(data: pd.DataFrame, keys: Sequence[str], values: Sequence[str]) -> pd.DataFrame:
    """Plotted records as an ARD (a figure's numbers): one row per record and value column;
    group1 = the first key column and its value, group2 = the other keys joined with " / ",
    variable = the value column, stat_name ``value``. Missing values stay None."""
    keys, values = list(keys), list(values)
    _require(data, [*keys, *values], "records_ard data")
    g2 = " / ".join(keys[1:]) or None
    rows = []
    for rec in data[[*keys, *values]].to_dict("records"):
        g2_level = " / ".join(str(rec[k]) for k in keys[1:]) or None
        for col in values:
            v = rec[col]
            rows.append(
                (keys[0], _py(rec[keys[0]]), g2, g2_level, col, None, "value", None if is_missing_value(v) else _py(v))
            )
    return frame(rows)
