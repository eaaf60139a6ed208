"""Transplant outcomes: ADTTE rules of CIR/NRM, acute/chronic GVHD and GRFS on hand-made ADaM,
the competing-risks ARD and display, the CIF figure, and the end-of-follow-up rule."""

from __future__ import annotations

import copy
import math

import pandas as pd
import pytest

from analysis_lib.toolkit import ard, figures, formats, stats
from analysis_lib.trial import derive, transplant
from analysis_lib.trial.config import load_study

D0 = pd.Timestamp("2024-01-01")


def day(n: int) -> pd.Timestamp:
    return D0 + pd.Timedelta(days=n)


@pytest.fixture(scope="module")
def study():
    return load_study()


def _inputs():
    """Five transplanted responders (HSCT Day 15), one untransplanted responder.

    T1: aGVHD grade 3 on HSCT+20, cGVHD (steroids) on HSCT+150, alive to the end (completed).
    T2: aGVHD grade 2 on HSCT+120 (after Day 100), relapse Day 200, death from ALL Day 300.
    T3: non-relapse death (infection) Day 60.
    T4: cGVHD mild, no steroids, on HSCT+200; relapse on Day 733 (after the end of follow-up).
    T5: withdrew; last assessment Day 180.
    N1: not transplanted; death from ALL on Day 90 without a documented relapse.
    """
    ids = ["T1", "T2", "T3", "T4", "T5", "N1"]
    adsl = pd.DataFrame(
        {
            "USUBJID": ids,
            "STUDYID": "S",
            "TRT01A": "DL2",
            "TRT01AN": 2,
            "PHASE": "X",
            "COHORT": "X",
            "DOSELVL": 2,
            "SAFFL": "Y",
            "EFFFL": "Y",
            "HSCTFL": ["Y"] * 5 + ["N"],
            "CD19DT": D0,
            "HSCTDT": [day(15)] * 5 + [pd.NaT],
            "EOSSTT": ["COMPLETED", "DISCONTINUED", "DISCONTINUED", "COMPLETED", "DISCONTINUED", "DISCONTINUED"],
            "CUTOFFDT": day(800),
        }
    )
    keys = adsl[derive.ADSL_KEYS + ["SAFFL", "EFFFL", "HSCTFL", "CD19DT", "EOSSTT", "CUTOFFDT"]]
    adae = pd.DataFrame(
        {
            "USUBJID": ["T1", "T1", "T2", "T4"],
            "AESICAT": ["ACUTE GVHD", "CHRONIC GVHD", "ACUTE GVHD", "CHRONIC GVHD"],
            "AETOXGR": [3, 2, 2, 1],
            "CMSTERFL": ["Y", "Y", "Y", "N"],
            "ASTDT": [day(35), day(165), day(135), day(215)],
        }
    )
    first_cr = pd.DataFrame({"USUBJID": ids, "ADT": day(30)})
    first_prog = pd.DataFrame({"USUBJID": ["T2", "T4"], "ADT": [day(200), day(733)]})
    last = pd.DataFrame(
        {
            "USUBJID": ids,
            "ADT": [day(728), day(200), day(45), day(733), day(180), day(45)],
            "CNSDTDSC": "LAST DISEASE ASSESSMENT",
            "SRCDOM": "RS",
        }
    )
    deaths = pd.DataFrame(
        {
            "USUBJID": ["T2", "T3", "N1"],
            "ADT": [day(300), day(60), day(90)],
            "DTHCAUS": [transplant.DEATH_FROM_ALL, "INFECTION", transplant.DEATH_FROM_ALL],
        }
    )
    return keys, adsl, adae, first_cr, first_prog, last, deaths


@pytest.fixture(scope="module")
def tte(study):
    rules = derive.tte_rules(study)
    parts = transplant.derive_tte(*_inputs(), rules, study)
    out = pd.concat([p[derive.TTE_COLUMNS] for p in parts], ignore_index=True)
    return out.set_index(["USUBJID", "PARAMCD"])


def _row(tte, u, p):
    r = tte.loc[(u, p)]
    return [r["AVAL"], int(r["CNSR"]), r["CMPEVFL"], r["EVNTDESC"] or r["CNSDTDSC"]]


def test_cir_and_nrm_are_each_others_competing_event(tte, study):
    end = study["timeline"]["end_of_follow_up"]
    assert _row(tte, "T2", "CIR") == [200.0, 0, "N", "RELAPSE/PROGRESSION"]
    assert _row(tte, "T2", "NRM") == [200.0, 1, "Y", "RELAPSE/PROGRESSION"]
    assert _row(tte, "T3", "NRM") == [60.0, 0, "N", "DEATH WITHOUT RELAPSE"]
    assert _row(tte, "T3", "CIR") == [60.0, 1, "Y", "DEATH WITHOUT RELAPSE"]
    # death from ALL without a documented relapse counts as relapse
    assert _row(tte, "N1", "CIR") == [90.0, 0, "N", "DEATH FROM ALL WITHOUT DOCUMENTED RELAPSE"]
    # a relapse after the end of follow-up is censored there; a completer assessed in the window too
    assert _row(tte, "T4", "CIR") == [float(end), 1, "N", f"END OF PROTOCOL FOLLOW-UP (DAY {end})"]
    assert _row(tte, "T1", "CIR") == [float(end), 1, "N", f"END OF PROTOCOL FOLLOW-UP (DAY {end})"]
    assert _row(tte, "T5", "CIR") == [180.0, 1, "N", "LAST DISEASE ASSESSMENT"]


