"""Reading (CSV / Parquet / XPT) and validation of the SDTM-like inputs, rule by rule."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pyreadstat
import pytest
from fixtures.mini_study import CUT, DAY0, d, mini_domains
from helpers import make_cut, write_cut  # shared test helpers (tests/helpers.py)

from analysis_lib.trial import io
from analysis_lib.trial.config import list_cuts, load_cut
from analysis_lib.trial.sdtm import DOMAINS
from analysis_lib.trial.validate import (
    Problem,
    ValidationFailed,
    date_bounds,
    format_problems,
    validate_cut,
    validate_frames,
)


def find(problems: list[Problem], file: str, column: str, rule: str) -> Problem:
    hits = [p for p in problems if (p.file, p.column, p.rule) == (file, column, rule)]
    assert len(hits) == 1, f"expected one {file}/{column}/{rule} problem in:\n{format_problems(problems)}"
    return hits[0]


# ---------------------------------------------------------------- reading


def test_mini_study_is_valid():
    assert validate_frames(mini_domains()) == []


def test_csv_parquet_xpt_read_the_same_strings(tmp_path):
    dm = mini_domains()["dm"]
    typed = dm.assign(
        AGE=dm["AGE"].astype(float), WEIGHTBL=dm["WEIGHTBL"].astype(float), DOSELVL=dm["DOSELVL"].astype(int)
    )
    (tmp_path / "csv").mkdir(), (tmp_path / "pq").mkdir(), (tmp_path / "xpt").mkdir()
    dm.to_csv(tmp_path / "csv" / "dm.csv", index=False)
    typed.to_parquet(tmp_path / "pq" / "dm.parquet", index=False)
    pyreadstat.write_xport(typed, str(tmp_path / "xpt" / "DM.XPT"), table_name="DM")
    got = {k: io.read_domain(tmp_path / k, "dm") for k in ("csv", "pq", "xpt")}
    for k, df in got.items():
        pd.testing.assert_frame_equal(df, dm, check_dtype=False, obj=k)
    assert got["xpt"].attrs["file"] == "DM.XPT"
    assert got["xpt"].loc[0, "WEIGHTBL"] == "60.5" and got["xpt"].loc[0, "AGE"] == "35"
    assert got["xpt"].loc[3, "RFSTDTC"] == ""  # empty stays empty, never "nan"


def test_reads_public_cdisc_xpt(reference_data):
    adsl = io.read_file(reference_data / "cdiscpilot01" / "adsl.xpt")
    assert len(adsl) == 254 and adsl.map(lambda v: isinstance(v, str)).all().all()
    assert adsl.loc[0, "USUBJID"] == "01-701-1015" and adsl.loc[0, "AGE"] == "63"


def test_missing_ambiguous_and_unreadable_files(tmp_path):
    with pytest.raises(io.ReadError, match=r"ae\.csv: file not found"):
        io.read_domain(tmp_path, "ae")
    mini_domains()["ae"].to_csv(tmp_path / "ae.csv", index=False)
    (tmp_path / "ae.parquet").write_bytes(b"not parquet")
    with pytest.raises(io.ReadError, match=r"ambiguous.*ae\.csv, ae\.parquet"):
        io.read_domain(tmp_path, "ae")
    (tmp_path / "ae.csv").unlink()
    with pytest.raises(io.ReadError, match=r"ae\.parquet: cannot be read as PARQUET"):
        io.read_domain(tmp_path, "ae")


def test_read_cut_and_file_problems(tmp_path):
    folder = write_cut(mini_domains(), tmp_path / "data")
    assert set(io.read_cut(make_cut(folder))) == set(DOMAINS)
    (folder / "sv.csv").unlink()
    problems = validate_cut(make_cut(folder))
    assert [(p.file, p.rule) for p in problems] == [("sv.csv", "file present and readable")]
    assert "file not found" in problems[0].message
    assert validate_cut(make_cut(tmp_path / "nowhere"))[0].rule == "file present and readable"


# ---------------------------------------------------------------- the corrupted copy (issue 2)


def _source_cut() -> tuple[dict[str, pd.DataFrame], dt.date]:
    """The real synthetic final cut when it exists, else the hand-made mini study."""
    if "final" in list_cuts():
        cut = load_cut("final")
        if all(io.domain_files(cut.data_dir, n) for n in DOMAINS):
            return io.read_cut(cut), cut.cut_date
    return mini_domains(), CUT


def test_corrupted_copy_reports_every_problem_together(tmp_path):
    domains, cut_date = _source_cut()
    dm, ae = domains["dm"], domains["ae"].copy()
    domains["dm"] = pd.concat([dm, dm.iloc[[1]]], ignore_index=True)  # duplicate subject
    dup_row, dup_id = len(domains["dm"]), dm.loc[1, "USUBJID"]
    ae.loc[2, "AETOXGR"] = "7"  # grade 7 -> row 3
    ae.loc[3, ["AESTDTC", "AEENDTC"]] = ["2024-03-10", "2024-03-01"]  # ends before start -> row 4
    ae.loc[4, "AESTDTC"] = "2024-13-45"  # unparseable -> row 5
    ae.loc[5, "USUBJID"] = "NOBODY"  # unknown subject -> row 6
    ae.loc[6, "AEENDTC"] = (cut_date + dt.timedelta(days=3)).isoformat()  # after the cut: the cut's job, no problem
    domains["ae"] = ae
    domains["dm"].loc[2, "DOSELVL"] = "4"  # a dose level params/study.yml does not declare -> row 3
    problems = validate_cut(make_cut(write_cut(domains, tmp_path / "bad"), cut_date))
    text = format_problems(problems)

    p = find(problems, "dm.csv", "USUBJID", "unique key")
    assert p.rows == (2, dup_row) and dup_id in p.message
    p = find(problems, "ae.csv", "AETOXGR", "grade range")
    assert p.rows == (3,) and p.message == "value 7 not in 1-5"
    assert "ae.csv, column AETOXGR, row 3: value 7 not in 1-5 [grade range]" in text
    p = find(problems, "ae.csv", "AEENDTC", "end >= start")
    assert p.rows == (4,) and p.message == "AEENDTC 2024-03-01 is before AESTDTC 2024-03-10"
    p = find(problems, "ae.csv", "AESTDTC", "ISO 8601 date")
    assert p.rows == (5,) and "2024-13-45" in p.message
    p = find(problems, "ae.csv", "USUBJID", "known subject")
    assert p.rows == (6,) and "NOBODY" in p.message
    p = find(problems, "dm.csv", "ARMCD", "dose level in params")  # DOSELVL is delivered as ARMCD DL<n>
    assert (
        p.rows == (3,)
        and p.message == "dose level 4 not among the dose levels of params/study.yml dose_levels (1, 2, 3)"
    )
    assert not [p for p in problems if p.rows == (7,)], text  # the AE ending after the cut
    assert len(problems) == 6, text


def test_validation_failed_carries_problems():
    problems = [Problem("ae.csv", "AETOXGR", (12, 40), "grade range", "value 7 not in 1-5")]
    exc = ValidationFailed(problems)
    assert exc.problems == problems
    assert str(exc) == (
        "1 problem found in the input data:\n  - ae.csv, column AETOXGR, rows 12, 40: value 7 not in 1-5 [grade range]"
    )
    assert format_problems([]) == "No problems found."


# ---------------------------------------------------------------- each rule on its own


def _problems_after(domain: str, change) -> list[Problem]:
    domains = mini_domains()
    change(domains[domain])
    return validate_frames(domains)


def test_required_column_and_required_value():
    ps = _problems_after("ds", lambda df: df.drop(columns=["DSTERM"], inplace=True))
    assert [(p.file, p.column, p.rule) for p in ps] == [("ds.csv", "DSTERM", "required column")]
    ps = _problems_after("dm", lambda df: df.__setitem__("SEX", ["M", "", "F", "F", " ", "F"]))
    assert [(p.column, p.rows, p.rule) for p in ps] == [("SEX", (2, 5), "required value")]
    # optional / nullable columns may be empty or absent
    assert _problems_after("dm", lambda df: df.drop(columns=["BRTHDTC", "ETHNIC"], inplace=True)) == []
    assert _problems_after("ae", lambda df: df.__setitem__("AEENDTC", "")) == []


def test_types_terms_and_limits_of_shown_rows():
    ps = _problems_after("dm", lambda df: df.__setitem__("AGE", ["35", "3.5", "x", "40", "1e2", "-3"]))
    assert [(p.column, p.rows, p.message) for p in ps] == [
        ("AGE", (2, 3, 5), "values 3.5, x, 1e2 is not a whole number")
    ]
    ps = _problems_after("bl", lambda df: df.__setitem__("BMBLAST", ["1", "nan", "inf", "2.5e1", "", "x"]))
    assert [(p.rule, p.rows) for p in ps] == [("required value", (5,)), ("type", (2, 3, 6))]
    ps = _problems_after("ae", lambda df: df.__setitem__("AESER", "YES"))
    assert ps[0].rows == (1, 2, 3, 4, 5) and ps[0].message.startswith("value YES not in the controlled")
    assert "(13 rows in all)" in ps[0].message and ps[0].rule == "controlled term"


def test_dates_full_and_partial():
    # a `date` column accepts only YYYY-MM-DD; a `pdate` column also YYYY-MM and YYYY
    ps = _problems_after("rs", lambda df: df.__setitem__("RSDTC", ["2024-02", *df["RSDTC"][1:]]))
    assert [(p.column, p.rows, p.rule) for p in ps] == [("RSDTC", (1,), "ISO 8601 date")]
    assert _problems_after("ae", lambda df: df.__setitem__("AESTDTC", ["2024", *df["AESTDTC"][1:]])) == []
    ps = _problems_after(
        "ae", lambda df: df.__setitem__("AESTDTC", ["2024-02-30", "24-01-01", "2024/01/05", *df["AESTDTC"][3:]])
    )
    assert [(p.rows, p.rule) for p in ps] == [((1, 2, 3), "ISO 8601 date")]
    lo, hi = date_bounds(pd.Series(["2024-02", "2023", "2024-03-05", "", "2024-02-30"]))
    assert list(lo.dt.strftime("%Y-%m-%d").fillna("")) == ["2024-02-01", "2023-01-01", "2024-03-05", "", ""]
    assert list(hi.dt.strftime("%Y-%m-%d").fillna("")) == ["2024-02-29", "2023-12-31", "2024-03-05", "", ""]


def test_partial_dates_in_chronology_and_records_after_the_cut():
    # an end "2024-01" may be after a start 2024-01-15 (not a problem); records dated after the cut
    # are no problem either: a delivery may be a snapshot, the pipeline applies the cut (datacut.py)
    assert _problems_after("ae", lambda df: df.__setitem__("AEENDTC", ["2024-01", *df["AEENDTC"][1:]])) == []
    assert _problems_after("cm", lambda df: df.__setitem__("CMSTDTC", ["2025-06", "2025-07", df["CMSTDTC"][2]])) == []
    assert _problems_after("rs", lambda df: df.__setitem__("RSDTC", ["2031-01-01", *df["RSDTC"][1:]])) == []


def test_unique_keys_with_two_columns():
    ps = _problems_after("ae", lambda df: df.__setitem__("AESEQ", ["1", "1", *df["AESEQ"][2:]]))
    assert [(p.column, p.rows, p.rule) for p in ps] == [("USUBJID+AESEQ", (1, 2), "unique key")]
    assert "USUBJID=S01, AESEQ=1" in ps[0].message


def test_no_dosing_before_consent():
    ps = _problems_after("ex", lambda df: df.__setitem__("EXSTDTC", ["2023-12-01", *df["EXSTDTC"][1:]]))
    assert [(p.file, p.column, p.rows, p.rule) for p in ps] == [("ex.csv", "EXSTDTC", (1,), "no dosing before consent")]
    assert "2023-12-01" in ps[0].message and "S01" in ps[0].message


@pytest.mark.parametrize("cut_id", ["escalation", "interim", "final"])
def test_synthetic_cuts_are_valid(cut_id):
    if cut_id not in list_cuts():
        pytest.skip(f"params/{cut_id}.yml not there yet")
    cut = load_cut(cut_id)
    assert validate_cut(cut) == [], format_problems(validate_cut(cut))


def test_natural_keys_derivations_rely_on():
    def second_sample_same_day(df):
        df.loc[len(df)] = [*df.iloc[1][:-1], df.iloc[1]["CKDTC"]]
        df.loc[len(df) - 1, "CKSEQ"] = "99"

    ps = _problems_after("ck", second_sample_same_day)
    assert [(p.file, p.rows, p.rule) for p in ps] == [("ck.csv", (2, 5), "one sample per day")]
    assert "CKDTC=2024-01-17" in ps[0].message

    def second_death(df):
        df.loc[len(df)] = df.iloc[-1]
        df.loc[len(df) - 1, "DSSEQ"] = "99"

    ps = _problems_after("ds", second_death)
    assert [(p.rows, p.rule, p.message) for p in ps] == [
        ((9, 10), "one death per subject", "duplicate death record for USUBJID=S05")
    ]


def test_many_duplicates_are_one_problem():
    ps = _problems_after("ck", lambda df: df.__setitem__("CKSEQ", "1"))
    assert [(p.rows, p.message) for p in ps] == [((1, 2, 3, 4), "duplicate key USUBJID=S01, CKSEQ=1")]
    ps = _problems_after(
        "ae", lambda df: df.__setitem__("AESEQ", ["1", "1", "2", "2", "1", "1", "1", "2", "2", "3", "3", "1", "1"])
    )
    assert len(ps) == 1 and ps[0].rows == (1, 2, 3, 4, 6)  # S02's only AE (row 5) is no duplicate
    assert ps[0].message == (
        "duplicate key USUBJID=S01, AESEQ=1; USUBJID=S01, AESEQ=2; USUBJID=S03, AESEQ=1 (6 duplicated in all)"
    )


# ---------------------------------------------------------------- clinical consistency (issue 14, item 5)


def _one(ps: list[Problem]) -> tuple:
    assert len(ps) == 1, format_problems(ps)
    return ps[0].file, ps[0].column, ps[0].rows, ps[0].rule


def test_negative_kinetic_values_are_refused():
    def negative(df):
        df.loc[1, ["CKORRES", "CKSTRESN"]] = ["-5000", "-5000"]

    assert _one(_problems_after("ck", negative)) == ("ck.csv", "CKSTRESN", (2,), "not negative")


def test_ckorres_and_ckstresn_must_agree():
    ps = _problems_after("ck", lambda df: df.__setitem__("CKSTRESN", ["", "5000", "80", "0.5"]))
    assert _one(ps) == ("ck.csv", "CKSTRESN", (3,), "CKSTRESN agrees with CKORRES")
    assert "800" in ps[0].message and "80" in ps[0].message
    ps = _problems_after("ck", lambda df: df.__setitem__("CKSTRESN", ["3", "5000", "800", "0.5"]))  # <LLOQ with a value
    assert _one(ps)[2:] == ((1,), "CKSTRESN agrees with CKORRES")
    ps = _problems_after("ck", lambda df: df.__setitem__("CKORRES", ["<LLOQ", "lots", "800", "0.5"]))
    assert _one(ps) == ("ck.csv", "CKORRES", (2,), "numeric or <LLOQ")


def test_cd22_infusion_before_cd19_is_refused():
    def early(df):
        df.loc[df["EXTRT"] == "CD22 CAR-T", "EXSTDTC"] = [d(-3), d(95)]

    ps = _problems_after("ex", early)
    assert _one(ps) == ("ex.csv", "EXSTDTC", (6,), "CD19 before CD22 CAR-T")
    assert "S01" in ps[0].message and d(-3) in ps[0].message and DAY0.isoformat() in ps[0].message


def test_infusion_date_without_exposure_record_is_refused():
    ps = _problems_after("ex", lambda df: df.drop(index=df.index[df["USUBJID"] == "S03"], inplace=True))
    assert _one(ps) == ("dm.csv", "RFSTDTC", (3,), "infusion has an exposure record")
    assert "S03" in ps[0].message


def test_lymphodepletion_before_consent_is_refused():
    ps = _problems_after("pr", lambda df: df.__setitem__("PRSTDTC", [d(-30), *df["PRSTDTC"][1:]]))
    assert _one(ps) == ("pr.csv", "PRSTDTC", (1,), "no procedure before consent")
    assert "lymphodepletion" in ps[0].message and "S01" in ps[0].message


def test_header_only_ae_file_is_refused():
    ps = _problems_after("ae", lambda df: df.drop(index=df.index, inplace=True))
    assert _one(ps) == ("ae.csv", "", (), "records present")


def test_death_before_infusion_is_refused():
    ps = _problems_after("ds", lambda df: df.__setitem__("DSSTDTC", [*df["DSSTDTC"][:6], d(-2), *df["DSSTDTC"][7:]]))
    assert _one(ps) == ("ds.csv", "DSSTDTC", (7,), "no death before infusion")
    assert "S02" in ps[0].message


def test_latin1_bytes_name_the_row(tmp_path):
    folder = write_cut(mini_domains(), tmp_path / "data")
    ae = folder / "ae.csv"
    lines = ae.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b"term", "Fi\xe8vre".encode("latin-1"), 1)
    ae.write_bytes(b"\n".join(lines))
    with pytest.raises(io.ReadError) as err:
        io.read_domain(folder, "ae")
    assert err.value.file == "ae.csv" and "row 3" in err.value.message and "UTF-8" in err.value.message


def test_xpt_bytes_in_a_csv_are_one_clear_problem(tmp_path):
    folder = write_cut(mini_domains(), tmp_path / "data")
    pyreadstat.write_xport(mini_domains()["ae"], str(tmp_path / "ae.xpt"), table_name="AE")
    (folder / "ae.csv").write_bytes((tmp_path / "ae.xpt").read_bytes())
    problems = validate_cut(make_cut(folder))
    assert [(p.file, p.rule) for p in problems] == [("ae.csv", "file present and readable")]
    assert "SAS XPT" in problems[0].message


# ---------------------------------------------------------------- laboratory (LB)


def test_lb_rules_each_a_clear_problem():
    domains = mini_domains()
    lb = domains["lb"].copy()
    lb.loc[0, "LBTESTCD"] = "ANCX"  # unknown test code
    lb.loc[1, "LBSTRESU"] = "g/L"  # not the unit of NEUT
    lb.loc[2, ["LBORRES", "LBSTRESN"]] = ["abc", "abc"]  # non-numeric
    lb.loc[3, ["LBORRES", "LBSTRESN"]] = ["-0.5", "-0.5"]  # negative
    lb.loc[4, "LBORRES"] = "<LLOQ"  # censored string
    lb.loc[5, ["LBSTNRLO", "LBSTNRHI"]] = ["400", "150"]  # low > high
    domains["lb"] = lb
    problems = validate_frames(domains)
    p = find(problems, "lb.csv", "LBTESTCD", "known test code")
    assert p.rows == (1,) and "ANCX" in p.message
    p = find(problems, "lb.csv", "LBSTRESU", "unit of the test")
    assert p.rows == (2,) and "NEUT is in 10^9/L" in p.message
    assert find(problems, "lb.csv", "LBORRES", "numeric result").rows == (3,)
    assert find(problems, "lb.csv", "LBSTRESN", "type").rows == (3,)
    assert find(problems, "lb.csv", "LBORRES", "non-negative result").rows == (4,)
    assert find(problems, "lb.csv", "LBSTRESN", "non-negative result").rows == (4,)
    p = find(problems, "lb.csv", "LBORRES", "no '<x' results")
    assert p.rows == (5,) and "<LLOQ" in p.message
    p = find(problems, "lb.csv", "LBSTNRLO", "normal range low <= high")
    assert p.rows == (6,) and "400" in p.message
    assert "lb.csv, column LBSTNRLO, row 6:" in format_problems(problems)


def test_lb_one_result_per_test_per_day():
    domains = mini_domains()
    lb = domains["lb"]
    extra = lb.iloc[[1]].assign(LBSEQ="99")
    domains["lb"] = pd.concat([lb, extra], ignore_index=True)
    p = find(validate_frames(domains), "lb.csv", "USUBJID+LBTESTCD+LBDTC", "one result per test per day")
    assert p.rows == (2, len(lb) + 1)


# ---------------------------------------------------------------- CDISC Dataset-JSON v1.1

_DSJ_TYPE = {"AGE": "integer", "DOSELVL": "integer", "WEIGHTBL": "double"}


def _dataset_json(df: pd.DataFrame, name: str = "DM") -> dict:
    """A Dataset-JSON v1.1 document of ``df`` written by the standard's schema: numbers as JSON
    numbers in integer/double columns, "" as null, ISO dates as strings."""

    def cell(col: str, v: str):
        if v == "":
            return None
        return int(v) if _DSJ_TYPE.get(col) == "integer" else float(v) if col in _DSJ_TYPE else v

    return {
        "datasetJSONCreationDateTime": "2026-12-03T06:00:00",
        "datasetJSONVersion": "1.1.0",
        "fileOID": f"www.example.org/{name}",
        "originator": "test",
        "sourceSystem": {"name": "pytest", "version": "1"},
        "studyOID": "CART",
        "metaDataVersionOID": "MDV.1",
        "itemGroupOID": f"IG.{name}",
        "records": len(df),
        "name": name,
        "label": "Demographics",
        "columns": [
            {"itemOID": f"IT.{name}.{c}", "name": c, "label": c, "dataType": _DSJ_TYPE.get(c, "string")}
            | ({"keySequence": 1} if c == "USUBJID" else {})
            for c in df.columns
        ],
        "rows": [[cell(c, v) for c, v in zip(df.columns, row)] for row in df.itertuples(index=False)],
    }


def _write_ndjson(doc: dict, path) -> None:
    meta = {k: v for k, v in doc.items() if k != "rows"}
    path.write_text("\n".join(json.dumps(x) for x in [meta, *doc["rows"]]) + "\n", encoding="utf-8")


def test_dataset_json_and_ndjson_read_the_same_strings_as_csv(tmp_path):
    dm = mini_domains()["dm"]
    doc = _dataset_json(dm)
    (tmp_path / "j").mkdir(), (tmp_path / "n").mkdir()
    (tmp_path / "j" / "dm.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
    _write_ndjson(doc, tmp_path / "n" / "DM.ndjson")
    for k in ("j", "n"):
        got = io.read_domain(tmp_path / k, "dm")
        pd.testing.assert_frame_equal(got, dm, check_dtype=False, obj=k)
        assert got.map(lambda v: isinstance(v, str)).all().all()
    assert io.read_domain(tmp_path / "n", "dm").attrs["file"] == "DM.ndjson"
    # a whole double is written without ".0" (as XPT), a JSON boolean as true/false, null as ""
    doc["columns"].append({"itemOID": "IT.DM.X", "name": "X", "label": "x", "dataType": "boolean"})
    for row, x in zip(doc["rows"], [True, False, None] + [None] * len(doc["rows"])):
        row.append(x)
    doc["rows"][0][list(dm.columns).index("WEIGHTBL")] = 61.0
    (tmp_path / "j" / "dm.json").write_text(json.dumps(doc), encoding="utf-8")
    got = io.read_file(tmp_path / "j" / "dm.json")
    assert got.loc[0, "WEIGHTBL"] == "61" and got["X"].tolist()[:3] == ["true", "false", ""]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda doc: '{"columns": [', r"dm\.json: is not valid JSON \(line 1, column \d+"),
        (lambda doc: {"clinicalData": {}}, r"dm\.json: is Dataset-JSON v1\.0"),
        (lambda doc: doc | {"datasetJSONVersion": "1.0.0"}, r"datasetJSONVersion is '1\.0\.0'"),
        (lambda doc: {k: v for k, v in doc.items() if k != "records"}, r"attribute\(s\) missing: records"),
        (lambda doc: doc | {"records": 99}, r"'records' is 99 but the file holds \d+ row\(s\)"),
        (lambda doc: doc | {"rows": [doc["rows"][0][:-1]], "records": 1}, r"row 1: \d+ cell\(s\) for \d+ column\(s\)"),
        (
            lambda doc: doc | {"rows": [[{"a": 1}, *doc["rows"][0][1:]]]} | {"records": 1},
            r"row 1, column STUDYID: a cell",
        ),
        (lambda doc: doc | {"rows": [{"STUDYID": "x"}], "records": 1}, r"row 1: must be an array of cells"),
        (lambda doc: doc | {"columns": doc["columns"] + doc["columns"][:1]}, r"defined more than once: STUDYID"),
        (
            lambda doc: doc | {"columns": [doc["columns"][0] | {"dataType": "text"}]},
            r"column 1 \(STUDYID\): dataType 'text'",
        ),
        (
            lambda doc: doc | {"columns": [{"name": "STUDYID"}]},
            r"column 1 \(STUDYID\): attribute\(s\) missing: itemOID",
        ),
        (lambda doc: [], r"must hold a JSON object"),
    ],
)
def test_malformed_dataset_json_is_a_clear_read_error(tmp_path, edit, message):
    doc = edit(_dataset_json(mini_domains()["dm"]))
    (tmp_path / "dm.json").write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    with pytest.raises(io.ReadError, match=message):
        io.read_domain(tmp_path, "dm")


def test_malformed_ndjson_names_the_line(tmp_path):
    doc = _dataset_json(mini_domains()["dm"])
    _write_ndjson(doc, tmp_path / "dm.ndjson")
    lines = (tmp_path / "dm.ndjson").read_text().splitlines()
    lines[2] = lines[2][:-1]  # a row line cut short
    (tmp_path / "dm.ndjson").write_text("\n".join(lines) + "\n")
    with pytest.raises(io.ReadError, match=r"dm\.ndjson: is not valid JSON"):
        io.read_domain(tmp_path, "dm")
    (tmp_path / "dm.ndjson").write_text(json.dumps(doc) + "\n")  # rows inside the metadata line
    with pytest.raises(io.ReadError, match=r"line 1: the NDJSON metadata line must not hold 'rows'"):
        io.read_domain(tmp_path, "dm")
    (tmp_path / "dm.ndjson").write_text("")
    with pytest.raises(io.ReadError, match=r"dm\.ndjson: is empty"):
        io.read_domain(tmp_path, "dm")
    (tmp_path / "dm.ndjson").write_bytes(b"\xff\xfe{}")
    with pytest.raises(io.ReadError, match=r"not UTF-8"):
        io.read_domain(tmp_path, "dm")
    _write_ndjson(doc, tmp_path / "dm.ndjson")
    (tmp_path / "dm.json").write_text("{}")
    with pytest.raises(io.ReadError, match=r"ambiguous.*dm\.json, dm\.ndjson"):
        io.read_domain(tmp_path, "dm")


def test_a_cut_delivered_as_dataset_json_validates_like_csv(tmp_path):
    from analysis_lib.trial.validate import read_and_validate

    folder = write_cut(mini_domains(), tmp_path / "data")
    delivered = sorted(folder.glob("*.csv"))
    assert len(delivered) > len(DOMAINS) - 2  # the SDTM delivery: dm, suppdm, ae, suppae, relrec, pc, ...
    for csv in delivered:
        df = io.read_file(csv)
        _write_ndjson(_dataset_json(df, csv.stem.upper()), folder / f"{csv.stem}.ndjson")
        csv.unlink()
    frames, problems = read_and_validate(folder)
    assert problems == []
    assert {k: len(v) for k, v in frames.items()} == {k: len(v) for k, v in mini_domains().items()}
