"""ARDs (analysis_lib.toolkit.ard) on the public CDISC pilot and pharmaverse ADaM, plus edge cases.

Expected values are published numbers (CDISC pilot), R `survival` output stored in
tests/reference/ (km_reference.R, km_pharmaverse_reference.R), scipy's exact binomial CI, or an
independent pandas computation written here -- never the function under test.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from scipy.stats import binomtest

from analysis_lib.toolkit import ard

REF = Path(__file__).resolve().parent / "reference"
ARMS = ["Placebo", "Xanomeline Low Dose", "Xanomeline High Dose"]


@pytest.fixture(scope="module")
def pilot(reference_data):
    d = reference_data / "cdiscpilot01"
    return {n: pyreadstat.read_xport(str(d / f"{n}.xpt"))[0] for n in ("adsl", "adae", "adtte")}


@pytest.fixture(scope="module")
def pharma(reference_data):
    d = reference_data / "pharmaverseadam"
    return {
        n: pd.read_csv(d / f"{n}.csv", low_memory=False) for n in ("adsl", "adae", "adrs_onco", "adtte_onco", "adpp")
    }


def stat(df, **where):
    """The single stat_value matching the given column values (None matches None/NaN)."""
    m = pd.Series(True, index=df.index)
    for col, v in where.items():
        m &= df[col].isna() if v is None else df[col].eq(v)
    assert m.sum() == 1, f"{m.sum()} rows match {where}"
    return df.loc[m, "stat_value"].iloc[0]


def assert_ard_shape(df):
    # the ARD columns, then (for subject counts) the hidden companion listing who each n counts
    assert list(df.columns) in (ard.ARD_COLUMNS, [*ard.ARD_COLUMNS, ard.SUBJECTS])
    if ard.SUBJECTS in df.columns:
        listed = df[ard.SUBJECTS].map(lambda v: isinstance(v, tuple))
        assert (df.loc[listed, "stat_value"] == df.loc[listed, ard.SUBJECTS].map(len)).all()
        assert df.loc[listed, "stat_name"].str.startswith("n").all()
    assert all(df[c].dtype == object for c in df.columns)
    assert not any(isinstance(v, str) for v in df["stat_value"])
    assert all(isinstance(v, (int, float)) for v in df["stat_value"])


# ------------------------------------------------------------------------------ ae_ard, CDISC pilot


@pytest.fixture(scope="module")
def pilot_ae(pilot):
    return ard.ae_ard(pilot["adsl"], pilot["adae"])  # the docs/design.md §6 call, unchanged


def test_ae_ard_reproduces_published_pilot_counts(pilot_ae):
    a = pilot_ae
    assert_ard_shape(a)
    for arm, N, n, ev in zip(ARMS, (86, 84, 84), (65, 77, 76), (281, 412, 433)):
        key = dict(group1="TRT01A", group1_level=arm, variable="ANY")
        assert stat(a, **key, stat_name="N") == N
        assert stat(a, **key, stat_name="n") == n
        assert stat(a, **key, stat_name="events") == ev
        assert stat(a, **key, stat_name="p") == pytest.approx(n / N, abs=1e-12)


def test_ae_ard_soc_pt_counts_match_independent_pandas(pilot, pilot_ae):
    adsl, adae = pilot["adsl"], pilot["adae"]
    saf = adsl.loc[adsl.SAFFL == "Y", ["USUBJID", "TRT01A"]]
    te = adae[adae.TRTEMFL == "Y"].drop(columns=["TRTA"]).merge(saf, on="USUBJID")
    soc = te.groupby(["AEBODSYS", "TRT01A"]).agg(n=("USUBJID", "nunique"), events=("USUBJID", "size"))
    pt = te.groupby(["AEBODSYS", "AEDECOD", "TRT01A"]).agg(n=("USUBJID", "nunique"), events=("USUBJID", "size"))
    a = pilot_ae
    got_soc = a[(a.variable == "AEBODSYS") & a.stat_name.isin(["n", "events"])].pivot_table(
        index=["variable_level", "group1_level"], columns="stat_name", values="stat_value", aggfunc="first"
    )
    got_pt = a[(a.variable == "AEDECOD") & a.stat_name.isin(["n", "events"])].pivot_table(
        index=["group2_level", "variable_level", "group1_level"],
        columns="stat_name",
        values="stat_value",
        aggfunc="first",
    )
    # every SOC/PT x arm with events matches; every other cell of the complete grid is 0
    got_soc.index.names, got_pt.index.names = soc.index.names, pt.index.names
    pd.testing.assert_frame_equal(got_soc.loc[soc.index, ["n", "events"]].astype(int), soc, check_names=False)
    pd.testing.assert_frame_equal(got_pt.loc[pt.index, ["n", "events"]].astype(int), pt, check_names=False)
    assert (got_soc.drop(index=soc.index) == 0).all().all()
    assert (got_pt.drop(index=pt.index) == 0).all().all()
    assert len(got_soc) == te.AEBODSYS.nunique() * 3
    assert len(got_pt) == te.groupby(["AEBODSYS", "AEDECOD"]).ngroups * 3
    # spot values, as in published pilot AE tables
    k = dict(
        variable="AEDECOD",
        group2_level="GENERAL DISORDERS AND ADMINISTRATION SITE CONDITIONS",
        variable_level="APPLICATION SITE PRURITUS",
        stat_name="n",
    )
    assert [stat(a, group1_level=arm, **k) for arm in ARMS] == [6, 22, 22]


def test_ae_ard_row_order_is_deterministic(pilot, pilot_ae):
    again = ard.ae_ard(pilot["adsl"], pilot["adae"].sample(frac=1, random_state=1))
    assert pilot_ae.to_csv(index=False) == again.to_csv(index=False)
    rows = pilot_ae.drop_duplicates(["variable", "variable_level", "group2_level"])
    assert rows.variable.iloc[0] == "ANY"
    socs = list(rows.loc[rows.variable == "AEBODSYS", "variable_level"])
    assert socs == sorted(socs)


def test_ae_ard_total_and_zero_subject_level(pilot):
    a = ard.ae_ard(pilot["adsl"], pilot["adae"], by_levels=ARMS + ["Empty arm"], total=True)
    assert list(dict.fromkeys(a.group1_level)) == ARMS + ["Empty arm", "Total"]
    assert stat(a, group1_level="Total", variable="ANY", stat_name="N") == 254
    assert stat(a, group1_level="Total", variable="ANY", stat_name="n") == 65 + 77 + 76
    assert stat(a, group1_level="Total", variable="ANY", stat_name="events") == 281 + 412 + 433
    assert stat(a, group1_level="Empty arm", variable="ANY", stat_name="N") == 0
    assert stat(a, group1_level="Empty arm", variable="ANY", stat_name="n") == 0
    assert math.isnan(stat(a, group1_level="Empty arm", variable="ANY", stat_name="p"))


def test_ae_ard_worst_grade_and_filter(pilot):
    adsl, adae = pilot["adsl"], pilot["adae"]
    a = ard.ae_ard(adsl, adae, grade="AESEV", grade_levels=["MILD", "MODERATE", "SEVERE"], high_grade="MODERATE")
    assert_ard_shape(a)
    # independent: worst severity per subject among TEAEs in the safety population
    rank = {"MILD": 0, "MODERATE": 1, "SEVERE": 2}
    saf = adsl.loc[adsl.SAFFL == "Y", ["USUBJID", "TRT01A"]]
    te = adae[adae.TRTEMFL == "Y"].drop(columns=["TRTA"]).merge(saf, on="USUBJID")
    worst = te.assign(r=te.AESEV.map(rank)).groupby(["TRT01A", "USUBJID"]).r.max()
    for arm in ARMS:
        w = worst.loc[arm]
        for sev, r in rank.items():
            assert stat(a, group1_level=arm, variable="ANY", stat_name=f"n_grade_{sev}") == (w == r).sum()
        assert stat(a, group1_level=arm, variable="ANY", stat_name="n_grade_geMODERATE") == (w >= 1).sum()
    # per-subject worst grades partition the subjects of every row
    wide = a.pivot_table(
        index=["group1_level", "group2_level", "variable", "variable_level"],
        columns="stat_name",
        values="stat_value",
        aggfunc="first",
        dropna=False,
    )
    wide = wide.dropna(subset=["n"])
    assert (wide[[f"n_grade_{s}" for s in rank]].sum(axis=1) == wide["n"]).all()

    ser = ard.ae_ard(adsl, adae, where={"AESER": "Y"})
    expect = te[te.AESER == "Y"].groupby("TRT01A").USUBJID.nunique().reindex(ARMS, fill_value=0)
    assert [stat(ser, group1_level=arm, variable="ANY", stat_name="n") for arm in ARMS] == list(expect)
    same = ard.ae_ard(adsl, adae, where=lambda d: d["AESER"] == "Y")
    assert same.equals(ser)


def test_ae_ard_numeric_ctcae_grades():
    adsl = pd.DataFrame(
        {"USUBJID": ["1", "2", "3", "4"], "TRT01A": ["DL1", "DL1", "DL2", "DL2"], "SAFFL": ["Y", "Y", "Y", "N"]}
    )
    adae = pd.DataFrame(
        {
            "USUBJID": ["1", "1", "2", "3", "4"],
            "AEBODSYS": ["IMMUNE SYSTEM DISORDERS"] * 2 + ["INFECTIONS"] * 2 + ["INFECTIONS"],
            "AEDECOD": ["CYTOKINE RELEASE SYNDROME"] * 2 + ["SEPSIS", "PNEUMONIA", "SEPSIS"],
            "AETOXGR": [2, 4, 3, 1, 5],
            "TRTEMFL": ["Y"] * 5,
        }
    )
    a = ard.ae_ard(adsl, adae, grade="AETOXGR")
    crs = dict(group1_level="DL1", variable="AEDECOD", variable_level="CYTOKINE RELEASE SYNDROME")
    assert stat(a, **crs, stat_name="n") == 1 and stat(a, **crs, stat_name="events") == 2
    assert stat(a, **crs, stat_name="n_grade_4") == 1 and stat(a, **crs, stat_name="n_grade_2") == 0
    assert stat(a, **crs, stat_name="n_grade_ge3") == 1
    # subject 4 is outside the safety population: DL2 has N=1 and only subject 3's grade 1
    assert stat(a, group1_level="DL2", variable="ANY", stat_name="N") == 1
    assert stat(a, group1_level="DL2", variable="ANY", stat_name="n_grade_1") == 1
    assert stat(a, group1_level="DL2", variable="ANY", stat_name="n_grade_5") == 0
    as_text = ard.ae_ard(adsl, adae.astype({"AETOXGR": str}), grade="AETOXGR")  # e.g. from CSV
    assert as_text.equals(a)


def test_ae_ard_empty_adae(pilot):
    a = ard.ae_ard(pilot["adsl"], pilot["adae"].iloc[:0])
    assert_ard_shape(a)
    assert set(a.variable) == {"ANY"}
    assert [stat(a, group1_level=arm, stat_name="n") for arm in ARMS] == [0, 0, 0]
    assert [stat(a, group1_level=arm, stat_name="N") for arm in ARMS] == [86, 84, 84]


def test_ae_ard_errors_name_the_problem(pilot):
    adsl, adae = pilot["adsl"], pilot["adae"]
    with pytest.raises(ValueError, match=r"ADAE: USUBJID not found in ADSL.*rows \[0\]"):
        ard.ae_ard(adsl, adae.assign(USUBJID=["X"] + list(adae.USUBJID[1:])))
    bad = adae.copy()
    bad.loc[3, "AEDECOD"] = ""
    with pytest.raises(ValueError, match=r"ADAE: column AEDECOD is missing in rows \[3\]"):
        ard.ae_ard(adsl, bad)
    with pytest.raises(ValueError, match=r"column AESEV has value\(s\) \['SEVERE'\] outside"):
        ard.ae_ard(adsl, adae, grade="AESEV", grade_levels=["MILD", "MODERATE"])
    with pytest.raises(ValueError, match="not a 1-5 grade; pass grade_levels"):
        ard.ae_ard(adsl, adae, grade="AESEV")
    with pytest.raises(ValueError, match=r"ADSL: USUBJID must be unique"):
        ard.ae_ard(pd.concat([adsl, adsl.iloc[:1]]), adae)
    with pytest.raises(ValueError, match=r"ADAE: missing required column\(s\) \['AETOXGR'\]"):
        ard.ae_ard(adsl, adae, grade="AETOXGR")


# ------------------------------------------------------------------------------ categorical/continuous


def test_categorical_ard_levels_zero_counts_and_missing(pilot):
    saf = pilot["adsl"][pilot["adsl"].SAFFL == "Y"].copy()
    saf.loc[saf.index[0], "RACE"] = ""
    c = ard.categorical_ard(
        saf, ["SEX", "RACE"], by="TRT01A", by_levels=ARMS, total=True, levels={"SEX": ["M", "F", "U"]}
    )
    assert_ard_shape(c)
    expect = saf.groupby(["TRT01A", "SEX"]).size()
    for arm in ARMS:
        for sex in ("M", "F"):
            assert stat(c, group1_level=arm, variable="SEX", variable_level=sex, stat_name="n") == expect[(arm, sex)]
        assert stat(c, group1_level=arm, variable="SEX", variable_level="U", stat_name="n") == 0
    assert list(dict.fromkeys(c.loc[c.variable == "SEX", "variable_level"])) == ["M", "F", "U"]
    assert stat(c, group1_level="Total", variable="SEX", variable_level="F", stat_name="N") == 254
    assert stat(c, group1_level="Total", variable="RACE", variable_level="Missing", stat_name="n") == 1
    with pytest.raises(ValueError, match=r"column SEX has value\(s\) \['F'\] not among"):
        ard.categorical_ard(saf, "SEX", levels={"SEX": ["M"]})


def test_categorical_ard_denominator_frame_keeps_empty_levels():
    adsl = pd.DataFrame({"USUBJID": list("abcd"), "ARM": ["A", "A", "B", "C"]})
    cm = pd.DataFrame({"USUBJID": ["a", "a", "c"], "ARM": ["A", "A", "B"], "CMCLAS": ["STEROID", "STEROID", "IL-6"]})
    c = ard.categorical_ard(cm, "CMCLAS", by="ARM", denominator=adsl, id_var="USUBJID")
    assert list(dict.fromkeys(c.group1_level)) == ["A", "B", "C"]
    assert stat(c, group1_level="A", variable_level="STEROID", stat_name="n") == 1  # one subject
    assert stat(c, group1_level="A", variable_level="STEROID", stat_name="N") == 2
    assert stat(c, group1_level="C", variable_level="IL-6", stat_name="N") == 1
    assert stat(c, group1_level="C", variable_level="IL-6", stat_name="n") == 0
    m = ard.categorical_ard(cm, "CMCLAS", by="ARM", denominator={"A": 4, "B": 1}, id_var="USUBJID", total=True)
    assert stat(m, group1_level="A", variable_level="STEROID", stat_name="p") == 0.25
    assert stat(m, group1_level="Total", variable_level="IL-6", stat_name="N") == 5


def test_continuous_ard_matches_pandas(pilot):
    saf = pilot["adsl"][pilot["adsl"].SAFFL == "Y"]
    c = ard.continuous_ard(saf, ["AGE", "WEIGHTBL"], by="TRT01A", by_levels=ARMS)
    assert_ard_shape(c)
    for arm in ARMS:
        for var in ("AGE", "WEIGHTBL"):
            x = saf.loc[arm == saf.TRT01A, var]
            k = dict(group1_level=arm, variable=var)
            assert stat(c, **k, stat_name="n") == x.notna().sum()
            assert stat(c, **k, stat_name="nmiss") == x.isna().sum()
            assert stat(c, **k, stat_name="mean") == pytest.approx(x.mean(), abs=1e-9)
            assert stat(c, **k, stat_name="sd") == pytest.approx(x.std(), abs=1e-9)
            assert stat(c, **k, stat_name="median") == pytest.approx(x.median(), abs=1e-9)
            assert stat(c, **k, stat_name="q1") == pytest.approx(x.quantile(0.25), abs=1e-9)
            assert stat(c, **k, stat_name="geo_mean") == pytest.approx(np.exp(np.log(x).mean()), abs=1e-9)
    # the CDISC pilot has one missing baseline weight (Xanomeline Low Dose)
    assert stat(c, group1_level="Xanomeline Low Dose", variable="WEIGHTBL", stat_name="nmiss") == 1
    with pytest.raises(ValueError, match=r"column SEX must be numeric"):
        ard.continuous_ard(saf, "SEX")


# ------------------------------------------------------------------------------ response


def test_response_ard_bor_cr_pr_with_exact_ci(pharma):
    rs = pharma["adrs_onco"]
    rs = rs[rs.SAFFL == "Y"]
    r = ard.response_ard(rs, "AVALC", by="ACTARM", values=["CR", "PR"], paramcd="BOR", by_levels=ARMS, total=True)
    assert_ard_shape(r)
    bor = rs[rs.PARAMCD == "BOR"]
    for arm in ARMS + ["Total"]:
        sub = bor if arm == "Total" else bor[arm == bor.ACTARM]
        n, N = int(sub.AVALC.isin(["CR", "PR"]).sum()), len(sub)
        ci = binomtest(n, N).proportion_ci(0.95, method="exact")
        k = dict(group1_level=arm, variable="BOR", variable_level="CR+PR")
        assert (stat(r, **k, stat_name="n"), stat(r, **k, stat_name="N")) == (n, N)
        assert stat(r, **k, stat_name="ci_low") == pytest.approx(ci.low, abs=1e-9)
        assert stat(r, **k, stat_name="ci_high") == pytest.approx(ci.high, abs=1e-9)
    assert [stat(r, group1_level=a, stat_name="n") for a in ARMS] == [2, 1, 1]
    assert [stat(r, group1_level=a, stat_name="N") for a in ARMS] == [86, 96, 72]


def test_response_ard_flag_and_denominator():
    adsl = pd.DataFrame({"USUBJID": list("abcde"), "DL": ["1", "1", "1", "2", "3"]})
    rsp = pd.DataFrame(
        {
            "USUBJID": list("abd"),
            "PARAMCD": ["RSPD30"] * 3,
            "AVALC": ["CR", "NR", "CRI"],
            "CRFL": ["Y", "N", "Y"],
            "DL": ["1", "1", "2"],
        }
    )
    r = ard.response_ard(rsp, "CRFL", by="DL", paramcd="RSPD30", denominator=adsl)
    assert [stat(r, group1_level=d, stat_name="N") for d in "123"] == [3, 1, 1]
    assert [stat(r, group1_level=d, stat_name="n") for d in "123"] == [1, 1, 0]
    lo, hi = binomtest(1, 3).proportion_ci(method="exact")
    assert stat(r, group1_level="1", stat_name="ci_low") == pytest.approx(lo, abs=1e-9)
    assert stat(r, group1_level="3", stat_name="ci_high") == pytest.approx(
        binomtest(0, 1).proportion_ci(method="exact").high, abs=1e-9
    )
    empty = ard.response_ard(rsp, "CRFL", by="DL", by_levels=["1", "2", "9"])
    assert stat(empty, group1_level="9", stat_name="N") == 0
    assert math.isnan(stat(empty, group1_level="9", stat_name="ci_low"))
    with pytest.raises(ValueError, match=r"responder flag AVALC must be Y/N or 1/0"):
        ard.response_ard(rsp, "AVALC")
    with pytest.raises(ValueError, match=r"no records with PARAMCD == 'BOR'"):
        ard.response_ard(rsp, "CRFL", paramcd="BOR")


# ------------------------------------------------------------------------------ Kaplan-Meier


def test_km_ard_pilot_ttde_matches_r(pilot):
    tte = pilot["adtte"]
    times = list(range(0, 201, 20))
    k = ard.km_ard(tte[tte.SAFFL == "Y"], "TTDE", by="TRTA", landmarks=times, by_levels=ARMS)
    assert_ard_shape(k)
    at = pd.read_csv(REF / "km_at_times.csv")
    q = pd.read_csv(REF / "km_quantiles.csv")
    for arm in ARMS:
        ref = at[(at.dataset == "cdisc_ttde") & (at.strata == arm) & (at.conf_type == "log-log")]
        for t, row in zip(times, ref.itertuples()):
            key = dict(group1_level=arm, variable="TTDE", variable_level=t)
            assert stat(k, **key, stat_name="n_risk") == row.n_risk
            assert stat(k, **key, stat_name="surv") == pytest.approx(row.surv, abs=1e-6)
            assert stat(k, **key, stat_name="surv_ci_low") == pytest.approx(row.lower, abs=1e-6)
            assert stat(k, **key, stat_name="surv_ci_high") == pytest.approx(row.upper, abs=1e-6)
        med = q[(q.dataset == "cdisc_ttde") & (q.strata == arm) & (q.conf_type == "log-log") & (q.prob == 0.5)].iloc[0]
        key = dict(group1_level=arm, variable="TTDE", variable_level=None)
        for name, r in (("median", med["quantile"]), ("median_ci_low", med["lower"]), ("median_ci_high", med["upper"])):
            v = stat(k, **key, stat_name=name)
            assert (math.isnan(v) and math.isnan(r)) or v == pytest.approx(r, abs=1e-6)
    # published numbers at risk for Placebo
    assert [stat(k, group1_level="Placebo", variable_level=t, stat_name="n_risk") for t in times] == [
        86,
        75,
        65,
        59,
        50,
        47,
        45,
        42,
        40,
        35,
        0,
    ]


@pytest.mark.parametrize("paramcd", ["OS", "PFS"])
def test_km_ard_pharmaverse_matches_r(pharma, paramcd):
    tte = pharma["adtte_onco"]
    ref = pd.read_csv(REF / "km_pharmaverse.csv")
    ref = ref[(ref.paramcd == paramcd) & (ref.conf_type == "log")]
    k = ard.km_ard(tte, paramcd, by="ARM", landmarks=[0, 30, 60, 90, 180, 365], conf_type="log")
    sub = tte[paramcd == tte.PARAMCD]
    for arm, rows in ref.groupby("arm"):
        s = sub[arm == sub.ARM]
        key = dict(group1_level=arm, variable_level=None)
        assert stat(k, **key, stat_name="n") == len(s)
        assert stat(k, **key, stat_name="events") == (s.CNSR == 0).sum()
        assert stat(k, **key, stat_name="censored") == (s.CNSR == 1).sum()
        for name, col in (("median", "median"), ("median_ci_low", "median_lower"), ("median_ci_high", "median_upper")):
            v, r = stat(k, **key, stat_name=name), rows[col].iloc[0]
            assert (math.isnan(v) and math.isnan(r)) or v == pytest.approx(r, abs=1e-6)
        for row in rows.itertuples():
            key = dict(group1_level=arm, variable_level=row.time)
            assert stat(k, **key, stat_name="n_risk") == row.n_risk
            assert stat(k, **key, stat_name="surv") == pytest.approx(row.surv, abs=1e-6)
    if paramcd == "OS":  # few deaths: the median is not reached in any arm
        assert all(math.isnan(v) for v in k.loc[k.stat_name == "median", "stat_value"])


def test_km_ard_all_censored_single_subject_and_empty_level():
    d = pd.DataFrame(
        {
            "USUBJID": list("abcd"),
            "PARAMCD": "OS",
            "AVAL": [10, 20, 30, 5],
            "CNSR": [1, 1, 1, 0],
            "DL": ["1", "1", "1", "2"],
        }
    )
    k = ard.km_ard(d, "OS", by="DL", by_levels=["1", "2", "3"], landmarks=[15])
    assert_ard_shape(k)
    one = dict(group1_level="1", variable_level=None)
    assert (stat(k, **one, stat_name="events"), stat(k, **one, stat_name="censored")) == (0, 3)
    assert math.isnan(stat(k, **one, stat_name="median"))
    assert stat(k, group1_level="1", variable_level=15, stat_name="surv") == 1.0
    assert stat(k, group1_level="1", variable_level=15, stat_name="n_risk") == 2
    assert stat(k, group1_level="2", variable_level=None, stat_name="median") == 5.0
    assert stat(k, group1_level="3", variable_level=None, stat_name="n") == 0
    assert stat(k, group1_level="3", variable_level=15, stat_name="n_risk") == 0
    assert math.isnan(stat(k, group1_level="3", variable_level=15, stat_name="surv"))
    with pytest.raises(ValueError, match=r"CNSR 0 or 1; violated in rows \[1\]"):
        ard.km_ard(d.assign(CNSR=[1, 2, 1, 0]), "OS")
    with pytest.raises(ValueError, match=r"USUBJID must be unique"):
        ard.km_ard(pd.concat([d, d]), "OS")


# ------------------------------------------------------------------------------ NCA


def test_nca_ard_pharmaverse_adpp(pharma):
    pp = pharma["adpp"]
    n = ard.nca_ard(pp, by="TRTA", params=["CMAX", "TMAX", "AUCLST"], unit_var="PPSTRESU")
    assert_ard_shape(n)
    assert list(dict.fromkeys(n.variable)) == ["CMAX", "TMAX", "AUCLST"]
    for arm in ("Xanomeline High Dose", "Xanomeline Low Dose"):
        x = pp.loc[(arm == pp.TRTA) & (pp.PARAMCD == "CMAX"), "AVAL"]
        k = dict(group1_level=arm, variable="CMAX", variable_level="ug/ml")
        assert stat(n, **k, stat_name="n") == len(x)
        gm = np.exp(np.log(x).mean())
        assert stat(n, **k, stat_name="geo_mean") == pytest.approx(gm, rel=1e-12)
        gcv = 100 * np.sqrt(np.exp(np.log(x).std() ** 2) - 1)
        assert stat(n, **k, stat_name="geo_cv") == pytest.approx(gcv, rel=1e-9)
        for s, v in (("median", x.median()), ("min", x.min()), ("max", x.max()), ("mean", x.mean()), ("sd", x.std())):
            assert stat(n, **k, stat_name=s) == pytest.approx(v, rel=1e-12)
    assert [
        stat(n, group1_level=a, variable="CMAX", stat_name="n") for a in ("Xanomeline High Dose", "Xanomeline Low Dose")
    ] == [72, 96]
    # three by-variables: the second and third share group2
    n3 = ard.nca_ard(pp, by=["TRTA", "PPSPEC", "PPCAT"], params=["CMAX"])
    assert set(n3.group2) == {"PPSPEC / PPCAT"} and set(n3.group2_level) == {"PLASMA / COMPARTMENTAL"}
    # AUCALL is stored four times per subject in pharmaverseadam: refused, not silently averaged
    with pytest.raises(ValueError, match=r"more than one record per USUBJID x PARAMCD x TRTA"):
        ard.nca_ard(pp, by="TRTA", params=["AUCALL"])
    with pytest.raises(ValueError, match=r"parameter\(s\) \['AUC0_28'\] not found"):
        ard.nca_ard(pp, params=["AUC0_28"])


def test_nca_ard_units_per_group():
    pp = pd.DataFrame(
        {
            "USUBJID": ["a", "a", "b", "b"],
            "CKMETHOD": ["FLOW", "QPCR"] * 2,
            "PARAMCD": "CMAX",
            "AVAL": [10.0, 1000.0, 40.0, 4000.0],
            "AVALU": ["cells/uL", "copies/ug gDNA"] * 2,
        }
    )
    n = ard.nca_ard(pp, by="CKMETHOD", unit_var="AVALU")
    assert stat(n, group1_level="FLOW", variable_level="cells/uL", stat_name="geo_mean") == pytest.approx(20.0)
    assert stat(n, group1_level="QPCR", variable_level="copies/ug gDNA", stat_name="median") == 2500.0
    with pytest.raises(ValueError, match=r"CMAX has more than one unit in AVALU within group \{\}"):
        ard.nca_ard(pp.iloc[[0, 3]], unit_var="AVALU")  # a by FLOW, b by qPCR, no by
