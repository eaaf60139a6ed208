"""Efficacy summaries for the response and time-to-event chapters, from ADSL, ADRS and ADTTE.

Response rates at the nominal days (ADRS ``RSPDnn`` / ``MRDNDnn``), best overall response,
Kaplan-Meier summaries in months and swimmer-plot records. Each ``*_ard`` function returns a long
ARD (:data:`analysis_lib.toolkit.ard.ARD_COLUMNS`) built with :mod:`analysis_lib.toolkit.ard`; each ``*_table``
function turns such an ARD into a display frame of strings (:mod:`analysis_lib.toolkit.formats`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd
from matplotlib import rc_context
from matplotlib.figure import Figure

from analysis_lib.toolkit import ard, escape, formats, frames, stats
from analysis_lib.toolkit.figures import STYLE

RESPONDER = ("CR", "CRI")
NOT_DUE = "NOT DUE"
#: Best-overall-response categories in ADRS BESTRSP order, with display labels.
BOR_LABELS = {
    "CR": "Complete remission (CR)",
    "CRI": "CR with incomplete haematological recovery (CRi)",
    "NR": "No response",
    "PD": "Progressive disease",
    "RELAPSE": "Relapse",
    "NE": "Not evaluable",
    "MISSING": "No post-infusion assessment",
}
TTE_LABELS = {
    "DOR": "Duration of response",
    "EFS": "Event-free survival",
    "EFSSENS": "Event-free survival, sensitivity analysis",
    "OS": "Overall survival",
}


def _one_param(adrs: pd.DataFrame, paramcd: str, pop: pd.DataFrame, by: str) -> pd.DataFrame:
    """ADRS records of one parameter for the ``pop`` subjects, grouped by ADSL's ``by``."""
    rec = adrs[adrs["PARAMCD"] == paramcd]
    if rec.empty:
        raise ValueError(f"ADRS: no records with PARAMCD == {paramcd!r}")
    return rec.drop(columns=[by], errors="ignore").merge(
        pop[["USUBJID", by]], on="USUBJID", how="inner", validate="many_to_one"
    )


# --------------------------------------------------------------------------------------------
# response at nominal days


def day_response_ard(
    adrs: pd.DataFrame,
    pop: pd.DataFrame,
    days: Sequence[int],
    *,
    prefix: str = "RSPD",
    components: Mapping[str, Sequence[str]] | None = None,
    by: str = "TRT01A",
    by_levels: Sequence | None = None,
    total: bool = True,
) -> pd.DataFrame:
    """Rates with exact 95% CIs at each nominal day (ADRS ``<prefix><day>``, e.g. RSPD30).

    The denominator at a day is the ``pop`` subjects (ADSL rows, e.g. the efficacy population)
    whose record is not "NOT DUE" (window still open at the cut); subjects without a record or
    with DIED/MISSING count as non-responders. ``components`` maps ``variable_level`` -> AVALC
    values counted as "responders"; default CR, CRi and CR+CRI (ORR). One ``response_ard`` block
    per day and component; ``variable`` is the PARAMCD.
    """
    frames.require_columns(adrs, ["USUBJID", "PARAMCD", "AVALC"], "ADRS")
    frames.require_columns(pop, ["USUBJID", by], "ADSL population")
    components = components or {"CR": ["CR"], "CRI": ["CRI"], "CR+CRI": list(RESPONDER)}
    levels = list(by_levels) if by_levels is not None else sorted(pop[by].dropna().unique())
    blocks = []
    for day in days:
        paramcd = f"{prefix}{day}"
        rec = _one_param(adrs, paramcd, pop, by)
        due = pop[~pop["USUBJID"].isin(rec.loc[rec["AVALC"] == NOT_DUE, "USUBJID"])]
        for label, values in components.items():
            block = ard.response_ard(
                rec, "AVALC", by, values=list(values), paramcd=paramcd, denominator=due, by_levels=levels, total=total
            )
            blocks.append(block.assign(variable_level=label))
    if not blocks:
        raise ValueError("day_response_ard: no days given")
    return pd.concat(blocks, ignore_index=True).astype(object)


