"""Cellular-kinetics summaries for the kinetics chapter, from ADPP (NCA parameters) and ADCK.

NCA summary ARD and table (geometric statistics over positive values, times as median and
range), persistence above the LLOQ at nominal days, and the plotting frames and two-panel
flow/qPCR figure of CAR-T expansion. Values below the LLOQ are never dropped: they count as
"not persisting" and are drawn at LLOQ/2 with an open marker.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import pandas as pd
from matplotlib import rc_context
from matplotlib.figure import Figure

from analysis_lib.toolkit import ard, figures, formats, stats
from analysis_lib.trial.efficacy import no_data_figure

#: NCA parameters of the CSR table (ADPP PARAMCD) and their display names.
NCA_PARAMS = {"CMAX": "Cmax", "TMAX": "Tmax", "AUC0_28": "AUC0-28d", "CLAST": "Clast", "TLAST": "Tlast"}
#: Time parameters: summarised by median and range only (a geometric mean of a time is meaningless).
TIME_PARAMS = ("TMAX", "TLAST")
PRODUCTS = ("CD19 CAR-T", "CD22 CAR-T")
SPECIMENS = {"PERIPHERAL BLOOD": "peripheral blood", "CSF": "cerebrospinal fluid"}
METHODS = {"FLOW CYTOMETRY": "flow cytometry", "QPCR": "qPCR"}
NCA_BY = ("CKTRT", "CKSPEC", "CKMETHOD")
_VISIT = re.compile(r"^(?:CD\d+ )?DAY (-?\d+)$")


def unit_label(unit: str | None) -> str:
    """ASCII units of the data as shown in tables: 'cells/uL' -> 'cells/µL'."""
    return "" if unit is None else str(unit).replace("uL", "µL").replace("ug", "µg")


def nominal_day(avisit: pd.Series, what: str = "ADCK") -> pd.Series:
    """Nominal day of an analysis visit ('DAY 28' or 'CD22 DAY 28' -> 28, relative to the
    measured product's infusion); an unparsable visit is an error naming the rows."""
    day = avisit.astype(str).str.extract(_VISIT, expand=False)
    bad = day.isna()
    if bad.any():
        raise ValueError(
            f"{what}: column AVISIT is not 'DAY n' / '<product> DAY n' in rows "
            f"{list(avisit.index[bad][:10])}: {sorted(avisit[bad].astype(str).unique())[:5]}"
        )
    return day.astype(int)


# --------------------------------------------------------------------------------------------
# NCA parameters


def nca_summary_ard(
    adpp: pd.DataFrame,
    *,
    params: Sequence[str] = tuple(NCA_PARAMS),
    by: Sequence[str] = NCA_BY,
    pop_flag: str = "CKEVLFL",
) -> pd.DataFrame:
    """``ard.nca_ard`` of the ``pop_flag`` subjects per product x specimen x method, plus the
    geometric statistics over the positive values (``n_pos``, ``geo_mean_pos``, ``geo_cv_pos``):
    a Cmax or AUC of 0 (no quantifiable sample, e.g. in CSF) makes the plain geometric mean
    undefined, so the table reports it over values > 0 with their number."""
    data = adpp[adpp[pop_flag] == "Y"]
    params = [p for p in params if p in set(data["PARAMCD"])]
    if not params:
        return ard.frame([])
    base = ard.nca_ard(data, list(by), params=params, unit_var="AVALU")
    keys = ["group1_level", "group2_level", "variable"]
    extra = []
    for (g1, g2, prm), blk in base.groupby(keys, sort=False):
        combo = [g1, *str(g2).split(" / ")]
        sel = data["PARAMCD"] == prm
        for col, val in zip(by, combo):
            sel &= data[col].astype(str) == val
        vals = pd.to_numeric(data.loc[sel, "AVAL"], errors="coerce").dropna()
        d = stats.describe(vals[vals > 0])
        head = blk.iloc[0]
        extra.append(
            pd.DataFrame(
                [
                    (head["group1"], g1, head["group2"], g2, prm, head["variable_level"], s, v)
                    for s, v in (
                        ("n_pos", int(d["n"])),
                        ("geo_mean_pos", float(d["geo_mean"])),
                        ("geo_cv_pos", float(d["geo_cv"])),
                    )
                ],
                columns=ard.ARD_COLUMNS,
                dtype=object,
            )
        )
    order = {k: i for i, k in enumerate(dict.fromkeys(map(tuple, base[keys].astype(str).values)))}
    out = pd.concat([base, *extra], ignore_index=True)
    rank = out[keys].astype(str).apply(tuple, axis=1).map(order)
    return out.iloc[rank.argsort(kind="stable")].reset_index(drop=True).astype(object)


def combo_label(product: str, specimen: str, method: str) -> str:
    return f"{product}, {SPECIMENS.get(specimen, specimen.lower())}, {METHODS.get(method, method)}"


def nca_table(
    ard_df: pd.DataFrame,
    *,
    combos: Sequence[tuple[str, str, str]] | None = None,
    labels: Mapping[str, str] = NCA_PARAMS,
    sig: int = 3,
) -> pd.DataFrame:
    """Display of :func:`nca_summary_ard`: a block per product x specimen x method (``combos``,
    default all of :data:`PRODUCTS` x :data:`SPECIMENS` x :data:`METHODS`; one without data
    reads "No subjects"), a row per parameter with n, n > 0, geometric mean (geo CV%) over
    values > 0, and median (min, max); times show only median (min, max), in days to 1 decimal;
    other values to 3 significant figures.
    """
    combos = list(combos) if combos is not None else [(p, s, m) for p in PRODUCTS for s in SPECIMENS for m in METHODS]
    table: dict = {}
    for rec in ard_df.to_dict("records"):
        key = (rec["group1_level"], rec["group2_level"], rec["variable"])
        table.setdefault(key, {"unit": rec["variable_level"]})[rec["stat_name"]] = rec["stat_value"]
    cols = [
        "Product, specimen, method\nParameter (unit)",
        "n",
        "n > 0",
        "Geometric mean (geo. CV%)",
        "Median (min, max)",
    ]
    f = lambda v: formats.fmt_sig(v, sig)
    rows = []
    for prod, spec, meth in combos:
        rows.append([combo_label(prod, spec, meth), "", "", "", "", 0])
        found = False
        for prm, name in labels.items():
            st = table.get((prod, f"{spec} / {meth}", prm))
            if st is None:
                continue
            found = True
            unit = unit_label(st["unit"])
            g = (lambda v: formats.fmt_num(v, 1)) if prm in TIME_PARAMS else f
            med = f"{g(st['median'])} ({g(st['min'])}, {g(st['max'])})" if st["n"] else "NE"
            if prm in TIME_PARAMS:
                rows.append([f"{name} ({unit})", str(int(st["n"])), "", "", med, 1])
            else:
                geo = f"{f(st['geo_mean_pos'])} ({formats.fmt_num(st['geo_cv_pos'], 1)})" if st["n_pos"] else "NE"
                rows.append([f"{name} ({unit})", str(int(st["n"])), str(int(st["n_pos"])), geo, med, 1])
        if not found:
            rows.append(["No subjects", "", "", "", "", 1])
    return pd.DataFrame(rows, columns=[*cols, formats.INDENT]).astype({formats.INDENT: int})


def nca_text(ard_df: pd.DataFrame, product: str, specimen: str = "PERIPHERAL BLOOD", method: str = "QPCR") -> str:
    """One sentence on Cmax and Tmax of a product/specimen/method from :func:`nca_summary_ard`."""
    w = dict(group1_level=product, group2_level=f"{specimen} / {method}")
    what = combo_label(product, specimen, method)
    has = (ard_df["group1_level"] == product) & (ard_df["group2_level"] == w["group2_level"]) if len(ard_df) else []
    n = (
        ard.stat(ard_df, "n", **w, variable="CMAX")
        if len(ard_df) and (has & (ard_df["variable"] == "CMAX")).any()
        else 0
    )
    if not n:
        return f"{what}: no subjects at this data cut."
    unit = unit_label(
        ard_df.loc[
            (ard_df["variable"] == "CMAX")
            & (ard_df["group1_level"] == product)
            & (ard_df["group2_level"] == w["group2_level"]),
            "variable_level",
        ].iloc[0]
    )
    gm, cv = (
        ard.stat(ard_df, "geo_mean_pos", **w, variable="CMAX"),
        ard.stat(ard_df, "geo_cv_pos", **w, variable="CMAX"),
    )
    tmed = ard.stat(ard_df, "median", **w, variable="TMAX")
    tmin, tmax = ard.stat(ard_df, "min", **w, variable="TMAX"), ard.stat(ard_df, "max", **w, variable="TMAX")
    return (
        f"{what} (n = {int(n)}): geometric mean Cmax {formats.fmt_sig(gm)} {unit} "
        f"(geo. CV {formats.fmt_num(cv, 1)}%), reached at a median of Day {formats.fmt_num(tmed, 1)} "
        f"(range {formats.fmt_num(tmin, 1)} to {formats.fmt_num(tmax, 1)})."
    )


# --------------------------------------------------------------------------------------------
# persistence


def persistence_ard(
    adck: pd.DataFrame,
    days: Sequence[int],
    *,
    paramcds: Sequence[str] = ("CD19PBFL", "CD19PBQP", "CD22PBFL", "CD22PBQP"),
    pop_flag: str = "CKEVLFL",
) -> pd.DataFrame:
    """Subjects with a value at or above the LLOQ (BLQFL = N) among those sampled at each
    nominal day, per ADCK PARAMCD: n, N, p (N = 0, p = nan when nobody was sampled).

    ``group1 = "PARAMCD"``; ``variable = "NOMDAY"`` with the day as ``variable_level``. Only
    post-infusion analysis samples (ANL01FL = Y) of the ``pop_flag`` subjects.
    """
    for c in ["USUBJID", "PARAMCD", "AVISIT", "BLQFL", "ANL01FL", pop_flag]:
        if c not in adck.columns:
            raise ValueError(f"ADCK: missing required column {c}")
    d = adck[(adck[pop_flag] == "Y") & (adck["ANL01FL"] == "Y") & adck["PARAMCD"].isin(paramcds)]
    d = d.assign(NOMDAY=nominal_day(d["AVISIT"]))
    rows = []
    for prm in paramcds:
        for day in days:
            s = d[(d["PARAMCD"] == prm) & (d["NOMDAY"] == day)]
            N = int(s["USUBJID"].nunique())
            n = int(s.loc[s["BLQFL"] == "N", "USUBJID"].nunique())
            rows += [
                ("PARAMCD", prm, None, None, "NOMDAY", int(day), k, v)
                for k, v in (("n", n), ("N", N), ("p", n / N if N else math.nan))
            ]
    return ard.frame(rows)


def persistence_table(ard_df: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    """Display of :func:`persistence_ard`: a row per nominal day, a column per PARAMCD
    (``labels``: PARAMCD -> header), cells "n/N (x.x)" or "No samples"."""
    table: dict = {}
    for rec in ard_df.to_dict("records"):
        table.setdefault((rec["variable_level"], rec["group1_level"]), {})[rec["stat_name"]] = rec["stat_value"]
    days = list(dict.fromkeys(ard_df["variable_level"]))

    def cell(st: Mapping) -> str:
        if not st.get("N"):
            return "No samples"
        return formats.n_of_N(st["n"], st["N"]).replace("%", "")

    rows = [[f"Day {day}", *[cell(table.get((day, prm), {})) for prm in labels], 0] for day in days]
    return pd.DataFrame(rows, columns=["Nominal day", *labels.values(), formats.INDENT]).astype({formats.INDENT: int})


def persistence_text(ard_df: pd.DataFrame, paramcd: str, day: int) -> str:
    """'43/44 (97.7%) sampled subjects' persisting at a nominal day, or 'no subject sampled yet'."""
    n, N = (ard.stat(ard_df, s, group1_level=paramcd, variable_level=int(day)) for s in ("n", "N"))
    if not N:
        return "no subject sampled yet"
    return f"{formats.n_of_N(n, N)} sampled subjects"


# --------------------------------------------------------------------------------------------
# figures


def kinetics_frame(adck: pd.DataFrame, *, pop_flag: str = "CKEVLFL") -> pd.DataFrame:
    """Plotting frame from ADCK post-infusion samples (ANL01FL = Y) of the population: subject,
    time (nominal day, > 0: pre-infusion samples are not drawn on the log time axis), value
    (AVAL), lloq, blq (BLQFL = Y), product, specimen ("PB"/"CSF"), method."""
    d = adck[(adck[pop_flag] == "Y") & (adck["ANL01FL"] == "Y")]
    out = pd.DataFrame(
        {
            "subject": d["USUBJID"].astype(str),
            "time": nominal_day(d["AVISIT"]),
            "value": d["AVAL"].astype(float),
            "lloq": d["LLOQ"].astype(float),
            "blq": d["BLQFL"] == "Y",
            "product": d["CKTRT"].astype(str),
            "specimen": d["CKSPEC"].map({"PERIPHERAL BLOOD": "PB"}).fillna(d["CKSPEC"]).astype(str),
            "method": d["CKMETHOD"].astype(str),
        }
    )
    return out[out["time"] > 0].reset_index(drop=True)


def samples_ard(
    data: pd.DataFrame, *, product: str | None = None, specimen: str | None = None, method: str | None = None
) -> pd.DataFrame:
    """The numbers a kinetics figure plots: each sample of :func:`kinetics_frame` (value, LLOQ,
    below-LLOQ flag) keyed by subject, product, specimen, method and nominal day."""
    keep = pd.Series(True, index=data.index)
    for col, val in (("product", product), ("specimen", specimen), ("method", method)):
        if val is not None:
            keep &= data[col] == val
    d = data[keep].assign(blq=data.loc[keep, "blq"].map({True: "Y", False: "N"}))
    return ard.records_ard(d, ["subject", "product", "specimen", "method", "time"], ["value", "lloq", "blq"])


TICK_DAYS = (1, 7, 14, 28, 60, 90, 180, 365)


def _log_days(ax, days: Sequence[int]) -> None:
    """Log time axis labelled at the usual nominal days within the data's range."""
    ticks = [t for t in TICK_DAYS if min(days) <= t <= max(days)] or list(days)
    ax.set_xscale("log")
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(t) for t in ticks])
    ax.minorticks_off()


