"""ADaM derivations, rule by rule, on the hand-made mini study (tests/fixtures/mini_study.py)."""

from __future__ import annotations

import copy
import datetime as dt

import pandas as pd
import pytest
from fixtures.mini_study import CUT, DAY0, d, mini_domains
from helpers import make_cut, write_cut

from analysis_lib.trial import derive
from analysis_lib.trial.config import list_cuts, load_cut, load_study
from analysis_lib.trial.validate import ValidationFailed


@pytest.fixture(scope="module")
def study():
    return load_study()


@pytest.fixture(scope="module")
def dom():
    return {n: derive.typed(df, n) for n, df in mini_domains().items()}


@pytest.fixture(scope="module")
def adsl(dom, study):
    return derive.derive_adsl(dom, study, CUT).set_index("USUBJID")


@pytest.fixture(scope="module")
def adae(dom, study, adsl):
    return derive.derive_adae(dom, adsl.reset_index(), study, CUT).set_index(["USUBJID", "AESEQ"])


@pytest.fixture(scope="module")
def adrs(dom, study, adsl):
    return derive.derive_adrs(dom, adsl.reset_index(), study)


def ts(day: int, day0: dt.date = DAY0) -> pd.Timestamp:
    return pd.Timestamp(d(day, day0))


def rsp(adrs: pd.DataFrame, usubjid: str, paramcd: str) -> pd.Series:
    row = adrs[(adrs["USUBJID"] == usubjid) & (adrs["PARAMCD"] == paramcd)]
    assert len(row) == 1
    return row.iloc[0]


# ---------------------------------------------------------------- ADSL


def test_adsl_populations(adsl):
    assert list(adsl.index) == ["S01", "S02", "S03", "S04", "S05", "S06"]
    assert list(adsl["ENRLFL"]) == ["Y"] * 6
    assert list(adsl["SAFFL"]) == ["Y", "Y", "Y", "N", "Y", "Y"]
    # S01 DLT on Day 5 -> evaluable; S02 died Day 10 without DLT -> not evaluable; S03 completed
    # the window; expansion patients are never DLT-evaluable
    assert list(adsl["DLTEVLFL"]) == ["Y", "N", "Y", "N", "N", "N"]
    assert list(adsl["DLTFL"]) == ["Y", "N", "N", "N", "N", "N"]
    assert list(adsl["EFFFL"]) == ["Y", "Y", "Y", "N", "Y", "Y"]
    assert list(adsl["CKEVLFL"]) == ["Y", "N", "N", "N", "N", "N"]


def test_dlt_window_completion_edge(dom, study):
    # S03 (no DLT) is followed to the cut: evaluable once the cut reaches Day 43, not at Day 42
    at = {c: derive.derive_adsl(dom, study, DAY0 + dt.timedelta(days=c)).set_index("USUBJID") for c in (42, 43)}
    assert at[42].loc["S03", ["FUDY0", "DLTEVLFL"]].tolist() == [42, "N"]
    assert at[43].loc["S03", ["FUDY0", "DLTEVLFL"]].tolist() == [43, "Y"]


def test_adsl_treatment_and_key_dates(adsl):
    assert adsl.loc["S01", ["TRT01A", "TRT01AN", "CD19DOSE"]].tolist() == ["DL1 1×10⁵/kg", 1, 100000.0]
    assert adsl.loc["S04", "TRT01A"] == "Not infused" and pd.isna(adsl.loc["S04", "TRT01AN"])
    assert adsl.loc["S01", "CD19DT"] == adsl.loc["S01", "TRTSDT"] == ts(0)
    assert adsl.loc["S01", ["LDSTDT", "HSCTFL", "HSCTDT", "HSCTDY0"]].tolist() == [ts(-5), "Y", ts(15), 15]
    assert adsl.loc["S01", ["CD22FL", "CD22DT", "CD22DY0", "CD22DOSE"]].tolist() == ["Y", ts(85), 85, 1e6]
    assert adsl.loc["S03", "CD22FL"] == "N" and pd.isna(adsl.loc["S03", "CD22DT"])
    assert list(adsl["AGEGR1"]) == ["18-39", "<18", ">=40", "18-39", "18-39", "18-39"]
    assert adsl.loc["S01", ["DIAGDT", "DIAGDTF"]].tolist() == [pd.Timestamp("2022-05-01"), "D"]


