"""This study's TLF catalogue: ``chapters/tlf_catalogue.yml`` with its ``{placeholders}`` filled
from ``params/study.yml`` — a protocol value (a visit day, a window, the end of follow-up) is
written once, in the parameters, and every title and footnote that states it follows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from analysis_lib.toolkit.tlf import Catalogue, load_catalogue
from analysis_lib.trial import config


def join_days(days: Sequence[Any]) -> str:
    """[30, 45, 90, 120] -> '30, 45, 90 and 120' (how a title lists nominal days)."""
    items = [str(d) for d in days]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _number(x: float) -> str:
    return f"{x:g}"


def protocol_context(study: Mapping[str, Any]) -> dict[str, str]:
    """The protocol values catalogue titles and footnotes may state, by placeholder name."""
    timeline = study["timeline"]
    eofu = int(timeline["end_of_follow_up"])
    dlt_end = int(study["dlt"]["window"][1])
    period1 = next(p for p in study["ae_periods"] if p["period"] == 1)
    response = study["response"]
    return {
        "response_days": join_days(response["visits"]),
        "response_window": _number(response["window"]),
        "dlt_window_end": str(dlt_end),
        "dlt_days_after_hsct": str(dlt_end - int(timeline["hsct"])),
        "end_of_follow_up": str(eofu),
        "follow_up_years": _number(eofu / 365),
        "cd22_offset": _number(period1["cd22_offset"]),
        "period1_max_end": _number(period1["max_end"]),
        "days_per_month": _number(study["time_to_event"]["days_per_month"]),
        "auc_window": _number(study["kinetics"]["auc_window_days"]),
        "prolonged_cytopenia_days": _number(study["aesi"]["PROLONGED CYTOPENIA"]["min_duration_days"]),
        "hsct_day": str(timeline["hsct"]),
        "cd22_day": str(timeline["cd22"]),
        "grading": grading_text(study["grading"]),
        "aesi_categories": join_days(list(study["aesi"])),
        **_laboratory_context(study.get("laboratory") or {}),
    }


def _laboratory_context(lab: Mapping[str, Any]) -> dict[str, str]:
    """Placeholders of the laboratory TLFs (params ``laboratory``)."""
    if not lab:
        return {}
    e, pc = lab["engraftment"], lab["prolonged_cytopenia"]
    return {
        "anc_threshold": _number(e["neutrophil"]["threshold"]),
        "anc_consecutive": _number(e["neutrophil"]["consecutive"]),
        "plt_threshold": _number(e["platelet"]["threshold"]),
        "plt_consecutive": _number(e["platelet"]["consecutive"]),
        "plt_transfusion_free_days": _number(e["platelet"]["transfusion_free_days"]),
        "rec_anc_threshold": _number(lab["recovery"]["neutrophil"]["threshold"]),
        "rec_plt_threshold": _number(lab["recovery"]["platelet"]["threshold"]),
        "cytopenia_day": _number(pc["day"]),
        "cytopenia_window": _number(pc["window"]),
        "cytopenia_min_grade": _number(pc["min_grade"]),
        "b_cell_aplasia_below": _number(lab["b_cell_aplasia_below"]),
        "igg_below": _number(lab["hypogammaglobulinaemia_below"]),
        "lab_listing_min_grade": _number(lab["grade3_listing_min_grade"]),
        "crs_marker_window_end": _number(lab["crs_markers"]["window"][1]),
        "crs_marker_window_start": _number(lab["crs_markers"]["window"][0]),
    }


def grading_text(grading: Mapping[str, Any]) -> str:
    """{'default': 'CTCAE v5.0', 'CRS': 'ASTCT 2019', ...} -> 'CTCAE v5.0; CRS: ASTCT 2019; ...'."""
    default = grading.get("default")
    rest = [f"{cat}: {scale}" for cat, scale in grading.items() if cat != "default"]
    return "; ".join(([str(default)] if default else []) + rest)


def population_labels(study: Mapping[str, Any]) -> dict[str, str]:
    """'SAFFL' -> 'Safety population', from the study's ``populations`` descriptions."""
    return {
        flag: f"{str(text).split(':', 1)[0].strip()} population"
        for flag, text in (study.get("populations") or {}).items()
        if text
    }


def catalogue_path(root: Path | None = None) -> Path:
    return (root or config.project_root()) / "chapters" / "tlf_catalogue.yml"


def load(study: Mapping[str, Any] | None = None, root: Path | None = None) -> Catalogue:
    """The study's catalogue, placeholders filled and populations labelled from ``study``."""
    study = study if study is not None else config.load_study(root)
    return load_catalogue(
        catalogue_path(root), context=protocol_context(study), population_labels=population_labels(study)
    )
