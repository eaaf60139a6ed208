"""Genuine SDTM nobody here wrote (pharmaversesdtm, vendored in tests/reference-data/) through
``csr validate``: read as standard SDTM (split ``rs_onco`` as RS, SUPPQUAL merged, datetimes,
partial dates, ``<BLQ``), no complaint about standard SDTM, and a short list of what a CAR-T report
still needs, with exit code 1 and no traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from analysis_lib.trial import io, sdtm_standard
from analysis_lib.trial.config import project_root
from analysis_lib.trial.validate import read_and_validate

PHARMAVERSE = Path(__file__).parent / "reference-data" / "pharmaversesdtm"
#: What the CAR-T report needs that a xanomeline/Alzheimer's SDTM cannot hold: (file, column, rule).
NEEDS = {
    ("ae.csv", "AETOXGR", "variable the report needs"),
    ("vs.csv", "", "file present and readable"),
    ("fa.csv", "", "file present and readable"),
    ("pr.csv", "", "file present and readable"),
    ("lb.csv", "", "file present and readable"),
    ("xt.csv", "", "file present and readable"),
    ("dm.csv", "ARMCD", "ARMCD is the dose level"),
    ("ex.csv", "EXTRT", "CAR-T product in EX"),
    ("pc.csv", "PCTESTCD", "CAR-T kinetics in PC"),
    ("suppdm.csv", "QNAM=PHASE", "supplemental qualifier delivered"),
    ("suppdm.csv", "QNAM=COHORT", "supplemental qualifier delivered"),
    ("suppdm.csv", "QNAM=DONORTYP", "supplemental qualifier delivered"),
    ("suppae.csv", "QNAM=AEGRSCL", "supplemental qualifier delivered"),
    ("suppae.csv", "QNAM=AEDLT", "supplemental qualifier delivered"),
}


def test_every_domain_is_read_as_sdtm():
    frames, errors = io.read_delivery(PHARMAVERSE)
    assert errors == []
    assert {"dm", "suppdm", "ae", "suppae", "ex", "cm", "ds", "suppds", "sv", "mh", "pc", "rs"} <= set(frames)
    assert frames["rs"].attrs["file"] == "rs_onco.csv"  # a split dataset counts as its domain
    assert sdtm_standard.delivery_issues(frames) == []  # standard SDTM: nothing to complain about
    merged, issues = sdtm_standard.merge_supp(frames, "ae")
    assert issues == [] and set(merged) >= {"AETRTEM"}
    values, rows, file = merged["AETRTEM"]
    assert file == "suppae.csv" and (values != "").sum() == sum(r > 0 for r in rows) > 0
    pc = frames["pc"]
    assert pc["PCDTC"].str.contains("T").any() and (pc["PCORRES"] == "<BLQ").any()
    assert sdtm_standard.sdtm_date(pc["PCDTC"]).str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert frames["cm"]["CMSTDTC"].str.fullmatch(r"\d{4}").any()  # partial dates are standard


def test_what_a_car_t_report_still_needs():
    view, problems = read_and_validate(PHARMAVERSE)
    assert view == {}
    assert {(p.file, p.column, p.rule) for p in problems} == NEEDS


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "params").mkdir()
    shutil.copyfile(project_root() / "params" / "study.yml", tmp_path / "params" / "study.yml")
    (tmp_path / "params" / "pharmaverse.yml").write_text(
        f"id: pharmaverse\ncut_date: 2015-03-05\ndata_dir: {PHARMAVERSE}\nkind: final\n"
    )
    return tmp_path


def test_csr_validate_lists_the_needs_and_exits_1(project):
    proc = subprocess.run(
        [sys.executable, "-m", "analysis_lib.pipeline.cli", "validate", "--cut", "pharmaverse"],
        capture_output=True,
        text=True,
        env={**os.environ, "CSR_ROOT": str(project)},
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "what a CAR-T report needs" in proc.stderr
    for file, column, rule in NEEDS:
        assert f"{file}{', column ' + column if column else ''}" in proc.stderr and f"[{rule}]" in proc.stderr
    assert "[required variable]" not in proc.stderr and "[ISO 8601]" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= len(NEEDS) + 2  # a short list
