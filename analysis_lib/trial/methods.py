"""The statistical methods chapter as text: every rule stated with the parameter it comes from
(``params/study.yml``), so the methods follow the parameters and never restate them by hand.

Each public function returns :class:`~analysis_lib.toolkit.escape.Markup` (Markdown it wrote); values from
the parameters are escaped (they are data, not markup).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from analysis_lib.toolkit import stats
from analysis_lib.toolkit.escape import markdown as md
from analysis_lib.toolkit.escape import returns_markup
from analysis_lib.toolkit.formats import markdown_table
from analysis_lib.trial.catalogue import join_days


@returns_markup
def study_text(study: Mapping[str, Any], cut_id: str, cut_label: str, cut_date: Any) -> str:
    s = study["study"]
    return (
        f"Study {md(s['id'])}: {md(s['title'])} ({md(s['phase'])}, {md(str(s['sponsor']).lower())}). "
        f"Data cut {md(cut_id)}: {md(cut_label)}; cut-off {md(cut_date)}."
    )


@returns_markup
def parameters_table(study: Mapping[str, Any]) -> str:
    """The parameters this report used, with their meaning."""
    s = study
    tl, r, t, k = s["timeline"], s["response"], s["time_to_event"], s["kinetics"]
    rows = [
        ("dlt.window", f"Day {s['dlt']['window'][0]} to Day {s['dlt']['window'][1]}", "DLT observation window"),
        (
            "dlt.escalation",
            f"{s['dlt']['escalation']['design']}, at most {s['dlt']['escalation']['max_per_level']} per level",
            "Dose-escalation design",
        ),
        ("timeline.hsct / cd22", f"Day {tl['hsct']} / Day {tl['cd22']}", "Planned allo-HSCT and CD22 CAR-T"),
        ("timeline.end_of_follow_up", f"Day {tl['end_of_follow_up']}", "End of follow-up"),
        ("response.visits", ", ".join(f"Day {v}" for v in r["visits"]), "Response time points"),
        ("response.window", f"+/- {r['window']} days", "Window around each time point"),
        ("response.responder", " + ".join(r["responder"]), "Response categories counted as response"),
        ("time_to_event.conf_type", t["conf_type"], "Kaplan-Meier confidence intervals"),
        (
            "time_to_event.landmarks",
            ", ".join(f"{x['label']} = Day {x['day']}" for x in t["landmarks"]),
            "Landmark rates",
        ),
        (
            "time_to_event.dor_landmarks",
            ", ".join(f"{x['label']} = Day {x['day']}" for x in t["dor_landmarks"]),
            "DOR landmarks (reachable by a responder)",
        ),
        ("time_to_event.final_visit_window", f"+/- {t['final_visit_window']} days", "End-of-follow-up visit window"),
        (
            "time_to_event.efs",
            f"induction assessment Day {t['efs']['induction_assessment_day']}; primary "
            f"{t['efs']['primary']}; sensitivity {t['efs']['sensitivity']}",
            "EFS rules",
        ),
        ("time_to_event.days_per_month", f"{t['days_per_month']}", "Days per month"),
        ("transplant.agvhd.by_day", f"Day {s['transplant']['agvhd']['by_day']} after allo-HSCT", "Acute GVHD counted"),
        (
            "kinetics.auc_needs_sample_in_window",
            str(k["auc_needs_sample_in_window"]),
            "AUC0-window not calculable without a sample inside the interval",
        ),
        ("kinetics.auc_window_days", f"Day 0 to Day {k['auc_window_days']}", "Partial AUC interval"),
        ("kinetics.auc_method", k["auc_method"], "AUC trapezoidal rule"),
        ("kinetics.blq_rule", k["blq_rule"], "Values below the LLOQ in NCA"),
        ("kinetics.persistence_days", ", ".join(f"Day {d}" for d in k["persistence_days"]), "Persistence time points"),
    ]
    return markdown_table(["Parameter", "Value", "Meaning"], rows)


@returns_markup
def populations_table(study: Mapping[str, Any], counts: Mapping[str, int]) -> str:
    """Each analysis population's flag, name, definition and N at this data cut."""
    rows = [
        (flag, text.split(":", 1)[0], text.split(":", 1)[1].strip(), counts[flag])
        for flag, text in study["populations"].items()
    ]
    return markdown_table(["Flag", "Population", "Definition", "N at this data cut"], rows)


@returns_markup
def treatment_text(study: Mapping[str, Any]) -> str:
    tl = study["timeline"]
    ld = tl["lymphodepletion"]
    return (
        f"Study days count the CD19 CAR-T infusion as Day 0 (CDISC study days without a Day 0 are kept in the "
        f"datasets); cellular kinetics of CD22 CAR-T are timed from the CD22 infusion. Planned treatment: "
        f"lymphodepletion Day {ld[0]} to Day {ld[1]}, donor-derived CD19 CAR-T on Day 0, allo-HSCT about Day "
        f"{tl['hsct']}, donor-derived CD22 CAR-T ({study['cd22_dose']:,.0f} CAR+ cells/kg) about Day {tl['cd22']}, "
        f"follow-up to Day {tl['end_of_follow_up']}. Tables by dose level use the CD19 CAR-T dose received."
    )


@returns_markup
def dose_levels_table(study: Mapping[str, Any]) -> str:
    return markdown_table(
        ["Dose level", "CD19 CAR-T dose (CAR+ cells/kg)"],
        [(d["label"], f"{d['dose']:,.0f}") for d in study["dose_levels"]],
    )