def test_adsl_ae_periods(adsl):
    # period 1 ends 30 days after CD22 (Day 85 -> Day 115), at most Day 120 (no CD22 / CD22 Day 95)
    assert adsl.loc["S01", ["AP01SDT", "AP01EDT", "AP02SDT", "AP02EDT"]].tolist() == [ts(0), ts(115), ts(116), ts(730)]
    assert adsl.loc["S03", "AP01EDT"] == ts(120) and adsl.loc["S05", "AP01EDT"] == ts(120)


def test_adsl_death_last_alive_and_disposition(adsl):
    assert adsl.loc["S02", ["DTHFL", "DTHDT", "DTHDY0", "DTHCAUS", "DTHTRTFL"]].tolist() == [
        "Y",
        ts(10),
        10,
        "INFECTION",
        "Y",
    ]
    assert adsl.loc["S05", ["DTHCAUS", "DTHTRTFL"]].tolist() == ["RELAPSE/PROGRESSION OF ALL", "N"]
    assert adsl.loc["S01", ["DTHFL", "DTHCAUS"]].tolist() == ["N", ""]
    # last known alive: latest record (S01 visit Day 300), death date when dead, never after the cut
    assert adsl.loc["S01", ["LSTALVDT", "FUDY0"]].tolist() == [ts(300), 300]
    assert adsl.loc["S02", "LSTALVDT"] == ts(10) and adsl.loc["S05", "LSTALVDT"] == ts(400)
    assert adsl.loc["S04", "LSTALVDT"] == ts(-10)  # screen failure date
    assert (adsl["CUTOFFDT"] == pd.Timestamp(CUT)).all()
    assert list(adsl["EOSSTT"]) == ["ONGOING", "DISCONTINUED", "ONGOING", "DISCONTINUED", "DISCONTINUED", "ONGOING"]
    assert list(adsl["DCSREAS"]) == ["", "DEATH", "", "SCREEN FAILURE", "DEATH", ""]


def test_last_known_alive_is_capped_at_cut(dom):
    early = DAY0 + dt.timedelta(days=100)
    assert derive.last_known_alive(dom, early)["S01"] == pd.Timestamp(early)


# ---------------------------------------------------------------- dates


def test_partial_start_date_imputation():
    dtc = pd.Series(["2024-01", "2024-02", "2024", "2024-01", "2024-01-20", "2023-12"])
    ref = pd.Series(pd.to_datetime(["2024-01-10"] * 6))
    end = pd.Series(pd.to_datetime([None, None, None, "2024-01-05", None, None]))
    got, flag = derive.impute_start(dtc, ref, end)
    assert list(got.dt.strftime("%Y-%m-%d")) == [
        "2024-01-10",  # infusion month -> infusion date
        "2024-02-01",  # later month -> first day
        "2024-01-10",  # year only, infusion in that year -> infusion date
        "2024-01-01",  # ended before the infusion -> first day
        "2024-01-20",
        "2023-12-01",
    ]
    assert list(flag) == ["D", "D", "M", "D", "", "D"]


def test_partial_end_date_imputation():
    dtc = pd.Series(["2024-02", "2024-02", "2024", "2024-03-03"])
    cap = pd.Series(pd.to_datetime(["2024-02-10", None, "2024-06-30", "2024-03-01"]))
    got, flag = derive.impute_end(dtc, cap)
    assert list(got.dt.strftime("%Y-%m-%d")) == ["2024-02-10", "2024-02-29", "2024-06-30", "2024-03-03"]
    assert list(flag) == ["D", "D", "M", ""]


# ---------------------------------------------------------------- ADAE


def test_adae_study_days_and_imputation(adae):
    assert adae.loc[("S03", 5), ["ASTDT", "ASTDTF", "ASTDY0", "ASTDY"]].tolist() == [ts(0), "D", 0, 1]
    assert adae.loc[("S03", 6), ["ASTDT", "ASTDY0", "ASTDY", "TRTEMFL"]].tolist() == [
        pd.Timestamp("2023-12-01"),
        -40,
        -40,
        "N",
    ]
    assert adae.loc[("S05", 2), ["AENDT", "AENDTF", "AENDY0"]].tolist() == [pd.Timestamp("2024-02-29"), "D", 50]


