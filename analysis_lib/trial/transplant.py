"""Transplant outcomes as a transplant physician reads them (CIBMTR conventions).

Endpoints (ADTTE parameters, derived by :func:`derive_tte` from ADSL, ADAE and ADRS; rules and
landmarks from ``params/study.yml`` ``transplant`` and ``time_to_event``):

* ``CIR`` / ``NRM`` -- from CD19 CAR-T (Day 0), subjects who reached CR/CRi: relapse or
  progression (or death from ALL without a documented relapse) versus death without relapse
  (non-relapse mortality); each is the other's competing event (``CMPEVFL = "Y"``).
* ``AGVHD2`` / ``AGVHD3`` -- acute GVHD grade II-IV / III-IV (MAGIC) with onset by Day
  ``transplant.agvhd.by_day`` after allo-HSCT, from the HSCT date, transplanted subjects;
  relapse and death compete; follow-up ends at that day.
* ``CGVHD`` -- chronic GVHD (NIH 2014) from the HSCT date; relapse and death compete.
* ``GRFS`` -- GVHD-free relapse-free survival from the HSCT date (Kaplan-Meier): grade III-IV
  acute GVHD, chronic GVHD needing systemic therapy, relapse, or death.

Every endpoint is censored at the last disease assessment and at the end of protocol follow-up
(:func:`analysis_lib.trial.derive.tte_parameter`). Neutrophil and platelet engraftment and donor
chimerism are laboratory endpoints (:mod:`analysis_lib.trial.laboratory`); the chapter points there.

The summaries use :func:`analysis_lib.toolkit.stats.cumulative_incidence` (Aalen-Johansen) through
:func:`analysis_lib.toolkit.ard.cif_ard` and the Kaplan-Meier ARD for GRFS.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from analysis_lib.toolkit import ard, escape, formats, stats
from analysis_lib.toolkit.figures import cif_plot, km_plot

ACUTE, CHRONIC = "ACUTE GVHD", "CHRONIC GVHD"  # ADAE AESICAT categories (params `aesi` keys)
DEATH_FROM_ALL = "RELAPSE/PROGRESSION OF ALL"
CIF_PARAMS = ("CIR", "NRM", "AGVHD2", "AGVHD3", "CGVHD")
LABELS = {
    "CIR": "Cumulative incidence of relapse (CIR)",
    "NRM": "Non-relapse mortality (NRM)",
    "AGVHD2": "Acute GVHD grade II-IV",
    "AGVHD3": "Acute GVHD grade III-IV",
    "CGVHD": "Chronic GVHD",
    "GRFS": "GVHD-free relapse-free survival (GRFS)",
}
SHORT = {"CIR": "CIR", "NRM": "NRM", "AGVHD2": "aGVHD II-IV", "AGVHD3": "aGVHD III-IV", "CGVHD": "cGVHD"}
ALL = "All subjects"


# --------------------------------------------------------------------------------------------
# ADTTE derivation


def _agvhd_code(grade: int) -> str:
    return f"AGVHD{grade}"


def derive_tte(
    keys: pd.DataFrame,
    adsl: pd.DataFrame,
    adae: pd.DataFrame,
    first_cr: pd.DataFrame,
    first_prog: pd.DataFrame,
    last_assess: pd.DataFrame,
    deaths: pd.DataFrame,
    rules: dict[str, Any],
    study: Mapping[str, Any],
) -> list[pd.DataFrame]:
    """ADTTE rows of CIR, NRM, AGVHDn, CGVHD and GRFS (docs/adam.md), one frame per parameter.

    ``keys``: safety-population ADSL keys with CD19DT and EOSSTT; ``first_cr``/``first_prog``:
    first CR/CRi and first relapse/progression per subject (USUBJID, ADT); ``last_assess``: the
    EFS censoring rows (last disease assessment); ``deaths``: USUBJID, ADT, DTHCAUS.
    """
    from analysis_lib.trial.derive import tte_parameter

    cfg = study["transplant"]
    s = adsl.set_index("USUBJID")
    death_all = deaths[deaths["DTHCAUS"] == DEATH_FROM_ALL][["USUBJID", "ADT"]]
    death_other = deaths[deaths["DTHCAUS"] != DEATH_FROM_ALL][["USUBJID", "ADT"]]
    relapse = first_prog.assign(EVNTDESC="RELAPSE/PROGRESSION", SRCDOM="RS")
    cens = last_assess
    out = []

    # CIR / NRM from CD19 CAR-T among subjects in CR/CRi
    cr = keys[keys["USUBJID"].isin(first_cr["USUBJID"])]
    cr_base = cr.assign(STARTDT=cr["CD19DT"].values)
    rel = [relapse, death_all.assign(EVNTDESC="DEATH FROM ALL WITHOUT DOCUMENTED RELAPSE", SRCDOM="DS")]
    nrm = [death_other.assign(EVNTDESC="DEATH WITHOUT RELAPSE", SRCDOM="DS")]
    out.append(tte_parameter(cr_base, rel, cens, "CIR", "Time to relapse, CIR (days from CD19 CAR-T)", rules, nrm))
    out.append(
        tte_parameter(cr_base, nrm, cens, "NRM", "Time to non-relapse death, NRM (days from CD19 CAR-T)", rules, rel)
    )

    # GVHD and GRFS from the allo-HSCT date among transplanted subjects
    tx = keys[keys["HSCTFL"] == "Y"]
    tx_base = tx.assign(STARTDT=tx["USUBJID"].map(s["HSCTDT"]).values)
    hsct = tx_base.set_index("USUBJID")["STARTDT"]
    after = lambda df: df[df["USUBJID"].isin(hsct.index) & (df["ADT"] >= df["USUBJID"].map(hsct))]
    ae = after(adae.rename(columns={"ASTDT": "ADT"}))
    rel_tx = [after(r) for r in rel]
    compete = rel_tx + [after(death_other).assign(EVNTDESC="DEATH WITHOUT RELAPSE", SRCDOM="DS")]
    acute, chronic = ae[ae["AESICAT"] == ACUTE], ae[ae["AESICAT"] == CHRONIC]
    by_day = int(cfg["agvhd"]["by_day"])
    for label, grade in cfg["agvhd"]["grades"].items():
        hit = acute[(acute["AETOXGR"] >= int(grade)) & ((acute["ADT"] - acute["USUBJID"].map(hsct)).dt.days <= by_day)]
        ev = hit[["USUBJID", "ADT"]].assign(EVNTDESC=f"ACUTE GVHD GRADE {label}", SRCDOM="AE")
        t = tte_parameter(
            tx_base,
            [ev],
            cens,
            _agvhd_code(int(grade)),
            f"Time to acute GVHD grade {label} by Day {by_day} (days from HSCT)",
            rules,
            compete,
        )
        out.append(_end_at(t, by_day, f"DAY {by_day} AFTER HSCT", rules["days_per_month"]))
    ev = chronic[["USUBJID", "ADT"]].assign(EVNTDESC="CHRONIC GVHD", SRCDOM="AE")
    out.append(tte_parameter(tx_base, [ev], cens, "CGVHD", "Time to chronic GVHD (days from HSCT)", rules, compete))

    g = cfg["grfs"]
    severe = acute[acute["AETOXGR"] >= int(g["agvhd_min_grade"])][["USUBJID", "ADT"]]
    if g["cgvhd"] == "systemic therapy":
        treated = chronic[chronic["CMSTERFL"] == "Y"]
    elif g["cgvhd"] == "moderate or severe":
        treated = chronic[chronic["AETOXGR"] >= 2]
    else:
        raise ValueError(
            f"params/study.yml: transplant.grfs.cgvhd '{g['cgvhd']}' is not 'systemic therapy' or 'moderate or severe'"
        )
    grfs_ev = [
        severe.assign(EVNTDESC="ACUTE GVHD GRADE III-IV", SRCDOM="AE"),
        treated[["USUBJID", "ADT"]].assign(EVNTDESC=f"CHRONIC GVHD ({g['cgvhd'].upper()})", SRCDOM="AE"),
        *rel_tx,
        after(deaths[["USUBJID", "ADT"]]).assign(EVNTDESC="DEATH", SRCDOM="DS"),
    ]
    out.append(tte_parameter(tx_base, grfs_ev, cens, "GRFS", "GVHD-free relapse-free survival (days from HSCT)", rules))
    return out


def _end_at(t: pd.DataFrame, day: int, why: str, days_per_month: float) -> pd.DataFrame:
    """Follow-up of an endpoint ends ``day`` days after STARTDT: later events and censorings are
    censored there (acute GVHD is counted by Day 100 after HSCT)."""
    t = t.copy()
    late = t["AVAL"] > day
    t.loc[late, "ADT"] = t.loc[late, "STARTDT"] + pd.Timedelta(days=day)
    t.loc[late, ["CNSR", "CMPEVFL", "EVNTDESC", "SRCDOM", "CNSDTDSC"]] = [1, "N", "", "ADSL", why]
    t.loc[late, "ADY0"] = (t.loc[late, "ADT"] - t.loc[late, "CD19DT"]).dt.days
    t.loc[late, "AVAL"] = float(day)
    t.loc[late, "AVALM"] = day / days_per_month
    return t


# --------------------------------------------------------------------------------------------
# analysis


def landmark_days(spec: Sequence[Mapping[str, Any]]) -> list[int]:
    """Study days of a ``landmarks`` list of {day, label}."""
    return [int(x["day"]) for x in spec]


def landmark_labels(spec: Sequence[Mapping[str, Any]]) -> dict[int, str]:
    """day -> label of a ``landmarks`` list."""
    return {int(x["day"]): str(x["label"]) for x in spec}


def groups_shown(
    adtte: pd.DataFrame, params: Sequence[str], levels: Sequence[str], min_n: int, by: str = "TRT01A"
) -> list[str]:
    """Dose levels with at least ``min_n`` subjects in every one of ``params`` (the others are
    counted only in "All subjects")."""
    shown = []
    for lv in levels:
        ns = [int(((adtte["PARAMCD"] == p) & (adtte[by] == lv)).sum()) for p in params]
        if ns and min(ns) >= min_n:
            shown.append(lv)
    return shown


def cif_endpoints(study: Mapping[str, Any]) -> dict[str, list[int]]:
    """PARAMCD -> landmark days after the endpoint's origin, from params."""
    cfg = study["transplant"]
    agvhd = {_agvhd_code(int(g)): [int(cfg["agvhd"]["by_day"])] for g in cfg["agvhd"]["grades"].values()}
    return {
        "CIR": landmark_days(cfg["cir_nrm"]["landmarks"]),
        "NRM": landmark_days(cfg["cir_nrm"]["landmarks"]),
        **agvhd,
        "CGVHD": landmark_days(cfg["cgvhd"]["landmarks"]),
    }


