"""analysis_lib.trial.safety on small hand-made ADSL/ADAE frames whose counts are known by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis_lib.toolkit import ard
from analysis_lib.toolkit.tlf import Listing, Table
from analysis_lib.trial import safety

LV = ["DL1", "DL2"]
D = pd.Timestamp("2024-01-01")


def day(n):
    return D + pd.Timedelta(days=n)


@pytest.fixture
def adsl():
    """Five subjects: S1-S2 at DL1, S3-S4 at DL2, S5 not infused (SAFFL N)."""
    rows = [
        # id, dose, saffl, hsct day, cd22 day, death day, cause, last-contact day
        ("S1", "DL1", "Y", 15, 90, None, "", 730),
        ("S2", "DL1", "Y", 16, None, 40, "INFECTION", 40),
        ("S3", "DL2", "Y", None, None, 100, "RELAPSE/PROGRESSION OF ALL", 100),
        ("S4", "DL2", "Y", 14, 91, 300, "GVHD", 300),
        ("S5", "Not infused", "N", None, None, None, "", 10),
    ]
    out = []
    for sid, dose, saf, hsct, cd22, dth, cause, last in rows:
        ap01 = min(cd22 + 30, 120) if cd22 is not None else 120
        out.append(
            dict(
                USUBJID=sid,
                SITEID="01",
                SUBJID=sid[1:].zfill(3),
                TRT01A=dose,
                SAFFL=saf,
                HSCTFL="Y" if hsct is not None else "N",
                HSCTDT=day(hsct) if hsct is not None else pd.NaT,
                HSCTDY0=hsct,
                CD22FL="Y" if cd22 is not None else "N",
                CD22DT=day(cd22) if cd22 is not None else pd.NaT,
                CD22DY0=cd22,
                DTHFL="Y" if dth is not None else "N",
                DTHDY0=dth,
                DTHCAUS=cause,
                DTHTRTFL="Y" if dth is not None and cause != safety.DEATH_FROM_ALL else "N",
                LSTALVDT=day(last),
                AP01EDT=day(ap01),
            )
        )
    df = pd.DataFrame(out)
    for c in ("HSCTDY0", "CD22DY0", "DTHDY0"):
        df[c] = df[c].astype("Int64")
    return df


def ae(
    sid,
    seq,
    decod,
    grade,
    start,
    *,
    soc="SOC A",
    ser="N",
    rel="NOT RELATED",
    out="RECOVERED/RESOLVED",
    dlt="N",
    aesi="",
    dur=5,
    toci="N",
    ster="N",
    teae="Y",
    ongoing="N",
):
    period = 1 if start <= 120 else 2
    return dict(
        USUBJID=sid,
        AESEQ=seq,
        AEDECOD=decod,
        AEBODSYS=soc,
        AETOXGR=grade,
        AESER=ser,
        AEREL=rel,
        AEOUT=out,
        AEDLT=dlt,
        AESICAT=aesi,
        ASTDT=day(start),
        ASTDY0=start,
        AENDY0=start + dur - 1,
        ADURN=dur,
        AONGOFL=ongoing,
        TRTEMFL=teae,
        APERIOD=period,
        CMTOCIFL=toci,
        CMSTERFL=ster,
    )


@pytest.fixture
def adae():
    rows = [
        ae(
            "S1",
            1,
            "Cytokine release syndrome",
            2,
            3,
            soc="Immune system disorders",
            rel="RELATED",
            aesi="CRS",
            dur=6,
            toci="Y",
        ),
        ae(
            "S1", 2, "Cytokine release syndrome", 1, 92, soc="Immune system disorders", rel="RELATED", aesi="CRS", dur=3
        ),  # after CD22 (Day 90)
        ae(
            "S1",
            3,
            "Acute graft versus host disease",
            3,
            40,
            soc="Immune system disorders",
            ser="Y",
            aesi="ACUTE GVHD",
            dlt="Y",
        ),
        ae(
            "S1", 4, "Chronic graft versus host disease", 2, 200, soc="Immune system disorders", aesi="CHRONIC GVHD"
        ),  # period 2
        ae(
            "S2",
            1,
            "Cytokine release syndrome",
            4,
            5,
            soc="Immune system disorders",
            rel="RELATED",
            aesi="CRS",
            dur=10,
            toci="Y",
            ster="Y",
            ser="Y",
        ),
        ae(
            "S2",
            2,
            "Pneumonia",
            5,
            38,
            soc="Infections and infestations",
            ser="Y",
            out="FATAL",
            aesi="INFECTION",
            dur=3,
        ),
        ae("S3", 1, "Neutropenia", 4, 2, soc="Blood", aesi="PROLONGED CYTOPENIA", dur=30),
        ae("S3", 2, "Neutropenia", 3, 50, soc="Blood", aesi="PROLONGED CYTOPENIA", dur=28),
        ae("S4", 1, "Cytokine release syndrome", 1, 1, soc="Immune system disorders", rel="RELATED", aesi="CRS", dur=4),
        ae("S4", 2, "Acute graft versus host disease", 2, 30, soc="Immune system disorders", aesi="ACUTE GVHD"),
        ae("S4", 3, "Pneumonia", 2, 250, soc="Infections and infestations", aesi="INFECTION"),  # period 2
        ae("S4", 4, "Nausea", 1, 7, teae="N"),  # not treatment-emergent
        ae("S5", 1, "Nausea", 2, 3),  # not in the safety population
    ]
    return pd.DataFrame(rows).astype(
        {"AETOXGR": "Int64", "ASTDY0": "Int64", "AENDY0": "Int64", "ADURN": "Int64", "APERIOD": "Int64"}
    )


def get(a, variable, level=None, stat="n", group="Total", g2=None):
    return safety.stat(a, variable, level, stat, group=group, group2_level=g2)


# ------------------------------------------------------------------ overview and periods


def test_overview_period1(adsl, adae):
    o = safety.overview_ard(adsl, adae, period=1, by_levels=LV)
    assert list(o.columns) == [*ard.ARD_COLUMNS, ard.SUBJECTS]  # counts carry their subjects
    n_rows = o.loc[o.stat_name == "n", "stat_value"]
    assert len(ard.subjects(o)) == n_rows.sum()
    assert [get(o, "OVERVIEW", k) for k in ("ANY", "GE3", "SER", "REL", "RELGE3", "DLT", "GR5", "FATAL")] == [
        4,
        3,
        2,
        3,
        1,
        1,
        1,
        1,
    ]
    assert get(o, "OVERVIEW", "ANY", "N") == 4  # S5 (not infused) is outside the population
    assert get(o, "OVERVIEW", "ANY", "events") == 9  # period-1 TEAEs of S1-S4
    assert get(o, "OVERVIEW", "GE3", group="DL1") == 2 and get(o, "OVERVIEW", "GE3", group="DL2") == 1
    assert get(o, "OVERVIEW", "RELGE3", "p", group="DL1") == 0.5


def test_period2_population_and_overview(adsl, adae):
    a2 = safety.period2_population(adsl, adae)
    # S1 followed to Day 730 (period 1 ends Day 120); S2 died Day 40; S3 died Day 100 < Day 120;
    # S4: CD22 on Day 91 -> period 1 ends Day 120, died Day 300
    assert a2.set_index("USUBJID")["AP02FL"].to_dict() == {"S1": "Y", "S2": "N", "S3": "N", "S4": "Y", "S5": "N"}
    o2 = safety.overview_ard(a2, adae, period=2, pop_flag="AP02FL", by_levels=LV)
    assert get(o2, "OVERVIEW", "ANY", "N") == 2 and get(o2, "OVERVIEW", "ANY") == 2
    assert get(o2, "OVERVIEW", "ANY", "events") == 2
    assert get(o2, "OVERVIEW", "GE3") == 0
    body = safety.summary_table(o2, safety.overview_rows())
    assert body.columns[1:4].tolist() == ["DL1\n(N=1)", "DL2\n(N=1)", "Total\n(N=2)"]
    assert body.iloc[1, 1:4].tolist() == ["1 (100)", "1 (100)", "2 (100)"]
    assert body.iloc[-1, 0] == "Number of adverse events" and body.iloc[-1, 3] == "2"


def test_period2_population_counts_subjects_with_a_period2_ae(adsl, adae):
    early = adsl.assign(LSTALVDT=adsl["AP01EDT"])  # last contact looks like the end of period 1
    a2 = safety.period2_population(early, adae)
    assert sorted(a2.loc[a2["AP02FL"] == "Y", "USUBJID"]) == ["S1", "S4"]  # both have a period-2 AE


def test_ae_filter_and_grade_groups(adsl, adae):
    g3 = ard.ae_ard(adsl, adae, where=safety.ae_filter(period=1, min_grade=3), by_levels=LV, total=True)
    assert get(g3, "ANY") == 3 and get(g3, "ANY", stat="events") == 5  # S1, S2 (2 events), S3 (2 events)
    rel = ard.ae_ard(adsl, adae, where=safety.ae_filter(period=1, related=True, serious=True), by_levels=LV, total=True)
    assert get(rel, "ANY") == 1
    gg = ard.ae_ard(
        adsl,
        safety.with_grade_group(adae),
        grade="AGRGRP",
        grade_levels=list(safety.GRADE_GROUPS),
        where=safety.ae_filter(period=1),
        by_levels=LV,
        total=True,
    )
    # worst grade per subject in period 1: S1 3, S2 5, S3 4, S4 2
    assert [get(gg, "ANY", stat=f"n_grade_{k}") for k in ("1-2", "3-4", "5")] == [1, 2, 1]
    body = safety.grade_group_table(gg)
    assert body.columns[1:5].tolist() == [
        f"Total\n(N=4)\n{x}" for x in ("Any grade", "Grade 1-2", "Grade 3-4", "Grade 5")
    ]
    assert body.iloc[0, 1:5].tolist() == ["4 (100)", "1 (25.0)", "2 (50.0)", "1 (25.0)"]


def test_with_grade_group_rejects_unknown_grades(adae):
    bad = adae.assign(AETOXGR=adae["AETOXGR"].astype(object))
    bad.loc[3, "AETOXGR"] = 7
    with pytest.raises(ValueError, match=r"AETOXGR.*\['7'\].*rows \[3\]"):
        safety.with_grade_group(bad)


def test_top_terms(adsl, adae):
    a = ard.ae_ard(adsl, adae, by_levels=LV, total=True)
    assert safety.top_terms(a, 2) == [("Cytokine release syndrome", 3, 4), ("Acute graft versus host disease", 2, 4)]
    assert safety.terms_text(a, 1) == "Cytokine release syndrome 3/4 (75.0%)"
    empty = ard.ae_ard(adsl, adae.iloc[:0], by_levels=LV, total=True)
    assert safety.terms_text(empty) == "none"


# ------------------------------------------------------------------ AESIs


def test_crs_icans(adsl, adae):
    a = safety.crs_icans_ard(adsl, adae, by_levels=LV)
    assert get(a, "AESICAT", "CRS") == 3 and get(a, "AESICAT", "CRS", "events") == 4
    assert [get(a, "WORSTGR", g, g2="CRS") for g in (1, 2, 3, 4, 5)] == [1, 1, 0, 1, 0]
    assert get(a, "WORSTGRGE", 3, g2="CRS") == 1
    assert get(a, "AFTERCD22", "Y", g2="CRS") == 1  # S1's episode on Day 92
    assert get(a, "CMTOCIFL", "Y", g2="CRS") == 2 and get(a, "CMSTERFL", "Y", g2="CRS") == 1
    # onset of the first episode per subject: 3, 5, 1 -> median 3; durations of all 4 episodes 6, 3, 10, 4
    assert [get(a, "ONSETDY0", None, s, g2="CRS") for s in ("n", "median", "min", "max")] == [3, 3.0, 1.0, 5.0]
    assert [get(a, "ADURN", None, s, g2="CRS") for s in ("n", "median", "min", "max")] == [4, 5.0, 3.0, 10.0]
    assert get(a, "AESICAT", "ICANS") == 0  # explicit zero row
    body = safety.summary_table(a, safety.crs_icans_rows())
    icans = body[body.iloc[:, 0].str.startswith("Onset")].iloc[1]
    assert icans.iloc[1:4].tolist() == ["NE", "NE", "NE"]
    crs_dur = body[body.iloc[:, 0].str.startswith("Duration")].iloc[0]
    assert crs_dur.iloc[1:4].tolist() == ["6.0 (3, 10)", "4.0 (4, 4)", "5.0 (3, 10)"]
    Table(number="Table 14.3.2.7", title="t", body=body)  # a valid display body


def test_gvhd_blocks(adsl, adae):
    a = safety.gvhd_ard(adsl, adae, by_levels=LV)
    assert get(a, "HSCTFL", "Y", g2="SAFETY") == 3 and get(a, "HSCTFL", "Y", "N", g2="SAFETY") == 4
    assert get(a, "ACUTE", "ANY", g2="SAFETY") == 2
    assert get(a, "ACUTE", "II-IV", "N", g2="TRANSPLANTED") == 3
    assert get(a, "ACUTE", "II-IV", g2="TRANSPLANTED") == 2 and get(a, "ACUTE", "III-IV", g2="TRANSPLANTED") == 1
    assert get(a, "CHRONIC", "MODERATE", g2="TRANSPLANTED") == 1 and get(a, "CHRONIC", "SEVERE", g2="TRANSPLANTED") == 0
    # onset after HSCT: S1 40 - 15 = 25, S4 30 - 14 = 16
    assert get(a, "ONSETHSCT", "ACUTE", "median", g2="TRANSPLANTED") == 20.5
    assert get(a, "ACUTE", "ANY", "N", group="DL2", g2="TRANSPLANTED") == 1  # S3 not transplanted
    body = safety.summary_table(a, safety.gvhd_rows())
    assert body.columns[1:].tolist()[:3] == ["DL1\n(N=2)", "DL2\n(N=2)", "Total\n(N=4)"]
    row = body[body.iloc[:, 0] == "Grade III-IV"].iloc[1]
    assert row.iloc[1:4].tolist() == ["1 (50.0)", "0", "1 (33.3)"]


def test_aesi_other(adsl, adae):
    a = safety.aesi_other_ard(adsl, adae, by_levels=LV)
    assert get(a, "AESICAT", "INFECTION") == 2 and get(a, "WORSTGR", 5, g2="INFECTION") == 1
    assert get(a, "AEDECOD", "Pneumonia", "events", g2="INFECTION") == 2
    assert get(a, "AESICAT", "CMV REACTIVATION") == 0
    rows = safety.aesi_other_rows(a, {"INFECTION": "Infections", "CMV REACTIVATION": "CMV reactivation"})
    assert [r[0] for r in rows] == [
        "Infections, any grade",
        "Grade ≥3",
        "Grade 5 (fatal)",
        "By preferred term",
        "Pneumonia",
        "CMV reactivation, any grade",
        "Grade ≥3",
        "Grade 5 (fatal)",
    ]


# ------------------------------------------------------------------ deaths and listings


def test_deaths(adsl):
    d = safety.deaths_ard(adsl, windows=(43, 120), by_levels=LV)
    assert get(d, "DTHFL", "Y") == 3 and get(d, "DTHFL", "Y", "N") == 4
    assert get(d, "DTHCAT", safety.NON_RELAPSE) == 2 and get(d, "DTHCAT", safety.DEATH_FROM_ALL) == 1
    assert get(d, "DTHCAUS", "GVHD", g2=safety.NON_RELAPSE) == 1
    # deaths on Days 40, 100, 300: <= 43 -> 1, <= 120 -> 2 (cumulative), > 120 -> 1
    assert [get(d, "DTHWIN", k) for k in ("LE43", "LE120", "GT120")] == [1, 2, 1]
    assert get(d, "DTHCAT", safety.NON_RELAPSE, g2="LE120") == 1
    assert get(d, "DTHCAT", safety.DEATH_FROM_ALL, g2="LE120", group="DL2") == 1
    labels = [r[0] for r in safety.deaths_rows(d, (43, 120))]
    assert labels[:5] == [
        "Deaths, any cause",
        "Relapse/progression of ALL",
        "Non-relapse mortality",
        "GVHD",
        "Infection",
    ]


def test_deaths_require_day_and_cause(adsl):
    bad = adsl.copy()
    bad.loc[1, "DTHDY0"] = pd.NA
    with pytest.raises(ValueError, match=r"DTHDY0 and DTHCAUS.*rows \[1\]"):
        safety.deaths_ard(bad, windows=(43, 120))


def test_no_deaths_gives_zero_rows_and_a_labelled_listing(adsl, adae):
    alive = adsl.assign(DTHFL="N", DTHDY0=pd.NA, DTHCAUS="", DTHTRTFL="N")
    d = safety.deaths_ard(alive, windows=(43, 120), by_levels=LV)
    body = safety.summary_table(d, safety.deaths_rows(d, (43, 120)))
    assert set(body.iloc[:, 1:4].to_numpy().ravel()) <= {"0", ""}
    lst = safety.death_listing(alive, adae)
    assert lst.iloc[0, 0] == "No deaths" and len(lst) == 1


def test_death_listing(adsl, adae):
    lst = safety.death_listing(adsl, adae)
    assert lst["Subject"].tolist() == ["01-002", "01-003", "01-004"]  # by day of death
    assert lst.iloc[0].tolist() == [
        "01-002",
        "DL1",
        "40",
        "Infection",
        "Non-relapse mortality",
        "16",
        "Not given",
        "Pneumonia (grade 5, Day 38)",
    ]
    assert lst.iloc[1]["AE with fatal outcome (grade, onset day)"] == "–"
    Listing(number="Listing 16.2.7.2", title="t", body=lst)


def test_sae_listing(adsl, adae):
    lst = safety.sae_listing(adsl, adae)
    assert lst["Subject"].tolist() == ["01-001", "01-002", "01-002"]
    assert lst.iloc[0].tolist() == [
        "01-001",
        "DL1",
        "Acute graft versus host disease",
        "3",
        "40 / 44",
        "5",
        "No",
        "Yes",
        "Recovered/resolved",
    ]
    ongoing = adae.assign(AONGOFL="Y")
    assert safety.sae_listing(adsl, ongoing).iloc[0]["Onset / end day"] == "40 / ongoing"
    none = safety.sae_listing(adsl, adae.assign(AESER="N"))
    assert none.iloc[0, 0] == "No serious adverse events"


def test_summary_table_rejects_unknown_rows(adsl, adae):
    o = safety.overview_ard(adsl, adae, period=1, by_levels=LV)
    with pytest.raises(ValueError, match="row 'x' needs ARD key"):
        safety.summary_table(o, [("x", 0, (None, "NOPE", None), "n_pct")])


def test_groups_reject_undeclared_levels(adsl, adae):
    with pytest.raises(ValueError, match=r"TRT01A has value\(s\) \['DL2'\]"):
        safety.crs_icans_ard(adsl, adae, by_levels=["DL1"])


def test_n_pct_text(adsl, adae):
    o = safety.overview_ard(adsl, adae, period=1, by_levels=LV)
    assert safety.n_pct(o, "OVERVIEW", "SER") == "2/4 (50.0%)"
    assert math.isclose(get(o, "OVERVIEW", "SER", "p"), 0.5)
