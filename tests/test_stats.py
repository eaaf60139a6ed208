"""analysis_lib.toolkit.stats against R reference values (tests/reference/*.R wrote the CSVs)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import assert_close, close  # shared test helpers (tests/helpers.py)

from analysis_lib.toolkit import formats, stats

REF = Path(__file__).resolve().parent / "reference"


@pytest.fixture(scope="module")
def km_inputs() -> pd.DataFrame:
    return pd.read_csv(REF / "km_inputs.csv")


def _fit(km_inputs, dataset, strata, conf_type, conf_level=0.95):
    d = km_inputs[(km_inputs.dataset == dataset) & (km_inputs.strata == strata)]
    return stats.kaplan_meier(d.time, d.event, conf_type=conf_type, conf_level=conf_level)


KM_KEYS = (
    pd.read_csv(REF / "km_quantiles.csv")[["dataset", "strata", "conf_type"]]
    .drop_duplicates()
    .itertuples(index=False, name=None)
)


@pytest.mark.parametrize("dataset,strata,conf_type", list(KM_KEYS))
def test_km_matches_survfit(km_inputs, dataset, strata, conf_type):
    km = _fit(km_inputs, dataset, strata, conf_type)
    key = lambda df: df[(df.dataset == dataset) & (df.strata == strata) & (df.conf_type == conf_type)]
    curve = key(pd.read_csv(REF / "km_curves.csv"))
    if len(curve):
        for col in ["time", "n_risk", "n_event", "n_censor", "surv", "std_err", "lower", "upper"]:
            assert_close(km.table[col], curve[col], f"{dataset}/{strata}/{conf_type} {col}")
    q = key(pd.read_csv(REF / "km_quantiles.csv"))
    for row in q.itertuples():
        got = km.quantile(row.prob)
        assert_close(got, [row.quantile, row.lower, row.upper], f"quantile({row.prob})")
    med = q[q.prob == 0.5].iloc[0]
    assert close(km.median, med["quantile"]) and close(km.median_ci[0], med.lower) and close(km.median_ci[1], med.upper)
    at = key(pd.read_csv(REF / "km_at_times.csv"))
    assert km.n_at_risk(at.time) == at.n_risk.tolist()
    assert_close(km.survival(at.time), at.surv, "survival(times)")
    assert_close(km.survival_ci(at.time), at[["lower", "upper"]].to_numpy(), "survival_ci(times)")
    assert km.n == len(km_inputs[(km_inputs.dataset == dataset) & (km_inputs.strata == strata)])


def test_km_edge_cases_explicit(km_inputs):
    """The quantile.survfit rules, spelled out (values also in the R reference)."""
    flat = stats.kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1])
    assert flat.median == 2.5  # S == 0.5 on [2, 3): midpoint
    flat_end = stats.kaplan_meier([1, 2, 3, 4], [1, 1, 0, 0])
    assert flat_end.median == 3.0  # flat at 0.5 to the last time: (2 + 4) / 2
    above = stats.kaplan_meier([1, 3, 5, 6, 8, 9, 10], [1, 0, 1, 0, 0, 0, 0])
    assert math.isnan(above.median) and math.isnan(above.median_ci[1])
    cens = stats.kaplan_meier([2, 4, 4, 7], [0, 0, 0, 0])
    assert math.isnan(cens.median) and cens.n_events == 0 and cens.survival([100]) == [1.0]
    one = stats.kaplan_meier([5], [1])
    assert one.median == 5 and all(math.isnan(v) for v in one.median_ci)


def test_km_conf_level_90(km_inputs):
    ref = pd.read_csv(REF / "km_lung_sex_conf90.csv")
    for s, r in ref.groupby("strata"):
        km = _fit(km_inputs, "lung_sex", s, "log", conf_level=0.90)
        assert_close(km.table.lower, r.lower, "lower 90%")
        assert_close(km.table.upper, r.upper, "upper 90%")
        assert_close([km.median, *km.median_ci], r.iloc[0][["median", "median_lower", "median_upper"]], "median 90%")


def test_km_survival_agrees_with_lifelines(km_inputs):
    from lifelines import KaplanMeierFitter

    d = km_inputs[km_inputs.dataset == "lung"]
    kmf = KaplanMeierFitter().fit(d.time, d.event)
    km = stats.kaplan_meier(d.time, d.event)
    t = km.table.time.to_numpy()
    assert_close(km.survival(t), kmf.survival_function_at_times(t).to_numpy(), "vs lifelines")


def test_cdisc_ttde_numbers_at_risk(reference_data):
    """CDISC pilot TTDE, safety population, by TRTA: published Placebo numbers at risk."""
    import pyreadstat

    adtte, _ = pyreadstat.read_xport(str(reference_data / "cdiscpilot01" / "adtte.xpt"))
    adtte = adtte[(adtte.PARAMCD == "TTDE") & (adtte.SAFFL == "Y")]
    days = list(range(0, 201, 20))
    expected = {  # Placebo: published; the other arms from R summary(survfit, times=)
        "Placebo": [86, 75, 65, 59, 50, 47, 45, 42, 40, 35, 0],
        "Xanomeline Low Dose": [84, 58, 31, 20, 14, 12, 8, 6, 6, 5, 0],
        "Xanomeline High Dose": [84, 48, 31, 14, 7, 4, 4, 4, 4, 3, 0],
    }
    meds = (
        pd.read_csv(REF / "km_quantiles.csv")
        .query("dataset == 'cdisc_ttde' and prob == 0.5 and conf_type == 'log-log'")
        .set_index("strata")
    )
    for arm, want in expected.items():
        d = adtte[arm == adtte.TRTA]
        km = stats.kaplan_meier(d.AVAL, 1 - d.CNSR)
        assert km.n_at_risk(days) == want, arm
        assert_close([km.median, *km.median_ci], meds.loc[arm, ["quantile", "lower", "upper"]], arm)
    lr = stats.logrank_test(adtte.AVAL, 1 - adtte.CNSR, adtte.TRTA)
    ref = pd.read_csv(REF / "km_logrank.csv").set_index("test").loc["cdisc_ttde"]
    assert close(lr.chisq, ref.chisq) and lr.df == ref.df and close(lr.p, ref.p, 1e-12)


def test_logrank_matches_survdiff(km_inputs):
    ref = pd.read_csv(REF / "km_logrank.csv").set_index("test")
    lung = pd.read_csv(REF / "lung.csv")
    ev = (lung.status == 2).astype(int)
    ties_t = [1, 1, 2, 2, 2, 3, 5, 5, 8, 8, 9]
    ties_e = [1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 0]
    ecog = lung.dropna(subset=["ph.ecog"])
    cases = {
        "lung_sex": (lung.time, ev, lung.sex),
        "lung_ecog": (ecog.time, (ecog.status == 2).astype(int), ecog["ph.ecog"]),
        "ties": (ties_t, ties_e, [1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1]),
    }
    for name, (t, e, g) in cases.items():
        lr = stats.logrank_test(t, e, g)
        r = ref.loc[name]
        assert close(lr.chisq, r.chisq) and lr.df == r.df and close(lr.p, r.p, 1e-12), name
    lr = stats.logrank_test(lung.time, ev, lung.sex)
    assert lr.observed == [112.0, 53.0] and sum(lr.n) == 228
    assert close(sum(lr.expected), 165)


def test_km_bad_input_messages():
    with pytest.raises(ValueError, match=r"event must be 0 .* positions \[1\]"):
        stats.kaplan_meier([1, 2], [1, 2])
    with pytest.raises(ValueError, match=r"time is missing .* positions \[0\]"):
        stats.kaplan_meier([float("nan"), 2], [1, 0])
    with pytest.raises(ValueError, match=r"time is not numeric at positions \[1\]: \['x'\]"):
        stats.kaplan_meier([1, "x"], [1, 0])
    km = stats.kaplan_meier(pd.Series([3, 1, 2], index=[7, 8, 9]), pd.Series([1, 0, pd.NA], dtype="Int64").fillna(1))
    assert km.table.n_risk.tolist() == [3, 2, 1] and km.n_events == 2
    with pytest.raises(ValueError, match="conf_type"):
        stats.kaplan_meier([1], [1], conf_type="logit")
    with pytest.raises(ValueError, match="at least 2 groups"):
        stats.logrank_test([1, 2], [1, 1], ["a", "a"])


# --------------------------------------------------------------------------- binomial
def test_clopper_pearson_matches_binom_test():
    ref = pd.read_csv(REF / "binom_cp.csv")
    got = np.array([stats.clopper_pearson(r.x, r.n, r.conf_level) for r in ref.itertuples()])
    assert_close(got, ref[["lower", "upper"]].to_numpy(), "Clopper-Pearson", tol=1e-9)
    assert stats.clopper_pearson(0, 7)[0] == 0.0 and stats.clopper_pearson(7, 7)[1] == 1.0
    assert all(math.isnan(v) for v in stats.clopper_pearson(0, 0))
    with pytest.raises(ValueError, match="exceeds"):
        stats.clopper_pearson(5, 3)


# --------------------------------------------------------------------------- NCA
@pytest.fixture(scope="module")
def theoph():
    return pd.read_csv(REF / "theoph.csv"), pd.read_csv(REF / "nca_theoph.csv")


def test_nca_theoph_matches_reference(theoph):
    data, ref = theoph
    for r in ref.itertuples():
        d = data[data.subject == r.subject]
        lin = stats.nca(d.time, d.conc, "linear", end=10)
        log = stats.nca(d.time, d.conc, end=10)
        for k in ["cmax", "tmax", "tlast", "clast"]:
            assert close(log[k], getattr(r, k)) and close(lin[k], getattr(r, k)), (r.subject, k)
        assert close(lin["auclast"], r.auclast_linear), r.subject
        assert close(log["auclast"], r.auclast_linlog), r.subject
        assert close(lin["auc0_10"], r.auc0_10_linear), r.subject
        assert close(log["auc0_10"], r.auc0_10_linlog), r.subject
        assert close(stats.auc_interval(d.time, d.conc, 0, 30), r.auc0_30_linlog), r.subject
        assert close(stats.auc_interval(d.time, d.conc, 2, 6), r.auc2_6_linlog), r.subject


def test_nca_by_hand():
    """A 4-point profile worked by hand: 0->1 up, 1->2 down, 2->4 down."""
    t, c = [0, 1, 2, 4], [0, 8, 4, 2]
    res = stats.nca(t, c)
    log_down = (8 - 4) / math.log(2) * 1 + (4 - 2) / math.log(2) * 2
    assert res == {
        "cmax": 8.0,
        "tmax": 1.0,
        "tlast": 4.0,
        "clast": 2.0,
        "auclast": pytest.approx(4 + log_down, abs=1e-12),
    }
    assert stats.nca(t, c, "linear")["auclast"] == 4 + 6 + 6
    # end=3: C(3) = 4 * exp(-ln2 / 2) log-linear; area 2->3 = (4 - C3) / ln(4 / C3)
    c3 = 4 * math.exp(-math.log(2) / 2)
    want = 4 + (8 - 4) / math.log(2) + (4 - c3) / math.log(4 / c3)
    assert stats.nca(t, c, end=3)["auc0_3"] == pytest.approx(want, abs=1e-12)
    # end beyond tlast: area stops at tlast
    assert stats.nca(t, c, end=28)["auc0_28"] == pytest.approx(res["auclast"], abs=1e-12)


def test_nca_blq_rules():
    t = [0, 1, 2, 3, 5, 7]
    c = [0.5, 6.0, 0.5, 3.0, 2.0, 0.5]  # 0.5 < LLOQ 1 at t=0, 2 (middle), 7 (trailing)
    lloq = 1.0
    first = stats.nca(t, c, "linear", lloq=lloq, end=10)  # default: t0 -> 0, t2 and t7 dropped
    assert first["tlast"] == 5 and first["clast"] == 2 and first["tmax"] == 1
    assert first["auclast"] == (0 + 6) / 2 + (6 + 3) / 2 * 2 + (3 + 2) / 2 * 2
    assert first["auc0_10"] == first["auclast"]
    zero = stats.nca(t, c, "linear", lloq=lloq, blq="zero")
    assert zero["auclast"] == 3 + 3 + 1.5 + 5 and zero["tlast"] == 5
    drop = stats.nca(t, c, "linear", lloq=lloq, blq="drop")
    assert drop["auclast"] == (6 + 3) / 2 * 2 + 5
    half = stats.nca(t, c, "linear", lloq=lloq, blq="half-lloq")
    assert half["auclast"] == (0.5 + 6) / 2 + (6 + 0.5) / 2 + (0.5 + 3) / 2 + 5
    mask = stats.nca(
        t, [np.nan, 6, np.nan, 3, 2, np.nan], "linear", blq_mask=[True, False, True, False, False, True], end=10
    )
    assert mask == first
    none = stats.nca([0, 7, 14], [0, 0, 0])
    assert none["cmax"] == 0 and none["auclast"] == 0 and math.isnan(none["tmax"])
    with pytest.raises(ValueError, match=r"blq_mask must be True/False; positions \[0, 1\]"):
        stats.nca([0, 1], [0, 1], blq_mask=["Y", "N"])
    with pytest.raises(ValueError, match=r"half-lloq.*needs lloq"):
        stats.nca(t, c, blq="half-lloq")
    with pytest.raises(ValueError, match="blq="):
        stats.nca(t, c, blq="ignore")
    with pytest.raises(ValueError, match=r"duplicated sampling times \[1.0\]"):
        stats.nca([0, 1, 1], [0, 1, 2])
    with pytest.raises(ValueError, match=r"negative at positions \[1\]"):
        stats.nca([0, 1], [0, -1])


# --------------------------------------------------------------------------- descriptives
def test_describe_matches_r():
    ref = pd.read_csv(REF / "describe.csv").set_index("name")
    vals = pd.read_csv(REF / "describe_input.csv")
    for name, g in vals.groupby("name"):
        got = stats.describe(g.value)
        want = ref.loc[name]
        for k in ["n", "mean", "sd", "median", "q1", "q3", "min", "max", "geo_mean", "geo_cv"]:
            assert close(got[k], want[k]), (name, k)
    assert stats.describe([1, np.nan, 3])["n"] == 2
    assert stats.describe([])["n"] == 0
    assert math.isnan(stats.describe([0, 2, 4])["geo_mean"])


def test_round_half_away_and_pct():
    r = stats.round_half_away
    assert r(2.675, 2) == 2.68 and r(0.125, 2) == 0.13 and r(1.005, 2) == 1.01
    assert r(2.5) == 3 and r(-2.5) == -3 and r(0.5) == 1 and r(-0.125, 2) == -0.13
    assert r(1234.5, -1) == 1230 and math.isnan(r(math.nan, 1))
    assert formats.fmt_n_pct(1, 8) == "1 (12.5)" and formats.fmt_n_pct(1, 3) == "1 (33.3)"
    assert formats.fmt_n_pct(2, 3) == "2 (66.7)" and formats.fmt_n_pct(0, 5) == "0"
    assert formats.fmt_n_pct(5, 5) == "5 (100)" and formats.fmt_n_pct(1, 16, 1) == "1 (6.3)"


# --------------------------------------------------------------------------- dose escalation
def _decisions(cohorts, levels=None):
    return [(r["decision"], r["next_dose_level"], r["mtd"]) for r in stats.three_plus_three(cohorts, levels)]


def test_three_plus_three_paths():
    lv = [1, 2, 3]
    # clean escalation to the top: 0/3, 0/3, 0/3 -> expand top, then 1/6 -> RP2D = 3
    assert _decisions([(1, 3, 0), (2, 3, 0), (3, 3, 0), (3, 3, 1)], lv) == [
        ("escalate", 2, None),
        ("escalate", 3, None),
        ("expand cohort", 3, None),
        ("stop", None, 3),
    ]
    # 1/3 -> expand; 1/6 -> escalate; 2/3 at level 3 -> de-escalate? level 2 has 6 -> stop, MTD 2
    assert _decisions([(1, 3, 0), (2, 3, 1), (2, 3, 0), (3, 3, 2)], lv) == [
        ("escalate", 2, None),
        ("expand cohort", 2, None),
        ("escalate", 3, None),
        ("stop", None, 2),
    ]
    # 2/3 at level 2 with only 3 at level 1 -> de-escalate to expand level 1; 0/6 -> MTD 1
    assert _decisions([(1, 3, 0), (2, 3, 2), (1, 3, 0)], lv) == [
        ("escalate", 2, None),
        ("de-escalate", 1, None),
        ("stop", None, 1),
    ]
    # >=2/6 after expansion at the top level
    assert _decisions([(1, 3, 0), (2, 3, 0), (3, 3, 1), (3, 3, 1)], lv)[-1] == ("de-escalate", 2, None)
    # 2 DLTs at the lowest level -> stop, no MTD
    rows = stats.three_plus_three([(1, 3, 2)], lv)
    assert rows[0]["decision"] == "stop" and rows[0]["mtd"] is None
    assert "lowest" in rows[0]["reason"]


def test_three_plus_three_errors():
    with pytest.raises(ValueError, match="previous decision was to treat at level 2"):
        stats.three_plus_three([(1, 3, 0), (3, 3, 0)], [1, 2, 3])
    with pytest.raises(ValueError, match="3 or 6 per level"):
        stats.three_plus_three([(1, 4, 0)], [1, 2])
    with pytest.raises(ValueError, match="follows a 'stop'"):
        stats.three_plus_three([(1, 3, 2), (1, 3, 0)], [1, 2])