def test_adae_duration_and_ongoing(adae):
    assert adae.loc[("S01", 1), ["ADURN", "AONGOFL"]].tolist() == [5, "N"]
    # ongoing at the cut -> duration to the cut, inclusive
    assert adae.loc[("S03", 4), ["AONGOFL", "ADURN"]].tolist() == ["Y", (pd.Timestamp(CUT) - ts(121)).days + 1]


def test_adae_periods_and_dlt_window(adae):
    per = adae["APERIOD"]
    assert [per[("S01", 3)], per[("S01", 4)]] == [1, 2]  # CD22 Day 85: Day 114 in P1, 116 in P2
    assert [per[("S03", 3)], per[("S03", 4)]] == [1, 2]  # no CD22: Day 120 in P1, Day 121 in P2
    assert pd.isna(per[("S03", 6)]) and adae.loc[("S03", 6), "APERIODC"] == ""
    assert adae.loc[("S01", 4), "APERIODC"].startswith("Period 2")
    assert [adae.loc[("S03", 1), "DLTWINFL"], adae.loc[("S03", 2), "DLTWINFL"]] == ["Y", "N"]  # Day 43 / 44


def test_adae_aesi(adae):
    cat = adae["AESICAT"]
    assert cat[("S01", 1)] == "CRS" and cat[("S05", 1)] == "ICANS"
    assert cat[("S05", 2)] == "CMV REACTIVATION"  # PT rule comes before the infection SOC
    assert cat[("S01", 3)] == "INFECTION"  # by SOC
    assert cat[("S03", 2)] == "PROLONGED CYTOPENIA"  # neutropenia for 37 days
    assert cat[("S03", 1)] == ""  # neutropenia for 8 days


def test_adae_worst_grade_flags(adae):
    sub = adae[adae["WGRSUBFL"] == "Y"].index.tolist()
    assert sub == [("S01", 1), ("S02", 1), ("S03", 2), ("S05", 1)]
    pt = adae["WGRPTFL"]
    assert [pt[("S01", 3)], pt[("S01", 4)]] == ["Y", "N"]  # same grade: the earlier
    assert [pt[("S03", 3)], pt[("S03", 4)], pt[("S03", 6)]] == ["N", "Y", "N"]  # not-TEAE never flagged
    assert adae.loc[("S03", 3), "WGRSOCFL"] == "N" and adae.loc[("S03", 4), "WGRSOCFL"] == "Y"


def test_adae_cytokine_drugs(adae):
    assert adae.loc[("S01", 1), ["CMTOCIFL", "CMSTERFL"]].tolist() == ["Y", "Y"]
    assert (adae.drop(("S01", 1))[["CMTOCIFL", "CMSTERFL"]] == "N").all().all()


# ---------------------------------------------------------------- ADRS


def test_response_windows(adrs):
    assert rsp(adrs, "S01", "RSPD30")[["AVALC", "AVAL", "ADY0"]].tolist() == ["CR", 1.0, 28]
    # S05: Day 22 is outside Day 30 +/- 7, Day 36 inside
    assert rsp(adrs, "S05", "RSPD30")[["AVALC", "ADY0"]].tolist() == ["CRI", 36]
    assert rsp(adrs, "S03", "RSPD45")["AVALC"] == "MISSING"
    assert rsp(adrs, "S02", "RSPD30")[["AVALC", "AVAL"]].tolist() == ["DIED", 0.0]
    assert rsp(adrs, "S06", "RSPD30")["AVALC"] == "NOT DUE" and pd.isna(rsp(adrs, "S06", "RSPD30")["AVAL"])
    assert "S04" not in set(adrs["USUBJID"])  # not in the efficacy population
    assert set(adrs.loc[adrs["PARAMCD"].str.startswith("RSPD"), "PARAMCD"]) == {"RSPD30", "RSPD45", "RSPD90", "RSPD120"}


def test_nearest_assessment_in_window():
    recs = pd.DataFrame({"USUBJID": ["A"] * 4, "ADY0": [24, 33, 37, 38], "RSSEQ": [1, 2, 3, 4]})
    got = derive._nearest_in_window(recs, [30, 45], 7)
    assert got[["NOMDAY", "RSSEQ"]].values.tolist() == [[30, 2], [45, 4]]
    tie = derive._nearest_in_window(pd.DataFrame({"USUBJID": ["A", "A"], "ADY0": [27, 33], "RSSEQ": [2, 1]}), [30], 7)
    assert tie["ADY0"].tolist() == [27]  # equally near: the earlier one


