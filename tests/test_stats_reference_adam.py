"""analysis_lib.toolkit.stats run unchanged on the public pharmaverse ADaM, compared with R / ADPP."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from helpers import assert_close, close

from analysis_lib.toolkit import stats

REF = Path(__file__).resolve().parent / "reference"


def test_pharmaverse_os_pfs_km(reference_data):
    """OS (median not reached) and PFS medians/CIs, at-risk, landmark S(t) and log-rank as R."""
    adtte = pd.read_csv(reference_data / "pharmaverseadam" / "adtte_onco.csv")
    ref = pd.read_csv(REF / "km_pharmaverse.csv")
    for (p, arm, ct), r in ref.groupby(["paramcd", "arm", "conf_type"]):
        d = adtte[(p == adtte.PARAMCD) & (arm == adtte.ARM)]
        km = stats.kaplan_meier(d.AVAL, 1 - d.CNSR, conf_type=ct)
        head = r.iloc[0]
        assert_close(
            [km.median, *km.median_ci], [head["median"], head.median_lower, head.median_upper], f"{p} {arm} {ct}"
        )
        assert km.n_at_risk(r.time) == r.n_risk.tolist()
        assert_close(km.survival(r.time), r.surv, "surv")
        assert_close(km.survival_ci(r.time), r[["lower", "upper"]].to_numpy(), "CI")
        if p == "OS":
            assert math.isnan(km.median)
    lr_ref = pd.read_csv(REF / "km_pharmaverse_logrank.csv").set_index("paramcd")
    for p in ["OS", "PFS"]:
        d = adtte[p == adtte.PARAMCD]
        lr = stats.logrank_test(d.AVAL, 1 - d.CNSR, d.ARM)
        assert close(lr.chisq, lr_ref.loc[p, "chisq"]) and lr.df == 2
        assert close(lr.p, lr_ref.loc[p, "p"])


def test_pharmaverse_nca_matches_adpp(reference_data):
    """NCA of ADPC (XAN, ANL02FL='Y', nominal time NFRLT, BLQ = AVAL < ALLOQ, linear trapezoid)
    reproduces ADPP CMAX, TMAX, CLST and AUCLST for every subject."""
    base = reference_data / "pharmaverseadam"
    adpc = pd.read_csv(base / "adpc.csv", low_memory=False)
    adpc = adpc[(adpc.PARAMCD == "XAN") & (adpc.ANL02FL == "Y")]
    adpp = pd.read_csv(base / "adpp.csv")
    want = (
        adpp[adpp.PARAMCD.isin(["CMAX", "TMAX", "CLST", "AUCLST"])]
        .drop_duplicates(["USUBJID", "PARAMCD"])
        .pivot(index="USUBJID", columns="PARAMCD", values="AVAL")
    )
    assert len(want) == 168
    for subj, g in adpc.groupby("USUBJID"):
        got = stats.nca(g.NFRLT, g.AVAL, "linear", lloq=g.ALLOQ)
        assert_close(
            [got["cmax"], got["tmax"], got["clast"], got["auclast"]],
            want.loc[subj, ["CMAX", "TMAX", "CLST", "AUCLST"]],
            subj,
        )
