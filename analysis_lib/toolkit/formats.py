"""Display frames: ARDs formatted as the string tables a CSR shows.

A display frame is a DataFrame of strings whose first column is the row label, followed by one
column per group (header with the big N, e.g. ``"DL1 1×10⁵/kg\\n(N=3)"``), plus an int column
``_indent`` (0, 1, 2) that renderers use for indentation and do not display.

Conventions (docs/design.md §6, issue 3): percentages round half away from zero (SAS) to 1 decimal, a
zero count is shown as ``"0"`` and 100% as ``"n (100)"``; a median that is not reached is ``"Not reached"``
and a limit or
estimate that cannot be estimated is ``"NE"``; estimates with CIs read ``"x.x (x.x, x.x)"``; AE
rows are SOC then indented PT, by descending frequency (ties alphabetical). Empty inputs format
cleanly: no cell ever reads "nan" or "None".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from analysis_lib.toolkit import escape, stats
from analysis_lib.toolkit.ard import TOTAL, index, subject_index
from analysis_lib.toolkit.frames import is_missing_value as _missing

NE = "NE"
NOT_REACHED = "Not reached"
NO_EVENTS = "No events"
INDENT = "_indent"


# --------------------------------------------------------------------------------------------
# scalar formatters


def fmt_num(x: Any, digits: int, na: str = NE) -> str:
    """``x`` rounded half away from zero to ``digits`` decimals; ``na`` when missing."""
    if _missing(x) or math.isinf(float(x)):
        return na
    v = stats.round_half_away(float(x), digits)
    if v == 0:
        v = 0.0  # never "-0.0"
    return f"{v:.{max(digits, 0)}f}"


def fmt_sig(x: Any, sig: int = 3, na: str = NE) -> str:
    """``x`` to ``sig`` significant figures (integer part kept whole), for PK/CK parameters."""
    if _missing(x) or math.isinf(float(x)):
        return na
    x = float(x)
    if x == 0:
        return fmt_num(0.0, sig - 1)
    digits = max(sig - 1 - math.floor(math.log10(abs(x))), 0)
    return fmt_num(x, digits)


def fmt_n_pct(n: Any, N: Any, digits: int = 1) -> str:
    """The one "n (%)" of tables and running text: ``"n (x.x)"`` with 100*n/N rounded half away
    from zero (SAS); ``"0"`` for n = 0, ``"N (100)"`` for n = N, ``"n"`` alone when N = 0
    (no denominator: no percentage)."""
    n = 0 if _missing(n) else int(n)
    denom = 0 if _missing(N) else int(N)
    if denom <= 0:
        return f"{n}"
    if n == 0:
        return "0"
    if n == denom:
        return f"{n} (100)"
    return f"{n} ({stats.round_half_away(100 * n / denom, digits):.{digits}f})"


def n_of_N(n: Any, N: Any, digits: int = 1) -> str:
    """The one "n of N" of running text: ``"n/N (x.x%)"`` with the percentage exactly as
    :func:`fmt_n_pct` shows it in tables (``"0/N"`` and ``"n/0"`` without one, ``"N/N (100%)"``)."""
    n = 0 if _missing(n) else int(n)
    denom = 0 if _missing(N) else int(N)
    pct = fmt_n_pct(n, denom, digits)[len(str(n)) :].strip(" ()")
    return f"{n}/{denom}" + (f" ({pct}%)" if pct else "")


def fmt_est_ci(
    est: Any, lo: Any, hi: Any, digits: int = 1, *, est_na: str = NE, ci_na: str = NE, scale: float = 1.0
) -> str:
    """``"x.x (x.x, x.x)"``; missing estimate -> ``est_na``, missing limit -> ``ci_na``."""

    def f(v: Any, na: str) -> str:
        return na if _missing(v) else fmt_num(float(v) * scale, digits, na)

    return f"{f(est, est_na)} ({f(lo, ci_na)}, {f(hi, ci_na)})"


def fmt_ci(lo: Any, hi: Any, digits: int = 1, *, scale: float = 1.0, na: str = NE) -> str:
    """``"(x.x, x.x)"``; ``na`` alone when both limits are missing."""
    if _missing(lo) and _missing(hi):
        return na
    f = lambda v: na if _missing(v) else fmt_num(float(v) * scale, digits, na)
    return f"({f(lo)}, {f(hi)})"


def header(level: Any, N: Any = None, overall: str = "All subjects") -> str:
    """Column header with the big N: ``"Placebo\\n(N=86)"`` (level alone when N is None)."""
    label = overall if _missing(level) else str(level)
    return label if N is None or _missing(N) else f"{label}\n(N={int(N)})"


# --------------------------------------------------------------------------------------------
# ARD access


def display_frame(records: list[tuple], label_col: str, headers: list[str]) -> pd.DataFrame:
    """Display frame from (label, indent, [cells]) records."""
    data = [[lbl, *cells, int(ind)] for lbl, ind, cells in records]
    df = pd.DataFrame(data, columns=[label_col, *headers, INDENT])
    df[INDENT] = df[INDENT].astype(int)
    return df


def _big_n(table: dict, groups: list, stat: str = "N") -> list:
    """First non-missing ``stat`` per group across rows (the group's denominator)."""
    out = []
    for g in groups:
        vals = [cells[g][stat] for cells in table.values() if g in cells and cells[g].get(stat) is not None]
        out.append(vals[0] if vals else None)
    return out


# --------------------------------------------------------------------------------------------
# adverse events


def _ae_rows(ard: pd.DataFrame, sort: str):
    """Ordered AE rows [(kind, soc, pt, row key)] sorted as a CSR shows them, and the index."""
    groups, keys, table = index(ard)
    freq_groups = [g for g in groups if g[0] == TOTAL] or groups

    def freq(key) -> int:
        return sum(int(table[key].get(g, {}).get("n") or 0) for g in freq_groups)

    socs = [k for k in keys if k[0] is None and k[1] != "ANY"]
    pts = [k for k in keys if k[0] is not None]
    order: Callable[[tuple[Any, ...]], tuple[int, str]]
    if sort == "frequency":
        order = lambda k: (-freq(k), str(k[2]))
    elif sort == "alphabetical":
        order = lambda k: (0, str(k[2]))
    else:
        raise ValueError(f"sort must be 'frequency' or 'alphabetical', not {sort!r}")
    out = [("ANY", None, None, k) for k in keys if k[1] == "ANY"]
    for s in sorted(socs, key=order):
        out.append(("SOC", s[2], None, s))
        out.extend(("PT", s[2], p[2], p) for p in sorted((p for p in pts if p[0] == s[2]), key=order))
    return groups, table, out


def ae_table(
    ard: pd.DataFrame,
    *,
    label_col: str = "System Organ Class\nPreferred Term",
    any_label: str = "Subjects with at least one adverse event",
    events: bool = False,
    sort: str = "frequency",
    no_events_label: str = NO_EVENTS,
    digits: int = 1,
) -> pd.DataFrame:
    """AE incidence table from :func:`analysis_lib.toolkit.ard.ae_ard`: n (%) per group.

    Rows: the any-AE row, then each SOC (indent 0) followed by its PTs (indent 1), sorted by
    descending frequency (the Total group's n when present, else the sum over groups; ties
    alphabetical) or ``sort="alphabetical"``. ``events=True`` appends the event count as
    ``"n (x.x) [E]"``. With no AE rows a ``no_events_label`` row follows the any-AE row.
    """
    groups, table, rows = _ae_rows(ard, sort)
    headers = [header(g[0], n) for g, n in zip(groups, _big_n(table, groups))]

    def cells(key) -> list[str]:
        out = []
        for g in groups:
            st = table[key].get(g, {})
            s = fmt_n_pct(st.get("n"), st.get("N"), digits)
            out.append(f"{s} [{int(st.get('events') or 0)}]" if events else s)
        return out

    recs = []
    for kind, soc, pt, key in rows:
        label = any_label if kind == "ANY" else (soc if kind == "SOC" else pt)
        recs.append((label, 1 if kind == "PT" else 0, cells(key)))
    if not any(kind != "ANY" for kind, *_ in rows):
        recs.append((no_events_label, 0, [""] * len(groups)))
    return display_frame(recs, label_col, headers)


def ae_row_keys(ard: pd.DataFrame, sort: str = "frequency") -> list[tuple[Any, ...] | None]:
    """The ARD row key of each display row of :func:`ae_table` (same ``sort``), for
    :func:`drilldown_cells`."""
    _, _, rows = _ae_rows(ard, sort)
    keys: list[tuple[Any, ...] | None] = [key for *_, key in rows]
    if not any(kind != "ANY" for kind, *_ in rows):
        keys.append(None)
    return keys


def _grade_label(key: str) -> str:
    return f"Grade {key}" if key.isdigit() else key.capitalize()


def ae_grade_table(
    ard: pd.DataFrame,
    *,
    label_col: str = "System Organ Class\nPreferred Term",
    any_label: str = "Subjects with at least one adverse event",
    sort: str = "frequency",
    no_events_label: str = NO_EVENTS,
    grade_labels: Mapping[str, str] | None = None,
    digits: int = 1,
) -> pd.DataFrame:
    """AE table by worst grade per subject (ARD from ``ae_ard(..., grade=...)``).

    Per group the columns are "Any grade", each grade and the high-grade summary (e.g.
    "Grade ≥3"), each cell n (%) of subjects counted once at their worst grade in that row.
    Row order as :func:`ae_table`.
    """
    groups, table, rows = _ae_rows(ard, sort)
    stat_names = list(dict.fromkeys(ard["stat_name"]))
    grades = [s[len("n_grade_") :] for s in stat_names if s.startswith("n_grade_") and not s.startswith("n_grade_ge")]
    highs = [s[len("n_grade_ge") :] for s in stat_names if s.startswith("n_grade_ge")]
    if not grades:
        raise ValueError("ARD has no worst-grade statistics (n_grade_*); build it with ae_ard(..., grade='AETOXGR')")
    names = dict(grade_labels or {})
    cols = [("n", "Any grade")] + [(f"n_grade_{g}", names.get(g, _grade_label(g))) for g in grades]
    cols += [
        (f"n_grade_ge{h}", names.get(f"ge{h}", f"Grade ≥{h}" if h.isdigit() else f"≥{h.capitalize()}")) for h in highs
    ]
    headers = [f"{header(g[0], n)}\n{lbl}" for g, n in zip(groups, _big_n(table, groups)) for _, lbl in cols]

    recs = []
    for kind, soc, pt, key in rows:
        label = any_label if kind == "ANY" else (soc if kind == "SOC" else pt)
        cells = [
            fmt_n_pct(table[key].get(g, {}).get(stat), table[key].get(g, {}).get("N"), digits)
            for g in groups
            for stat, _ in cols
        ]
        recs.append((label, 1 if kind == "PT" else 0, cells))
    if not any(kind != "ANY" for kind, *_ in rows):
        recs.append((no_events_label, 0, [""] * len(headers)))
    return display_frame(recs, label_col, headers)


# --------------------------------------------------------------------------------------------
# categorical / continuous


def categorical_table(
    ard: pd.DataFrame, *, labels: Mapping[str, str] | None = None, label_col: str = "Characteristic", digits: int = 1
) -> pd.DataFrame:
    """Variable header rows (indent 0) with their levels (indent 1) as n (%) per group."""
    groups, keys, table = index(ard)
    labels = dict(labels or {})
    headers = [header(g[0], n) for g, n in zip(groups, _big_n(table, groups))]
    recs, seen = [], set()
    for key in keys:
        var, lvl = key[1], key[2]
        if var not in seen:
            seen.add(var)
            recs.append((f"{labels.get(var, var)}, n (%)", 0, [""] * len(groups)))
        recs.append(
            (
                str(lvl),
                1,
                [fmt_n_pct(table[key].get(g, {}).get("n"), table[key].get(g, {}).get("N"), digits) for g in groups],
            )
        )
    return display_frame(recs, label_col, headers)


def describe_cells(st: Mapping[str, Any], digits: int, geometric: bool = False) -> list[tuple[str, str]]:
    """The descriptive-statistics rows of one column: n, Mean (SD), Median, Q1, Q3, Min, Max
    (and geometric mean (CV%)), from ``stats.describe`` values. Precision: mean, median and
    quartiles one decimal more than the data (``digits``), SD two more, min/max as the data.
    An empty column (n = 0) shows ``0`` and blank statistics — the one convention for empty
    groups (never a column of "NE")."""
    n = 0 if _missing(st.get("n")) else int(st["n"])
    d = digits
    rows = [
        ("n", str(n)),
        ("Mean (SD)", f"{fmt_num(st.get('mean'), d + 1)} ({fmt_num(st.get('sd'), d + 2)})"),
        ("Median", fmt_num(st.get("median"), d + 1)),
        ("Q1, Q3", f"{fmt_num(st.get('q1'), d + 1)}, {fmt_num(st.get('q3'), d + 1)}"),
        ("Min, Max", f"{fmt_num(st.get('min'), d)}, {fmt_num(st.get('max'), d)}"),
    ]
    if geometric:
        rows.append(("Geometric mean (CV%)", f"{fmt_num(st.get('geo_mean'), d + 1)} ({fmt_num(st.get('geo_cv'), 1)})"))
    return [(name, text if name == "n" or n else "") for name, text in rows]


def continuous_table(
    ard: pd.DataFrame,
    *,
    labels: Mapping[str, str] | None = None,
    digits: int | Mapping[str, int] = 0,
    geometric: bool = False,
    big_n: Mapping[Any, int] | None = None,
    label_col: str = "Characteristic",
) -> pd.DataFrame:
    """Descriptive statistics per variable (ARD from ``continuous_ard``).

    ``digits`` is the precision of the raw data (per variable if a mapping); as is customary,
    mean, median and quartiles get one more decimal, SD two more, min/max the raw precision.
    ``big_n`` maps group level -> N for the headers (none shown otherwise).
    """
    groups, keys, table = index(ard)
    labels = dict(labels or {})
    headers = [header(g[0], (big_n or {}).get(g[0])) for g in groups]
    recs = []
    for key in keys:
        var = key[1]
        d = digits.get(var, 0) if isinstance(digits, Mapping) else int(digits)
        st = lambda g: table[key].get(g, {})
        recs.append((labels.get(var, var), 0, [""] * len(groups)))
        names = [name for name, _ in describe_cells({}, d, geometric)]
        cells = [dict(describe_cells(st(g), d, geometric)) for g in groups]
        recs.extend((name, 1, [c[name] for c in cells]) for name in names)
    return display_frame(recs, label_col, headers)


# --------------------------------------------------------------------------------------------
# response, time to event, kinetics


def response_table(
    ard: pd.DataFrame,
    *,
    labels: Mapping[str, str] | None = None,
    ci_label: str = "95% CI (exact)",
    digits: int = 1,
    label_col: str = "Response",
) -> pd.DataFrame:
    """Per response variable: "n (%)" row and its Clopper-Pearson CI row "(x.x, x.x)" in %."""
    groups, keys, table = index(ard)
    labels = dict(labels or {})
    headers = [header(g[0], n) for g, n in zip(groups, _big_n(table, groups))]
    recs = []
    for key in keys:
        var = key[1]
        st = [table[key].get(g, {}) for g in groups]
        recs.append((f"{labels.get(var, var)}, n (%)", 0, [fmt_n_pct(s.get("n"), s.get("N"), digits) for s in st]))
        recs.append((ci_label, 1, [fmt_ci(s.get("ci_low"), s.get("ci_high"), digits, scale=100.0) for s in st]))
    return display_frame(recs, label_col, headers)


def drilldown_cells(
    ard: pd.DataFrame, row_keys: Sequence[tuple[Any, ...] | None], stat_name: str = "n"
) -> dict[tuple[int, int], tuple[str, ...]]:
    """The subjects behind each count of a display frame built from ``ard``: {(display row,
    display column): subjects} for every cell whose ARD row (``row_keys[i]``: the key
    ``(group2_level, variable, variable_level)`` of display row i, None for a row without counts)
    carries the subjects of its ``stat_name`` (:data:`ard.SUBJECTS`). Column j >= 1 is the j-th
    group in ARD order, as in the tables of this module; cells counting nobody are left out."""
    groups, _, _ = index(ard)
    subj = subject_index(ard)
    cells: dict[tuple[int, int], tuple[str, ...]] = {}
    for i, key in enumerate(row_keys):
        if key is None:
            continue
        for j, g in enumerate(groups, start=1):
            ids = subj.get(tuple(key), {}).get(g, {}).get(stat_name)
            if ids:
                cells[(i, j)] = ids
    return cells


def response_row_keys(ard: pd.DataFrame) -> list[tuple[Any, ...] | None]:
    """The ARD row key of each display row of :func:`response_table` (its CI rows: None)."""
    _, keys, _ = index(ard)
    return [k for key in keys for k in (key, None)]


def _landmark_label(t: Any, time_unit: str, labels: Mapping | None) -> str:
    """``labels[t]`` (e.g. "24 months" for Day 730), else "<t> <time_unit>"."""
    if labels:
        for k, v in labels.items():
            if not _missing(t) and float(k) == float(t):
                return str(v)
    t_lbl = f"{float(t):g}" if isinstance(t, (int, float)) else str(t)
    return f"{t_lbl} {time_unit}"


def km_table(
    ard: pd.DataFrame,
    *,
    time_unit: str = "days",
    ci_label: str = "95% CI",
    digits: int = 1,
    label_col: str = "Statistic",
    landmark_labels: Mapping | None = None,
    median_scale: float = 1.0,
    median_unit: str | None = None,
) -> pd.DataFrame:
    """Kaplan-Meier summary (ARD from ``km_ard``): subjects, events, censored, median (CI),
    landmark rates in % (CI) and numbers at risk; header N is the group's subject count.

    ``landmark_labels`` maps a landmark time to its label (e.g. 730 -> "24 months"); the median is
    shown times ``median_scale`` in ``median_unit`` (default ``time_unit``), e.g. days -> months."""
    groups, keys, table = index(ard)
    headers = [header(g[0], n) for g, n in zip(groups, _big_n(table, groups, "n"))]
    recs = []
    summary = [k for k in keys if k[2] is None]
    for key in summary:
        st = [table[key].get(g, {}) for g in groups]
        recs.append(("Subjects, n", 0, [str(int(s.get("n") or 0)) for s in st]))
        recs.append(("Events, n (%)", 0, [fmt_n_pct(s.get("events"), s.get("n")) for s in st]))
        recs.append(("Censored, n (%)", 0, [fmt_n_pct(s.get("censored"), s.get("n")) for s in st]))
        recs.append(
            (
                f"Median ({ci_label}), {median_unit or time_unit}",
                0,
                [
                    fmt_est_ci(
                        s.get("median"),
                        s.get("median_ci_low"),
                        s.get("median_ci_high"),
                        digits,
                        est_na=NOT_REACHED if int(s.get("n") or 0) > 0 else NE,
                        scale=median_scale,
                    )
                    for s in st
                ],
            )
        )
    for key in (k for k in keys if k[2] is not None):
        st = [table[key].get(g, {}) for g in groups]
        recs.append(
            (
                f"Rate at {_landmark_label(key[2], time_unit, landmark_labels)}, % ({ci_label})",
                0,
                [
                    fmt_est_ci(s.get("surv"), s.get("surv_ci_low"), s.get("surv_ci_high"), digits, scale=100.0)
                    if s
                    else ""
                    for s in st
                ],
            )
        )  # "": landmark not analysed for the group
        recs.append(("Number at risk", 1, [str(int(s.get("n_risk") or 0)) if s else "" for s in st]))
    return display_frame(recs, label_col, headers)


def cif_table(
    ard: pd.DataFrame,
    *,
    params: Sequence[str] | None = None,
    endpoint_labels: Mapping[str, str] | None = None,
    landmark_labels: Mapping[str, Mapping] | None = None,
    origin: Mapping[str, str] | None = None,
    time_unit: str = "days",
    ci_label: str = "95% CI",
    digits: int = 1,
    label_col: str = "Endpoint\nStatistic",
    overall: str = "All subjects",
) -> pd.DataFrame:
    """Cumulative incidence summary (ARD from ``ard.cif_ard``, one or more endpoints in
    ``variable``): per endpoint a heading row (label and ``origin`` text), subjects, events,
    competing events, censored, and at each landmark the cumulative incidence in % (CI) with the
    number at risk. ``landmark_labels``: endpoint -> {time: label}. Columns are the groups
    (the "Total" group headed ``overall``); Ns differ by endpoint, so they are rows, not headers."""
    groups, keys, table = index(ard)
    params = list(params) if params is not None else list(dict.fromkeys(k[1] for k in keys))
    headers = [overall if g[0] == TOTAL else header(g[0]) for g in groups]
    recs = []
    for p in params:
        head = (endpoint_labels or {}).get(p, p)
        if origin and origin.get(p):
            head = f"{head} ({origin[p]})"
        recs.append((head, 0, [""] * len(groups)))
        st = [table.get((None, p, None), {}).get(g, {}) for g in groups]
        recs.append(("Subjects, n", 1, [str(int(s.get("n") or 0)) for s in st]))
        recs.append(("Events, n (%)", 1, [fmt_n_pct(s.get("events"), s.get("n")) for s in st]))
        recs.append(("Competing events, n (%)", 1, [fmt_n_pct(s.get("competing"), s.get("n")) for s in st]))
        recs.append(("Censored, n (%)", 1, [fmt_n_pct(s.get("censored"), s.get("n")) for s in st]))
        for key in (k for k in keys if k[1] == p and k[2] is not None):
            st = [table[key].get(g, {}) for g in groups]
            lbl = _landmark_label(key[2], time_unit, (landmark_labels or {}).get(p))
            recs.append(
                (
                    f"Cumulative incidence at {lbl}, % ({ci_label})",
                    1,
                    [
                        NE
                        if _missing(s.get("estimate"))
                        else fmt_est_ci(s.get("estimate"), s.get("ci_low"), s.get("ci_high"), digits, scale=100.0)
                        for s in st
                    ],
                )
            )
            recs.append(("Number at risk", 2, [str(int(s.get("n_risk") or 0)) for s in st]))
    return display_frame(recs, label_col, headers)


def nca_table(
    ard: pd.DataFrame, *, labels: Mapping[str, str] | None = None, sig: int = 3, label_col: str = "Parameter"
) -> pd.DataFrame:
    """NCA / cellular-kinetic parameter summary (ARD from ``nca_ard``), 3 significant figures.

    Per parameter (indent 0, with its unit): n, geometric mean (geometric CV%), mean (SD),
    median, min, max (indent 1). Columns are the group1 (and group2) level combinations.
    """
    groups, keys, table = index(
        ard, group_cols=("group1_level", "group2_level"), row_cols=("variable", "variable_level")
    )
    labels = dict(labels or {})
    headers = [" / ".join(str(v) for v in g if v is not None) or "All subjects" for g in groups]
    recs = []
    for key in keys:
        prm, unit = key
        name = labels.get(prm, prm)
        recs.append((f"{name} ({unit})" if unit is not None else str(name), 0, [""] * len(groups)))
        st = [table[key].get(g) for g in groups]
        na = lambda s, f: "" if s is None else f(s)
        lines = [
            ("n", lambda s: str(int(s.get("n") or 0))),
            ("Geometric mean (CV%)", lambda s: f"{fmt_sig(s.get('geo_mean'), sig)} ({fmt_num(s.get('geo_cv'), 1)})"),
            ("Mean (SD)", lambda s: f"{fmt_sig(s.get('mean'), sig)} ({fmt_sig(s.get('sd'), sig)})"),
            ("Median", lambda s: fmt_sig(s.get("median"), sig)),
            ("Min, Max", lambda s: f"{fmt_sig(s.get('min'), sig)}, {fmt_sig(s.get('max'), sig)}"),
        ]
        for lbl, f in lines:
            recs.append((lbl, 1, [na(s, f) for s in st]))
    return display_frame(recs, label_col, headers)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> escape.Markup:
    """A Markdown pipe table (renders in Jupyter Book and Quarto); every cell is text, escaped
    by :func:`escape.markdown` (a cell never becomes markup), the table itself is Markup."""

    def cell(v: Any) -> str:
        return escape.markdown(str(v).replace("\n", " "))

    lines = ["| " + " | ".join(map(cell, header)) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    lines += ["| " + " | ".join(map(cell, r)) + " |" for r in rows]
    return escape.Markup("\n".join(lines) + "\n")