@returns_markup
def dlt_text(study: Mapping[str, Any]) -> str:
    w, esc = study["dlt"]["window"], study["dlt"]["escalation"]
    return (
        f"A DLT is an adverse event adjudicated by the safety review committee as dose-limiting that starts from "
        f"Day {w[0]} to Day {w[1]} after CD19 CAR-T. DLT criteria:\n\n"
        + "\n".join(f"- {md(c)}" for c in study["dlt"]["criteria"])
        + f"\n\nDose escalation followed a {md(esc['design'])} design with at most {esc['max_per_level']} subjects "
        "per dose level. The DLT rate per dose level is the number of subjects with a DLT divided by the "
        "DLT-evaluable subjects, with an exact (Clopper-Pearson) 95% confidence interval."
    )


@returns_markup
def ae_text(study: Mapping[str, Any]) -> str:
    p1, p2 = study["ae_periods"]
    eofu = study["timeline"]["end_of_follow_up"]
    return (
        f"Treatment-emergent adverse events start on or after the CD19 CAR-T infusion and up to Day {eofu}. "
        f"They are summarised in two periods: period 1 from Day {p1['start']} to the earlier of CD22 CAR-T + "
        f"{p1['cd22_offset']} days and Day {p1['max_end']}, and period 2 from the day after period 1 to Day "
        f"{p2['end']}. For each period the number of events, the number of subjects with at least one event "
        "(incidence) and the worst grade per subject are reported; a subject is counted once per system organ "
        f"class and preferred term. Partial start dates are imputed as {md(study['partial_dates']['start'])}; "
        f"partial end dates as {md(study['partial_dates']['end'])}."
    )


@returns_markup
def grading_table(study: Mapping[str, Any]) -> str:
    return markdown_table(
        ["Adverse event", "Grading scale"],
        [("All others" if c == "default" else c, g) for c, g in study["grading"].items()],
    )


def _aesi_rule(spec: Mapping[str, Any]) -> str:
    terms = (
        ("preferred terms " + ", ".join(spec["decod"]))
        if "decod" in spec
        else ("system organ class " + ", ".join(spec["bodsys"]))
    )
    return terms + (f"; lasting at least {spec['min_duration_days']} days" if "min_duration_days" in spec else "")


@returns_markup
def aesi_text(study: Mapping[str, Any]) -> str:
    return "Adverse events of special interest (first matching category in this order):\n\n" + markdown_table(
        ["Category", "Definition"], [(c, _aesi_rule(v)) for c, v in study["aesi"].items()]
    )


@returns_markup
def response_text(study: Mapping[str, Any]) -> str:
    r = study["response"]
    return (
        f"Response is assessed per NCCN ALL criteria (CR, CRi, no response, relapse/progression). The response "
        f"at Days {join_days(r['visits'])} is the assessment nearest the nominal day within +/- {r['window']} "
        f"days (ties: the earlier). Responders have {' or '.join(md(x) for x in r['responder'])}. Subjects with "
        "no assessment in the window count as non-responders (died before the window closed, or missing), except "
        "when the window had not closed at the data cut (NOT DUE): they are left out of the denominator. "
        "MRD-negative CR/CRi requires CR/CRi and a negative MRD result nearest the same day in the same window. "
        "Rates are shown with exact (Clopper-Pearson) 95% confidence intervals, overall and by dose level, "
        "in the efficacy population."
    )


@returns_markup
def kinetics_text(study: Mapping[str, Any]) -> str:
    k = study["kinetics"]
    return (
        "CD19 and CD22 CAR-T cells are measured in peripheral blood and cerebrospinal fluid by flow cytometry "
        "(cells/uL) and qPCR (transgene copies/ug gDNA). Non-compartmental parameters per subject, product, "
        f"specimen and method: Cmax, Tmax, AUC from Day 0 to Day {k['auc_window_days']} and AUC to the last "
        f"measurable sample ({md(k['auc_method'])} trapezoidal rule), Clast and Tlast, with time since that "
        f"product's infusion. Values below the lower limit of quantification (LLOQ) are handled by the rule "
        f"'{md(k['blq_rule'])}': {md(stats.BLQ_RULES[k['blq_rule']])}. Parameters are summarised with n, "
        "geometric mean and geometric CV% (100 x sqrt(exp(SD of log values squared) - 1)), arithmetic mean (SD), "
        "median and range (Tmax: median and range), to 3 significant figures. "
        + (
            "AUC from Day 0 is not calculable (missing, footnoted) for a profile with no sample inside the "
            "interval (`kinetics.auc_needs_sample_in_window`); 0 means no quantifiable sample. "
            if k["auc_needs_sample_in_window"]
            else ""
        )
        + "Persistence is the proportion of subjects with a value above the LLOQ at Days "
        f"{join_days(k['persistence_days'])}."
    )


@returns_markup
def conventions_text() -> str:
    return (
        "Percentages are rounded half away from zero (as SAS ROUND; e.g. 12.25 becomes 12.3) to one decimal; a "
        "zero count is shown as 0 and a complete one as n (100); running text reads n/N (x.x%) with the same "
        "percentage. Confidence intervals are 95% and two-sided. NE: not estimable; Not reached: a median the "
        "survival curve did not reach. Every number in a table or figure comes from an analysis results dataset "
        "(ARD) saved with this data cut under the TLF's catalogue id (ard/<id>.csv), computed by the analysis_lib "
        "package; the provenance chapter lists the input files, parameters and software versions."
    )
