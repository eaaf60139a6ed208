"""analysis_lib.trial.changes: key estimates of a cut, their comparison, new records and changed statuses."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis_lib.toolkit.ard import ARD_COLUMNS
from analysis_lib.trial import changes, config

STUDY = {
    "response": {"visits": [30, 45], "responder": ["CR", "CRI"]},
    "time_to_event": {"conf_type": "log-log", "days_per_month": 30.4375},
}
DL1, DL2 = "DL1", "DL2"


def _adsl(rows):
    cols = [
        "USUBJID",
        "TRT01A",
        "ENRLFL",
        "SAFFL",
        "EFFFL",
        "DLTEVLFL",
        "DLTFL",
        "HSCTFL",
        "HSCTDY0",
        "CD22FL",
        "CD22DY0",
        "DTHFL",
        "DTHTRTFL",
        "DTHDY0",
        "DTHCAUS",
        "EOSSTT",
        "DCSREAS",
    ]
    return pd.DataFrame(rows, columns=cols)


def _adae(rows):
    cols = [
        "USUBJID",
        "TRT01A",
        "AESEQ",
        "AEDECOD",
        "AEBODSYS",
        "AESICAT",
        "AETOXGR",
        "AESER",
        "AEDLT",
        "DLTWINFL",
        "TRTEMFL",
        "ASTDY0",
    ]
    return pd.DataFrame(rows, columns=cols)


def _adrs(rows):
    df = pd.DataFrame(rows, columns=["USUBJID", "PARAMCD", "AVALC", "ADY0"])
    df["EFFFL"] = "Y"
    df["ADT"] = pd.to_datetime("2024-01-01") + pd.to_timedelta(df["ADY0"].fillna(0), unit="D")
    df.loc[df["ADY0"].isna(), "ADT"] = pd.NaT
    return df


def current_cut():
    """S1-S3 infused (S1, S2 DL1 escalation; S3 DL2), S4 enrolled only."""
    adsl = _adsl(
        [
            ["S1", DL1, "Y", "Y", "Y", "Y", "Y", "Y", 15, "Y", 90, "N", "N", None, "", "ONGOING", ""],
            [
                "S2",
                DL1,
                "Y",
                "Y",
                "Y",
                "Y",
                "N",
                "Y",
                16,
                "N",
                None,
                "Y",
                "Y",
                60,
                "INFECTION",
                "DISCONTINUED",
                "DEATH",
            ],
            ["S3", DL2, "Y", "Y", "Y", "N", "N", "N", None, "N", None, "N", "N", None, "", "ONGOING", ""],
            [
                "S4",
                "Not infused",
                "Y",
                "N",
                "N",
                "N",
                "N",
                "N",
                None,
                "N",
                None,
                "N",
                "N",
                None,
                "",
                "DISCONTINUED",
                "SCREEN FAILURE",
            ],
        ]
    )
    adae = _adae(
        [
            ["S1", DL1, 1, "Cytokine release syndrome", "Immune", "CRS", 4, "Y", "Y", "Y", "Y", 3],
            ["S1", DL1, 2, "Acute graft versus host disease", "Immune", "ACUTE GVHD", 2, "N", "N", "Y", "Y", 30],
            ["S2", DL1, 1, "Cytokine release syndrome", "Immune", "CRS", 1, "N", "N", "Y", "Y", 2],
            ["S2", DL1, 2, "Acute graft versus host disease", "Immune", "ACUTE GVHD", 1, "N", "N", "Y", "Y", 35],
            ["S2", DL1, 3, "Sepsis", "Infections", "INFECTION", 5, "Y", "N", "N", "Y", 60],
            ["S3", DL2, 1, "Nausea", "Gastrointestinal", "", 2, "N", "N", "Y", "Y", 4],
        ]
    )
    adrs = _adrs(
        [
            ["S1", "RSPD30", "CR", 30],
            ["S2", "RSPD30", "NR", 29],
            ["S3", "RSPD30", "NOT DUE", None],
            ["S1", "MRDND30", "Y", 30],
            ["S2", "MRDND30", "N", 29],
            ["S3", "MRDND30", "NOT DUE", None],
            ["S1", "RSPD45", "CR", 45],
            ["S2", "RSPD45", "NR", 44],
            ["S3", "RSPD45", "NOT DUE", None],
            ["S1", "BESTRSP", "CR", 30],
            ["S2", "BESTRSP", "NR", 29],
            ["S3", "BESTRSP", "MISSING", None],
            ["S1", "OVRLRESP", "CR", 30],
            ["S1", "OVRLRESP", "CR", 45],
            ["S2", "OVRLRESP", "NR", 29],
            ["S2", "OVRLRESP", "NR", 44],
        ]
    )
    adtte = pd.DataFrame(
        {
            "USUBJID": ["S1", "S2", "S3"] * 2,
            "PARAMCD": ["OS"] * 3 + ["EFS"] * 3,
            "AVALM": [3.0, 2.0, 1.0, 3.0, 2.0, 1.0],
            "CNSR": [1, 0, 1, 1, 0, 1],
        }
    )
    return {"adsl": adsl, "adae": adae, "adrs": adrs, "adtte": adtte}


def previous_cut():
    """Before: S1 and S2 only; S2 alive and not yet transplanted; S1's AGVHD not yet known."""
    cur = current_cut()
    adsl = cur["adsl"].iloc[:2].copy()
    adsl.loc[1, ["HSCTFL", "HSCTDY0", "DTHFL", "DTHTRTFL", "DTHDY0", "DTHCAUS", "EOSSTT", "DCSREAS"]] = [
        "N",
        None,
        "N",
        "N",
        None,
        "",
        "ONGOING",
        "",
    ]
    adae = cur["adae"].iloc[[0, 2]].copy()
    adae.loc[0, "AESER"] = "N"  # became serious in the current cut
    adrs = cur["adrs"][cur["adrs"]["USUBJID"].isin(["S1", "S2"])].copy()
    adrs.loc[(adrs["USUBJID"] == "S2") & (adrs["PARAMCD"] == "RSPD45"), "AVALC"] = "NOT DUE"
    adrs = adrs[~((adrs["PARAMCD"] == "OVRLRESP") & (adrs["ADY0"] == 44))]
    adtte = pd.DataFrame(
        {
            "USUBJID": ["S1", "S2"] * 2,
            "PARAMCD": ["OS", "OS", "EFS", "EFS"],
            "AVALM": [1.0, 1.0, 1.0, 1.0],
            "CNSR": [1, 1, 1, 1],
        }
    )
    return {"adsl": adsl, "adae": adae, "adrs": adrs, "adtte": adtte}


