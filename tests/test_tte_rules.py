"""SAP time-to-event rules on the committed final cut: every rule a parameter of params/study.yml,
landmarks the schedule reaches, and the EFS events changing with the induction-failure parameter."""

from __future__ import annotations

import math

import pytest
import yaml

from analysis_lib.toolkit import ard
from analysis_lib.trial import derive, efficacy
from analysis_lib.trial.config import load_cut, load_study, project_root
from analysis_lib.trial.validate import read_and_validate


@pytest.fixture(scope="module")
def final_domains():
    cut = load_cut("final")
    domains, problems = read_and_validate(cut.data_dir)
    assert not problems
    return cut, domains


def _study_copy(tmp_path, edit):
    """A copy of params/study.yml, edited, loaded the way the pipeline loads it."""
    (tmp_path / "params").mkdir()
    src = project_root() / "params" / "study.yml"
    data = yaml.safe_load(src.read_text(encoding="utf-8"))
    edit(data)
    (tmp_path / "params" / "study.yml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_study(tmp_path)


def test_changing_the_efs_induction_failure_parameter_changes_the_efs_events(final_domains, tmp_path):
    """With ``induction_failure_event`` on, a subject without CR/CRi by the induction assessment has
    an EFS event at Day 0 (SAP); with it off, the same subject's event is the later relapse or
    progression (or censoring) — and no other subject's EFS, nor the sensitivity EFS, moves.
    (Whether the displayed table changes depends on the data: a non-responder progressing at the
    induction assessment shifts the event time, not the event count.)"""
    cut, domains = final_domains
    off = _study_copy(tmp_path, lambda d: d["time_to_event"]["efs"]["primary"].update(induction_failure_event=False))
    cols = ["ADT", "AVAL", "CNSR", "EVNTDESC"]

    def efs(study, paramcd):
        adtte = derive.derive_all(domains, study, cut.cut_date)["adtte"]
        return adtte[adtte["PARAMCD"].eq(paramcd)].set_index("USUBJID")[cols].sort_index()

    base, changed = efs(load_study(), "EFS"), efs(off, "EFS")
    failures = base.index[base.EVNTDESC.str.startswith("INDUCTION FAILURE")]
    assert len(failures) > 0
    assert (base.loc[failures, "CNSR"] == 0).all() and (base.loc[failures, "AVAL"] == 0).all()
    assert not changed.EVNTDESC.str.startswith("INDUCTION FAILURE").any()
    assert ((changed.loc[failures, "AVAL"] > 0) | (changed.loc[failures, "CNSR"] == 1)).all()
    others = base.index.difference(failures)
    assert base.loc[others].equals(changed.loc[others])
    assert efs(load_study(), "EFSSENS").equals(efs(off, "EFSSENS"))


def test_final_cut_landmarks_are_estimable_at_day_730(final_domains):
    cut, domains = final_domains
    study = load_study()
    adam = derive.derive_all(domains, study, cut.cut_date)
    adtte = adam["adtte"]
    end = study["timeline"]["end_of_follow_up"]
    assert adtte["ADY0"].max() == end  # administrative censoring of every endpoint
    lm = efficacy.landmarks(study)
    a = efficacy.tte_ard(adtte, list(lm), time_var="AVAL", landmarks={p: list(v) for p, v in lm.items()})
    for p, days in lm.items():
        for d in days:
            surv = ard.stat(a, "surv", group1_level=p, variable_level=d)
            risk = ard.stat(a, "n_risk", group1_level=p, variable_level=d)
            assert not math.isnan(surv) and risk > 0, (p, d)
    assert max(lm["OS"]) == end and end in study["response"]["later_visits"]


def test_a_dor_landmark_no_responder_reaches_is_refused():
    study = load_study()
    bad = {
        **study,
        "time_to_event": {
            **study["time_to_event"],
            "dor_landmarks": [{"day": study["timeline"]["end_of_follow_up"], "label": "24 months"}],
        },
    }
    with pytest.raises(ValueError, match="dor_landmarks"):
        efficacy.landmarks(bad)


def test_methods_text_states_every_rule_with_its_parameter():
    text = efficacy.tte_methods(load_study())
    for key in (
        "timeline.end_of_follow_up",
        "time_to_event.final_visit_window",
        "time_to_event.landmarks",
        "time_to_event.efs.primary",
        "time_to_event.efs.sensitivity",
        "time_to_event.efs.induction_assessment_day",
        "response.window",
        "time_to_event.dor_landmarks",
        "time_to_event.conf_type",
        "time_to_event.days_per_month",
    ):
        assert f"`{key}`" in text, key
    assert "Day 730, not 730.5" in text