def _cells(ard_df: pd.DataFrame):
    """{(variable, variable_level): {group level: {stat: value}}} and the group order."""
    groups: dict = {}
    table: dict = {}
    for rec in ard_df.to_dict("records"):
        g = rec["group1_level"]
        groups.setdefault(g, None)
        table.setdefault((rec["variable"], rec["variable_level"]), {}).setdefault(g, {})[rec["stat_name"]] = rec[
            "stat_value"
        ]
    return list(groups), table


def _display(recs: list[tuple], label_col: str, headers: list[str]) -> pd.DataFrame:
    """Display frame (label, group columns, ``_indent``) from (label, indent, cells) records."""
    df = pd.DataFrame([[lbl, *cells, ind] for lbl, ind, cells in recs], columns=[label_col, *headers, formats.INDENT])
    return df.astype({formats.INDENT: int})


def _headers(groups: Sequence, big_n: Mapping) -> list[str]:
    return [formats.header(g, big_n.get(g)) for g in groups]


def _due(st: Mapping, text: str) -> str:
    """``text``, or "Not due" when no subject of the group is evaluable yet (N = 0)."""
    return "Not due" if not st.get("N") else text


def day_response_table(
    ard_df: pd.DataFrame,
    days: Sequence[int],
    *,
    big_n: Mapping,
    prefix: str = "RSPD",
    row_labels: Mapping[str, str] | None = None,
    ci_for: str = "CR+CRI",
    label_col: str = "Time point\nResponse",
) -> pd.DataFrame:
    """Display of :func:`day_response_ard`: per day a "Day nn" row, the evaluable subjects, n (%)
    per component (``row_labels``: variable_level -> label) and the exact CI of ``ci_for``.

    ``big_n`` maps group level -> population N for the column headers. A group with no
    evaluable subject at a day shows "Not due".
    """
    row_labels = row_labels or {"CR": "CR, n (%)", "CRI": "CRi, n (%)", "CR+CRI": "CR or CRi, n (%)"}
    groups, table = _cells(ard_df)
    recs = []
    for day in days:
        var = f"{prefix}{day}"
        recs.append((f"Day {day}", 0, [""] * len(groups)))
        first = table.get((var, next(iter(row_labels))), {})
        recs.append(("Evaluable (window closed), n", 1, [str(int(first.get(g, {}).get("N") or 0)) for g in groups]))
        for lvl, label in row_labels.items():
            st = table.get((var, lvl), {})
            recs.append(
                (
                    label,
                    1,
                    [
                        _due(st.get(g, {}), formats.fmt_n_pct(st.get(g, {}).get("n"), st.get(g, {}).get("N")))
                        for g in groups
                    ],
                )
            )
            if lvl == ci_for:
                recs.append(
                    (
                        "95% CI (exact)",
                        1,
                        [
                            _due(
                                st.get(g, {}),
                                formats.fmt_ci(
                                    st.get(g, {}).get("ci_low"), st.get(g, {}).get("ci_high"), 1, scale=100.0
                                ),
                            )
                            for g in groups
                        ],
                    )
                )
    return _display(recs, label_col, _headers(groups, big_n))


def best_response_ard(
    adrs: pd.DataFrame, pop: pd.DataFrame, *, by: str = "TRT01A", by_levels: Sequence | None = None, total: bool = True
) -> pd.DataFrame:
    """Best overall response (ADRS BESTRSP) by category, and CR/CRi as best response with CI.

    Denominator: the ``pop`` subjects; categories in :data:`BOR_LABELS` order (all shown).
    """
    rec = _one_param(adrs, "BESTRSP", pop, by)
    levels = list(by_levels) if by_levels is not None else sorted(pop[by].dropna().unique())
    cat = ard.categorical_ard(
        rec, "AVALC", by, pop, levels={"AVALC": list(BOR_LABELS)}, by_levels=levels, total=total, id_var="USUBJID"
    )
    orr = ard.response_ard(
        rec, "AVALC", by, values=list(RESPONDER), paramcd="BESTRSP", denominator=pop, by_levels=levels, total=total
    )
    return pd.concat([cat, orr], ignore_index=True).astype(object)


