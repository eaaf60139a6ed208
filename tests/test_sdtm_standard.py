"""The SDTMIG 3.4 delivery contract (trial/sdtm_standard.py): SUPPQUAL and RELREC integrity, dates and
BLQ spellings, and the committed mapping document."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from fixtures.mini_study import mini_domains

from analysis_lib.trial import sdtm, sdtm_standard
from analysis_lib.trial.validate import validate_delivery

DOC = Path(__file__).resolve().parents[1] / "docs" / "sdtm-mapping.md"


def _delivery() -> dict[str, pd.DataFrame]:
    out = sdtm_standard.from_view(mini_domains())
    for name, df in out.items():
        df.attrs["file"] = f"{name}.xpt"
    return out


def test_the_mini_study_round_trips_and_is_valid():
    view = mini_domains()
    back = sdtm_standard.to_view(sdtm_standard.from_view(view))
    for name in sdtm.DOMAINS:
        pd.testing.assert_frame_equal(back[name].reset_index(drop=True), view[name], obj=name, check_dtype=False)
    assert validate_delivery(_delivery())[1] == []


def test_suppqual_orphans_duplicates_and_idvar():
    d = _delivery()
    supp = d["suppae"]
    extra = [
        {**supp.iloc[0].to_dict(), "IDVARVAL": "99"},  # no AE 99
        supp.iloc[0].to_dict(),  # the same QNAM twice for one record
        {**supp.iloc[0].to_dict(), "IDVAR": "AENOPE"},  # not a variable of AE
    ]
    d["suppae"] = pd.concat([supp, pd.DataFrame(extra)], ignore_index=True)
    d["suppae"].attrs["file"] = "suppae.xpt"
    problems = validate_delivery(d)[1]
    got = {(p.file, p.column, p.rule) for p in problems}
    assert ("suppae.xpt", "IDVARVAL", "SUPPQUAL has a parent record") in got
    assert ("suppae.xpt", "QNAM", "one QNAM per record") in got
    assert ("suppae.xpt", "IDVAR", "IDVAR is a parent variable") in got
    n = len(supp)
    assert [p.rows for p in problems if p.rule == "SUPPQUAL has a parent record"] == [(n + 1,)]


def test_a_view_problem_names_the_supplemental_qualifier():
    d = _delivery()
    supp = d["suppae"]
    row = supp.index[supp["QNAM"] == "AEDLT"][2]
    supp.loc[row, "QVAL"] = "MAYBE"
    p = [p for p in validate_delivery(d)[1] if p.rule == "controlled term"]
    assert [(p.file, p.column, p.rows) for p in p] == [("suppae.xpt", "QVAL where QNAM=AEDLT", (row + 1,))]


def test_relrec_orphans_and_datetimes_and_blq():
    d = _delivery()
    rel = d["relrec"]
    d["relrec"] = pd.concat(
        [rel, pd.DataFrame([{**rel.iloc[1].to_dict(), "IDVARVAL": "77", "RELID": "X"}])], ignore_index=True
    )
    d["relrec"].attrs["file"] = "relrec.xpt"
    pc = d["pc"]
    blq = pc["PCORRES"].str.startswith("<")
    pc.loc[blq, "PCORRES"] = "<BLQ"  # pharmaverse's spelling
    pc["PCDTC"] = pc["PCDTC"].str.replace("T09:00", "T23:30:00")
    problems = validate_delivery(d)[1]
    assert [(p.file, p.column, p.rule) for p in problems] == [("relrec.xpt", "IDVARVAL", "RELREC has a parent record")]
    view, _ = sdtm_standard.build_view(d)
    assert set(view["ck"].loc[blq.to_numpy(), "CKORRES"]) == {"<LLOQ"}
    assert view["ck"]["CKDTC"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()


def test_a_partial_date_where_the_analysis_needs_a_full_one():
    d = _delivery()
    d["dm"].loc[0, "RFSTDTC"] = d["dm"].loc[0, "RFSTDTC"][:7]
    d["dm"].loc[1, "RFICDTC"] = "10/01/2024"
    problems = validate_delivery(d)[1]
    rules = {(p.file, p.column, p.rows, p.rule) for p in problems}
    assert ("dm.xpt", "RFSTDTC", (1,), "ISO 8601 date") in rules  # the Day-0 infusion needs the day
    assert ("dm.xpt", "RFICDTC", (2,), "ISO 8601") in rules  # not ISO 8601 at all: one problem, not two
    assert not [p for p in problems if p.column == "RFICDTC" and p.rule == "ISO 8601 date"]
    assert sdtm_standard.sdtm_date(pd.Series(["2003---15", "2014-01-01T23:30", "2024-05"])).tolist() == [
        "2003",
        "2014-01-01",
        "2024-05",
    ]


def test_the_committed_mapping_document_is_current():
    text = DOC.read_text(encoding="utf-8")
    body = text.split("<!-- BEGIN GENERATED -->\n", 1)[1].split("<!-- END GENERATED -->", 1)[0]
    assert body == sdtm_standard.variable_map_markdown(), "regenerate docs/sdtm-mapping.md"