def test_mrd_negative_and_best_response(adrs):
    assert rsp(adrs, "S01", "MRDND30")[["AVALC", "AVAL"]].tolist() == ["Y", 1.0]
    assert rsp(adrs, "S05", "MRDND30")["AVALC"] == "N"  # CRi but MRD positive
    assert rsp(adrs, "S03", "MRDND30")["AVALC"] == "N"  # no response
    assert rsp(adrs, "S06", "MRDND30")["AVALC"] == "NOT DUE"
    best = {u: rsp(adrs, u, "BESTRSP")["AVALC"] for u in ("S01", "S02", "S03", "S05")}
    assert best == {"S01": "CR", "S02": "MISSING", "S03": "NR", "S05": "CRI"}
    assert rsp(adrs, "S01", "BESTRSP")["CRFL"] == "Y" and rsp(adrs, "S03", "BESTRSP")["CRFL"] == "N"
    chosen = adrs[(adrs["USUBJID"] == "S05") & (adrs["PARAMCD"] == "OVRLRESP")]
    assert chosen[["ADY0", "ANL01FL"]].values.tolist() == [[22, "N"], [36, "Y"], [300, "N"]]


# ---------------------------------------------------------------- ADTTE


def test_time_to_event(dom, study, adsl, adrs):
    tte = derive.derive_adtte(dom, adsl.reset_index(), adrs, study).set_index(["USUBJID", "PARAMCD"])
    cols = ["STARTDT", "ADT", "AVAL", "CNSR", "EVNTDESC", "CNSDTDSC"]
    assert tte.loc[("S01", "OS"), cols].tolist() == [ts(0), ts(300), 300.0, 1, "", "LAST KNOWN ALIVE DATE"]
    assert tte.loc[("S02", "OS"), cols].tolist() == [ts(0), ts(10), 10.0, 0, "DEATH", ""]
    assert tte.loc[("S01", "EFS"), cols].tolist() == [ts(0), ts(200), 200.0, 0, "RELAPSE/PROGRESSION", ""]
    # S03 has no CR/CRi by the induction assessment: an EFS event at Day 0 (primary); the sensitivity
    # analysis does not count induction failure (censored at the last assessment)
    assert tte.loc[("S03", "EFS"), cols].tolist() == [
        ts(0),
        ts(0),
        0.0,
        0,
        "INDUCTION FAILURE (NO CR/CRI BY DAY 52)",
        "",
    ]
    assert tte.loc[("S03", "EFSSENS"), cols].tolist() == [ts(0), ts(90), 90.0, 1, "", "LAST DISEASE ASSESSMENT"]
    assert tte.loc[("S06", "EFS"), ["AVAL", "CNSR"]].tolist() == [0.0, 1]
    assert tte.loc[("S01", "DOR"), cols].tolist() == [ts(28), ts(200), 172.0, 0, "RELAPSE/PROGRESSION", ""]
    assert tte.loc[("S05", "DOR"), ["AVAL", "CNSR"]].tolist() == [264.0, 0]
    assert tte.loc[("S01", "OS"), "AVALM"] == pytest.approx(300 / 30.4375)
    assert ("S04", "OS") not in tte.index and ("S03", "DOR") not in tte.index
    assert (tte["ADT"] <= pd.Timestamp(CUT)).all()