def _stat(ard, variable, stat, level=None, cut=None):
    sel = (ard["variable"] == variable) & (ard["stat_name"] == stat)
    sel &= ard["variable_level"].isna() if level is None else ard["variable_level"] == level
    if cut is not None:
        sel &= ard["group1_level"] == cut
    assert sel.sum() == 1, (variable, stat, level, cut)
    return ard.loc[sel, "stat_value"].iloc[0]


def test_key_estimates_values():
    k = changes.key_estimates(current_cut(), STUDY)
    assert list(k.columns) == ARD_COLUMNS
    assert _stat(k, "ENRL", "n") == 4 and _stat(k, "SAF", "n") == 3
    # DLT: 1 of 2 DLT-evaluable; exact CI as R binom.test(1, 2)
    assert (_stat(k, "DLT", "n"), _stat(k, "DLT", "N")) == (1, 2)
    assert _stat(k, "DLT", "ci_low") == pytest.approx(0.01257912, abs=1e-8)
    assert _stat(k, "DLT", "ci_high") == pytest.approx(0.98742088, abs=1e-8)
    assert (_stat(k, "CRS", "n"), _stat(k, "CRS", "N"), _stat(k, "CRS3", "n")) == (2, 3, 1)
    assert (_stat(k, "ICANS", "n"), _stat(k, "ICANS3", "n")) == (0, 0)
    # acute GVHD II-IV among the 2 transplanted subjects: S1 grade 2 (S2 grade 1 does not count)
    assert (_stat(k, "AGVHD2", "n"), _stat(k, "AGVHD2", "N")) == (1, 2)
    assert _stat(k, "AE3", "n") == 2 and _stat(k, "SAE", "n") == 2
    assert (_stat(k, "DEATH", "n"), _stat(k, "DEATHNRM", "n")) == (1, 1)
    # Day 30: S3 NOT DUE is left out of the denominator
    assert (_stat(k, "ORR", "n", 30), _stat(k, "ORR", "N", 30)) == (1, 2)
    assert (_stat(k, "MRDN", "n", 30), _stat(k, "MRDN", "N", 30)) == (1, 2)
    # OS: S3 censored at 1, S2 dies at 2 (2 at risk), S1 censored at 3 -> S = 0.5 exactly on
    # [2, 3): median = midpoint 2.5, CI (2, NA) as R quantile(survfit(..., conf.type="log-log"))
    assert (_stat(k, "OS", "n"), _stat(k, "OS", "events")) == (3, 1)
    assert _stat(k, "OS", "median") == 2.5 and _stat(k, "OS", "median_ci_low") == 2.0
    assert math.isnan(_stat(k, "OS", "median_ci_high"))
    assert _stat(k, "OS", "surv", 12) == pytest.approx(0.5)
    assert _stat(k, "OS", "n_risk", 12) == 0


