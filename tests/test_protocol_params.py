"""Protocol values live in params/study.yml only: titles, footnotes and the methods text follow it."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from analysis_lib.trial import catalogue, config, methods

ROOT = Path(__file__).resolve().parents[1]


def _project_with(tmp_path: Path, edit) -> Path:
    """A copy of the project's parameters and catalogue with ``edit(study)`` applied to study.yml."""
    (tmp_path / "params").mkdir()
    (tmp_path / "chapters").mkdir()
    study = yaml.safe_load((ROOT / "params" / "study.yml").read_text(encoding="utf-8"))
    edit(study)
    (tmp_path / "params" / "study.yml").write_text(yaml.safe_dump(study, allow_unicode=True), encoding="utf-8")
    shutil.copy(ROOT / "chapters" / "tlf_catalogue.yml", tmp_path / "chapters" / "tlf_catalogue.yml")
    return tmp_path


def _all_text(cat) -> str:
    return "\n".join([e.title for e in cat.values()] + [f for e in cat.values() for f in e.footnotes])


def test_changing_response_visits_changes_titles_footnotes_and_methods(tmp_path):
    def edit(study):
        study["response"]["visits"] = [28, 42, 84, 112]
        study["response"]["window"] = 5

    root = _project_with(tmp_path, edit)
    study = config.load_study(root)
    cat = catalogue.load(study, root)
    assert cat["t-orr"].title == "Objective response rate (CR + CRi) at Days 28, 42, 84 and 112 by dose level"
    assert cat["t-mrd"].title == "MRD-negative CR/CRi at Days 28, 42, 84 and 112 by dose level"
    text = _all_text(cat)
    assert "+/- 5 days" in text and "+/- 7 days" not in text
    assert "30, 45, 90" not in text
    assert (
        "at Days 28, 42, 84 and 112 is the assessment nearest the nominal day within +/- 5 days"
        in methods.response_text(study)
    )
    assert "Day 28, Day 42, Day 84, Day 112" in methods.parameters_table(study)
    # the reference parameters give the reference titles
    ref = catalogue.load(config.load_study(ROOT), ROOT)
    assert ref["t-orr"].title == "Objective response rate (CR + CRi) at Days 30, 45, 90 and 120 by dose level"


def test_end_of_follow_up_and_dlt_window_follow_the_parameters(tmp_path):
    def edit(study):
        study["timeline"]["end_of_follow_up"] = 1095
        study["dlt"]["window"] = [0, 42]

    root = _project_with(tmp_path, edit)
    study = config.load_study(root)
    text = _all_text(catalogue.load(study, root))
    assert "Day 1095" in text and "3 years" in text and "Day 730" not in text
    assert "within 42 days of CD19 CAR-T" in catalogue.load(study, root)["t-dlt"].title
    assert "Day 43" not in text
    assert "up to Day 1095" in methods.ae_text(study)


def test_the_catalogue_states_no_protocol_value_by_hand():
    raw = (ROOT / "chapters" / "tlf_catalogue.yml").read_text(encoding="utf-8")
    for literal in ("30, 45, 90 and 120", "Day 730", "Day 43", "Day 120", "2 years", "+/- 7 days", "30.4375"):
        assert literal not in raw, f"tlf_catalogue.yml states {literal!r}: use a placeholder filled from params"