def test_efs_discontinuation_and_dor_death_rules(dom, study):
    dom = copy.deepcopy(dom)
    ds = dom["ds"]
    # S03 withdraws on Day 150 (EFS event); S01 dies of infection on Day 150 before relapsing
    extra = pd.DataFrame(
        [
            dict(
                USUBJID="S03",
                DSSEQ=9,
                DSCAT="DISPOSITION EVENT",
                DSDECOD="WITHDRAWAL BY SUBJECT",
                DSTERM="x",
                DTHCAUS="",
                DSSTDTC=ts(150),
            ),
            dict(
                USUBJID="S01",
                DSSEQ=9,
                DSCAT="DISPOSITION EVENT",
                DSDECOD="DEATH",
                DSTERM="x",
                DTHCAUS="INFECTION",
                DSSTDTC=ts(150),
            ),
        ]
    )
    dom["ds"] = pd.concat([ds, extra.astype(ds.dtypes.to_dict())], ignore_index=True)
    dom["rs"] = dom["rs"][~((dom["rs"]["USUBJID"] == "S01") & (dom["rs"]["RSSTRESC"] == "RELAPSE"))]
    a = derive.derive_adsl(dom, study, CUT)
    tte = derive.derive_adtte(dom, a, derive.derive_adrs(dom, a, study), study).set_index(["USUBJID", "PARAMCD"])
    # withdrawal is an event only in the sensitivity analysis; the primary EFS keeps the induction failure
    assert tte.loc[("S03", "EFSSENS"), ["AVAL", "CNSR", "EVNTDESC"]].tolist() == [
        150.0,
        0,
        "DISCONTINUATION: WITHDRAWAL BY SUBJECT",
    ]
    assert tte.loc[("S03", "EFS"), ["AVAL", "CNSR"]].tolist() == [0.0, 0]
    assert tte.loc[("S01", "DOR"), ["ADT", "CNSR", "CNSDTDSC"]].tolist() == [ts(150), 1, "DEATH FROM OTHER CAUSE"]
    assert tte.loc[("S01", "OS"), ["AVAL", "CNSR"]].tolist() == [150.0, 0]


# ---------------------------------------------------------------- ADCK / ADPP


def test_adck(dom, study, adsl):
    ck = derive.derive_adck(dom, adsl.reset_index(), study)
    assert ck["PARAMCD"].tolist() == ["CD19PBQP", "CD19PBQP", "CD22PBQP", "CD19CSFL"]
    assert ck["ARELTM"].tolist() == [0.0, 7.0, 7.0, 14.0]  # CD22 sample Day 92 = 7 days after CD22
    assert ck["BLQFL"].tolist() == ["Y", "N", "N", "Y"]  # '<LLOQ' and 0.5 < LLOQ 1
    assert ck["AVAL"].isna().tolist() == [True, False, False, True]
    assert ck["LLOQ"].tolist() == [10.0, 10.0, 10.0, 1.0]


def test_adpp(dom, study, adsl):
    st = copy.deepcopy(study)
    st["kinetics"]["blq_rule"] = "zero-before-first-else-drop"
    ck = derive.derive_adck(dom, adsl.reset_index(), st)
    pp = derive.derive_adpp(ck, st).set_index(["CKPARMCD", "PARAMCD"])
    assert pp.loc[("CD19PBQP", "CMAX"), ["AVAL", "AVALU"]].tolist() == [5000.0, "copies/ug gDNA"]
    assert pp.loc[("CD19PBQP", "TMAX"), ["AVAL", "AVALU"]].tolist() == [7.0, "days"]
    # BLQ at Day 0 enters as 0, then linear up to 5000 at Day 7: 7 * 5000 / 2
    assert pp.loc[("CD19PBQP", "AUCLST"), "AVAL"] == 17500.0
    assert pp.loc[("CD19CSFL", "CMAX"), "AVAL"] == 0.0 and pd.isna(pp.loc[("CD19CSFL", "TMAX"), "AVAL"])
    assert {"CMAX", "TMAX", "CLAST", "TLAST", "AUCLST", "AUC0_28"} == set(pp.index.get_level_values(1))


# ---------------------------------------------------------------- derive_cut: atomic, deterministic


def test_derive_cut_writes_atomically_and_keeps_old_output_on_failure(tmp_path):
    data = write_cut(mini_domains(), tmp_path / "data")
    out = tmp_path / "adam"
    got = derive.derive_cut(make_cut(data), out_dir=out)
    files = sorted(p.name for p in out.iterdir())
    assert files == [
        "adae.parquet",
        "adck.parquet",
        "adlb.parquet",
        "adlbtte.parquet",
        "adpp.parquet",
        "adpr.parquet",
        "adrs.parquet",
        "adsl.parquet",
        "adtte.parquet",
        "dcutlog.parquet",  # the data-cut log beside the ADaM datasets (datacut.log_frame)
    ]
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    pd.testing.assert_frame_equal(pd.read_parquet(out / "adsl.parquet"), got["adsl"])

    derive.derive_cut(make_cut(data), out_dir=out)  # same inputs -> byte-identical files
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before

    ae = pd.read_csv(data / "ae.csv", dtype=str, keep_default_na=False)
    ae.loc[0, "AETOXGR"] = "7"
    ae.to_csv(data / "ae.csv", index=False)
    with pytest.raises(ValidationFailed) as exc:
        derive.derive_cut(make_cut(data), out_dir=out)
    assert [(p.file, p.column, p.rows) for p in exc.value.problems] == [("ae.csv", "AETOXGR", (1,))]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adam", "data"]  # no temporary left behind


