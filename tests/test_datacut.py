"""The data cut applied by the pipeline (trial/datacut.py, the datacutr rules): a snapshot holding records
after the cut date gives the same ADaM and ARDs as the delivery cut by hand, and the cut log lists
exactly what was removed or changed."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest

from analysis_lib.toolkit import ard
from analysis_lib.trial import datacut, derive, io, sdtm_standard
from analysis_lib.trial.config import load_cut, load_study
from analysis_lib.trial.sdtm import DOMAINS
from analysis_lib.trial.validate import read_and_validate

CUT = dt.date(2025, 6, 30)
LATE_SUBJECT = "CART-19-22-ALL-03-046"  # a subject with records after the cut in the snapshot
ONGOING_AE = ("CART-19-22-ALL-01-021", "10")  # an AE ongoing at the final cut (AEENDTC empty) ...
NEW_SUBJECT = "CART-19-22-ALL-03-049"  # consented after the cut


def _frame(rows: dict[str, list[str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, dtype=object)


# ---------------------------------------------------------------- each rule on its own


def test_after_cut_compares_the_earliest_possible_day_and_never_cuts_on_an_empty_date():
    values = pd.Series(["2025-06-30", "2025-07-01", "2025-06", "2025-07", "2025", "2026", ""])
    assert datacut.after_cut(values, CUT).tolist() == [False, True, False, True, False, True, False]


def test_subject_cut_keeps_the_subjects_consented_by_the_cut():
    dm = _frame({"USUBJID": ["A", "B", "C"], "RFICDTC": ["2025-06-30", "2025-07-01", ""]})
    assert datacut.cut_subjects(dm, CUT) == {"A", "C"}
    ae = _frame({"USUBJID": ["A", "B", "B", "C"]})
    assert datacut.subject_cut(ae, {"A", "C"}).tolist() == [False, True, True, False]


def test_ongoing_rule_empties_end_dates_after_the_cut_and_sets_the_ongoing_outcome():
    ae = _frame(
        {
            "USUBJID": ["A", "A", "A"],
            "AESEQ": ["1", "2", "3"],
            "AESTDTC": ["2025-06-01", "2025-06-20", "2025-07-02"],
            "AEENDTC": ["2025-06-10", "2025-07-05", "2025-07-09"],
            "AEOUT": ["RECOVERED/RESOLVED", "FATAL", "RECOVERED/RESOLVED"],
        }
    )
    out, logs = datacut.cut_domain(ae, "ae", {"A"}, CUT)
    assert out.to_dict("list") == {
        "USUBJID": ["A", "A"],
        "AESEQ": ["1", "2"],
        "AESTDTC": ["2025-06-01", "2025-06-20"],
        "AEENDTC": ["2025-06-10", ""],
        "AEOUT": ["RECOVERED/RESOLVED", "NOT RECOVERED/NOT RESOLVED"],
    }
    log = pd.concat(logs)
    assert log[["RULE", "ROW", "KEY", "COLUMN", "VALUE"]].values.tolist() == [
        ["date", 3, "USUBJID=A, AESEQ=3", "AESTDTC", "2025-07-02"],
        ["ongoing", 2, "USUBJID=A, AESEQ=2", "AEENDTC", "2025-07-05"],
    ]


def test_dm_death_after_the_cut_leaves_no_death_flag():
    dm = _frame(
        {
            "USUBJID": ["A", "B"],
            "RFICDTC": ["2025-01-01", "2025-01-02"],
            "RFSTDTC": ["2025-02-01", "2025-07-03"],
            "DTHDTC": ["2025-07-01", "2025-05-01"],
            "DTHFL": ["Y", "Y"],
        }
    )
    out, logs = datacut.cut_domain(dm, "dm", {"A", "B"}, CUT)
    assert out["DTHDTC"].tolist() == ["", "2025-05-01"] and out["DTHFL"].tolist() == ["", "Y"]
    assert out["RFSTDTC"].tolist() == ["2025-02-01", ""]  # not yet infused at the cut
    log = pd.concat(logs)
    assert log[["RULE", "USUBJID", "COLUMN"]].values.tolist() == [["dm", "B", "RFSTDTC"], ["dm", "A", "DTHDTC"]]


def test_without_dm_no_record_is_removed_for_its_subject():
    ae = _frame({"USUBJID": ["A"], "AESEQ": ["1"], "AESTDTC": ["2025-06-01"], "AEENDTC": [""], "AEOUT": ["FATAL"]})
    out, log = datacut.apply_cut({"ae": ae}, CUT)
    pd.testing.assert_frame_equal(out["ae"], ae)
    assert log.records.empty and log.delivered == {"ae": 1}


def test_the_rules_follow_the_input_contract():
    assert datacut.start_columns("ae") == ("AESTDTC",) and datacut.end_columns("ae") == ("AEENDTC",)
    assert datacut.start_columns("ds") == ("DSSTDTC",) and datacut.end_columns("ds") == ()
    assert datacut.start_columns("dm") == () and datacut.start_columns("bl") == ()
    assert {n for n in DOMAINS if datacut.end_columns(n)} == {"pr", "ae", "cm"}


# ---------------------------------------------------------------- the committed cuts hold nothing after them


@pytest.mark.parametrize("cut_id", ["escalation", "interim", "final"])
def test_the_committed_cuts_are_unchanged_by_the_cut(cut_id):
    cut = load_cut(cut_id)
    domains, problems = read_and_validate(cut.data_dir)
    assert problems == []
    out, log = datacut.apply_cut(domains, cut.cut_date)
    for name, df in domains.items():
        pd.testing.assert_frame_equal(out[name], df, obj=name)
    assert log.records.empty
    counts = datacut.log_ard(log)
    assert set(counts.loc[counts["variable"] == "RULE", "stat_value"]) == {0}


# ---------------------------------------------------------------- a snapshot of the final cut


def _append(folder: Path, name: str, rows: list[dict[str, str]]) -> None:
    """Append delivery records to ``<name>.xpt`` (STUDYID and DOMAIN filled in), rewriting the XPT."""
    path = folder / f"{name}.xpt"
    df = io.read_file(path)
    study = {"STUDYID": df["STUDYID"].iloc[0]}
    if "DOMAIN" in df:
        study["DOMAIN"] = name.upper()
    add = pd.DataFrame([{**study, **r} for r in rows], columns=df.columns).fillna("")
    _rewrite(path, pd.concat([df, add], ignore_index=True))


def _rewrite(path: Path, df: pd.DataFrame) -> None:
    io.write_xpt(df, path, path.stem, dt.datetime(2026, 1, 1), sdtm_standard.numeric_variables(path.stem))


def _supp(parent: str, subject: str, idvar: str, idvarval: str, **qvals: str) -> list[dict[str, str]]:
    labels = sdtm_standard.QNAMS[parent]
    return [
        dict(RDOMAIN=parent.upper(), USUBJID=subject, IDVAR=idvar, IDVARVAL=idvarval, QNAM=q, QLABEL=labels[q],
             QVAL=v, QORIG="CRF")
        for q, v in qvals.items()
    ]  # fmt: skip


def make_snapshot(src: Path, dst: Path, cut_date: dt.date) -> Path:
    """The final cut's SDTM delivery plus what a snapshot taken weeks later holds: records dated after
    the cut in AE (with their SUPPAE), CM (with its RELREC link), RS, DS (a death, with its DD cause),
    SV and PC, an AE ongoing at the cut that ended after it, and a subject consented after the cut
    (DM, SUPPDM, VS, MH, FA, DS, SV)."""
    shutil.copytree(src, dst)

    def after(days: int) -> str:
        return (cut_date + dt.timedelta(days=days)).isoformat()

    s = LATE_SUBJECT
    ae = io.read_file(dst / "ae.xpt")
    ongoing = (ae["USUBJID"] == ONGOING_AE[0]) & (ae["AESEQ"] == ONGOING_AE[1])
    assert ae.loc[ongoing, "AEENDTC"].tolist() == [""]
    ae.loc[ongoing, ["AEENDTC", "AEOUT"]] = [after(12), "RECOVERED/RESOLVED"]
    _rewrite(dst / "ae.xpt", ae)
    common = dict(AEBODSYS="Infections and infestations", AEREL="NOT RELATED")
    _append(
        dst,
        "ae",
        [
            dict(USUBJID=s, AESEQ="90", AETERM="Pneumonia", AEDECOD="Pneumonia", AESTDTC=after(5) + "T14:20",
                 AEENDTC=after(19), AETOXGR="3", AESER="Y", AEOUT="RECOVERED/RESOLVED", **common),
            dict(USUBJID=s, AESEQ="91", AETERM="Sepsis", AEDECOD="Sepsis", AESTDTC=after(40)[:7], AEENDTC="",
                 AETOXGR="5", AESER="Y", AEOUT="FATAL", **common),
        ],
    )  # fmt: skip
    _append(
        dst,
        "suppae",
        _supp("ae", s, "AESEQ", "90", AEGRSCL="CTCAE v5.0", AEDLT="N")
        + _supp("ae", s, "AESEQ", "91", AEGRSCL="CTCAE v5.0", AEDLT="N"),
    )
    _append(
        dst,
        "cm",
        [dict(USUBJID=s, CMSEQ="90", CMTRT="Piperacillin/tazobactam", CMCLAS="OTHER", CMINDC="Pneumonia",
              CMSTDTC=after(5), CMENDTC=after(15))],
    )  # fmt: skip
    _append(
        dst,
        "relrec",
        [dict(RDOMAIN="CM", USUBJID=s, IDVAR="CMSEQ", IDVARVAL="90", RELTYPE="", RELID="CM90"),
         dict(RDOMAIN="AE", USUBJID=s, IDVAR="AESEQ", IDVARVAL="90", RELTYPE="", RELID="CM90")],
    )  # fmt: skip
    _append(dst, "rs", [dict(USUBJID=s, RSSEQ="90", RSTESTCD="OVRLRESP", RSTEST="Overall Response",
                             RSORRES="RELAPSE", RSSTRESC="RELAPSE", VISIT="UNSCHEDULED", RSDTC=after(20))])  # fmt: skip
    _append(
        dst,
        "ds",
        [
            dict(USUBJID=s, DSSEQ="90", DSCAT="DISPOSITION EVENT", DSDECOD="DEATH", DSTERM="Death due to sepsis",
                 DSSTDTC=after(45)),
            dict(USUBJID=NEW_SUBJECT, DSSEQ="1", DSCAT="PROTOCOL MILESTONE", DSDECOD="INFORMED CONSENT",
                 DSTERM="Informed consent obtained", DSSTDTC=after(2)),
        ],
    )  # fmt: skip
    _append(dst, "dd", [dict(USUBJID=s, DDSEQ="1", DDTESTCD="PRCDTH", DDTEST="Primary Cause of Death",
                             DDORRES="INFECTION", DDSTRESC="INFECTION", DDDTC=after(45))])  # fmt: skip
    _append(dst, "sv", [dict(USUBJID=s, VISITNUM="99", VISIT="UNSCHEDULED", SVSTDTC=after(20)),
                        dict(USUBJID=NEW_SUBJECT, VISITNUM="1", VISIT="SCREENING", SVSTDTC=after(2))])  # fmt: skip
    pc = io.read_file(dst / "pc.xpt")
    late = pc[pc["USUBJID"] == s].iloc[-1].to_dict()
    _append(dst, "pc", [{**late, "PCSEQ": "90", "VISIT": "UNSCHEDULED", "PCTPT": "", "PCTPTNUM": "",
                         "PCDTC": after(20) + "T08:15:00"}])  # fmt: skip
    dm = io.read_file(dst / "dm.xpt")
    new = {**dm.iloc[-1].to_dict(), "USUBJID": NEW_SUBJECT, "SUBJID": NEW_SUBJECT[-3:], "RFICDTC": after(2)}
    new.update(RFSTDTC="", RFXSTDTC="", ACTARMCD="", ACTARM="", ARMNRS=sdtm_standard.NOT_TREATED)
    _append(dst, "dm", [new])
    _append(dst, "suppdm", _supp("dm", NEW_SUBJECT, "", "", PHASE="DOSE EXPANSION", COHORT="X",
                                 DONORTYP="HAPLOIDENTICAL"))  # fmt: skip
    for name in ("vs", "mh", "fa"):
        df = io.read_file(dst / f"{name}.xpt")
        last = df[df["USUBJID"] == df["USUBJID"].iloc[-1]]
        _append(dst, name, [{**r, "USUBJID": NEW_SUBJECT} for r in last.to_dict("records")])
    return dst


#: Exactly what the cut must remove or change in the snapshot: (domain, rule, key, column).
EXPECTED_LOG = [
    ("DM", "subject", f"USUBJID={NEW_SUBJECT}", "RFICDTC"),
    ("BL", "subject", f"USUBJID={NEW_SUBJECT}", "USUBJID"),
    ("AE", "date", f"USUBJID={LATE_SUBJECT}, AESEQ=90", "AESTDTC"),
    ("AE", "date", f"USUBJID={LATE_SUBJECT}, AESEQ=91", "AESTDTC"),
    ("AE", "ongoing", f"USUBJID={ONGOING_AE[0]}, AESEQ={ONGOING_AE[1]}", "AEENDTC"),
    ("CM", "date", f"USUBJID={LATE_SUBJECT}, CMSEQ=90", "CMSTDTC"),
    ("RS", "date", f"USUBJID={LATE_SUBJECT}, RSSEQ=90", "RSDTC"),
    ("DS", "subject", f"USUBJID={NEW_SUBJECT}, DSSEQ=1", "USUBJID"),
    ("DS", "date", f"USUBJID={LATE_SUBJECT}, DSSEQ=90", "DSSTDTC"),
    ("SV", "subject", f"USUBJID={NEW_SUBJECT}, VISIT=SCREENING", "USUBJID"),
    ("SV", "date", f"USUBJID={LATE_SUBJECT}, VISIT=UNSCHEDULED", "SVSTDTC"),
    ("CK", "date", f"USUBJID={LATE_SUBJECT}, CKSEQ=90", "CKDTC"),
]


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    cut = load_cut("final")
    folder = make_snapshot(cut.data_dir, tmp_path_factory.mktemp("snapshot") / "final", cut.cut_date)
    return cut, folder


def test_a_snapshot_is_valid_and_its_cut_equals_the_pre_cut_delivery(snapshot):
    cut, folder = snapshot
    study = load_study()
    pre, problems = read_and_validate(cut.data_dir, study)
    assert problems == []
    snap, problems = read_and_validate(folder, study)
    assert problems == []  # records after the cut date are no validation problem
    at_cut, log = datacut.apply_cut(snap, cut.cut_date)
    for name in DOMAINS:
        pd.testing.assert_frame_equal(at_cut[name], pre[name], obj=name)
    got = list(log.records[["DOMAIN", "RULE", "KEY", "COLUMN"]].itertuples(index=False, name=None))
    assert got == EXPECTED_LOG
    assert log.delivered == {n: len(snap[n]) for n in DOMAINS}


def test_a_snapshot_gives_the_adam_and_ards_of_the_pre_cut_delivery(snapshot, tmp_path):
    cut, folder = snapshot
    study = load_study()
    outs = {}
    for label, data in (("pre", cut.data_dir), ("snapshot", folder)):
        domains, problems = read_and_validate(data, study)
        assert problems == []
        datasets, log = derive.derive_at_cut(domains, study, cut.cut_date)
        derive.write_datasets(datasets, tmp_path / label)
        outs[label] = datasets, log
    (pre, pre_log), (snap, snap_log) = outs["pre"], outs["snapshot"]
    for name in pre:  # byte-identical ADaM files
        assert (tmp_path / "pre" / f"{name}.parquet").read_bytes() == (
            tmp_path / "snapshot" / f"{name}.parquet"
        ).read_bytes(), name
    adsl = snap["adsl"].set_index("USUBJID")
    assert (
        NEW_SUBJECT not in adsl.index and adsl.at[LATE_SUBJECT, "DTHFL"] == "N"
    )  # the death after the cut left no flag
    # ARDs are functions of the ADaM: two of the report's, built from each
    for data in (pre, snap):
        data["ae_ard"] = ard.ae_ard(data["adsl"], data["adae"], by="TRT01A", total=True)
        data["os_ard"] = ard.km_ard(data["adtte"], "OS", "TRT01A", landmarks=[365, 730], total=True)
    for name in ("ae_ard", "os_ard"):
        pd.testing.assert_frame_equal(snap[name], pre[name], obj=name)
    assert pre_log.records.empty and len(snap_log.records) == len(EXPECTED_LOG)


def test_the_cut_log_ard_and_table(snapshot):
    cut, folder = snapshot
    domains, _ = read_and_validate(folder)
    _, log = datacut.apply_cut(domains, cut.cut_date)
    log = datacut.read_log_frame(datacut.log_frame(log))  # as the provenance chapter reads it back
    result = datacut.log_ard(log)
    assert list(result.columns) == ard.ARD_COLUMNS
    assert ard.stat(result, "n", group1_level="AE", variable_level="date") == 2
    assert ard.stat(result, "n", group1_level="AE", variable_level="ongoing") == 1
    assert ard.stat(result, "n", group1_level="DS", variable_level="subject") == 1
    assert ard.stat(result, "n", group1_level="AE", variable_level="analysed") == len(domains["ae"]) - 2
    table = datacut.log_table(result).set_index("Domain")
    assert table.loc["AE"].tolist() == [str(len(domains["ae"])), "0", "2", "1", "-", str(len(domains["ae"]) - 2)]
    assert table.loc["DM"].tolist() == ["49", "1", "-", "-", "0", "48"]
    assert table.loc["BL", datacut.RULES["date"]] == "-"
    assert datacut.log_summary(result, cut.cut_date) == (
        "The delivery is a snapshot holding records after the cut-off date 2026-08-18: the data cut removed 11 records "
        "and changed 1 (DM 1 consent after the cut; BL 1 consent after the cut; AE 2 dated after the cut, "
        "1 end date after the cut, set ongoing; CM 1 dated after the cut; RS 1 dated after the cut; "
        "DS 1 consent after the cut, 1 dated after the cut; SV 1 consent after the cut, 1 dated after the cut; "
        "CK 1 dated after the cut)."
    )
    nothing = datacut.log_ard(datacut.CutLog(log.records.iloc[:0], log.delivered))
    assert datacut.log_summary(nothing, "2026-08-18") == (
        "The delivery holds no record dated after the cut-off date 2026-08-18: the data cut changed nothing."
    )