def best_response_table(
    ard_df: pd.DataFrame, *, big_n: Mapping, label_col: str = "Best overall response"
) -> pd.DataFrame:
    """Display of :func:`best_response_ard`: n (%) per category, then CR or CRi with its CI."""
    groups, table = _cells(ard_df)
    recs = []
    for code, label in BOR_LABELS.items():
        st = table.get(("AVALC", code), {})
        recs.append((label, 0, [formats.fmt_n_pct(st.get(g, {}).get("n"), st.get(g, {}).get("N")) for g in groups]))
    st = table.get(("BESTRSP", "CR+CRI"), {})
    recs.append(
        (
            "CR or CRi as best response, n (%)",
            0,
            [formats.fmt_n_pct(st.get(g, {}).get("n"), st.get(g, {}).get("N")) for g in groups],
        )
    )
    recs.append(
        (
            "95% CI (exact)",
            1,
            [formats.fmt_ci(st.get(g, {}).get("ci_low"), st.get(g, {}).get("ci_high"), 1, scale=100.0) for g in groups],
        )
    )
    return _display(recs, label_col, _headers(groups, big_n))


def group_n(pop: pd.DataFrame, by: str = "TRT01A", total: str | None = "Total") -> dict:
    """Subjects per ``by`` level (and ``total``) of a population: the column-header Ns."""
    out = {k: int(v) for k, v in pop[by].value_counts(sort=False).items()}
    return out | ({total: len(pop)} if total else {})


def rate_text(ard_df: pd.DataFrame, **where) -> str:
    """'41/46 (89.1%; 95% CI 76.4% to 96.4%)' for one group of a response ARD; 'not yet
    evaluable (no subject)' when N = 0. For the interpretive text of a chapter."""
    n, N = ard.stat(ard_df, "n", **where), ard.stat(ard_df, "N", **where)
    if not N:
        return "not yet evaluable (no subject)"
    ci = formats.fmt_ci(ard.stat(ard_df, "ci_low", **where), ard.stat(ard_df, "ci_high", **where), 1, scale=100.0)
    lo, hi = ci.strip("()").split(", ")
    return f"{formats.n_of_N(n, N)[:-1]}; 95% CI {lo}% to {hi}%)"


# --------------------------------------------------------------------------------------------
# time to event


def tte_ard(
    adtte: pd.DataFrame,
    params: Sequence[str] = ("DOR", "EFS", "OS"),
    *,
    pop_flag: str = "EFFFL",
    time_var: str = "AVALM",
    landmarks: Sequence[float] | Mapping[str, Sequence[float]] = (6, 12, 24),
    conf_type: str = "log-log",
) -> pd.DataFrame:
    """Kaplan-Meier summary per endpoint (``ard.km_ard``), one group per PARAMCD.

    ``group1 = "PARAMCD"``, ``group1_level`` the endpoint, ``variable`` = ``time_var``.
    ``landmarks`` (in the unit of ``time_var``) is one list for every endpoint or a mapping
    PARAMCD -> list (e.g. DOR landmarks a responder can reach). An endpoint without records
    gives n = 0. A landmark rate is not estimable (nan) when nobody is at risk at the landmark
    and the curve has not reached 0 (follow-up shorter than the landmark; R ``summary.survfit``
    drops such times), instead of carrying the last value forward.
    """
    frames.require_columns(adtte, ["USUBJID", "PARAMCD", time_var, "CNSR", pop_flag], "ADTTE")
    data = adtte[adtte[pop_flag] == "Y"]
    blocks = []
    for p in params:
        lms = landmarks.get(p, ()) if isinstance(landmarks, Mapping) else landmarks
        block = ard.km_ard(data[data["PARAMCD"] == p], None, landmarks=lms, time_var=time_var, conf_type=conf_type)
        block = block.assign(group1="PARAMCD", group1_level=p)
        for lm in lms:
            at = block["variable_level"].map(lambda v: v is not None and v == lm)
            st = dict(zip(block.loc[at, "stat_name"], block.loc[at, "stat_value"]))
            if st and st["n_risk"] == 0 and st["surv"] != 0:
                fix = at & block["stat_name"].isin(["surv", "surv_ci_low", "surv_ci_high"])
                block.loc[fix, "stat_value"] = math.nan
        blocks.append(block)
    return pd.concat(blocks, ignore_index=True).astype(object)


