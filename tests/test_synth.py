"""The seeded synthetic trial (analysis_lib.synthetic.generator): reproducible, cut-consistent, calibrated."""

from __future__ import annotations

import filecmp
import functools
from pathlib import Path

import pandas as pd
import pytest
import yaml

from analysis_lib.synthetic import generator as synth
from analysis_lib.trial import config, io, sdtm, sdtm_standard, validate

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "synthetic_data"
CUTS = ["escalation", "interim", "final"]
# Published ranges (docs/design.md § 4) the committed 48-patient trial must fall inside, in percent.
RANGES = {
    "crs_any": (68, 88),
    "crs_ge3": (7, 23),
    "icans_any": (10, 21),
    "icans_ge3": (0, 10),
    "agvhd_2_4": (25, 48),
    "agvhd_3_4": (5, 17),
    "cgvhd": (55, 73),
    "cr_d30": (79, 96),
    "mrdneg_d30": (60, 90),
    "os_2y": (55, 75),
}


@functools.cache
def _view(folder: Path) -> dict[str, pd.DataFrame]:
    return sdtm_standard.to_view(io.read_delivery(folder)[0])


def read(cut: str, domain: str, base: Path = DATA) -> pd.DataFrame:
    """Analysis-view domain ``domain`` of the cut's SDTM delivery (a copy: tests may add columns)."""
    return _view(base / cut)[domain].copy()


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    written = synth.generate(out)
    assert written == {c: out / c for c in CUTS}
    return out


def test_regenerated_data_are_byte_identical_to_the_committed_files(regenerated):
    for cut in CUTS:
        names = sorted(p.name for p in (DATA / cut).iterdir())
        assert names == sorted(f"{d}.xpt" for d in sdtm_standard.DELIVERY_ORDER)  # SDTM as SAS XPT v5
        assert sorted(p.name for p in (regenerated / cut).iterdir()) == names
        _, mismatch, errors = filecmp.cmpfiles(DATA / cut, regenerated / cut, names, shallow=False)
        assert mismatch == [] and errors == [], f"{cut}: {mismatch}"


def test_cut_params_are_the_simulated_cut_dates():
    for cut_id, expected in synth.cut_params().items():
        declared = yaml.safe_load((ROOT / "params" / f"{cut_id}.yml").read_text())
        assert {k: str(v) if k == "cut_date" else v for k, v in declared.items()} == expected
    assert config.list_cuts(ROOT) == CUTS


def test_columns_are_exactly_the_input_contract():
    for cut in CUTS:
        for name, dom in sdtm.DOMAINS.items():
            assert list(read(cut, name).columns) == [c.name for c in dom.columns]
        for name, spec in sdtm_standard.DELIVERY.items():
            delivered = io.read_file(DATA / cut / f"{name}.xpt")
            assert set(spec.required) <= set(delivered.columns) <= set(spec.columns), name


def test_the_delivery_round_trips_to_the_view():
    """to_view(from_view(view)) is the view, on every committed cut (the generator's contract)."""
    for cut in CUTS:
        view = _view(DATA / cut)
        back = sdtm_standard.to_view(sdtm_standard.from_view(view))
        for name in sdtm.DOMAINS:
            pd.testing.assert_frame_equal(back[name], view[name], obj=name)


def test_xpt_headers_carry_the_cut_date_not_the_clock():
    for cut in CUTS:
        stamp = config.load_cut(cut, ROOT).cut_date.strftime("%d%b%y:00:00:00").upper().encode()
        head = (DATA / cut / "dm.xpt").read_bytes()[:560]  # library and member header records
        assert head.count(stamp) == 4, head


def test_every_cut_passes_validation():
    for cut in CUTS:
        assert validate.validate_cut(config.load_cut(cut, ROOT)) == []


def test_no_record_is_dated_after_its_cut():
    for cut in CUTS:
        cut_iso = config.load_cut(cut, ROOT).cut_date.isoformat()
        for name, cols in sdtm.CUT_DATE_COLUMNS.items():
            df = read(cut, name)
            for col in cols:
                v = df[col][df[col] != ""]
                late = v[[x > cut_iso[: len(x)] for x in v]]  # a partial date compares by its precision
                assert late.empty, f"{cut}/{name}.{col}: {late.tolist()[:3]}"


def test_a_later_cut_only_adds_information():
    for early, late in zip(CUTS, CUTS[1:]):
        for name, dom in sdtm.DOMAINS.items():
            a, b = read(early, name), read(late, name)
            key = ["USUBJID", "VISIT"] if name == "sv" else list(dom.key)
            merged = a.merge(b, on=key, how="left", suffixes=("", "_later"), indicator=True)
            assert (merged["_merge"] == "both").all(), f"{early}->{late} {name}: records lost"
            open_cols = {"ae": ["AEENDTC", "AEOUT", "AETOXGR"], "cm": ["CMENDTC"], "pr": ["PRENDTC"], "dm": ["RFSTDTC"]}
            for col in a.columns.difference(key):
                same = merged[col] == merged[f"{col}_later"]
                if col in open_cols.get(name, []):
                    end_col = open_cols[name][0]
                    same |= merged[end_col] == ""  # was open at the earlier cut
                assert same.all(), f"{early}->{late} {name}.{col}: {merged.loc[~same, key].head(3).values}"
            ongoing = merged[(merged.get("AEENDTC", pd.Series(dtype=str)) == "")] if name == "ae" else None
            if ongoing is not None:
                assert (ongoing["AEOUT"] == "NOT RECOVERED/NOT RESOLVED").all()