def outcomes_ard(
    adtte: pd.DataFrame,
    params: Sequence[str],
    landmarks: Mapping[str, Sequence[int]],
    *,
    by: str = "TRT01A",
    by_levels: Sequence | None = None,
) -> pd.DataFrame:
    """Cumulative incidence ARD (``ard.cif_ard``) of each competing-risks endpoint, by ``by``
    level (``by_levels``, may be empty) and overall (group level "Total")."""
    blocks = [
        ard.cif_ard(adtte, p, by, landmarks=landmarks[p], by_levels=list(by_levels or []), total=True) for p in params
    ]
    return pd.concat(blocks, ignore_index=True).astype(object)


def grfs_ard(
    adtte: pd.DataFrame,
    landmarks: Sequence[int],
    *,
    by: str = "TRT01A",
    by_levels: Sequence | None = None,
    conf_type: str = "log-log",
) -> pd.DataFrame:
    """Kaplan-Meier ARD of GRFS (days from HSCT) by ``by`` level and overall."""
    return ard.km_ard(
        adtte,
        "GRFS",
        by,
        landmarks=landmarks,
        time_var="AVAL",
        conf_type=conf_type,
        by_levels=list(by_levels or []),
        total=True,
    ).astype(object)


def cif_table(
    ard_df: pd.DataFrame,
    params: Sequence[str],
    labels: Mapping[str, Mapping[Any, str]],
    *,
    origin: Mapping[str, str],
    big_n_label: str = ALL,
) -> pd.DataFrame:
    """Display of :func:`outcomes_ard`: per endpoint its counts and the cumulative incidence
    (95% CI) with the number at risk at each landmark (``labels``: PARAMCD -> {day: label})."""
    return formats.cif_table(
        ard_df, params=list(params), endpoint_labels=LABELS, landmark_labels=labels, origin=origin, overall=big_n_label
    )