def _legend_below(fig: Figure) -> None:
    """Move the axes legend(s) drawn by ``figures`` into one figure legend under the panels."""
    handles = []
    for ax in fig.axes:
        leg = ax.get_legend()
        if leg is not None:
            handles = list(leg.legend_handles)
            leg.remove()
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 3))


def expansion_figure(
    data: pd.DataFrame, product: str, *, specimen: str = "PB", xlabel: str, width: float = 7.0
) -> Figure:
    """Two panels, flow cytometry (cells/µL) and qPCR (copies/µg gDNA), each with its own log y
    axis and a log time axis: thin line per subject, thick median per nominal day, LLOQ dashed
    (drawing as ``figures.kinetics_plot``). ``data`` from :func:`kinetics_frame`, restricted here
    to ``product`` and ``specimen``; a labelled placeholder when there are no samples."""
    data = data[(data["product"] == product) & (data["specimen"] == specimen)]
    panels = [
        (m, t, u)
        for m, t, u in (
            ("FLOW CYTOMETRY", "Flow cytometry", "CAR-T cells/µL"),
            ("QPCR", "qPCR", "CAR transgene copies/µg gDNA"),
        )
        if (data["method"] == m).any()
    ]
    if not panels:
        return no_data_figure(f"No {product} samples at this data cut")
    colours = figures.group_colours(["All"])
    with rc_context(figures.STYLE):
        fig = Figure(figsize=(width, 3.6), layout="constrained")
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, (meth, title, unit) in zip(axes, panels):
            df = figures.kinetics_frame(
                data[data["method"] == meth],
                time="time",
                value="value",
                subject="subject",
                group=None,
                lloq="lloq",
                blq="blq",
                what=f"expansion_figure ({meth})",
            )
            figures.draw_kinetics(ax, df, colours)
            _log_days(ax, sorted(df["t"].unique()))
            ax.set_title(title, loc="left", fontweight="bold")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(unit)
        figures.kinetics_legend(axes[-1], ["All"], colours, False)
        _legend_below(fig)
    return fig


