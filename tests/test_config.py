"""Validated parameters: params/study.yml and params/<cut>.yml against their schema (params_schema.py),
every problem named with its path and the expected type, before anything runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from analysis_lib.trial import config, params_schema

ROOT = Path(__file__).resolve().parents[1]
CSR = Path(sys.executable).with_name("csr")

# The brief's example: a missing section, an unknown key and a string where a number belongs.
THREE_PROBLEMS = [
    "study.yml: ae_periods: missing (expected a list of mappings with keys period, label, start, cd22_offset, "
    "max_end, end: The two AE reporting periods (period 1, then period 2))",
    "study.yml: response.windw: unknown key (allowed here: visits, window, responder, later_visits)",
    "study.yml: time_to_event.days_per_month: 'thirty' is a string; expected a number",
]


def _study() -> dict:
    return yaml.safe_load((ROOT / "params" / "study.yml").read_text(encoding="utf-8"))


def _project(tmp_path: Path, edit=None, cut_edits: dict | None = None) -> Path:
    """A copy of the project's params/ with ``edit(study)`` applied and cut files edited."""
    shutil.copytree(ROOT / "params", tmp_path / "params")
    if edit is not None:
        study = _study()
        edit(study)
        (tmp_path / "params" / "study.yml").write_text(yaml.safe_dump(study, allow_unicode=True), encoding="utf-8")
    for cut_id, text in (cut_edits or {}).items():
        (tmp_path / "params" / f"{cut_id}.yml").write_text(text, encoding="utf-8")
    return tmp_path


def _three_problems(study: dict) -> None:
    del study["ae_periods"]
    study["response"]["windw"] = 7
    study["time_to_event"]["days_per_month"] = "thirty"


def _problems(exc: pytest.ExceptionInfo) -> list[str]:
    return [line.removeprefix("  - ") for line in str(exc.value).splitlines()[1:]]


# ---------------------------------------------------------------- the committed parameters


def test_committed_parameters_are_valid_and_handed_on_unchanged():
    assert config.load_study(ROOT) == _study()  # the file's own mapping: every consumer reads the same dict
    assert params_schema.study_problems(_study()) == []
    for cut_id in ("escalation", "interim", "final"):
        cut = config.load_cut(cut_id, ROOT)
        assert cut.id == cut_id and cut.data_dir == ROOT / "synthetic_data" / cut_id