def grfs_table(ard_df: pd.DataFrame, labels: Mapping[int, str]) -> pd.DataFrame:
    """Display of :func:`grfs_ard` (Kaplan-Meier; median in months, landmark rates by label)."""
    return formats.km_table(ard_df, time_unit="days", label_col="Statistic", landmark_labels=labels)


def estimate_text(ard_df: pd.DataFrame, paramcd: str, day: int, label: str, group: str = ard.TOTAL) -> str:
    """'CIR at 2 years: 18.4% (95% CI 8.1% to 31.9%; 25 at risk)' for the interpretive text."""
    sel = (ard_df["variable"] == paramcd) & (ard_df["group1_level"] == group)
    st = {
        r["stat_name"]: r["stat_value"]
        for r in ard_df[
            sel
            & ard_df["variable_level"].map(
                lambda v: v is not None and not (isinstance(v, float) and math.isnan(v)) and float(v) == day
            )
        ].to_dict("records")
    }
    name = LABELS.get(paramcd, paramcd)
    est = st.get("estimate", math.nan)
    if est is None or math.isnan(float(est)):
        return f"{name} at {label}: not estimable"
    ci = formats.fmt_ci(st.get("ci_low"), st.get("ci_high"), 1, scale=100.0).strip("()").split(", ")
    return (
        f"{name} at {label}: {formats.fmt_num(100 * float(est), 1)}% (95% CI {ci[0]}% to {ci[1]}%; "
        f"{int(st.get('n_risk') or 0)} at risk)"
    )