def tte_table(
    ard_df: pd.DataFrame,
    labels: Mapping[str, str] = TTE_LABELS,
    *,
    landmark_labels: Mapping | None = None,
    days_per_month: float | None = None,
) -> pd.DataFrame:
    """Display of :func:`tte_ard` (``formats.km_table``), columns named by endpoint.

    With ``days_per_month`` the ARD is in days (AVAL): medians are shown in months and landmarks
    by ``landmark_labels`` (day -> label, e.g. 730 -> "24 months"); otherwise in months."""
    relabelled = ard_df.assign(group1_level=ard_df["group1_level"].map(lambda v: labels.get(v, v)))
    if days_per_month:
        return formats.km_table(
            relabelled,
            time_unit="days",
            label_col="Statistic",
            landmark_labels=landmark_labels,
            median_scale=1 / days_per_month,
            median_unit="months",
        )
    return formats.km_table(relabelled, time_unit="months", label_col="Statistic", landmark_labels=landmark_labels)


def km_text(
    ard_df: pd.DataFrame,
    paramcd: str,
    landmark: float,
    labels: Mapping[str, str] = TTE_LABELS,
    *,
    landmark_label: str | None = None,
    days_per_month: float | None = None,
) -> str:
    """One sentence on an endpoint of :func:`tte_ard`: events, median (95% CI) and the rate
    at ``landmark`` (``landmark_label``, default "<landmark>-month"), with "not reached" / "not
    estimable" spelled out. With ``days_per_month`` the ARD is in days and the median is given
    in months."""
    w = dict(group1_level=paramcd)
    n, ev = ard.stat(ard_df, "n", **w, variable_level=None), ard.stat(ard_df, "events", **w, variable_level=None)
    name = labels.get(paramcd, paramcd)
    if not n:
        return f"{name}: no subjects at this data cut."
    k = 1 / days_per_month if days_per_month else 1.0
    med = ard.stat(ard_df, "median", **w, variable_level=None) * k
    lo = ard.stat(ard_df, "median_ci_low", **w, variable_level=None) * k
    hi = ard.stat(ard_df, "median_ci_high", **w, variable_level=None) * k
    med_txt = (
        "not reached"
        if math.isnan(med)
        else f"{formats.fmt_num(med, 1)} months (95% CI {formats.fmt_num(lo, 1)} to {formats.fmt_num(hi, 1)})"
    )
    surv = ard.stat(ard_df, "surv", **w, variable_level=landmark)
    s_lo = ard.stat(ard_df, "surv_ci_low", **w, variable_level=landmark)
    s_hi = ard.stat(ard_df, "surv_ci_high", **w, variable_level=landmark)
    risk = ard.stat(ard_df, "n_risk", **w, variable_level=landmark)
    lm = f"rate at {landmark_label}" if landmark_label else f"{float(landmark):g}-month rate"
    rate = (
        f"the {lm} is not estimable (follow-up too short)"
        if math.isnan(surv)
        else f"the {lm} is {formats.fmt_num(100 * surv, 1)}% (95% CI {formats.fmt_num(100 * s_lo, 1)}% "
        f"to {formats.fmt_num(100 * s_hi, 1)}%; {int(risk)} at risk)"
    )
    events = "no events" if not ev else f"{int(ev)} event{'s' if ev != 1 else ''}"
    return f"{name}: {events} in {int(n)} subjects; median {med_txt}; {rate}."


def km_fit(
    adtte: pd.DataFrame, paramcd: str, *, pop_flag: str = "EFFFL", time_var: str = "AVALM", conf_type: str = "log-log"
) -> stats.KaplanMeier | None:
    """Kaplan-Meier fit of one endpoint in the population (event = 1 - CNSR); None if no records."""
    d = adtte[(adtte["PARAMCD"] == paramcd) & (adtte[pop_flag] == "Y")]
    if d.empty:
        return None
    return stats.kaplan_meier(d[time_var].to_numpy(float), 1 - d["CNSR"].to_numpy(int), conf_type=conf_type)