def test_escalation_follows_3_plus_3_and_expansion_uses_the_recommended_dose():
    dm = read("final", "dm")
    ae = read("final", "ae")
    esc = dm[dm["PHASE"] == "DOSE ESCALATION"]
    assert 9 <= len(esc) <= 12
    assert len(dm) == 48 and (dm["PHASE"] == "DOSE EXPANSION").sum() == 48 - len(esc)
    dlt_subj = set(ae.loc[ae["AEDLT"] == "Y", "USUBJID"])
    rp2d = dm.loc[dm["PHASE"] == "DOSE EXPANSION", "DOSELVL"].unique().tolist()
    assert len(rp2d) == 1
    # replay the 3+3 decisions cohort by cohort, in enrolment order
    treated: dict[int, int] = {}
    dlts: dict[int, int] = {}
    for cohort, rows in esc.groupby("COHORT", sort=False):
        level = int(rows["DOSELVL"].iloc[0])
        assert len(rows) == 3 and rows["DOSELVL"].nunique() == 1, cohort
        treated[level] = treated.get(level, 0) + 3
        dlts[level] = dlts.get(level, 0) + int(rows["USUBJID"].isin(dlt_subj).sum())
        assert treated[level] <= 6
    rec = int(rp2d[0])
    assert treated[rec] == 6 and dlts[rec] <= 1
    higher = [lv for lv in treated if lv > rec]
    assert all(dlts[lv] >= 2 for lv in higher) or not higher
    assert synth.simulate().escalation_log == [
        (c, int(r["DOSELVL"].iloc[0]), 3, int(r["USUBJID"].isin(dlt_subj).sum()))
        for c, r in esc.groupby("COHORT", sort=False)
    ]


def test_dlts_are_flagged_only_in_the_dlt_window():
    dm, ae = read("final", "dm"), read("final", "ae")
    d0 = pd.to_datetime(dm.set_index("USUBJID")["RFSTDTC"], errors="coerce")
    dlt = ae[ae["AEDLT"] == "Y"]
    days = (pd.to_datetime(dlt["AESTDTC"]) - dlt["USUBJID"].map(d0)).dt.days
    assert len(dlt) > 0 and days.between(0, 43).all()


def test_final_cut_is_calibrated_to_published_ranges():
    got = synth.calibration(DATA / "final")
    outside = {k: got[k] for k, (lo, hi) in RANGES.items() if not lo <= got[k] <= hi}
    assert outside == {}, got


def test_the_data_exercise_the_edge_cases():
    dm, ae, cm, ck, ds = (read("final", d) for d in ("dm", "ae", "cm", "ck", "ds"))
    never = dm.loc[dm["RFSTDTC"] == "", "USUBJID"]
    assert len(never) == 2
    disc = ds[ds["USUBJID"].isin(never) & (ds["DSCAT"] == "DISPOSITION EVENT")]
    assert sorted(disc["USUBJID"]) == sorted(never)
    assert (ae["AESTDTC"].str.len() == 7).sum() >= 2 and (cm["CMSTDTC"].str.len() == 7).sum() >= 1
    blq = ck[ck["CKORRES"] == "<LLOQ"]
    assert len(blq) > 0 and (blq["CKSTRESN"] == "").all()
    aesi = config.load_study(ROOT)["aesi"]
    for cat in ("CRS", "ICANS", "ACUTE GVHD", "CHRONIC GVHD", "CMV REACTIVATION"):
        assert ae["AEDECOD"].isin(aesi[cat]["decod"]).any(), cat
    assert set(ds.loc[ds["DSDECOD"] == "DEATH", "DTHCAUS"]) >= {"RELAPSE/PROGRESSION OF ALL", "INFECTION"}
    assert {"COMPLETED", "WITHDRAWAL BY SUBJECT"} <= set(ds["DSDECOD"])
    # three cuts grow: subjects and records
    sizes = [len(read(c, "dm")) for c in CUTS]
    assert sizes[0] < sizes[1] < sizes[2] == 48


def test_scaling_to_480_subjects(tmp_path):
    written = synth.generate(tmp_path, n_subjects=480)
    assert list(written) == CUTS
    for folder in written.values():
        frames, problems = validate.read_and_validate(folder)
        assert problems == [], problems[:5]
    dm = read("final", "dm", tmp_path)
    assert len(dm) == 480 and dm["USUBJID"].is_unique
    got = synth.calibration(tmp_path / "final")
    assert {k: got[k] for k, (lo, hi) in RANGES.items() if not lo <= got[k] <= hi} == {}, got


