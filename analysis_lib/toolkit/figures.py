"""CSR figures in one clinical style (matplotlib only): Kaplan-Meier with numbers at risk,
swimmer plot, CAR-T kinetics on a log scale (and PB vs CSF facets).

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (no global state,
no double display in notebooks); wrap it in :class:`analysis_lib.toolkit.tlf.Figure` to give it a number
and title and to save it as SVG/PDF/PNG.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import FixedFormatter, FixedLocator, FuncFormatter, NullLocator

from analysis_lib.toolkit import escape, frames

# Okabe-Ito: distinguishable with the common colour-vision deficiencies and in greyscale print.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]

STYLE: dict[Any, Any] = {  # matplotlib rcParams used by every figure
    "font.family": "DejaVu Sans",
    "font.size": 8.5,
    "axes.titlesize": 9,
    "axes.labelsize": 8.5,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.8,
    "axes.prop_cycle": __import__("cycler").cycler(color=PALETTE),
    "lines.linewidth": 1.5,
    "legend.frameon": False,
    "svg.fonttype": "path",
    "pdf.fonttype": 42,
    # Text from the data (subject ids, terms) is text: "$...$" must not switch to mathtext (issue 14).
    "text.parse_math": False,
}


@functools.cache
def _glyphs(family: str) -> frozenset[int]:
    """Code points the figure font has (matplotlib draws an empty box for any other)."""
    from matplotlib import font_manager, ft2font

    path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=True)
    return frozenset(ft2font.FT2Font(path).get_charmap())


def plain(text: object) -> str:
    """Text from the data for a figure: characters the figure font cannot draw (emoji, CJK, ...) become
    the visible marker ``[U+XXXX]`` the PDF uses too (``escape.marker``), not an empty box and a warning."""
    glyphs = _glyphs(STYLE["font.family"])
    return "".join(ch if ord(ch) in glyphs or ch in "\n\t" else escape.marker(ch) for ch in str(text))


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_of_ten_label(value: float, _pos: object = None) -> str:
    """``10⁵`` for a decade, ``250`` otherwise: plain text with Unicode superscripts, because
    mathtext is off (``text.parse_math``: text from the data is text) and matplotlib's default log
    labels are mathtext (they would show as ``$\\mathdefault{10^{5}}$``)."""
    if value <= 0:
        return ""
    exponent = math.log10(value)
    if abs(exponent - round(exponent)) < 1e-9:
        return "10" + str(round(exponent)).translate(_SUPERSCRIPT)
    return f"{value:g}"


def log_scale(ax: Any, axis: str = "y") -> None:
    """A log axis labelled without mathtext: decades as ``10ⁿ``, no minor labels."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    target = ax.yaxis if axis == "y" else ax.xaxis
    (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    target.set_major_formatter(FuncFormatter(_power_of_ten_label))
    target.set_minor_formatter(NullFormatter())


class FigureDataError(ValueError):
    """Input of a figure function is malformed (message names the column and rows/subjects)."""


def _require(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """:func:`frames.require_columns`, raised as a :class:`FigureDataError`."""
    try:
        frames.require_columns(df, columns, what)
    except ValueError as exc:
        raise FigureDataError(str(exc)) from None


def group_colours(labels: Sequence[Any]) -> dict[Any, str]:
    return {lab: PALETTE[i % len(PALETTE)] for i, lab in enumerate(labels)}


# --------------------------------------------------------------------------- Kaplan-Meier


def _km_object(value: Any, conf_type: str):
    """A km result (with .table and .n_at_risk) or a (time, event) pair -> km result."""
    if hasattr(value, "table") and hasattr(value, "n_at_risk"):
        return value
    if isinstance(value, (tuple, list)) and len(value) == 2:
        from analysis_lib.toolkit import stats

        return stats.kaplan_meier(value[0], value[1], conf_type=conf_type)
    raise FigureDataError(
        f"km_plot: expected a kaplan_meier result or a (time, event) pair, got {type(value).__name__}"
    )


def _km_steps(table: pd.DataFrame) -> pd.DataFrame:
    """Survival table starting at (0, 1) for drawing a right-continuous step function."""
    tab = table[["time", "n_censor", "surv", "lower", "upper"]].sort_values("time", kind="stable")
    if tab.empty or tab["time"].iloc[0] > 0:
        start = pd.DataFrame({"time": [0.0], "n_censor": [0], "surv": [1.0], "lower": [1.0], "upper": [1.0]})
        tab = pd.concat([start, tab], ignore_index=True)
    return tab.reset_index(drop=True)


def km_plot(
    km_by_group: Mapping[str, Any],
    times_at_risk: Sequence[float],
    *,
    xlabel: str = "Months since CD19 CAR-T infusion",
    ylabel: str = "Survival probability",
    ci: bool = False,
    censor_marks: bool = True,
    conf_type: str = "log-log",
    legend_title: str | None = None,
    xmax: float | None = None,
    width: float = 6.5,
    tick_labels: Sequence[str] | None = None,
) -> Figure:
    """Kaplan-Meier curves with censor marks (+), optional CI band and a numbers-at-risk table
    whose columns sit exactly under the x-axis ticks (``times_at_risk``; ``tick_labels`` names
    them, e.g. months for ticks at study days).

    ``km_by_group``: label -> ``stats.kaplan_meier`` result (``.table`` with time, n_censor,
    surv, lower, upper; ``.n_at_risk(times)``) or a ``(time, event)`` pair.
    """
    if not km_by_group:
        raise FigureDataError("km_plot: km_by_group is empty")
    times = [float(t) for t in times_at_risk]
    if not times or any(b <= a for a, b in zip(times, times[1:])):
        raise FigureDataError("km_plot: times_at_risk must be a non-empty increasing sequence")
    kms = {str(lab): _km_object(v, conf_type) for lab, v in km_by_group.items()}
    colours = group_colours(list(kms))
    ngroups = len(kms)
    # fixed layout in inches so the risk table lines up with the axis whatever the labels
    # left margin fits the longest group label (~0.07 in per character at 8 pt); legend above the axes
    longest = max(len(lab) for lab in kms)
    left, right_m, gap, bottom = max(0.8, 0.07 * longest + 0.3), 0.2, 0.58, 0.08
    handles = [Line2D([], [], color=colours[lab], label=lab) for lab in kms]
    if censor_marks:
        handles.append(Line2D([], [], ls="none", marker="+", color="#555555", label="Censored"))
    ncol = min(len(handles), 3 if longest > 18 else 4)
    top = 0.12 + 0.19 * math.ceil(len(handles) / ncol) + (0.19 if legend_title else 0)
    main_h, risk_h = 3.4, 0.3 + 0.19 * ngroups
    height = top + main_h + gap + risk_h + bottom
    with rc_context(STYLE):
        fig = Figure(figsize=(width, height))
        w = (width - left - right_m) / width
        ax = fig.add_axes((left / width, (bottom + risk_h + gap) / height, w, main_h / height))
        risk = fig.add_axes((left / width, bottom / height, w, risk_h / height), sharex=ax)
        for lab, km in kms.items():
            tab = _km_steps(km.table)
            col = colours[lab]
            ax.step(tab["time"], tab["surv"], where="post", color=col, label=lab)
            if ci:
                ax.fill_between(tab["time"], tab["lower"], tab["upper"], step="post", color=col, alpha=0.15, lw=0)
            if censor_marks:
                cens = tab[tab["n_censor"] > 0]
                ax.plot(cens["time"], cens["surv"], ls="none", marker="+", ms=6, mew=1.1, color=col)
        right = xmax if xmax is not None else times[-1]
        ax.set_xlim(0, right)
        ax.set_ylim(0, 1.02)
        ax.set_yticks(np.linspace(0, 1, 6))
        _time_axis_and_legend(ax, times, tick_labels, xlabel, ylabel, handles, ncol, "km_plot", legend_title)
        rows = [(lab, colours[lab], km.n_at_risk(times)) for lab, km in kms.items()]
        _numbers_at_risk(risk, rows, times, right)
    return fig


def _time_axis_and_legend(
    ax: Any,
    times: Sequence[float],
    tick_labels: Sequence[str] | None,
    xlabel: str,
    ylabel: str,
    handles: list,
    ncol: int,
    what: str,
    legend_title: str | None = None,
) -> None:
    """x ticks at the at-risk times (optionally relabelled), axis labels, grid and the legend above
    the axes: the furniture every time-to-event figure shares."""
    ax.set_xticks(times)
    if tick_labels is not None:
        if len(tick_labels) != len(times):
            raise FigureDataError(f"{what}: tick_labels must have one label per time in times_at_risk")
        ax.set_xticklabels(list(tick_labels))
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", color="#dddddd", lw=0.6)
    ax.legend(
        handles=handles,
        title=legend_title,
        loc="lower left",
        bbox_to_anchor=(0, 1.01),
        ncol=ncol,
        borderaxespad=0,
        alignment="left",
        handlelength=1.8,
        columnspacing=1.2,
    )


def _numbers_at_risk(
    risk: Any, rows: Sequence[tuple[str, str, Sequence[Any]]], times: Sequence[float], right: float
) -> None:
    """The numbers-at-risk table on its own axes: one row per (label, colour, counts), each count
    under its x tick up to ``right``; a count of ``None`` (after a curve's follow-up) is left blank."""
    for spine in risk.spines.values():
        spine.set_visible(False)
    risk.tick_params(axis="x", which="both", bottom=False, labelbottom=False)
    risk.tick_params(axis="y", which="both", left=False, pad=12)
    risk.set_ylim(len(rows) - 0.5, -1.3)
    risk.set_yticks(range(len(rows)))
    risk.set_yticklabels([lab for lab, _, _ in rows])
    for i, (_, colour, counts) in enumerate(rows):
        risk.get_yticklabels()[i].set_color(colour)
        for t, n in zip(times, counts):
            if t <= right and n is not None:
                risk.text(t, i, str(int(n)), ha="center", va="center", color=colour, fontsize=8)
    risk.text(
        0,
        -1.0,
        "Number at risk",
        transform=risk.get_yaxis_transform(),
        ha="left",
        va="center",
        fontsize=8,
        fontweight="bold",
    )


# --------------------------------------------------------------------------- cumulative incidence


def cif_plot(
    cif_by_curve: Mapping[str, Any],
    times_at_risk: Sequence[float],
    *,
    xlabel: str = "Days",
    ylabel: str = "Cumulative incidence",
    xmax: float | None = None,
    ymax: float | None = None,
    ci: bool = True,
    width: float = 6.5,
    tick_labels: Sequence[str] | None = None,
    risk_labels: Mapping[str, str] | None = None,
) -> Figure:
    """Cumulative incidence curves (``stats.cumulative_incidence`` results), rising from 0, with
    an optional pointwise CI band and a numbers-at-risk table under the x-axis ticks.

    ``cif_by_curve``: label -> fitted curve; curves of competing causes of one cohort (e.g. CIR
    and NRM) are drawn side by side on the same axes ("paired" curves) and share one at-risk
    row when their numbers at risk agree. The y-axis runs to ``ymax`` (default: the next 0.1 above
    the highest upper limit drawn, at least 0.5) so small incidences stay readable.
    ``risk_labels`` gives short at-risk row names (curve label -> name); no number is shown after
    a curve's last follow-up time (e.g. acute GVHD counted to Day 100).
    """
    if not cif_by_curve:
        raise FigureDataError("cif_plot: cif_by_curve is empty")
    times = [float(t) for t in times_at_risk]
    if not times or any(b <= a for a, b in zip(times, times[1:])):
        raise FigureDataError("cif_plot: times_at_risk must be a non-empty increasing sequence")
    for lab, c in cif_by_curve.items():
        if not (hasattr(c, "table") and hasattr(c, "n_at_risk") and "estimate" in c.table):
            raise FigureDataError(f"cif_plot: '{lab}' is not a cumulative_incidence result")
    curves = {str(k): v for k, v in cif_by_curve.items()}
    colours = group_colours(list(curves))
    right = xmax if xmax is not None else times[-1]
    risk_rows: dict[str, list] = {}
    row_colour: dict[str, str] = {}
    for lab, c in curves.items():
        counts = [n if t <= c.max_time else None for t, n in zip(times, c.n_at_risk(times))]
        short = (risk_labels or {}).get(lab, lab)
        same = next((k for k, v in risk_rows.items() if v == counts), None)
        if same is None:
            risk_rows[short] = counts
            row_colour[short] = colours[lab]
        else:
            risk_rows[f"{same} / {short}"] = risk_rows.pop(same)
            row_colour[f"{same} / {short}"] = row_colour.pop(same)
    nrows = len(risk_rows)
    longest = max(len(k) for k in risk_rows)
    left, right_m, gap, bottom = min(max(0.8, 0.065 * longest + 0.3), 2.6), 0.2, 0.58, 0.08
    ncol = 1 if max(len(k) for k in curves) > 28 else 2
    handles = [Line2D([], [], color=colours[lab], label=lab) for lab in curves]
    top = 0.12 + 0.19 * math.ceil(len(handles) / ncol)
    main_h, risk_h = 3.2, 0.3 + 0.19 * nrows
    height = top + main_h + gap + risk_h + bottom
    hi = 0.0
    with rc_context(STYLE):
        fig = Figure(figsize=(width, height))
        w = (width - left - right_m) / width
        ax = fig.add_axes((left / width, (bottom + risk_h + gap) / height, w, main_h / height))
        risk = fig.add_axes((left / width, bottom / height, w, risk_h / height), sharex=ax)
        for lab, c in curves.items():
            tab = c.table[c.table["time"] <= right]
            x = np.concatenate([[0.0], tab["time"].to_numpy(float), [min(c.max_time, right)]])
            y = np.concatenate(
                [[0.0], tab["estimate"].to_numpy(float), [tab["estimate"].iloc[-1] if len(tab) else 0.0]]
            )
            ax.step(x, y, where="post", color=colours[lab], label=lab)
            hi = max(hi, float(np.nanmax(y)))
            if ci:
                lo_ = np.concatenate(
                    [[0.0], tab["lower"].to_numpy(float), [tab["lower"].iloc[-1] if len(tab) else 0.0]]
                )
                up_ = np.concatenate(
                    [[0.0], tab["upper"].to_numpy(float), [tab["upper"].iloc[-1] if len(tab) else 0.0]]
                )
                ok = ~np.isnan(lo_)
                ax.fill_between(
                    x, np.where(ok, lo_, y), np.where(ok, up_, y), step="post", color=colours[lab], alpha=0.12, lw=0
                )
                if ok.any():
                    hi = max(hi, float(np.nanmax(up_)))
        top_y = ymax if ymax is not None else min(1.0, max(0.5, math.ceil(hi * 10 + 1e-9) / 10))
        ax.set_xlim(0, right)
        ax.set_ylim(0, top_y * 1.02)
        ax.set_yticks(np.round(np.linspace(0, top_y, round(top_y * 10) + 1), 2))
        _time_axis_and_legend(ax, times, tick_labels, xlabel, ylabel, handles, ncol, "cif_plot")
        rows = [(lab, row_colour[lab], counts) for lab, counts in risk_rows.items()]
        _numbers_at_risk(risk, rows, times, right)
    return fig


# --------------------------------------------------------------------------- swimmer plot

SWIMMER_EVENTS = {
    # column: (legend label, marker, colour)
    "hsct": ("Allo-HSCT", "s", "#009E73"),
    "cd22": ("CD22 CAR-T", "D", "#0072B2"),
    "crcri": ("CR/CRi", "^", "#E69F00"),
    "relapse": ("Relapse", "X", "#D55E00"),
    "death": ("Death", "o", "#000000"),
}


def _swimmer_sorted(df: pd.DataFrame, group: str | None) -> tuple[pd.DataFrame, list[Any]]:
    """Swimmer rows top to bottom (by group, then longest follow-up first, then subject) and the groups."""
    if group is not None:
        groups = list(dict.fromkeys(df.sort_values(group, kind="stable")[group]))
        df = df.assign(_g=df[group].map({g: i for i, g in enumerate(groups)}))
        df = df.sort_values(["_g", "end", "subject"], ascending=[True, False, True], kind="stable")
    else:
        groups = [None]
        df = df.sort_values(["end", "subject"], ascending=[False, True], kind="stable")
    return df.reset_index(drop=True), groups


def swimmer_order(records: pd.DataFrame, group: str | None = "group") -> list[Any]:
    """The ``subject`` values in the order :func:`swimmer_plot` draws them, top to bottom."""
    _require(records, ["subject", "end"], "swimmer_order")
    df = records.copy()
    df["end"] = pd.to_numeric(df["end"], errors="coerce")
    df, _ = _swimmer_sorted(df, group if group is not None and group in df.columns else None)
    return df["subject"].tolist()


def swimmer_plot(
    records: pd.DataFrame,
    *,
    xlabel: str = "Days since CD19 CAR-T infusion",
    group: str | None = "group",
    width: float = 6.5,
) -> Figure:
    """One bar per subject from Day 0 to death / last follow-up (column ``end``) with markers
    for allo-HSCT, CD22 CAR-T, first CR/CRi, relapse and death (columns ``hsct``, ``cd22``,
    ``crcri``, ``relapse``, ``death``: study day or missing) and an arrow when ``ongoing``.

    Required columns: ``subject``, ``end``; optional: the event columns, ``ongoing`` (bool) and
    ``group`` (bar colour, e.g. dose level). Subjects are ordered by group, then longest first.
    """
    if not isinstance(records, pd.DataFrame) or records.empty:
        raise FigureDataError("swimmer_plot: records must be a non-empty DataFrame")
    _require(records, ["subject", "end"], "swimmer_plot")
    df = records.copy()
    if df["subject"].duplicated().any():
        dup = df.loc[df["subject"].duplicated(), "subject"].astype(str).tolist()
        raise FigureDataError(f"swimmer_plot: duplicate subject(s) {', '.join(dup[:10])}: one row per subject")
    for col in ["end", *[c for c in SWIMMER_EVENTS if c in df.columns]]:
        vals = pd.to_numeric(df[col], errors="coerce")
        bad = vals.isna() & df[col].notna()
        if col == "end":
            bad |= vals.isna() | (vals < 0)
        if bad.any():
            raise FigureDataError(
                f"swimmer_plot: column '{col}' not a valid day for subject(s) "
                f"{', '.join(df.loc[bad, 'subject'].astype(str).tolist()[:10])}"
            )
        df[col] = vals
    for col in [c for c in SWIMMER_EVENTS if c in df.columns]:
        late = df[col] > df["end"]
        if late.any():
            raise FigureDataError(
                f"swimmer_plot: '{col}' after 'end' for subject(s) "
                f"{', '.join(df.loc[late, 'subject'].astype(str).tolist()[:10])}"
            )
    ongoing = df["ongoing"].fillna(False).astype(bool) if "ongoing" in df.columns else pd.Series(False, index=df.index)
    if "death" in df.columns and (ongoing & df["death"].notna()).any():
        raise FigureDataError(
            "swimmer_plot: subject(s) marked ongoing with a death day: "
            + ", ".join(df.loc[ongoing & df["death"].notna(), "subject"].astype(str))
        )
    df["_ongoing"] = ongoing
    has_group = group is not None and group in df.columns
    df, groups = _swimmer_sorted(df, group if has_group else None)
    colours = group_colours(groups)
    n = len(df)
    xmax = float(df["end"].max())
    with rc_context(STYLE):
        # fixed layout in inches: 0.2 in per subject, room for the legend at the right
        n_legend = len(groups) * has_group + len(SWIMMER_EVENTS) + 1
        axes_h = max(0.2 * n, 0.18 * n_legend)
        longest = int(df["subject"].astype(str).str.len().max())
        left, bottom, top = 0.25 + 0.065 * longest, 0.5, 0.1
        height = bottom + axes_h + top
        fig = Figure(figsize=(width, height))
        ax = fig.add_axes((left / width, bottom / height, (width - left - 1.45) / width, axes_h / height))
        y = np.arange(n)
        bar_col = [colours[g] for g in (df[group] if has_group else [None] * n)]
        ax.barh(y, df["end"], height=0.55, color=bar_col, alpha=0.35, edgecolor=bar_col, linewidth=0.6)
        for i in np.flatnonzero(df["_ongoing"].to_numpy()):
            ax.annotate(
                "",
                xy=(df["end"][i] + 0.05 * xmax, i),
                xytext=(df["end"][i], i),
                arrowprops=dict(arrowstyle="-|>", color="#444444", lw=1.0, shrinkA=0, shrinkB=0),
            )
        handles = []
        for col, (label, marker, colour) in SWIMMER_EVENTS.items():
            if col not in df.columns or df[col].isna().all():
                continue
            sel = df[col].notna()
            ax.plot(
                df.loc[sel, col],
                y[sel.to_numpy()],
                ls="none",
                marker=marker,
                ms=5,
                color=colour,
                mec="white" if marker != "o" else colour,
                mew=0.4,
                zorder=3,
            )
            handles.append(Line2D([], [], ls="none", marker=marker, ms=5, color=colour, label=label))
        if df["_ongoing"].any():
            handles.append(Line2D([], [], color="#444444", marker=">", ms=4, lw=1.0, label="In follow-up"))
        if has_group:
            handles = [Line2D([], [], color=colours[g], lw=6, alpha=0.5, label=plain(g)) for g in groups] + handles
        ax.set_yticks(y)
        ax.set_yticklabels([plain(v) for v in df["subject"]], fontsize=7 if n > 25 else 8)
        ax.set_ylim(n - 0.4, -0.6)
        ax.set_xlim(0, xmax * 1.08)
        ax.set_xlabel(xlabel)
        ax.grid(axis="x", color="#dddddd", lw=0.6)
        ax.set_axisbelow(True)
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return fig


# --------------------------------------------------------------------------- kinetics


#: Default column names of :func:`kinetics_frame`'s arguments.
_KINETICS_COLUMNS: dict[str, Any] = dict(
    time="time", value="value", subject="subject", group=None, lloq="lloq", blq=None
)


def kinetics_frame(
    data: pd.DataFrame,
    *,
    time: str,
    value: str,
    subject: str,
    group: str | None,
    lloq: float | str,
    blq: str | None,
    what: str,
) -> pd.DataFrame:
    """Validated frame with columns t, v, subj, grp, lloq, blq and y (value shown; BLQ at LLOQ/2)."""
    if not isinstance(data, pd.DataFrame) or data.empty:
        raise FigureDataError(f"{what}: data must be a non-empty DataFrame")
    cols = [time, value, subject] + ([group] if group else []) + ([lloq] if isinstance(lloq, str) else [])
    if blq is not None:
        cols.append(blq)
    _require(data, cols, what)
    df = pd.DataFrame(
        {
            "t": pd.to_numeric(data[time], errors="coerce"),
            "v": pd.to_numeric(data[value], errors="coerce"),
            "subj": data[subject].astype(str),
            "grp": data[group].astype(str) if group else "All",
            "lloq": pd.to_numeric(data[lloq], errors="coerce") if isinstance(lloq, str) else float(lloq),
        },
        index=data.index,
    )
    if df["t"].isna().any():
        raise FigureDataError(
            f"{what}: column '{time}' missing or not numeric at rows {list(df.index[df['t'].isna()][:10])}"
        )
    if (df["lloq"].isna() | (df["lloq"] <= 0)).any():
        raise FigureDataError(
            f"{what}: LLOQ missing or not positive at rows {list(df.index[df['lloq'].isna() | (df['lloq'] <= 0)][:10])}"
        )
    is_blq = data[blq].fillna(False).astype(bool) if blq is not None else (df["v"] < df["lloq"])
    if blq is not None:
        is_blq = is_blq | (df["v"] < df["lloq"])
    unexplained = df["v"].isna() & ~is_blq
    if unexplained.any():
        raise FigureDataError(
            f"{what}: column '{value}' missing at rows {list(df.index[unexplained][:10])} "
            f"that are not flagged below LLOQ"
        )
    df["blq"] = is_blq
    df["y"] = np.where(is_blq, df["lloq"] / 2.0, df["v"])
    return df.sort_values(["grp", "subj", "t"], kind="stable")


def draw_kinetics(ax, df: pd.DataFrame, colours: Mapping[str, str]) -> None:
    from matplotlib.collections import LineCollection

    for grp, g in df.groupby("grp", sort=True):  # one collection per group: fast for thousands of subjects
        curves = [d[["t", "y"]].to_numpy() for _subj, d in g.groupby("subj", sort=True)]
        ax.add_collection(LineCollection(curves, colors=colours[grp], linewidths=0.7, alpha=0.45))
        b = g[g["blq"]]
        ax.plot(b["t"], b["y"], ls="none", marker="o", ms=3.5, mfc="white", mec=colours[grp], mew=0.8, zorder=4)
    for grp, d in df.groupby("grp", sort=True):
        med = d.groupby("t", sort=True)["y"].median()
        ax.plot(med.index, med.to_numpy(), color=colours[grp], lw=2.2, marker="o", ms=3.5, zorder=3)
    for level in sorted(df["lloq"].unique()):
        ax.axhline(level, color="#555555", ls="--", lw=0.9)
    log_scale(ax)
    ax.grid(axis="y", which="major", color="#e5e5e5", lw=0.6)


def kinetics_legend(ax, groups: Sequence[str], colours: Mapping[str, str], show_groups: bool) -> None:
    handles = [
        Line2D([], [], color=colours[g], lw=2.2, label=f"{g} median" if show_groups else "Median") for g in groups
    ]
    handles += [
        Line2D([], [], color="#777777", lw=0.7, label="Individual subject"),
        Line2D([], [], ls="none", marker="o", ms=4, mfc="white", mec="#555555", label="< LLOQ (shown at LLOQ/2)"),
        Line2D([], [], color="#555555", ls="--", lw=0.9, label="LLOQ"),
    ]
    ax.legend(handles=handles, loc="upper right")


def kinetics_plot(
    data: pd.DataFrame,
    *,
    time: str = "time",
    value: str = "value",
    subject: str = "subject",
    group: str | None = None,
    lloq: float | str = "lloq",
    blq: str | None = None,
    xlabel: str = "Days since CAR-T infusion",
    ylabel: str = "CAR transgene (copies/µg gDNA)",
    width: float = 6.5,
) -> Figure:
    """CAR-T expansion and persistence on a log y axis: thin line per subject, thick median per
    nominal time (and group), dashed LLOQ line.

    ``time`` is the nominal day; ``lloq`` a number or a column. A sample is below LLOQ when the
    ``blq`` column is true or the value is < LLOQ; it is drawn at LLOQ/2 with an open marker and
    enters the median at LLOQ/2 (display convention, stated in the catalogue footnote). A missing
    value not flagged below LLOQ is an error, never dropped.
    """
    df = kinetics_frame(
        data, time=time, value=value, subject=subject, group=group, lloq=lloq, blq=blq, what="kinetics_plot"
    )
    groups = list(dict.fromkeys(sorted(df["grp"].unique())))
    colours = group_colours(groups)
    with rc_context(STYLE):
        fig = Figure(figsize=(width, 3.8), layout="constrained")
        ax = fig.add_subplot()
        draw_kinetics(ax, df, colours)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        kinetics_legend(ax, groups, colours, group is not None)
    return fig


def kinetics_by_specimen(
    data: pd.DataFrame,
    *,
    facet: str = "specimen",
    facets: Sequence[str] = ("PB", "CSF"),
    facet_titles: Mapping[str, str] | None = None,
    width: float = 6.5,
    ylabel: str = "CAR transgene (copies/µg gDNA)",
    xlabel: str = "Days since CAR-T infusion",
    **kwargs: Any,
) -> Figure:
    """Kinetics side by side per specimen (default peripheral blood vs cerebrospinal fluid), with
    a shared log y axis; other arguments as :func:`kinetics_plot`."""
    _require(data, [facet], "kinetics_by_specimen")
    unknown = sorted(set(data[facet].astype(str)) - set(facets))
    if unknown:
        raise FigureDataError(
            f"kinetics_by_specimen: column '{facet}' has values {', '.join(unknown)} not in facets {list(facets)}"
        )
    titles = {"PB": "Peripheral blood", "CSF": "Cerebrospinal fluid", **(facet_titles or {})}
    panels: dict[str, pd.DataFrame] = {
        f: kinetics_frame(
            data[data[facet].astype(str) == f],
            what=f"kinetics_by_specimen ({f})",
            **{k: kwargs.get(k, d) for k, d in _KINETICS_COLUMNS.items()},
        )
        for f in facets
        if (data[facet].astype(str) == f).any()
    }
    if not panels:
        raise FigureDataError("kinetics_by_specimen: no rows for any facet")
    extra = sorted(set(kwargs) - {"time", "value", "subject", "group", "lloq", "blq"})
    if extra:
        raise TypeError(f"kinetics_by_specimen: unexpected argument(s) {', '.join(extra)}")
    groups = sorted(set().union(*(set(f["grp"]) for f in panels.values())))
    colours = group_colours(groups)
    with rc_context(STYLE):
        fig = Figure(figsize=(width, 3.6), layout="constrained")
        axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
        for ax, (name, df) in zip(axes, panels.items()):
            draw_kinetics(ax, df, colours)
            ax.set_title(titles.get(name, name), loc="left", fontweight="bold")
            ax.set_xlabel(xlabel)
        axes[0].set_ylabel(ylabel)
        kinetics_legend(axes[-1], groups, colours, kwargs.get("group") is not None)
    return fig


__all__ = [
    "PALETTE",
    "STYLE",
    "SWIMMER_EVENTS",
    "FigureDataError",
    "kinetics_by_specimen",
    "kinetics_plot",
    "km_plot",
    "swimmer_plot",
]


# --------------------------------------------------------------------------------------------
# summaries over time and values by group (laboratory figures)


def summary_over_time_plot(
    summary: pd.DataFrame,
    panels: Sequence[str],
    *,
    titles: Mapping[str, str],
    log: Mapping[str, bool] | None = None,
    normal_range: Mapping[str, tuple[float | None, float | None]] | None = None,
    ref_lines: Mapping[str, Sequence[tuple[float, str]]] | None = None,
    xlabel: str = "Nominal day",
    ncols: int = 2,
    width: float = 6.5,
    panel_height: float = 2.1,
) -> Figure:
    """Median with interquartile range (bars) per nominal time point, one panel per ``panels``
    entry, time points evenly spaced (labelled by their day) so early daily and late monthly
    samples are both readable; a grey band for the normal range, dashed reference lines with a
    label, log y-axes where ``log`` says so; n under each time point.

    ``summary``: columns panel, day, n, median, q1, q3 (one row per panel and day)."""
    frames.require_columns(summary, ["panel", "day", "n", "median", "q1", "q3"], "summary_over_time_plot")
    days = sorted(summary.loc[summary["n"] > 0, "day"].unique())  # time points with data
    pos = {d: i for i, d in enumerate(days)}
    nrows = max(1, math.ceil(len(panels) / ncols))
    with rc_context(STYLE):
        fig = Figure(figsize=(width, panel_height * nrows + 0.3))
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for k, p in enumerate(panels):
            ax = axes[k // ncols][k % ncols]
            d = summary[(summary["panel"] == p) & (summary["n"] > 0)].sort_values("day")
            x = np.array([pos[v] for v in d["day"]], dtype=float)
            med, q1, q3 = d["median"].to_numpy(float), d["q1"].to_numpy(float), d["q3"].to_numpy(float)
            is_log = bool((log or {}).get(p))
            if is_log:
                log_scale(ax)
            lo, hi = (normal_range or {}).get(p, (None, None))
            if hi is not None and len(d):
                bottom = lo if lo is not None and lo > 0 else (float(np.nanmin(q1)) * 0.5 if is_log else 0.0)
                ax.axhspan(bottom, hi, color="#DDDDDD", alpha=0.6, lw=0, zorder=0)
            for y, lab in (ref_lines or {}).get(p, ()):
                ax.axhline(y, ls="--", lw=0.8, color=PALETTE[1])
                ax.annotate(
                    lab,
                    (1.0, y),
                    xycoords=("axes fraction", "data"),
                    ha="right",
                    va="bottom",
                    fontsize=6.5,
                    color=PALETTE[1],
                )
            ax.errorbar(x, med, yerr=[med - q1, q3 - med], fmt="o-", ms=2.5, lw=1.0, capsize=1.5, color=PALETTE[0])
            ax.set_title(titles.get(p, p), loc="left")
            ax.set_xlim(-0.5, len(days) - 0.5)
            ax.set_xticks(range(len(days)))
            ax.set_xticklabels([f"{v:g}" for v in days], rotation=90, fontsize=6.5)
            ax.tick_params(axis="x", length=2, pad=1)
        for k in range(len(panels), nrows * ncols):
            axes[k // ncols][k % ncols].set_axis_off()
        fig.supxlabel(xlabel, fontsize=8.5)
        fig.tight_layout(h_pad=0.6, w_pad=1.0)
    return fig


def values_by_group_plot(
    data: pd.DataFrame,
    panels: Sequence[str],
    groups: Sequence[str],
    *,
    titles: Mapping[str, str],
    log: bool = True,
    xlabel: str = "",
    width: float = 6.5,
    height: float = 2.6,
) -> Figure:
    """One point per subject (spread evenly within its group, no random jitter) with the group
    median (bar) and interquartile range (box), one panel per ``panels`` entry; n under each group.

    ``data``: columns panel, group, value."""
    frames.require_columns(data, ["panel", "group", "value"], "values_by_group_plot")
    with rc_context(STYLE):
        fig = Figure(figsize=(width, height))
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, p in zip(axes, panels):
            d = data[data["panel"] == p]
            labels = []
            for i, g in enumerate(groups):
                v = np.sort(d.loc[d["group"] == g, "value"].to_numpy(float))
                v = v[~np.isnan(v)]
                labels.append(f"{g}\n(n={len(v)})")
                if not len(v):
                    continue
                xs = i + (np.linspace(-0.25, 0.25, len(v)) if len(v) > 1 else np.zeros(1))
                ax.scatter(xs, v, s=7, color=PALETTE[0], alpha=0.7, lw=0, zorder=3)
                q1, med, q3 = np.quantile(v, [0.25, 0.5, 0.75])
                ax.add_patch(Rectangle((i - 0.32, q1), 0.64, q3 - q1, fill=False, ec=PALETTE[6], lw=0.8, zorder=2))
                ax.plot([i - 0.36, i + 0.36], [med, med], color=PALETTE[1], lw=1.6, zorder=4)
            if log:
                log_scale(ax)
            ax.set_xticks(range(len(groups)))
            ax.set_xticklabels(labels, fontsize=6.5)
            ax.set_xlim(-0.6, len(groups) - 0.4)
            ax.set_title(titles.get(p, p), loc="left")
        if xlabel:
            fig.supxlabel(xlabel, fontsize=8.5)
        fig.tight_layout(w_pad=1.0)
    return fig


# --------------------------------------------------------------------------- subject profile

#: Fill colour per AE grade (light to dark: ordered in greyscale too); grade 5 black.
GRADE_COLOURS = {1: "#FDD49E", 2: "#FC8D59", 3: "#D7301F", 4: "#7F0000", 5: "#000000"}
#: Ticks of the Day-0 axis of a subject profile (a symmetric-log axis: linear up to ``linear_to``).
PROFILE_TICKS = (-7, 0, 7, 14, 28, 60, 90, 180, 365, 730)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_of_ten(value: float, _pos: Any = None) -> str:
    """1000 -> '10³' (tick label without mathtext); other values as ``%g``."""
    if value <= 0:
        return ""
    exp = math.log10(value)
    return "10" + str(round(exp)).translate(_SUPERSCRIPT) if abs(exp - round(exp)) < 1e-9 else f"{value:g}"


@dataclass(frozen=True)
class LabPanel:
    """One laboratory panel of :func:`subject_profile`: the ``labs`` rows whose ``panel`` is
    ``name``, drawn with the y label ``label``, a dashed line at ``threshold`` (legend
    ``threshold_label``; None: no line) and, with ``log``, a symmetric-log y axis linear below the
    threshold (counts spanning decades, e.g. B cells, where 0 is a value)."""

    name: str
    label: str
    threshold: float | None = None
    threshold_label: str = ""
    log: bool = False


LAB_PANEL_HEIGHT = 0.62  # inches per laboratory panel: three fit under the timeline on a PDF page


def _lab_panel(ax: Any, d: pd.DataFrame, panel: LabPanel, end_day: float, colour: str) -> list[Line2D]:
    """Draw one laboratory panel: values by day, the normal range (``low``-``high``) shaded,
    the threshold dashed; returns the legend handles."""
    d = d.sort_values("day", kind="stable")
    y = pd.to_numeric(d["value"], errors="coerce")
    ax.plot(d["day"].astype(float), y, color=colour, lw=1.0, marker="o", ms=2.5, zorder=3)
    handles = [Line2D([], [], color=colour, lw=1.0, marker="o", ms=2.5, label=plain(panel.label))]
    low, high = pd.to_numeric(d["low"], errors="coerce"), pd.to_numeric(d["high"], errors="coerce")
    if low.notna().any() and high.notna().any():
        ax.axhspan(float(low.median()), float(high.median()), color="#dff0e3", lw=0, zorder=0)
    if panel.threshold is not None:
        ax.axhline(panel.threshold, color="#D55E00", ls="--", lw=0.8, zorder=2)
        handles.append(Line2D([], [], color="#D55E00", ls="--", lw=0.8, label=plain(panel.threshold_label)))
    top = max(float(np.nanmax(y.to_numpy(float))) if y.notna().any() else 1.0,
              float(high.max()) if high.notna().any() else 0.0, panel.threshold or 0.0)  # fmt: skip
    if panel.log:
        lin = panel.threshold or 1.0
        ax.set_yscale("symlog", linthresh=lin, linscale=0.6)
        ticks = [0.0] + [lin * 10**k for k in range(0, 6) if lin * 10**k <= top * 1.5]
        ax.yaxis.set_major_locator(FixedLocator(ticks))
        ax.yaxis.set_major_formatter(FixedFormatter([f"{t:g}" for t in ticks]))
        ax.set_ylim(0, top * 1.8)
    else:
        ax.set_ylim(0, top * 1.12)
    ax.yaxis.set_minor_locator(NullLocator())
    ax.tick_params(axis="y", labelsize=6)
    ax.axvline(end_day, color="#000000", lw=1.0, ls=":")
    ax.grid(axis="x", color="#dddddd", lw=0.5)
    return handles


def subject_profile(
    bars: pd.DataFrame,
    markers: pd.DataFrame,
    kinetics: pd.DataFrame | None = None,
    *,
    lanes: Sequence[str],
    end_day: float,
    end_label: str,
    title: str = "",
    xlabel: str = "Study day (Day 0 = CD19 CAR-T infusion)",
    kinetics_label: str = "CAR-T (copies/µg gDNA)",
    linear_to: float = 30.0,
    width: float = 7.2,
    labs: pd.DataFrame | None = None,
    lab_panels: Sequence[LabPanel] = (),
) -> Figure:
    """One subject's course on one day axis: a timeline of lanes (rows) above an optional
    kinetics panel sharing the axis (symmetric-log: linear from Day -``linear_to`` to
    ``linear_to``, so the first weeks stay readable next to two years of follow-up).

    ``bars``: ``lane``, ``start``, ``end`` (days), ``grade`` (1-5: filled by :data:`GRADE_COLOURS`;
    missing: grey), optional ``ongoing`` (bool: open right end). ``markers``: ``lane``, ``day``,
    ``label`` (legend), ``marker``, ``colour``, optional ``filled`` (bool, default True).
    ``kinetics``: ``day``, ``value`` (missing when below the LLOQ), ``series`` (legend), ``lloq``,
    ``blq`` (bool) — BLQ values at LLOQ/2 with open markers, dashed LLOQ line. ``lanes`` gives the
    row order (top first); every lane of ``bars``/``markers`` must be in it. ``end_day`` /
    ``end_label``: the vertical line closing the course (death, last contact). ``labs``: ``panel``,
    ``day``, ``value``, ``low``, ``high`` (normal range) — one panel per entry of ``lab_panels``
    that has rows, below the kinetics, on the same day axis.
    """
    _require(bars, ["lane", "start", "end", "grade"], "subject_profile bars")
    _require(markers, ["lane", "day", "label", "marker", "colour"], "subject_profile markers")
    lanes = list(lanes)
    unknown = (set(bars["lane"]) | set(markers["lane"])) - set(lanes)
    if unknown:
        raise FigureDataError(f"subject_profile: lane(s) {sorted(map(str, unknown))} not in lanes")
    row = {lane: i for i, lane in enumerate(lanes)}
    has_k = kinetics is not None and not kinetics.empty
    if has_k:
        assert kinetics is not None
        _require(kinetics, ["day", "value", "series", "lloq", "blq"], "subject_profile kinetics")
    panels: list[tuple[LabPanel, pd.DataFrame]] = []
    if labs is not None and len(labs):
        _require(labs, ["panel", "day", "value", "low", "high"], "subject_profile labs")
        panels = [(p, labs[labs["panel"] == p.name]) for p in lab_panels if (labs["panel"] == p.name).any()]
    lab_h = (LAB_PANEL_HEIGHT + 0.08) * len(panels)
    lane_h = 0.19
    top_h = lane_h * len(lanes) + 0.25
    k_h = 1.35 if has_k else 0.0
    longest = max((len(str(lane)) for lane in lanes), default=8)
    left = min(0.35 + 0.052 * longest, 2.6)  # room for the longest lane label at 7 pt
    right, bottom, top, gap = 1.65, 0.45 + lab_h, 0.3 if title else 0.1, 0.3 if has_k else 0.0
    height = bottom + k_h + gap + top_h + top
    xmin = min(
        -7.0, float(bars["start"].min()) if len(bars) else 0.0, float(markers["day"].min()) - 2 if len(markers) else 0.0
    )
    xmax = max(float(end_day), float(bars["end"].max()) if len(bars) else 0.0) * 1.06 + 2
    with rc_context(STYLE):
        fig = Figure(figsize=(width, height))
        axw = (width - left - right) / width
        ax = fig.add_axes((left / width, (bottom + k_h + gap) / height, axw, top_h / height))
        scale = dict(linthresh=linear_to, linscale=1.2)
        ax.set_xscale("symlog", **scale)
        for i in range(len(lanes)):
            if i % 2 == 0:
                ax.axhspan(i - 0.5, i + 0.5, color="#f4f4f4", lw=0, zorder=0)
        ongoing = bars["ongoing"].map(lambda v: v is True or v == 1) if "ongoing" in bars.columns else False
        b = bars.assign(open_end=ongoing)
        if len(b):  # one bar container and one marker line for all bars: few artists, quick to draw
            grade = pd.to_numeric(b["grade"], errors="coerce")
            colours = [GRADE_COLOURS.get(int(g), "#bbbbbb") if pd.notna(g) else "#bbbbbb" for g in grade]
            start = b["start"].astype(float).to_numpy()
            end = np.maximum(b["end"].astype(float).to_numpy(), start + 0.6)
            y = b["lane"].map(row).to_numpy()
            ax.barh(y, end - start, left=start, height=0.62, color=colours, edgecolor="#333333", lw=0.4, zorder=2)
            open_end = b["open_end"].to_numpy(bool)
            if open_end.any():
                ax.plot(end[open_end], y[open_end], ls="none", marker=">", ms=4, color="#333333", zorder=3)
        seen: dict[str, Line2D] = {}
        m = (
            markers.assign(filled=markers["filled"].map(lambda v: v is not False and v != 0))
            if "filled" in markers.columns
            else markers.assign(filled=True)
        )
        for (marker, colour, filled), d in m.groupby(["marker", "colour", "filled"], sort=False):
            mfc = colour if filled else "white"
            ax.plot(d["day"].astype(float), d["lane"].map(row), ls="none", marker=marker, ms=5.5, color=colour,
                    mfc=mfc, mec=colour, mew=0.9, zorder=4)  # fmt: skip
        for r in m.itertuples():
            mfc = r.colour if r.filled else "white"
            seen.setdefault(str(r.label), Line2D([], [], ls="none", marker=r.marker, ms=5.5, color=r.colour, mfc=mfc,
                                                 label=str(r.label)))  # fmt: skip
        ax.axvline(end_day, color="#000000", lw=1.0, ls=":", zorder=1)
        ax.set_yticks(range(len(lanes)))
        ax.set_yticklabels([plain(lane) for lane in lanes], fontsize=7)
        ax.set_ylim(len(lanes) - 0.5, -0.5)
        ax.set_xlim(xmin, xmax)
        ticks = [t for t in PROFILE_TICKS if xmin <= t <= xmax]
        ax.grid(axis="x", color="#dddddd", lw=0.5)
        ax.set_axisbelow(True)
        ax.spines["left"].set_visible(False)
        ax.tick_params(axis="y", length=0)
        if title:
            ax.set_title(title, loc="left", fontsize=9)
        grade_handles = [
            Line2D([], [], ls="none", marker="s", ms=7, color=c, mec="#333333", mew=0.4, label=f"Grade {g}")
            for g, c in GRADE_COLOURS.items()
        ]
        end_handle = Line2D([], [], color="#000000", lw=1.0, ls=":", label=end_label)
        ax.legend(handles=[*grade_handles, *seen.values(), end_handle], loc="upper left",
                  bbox_to_anchor=(1.01, 1.0), borderaxespad=0, fontsize=6.5, handletextpad=0.3)  # fmt: skip
        if has_k:
            assert kinetics is not None
            kx = fig.add_axes((left / width, bottom / height, axw, k_h / height), sharex=ax)
            kx.set_xscale("symlog", **scale)
            k = kinetics.copy()
            k["blq"] = k["blq"].map(lambda v: v is True or v == 1)
            k["y"] = np.where(k["blq"], pd.to_numeric(k["lloq"]) / 2.0, pd.to_numeric(k["value"], errors="coerce"))
            series = list(dict.fromkeys(k["series"]))
            series_colours = group_colours(series)
            handles = []
            for s in series:
                d = k[k["series"] == s].sort_values("day", kind="stable")
                kx.plot(d["day"], d["y"], color=series_colours[s], lw=1.1, marker="o", ms=3, zorder=3)
                bq = d[d["blq"]]
                kx.plot(bq["day"], bq["y"], ls="none", marker="o", ms=3.5, mfc="white", mec=series_colours[s], mew=0.8,
                        zorder=4)  # fmt: skip
                handles.append(Line2D([], [], color=series_colours[s], lw=1.1, marker="o", ms=3, label=str(s)))
            for level in sorted(pd.to_numeric(k["lloq"]).unique()):
                kx.axhline(level, color="#555555", ls="--", lw=0.8)
            handles += [
                Line2D([], [], ls="none", marker="o", ms=3.5, mfc="white", mec="#555555", label="< LLOQ (at LLOQ/2)"),
                Line2D([], [], color="#555555", ls="--", lw=0.8, label="LLOQ"),
            ]
            kx.set_yscale("log")
            # powers of ten as plain text (no mathtext parsing) and no minor ticks: quick to draw
            kx.yaxis.set_major_formatter(FuncFormatter(_power_of_ten))
            kx.yaxis.set_minor_locator(NullLocator())
            kx.axvline(end_day, color="#000000", lw=1.0, ls=":")
            kx.set_xlim(xmin, xmax)
            kx.set_ylabel(kinetics_label, fontsize=7)
            kx.grid(axis="x", color="#dddddd", lw=0.5)
            kx.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, fontsize=6.5)
            ax.tick_params(axis="x", labelbottom=False)
        lowest = kx if has_k else ax
        lab_colours = group_colours([p.name for p, _ in panels])
        for i, (panel, d) in enumerate(panels):
            y0 = 0.45 + (len(panels) - 1 - i) * (LAB_PANEL_HEIGHT + 0.08)
            lx = fig.add_axes((left / width, y0 / height, axw, LAB_PANEL_HEIGHT / height), sharex=ax)
            lx.set_xscale("symlog", **scale)
            hs = _lab_panel(lx, d, panel, end_day, lab_colours[panel.name])
            lx.legend(handles=hs, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, fontsize=6)
            lx.set_xlim(xmin, xmax)
            lowest.tick_params(axis="x", labelbottom=False)
            lowest = lx
        lowest.set_xlabel(xlabel)
        lowest.tick_params(axis="x", labelbottom=True)
        # after every set_xscale (it resets the tickers shared by both panels)
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(FixedFormatter([str(t) for t in ticks]))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlim(xmin, xmax)
    return fig