def landmarks(study: Mapping, paramcds: Sequence[str] = ("OS", "EFS", "EFSSENS", "DOR")) -> dict[str, dict[int, str]]:
    """PARAMCD -> {study day: label} of the Kaplan-Meier landmarks (``time_to_event.landmarks``;
    DOR ``time_to_event.dor_landmarks``). A DOR landmark no responder can reach (beyond the end
    of follow-up less the earliest first CR/CRi, Day ``response.visits[0] - response.window``)
    is refused with a clear error."""
    tte = study["time_to_event"]
    main = {int(x["day"]): str(x["label"]) for x in tte["landmarks"]}
    dor = {int(x["day"]): str(x["label"]) for x in tte["dor_landmarks"]}
    reach = int(study["timeline"]["end_of_follow_up"]) - (
        int(study["response"]["visits"][0]) - int(study["response"]["window"])
    )
    late = [d for d in dor if d > reach]
    if late:
        raise ValueError(
            f"params/study.yml: time_to_event.dor_landmarks {late} lie beyond Day {reach}, the "
            "longest response a responder can have by the end of follow-up"
        )
    return {p: (dor if p == "DOR" else main) for p in paramcds}


def month_ticks(
    days_per_month: float, months: int = 24, step: int = 3, end_day: int | None = None
) -> tuple[list[int], list[str]]:
    """Study days of every ``step`` months to ``months`` (``round(m * days_per_month)``, half away
    from zero, at most ``end_day``: 24 months = Day 730) and their month labels."""
    ms = list(range(0, months + 1, step))
    days = [int(stats.round_half_away(m * days_per_month)) for m in ms]
    return [min(d, end_day) if end_day is not None else d for d in days], [str(m) for m in ms]


def km_figure(
    adtte: pd.DataFrame,
    paramcd: str,
    *,
    xlabel: str,
    ylabel: str,
    pop_flag: str = "EFFFL",
    conf_type: str = "log-log",
    months: int = 24,
    step: int = 3,
    days_per_month: float | None = None,
    end_day: int | None = None,
) -> Figure:
    """Overall Kaplan-Meier curve of one endpoint in months with its CI band and numbers at
    risk every ``step`` months to ``months`` (``figures.km_plot``); a labelled placeholder when
    the endpoint has no subjects at this cut. With ``days_per_month`` the curve is drawn from
    AVAL (days) with ticks at the study day of each month (``round(m * days_per_month)``, at
    most ``end_day``: 24 months = Day 730), labelled in months."""
    from analysis_lib.toolkit.figures import km_plot

    if days_per_month is None:
        km = km_fit(adtte, paramcd, pop_flag=pop_flag, conf_type=conf_type)
        ticks, labels, xmax = list(range(0, months + 1, step)), None, months
    else:
        km = km_fit(adtte, paramcd, pop_flag=pop_flag, conf_type=conf_type, time_var="AVAL")
        ticks, labels = month_ticks(days_per_month, months, step, end_day)
        xmax = ticks[-1]
    if km is None:
        return no_data_figure("No subjects at this data cut")
    return km_plot(
        {"All subjects": km},
        ticks,
        ci=True,
        xmax=xmax,
        xlabel=xlabel,
        ylabel=ylabel,
        conf_type=conf_type,
        tick_labels=labels,
    )