def cif_figure(
    adtte: pd.DataFrame,
    params: Sequence[str],
    *,
    ticks: Sequence[int],
    xlabel: str,
    tick_labels: Sequence[str] | None = None,
    ylabel: str = "Cumulative incidence",
    labels: Mapping[str, str] | None = None,
) -> Figure:
    """Cumulative incidence curves of ``params`` (all subjects, days from the endpoint's origin)
    with numbers at risk at ``ticks`` (``figures.cif_plot``)."""
    fits, short = {}, {}
    for p in params:
        d = adtte[adtte["PARAMCD"] == p]
        if d.empty:
            continue
        lab = (labels or LABELS).get(p, p)
        fits[lab] = stats.cumulative_incidence(d["AVAL"], ard.cr_status(d), cause=1)
        short[lab] = SHORT.get(p, p)
    if not fits:
        from analysis_lib.trial.efficacy import no_data_figure

        return no_data_figure("No subjects at this data cut")
    return cif_plot(
        fits, list(ticks), xmax=ticks[-1], xlabel=xlabel, ylabel=ylabel, tick_labels=tick_labels, risk_labels=short
    )


def grfs_figure(adtte: pd.DataFrame, *, ticks: Sequence[int], conf_type: str = "log-log") -> Figure:
    """Kaplan-Meier curve of GRFS from HSCT (days) with its CI band and numbers at risk."""
    d = adtte[adtte["PARAMCD"] == "GRFS"]
    if d.empty:
        from analysis_lib.trial.efficacy import no_data_figure

        return no_data_figure("No transplanted subjects at this data cut")
    km = stats.kaplan_meier(d["AVAL"], 1 - d["CNSR"].astype(int), conf_type=conf_type)
    return km_plot(
        {"Transplanted subjects": km},
        list(ticks),
        ci=True,
        xmax=ticks[-1],
        xlabel="Days since allo-HSCT",
        ylabel="GVHD-free relapse-free survival",
        conf_type=conf_type,
    )


def populations(adtte: pd.DataFrame) -> dict[str, int]:
    """Subjects analysed: "cr" (CIR/NRM: in CR/CRi) and "tx" (GVHD, GRFS: transplanted)."""
    return {"cr": int((adtte["PARAMCD"] == "CIR").sum()), "tx": int((adtte["PARAMCD"] == "GRFS").sum())}


def origins(study: Mapping[str, Any]) -> dict[str, str]:
    """PARAMCD -> the time origin and population, for table headings."""
    tx = "from allo-HSCT, transplanted subjects"
    return {
        "CIR": "from CD19 CAR-T, subjects in CR/CRi",
        "NRM": "from CD19 CAR-T, subjects in CR/CRi",
        **{_agvhd_code(int(g)): tx for g in study["transplant"]["agvhd"]["grades"].values()},
        "CGVHD": tx,
        "GRFS": tx,
    }