def test_failed_write_keeps_old_output(tmp_path, monkeypatch):
    out = tmp_path / "adam"
    derive.write_datasets({"a": pd.DataFrame({"x": [1]})}, out)
    before = (out / "a.parquet").read_bytes()

    class Boom(pd.DataFrame):
        def to_parquet(self, *args, **kwargs):
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        derive.write_datasets({"a": pd.DataFrame({"x": [2]}), "b": Boom({"x": [3]})}, out)
    assert sorted(p.name for p in out.iterdir()) == ["a.parquet"] and (out / "a.parquet").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adam"]


# ---------------------------------------------------------------- the real synthetic cuts


@pytest.mark.parametrize("cut_id", ["escalation", "interim", "final"])
def test_derive_synthetic_cut(cut_id, tmp_path):
    if cut_id not in list_cuts():
        pytest.skip(f"params/{cut_id}.yml not there yet")
    cut = load_cut(cut_id)
    got = derive.derive_cut(cut, out_dir=tmp_path / "adam")
    adsl = got["adsl"]
    assert adsl["USUBJID"].is_unique and (adsl["SAFFL"] == "Y").sum() > 0
    assert (got["adtte"]["ADT"] <= pd.Timestamp(cut.cut_date)).all()
    assert (
        set(got["adtte"]["PARAMCD"])
        <= {"OS", "EFS", "EFSSENS", "DOR", "CIR", "NRM", "AGVHD2", "AGVHD3", "CGVHD", "GRFS"}
        and (got["adtte"]["AVAL"] >= 0).all()
    )
    # every endpoint ends at the end of protocol follow-up (study day), whatever its origin
    assert (got["adtte"]["ADY0"] <= load_study()["timeline"]["end_of_follow_up"]).all()
    assert got["adae"]["TRTEMFL"].isin(["Y", "N"]).all() and len(got["adae"]) > 0
    assert (got["adpp"]["PARAMCD"] == "CMAX").sum() > 0


def test_empty_domains_derive(study):
    raw = mini_domains()
    for name in ("cm", "ck", "rs", "ae", "pr", "sv", "lb", "xt"):
        raw[name] = raw[name].iloc[0:0]
    raw["ds"] = raw["ds"][raw["ds"]["DSDECOD"] == "INFORMED CONSENT"]
    out = derive.derive_all(raw, study, CUT)
    assert {k: len(v) for k, v in out.items()} == {
        "adsl": 6,
        "adae": 0,
        "adrs": 45,
        "adtte": 15,
        "adck": 0,
        "adpp": 0,
        "adpr": 0,
        "adlb": 0,
        "adlbtte": 0,
    }
    assert set(out["adrs"].loc[out["adrs"]["PARAMCD"] == "RSPD30", "AVALC"]) == {"MISSING", "NOT DUE"}
    # only S01 is known alive past Day 43 (CD22 infusion on Day 85); the others' last record is Day 0
    assert out["adsl"]["DLTEVLFL"].tolist() == ["Y", "N", "N", "N", "N", "N"]
    assert out["adsl"]["FUDY0"].tolist()[:3] == [85, 0, 0]


def test_adpr_days_from_cd19_infusion(study):
    out = derive.derive_all(mini_domains(), study, CUT)
    adpr, adsl = out["adpr"], out["adsl"].set_index("USUBJID")
    assert len(adpr) > 0 and adpr["USUBJID"].isin(adsl.index).all()
    expected = (adpr["PRSTDTC"] - adpr["USUBJID"].map(adsl["CD19DT"])).dt.days
    assert adpr["ASTDY0"].astype("Int64").equals(expected.astype("Int64").rename("ASTDY0"))
    lymphodep = adpr[adpr["PRCAT"] == "LYMPHODEPLETION"]
    assert (lymphodep["ASTDY0"].dropna() < 0).any()  # lymphodepletion precedes Day 0