def test_every_parameter_has_its_meaning_in_the_schema():
    seen: set[type[BaseModel]] = set()

    def walk(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            for tp in [field.annotation, *typing.get_args(field.annotation)]:
                for inner in [tp, *typing.get_args(tp)]:
                    if isinstance(inner, type) and issubclass(inner, BaseModel):
                        walk(inner)

    walk(params_schema.StudyParams)
    walk(params_schema.CutParams)
    assert len(seen) > 20


# ---------------------------------------------------------------- study.yml problems


def test_missing_section_unknown_key_and_string_for_number_are_three_clear_messages(tmp_path):
    root = _project(tmp_path, _three_problems)
    with pytest.raises(config.ConfigError) as exc:
        config.load_study(root)
    assert str(exc.value).splitlines()[0] == f"{root / 'params' / 'study.yml'}: 3 problems in the parameters:"
    assert _problems(exc) == THREE_PROBLEMS


@pytest.mark.parametrize("command", ["validate", "report"])
def test_csr_exits_1_with_the_three_messages_and_no_traceback(tmp_path, command):
    root = _project(tmp_path, _three_problems)
    proc = subprocess.run(
        [str(CSR), command, "--cut", "final"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CSR_ROOT": str(root)},
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith(f"csr {command} failed: ")
    for message in THREE_PROBLEMS:
        assert message in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not (root / "_output").exists()  # nothing ran


def test_nested_paths_list_indices_and_expected_types(tmp_path):
    def edit(study):
        study["dose_levels"][0]["level"] = "1"
        del study["time_to_event"]["efs"]["primary"]
        study["kinetics"]["blq_rule"] = "half"
        study["time_to_event"]["conf_type"] = "loglog"
        study["response"]["visits"] = 30
        study["extra_section"] = {}

    with pytest.raises(config.ConfigError) as exc:
        config.load_study(_project(tmp_path, edit))
    assert _problems(exc) == [
        "study.yml: dose_levels[0].level: '1' is a string; expected an integer",
        "study.yml: response.visits: 30 is an integer; expected a list of integers",
        "study.yml: time_to_event.conf_type: 'loglog' is a string; expected one of 'log', 'log-log', 'plain'",
        "study.yml: time_to_event.efs.primary: missing (expected a mapping with keys induction_failure_event, "
        "withdrawal_event: Rules of the primary EFS analysis)",
        "study.yml: kinetics.blq_rule: 'half' is not a BLQ rule (one of zero-before-first-else-drop, zero, drop, "
        "half-lloq)",
        "study.yml: extra_section: unknown key (allowed here: study, dose_levels, cd22_dose, timeline, dlt, "
        "ae_periods, grading, aesi, response, time_to_event, transplant, kinetics, laboratory, partial_dates, "
        "populations, default_cut)",
    ]


def test_cross_checks_visit_days_inside_follow_up_and_unique_dose_levels(tmp_path):
    def edit(study):
        study["response"]["later_visits"] = [180, 800]
        study["time_to_event"]["landmarks"].append({"day": 900, "label": "30 months"})
        study["dose_levels"][1]["level"] = 1

    with pytest.raises(config.ConfigError) as exc:
        config.load_study(_project(tmp_path, edit))
    assert _problems(exc) == [
        "study.yml: response.later_visits: day 800 is after timeline.end_of_follow_up (730); "
        "it must lie inside follow-up",
        "study.yml: time_to_event.landmarks: day 900 is after timeline.end_of_follow_up (730); "
        "it must lie inside follow-up",
        "study.yml: dose_levels: level numbers [1, 1, 3] are not unique",
    ]


def test_first_ae_period_needs_its_end_rule(tmp_path):
    def edit(study):
        del study["ae_periods"][0]["max_end"]

    with pytest.raises(config.ConfigError, match=r"ae_periods: the first period needs cd22_offset and max_end"):
        config.load_study(_project(tmp_path, edit))


# ---------------------------------------------------------------- <cut>.yml problems


def test_cut_file_problems_are_named_all_at_once(tmp_path):
    root = _project(
        tmp_path,
        cut_edits={
            "final": "id: final\ncut_date: '2026-18-01'\ndata_dir: 3\nkind: primary\nprevios: interim\n",
        },
    )
    with pytest.raises(config.ConfigError) as exc:
        config.load_cut("final", root)
    assert _problems(exc) == [
        "final.yml: cut_date: '2026-18-01' is not an ISO 8601 date (YYYY-MM-DD)",
        "final.yml: data_dir: 3 is an integer; expected a string",
        "final.yml: kind: 'primary' is a string; expected one of 'interim', 'final'",
        "final.yml: previos: unknown key (allowed here: id, label, cut_date, data_dir, adam_dir, kind, previous, "
        "tlfs_off)",
    ]


def test_an_impossible_unquoted_date_is_a_clear_error(tmp_path):
    root = _project(tmp_path, cut_edits={"final": "id: final\ncut_date: 2026-18-01\ndata_dir: d\nkind: final\n"})
    with pytest.raises(config.ConfigError, match=r"final.yml: not valid YAML: month must be in 1..12"):
        config.load_cut("final", root)


def test_previous_cut_must_exist_and_be_earlier(tmp_path):
    base = "id: final\ncut_date: 2026-08-18\ndata_dir: synthetic_data/final\nkind: final\n"
    root = _project(tmp_path, cut_edits={"final": base + "previous: midway\n"})
    with pytest.raises(config.ConfigError, match=r"final.yml: previous: no data cut 'midway'"):
        config.load_cut("final", root)
    (root / "params" / "final.yml").write_text(base.replace("2026-08-18", "2023-01-01") + "previous: interim\n")
    with pytest.raises(config.ConfigError) as exc:
        config.load_cut("final", root)
    assert _problems(exc) == [
        "final.yml: previous: cut 'interim' (2023-07-09) is not earlier than this cut (2023-01-01)"
    ]
    (root / "params" / "final.yml").write_text(base.replace("id: final", "id: last") + "previous: interim\n")
    with pytest.raises(config.ConfigError, match=r"final.yml: id: 'last' does not match the file name"):
        config.load_cut("final", root)


def test_quoted_iso_cut_date_is_accepted(tmp_path):
    root = _project(
        tmp_path, cut_edits={"escalation": "id: escalation\ncut_date: '2022-04-17'\ndata_dir: d\nkind: interim\n"}
    )
    cut = config.load_cut("escalation", root)
    assert cut.cut_date.isoformat() == "2022-04-17" and cut.label == "escalation" and cut.previous is None
