"""analysis_lib.trial.kinetics on small hand-made ADPP/ADCK frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis_lib.trial import kinetics


def _pp(usubjid, prod, spec, meth, paramcd, aval, unit):
    return dict(
        USUBJID=usubjid, CKEVLFL="Y", CKTRT=prod, CKSPEC=spec, CKMETHOD=meth, PARAMCD=paramcd, AVAL=aval, AVALU=unit
    )


@pytest.fixture
def adpp() -> pd.DataFrame:
    rows = []
    for s, cmax, tmax in [("S1", 10.0, 7.0), ("S2", 40.0, 14.0), ("S3", 0.0, math.nan)]:
        rows += [
            _pp(s, "CD19 CAR-T", "PERIPHERAL BLOOD", "QPCR", "CMAX", cmax, "copies/ug gDNA"),
            _pp(s, "CD19 CAR-T", "PERIPHERAL BLOOD", "QPCR", "TMAX", tmax, "days"),
        ]
    rows.append(_pp("S9", "CD19 CAR-T", "PERIPHERAL BLOOD", "QPCR", "CMAX", 999.0, "copies/ug gDNA") | {"CKEVLFL": "N"})
    return pd.DataFrame(rows)


def test_nominal_day():
    assert kinetics.nominal_day(pd.Series(["DAY 28", "CD22 DAY 7", "DAY -1"])).tolist() == [28, 7, -1]
    with pytest.raises(ValueError, match=r"ADCK: column AVISIT .* rows \[1\]: \['WEEK 2'\]"):
        kinetics.nominal_day(pd.Series(["DAY 1", "WEEK 2"]))


def test_nca_summary_geometric_over_positive_values(adpp):
    a = kinetics.nca_summary_ard(adpp, params=["CMAX", "TMAX"])
    st = {r.stat_name: r.stat_value for r in a[a["variable"] == "CMAX"].itertuples()}
    assert st["n"] == 3 and st["n_pos"] == 2  # S9 is not CK-evaluable
    assert math.isnan(st["geo_mean"])  # a zero makes it undefined
    assert st["geo_mean_pos"] == pytest.approx(20.0, abs=1e-12)  # sqrt(10 * 40)
    sd = np.std(np.log([10.0, 40.0]), ddof=1)
    assert st["geo_cv_pos"] == pytest.approx(100 * math.sqrt(math.exp(sd**2) - 1), abs=1e-12)
    assert st["median"] == 10.0 and st["min"] == 0.0
    tm = {r.stat_name: r.stat_value for r in a[a["variable"] == "TMAX"].itertuples()}
    assert tm["n"] == 2 and tm["nmiss"] == 1 and tm["median"] == 10.5
    # rows of one group and parameter stay together, extra statistics after nca_ard's
    assert a.loc[a["variable"] == "CMAX", "stat_name"].tolist()[-3:] == ["n_pos", "geo_mean_pos", "geo_cv_pos"]
    assert a["variable"].tolist().index("TMAX") > max(i for i, v in enumerate(a["variable"]) if v == "CMAX")


def test_nca_table(adpp):
    a = kinetics.nca_summary_ard(adpp, params=["CMAX", "TMAX"])
    t = kinetics.nca_table(
        a, combos=[("CD19 CAR-T", "PERIPHERAL BLOOD", "QPCR"), ("CD22 CAR-T", "CSF", "FLOW CYTOMETRY")]
    )
    lab = t.columns[0]
    assert t[lab].tolist() == [
        "CD19 CAR-T, peripheral blood, qPCR",
        "Cmax (copies/µg gDNA)",
        "Tmax (days)",
        "CD22 CAR-T, cerebrospinal fluid, flow cytometry",
        "No subjects",
    ]
    assert t.iloc[1, 1:5].tolist() == ["3", "2", "20.0 (127.0)", "10.0 (0.00, 40.0)"]
    assert t.iloc[2, 1:5].tolist() == ["2", "", "", "10.5 (7.0, 14.0)"]
    assert t["_indent"].tolist() == [0, 1, 1, 0, 1]


def _ck(usubjid, paramcd, avisit, blq, aval=1.0, anl="Y"):
    return dict(
        USUBJID=usubjid,
        CKEVLFL="Y",
        PARAMCD=paramcd,
        AVISIT=avisit,
        BLQFL=blq,
        AVAL=math.nan if blq == "Y" else aval,
        ANL01FL=anl,
        LLOQ=0.1,
        CKTRT="CD19 CAR-T" if paramcd.startswith("CD19") else "CD22 CAR-T",
        CKSPEC="PERIPHERAL BLOOD" if "PB" in paramcd else "CSF",
        CKMETHOD="QPCR" if paramcd.endswith("QP") else "FLOW CYTOMETRY",
    )


@pytest.fixture
def adck() -> pd.DataFrame:
    return pd.DataFrame(
        [
            _ck("S1", "CD19PBQP", "DAY 7", "N", 5.0),
            _ck("S2", "CD19PBQP", "DAY 7", "N", 50.0),
            _ck("S1", "CD19PBQP", "DAY 28", "N", 0.5),
            _ck("S2", "CD19PBQP", "DAY 28", "Y"),
            _ck("S1", "CD22PBQP", "CD22 DAY 28", "Y"),
            _ck("S2", "CD22PBQP", "CD22 DAY 28", "Y"),
            _ck("S1", "CD19PBQP", "DAY -1", "Y", anl="N"),
            _ck("S1", "CD19CSQP", "DAY 14", "N", 2.0),
            _ck("S2", "CD19CSQP", "DAY 14", "Y"),
        ]
    )


def test_persistence(adck):
    a = kinetics.persistence_ard(adck, [7, 28, 90], paramcds=["CD19PBQP", "CD22PBQP"])
    get = lambda prm, day, s: a[(a["group1_level"] == prm) & (a["variable_level"] == day) & (a["stat_name"] == s)][
        "stat_value"
    ].item()
    assert (get("CD19PBQP", 28, "n"), get("CD19PBQP", 28, "N")) == (1, 2)
    assert (get("CD22PBQP", 28, "n"), get("CD22PBQP", 28, "N")) == (0, 2)
    assert get("CD19PBQP", 90, "N") == 0 and math.isnan(get("CD19PBQP", 90, "p"))
    t = kinetics.persistence_table(a, {"CD19PBQP": "CD19", "CD22PBQP": "CD22"})
    assert t.values[:, :3].tolist() == [
        ["Day 7", "2/2 (100)", "No samples"],
        ["Day 28", "1/2 (50.0)", "0/2"],
        ["Day 90", "No samples", "No samples"],
    ]
    assert kinetics.persistence_text(a, "CD19PBQP", 28) == "1/2 (50.0%) sampled subjects"
    assert kinetics.persistence_text(a, "CD19PBQP", 90) == "no subject sampled yet"


def test_kinetics_frame_and_figures(adck):
    f = kinetics.kinetics_frame(adck)
    assert len(f) == 8 and (f["time"] > 0).all()  # pre-infusion sample not drawn
    assert f.loc[f["blq"], "value"].isna().all() and f["blq"].sum() == 4  # BLQ kept, flagged
    assert set(f["specimen"]) == {"PB", "CSF"}
    fig = kinetics.expansion_figure(f, "CD19 CAR-T", xlabel="Days")
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["qPCR"]
    assert fig.axes[0].get_xscale() == "log" and fig.axes[0].get_yscale() == "log"
    empty = kinetics.expansion_figure(f, "CD33 CAR-T", xlabel="Days")
    assert empty.axes[0].texts[0].get_text() == "No CD33 CAR-T samples at this data cut"
    pb_csf = kinetics.pb_csf_figure(f)
    assert [ax.get_title(loc="left") for ax in pb_csf.axes] == ["Peripheral blood", "Cerebrospinal fluid"]