# ---------------------------------------------------------------- laboratory (LB, XT)


def _lb_days(cut: str = "final") -> pd.DataFrame:
    lb, dm = read(cut, "lb"), read(cut, "dm")
    d0 = pd.to_datetime(dm.set_index("USUBJID")["RFSTDTC"].replace("", None))
    lb["DAY"] = (pd.to_datetime(lb["LBDTC"]) - lb["USUBJID"].map(d0)).dt.days
    lb["VAL"] = lb["LBSTRESN"].astype(float)
    return lb


def _day(frame: pd.DataFrame, col: str, d0: pd.Series) -> pd.Series:
    return (pd.to_datetime(frame[col]) - frame["USUBJID"].map(d0)).dt.days


def test_cytopenia_aes_agree_with_the_counts_before_conditioning():
    """Inside a Neutropenia/Thrombocytopenia AE starting before conditioning (nadir the day after
    onset), the worst CTCAE grade of the count is the AE's grade."""
    from analysis_lib.trial import laboratory

    study = config.load_study(ROOT)
    lb, ae, pr, dm = _lb_days(), read("final", "ae"), read("final", "pr"), read("final", "dm")
    d0 = pd.to_datetime(dm.set_index("USUBJID")["RFSTDTC"].replace("", None))
    cond = _day(pr[pr["PRCAT"] == "CONDITIONING"], "PRSTDTC", d0).groupby(pr["USUBJID"]).min()
    ae = ae[ae["AEDECOD"].isin(["Neutropenia", "Thrombocytopenia"]) & (ae["AESTDTC"].str.len() == 10)].copy()
    ae["ST"] = _day(ae, "AESTDTC", d0)
    checked = 0
    for _, a in ae.iterrows():
        code = "NEUT" if a["AEDECOD"] == "Neutropenia" else "PLAT"
        end = cond.get(a["USUBJID"], 10**6)
        if a["ST"] + 2 >= end or a["ST"] > 60:
            continue
        v = lb[
            (lb["USUBJID"] == a["USUBJID"])
            & (lb["LBTESTCD"] == code)
            & lb["DAY"].between(a["ST"], min(a["ST"] + 3, end - 1))
        ]
        limits = laboratory.grade_limits(study, code, float(v["LBSTNRLO"].iloc[0]))
        worst = max(laboratory.ctcae_grade(x, limits) for x in v["VAL"])
        assert worst == int(a["AETOXGR"]), (a["USUBJID"], code, a["ST"], worst, a["AETOXGR"])
        checked += 1
    assert checked >= 20


def test_il6_peaks_rise_with_crs_grade_and_chimerism_falls_at_relapse():
    lb, ae, dm = _lb_days(), read("final", "ae"), read("final", "dm")
    d0 = pd.to_datetime(dm.set_index("USUBJID")["RFSTDTC"].replace("", None))
    crs = ae[ae["AEDECOD"] == "Cytokine release syndrome"].copy()
    crs = crs[_day(crs, "AESTDTC", d0) <= 28]
    grade = crs.groupby("USUBJID")["AETOXGR"].max().astype(int)
    il6 = lb[(lb["LBTESTCD"] == "IL6") & lb["DAY"].between(0, 28)].groupby("USUBJID")["VAL"].max()
    med = il6.groupby(grade.reindex(il6.index).fillna(0).astype(int)).median()
    assert med.loc[[0, 1, 2, 3]].is_monotonic_increasing
    rs = read("final", "rs")
    rel = rs[(rs["RSSTRESC"] == "RELAPSE")].set_index("USUBJID")["RSDTC"]
    ch = lb[lb["LBTESTCD"] == "CHIMER"]
    after = ch[ch["USUBJID"].isin(rel.index) & (ch["LBDTC"] >= ch["USUBJID"].map(rel))]
    before = ch[~ch.index.isin(after.index)]
    assert len(after) and after["VAL"].max() < 90 < before["VAL"].median()


def test_lb_is_dated_within_each_subjects_other_records():
    """LB adds no later date than the other domains (the last known alive date is unchanged)."""
    lb, sv, ds = read("final", "lb"), read("final", "sv"), read("final", "ds")
    last = (
        pd.concat(
            [
                sv[["USUBJID", "SVSTDTC"]].set_axis(["USUBJID", "D"], axis=1),
                ds[["USUBJID", "DSSTDTC"]].set_axis(["USUBJID", "D"], axis=1),
            ]
        )
        .groupby("USUBJID")["D"]
        .max()
    )
    assert (lb["LBDTC"] <= lb["USUBJID"].map(last)).all()
    xt = read("final", "xt")
    assert (xt["XTSTDTC"] <= xt["USUBJID"].map(last)).all()