def test_acute_gvhd_by_day_100_from_hsct(tte, study):
    by = study["transplant"]["agvhd"]["by_day"]
    assert _row(tte, "T1", "AGVHD2") == [20.0, 0, "N", "ACUTE GVHD GRADE II-IV"]
    assert _row(tte, "T1", "AGVHD3") == [20.0, 0, "N", "ACUTE GVHD GRADE III-IV"]
    # onset after Day 100 is not counted: censored at Day 100 after HSCT
    assert _row(tte, "T2", "AGVHD2") == [float(by), 1, "N", f"DAY {by} AFTER HSCT"]
    assert _row(tte, "T3", "AGVHD2") == [45.0, 1, "Y", "DEATH WITHOUT RELAPSE"]
    assert ("N1", "AGVHD2") not in tte.index  # not transplanted


def test_chronic_gvhd_and_grfs(tte):
    assert _row(tte, "T1", "CGVHD") == [150.0, 0, "N", "CHRONIC GVHD"]
    assert _row(tte, "T2", "CGVHD") == [185.0, 1, "Y", "RELAPSE/PROGRESSION"]
    # GRFS: grade III-IV aGVHD (T1), relapse (T2), death (T3); mild cGVHD without steroids is no event (T4)
    assert _row(tte, "T1", "GRFS")[:2] == [20.0, 0]
    assert _row(tte, "T2", "GRFS")[:2] == [185.0, 0]
    assert _row(tte, "T3", "GRFS")[:2] == [45.0, 0]
    assert _row(tte, "T4", "GRFS")[:2] == [715.0, 1]


def test_grfs_cgvhd_rule_is_a_parameter(study):
    s = copy.deepcopy(study)
    s["transplant"]["grfs"]["cgvhd"] = "any"
    with pytest.raises(ValueError, match=r"transplant\.grfs\.cgvhd"):
        transplant.derive_tte(*_inputs(), derive.tte_rules(s), s)


def test_cif_ard_table_and_figure(tte, study):
    adtte = tte.reset_index()
    lm = transplant.cif_endpoints(study)
    a = transplant.outcomes_ard(adtte, ["CIR", "NRM"], lm, by_levels=["DL2"])
    cir = adtte[adtte["PARAMCD"] == "CIR"]
    cif = stats.cumulative_incidence(cir["AVAL"], ard.cr_status(cir), 1)
    got = a[(a["variable"] == "CIR") & (a["group1_level"] == ard.TOTAL) & (a["stat_name"] == "estimate")]
    assert got["stat_value"].tolist() == pytest.approx(cif.estimate(lm["CIR"]))
    counts = {
        r["stat_name"]: r["stat_value"]
        for r in a[(a["variable"] == "CIR") & (a["group1_level"] == "DL2") & a["variable_level"].isna()].to_dict(
            "records"
        )
    }
    assert counts == {"n": 6, "events": 2, "competing": 1, "censored": 3}
    t = transplant.cif_table(a, ["CIR", "NRM"], transplant.landmark_label_map(study), origin=transplant.origins(study))
    assert t.iloc[0, 0].startswith("Cumulative incidence of relapse (CIR) (from CD19 CAR-T")
    assert "Cumulative incidence at 2 years, % (95% CI)" in t.iloc[:, 0].tolist()
    assert not t.drop(columns=formats.INDENT).apply(lambda c: c.astype(str).str.contains("nan")).any().any()
    fig = transplant.cif_figure(adtte, ["CIR", "NRM"], ticks=[0, 365, 730], xlabel="Days")
    assert fig.axes and fig.get_size_inches()[0] == 6.5
    with pytest.raises(figures.FigureDataError, match="not a cumulative_incidence result"):
        figures.cif_plot({"x": object()}, [0, 1])


def test_cif_ard_refuses_a_competing_flag_on_an_event():
    bad = pd.DataFrame({"USUBJID": ["a", "b"], "AVAL": [1.0, 2.0], "CNSR": [0, 1], "CMPEVFL": ["Y", "N"]})
    with pytest.raises(ValueError, match="CMPEVFL not 'Y' on an event"):
        ard.cif_ard(bad)


def test_cif_estimate_is_nan_without_follow_up():
    a = ard.cif_ard(
        pd.DataFrame({"USUBJID": ["a", "b"], "AVAL": [10.0, 20.0], "CNSR": [0, 1], "CMPEVFL": "N"}), landmarks=[5, 30]
    )
    est = a.loc[a["stat_name"] == "estimate", "stat_value"].tolist()
    assert est[0] == 0.0 and math.isnan(est[1])
    t = formats.cif_table(a)
    assert t.iloc[-2, 1] == "NE"


def test_methods_text_names_every_parameter(study):
    text = transplant.methods_text(study)
    for key in (
        "transplant.agvhd.by_day",
        "transplant.agvhd.grades",
        "transplant.cgvhd.landmarks",
        "transplant.grfs.cgvhd",
        "transplant.cir_nrm.landmarks",
        "transplant.min_group_n",
    ):
        assert f"`{key}`" in text, key
    assert "treatment-related" in text and "never" in text