def test_key_estimates_missing_column_names_dataset():
    ds = current_cut()
    ds["adsl"] = ds["adsl"].drop(columns="DLTFL")
    with pytest.raises(ValueError, match=r"ADSL: missing required column\(s\) \['DLTFL'\]"):
        changes.key_estimates(ds, STUDY)


def test_compare_and_estimates_table():
    prev = changes.key_estimates(previous_cut(), STUDY)
    curr = changes.key_estimates(current_cut(), STUDY)
    cmp = changes.compare(prev, curr)
    assert list(cmp.columns) == ARD_COLUMNS
    assert set(cmp["group1_level"]) == {"previous", "current", "change"}
    change = _stat(cmp, "ENRL", "n", cut="change")
    assert change == 2 and isinstance(change, int)  # counts stay integers in the ARD CSV
    assert _stat(cmp, "CRS", "p", cut="change") == pytest.approx(2 / 3 - 1.0)
    assert math.isnan(_stat(cmp, "OS", "median", cut="change"))  # not reached at the previous cut
    t = changes.estimates_table(cmp, "Before", "Now").set_index("Key estimate")
    assert list(t.columns) == ["Before", "Now", "Change", "_indent"]
    assert t.loc["Subjects enrolled, n"].tolist()[:3] == ["2", "4", "+2"]
    assert t.loc["CRS, any grade, n/N (%)"].tolist()[:3] == ["2/2 (100)", "2/3 (66.7)", "-33.3 points"]
    assert t.loc["ICANS, any grade, n/N (%)"].tolist()[:3] == ["0/2", "0/3", "0.0 points"]
    row = t.loc["Overall response (CR + CRi) at Day 30 (efficacy population), n/N (%)"]
    assert row.tolist()[:3] == ["1/2 (50.0)", "1/2 (50.0)", "0.0 points"]
    assert t.loc["Overall survival: events/subjects"].tolist()[:3] == ["0/2", "1/3", "+1"]
    med = t.loc["Median (95% CI), months"]
    assert med.iloc[0].tolist()[:3] == ["Not reached (NE, NE)", "2.5 (2.0, NE)", "NE"]
    # nobody at risk at 12 months and S(t) > 0: not estimable
    assert t.loc["12-month rate, % (95% CI)"].iloc[0].tolist()[:3] == ["NE", "NE", "NE"]
    body = t.drop(columns="_indent").to_numpy().ravel().tolist()
    assert not any(s in ("nan", "None") or "nan" in s for s in body)


def test_compare_first_cut_has_current_only():
    cmp = changes.compare(None, changes.key_estimates(current_cut(), STUDY))
    assert set(cmp["group1_level"]) == {"current"}


def test_new_items():
    items = changes.new_items(previous_cut(), current_cut())
    assert items.enrolled["USUBJID"].tolist() == ["S3", "S4"]
    assert items.infused["USUBJID"].tolist() == ["S3"]
    assert items.transplanted["USUBJID"].tolist() == ["S2"]
    assert items.cd22.empty  # S1 had CD22 already
    assert items.deaths[["USUBJID", "DTHCAUS"]].values.tolist() == [["S2", "INFECTION"]]
    assert items.dlts.empty  # S1's DLT was known before
    # S1 AESEQ 1 became serious; S2 AESEQ 3 is new
    assert items.saes[["USUBJID", "AESEQ"]].astype(str).values.tolist() == [["S1", "1"], ["S2", "3"]]
    ch = items.changed[["USUBJID", "ITEM", "PREVIOUS", "CURRENT"]].values.tolist()
    assert ch == [
        ["S2", "Study status", "ONGOING", "DISCONTINUED: DEATH"],
        ["S2", "Allo-HSCT", "No", "Yes (Day 16)"],
        ["S2", "Response at Day 45", "NOT DUE", "NR"],
    ]  # the latest assessment of S2 moved from Day 29 to 44 but is still NR: not a change