def landmark_label_map(study: Mapping[str, Any]) -> dict[str, dict[int, str]]:
    """PARAMCD -> {day: label} for the transplant tables and text."""
    cfg = study["transplant"]
    by_day = int(cfg["agvhd"]["by_day"])
    return {
        "CIR": landmark_labels(cfg["cir_nrm"]["landmarks"]),
        "NRM": landmark_labels(cfg["cir_nrm"]["landmarks"]),
        **{_agvhd_code(int(g)): {by_day: f"Day {by_day} after HSCT"} for g in cfg["agvhd"]["grades"].values()},
        "CGVHD": landmark_labels(cfg["cgvhd"]["landmarks"]),
        "GRFS": landmark_labels(cfg["grfs"]["landmarks"]),
    }


def footnotes(study: Mapping[str, Any]) -> dict[str, list[str]]:
    """Footnotes of the transplant TLFs built from params (no protocol value restated by hand)."""
    cfg, tte = study["transplant"], study["time_to_event"]
    end = int(study["timeline"]["end_of_follow_up"])
    by_day = int(cfg["agvhd"]["by_day"])
    ci = (
        "Cumulative incidence by the Aalen-Johansen method (as R cmprsk::cuminc, variance by Gray's method); "
        "95% CI by the log(-log) transformation; NE: not estimable (no follow-up at the landmark)."
    )
    censor = (
        f"Censored at the last disease assessment; every endpoint ends at the end of protocol follow-up "
        f"(Day {end} after CD19 CAR-T): later events are censored there, and completers assessed within "
        f"{int(tte['final_visit_window'])} days of it are censored there."
    )
    small = f"Dose levels with fewer than {int(cfg['min_group_n'])} subjects are counted in All subjects only."
    grades = ", ".join(f"{k} = grade >= {v}" for k, v in cfg["agvhd"]["grades"].items())
    g = cfg["grfs"]
    return {
        "t-cir-nrm": [
            ci,
            "CIR: relapse or progression after CR/CRi, or death from ALL without a documented relapse; "
            "competing event: death without relapse. NRM: death without relapse (any cause other than "
            "ALL), with relapse as the competing event. HSCT and CD22 CAR-T do not censor.",
            censor,
            small,
        ],
        "t-gvhd-ci": [
            ci,
            f"Acute GVHD graded by MAGIC ({grades}), onset on or before Day {by_day} after allo-HSCT; "
            "chronic GVHD by NIH 2014, any onset after allo-HSCT. Relapse and death without GVHD are "
            "competing events.",
            censor,
            small,
        ],
        "t-grfs": [
            f"Kaplan-Meier estimates; 95% CI by the {tte['conf_type']} transformation. Events: acute GVHD "
            f"grade >= {int(g['agvhd_min_grade'])}, chronic GVHD ({g['cgvhd']}), relapse or progression, death "
            "from any cause.",
            censor,
            small,
        ],
        "f-cir-nrm": [
            "Aalen-Johansen cumulative incidence with pointwise 95% CI (log(-log)); relapse and death "
            "without relapse compete.",
            censor,
        ],
        "f-gvhd-ci": [
            f"Aalen-Johansen cumulative incidence with pointwise 95% CI (log(-log)); acute GVHD counted by "
            f"Day {by_day} after allo-HSCT; relapse and death compete.",
            censor,
        ],
        "f-grfs": [f"Shaded band: pointwise 95% CI ({tte['conf_type']}). Censored subjects are marked (+).", censor],
    }


def not_in_report() -> str:
    """Where the transplant outcomes that come from laboratory data are reported (said in the
    chapter, not left out silently): the laboratory chapter, by catalogue number."""
    from analysis_lib.trial import catalogue

    cat = catalogue.load()
    return (
        "Neutrophil and platelet engraftment (CIBMTR definitions) and donor chimerism after allo-HSCT are "
        f"reported with the laboratory evaluations: {cat['t-engraft'].number}, {cat['f-engraft'].number} and "
        f"{cat['f-chimerism'].number}."
    )


