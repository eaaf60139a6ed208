"""Display frames (analysis_lib.toolkit.formats): CSR string conventions, AE ordering and empty inputs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from analysis_lib.toolkit import ard
from analysis_lib.toolkit import formats as F

ARMS = ["Placebo", "Xanomeline Low Dose", "Xanomeline High Dose"]


def clean(df: pd.DataFrame) -> None:
    """A display frame: string cells (never nan/None), int _indent last, label first."""
    assert df.columns[-1] == F.INDENT and df[F.INDENT].dtype.kind == "i"
    assert set(df[F.INDENT]) <= {0, 1, 2}
    body = df.drop(columns=F.INDENT)
    assert all(isinstance(v, str) for v in body.to_numpy().ravel())
    text = " ".join(body.to_numpy().ravel()) + " ".join(map(str, df.columns))
    for bad in ("nan", "None", "NaN", "inf"):
        assert bad not in text.replace("Xanomeline", "").replace("FINANCIAL", ""), bad


# ------------------------------------------------------------------------------ scalar formats


@pytest.mark.parametrize(
    "n, N, expect",
    [
        (65, 86, "65 (75.6)"),
        (0, 86, "0"),
        (0, 0, "0"),
        (3, 3, "3 (100)"),
        (1, 16, "1 (6.3)"),  # 6.25 -> 6.3 (half away from zero; Python's round gives 6.2)
        (1, 8, "1 (12.5)"),
        (2, 3, "2 (66.7)"),
        (1, 3, "1 (33.3)"),
        (None, 5, "0"),
        (np.int64(7), np.int64(40), "7 (17.5)"),
        (7.0, float("nan"), "7"),
    ],
)
def test_fmt_n_pct(n, N, expect):
    assert F.fmt_n_pct(n, N) == expect


def test_numbers_estimates_and_cis():
    assert F.fmt_num(2.675, 2) == "2.68" and F.fmt_num(0.125, 2) == "0.13"
    assert F.fmt_num(-0.04, 1) == "0.0" and F.fmt_num(-0.05, 1) == "-0.1"
    assert F.fmt_num(float("nan"), 1) == "NE" and F.fmt_num(None, 1) == "NE"
    assert F.fmt_num(12.0, 0) == "12"
    assert F.fmt_est_ci(175, 64, float("nan")) == "175.0 (64.0, NE)"
    assert F.fmt_est_ci(math.nan, 120.5, math.nan, est_na=F.NOT_REACHED) == "Not reached (120.5, NE)"
    assert F.fmt_est_ci(0.98235, 0.8819, 0.99751, scale=100) == "98.2 (88.2, 99.8)"
    assert F.fmt_ci(0.000264, 0.056675, scale=100) == "(0.0, 5.7)"
    assert F.fmt_ci(None, math.nan) == "NE"
    assert F.fmt_sig(1.771855) == "1.77" and F.fmt_sig(18.087515) == "18.1"
    assert F.fmt_sig(12345.6) == "12346" and F.fmt_sig(0.0107064) == "0.0107" and F.fmt_sig(0) == "0.00"
    assert F.header("DL1 1×10⁵/kg", 3) == "DL1 1×10⁵/kg\n(N=3)"
    assert F.header(None, np.int64(12)) == "All subjects\n(N=12)" and F.header("A") == "A"


# ------------------------------------------------------------------------------ AE tables


@pytest.fixture(scope="module")
def pilot(reference_data):
    d = reference_data / "cdiscpilot01"
    return {n: pyreadstat.read_xport(str(d / f"{n}.xpt"))[0] for n in ("adsl", "adae")}


def test_ae_table_pilot_layout_and_sorting(pilot):
    a = ard.ae_ard(pilot["adsl"], pilot["adae"], by_levels=ARMS, total=True)
    t = F.ae_table(a, any_label="Subjects with any TEAE")
    clean(t)
    assert list(t.columns[1:-1]) == [
        "Placebo\n(N=86)",
        "Xanomeline Low Dose\n(N=84)",
        "Xanomeline High Dose\n(N=84)",
        "Total\n(N=254)",
    ]
    assert list(t.iloc[0, :-1]) == ["Subjects with any TEAE", "65 (75.6)", "77 (91.7)", "76 (90.5)", "218 (85.8)"]
    # independent ordering: SOCs and PTs by descending Total subjects, ties alphabetical
    adsl, adae = pilot["adsl"], pilot["adae"]
    te = adae[(adae.TRTEMFL == "Y") & adae.USUBJID.isin(adsl.USUBJID[adsl.SAFFL == "Y"])]
    soc_n = te.groupby("AEBODSYS").USUBJID.nunique()
    socs = sorted(soc_n.index, key=lambda s: (-soc_n[s], s))
    expect = ["Subjects with any TEAE"]
    for s in socs:
        pt_n = te[s == te.AEBODSYS].groupby("AEDECOD").USUBJID.nunique()
        expect += [s] + sorted(pt_n.index, key=lambda p: (-pt_n[p], p))
    assert list(t.iloc[:, 0]) == expect
    assert list(t[F.INDENT]) == [0] + [0 if lbl in soc_n.index else 1 for lbl in expect[1:]]
    assert t.iloc[1, 0] == "GENERAL DISORDERS AND ADMINISTRATION SITE CONDITIONS"
    assert t.iloc[1, 4] == "108 (42.5)"
    row = t[t.iloc[:, 0] == "APPLICATION SITE PRURITUS"].iloc[0]
    assert list(row.iloc[1:5]) == ["6 (7.0)", "22 (26.2)", "22 (26.2)", "50 (19.7)"]
    ev = F.ae_table(a, events=True)
    assert ev.iloc[0, 1] == "65 (75.6) [281]"
    alpha = F.ae_table(a, sort="alphabetical")
    assert alpha.iloc[1, 0] == "CARDIAC DISORDERS"


def test_ae_grade_table_numeric_grades():
    adsl = pd.DataFrame({"USUBJID": list("abcd"), "TRT01A": ["DL1", "DL1", "DL1", "DL2"], "SAFFL": "Y"})
    adae = pd.DataFrame(
        {
            "USUBJID": ["a", "a", "b", "c"],
            "AEBODSYS": "IMMUNE SYSTEM DISORDERS",
            "AEDECOD": "CYTOKINE RELEASE SYNDROME",
            "AETOXGR": [1, 3, 2, 2],
            "TRTEMFL": "Y",
        }
    )
    a = ard.ae_ard(adsl, adae, grade="AETOXGR", by_levels=["DL1", "DL2"])
    t = F.ae_grade_table(a)
    clean(t)
    assert list(t.columns[1:8]) == [
        f"DL1\n(N=3)\n{c}" for c in ["Any grade", "Grade 1", "Grade 2", "Grade 3", "Grade 4", "Grade 5", "Grade ≥3"]
    ]
    # subject a counted once, at grade 3; DL2 has N=1 and no events
    assert list(t.iloc[2, 1:8]) == ["3 (100)", "0", "2 (66.7)", "1 (33.3)", "0", "0", "1 (33.3)"]
    assert list(t.iloc[2, 8:15]) == ["0"] * 7
    assert list(t.iloc[:, 0]) == [
        "Subjects with at least one adverse event",
        "IMMUNE SYSTEM DISORDERS",
        "CYTOKINE RELEASE SYNDROME",
    ]
    with pytest.raises(ValueError, match="no worst-grade statistics"):
        F.ae_grade_table(ard.ae_ard(adsl, adae))


def test_ae_tables_with_no_events_and_empty_arm(pilot):
    a = ard.ae_ard(pilot["adsl"], pilot["adae"].iloc[:0], by_levels=ARMS + ["DL9"])
    t = F.ae_table(a)
    clean(t)
    assert list(t.iloc[:, 0]) == ["Subjects with at least one adverse event", "No events"]
    assert list(t.iloc[0, 1:5]) == ["0", "0", "0", "0"] and t.columns[4] == "DL9\n(N=0)"
    g = ard.ae_ard(pilot["adsl"], pilot["adae"].iloc[:0], grade="AESEV", grade_levels=["MILD", "MODERATE", "SEVERE"])
    tg = F.ae_grade_table(g)
    clean(tg)
    assert tg.iloc[-1, 0] == "No events"


# ------------------------------------------------------------------------------ other tables


def _subjects():
    return pd.DataFrame(
        {
            "USUBJID": list("abcdef"),
            "DL": ["1", "1", "1", "2", "2", "3"],
            "SEX": ["F", "M", "F", "M", "M", "F"],
            "AGE": [30, 41, 52, 60, np.nan, 25],
            "CRFL": ["Y", "Y", "N", "Y", "N", "N"],
        }
    )


def test_categorical_and_continuous_tables_with_edge_groups():
    d = _subjects()
    c = F.categorical_table(
        ard.categorical_ard(d, "SEX", by="DL", by_levels=["1", "2", "3", "4"]), labels={"SEX": "Sex"}
    )
    clean(c)
    assert list(c.columns[1:5]) == ["1\n(N=3)", "2\n(N=2)", "3\n(N=1)", "4\n(N=0)"]
    assert list(c.iloc[:, 0]) == ["Sex, n (%)", "F", "M"]
    assert list(c.iloc[1, 1:5]) == ["2 (66.7)", "0", "1 (100)", "0"]
    k = F.continuous_table(
        ard.continuous_ard(d, "AGE", by="DL", by_levels=["1", "2", "3", "4"]), big_n={"1": 3, "2": 2, "3": 1, "4": 0}
    )
    clean(k)
    assert list(k.iloc[:, 0]) == ["AGE", "n", "Mean (SD)", "Median", "Q1, Q3", "Min, Max"]
    assert list(k["1\n(N=3)"]) == ["", "3", "41.0 (11.00)", "41.0", "35.5, 46.5", "30, 52"]
    assert list(k["2\n(N=2)"])[1:3] == ["1", "60.0 (NE)"]  # one non-missing value
    # an empty column shows n = 0 and blank statistics (not a column of "NE")
    assert list(k["4\n(N=0)"])[1:] == ["0", "", "", "", ""]


def test_response_table():
    r = ard.response_ard(_subjects(), "CRFL", by="DL", by_levels=["1", "2", "3", "4"])
    t = F.response_table(r, labels={"CRFL": "CR/CRi"})
    clean(t)
    assert list(t.iloc[:, 0]) == ["CR/CRi, n (%)", "95% CI (exact)"]
    assert list(t.iloc[0, 1:5]) == ["2 (66.7)", "1 (50.0)", "0", "0"]
    # exact CIs: 2/3 -> (9.4, 99.2); 0/1 -> (0.0, 97.5); N = 0 -> NE
    assert list(t.iloc[1, 1:5]) == ["(9.4, 99.2)", "(1.3, 98.7)", "(0.0, 97.5)", "NE"]


def test_km_table_not_reached_and_empty(reference_data):
    tte = pd.read_csv(reference_data / "pharmaverseadam" / "adtte_onco.csv")
    k = ard.km_ard(tte, "OS", by="ARM", landmarks=[180], by_levels=ARMS + ["Empty"])
    t = F.km_table(k)
    clean(t)
    assert list(t.iloc[:, 0]) == [
        "Subjects, n",
        "Events, n (%)",
        "Censored, n (%)",
        "Median (95% CI), days",
        "Rate at 180 days, % (95% CI)",
        "Number at risk",
    ]
    assert list(t.iloc[3, 1:4]) == ["Not reached (NE, NE)"] * 3
    assert list(t["Empty\n(N=0)"]) == ["0", "0", "0", "NE (NE, NE)", "NE (NE, NE)", "0"]
    assert t.iloc[1, 1] == "2 (2.3)"
    pfs = F.km_table(ard.km_ard(tte, "PFS", by="ARM", conf_type="log"))
    assert pfs.iloc[3, 1] == "175.0 (64.0, NE)"  # R: median 175, lower 64, upper NA


def test_nca_table(reference_data):
    pp = pd.read_csv(reference_data / "pharmaverseadam" / "adpp.csv", low_memory=False)
    n = ard.nca_ard(pp, by="TRTA", params=["CMAX", "TMAX"], unit_var="PPSTRESU")
    t = F.nca_table(n, labels={"CMAX": "Cmax"})
    clean(t)
    assert list(t.iloc[:, 0]) == [
        "Cmax (ug/ml)",
        "n",
        "Geometric mean (CV%)",
        "Mean (SD)",
        "Median",
        "Min, Max",
        "TMAX (h)",
        "n",
        "Geometric mean (CV%)",
        "Mean (SD)",
        "Median",
        "Min, Max",
    ]
    x = pp.loc[(pp.TRTA == "Xanomeline High Dose") & (pp.PARAMCD == "CMAX"), "AVAL"]
    col = t["Xanomeline High Dose"]
    assert col.iloc[1] == str(len(x)) == "72"
    assert col.iloc[4] == F.fmt_sig(x.median())
    assert col.iloc[5] == f"{F.fmt_sig(x.min())}, {F.fmt_sig(x.max())}"
    # a parameter missing in one group leaves blank cells, not NE/nan
    one = ard.nca_ard(
        pp[~((pp.PARAMCD == "TMAX") & (pp.TRTA == "Xanomeline Low Dose"))], by="TRTA", params=["CMAX", "TMAX"]
    )
    t1 = F.nca_table(one)
    clean(t1)
    assert t1.loc[7, "Xanomeline Low Dose"] == ""


def test_ard_csv_round_trip_formats_identically(reference_data, tmp_path):
    """Chapters re-read ARDs from CSV (None -> NaN): the display must not change."""
    tte = pd.read_csv(reference_data / "pharmaverseadam" / "adtte_onco.csv")
    k = ard.km_ard(tte, "OS", by="ARM", landmarks=[90])
    k.to_csv(tmp_path / "k.csv", index=False)
    back = pd.read_csv(tmp_path / "k.csv", dtype={"group1_level": str})
    pd.testing.assert_frame_equal(F.km_table(back), F.km_table(k))


def test_markdown_table_escapes_pipes():
    assert F.markdown_table(["a", "b"], [["x|y", 1]]) == "| a | b |\n|---|---|\n| x\\|y | 1 |\n"
