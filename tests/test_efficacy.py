"""analysis_lib.trial.efficacy on small hand-made ADaM frames; KM summaries against R survival."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis_lib.toolkit import ard, stats
from analysis_lib.trial import efficacy

REF = Path(__file__).resolve().parent / "reference"
DL = ["DL1", "DL2"]


@pytest.fixture
def adsl() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "USUBJID": ["S1", "S2", "S3", "S4", "S5", "S6"],
            "SUBJID": ["001", "002", "003", "004", "005", "006"],
            "TRT01A": ["DL1", "DL1", "DL1", "DL2", "DL2", "DL2"],
            "SAFFL": "Y",
            "EFFFL": ["Y", "Y", "Y", "Y", "Y", "N"],
            "FUDY0": [300, 10, 400, 25, 200, 5],
            "HSCTFL": ["Y", "N", "Y", "N", "Y", "N"],
            "HSCTDY0": [15, None, 16, None, 14, None],
            "CD22FL": ["Y", "N", "N", "N", "Y", "N"],
            "CD22DY0": [85, None, None, None, 90, None],
            "DTHFL": ["N", "Y", "Y", "N", "N", "N"],
            "DTHDY0": [None, 10, 400, None, None, None],
            "EOSSTT": ["ONGOING", "DISCONTINUED", "DISCONTINUED", "ONGOING", "COMPLETED", "ONGOING"],
        }
    )


def _rs(usubjid, paramcd, avalc, ady0=None):
    return {"USUBJID": usubjid, "PARAMCD": paramcd, "AVALC": avalc, "ADY0": ady0}


@pytest.fixture
def adrs() -> pd.DataFrame:
    rows = [
        # Day 30: S1 CR, S2 died, S3 CRi, S4 not due, S5 NR
        _rs("S1", "RSPD30", "CR"),
        _rs("S2", "RSPD30", "DIED"),
        _rs("S3", "RSPD30", "CRI"),
        _rs("S4", "RSPD30", "NOT DUE"),
        _rs("S5", "RSPD30", "NR"),
        # Day 90: nobody in DL2 due yet
        _rs("S1", "RSPD90", "CR"),
        _rs("S2", "RSPD90", "DIED"),
        _rs("S3", "RSPD90", "MISSING"),
        _rs("S4", "RSPD90", "NOT DUE"),
        _rs("S5", "RSPD90", "NOT DUE"),
        _rs("S1", "MRDND30", "Y"),
        _rs("S2", "MRDND30", "N"),
        _rs("S3", "MRDND30", "N"),
        _rs("S4", "MRDND30", "NOT DUE"),
        _rs("S5", "MRDND30", "N"),
        _rs("S1", "BESTRSP", "CR"),
        _rs("S2", "BESTRSP", "MISSING"),
        _rs("S3", "BESTRSP", "CRI"),
        _rs("S4", "BESTRSP", "MISSING"),
        _rs("S5", "BESTRSP", "NR"),
        _rs("S1", "OVRLRESP", "CR", 28),
        _rs("S1", "OVRLRESP", "RELAPSE", 200),
        _rs("S1", "OVRLRESP", "RELAPSE", 250),
        _rs("S3", "OVRLRESP", "NR", 30),
        _rs("S3", "OVRLRESP", "CRI", 45),
        _rs("S5", "OVRLRESP", "CR", -3),
    ]
    return pd.DataFrame(rows)


def _get(a, stat_name, **where):
    return ard.stat(a, stat_name, **where)


def test_day_response_ard_denominator_excludes_not_due(adsl, adrs):
    eff = adsl[adsl["EFFFL"] == "Y"]
    a = efficacy.day_response_ard(adrs, eff, [30, 90], by_levels=DL)
    w = dict(variable="RSPD30", variable_level="CR+CRI")
    # DL1: S1 CR, S2 died, S3 CRi -> 2/3; DL2: S4 not due, S5 NR -> 0/1; Total 2/4
    assert (_get(a, "n", **w, group1_level="DL1"), _get(a, "N", **w, group1_level="DL1")) == (2, 3)
    assert (_get(a, "n", **w, group1_level="DL2"), _get(a, "N", **w, group1_level="DL2")) == (0, 1)
    assert (_get(a, "n", **w, group1_level="Total"), _get(a, "N", **w, group1_level="Total")) == (2, 4)
    lo, hi = stats.clopper_pearson(2, 4)
    assert _get(a, "ci_low", **w, group1_level="Total") == pytest.approx(lo, abs=1e-12)
    assert _get(a, "ci_high", **w, group1_level="Total") == pytest.approx(hi, abs=1e-12)
    assert lo == pytest.approx(0.067585986488, abs=1e-10)  # R: binom.test(2, 4)$conf.int
    assert _get(a, "n", variable="RSPD30", variable_level="CRI", group1_level="DL1") == 1
    assert _get(a, "N", variable="RSPD90", variable_level="CR", group1_level="DL2") == 0


def test_day_response_table_shows_not_due_and_headers(adsl, adrs):
    eff = adsl[adsl["EFFFL"] == "Y"]
    a = efficacy.day_response_ard(adrs, eff, [30, 90], by_levels=DL)
    t = efficacy.day_response_table(a, [30, 90], big_n=efficacy.group_n(eff))
    assert list(t.columns) == ["Time point\nResponse", "DL1\n(N=3)", "DL2\n(N=2)", "Total\n(N=5)", "_indent"]
    rows = t.set_index("Time point\nResponse")
    day30 = t.iloc[:6].set_index("Time point\nResponse")
    assert day30.loc["Evaluable (window closed), n", "Total\n(N=5)"] == "4"
    assert day30.loc["CR or CRi, n (%)", "DL1\n(N=3)"] == "2 (66.7)"
    assert day30.loc["95% CI (exact)", "Total\n(N=5)"] == "(6.8, 93.2)"
    day90 = t.iloc[6:].set_index("Time point\nResponse")
    assert day90.loc["CR or CRi, n (%)", "DL2\n(N=2)"] == "Not due"
    assert day90.loc["95% CI (exact)", "DL2\n(N=2)"] == "Not due"
    assert day90.loc["CR or CRi, n (%)", "DL1\n(N=3)"] == "1 (33.3)"
    assert not rows.drop(columns="_indent").isin(["nan", "None"]).any().any()


def test_rate_text(adsl, adrs):
    eff = adsl[adsl["EFFFL"] == "Y"]
    a = efficacy.day_response_ard(adrs, eff, [30, 90], by_levels=DL)
    assert (
        efficacy.rate_text(a, variable="RSPD30", variable_level="CR+CRI", group1_level="Total")
        == "2/4 (50.0%; 95% CI 6.8% to 93.2%)"
    )
    assert (
        efficacy.rate_text(a, variable="RSPD90", variable_level="CR+CRI", group1_level="DL2")
        == "not yet evaluable (no subject)"
    )


def test_mrd_components(adsl, adrs):
    eff = adsl[adsl["EFFFL"] == "Y"]
    a = efficacy.day_response_ard(adrs, eff, [30], prefix="MRDND", components={"Y": ["Y"]}, by_levels=DL)
    assert set(a["variable_level"]) == {"Y"}
    assert (
        _get(a, "n", variable="MRDND30", group1_level="Total"),
        _get(a, "N", variable="MRDND30", group1_level="Total"),
    ) == (1, 4)


def test_best_response(adsl, adrs):
    eff = adsl[adsl["EFFFL"] == "Y"]
    a = efficacy.best_response_ard(adrs, eff, by_levels=DL)
    assert _get(a, "n", variable="AVALC", variable_level="MISSING", group1_level="Total") == 2
    assert _get(a, "N", variable="AVALC", variable_level="PD", group1_level="DL2") == 2
    assert _get(a, "n", variable="BESTRSP", variable_level="CR+CRI", group1_level="DL1") == 2
    t = efficacy.best_response_table(a, big_n=efficacy.group_n(eff)).set_index("Best overall response")
    assert list(t.index[:7]) == list(efficacy.BOR_LABELS.values())
    assert t.loc["No post-infusion assessment", "Total\n(N=5)"] == "2 (40.0)"
    assert t.loc["Progressive disease", "DL1\n(N=3)"] == "0"
    assert t.loc["CR or CRi as best response, n (%)", "DL1\n(N=3)"] == "2 (66.7)"


def test_stat_requires_unique_row(adsl, adrs):
    a = efficacy.day_response_ard(adrs, adsl[adsl["EFFFL"] == "Y"], [30], by_levels=DL)
    with pytest.raises(ValueError, match=r"ARD: \d+ rows with stat_name='n' and group1_level='Total' \(exactly one"):
        ard.stat(a, "n", group1_level="Total")
    # a mistyped key is an error, never a silent nan that running text would print as "not estimable"
    with pytest.raises(ValueError, match=r"ARD: 0 rows with stat_name='n' and group1_level='DL9'"):
        ard.stat(a, "n", group1_level="DL9")


def _tte_input() -> pd.DataFrame:
    d = pd.read_csv(REF / "efficacy_km_input.csv")
    return d.assign(EFFFL="Y")


def test_tte_ard_matches_r():
    """Medians, CIs, landmark rates (NE after the last time) and numbers at risk as R survival."""
    a = efficacy.tte_ard(_tte_input(), landmarks=(6, 12, 24))
    ref = pd.read_csv(REF / "efficacy_km.csv")
    for r in ref.itertuples():
        w = dict(group1_level=r.paramcd)
        assert _get(a, "n", **w, variable_level=None) == r.n
        assert _get(a, "events", **w, variable_level=None) == r.events
        for ours, theirs in [
            ("median", r.median),
            ("median_ci_low", r.median_lower),
            ("median_ci_high", r.median_upper),
        ]:
            got = _get(a, ours, **w, variable_level=None)
            assert (math.isnan(got) and pd.isna(theirs)) or got == pytest.approx(theirs, abs=1e-12)
        lw = dict(w, variable_level=r.landmark)
        for ours, theirs in [("surv", r.surv), ("surv_ci_low", r.lower), ("surv_ci_high", r.upper)]:
            got = _get(a, ours, **lw)
            assert (math.isnan(got) and pd.isna(theirs)) or got == pytest.approx(theirs, abs=1e-12), (r, ours)
        assert _get(a, "n_risk", **lw) == r.n_risk


def test_tte_table_and_text():
    a = efficacy.tte_ard(_tte_input(), landmarks=(6, 12, 24))
    t = efficacy.tte_table(a).set_index("Statistic")
    assert list(t.columns[:3]) == [
        "Duration of response\n(N=5)",
        "Event-free survival\n(N=10)",
        "Overall survival\n(N=12)",
    ]
    assert t.loc["Median (95% CI), months", "Overall survival\n(N=12)"] == "13.0 (4.0, NE)"
    assert t.loc["Median (95% CI), months", "Duration of response\n(N=5)"] == "Not reached (2.2, NE)"
    assert t.loc["Rate at 12 months, % (95% CI)", "Overall survival\n(N=12)"] == "50.3 (17.5, 76.2)"
    assert t.loc["Rate at 24 months, % (95% CI)", "Overall survival\n(N=12)"] == "NE (NE, NE)"
    assert efficacy.km_text(a, "OS", 12) == (
        "Overall survival: 6 events in 12 subjects; median 13.0 months (95% CI 4.0 to NE); "
        "the 12-month rate is 50.3% (95% CI 17.5% to 76.2%; 4 at risk)."
    )
    assert efficacy.km_text(a, "DOR", 12) == (
        "Duration of response: 1 event in 5 subjects; median not reached; "
        "the 12-month rate is not estimable (follow-up too short)."
    )


def test_tte_ard_endpoint_without_records():
    d = _tte_input()
    a = efficacy.tte_ard(d[d["PARAMCD"] != "DOR"], landmarks=(6,))
    assert _get(a, "n", group1_level="DOR", variable_level=None) == 0
    assert efficacy.km_text(a, "DOR", 6) == "Duration of response: no subjects at this data cut."
    assert efficacy.tte_table(a).set_index("Statistic").iloc[0, 0] == "0"
    fig = efficacy.km_figure(d.assign(PARAMCD="X"), "DOR", xlabel="x", ylabel="y")
    assert fig.axes[0].texts[0].get_text() == "No subjects at this data cut"


def test_km_figure_has_risk_table():
    fig = efficacy.km_figure(_tte_input(), "OS", xlabel="Months", ylabel="Overall survival")
    risk = [t.get_text() for t in fig.axes[1].texts if t.get_text().isdigit()]
    km = stats.kaplan_meier(*(lambda d: (d["AVALM"], 1 - d["CNSR"]))(_tte_input().query("PARAMCD == 'OS'")))
    assert risk == [str(n) for n in km.n_at_risk(range(0, 25, 3))]


def test_swimmer_records(adsl, adrs):
    r = efficacy.swimmer_records(adsl, adrs).set_index("subject")
    assert list(r.index) == ["001", "002", "003", "004", "005", "006"]
    assert r.loc["001", "crcri"] == 28 and r.loc["001", "relapse"] == 200  # first relapse
    assert r.loc["003", "crcri"] == 45 and np.isnan(r.loc["003", "cd22"])
    assert np.isnan(r.loc["005", "crcri"])  # pre-infusion CR is not a response
    assert r.loc["002", "death"] == 10 and not r.loc["002", "ongoing"]
    assert r.loc["001", "ongoing"] and not r.loc["005", "ongoing"]
    assert r.loc["004", "end"] == 25 and r.loc["004", "group"] == "DL2"


def test_missing_column_is_named(adsl, adrs):
    with pytest.raises(ValueError, match=r"ADSL: missing required column\(s\) \['FUDY0'\]"):
        efficacy.swimmer_records(adsl.drop(columns="FUDY0"), adrs)
    with pytest.raises(ValueError, match="no records with PARAMCD == 'RSPD45'"):
        efficacy.day_response_ard(adrs, adsl, [45])