def test_changes_ard_and_tables():
    cur = current_cut()
    items = changes.new_items(previous_cut(), cur)
    a = changes.changes_ard(items, cur["adsl"], by_levels=[DL1, DL2, "Not infused"])
    assert list(a.columns) == ARD_COLUMNS
    t = changes.changes_table(a).set_index("New since the previous data cut")
    assert list(t.columns) == [DL1, DL2, "Not infused", "Total", "_indent"]
    assert t.loc["Subjects newly enrolled, n"].tolist()[:4] == ["0", "1", "1", "2"]
    assert t.loc["New serious adverse events, n [E]"].tolist()[:4] == ["2 [2]", "0 [0]", "0 [0]", "2 [2]"]
    assert t.loc["Subjects with a changed response or status, n"].tolist()[:4] == ["1", "0", "0", "1"]
    lst = changes.changed_listing(items.changed)
    assert lst.columns.tolist() == ["Subject", "Dose level", "Item", "Previous data cut", "This data cut"]
    assert lst.iloc[0].tolist() == ["S2", DL1, "Study status", "ONGOING", "DISCONTINUED: DEATH"]
    assert changes.listing_summary(items.changed) == "1 subject of the previous data cut had 3 changed items."
    assert changes.listing_summary(None).startswith("There is no previous")
    la = changes.listing_ard(items.changed)
    assert len(la) == 6 and set(la["stat_name"]) == {"previous", "current"}


def test_first_cut_and_no_change_tables_are_labelled():
    t = changes.changes_table(None)
    assert t.iloc[0, 0] == changes.NO_PREVIOUS
    assert changes.changed_listing(None).iloc[0, 0] == changes.NO_PREVIOUS
    assert changes.changed_listing(changes.new_items(current_cut(), current_cut()).changed).iloc[0, 0] == "No subjects"
    assert list(changes.listing_ard(changes.new_items(current_cut(), current_cut()).changed).columns) == ARD_COLUMNS


def test_derive_previous_on_committed_cuts():
    assert changes.derive_previous(config.load_cut("escalation")) is None
    prev, ds = changes.derive_previous(config.load_cut("interim"))
    assert prev.id == "escalation"
    assert ds["adsl"]["CUTOFFDT"].max() == pd.Timestamp(prev.cut_date)
    assert {"adsl", "adae", "adrs", "adtte"} <= set(ds)


def test_summaries_and_footnotes_use_the_ards():
    cur = current_cut()
    items = changes.new_items(previous_cut(), cur)
    text = changes.changes_summary(changes.changes_ard(items, cur["adsl"]))
    assert text == (
        "Since the previous data cut 2 subjects were enrolled and 1 infused with CD19 CAR-T. "
        "0 new DLTs, 1 new death and 2 new serious adverse events (in 2 subjects) were reported; "
        "1 subject had a changed response or status."
    )
    assert changes.changes_summary(changes.changes_ard(None, cur["adsl"])).startswith("There is no previous")
    cmp = changes.compare(changes.key_estimates(previous_cut(), STUDY), changes.key_estimates(cur, STUDY))
    assert changes.estimates_summary(cmp, STUDY) == (
        "Subjects with a DLT: 1/2 (50.0%), previously 1/2 (50.0%); grade ≥3 CRS: 1/3 (33.3%), "
        "previously 1/2 (50.0%); CR/CRi at Day 30: 1/2 (50.0%), previously 1/2 (50.0%)."
    )
    first = changes.compare(None, changes.key_estimates(cur, STUDY))
    assert changes.estimates_table(first).iloc[0, 0] == changes.NO_PREVIOUS
    study = STUDY | {
        "response": STUDY["response"] | {"window": 7},
        "time_to_event": {"conf_type": "log-log", "days_per_month": 30.4375},
    }
    notes = changes.estimates_footnotes(study)
    assert "within +/- 7 days" in notes[1] and "30.4375 days per month" in notes[2]


def test_subject_missing_from_current_cut_is_listed_not_dropped():
    prev, cur = current_cut(), current_cut()
    cur["adsl"] = cur["adsl"][cur["adsl"]["USUBJID"] != "S3"]
    cur["adrs"] = cur["adrs"][cur["adrs"]["USUBJID"] != "S3"]
    ch = changes.new_items(prev, cur).changed
    assert set(ch["USUBJID"]) == {"S3"} and set(ch["TRT01A"]) == {DL2}
    assert ch.loc[ch["ITEM"] == "Study status", ["PREVIOUS", "CURRENT"]].values.tolist() == [["ONGOING", "No record"]]
