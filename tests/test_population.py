"""Tests of analysis_lib.trial.population on small hand-made frames and on the public CDISC pilot ADSL."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis_lib.trial import population as pop

LABELS = {1: "DL1 1×10⁵/kg", 2: "DL2 3×10⁵/kg", 3: "DL3 1×10⁶/kg"}


def adsl_small() -> pd.DataFrame:
    """Six subjects: escalation DL1 x2 (one discontinued), DL2 x1; expansion DL2 x3 (one never
    infused, one died); ages 20..70, one MRD value missing."""
    d0 = pd.Timestamp("2024-01-10")
    rows = [
        # id, phase, doselvl, saffl, hsct, cd22, eosstt, dcsreas, dthfl, age, sex, mrd
        ("S1", "DOSE ESCALATION", 1, "Y", "Y", "Y", "ONGOING", "", "N", 20, "M", 1.5),
        ("S2", "DOSE ESCALATION", 1, "Y", "N", "N", "DISCONTINUED", "WITHDRAWAL BY SUBJECT", "N", 30, "F", 2.5),
        ("S3", "DOSE ESCALATION", 2, "Y", "Y", "N", "COMPLETED", "", "N", 40, "M", np.nan),
        ("S4", "DOSE EXPANSION", 2, "N", "N", "N", "DISCONTINUED", "PROGRESSIVE DISEASE", "N", 50, "F", 4.0),
        ("S5", "DOSE EXPANSION", 2, "Y", "Y", "Y", "DISCONTINUED", "DEATH", "Y", 60, "M", 5.0),
        ("S6", "DOSE EXPANSION", 2, "Y", "Y", "Y", "ONGOING", "", "N", 70, "F", 6.0),
    ]
    df = pd.DataFrame(
        rows,
        columns=[
            "USUBJID",
            "PHASE",
            "DOSELVL",
            "SAFFL",
            "HSCTFL",
            "CD22FL",
            "EOSSTT",
            "DCSREAS",
            "DTHFL",
            "AGE",
            "SEX",
            "MRDBL",
        ],
    )
    df["ENRLFL"] = "Y"
    df["DOSELVL"] = df["DOSELVL"].astype("Int64")
    df["TRT01A"] = np.where(df["SAFFL"] == "Y", df["DOSELVL"].map(LABELS), "Not infused")
    day = lambda flag, n: pd.Series(d0 + pd.Timedelta(days=n), index=df.index).where(df[flag] == "Y")
    df["CD19DT"], df["HSCTDT"], df["CD22DT"] = day("SAFFL", 0), day("HSCTFL", 15), day("CD22FL", 90)
    df["CUTOFFDT"] = pd.Timestamp("2025-06-30")
    return df


def stat(ard_df, name, variable, level=None, group="Total"):
    return pop.ard_stat(ard_df, name, variable=variable, level=level, group=group)


# ------------------------------------------------------------------ columns and specs


def test_phase_dose_column_keeps_never_infused_in_planned_column_and_orders_phases():
    col, order = pop.phase_dose_column(adsl_small(), LABELS)
    assert order == ["Escalation\nDL1 1×10⁵/kg", "Escalation\nDL2 3×10⁵/kg", "Expansion\nDL2 3×10⁵/kg"]
    assert col.iloc[3] == "Expansion\nDL2 3×10⁵/kg"  # S4 never infused


def test_phase_dose_column_unknown_level_is_an_error():
    a = adsl_small()
    a.loc[2, "DOSELVL"] = 7
    with pytest.raises(ValueError, match=r"DOSELVL has level\(s\) \[7\].*rows \[2\]"):
        pop.phase_dose_column(a, LABELS)


def test_disposition_counts_denominators_and_reasons():
    a = adsl_small()
    col, order = pop.phase_dose_column(a, LABELS)
    a = a.assign(PHDOSE=col)
    spec = pop.disposition_spec(a, "2")
    r = pop.summary_ard(a, spec, by="PHDOSE", by_levels=order)
    assert stat(r, "n", "SAFFL", "Y") == 5 and stat(r, "N", "SAFFL", "Y") == 6
    assert stat(r, "n", "HSCTFL", "Y", "Expansion\nDL2 3×10⁵/kg") == 2
    assert stat(r, "N", "HSCTFL", "Y", "Expansion\nDL2 3×10⁵/kg") == 3
    assert stat(r, "n", "EOSSTT", "COMPLETED", "Escalation\nDL1 1×10⁵/kg") == 0
    assert stat(r, "n", "DCSREAS", "DEATH") == 1
    assert math.isclose(stat(r, "p", "EOSSTT", "DISCONTINUED"), 3 / 6)
    t = pop.summary_table(r, spec, label_col="Subjects, n (%)")
    assert list(t.columns) == [
        "Subjects, n (%)",
        "Escalation\nDL1 1×10⁵/kg\n(N=2)",
        "Escalation\nDL2 3×10⁵/kg\n(N=1)",
        "Expansion\nDL2 3×10⁵/kg\n(N=3)",
        "Total\n(N=6)",
        "_indent",
    ]
    rows = dict(zip(t["Subjects, n (%)"], t["Total\n(N=6)"]))
    assert rows["Received CD19 CAR-T"] == "5 (83.3)"
    assert rows["Discontinued from the study"] == "3 (50.0)"
    assert rows["Withdrawal by subject"] == "1 (16.7)"
    assert rows["Completed 2-year follow-up"] == "1 (16.7)"
    assert t.loc[t["Subjects, n (%)"] == "Death", "_indent"].item() == 1


def test_levels_declared_first_zero_rows_kept_and_yes_no_labels():
    a = adsl_small()
    spec = [pop.Levels("SEX", "Sex, n (%)", levels=["M", "F", "U"], value_labels={"M": "Male"})]
    r = pop.summary_ard(a, spec, by="TRT01A")
    t = pop.summary_table(r, spec)
    assert t["Characteristic"].tolist() == ["Sex, n (%)", "Male", "F", "U"]
    assert t.loc[3, "Total\n(N=6)"] == "0"


def test_continuous_block_reports_missing_and_formats_precision():
    a = adsl_small()
    spec = [pop.Continuous("MRDBL", "MRD (%)", digits=1)]
    r = pop.summary_ard(a, spec, by="TRT01A")
    assert stat(r, "n", "MRDBL") == 5 and stat(r, "nmiss", "MRDBL") == 1
    t = pop.summary_table(r, spec, big_n={"Total": 6})
    total = dict(zip(t["Characteristic"], t["Total\n(N=6)"]))
    # values 1.5, 2.5, 4.0, 5.0, 6.0: mean 3.8, sd sqrt(13.3 / 4) = 1.8235, median 4.0, q1 2.5, q3 5.0
    assert total["Mean (SD)"] == "3.80 (1.823)"
    assert total["Median"] == "4.00" and total["Q1, Q3"] == "2.50, 5.00" and total["Min, Max"] == "1.5, 6.0"


def test_empty_group_and_no_data_never_show_nan():
    a = adsl_small().iloc[0:0]
    spec = pop.disposition_spec(a, "2") + [pop.Continuous("AGE", "Age")]
    r = pop.summary_ard(a, spec, by="TRT01A")
    t = pop.summary_table(r, spec)
    cells = t.drop(columns="_indent").to_numpy().ravel().tolist()
    assert not any(str(c).lower() in {"nan", "none"} or "nan" in str(c).lower() for c in cells)
    assert dict(zip(t["Characteristic"], t["Total\n(N=0)"]))["Enrolled"] == "0"


def test_spec_reusing_a_variable_is_rejected():
    with pytest.raises(ValueError, match="SEX is used by more than one item"):
        pop.summary_ard(adsl_small(), [pop.Levels("SEX"), pop.Count("SEX", "M", "Male")], by="TRT01A")


def test_fmt_dose():
    assert pop.fmt_dose(1e5) == "1×10⁵"
    assert pop.fmt_dose(3e5) == "3×10⁵"
    assert pop.fmt_dose(2.5e6) == "2.5×10⁶"
    assert pop.fmt_dose(9.999e5) == "1×10⁶"
    with pytest.raises(ValueError):
        pop.fmt_dose(0)


def test_exposure_frame_doses_in_dose_order_and_hsct_to_cd22_days():
    a = adsl_small().assign(
        CD19DOSE=lambda d: d["DOSELVL"].map({1: 1e5, 2: 3e5}).where(d["SAFFL"] == "Y"),
        CD22DOSE=lambda d: np.where(d["CD22FL"] == "Y", 1e6, np.nan),
        HSCTDY0=lambda d: pd.array([15 if h == "Y" else None for h in d["HSCTFL"]], "Int64"),
        CD22DY0=lambda d: pd.array([90 if c == "Y" else None for c in d["CD22FL"]], "Int64"),
    )
    e = pop.exposure_frame(a)
    assert list(e["CD19DOSEC"].cat.categories) == ["1×10⁵ cells/kg", "3×10⁵ cells/kg"]
    assert e["HSCT22DY"].tolist()[0] == 75 and pd.isna(e["HSCT22DY"].iloc[2])


# ------------------------------------------------------------------ procedures


def pr_small() -> pd.DataFrame:
    return pd.DataFrame(
        [
            ("S1", 1, "LYMPHODEPLETION", "Flu/Cy", "CD19 CAR-T", "2024-01-05", "2024-01-07"),
            ("S1", 2, "CONDITIONING", "Bu/Flu", "", "2024-01-19", "2024-01-24"),
            ("S1", 3, "ALLO-HSCT", "PBSCT", "", "2024-01-25", "2024-01-25"),
            ("S1", 4, "LYMPHODEPLETION", "Flu/Cy", "CD22 CAR-T", "2024-04-04", ""),
            ("S2", 1, "LYMPHODEPLETION", "Flu/Cy", "CD19 CAR-T", "2024-01-06", "2024-01-08"),
            ("S6", 1, "LYMPHODEPLETION", "Flu/Cy", "CD22 CAR-T", "2025-07-01", "2025-07-03"),  # after the cut
        ],
        columns=["USUBJID", "PRSEQ", "PRCAT", "PRTRT", "PRREF", "PRSTDTC", "PRENDTC"],
    )


def test_procedure_timing_relative_days_durations_and_cut():
    t = pop.procedure_timing(adsl_small(), pr_small()).set_index("USUBJID")
    assert t.loc["S1", "LD19SDY"] == -5 and t.loc["S1", "LD19DUR"] == 3
    assert t.loc["S2", "LD19SDY"] == -4
    assert t.loc["S1", "CONDSDY"] == -6 and t.loc["S1", "CONDDUR"] == 6 and t.loc["S1", "CONDTRT"] == "Bu/Flu"
    assert t.loc["S1", "LD22SDY"] == -5 and pd.isna(t.loc["S1", "LD22DUR"])  # no end date
    assert t.loc["S6", "LD22FL"] == "N"  # record after the data cut is ignored
    assert t.loc["S3", "LD19FL"] == "N" and pd.isna(t.loc["S3", "LD19TRT"])


def test_procedure_timing_bad_input_names_file_column_rows():
    pr = pr_small()
    pr.loc[1, "PRSTDTC"] = "2024-01"
    with pytest.raises(ValueError, match=r"PR: column PRSTDTC must be a full date.*rows \[1\]"):
        pop.procedure_timing(adsl_small(), pr)
    pr = pr_small()
    pr.loc[0, "USUBJID"] = "S9"
    with pytest.raises(ValueError, match=r"PR: USUBJID not found in ADSL in rows \[0\]"):
        pop.procedure_timing(adsl_small(), pr)


# ------------------------------------------------------------------ DLT and 3+3


def esc_adsl(cohorts) -> pd.DataFrame:
    """Escalation ADSL from [(cohort, level, n_evaluable, n_dlt, n_not_evaluable)]."""
    rows, k = [], 0
    for i, (c, lv, n_ev, n_dlt, n_ne) in enumerate(cohorts):
        for j in range(n_ev + n_ne):
            k += 1
            rows.append(
                dict(
                    USUBJID=f"S{k:02d}",
                    PHASE="DOSE ESCALATION",
                    COHORT=c,
                    DOSELVL=lv,
                    SAFFL="Y",
                    CD19DT=pd.Timestamp("2024-01-01") + pd.Timedelta(days=30 * i + j),
                    DLTEVLFL="Y" if j < n_ev else "N",
                    DLTFL="Y" if j < n_dlt else "N",
                )
            )
    rows.append(
        dict(
            USUBJID="X1",
            PHASE="DOSE EXPANSION",
            COHORT="X",
            DOSELVL=2,
            SAFFL="Y",
            CD19DT=pd.Timestamp("2025-01-01"),
            DLTEVLFL="N",
            DLTFL="Y",
        )
    )
    return pd.DataFrame(rows)


def test_escalation_sequence_with_replacement_and_recommended_dose():
    # cohort ids deliberately not in treatment order: order follows the first infusion
    a = esc_adsl([("B", 1, 3, 0, 1), ("A", 2, 3, 1, 0), ("C", 2, 3, 0, 0), ("D", 3, 3, 2, 0)])
    co = pop.escalation_cohorts(a)
    assert co["COHORT"].tolist() == ["B", "A", "C", "D"]
    assert co[["n_treated", "n_evaluable", "n_dlt"]].iloc[0].tolist() == [4, 3, 0]
    esc = pop.escalation_ard(co, [1, 2, 3])
    dec = esc[esc["stat_name"] == "decision"]["stat_value"].tolist()
    assert dec == ["escalate", "expand cohort", "escalate", "stop"]
    assert pop.recommended_dose(esc) == 2
    t = pop.escalation_table(esc, LABELS)
    assert t.iloc[2].tolist() == ["C", "DL2 3×10⁵/kg", "3", "3", "0", "1/6", "Escalate", "DL3 1×10⁶/kg"]
    assert t.iloc[-1].tolist()[:2] == ["Recommended dose (MTD)", "DL2 3×10⁵/kg"]


def test_escalation_incomplete_last_cohort_is_pending():
    a = esc_adsl([("E1", 1, 3, 0, 0), ("E2", 2, 2, 0, 1)])
    esc = pop.escalation_ard(pop.escalation_cohorts(a), [1, 2, 3])
    assert esc[esc["stat_name"] == "decision"]["stat_value"].tolist() == ["escalate", "pending"]
    assert pop.recommended_dose(esc) is None
    t = pop.escalation_table(esc, LABELS)
    assert t.iloc[1]["Decision"] == "Pending" and t.iloc[1]["Next dose level"] == "-"
    assert t.iloc[-1]["Dose level"] == "Not yet determined (escalation ongoing)"


def test_escalation_mtd_below_lowest_level_and_no_cohorts():
    esc = pop.escalation_ard(pop.escalation_cohorts(esc_adsl([("E1", 1, 3, 2, 0)])), [1, 2, 3])
    assert pop.recommended_dose(esc) is None
    assert pop.escalation_table(esc, LABELS).iloc[-1]["Dose level"].startswith("Not determined (MTD below")
    empty = pop.escalation_ard(pop.escalation_cohorts(esc_adsl([])), [1, 2, 3])
    t = pop.escalation_table(empty, LABELS)
    assert t["Cohort"].tolist() == ["No subjects", "Recommended dose (MTD)"]


def test_escalation_out_of_sequence_names_cohorts():
    a = esc_adsl([("E1", 1, 3, 0, 0), ("E2", 3, 3, 0, 0)])
    with pytest.raises(ValueError, match=r"ADSL escalation cohorts \['E1', 'E2'\].*previous decision"):
        pop.escalation_ard(pop.escalation_cohorts(a), [1, 2, 3])


def adae_small() -> pd.DataFrame:
    base = dict(
        TRT01AN=1,
        COHORT="E1",
        AETOXGR=4,
        AEGRSCL="ASTCT 2019",
        ADURN=5,
        AONGOFL="N",
        AESER="Y",
        AEREL="RELATED",
        AEOUT="RECOVERED/RESOLVED",
        TRT01A="DL1 1×10⁵/kg",
    )
    rows = [
        dict(USUBJID="S01", AEDECOD="Cytokine release syndrome", AETERM="CRS", AEDLT="Y", DLTWINFL="Y", ASTDY0=3),
        dict(USUBJID="S01", AEDECOD="Pyrexia", AETERM="Fever", AEDLT="N", DLTWINFL="Y", ASTDY0=1),
        dict(USUBJID="S02", AEDECOD="Sepsis", AETERM="Sepsis", AEDLT="Y", DLTWINFL="N", ASTDY0=50),
        dict(USUBJID="X1", AEDECOD="Acute kidney injury", AETERM="AKI", AEDLT="Y", DLTWINFL="Y", ASTDY0=20),
    ]
    return pd.DataFrame([base | r for r in rows])


def test_dlt_mask_and_listing():
    ae = adae_small()
    assert pop.dlt_mask(ae).tolist() == [True, False, False, True]
    lst = pop.dlt_listing(esc_adsl([("E1", 1, 3, 1, 0)]), ae)  # X1 (expansion) is not DLT-evaluable
    assert lst["Subject"].tolist() == ["S01"]
    assert lst.iloc[0][["Grade (scale)", "Start day", "Duration (days)", "Serious", "Related"]].tolist() == [
        "4 (ASTCT 2019)",
        "3",
        "5",
        "Yes",
        "Related",
    ]
    none = pop.dlt_listing(esc_adsl([("E1", 1, 3, 0, 0)]), ae.iloc[1:3])
    assert none["Subject"].tolist() == ["No DLTs"] and (none.drop(columns="Subject") == "").all().all()


def test_text_helpers_read_the_ard():
    a = adsl_small()
    spec = [pop.Count("SAFFL", "Y", "Safety"), pop.Count("DTHFL", "Y", "Died"), pop.Continuous("AGE", "Age")]
    r = pop.summary_ard(a, spec, by="TRT01A", by_levels=list(LABELS.values()) + ["Not infused"])
    assert pop.n_pct_text(r, "SAFFL", "Y") == "5/6 (83.3%)"  # the one running-text convention
    assert pop.n_pct_text(r, "SAFFL", "Y", group="DL1 1×10⁵/kg") == "2/2 (100%)"
    assert pop.n_pct_text(r, "DTHFL", "Y", group="DL1 1×10⁵/kg") == "0/2"
    assert pop.median_range_text(r, "AGE") == "median 45, range 20 to 70"
    assert pop.median_range_text(r, "AGE", group="DL3 1×10⁶/kg") == "not estimable (no data)"
    assert pop.fractions_text(r, "SAFFL", "Y") == (
        "2/2 at DL1 1×10⁵/kg, 3/3 at DL2 3×10⁵/kg, 0/0 at DL3 1×10⁶/kg and 0/1 at Not infused"
    )
    with pytest.raises(ValueError, match="0 rows with stat_name"):
        pop.ard_stat(r, "n", variable="EFFFL", level="Y")


# ------------------------------------------------------------------ public CDISC pilot ADSL


def test_summary_on_cdisc_pilot_adsl(reference_data):
    """Generic on ADaM: the same spec machinery on the CDISC pilot ADSL, checked against direct counts."""
    pyreadstat = pytest.importorskip("pyreadstat")
    adsl, _ = pyreadstat.read_xport(str(reference_data / "cdiscpilot01" / "adsl.xpt"))
    arms = ["Placebo", "Xanomeline Low Dose", "Xanomeline High Dose"]
    spec = [
        pop.Count("SAFFL", "Y", "Safety"),
        pop.Count("EFFFL", "Y", "Efficacy"),
        pop.Levels("DCDECOD", "Reason for discontinuation", among=("EOSSTT", "DISCONTINUED")),
        pop.Continuous("AGE", "Age"),
    ]
    r = pop.summary_ard(adsl, spec, by="TRT01P", by_levels=arms)
    assert stat(r, "N", "SAFFL", "Y") == len(adsl) == 254
    for arm in arms:
        sub = adsl[adsl["TRT01P"] == arm]
        assert stat(r, "n", "SAFFL", "Y", arm) == int((sub["SAFFL"] == "Y").sum())
        assert stat(r, "n", "EFFFL", "Y", arm) == int((sub["EFFFL"] == "Y").sum())
        assert math.isclose(stat(r, "mean", "AGE", None, arm), sub["AGE"].mean())
    disc = adsl[adsl["EOSSTT"] == "DISCONTINUED"]["DCDECOD"].value_counts()
    for reason, n in disc.items():
        assert stat(r, "n", "DCDECOD", reason) == n
    t = pop.summary_table(r, spec)
    assert t.columns[1] == "Placebo\n(N=86)" and t.columns[-2] == "Total\n(N=254)"