@escape.returns_markup
def tte_methods(study: Mapping) -> str:
    """The time-to-event rules of the methods chapter, each with the parameter it comes from
    (``params/study.yml``), as Markdown (parameter text escaped)."""
    t, r, tl = study["time_to_event"], study["response"], study["timeline"]
    efs = t["efs"]
    end, win = int(tl["end_of_follow_up"]), int(t["final_visit_window"])
    limit = int(efs["induction_assessment_day"]) + int(r["window"])

    def choice(cfg: Mapping) -> str:
        return (
            (
                "induction failure is an event at Day 0"
                if cfg["induction_failure_event"]
                else "induction failure is not an event (relapse/progression and death only)"
            )
            + "; "
            + (
                "study withdrawal is an event at the withdrawal date"
                if cfg["withdrawal_event"]
                else "study withdrawal is censored at the last disease assessment"
            )
        )

    lm = ", ".join(f"{escape.markdown(x['label'])} = Day {x['day']}" for x in t["landmarks"])
    dor = ", ".join(f"{escape.markdown(x['label'])} = Day {x['day']}" for x in t["dor_landmarks"])
    reach = end - (int(r["visits"][0]) - int(r["window"]))
    return "\n".join(
        [
            f"- **End of protocol follow-up** (`timeline.end_of_follow_up` = Day {end}): every endpoint is "
            f"censored administratively there, consistently: an event after Day {end} is censored at Day {end}, "
            f"and a subject who completed the study whose last assessment or contact lies within {win} days of it "
            "(the visit window, "
            f"`time_to_event.final_visit_window`) is censored at Day {end}.",
            f"- **Landmarks** are study days the schedule reaches (`time_to_event.landmarks`: {lm}); 24 months is "
            f"Day {end}, not {24 * float(t['days_per_month']):g}. Months for medians and axes = days / "
            f"{t['days_per_month']} (`time_to_event.days_per_month`).",
            "- **Overall survival (OS)**: CD19 CAR-T to death from any cause; alive: censored at the last date "
            "known alive.",
            f"- **Event-free survival (EFS)**, primary (`time_to_event.efs.primary`): {choice(efs['primary'])}. "
            f"Induction failure is no CR/CRi by Day {limit} (`time_to_event.efs.induction_assessment_day` = "
            f"{efs['induction_assessment_day']} + `response.window` = {r['window']}) in a subject alive and "
            "followed to then; relapse/progression and death are events; a subject without an event is censored "
            "at the last disease "
            "assessment. Sensitivity analysis (`time_to_event.efs.sensitivity`), in the same table: "
            f"{choice(efs['sensitivity'])}.",
            "- **Duration of response (DOR)**: first CR/CRi to relapse/progression or death from ALL; death from "
            f"another cause censors. DOR landmarks are those a responder can reach (`time_to_event.dor_landmarks`: "
            f"{dor}; at "
            f"most Day {reach}, the end of follow-up less the earliest first CR/CRi).",
            "- Allo-HSCT and CD22 CAR-T are protocol treatment and censor no endpoint.",
            f"- Kaplan-Meier estimates with Greenwood variance and {t['conf_type']} 95% confidence intervals "
            "(`time_to_event.conf_type`). Medians and their confidence limits follow R survival's "
            "quantile.survfit(): the first time the curve (or its limit) is at or below 0.5, the midpoint of a flat "
            "stretch exactly at 0.5, "
            "and 'Not reached' / NE when it never gets there. A landmark rate is NE only when nobody remains at risk.",
        ]
    )


def risk_times(
    months: int = 24, step: int = 3, days_per_month: float | None = None, end_day: int | None = None
) -> list[int]:
    """The x-axis ticks of a KM figure, where its numbers at risk are shown: every ``step``
    months to ``months``, as study days (:func:`month_ticks`) when ``days_per_month`` is given."""
    if days_per_month is None:
        return list(range(0, months + 1, step))
    return month_ticks(days_per_month, months, step, end_day)[0]


def km_figure_ard(
    adtte: pd.DataFrame,
    paramcd: str,
    *,
    pop_flag: str = "EFFFL",
    conf_type: str = "log-log",
    months: int = 24,
    step: int = 3,
    days_per_month: float | None = None,
    end_day: int | None = None,
) -> pd.DataFrame:
    """The numbers of :func:`km_figure` (same arguments): survival with its CI and the number at
    risk at each tick of the x axis (``ard.km_ard`` at :func:`risk_times`), n, events, median."""
    data = adtte[(adtte["PARAMCD"] == paramcd) & (adtte[pop_flag] == "Y")]
    return ard.km_ard(
        data,
        paramcd if len(data) else None,
        landmarks=risk_times(months, step, days_per_month, end_day),
        time_var="AVALM" if days_per_month is None else "AVAL",
        conf_type=conf_type,
    )


