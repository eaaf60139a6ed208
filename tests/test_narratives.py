"""analysis_lib.trial.narratives: every narrative's subjects, events, dates, grades and outcomes equal
the ADaM records they were built from (re-derived here from the reference cut's ADaM), and the
text is data (escaped by the TLF renderers)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from analysis_lib.pipeline import reference_outputs
from analysis_lib.toolkit import ard
from analysis_lib.toolkit.tlf import Listing
from analysis_lib.trial import narratives as nr

ID = "USUBJID"


@pytest.fixture(scope="module")
def adam(tmp_path_factory) -> dict[str, pd.DataFrame]:
    out = reference_outputs.derive_reference(tmp_path_factory.mktemp("narr"))
    return {n: pd.read_parquet(out / "adam" / f"{n}.parquet") for n in ("adsl", "adae", "adrs")}


@pytest.fixture(scope="module")
def built(adam):
    return nr.build(adam["adsl"], adam["adae"], adam["adrs"])


def _expected_events(adam) -> pd.DataFrame:
    """Re-derived: treatment-emergent ADAE records of safety subjects that are a DLT, a serious
    AESI or have a fatal outcome."""
    saf = set(adam["adsl"].loc[adam["adsl"]["SAFFL"] == "Y", ID])
    ae = adam["adae"]
    ae = ae[(ae["TRTEMFL"] == "Y") & ae[ID].isin(saf)]
    keep = (ae["AEDLT"] == "Y") | ((ae["AESER"] == "Y") & (ae["AESICAT"] != "")) | (ae["AEOUT"] == "FATAL")
    return ae[keep]


def _grade(grade: int, scale: str) -> str:
    if scale == "MAGIC":
        return f"grade {['', 'I', 'II', 'III', 'IV', 'V'][grade]} (MAGIC)"
    if scale == "NIH 2014":
        return f"{['', 'mild', 'moderate', 'severe'][grade]} (NIH 2014)"
    return f"grade {grade} ({scale})"


def test_subjects_are_every_death_dlt_and_serious_aesi(adam, built):
    adsl, ae = adam["adsl"], _expected_events(adam)
    saf = adsl[adsl["SAFFL"] == "Y"]
    dead = set(saf.loc[saf["DTHFL"] == "Y", ID])
    dlt = set(ae.loc[ae["AEDLT"] == "Y", ID])
    saesi = set(ae.loc[(ae["AESER"] == "Y") & (ae["AESICAT"] != ""), ID])
    assert dead and dlt and saesi  # the reference cut has all three
    assert [n.usubjid for n in built] == sorted(dead | dlt | saesi)
    for n in built:
        assert (nr.DEATH in n.reasons) == (n.usubjid in dead)
        assert (nr.DLT in n.reasons) == (n.usubjid in dlt)
        assert (nr.SERIOUS_AESI in n.reasons) == (n.usubjid in saesi)


def test_every_event_equals_its_adae_record_and_the_text_states_it(adam, built):
    ae = _expected_events(adam).set_index([ID, "AESEQ"])
    ovr = adam["adrs"][adam["adrs"]["PARAMCD"] == "OVRLRESP"]
    seen = set()
    for n in built:
        texts = nr.paragraphs(n)
        for e in n.events:
            rec = ae.loc[(n.usubjid, e.aeseq)]
            seen.add((n.usubjid, e.aeseq))
            assert (e.term, e.grade, e.scale, e.start_day, e.outcome) == (
                rec["AEDECOD"],
                int(rec["AETOXGR"]),
                rec["AEGRSCL"],
                int(rec["ASTDY0"]),
                rec["AEOUT"],
            )
            assert e.ongoing == (rec["AONGOFL"] == "Y")
            assert e.end_day == (None if e.ongoing else int(rec["AENDY0"]))
            assert (e.serious, e.dlt) == (rec["AESER"] == "Y", rec["AEDLT"] == "Y")
            assert e.related == (rec["AEREL"] == "RELATED")
            assert (e.tocilizumab, e.steroids) == (rec["CMTOCIFL"] == "Y", rec["CMSTERFL"] == "Y")
            # the paragraph of this event: dates, grade with scale, outcome, treatments, response at onset
            text = next(t for t in texts if t.startswith(rec["AEDECOD"]) and f"on Day {int(rec['ASTDY0'])}" in t)
            assert _grade(int(rec["AETOXGR"]), rec["AEGRSCL"]) in text
            assert f"started on Day {int(rec['ASTDY0'])}" in text
            if rec["AONGOFL"] != "Y":
                assert f"ended on Day {int(rec['AENDY0'])} (duration {int(rec['ADURN'])} days)" in text
            assert f"Outcome: {nr.OUTCOME_TEXT[rec['AEOUT']]}." in text
            assert ("Tocilizumab" in text) == (rec["CMTOCIFL"] == "Y")
            assert ("orticosteroids were given" in text or "orticosteroids was given" in text) == (
                rec["CMSTERFL"] == "Y"
            )
            assert ("dose-limiting toxicity" in text) == (rec["AEDLT"] == "Y")
            prior = ovr[(ovr[ID] == n.usubjid) & (ovr["ADY0"] <= rec["ASTDY0"])].sort_values("ADY0", kind="stable")
            if prior.empty:
                assert "no response assessment on or before" in text
            else:
                last = prior.iloc[-1]
                assert f"{nr.response_text(last['AVALC'])} at the latest assessment, on Day {int(last['ADY0'])}" in text
    assert seen == set(ae.index)


def test_death_and_status_paragraphs_equal_adsl(adam, built):
    adsl = adam["adsl"].set_index(ID)
    for n in built:
        s = adsl.loc[n.usubjid]
        last = nr.paragraphs(n, cut_date="2026-01-01")[-1]
        if s["DTHFL"] == "Y":
            assert last.startswith(f"The subject died on Day {int(s['DTHDY0'])}")
            assert ("non-relapse mortality" in last) == (s["DTHTRTFL"] == "Y")
        else:
            assert f"last contact on Day {int(s['FUDY0'])}" in last
        first = nr.paragraphs(n)[0]
        if s["HSCTFL"] == "Y":
            assert f"allo-HSCT from a {s['DONORTYP'].lower()} donor on Day {int(s['HSCTDY0'])}" in first
        else:
            assert "did not undergo allo-HSCT" in first
        if s["CD22FL"] == "Y":
            assert f"received CD22 CAR-T on Day {int(s['CD22DY0'])}" in first
        else:
            assert "did not receive CD22 CAR-T" in first
        assert f"(CD19 CAR-T {s['TRT01A']})" in first
        status = "relapse after allo-HSCT" if s["DISSTAT"] == "RELAPSE AFTER HSCT" else s["DISSTAT"].lower()
        assert f"{status}, {s['PRLINES']} prior line" in first
        base = first[first.index("Baseline disease:") : first.index("Best overall response")]
        assert (f"bone marrow blasts {s['BMBLAST']:g}%" in base) == pd.notna(s["BMBLAST"])
        assert (f"MRD {s['MRDBL']:g}%." in base) if pd.notna(s["MRDBL"]) else ("MRD" not in base)


def test_listing_holds_each_narrative_once_and_the_ard_its_facts(adam, built):
    body = nr.listing(built)
    heads = body.loc[body["_indent"] == 0, nr.NARRATIVE_COLUMN].tolist()
    assert heads == [nr.heading(n) for n in built]
    assert len(body) == sum(1 + len(nr.paragraphs(n)) for n in built)
    facts = nr.facts_ard(built)
    for n in built:
        for e in n.events:
            rows = facts[(facts["group1_level"] == n.usubjid) & (facts["group2_level"] == str(e.aeseq))]
            got = dict(zip(rows["variable"], rows["stat_value"], strict=True))
            assert (got["grade"], got["start_day"], got["outcome"]) == (e.grade, e.start_day, e.outcome)
    idx = nr.index_listing(built)
    assert idx["Subject"].tolist() == [n.subject for n in built]
    ard.check(facts)


def test_no_narrative_and_text_from_the_data_is_escaped():
    assert nr.listing([]).iloc[0, 0].startswith("No subject died")
    assert nr.index_listing([]).iloc[0, 0] == "No narratives"
    e = nr.EventFacts(
        aeseq=1, term="Rash <b>&amp;", verbatim="", category="", grade=3, scale="CTCAE v5.0", start_day=5,
        start_imputed=True, end_day=None, ongoing=True, duration=7, serious=True, related=False, dlt=False,
        outcome="NOT RECOVERED/NOT RESOLVED", tocilizumab=True, steroids=True, reasons=(nr.FATAL,),
        response_before=None,
    )  # fmt: skip
    n = nr.Narrative(
        usubjid="S1", subject="01-001", reasons=(nr.SERIOUS_AESI,), dose_level="DL1", phase="DOSE ESCALATION",
        cohort="E1", age=18, sex="M", donor="", baseline_status="", baseline_blasts=None, baseline_mrd=None,
        prior_lines=None, lymphodepletion_day=-5, hsct_day=None, cd22_day=None,
        death_day=None, death_cause="", non_relapse_death=False, best_response="", first_response_day=None,
        relapse_day=None, last_day=12, status="ONGOING", discontinuation="", events=(e,),
    )  # fmt: skip
    paras = nr.paragraphs(n)
    assert paras[0].startswith("Subject 01-001, an 18-year-old male")
    assert "Baseline disease status not recorded." in paras[0]
    assert "start date partially imputed" in paras[1] and "ongoing" in paras[1]
    assert "Tocilizumab and corticosteroids were given" in paras[1]
    assert paras[-1] == "At the data cut the subject was alive and in follow-up; last contact on Day 12."
    html = Listing(number="Listing 16.2.7.6", title="t", body=nr.listing([n]))._repr_html_()
    assert "Rash &lt;b&gt;&amp;amp;" in html and "<b>" not in html
    assert re.search(r"\\textless\{\}b\\textgreater\{\}", Listing(number="Listing 16.2.7.6", title="t",
                                                            body=nr.listing([n])).to_latex())  # fmt: skip


@pytest.mark.parametrize(
    ("grade", "scale", "text"),
    [(3, "CTCAE v5.0", "grade 3 (CTCAE v5.0)"), (4, "MAGIC", "grade IV (MAGIC)"),
     (2, "NIH 2014", "moderate (NIH 2014)"), (4, "ASTCT 2019", "grade 4 (ASTCT 2019)"),
     (2, "", "grade 2 (grading scale not recorded)")],
)  # fmt: skip
def test_grade_text_states_the_scale(grade, scale, text):
    assert nr.grade_text(grade, scale) == text