def pb_csf_figure(data: pd.DataFrame, *, method: str = "QPCR", width: float = 7.0) -> Figure:
    """Peripheral blood vs cerebrospinal fluid (``figures.kinetics_by_specimen``), one colour per
    product, time from that product's infusion on a log axis; a placeholder without samples."""
    d = data[data["method"] == method]
    if d.empty:
        return no_data_figure("No samples at this data cut")
    fig = figures.kinetics_by_specimen(
        d,
        facet="specimen",
        time="time",
        value="value",
        subject="subject",
        group="product",
        lloq="lloq",
        blq="blq",
        width=width,
        xlabel="Days since infusion of the product",
        ylabel="CAR transgene copies/µg gDNA" if method == "QPCR" else "CAR-T cells/µL",
    )
    days = sorted(d["time"].unique())
    for ax in fig.axes:
        _log_days(ax, days)
    with rc_context(figures.STYLE):
        _legend_below(fig)
    return fig


__all__ = [
    "METHODS",
    "NCA_PARAMS",
    "PRODUCTS",
    "SPECIMENS",
    "TIME_PARAMS",
    "combo_label",
    "expansion_figure",
    "kinetics_frame",
    "nca_summary_ard",
    "nca_table",
    "nca_text",
    "nominal_day",
    "pb_csf_figure",
    "persistence_ard",
    "persistence_table",
    "persistence_text",
    "unit_label",
]