def no_data_figure(message: str, width: float = 6.5, height: float = 1.2) -> Figure:
    """A small labelled placeholder figure (e.g. "No responders at this data cut")."""
    with rc_context(STYLE):
        fig = Figure(figsize=(width, height))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_axis_off()
        ax.text(0.5, 0.5, message, ha="center", va="center")
    return fig


# --------------------------------------------------------------------------------------------
# swimmer plot


def swimmer_records(
    adsl: pd.DataFrame, adrs: pd.DataFrame, *, pop_flag: str = "SAFFL", by: str = "TRT01A"
) -> pd.DataFrame:
    """One row per ``pop_flag`` subject for ``figures.swimmer_plot``: subject (SUBJID), end
    (FUDY0: death or last contact), hsct, cd22, first post-infusion CR/CRi, first relapse or
    progression, death (study days from Day 0; missing when it did not happen), ongoing (in
    follow-up at the cut: EOSSTT ONGOING and alive) and group (``by``)."""
    frames.require_columns(
        adsl,
        [
            "USUBJID",
            "SUBJID",
            pop_flag,
            by,
            "FUDY0",
            "HSCTFL",
            "HSCTDY0",
            "CD22FL",
            "CD22DY0",
            "DTHFL",
            "DTHDY0",
            "EOSSTT",
        ],
        "ADSL",
    )
    frames.require_columns(adrs, ["USUBJID", "PARAMCD", "AVALC", "ADY0"], "ADRS")
    pop = adsl[adsl[pop_flag] == "Y"]
    resp = adrs[(adrs["PARAMCD"] == "OVRLRESP") & (adrs["ADY0"] >= 0)]

    def first_day(values: Sequence[str]) -> pd.Series:
        return resp[resp["AVALC"].isin(values)].groupby("USUBJID")["ADY0"].min()

    def day_if(flag: str, day: str) -> pd.Series:
        return pop[day].where(pop[flag] == "Y").astype("Float64")

    out = pd.DataFrame(
        {
            "subject": pop["SUBJID"].astype(str),
            "end": pop["FUDY0"].astype(float),
            "hsct": day_if("HSCTFL", "HSCTDY0"),
            "cd22": day_if("CD22FL", "CD22DY0"),
            "crcri": pop["USUBJID"].map(first_day(RESPONDER)).astype("Float64"),
            "relapse": pop["USUBJID"].map(first_day(["RELAPSE", "PD"])).astype("Float64"),
            "death": day_if("DTHFL", "DTHDY0"),
            "ongoing": (pop["EOSSTT"] == "ONGOING") & (pop["DTHFL"] != "Y"),
            "group": pop[by].astype(str),
        }
    )
    for col in ["hsct", "cd22", "crcri", "relapse", "death"]:
        out[col] = out[col].astype(float)  # pd.NA -> nan for matplotlib
    return out.reset_index(drop=True)


def swimmer_ard(records: pd.DataFrame) -> pd.DataFrame:
    """The numbers of the swimmer plot: each subject's event days from :func:`swimmer_records`."""
    return ard.records_ard(
        records.assign(ongoing=records["ongoing"].map({True: "Y", False: "N"})),
        ["subject", "group"],
        ["end", "hsct", "cd22", "crcri", "relapse", "death", "ongoing"],
    )


__all__ = [
    "BOR_LABELS",
    "RESPONDER",
    "TTE_LABELS",
    "best_response_ard",
    "best_response_table",
    "day_response_ard",
    "day_response_table",
    "group_n",
    "km_figure",
    "km_figure_ard",
    "km_fit",
    "km_text",
    "landmarks",
    "month_ticks",
    "no_data_figure",
    "rate_text",
    "risk_times",
    "swimmer_ard",
    "swimmer_records",
    "tte_ard",
    "tte_methods",
    "tte_table",
]
