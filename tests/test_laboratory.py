"""Laboratory derivations (analysis_lib.trial.laboratory) on small hand-made ADLB cases: CTCAE
grades at the grade boundaries, baseline selection, engraftment onset (a gap in the run, a
transfusion within the transfusion-free days), death before engraftment, B-cell aplasia censored
at the last sample; and ADLB from the mini study."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from fixtures.mini_study import CUT, DAY0, mini_domains

from analysis_lib.trial import config, derive
from analysis_lib.trial import laboratory as lab

STUDY = config.load_study()
T0 = pd.Timestamp(DAY0)


# ---------------------------------------------------------------- CTCAE grades


@pytest.mark.parametrize(
    "code, lln, value, grade",
    [
        ("NEUT", 1.8, 1.8, 0),  # on the LLN: normal
        ("NEUT", 1.8, 1.79, 1),
        ("NEUT", 1.8, 1.5, 1),  # on a limit: the milder grade
        ("NEUT", 1.8, 1.49, 2),
        ("NEUT", 1.8, 1.0, 2),
        ("NEUT", 1.8, 0.99, 3),
        ("NEUT", 1.8, 0.5, 3),
        ("NEUT", 1.8, 0.49, 4),
        ("NEUT", 1.8, 0.0, 4),
        ("PLAT", 150, 150, 0),
        ("PLAT", 150, 75, 1),
        ("PLAT", 150, 74, 2),
        ("PLAT", 150, 50, 2),
        ("PLAT", 150, 49, 3),
        ("PLAT", 150, 25, 3),
        ("PLAT", 150, 24.9, 4),
        ("HGB", 120, 100, 1),
        ("HGB", 120, 99, 2),
        ("HGB", 120, 80, 2),
        ("HGB", 120, 79, 3),  # anaemia has no grade 4 by value
        ("HGB", 120, 40, 3),
        ("LYM", 1.0, 0.8, 1),
        ("LYM", 1.0, 0.79, 2),
        ("LYM", 1.0, 0.5, 2),
        ("LYM", 1.0, 0.2, 3),
        ("LYM", 1.0, 0.19, 4),
        ("NEUT", 1.4, 1.45, 0),  # a record's LLN below the grade-2 limit: above the LLN is normal
        ("NEUT", 1.4, 1.3, 2),  # ... and below it, grade 2 straight away
    ],
)
def test_ctcae_grade_at_the_boundaries(code, lln, value, grade):
    assert lab.ctcae_grade(value, lab.grade_limits(STUDY, code, lln)) == grade


def test_grades_use_the_records_lln_and_leave_ungraded_tests_empty():
    adlb = pd.DataFrame(
        {
            "PARAMCD": ["NEUT", "NEUT", "CRP", "NEUT"],
            "AVAL": [1.7, 1.7, 250.0, math.nan],
            "ANRLO": [1.8, 1.6, 0.0, 1.8],
        }
    )
    g = lab.grades(adlb, STUDY)
    assert g.iloc[0] == 1 and g.iloc[1] == 0  # 1.7 is below one LLN, not the other
    assert math.isnan(g.iloc[2]) and math.isnan(g.iloc[3])  # CRP not graded; no value, no grade


# ---------------------------------------------------------------- baseline


def test_baseline_is_the_last_non_missing_value_on_or_before_day0():
    adlb = pd.DataFrame(
        {
            "USUBJID": ["A", "A", "A", "B", "B", "C"],
            "PARAMCD": ["NEUT"] * 6,
            "ADY0": [-5, 0, 3, -5, 0, 2],
            "AVAL": [2.0, math.nan, 0.4, 2.0, 1.5, 0.3],
            "LBSEQ": [1, 2, 3, 1, 2, 1],
        }
    )
    adlb["ADT"] = T0 + pd.to_timedelta(adlb["ADY0"], unit="D")
    flags = lab.baseline_flags(adlb).tolist()
    # A: Day 0 has no value -> Day -5; B: Day 0; C: nothing on or before Day 0 -> no baseline
    assert flags == ["Y", "", "", "", "Y", ""]


# ---------------------------------------------------------------- onset rules


def test_neutrophil_onset_needs_successive_samples_a_gap_restarts_the_run():
    days = [1, 2, 3, 4, 5, 6, 7]
    anc = [0.1, 0.6, 0.7, 0.4, 0.6, 0.7, 0.8]  # Day 2-3 at threshold, Day 4 below: the run restarts
    assert lab.onset(days, anc, 0.5, 3) == 5
    # a missing day does not break a run of samples on different days
    assert lab.onset([1, 2, 4, 5], [0.1, 0.6, 0.6, 0.6], 0.5, 3) == 2
    # exactly at the threshold counts; never three in a row -> None
    assert lab.onset([1, 2, 3, 4], [0.2, 0.5, 0.5, 0.5], 0.5, 3) == 2
    assert lab.onset([1, 2, 3, 4], [0.2, 0.6, 0.6, 0.4], 0.5, 3) is None


def test_onset_only_after_the_nadir():
    # counts still high in the first days after the transplant are not engraftment
    assert lab.onset([0, 1, 2, 3, 4, 5, 6], [2.0, 1.5, 1.2, 0.3, 0.6, 0.6, 0.7], 0.5, 3) == 4
    assert lab.onset([0, 1, 2], [2.0, 1.5, 1.2], 0.5, 3) is None  # never below: no nadir yet


def test_platelet_onset_with_a_transfusion_within_the_transfusion_free_days():
    days = list(range(10, 40))
    plt = [10.0, 12.0] + [25.0] * 28  # >= 20 from Day 12
    assert lab.onset(days, plt, 20, 7, transfusions=[], free_days=7) == 12
    # a transfusion on Day 14: no run may start until 7 days after it (Day 22)
    assert lab.onset(days, plt, 20, 7, transfusions=[14], free_days=7) == 22
    # a transfusion 8 days before the run does not matter
    assert lab.onset(days, plt, 20, 7, transfusions=[4], free_days=7) == 12


# ---------------------------------------------------------------- ADLBTTE


def _adsl(rows):
    a = pd.DataFrame(rows, columns=["USUBJID", "HSCTDY0", "DTHDY0"])
    a["STUDYID"], a["TRT01A"], a["TRT01AN"], a["SAFFL"] = "S", "DL1", 1, "Y"
    a["HSCTFL"] = np.where(a["HSCTDY0"].notna(), "Y", "N")
    a["CD19DT"] = T0
    a["HSCTDT"] = T0 + pd.to_timedelta(a["HSCTDY0"], unit="D")
    a["DTHDT"] = T0 + pd.to_timedelta(a["DTHDY0"], unit="D")
    return a


def _adlb(records):
    d = pd.DataFrame(records, columns=["USUBJID", "PARAMCD", "ADY0", "AVAL"])
    d["CONDDY0"] = 9.0
    return d


def test_engraftment_with_death_before_engraftment_as_competing_event():
    adsl = _adsl([("E", 15, None), ("D", 15, 25)])
    recs = [("E", "NEUT", 15 + k, v) for k, v in enumerate([0.8, 0.3, 0.1, 0.1, 0.2, 0.6, 0.7, 0.9, 1.2])]
    recs += [("D", "NEUT", 15 + k, 0.05) for k in range(10)]  # never engrafts, dies on Day 25
    out = lab.derive_adlbtte(_adlb(recs), adsl, pd.DataFrame(columns=["USUBJID", "XTTRT", "XTSTDTC"]), None, STUDY)
    eng = out[out["PARAMCD"] == "NEUTENG"].set_index("USUBJID")
    assert eng.loc["E", ["AVAL", "CNSR", "CMPEVFL"]].tolist() == [5.0, 0, "N"]  # Day 20 = HSCT + 5
    assert eng.loc["D", ["AVAL", "CNSR", "CMPEVFL"]].tolist() == [10.0, 1, "Y"]
    assert eng.loc["D", "CNSDTDSC"] == "DEATH BEFORE ONSET"


def test_platelet_engraftment_waits_for_the_transfusion_free_days():
    adsl = _adsl([("P", 15, None)])
    recs = [("P", "PLAT", d, 10.0 if d < 20 else 30.0) for d in range(15, 45)]
    xt = pd.DataFrame({"USUBJID": ["P"], "XTTRT": ["PLATELETS"], "XTSTDTC": [T0 + pd.Timedelta(days=23)]})
    out = lab.derive_adlbtte(_adlb(recs), adsl, xt, None, STUDY)
    row = out[out["PARAMCD"] == "PLATENG"].iloc[0]
    assert (row["AVAL"], row["CNSR"]) == (31.0 - 15.0, 0)  # transfusion Day 23 -> first run Day 31


def test_b_cell_aplasia_censored_at_the_last_sample():
    adsl = _adsl([("A", None, None), ("R", None, None)])
    recs = [("A", "CD19", d, v) for d, v in ((0, 150.0), (7, 3.0), (30, 2.0), (90, 1.0))]
    recs += [("R", "CD19", d, v) for d, v in ((0, 150.0), (7, 3.0), (60, 50.0), (90, 80.0))]
    out = lab.derive_adlbtte(_adlb(recs), adsl, pd.DataFrame(columns=["USUBJID", "XTTRT", "XTSTDTC"]), None, STUDY)
    b = out[out["PARAMCD"] == "BCAPL"].set_index("USUBJID")
    assert b.loc["A", ["AVAL", "CNSR", "STARTDY0"]].tolist() == [83.0, 1, 7.0]  # Day 7 onset to Day 90
    assert b.loc["A", "CNSDTDSC"] == "LAST B-CELL SAMPLE"
    assert b.loc["R", ["AVAL", "CNSR"]].tolist() == [53.0, 0]


def test_recovery_after_cd19_is_censored_at_conditioning():
    adsl = _adsl([("C", 15, None)])
    recs = [("C", "NEUT", d, v) for d, v in ((0, 2.0), (3, 0.3), (6, 0.2), (8, 0.6), (12, 0.1))]
    out = lab.derive_adlbtte(_adlb(recs), adsl, pd.DataFrame(columns=["USUBJID", "XTTRT", "XTSTDTC"]), None, STUDY)
    rec = out[out["PARAMCD"] == "NEUTREC"].iloc[0]
    assert (rec["AVAL"], rec["CNSR"], rec["CNSDTDSC"]) == (9.0, 1, "START OF TRANSPLANT CONDITIONING")


# ---------------------------------------------------------------- ADLB on the mini study


def test_adlb_of_the_mini_study():
    adam = derive.derive_all(mini_domains(), STUDY, CUT)
    adlb = adam["adlb"]
    s01 = adlb[(adlb["USUBJID"] == "S01") & (adlb["PARAMCD"] == "NEUT")].set_index("ADY0")
    assert s01.loc[0, "ABLFL"] == "Y" and s01.loc[-5, "ABLFL"] == ""
    assert (s01["BASE"] == 1.6).all() and s01.loc[5, "CHG"] == pytest.approx(-1.3)
    assert s01.loc[5, "ATOXGR"] == 4 and s01.loc[5, "WORSTFL"] == "Y" and s01.loc[0, "BTOXGR"] == 1
    assert s01.loc[5, "ADY"] == 6 and s01.loc[-5, "ADY"] == -5  # CDISC day: no Day 0
    assert s01.loc[14, "HSCTDY"] == -1  # HSCT on Day 15
    assert s01.loc[-5, "APHASE"] == "PRE-INFUSION" and s01.loc[5, "APHASE"] == "CD19 CAR-T"
    assert set(adam["adlbtte"]["PARAMCD"]) <= set(lab.TTE_LABELS)


def test_shift_ard_counts_baseline_by_worst_grade():
    adlb = pd.DataFrame(
        {
            "USUBJID": ["A", "A", "A", "B", "B", "C"],
            "PARAMCD": ["NEUT"] * 6,
            "ABLFL": ["Y", "", "", "Y", "", ""],
            "ONTRTFL": ["", "Y", "Y", "", "Y", "Y"],
            "ATOXGR": [0.0, 4.0, 2.0, 1.0, 1.0, 3.0],
        }
    )
    sh = lab.shift_ard(adlb, ["NEUT"])
    from analysis_lib.toolkit import ard

    assert ard.stat(sh, "N", group1_level="NEUT") == 3
    assert ard.stat(sh, "n", group2_level="0", variable_level=4) == 1  # A: 0 -> 4
    assert ard.stat(sh, "n", group2_level="1", variable_level=1) == 1  # B: 1 -> 1
    assert ard.stat(sh, "n", group2_level="Missing", variable_level=3) == 1  # C: no baseline
    assert lab.shift_text(sh, 3) == "Worst grade >= 3 in the window: ANC 2/3 (66.7%)."