def grfs_text(ard_df: pd.DataFrame, day: int, label: str, group: str = ard.TOTAL) -> str:
    """'GRFS at 1 year: 36.6% (95% CI ...; 14 at risk); median ...' from :func:`grfs_ard`."""
    rows = ard_df[ard_df["group1_level"] == group]
    st = {
        r["stat_name"]: r["stat_value"]
        for r in rows.to_dict("records")
        if r["variable_level"] is not None
        and not (isinstance(r["variable_level"], float) and math.isnan(r["variable_level"]))
        and float(r["variable_level"]) == day
    }
    name = LABELS["GRFS"]
    surv = st.get("surv")
    if surv is None or math.isnan(float(surv)):
        return f"{name} at {label}: not estimable."
    lo = formats.fmt_num(100 * float(st["surv_ci_low"]), 1)
    hi = formats.fmt_num(100 * float(st["surv_ci_high"]), 1)
    return (
        f"{name} at {label}: {formats.fmt_num(100 * float(surv), 1)}% (95% CI {lo}% to {hi}%; "
        f"{int(st['n_risk'])} at risk)."
    )


def select_groups(ard_df: pd.DataFrame, shown: Sequence[str]) -> pd.DataFrame:
    """The ARD rows of the dose levels ``shown`` and of "Total" (for the display table)."""
    return ard_df[ard_df["group1_level"].isin([*shown, ard.TOTAL])].reset_index(drop=True)


@escape.returns_markup
def methods_text(study: Mapping[str, Any]) -> str:
    """The transplant-outcome rules of the methods chapter, each with its parameter, as Markdown
    (parameter text escaped)."""
    cfg = study["transplant"]
    by_day = int(cfg["agvhd"]["by_day"])
    grades = ", ".join(f"{escape.markdown(k)}: grade >= {v}" for k, v in cfg["agvhd"]["grades"].items())

    def lms(spec):
        return ", ".join(f"{escape.markdown(x['label'])} = Day {x['day']}" for x in spec)

    return "\n".join(
        [
            "- **Competing risks.** Cumulative incidences are Aalen-Johansen estimates (`stats.cumulative_incidence`, "
            "checked against R cmprsk::cuminc and timepoints to 1e-6) with Gray's variance and 95% CIs by the "
            "log(-log) transformation, est^exp(+/-1.96 se / (est log est)); ties of causes and censorings are "
            "handled as in cmprsk (censored subjects remain at risk at their time).",
            "- **Cumulative incidence of relapse (CIR) and non-relapse mortality (NRM)**, from CD19 CAR-T, subjects "
            "who reached CR/CRi: relapse or progression (or death from ALL without documented relapse) versus death "
            "without relapse from any other cause. Deaths not due to ALL are called non-relapse mortality, never "
            f"treatment-related unless coded so. Landmarks `transplant.cir_nrm.landmarks`: "
            f"{lms(cfg['cir_nrm']['landmarks'])}.",
            f"- **Acute GVHD** (MAGIC; {grades}; `transplant.agvhd.grades`) by Day {by_day} after allo-HSCT "
            "(`transplant.agvhd.by_day`), from the HSCT date in transplanted subjects; relapse and death without acute "
            "GVHD compete; later onsets are not counted.",
            f"- **Chronic GVHD** (NIH 2014) from the HSCT date; relapse and death compete. Landmarks "
            f"`transplant.cgvhd.landmarks`: {lms(cfg['cgvhd']['landmarks'])} (2 years after CD19 CAR-T is the end of "
            "follow-up, a little under 2 years after the transplant).",
            f"- **GVHD-free relapse-free survival (GRFS)** by Kaplan-Meier from the HSCT date: acute GVHD grade >= "
            f"{cfg['grfs']['agvhd_min_grade']} (`transplant.grfs.agvhd_min_grade`), chronic GVHD "
            f"({cfg['grfs']['cgvhd']}; `transplant.grfs.cgvhd`), relapse/progression or death, whichever first. "
            f"Landmarks `transplant.grfs.landmarks`: {lms(cfg['grfs']['landmarks'])}.",
            "- Transplant endpoints are censored at the last disease assessment and at the end of protocol follow-up "
            "as every endpoint. Results are shown by dose level where a level has at least "
            f"{cfg['min_group_n']} subjects (`transplant.min_group_n`) and for all subjects.",
            f"- {not_in_report()}",
        ]
    )


__all__ = [
    "CIF_PARAMS",
    "LABELS",
    "cif_endpoints",
    "cif_figure",
    "cif_table",
    "derive_tte",
    "estimate_text",
    "footnotes",
    "grfs_ard",
    "grfs_figure",
    "grfs_table",
    "grfs_text",
    "groups_shown",
    "landmark_days",
    "landmark_label_map",
    "landmark_labels",
    "methods_text",
    "not_in_report",
    "origins",
    "outcomes_ard",
    "populations",
    "select_groups",
]
