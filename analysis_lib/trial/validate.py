"""Validate the SDTM-like inputs of a data cut against :mod:`analysis_lib.trial.sdtm` (``csr validate``).

All problems are collected and reported at once, each naming the file, the column, a few 1-based
data row numbers (header not counted) and the rule, in plain words::

    ae.csv, column AETOXGR, rows 12, 40: value 7 not in 1-5 [grade range]

Per-column rules (non-empty required values, int/float parse, controlled terms, ISO 8601 dates,
grade range) are a pandera schema built from the contract and run with ``lazy=True``; the
cross-row and cross-domain rules (unique keys, subjects known in DM, end >= start, no dosing before
consent, dose levels declared in the study parameters) are plain pandas. Records dated after the
data cut are not a problem: a delivery may be a snapshot, and the pipeline applies the cut after
validation (:mod:`analysis_lib.trial.datacut`). Dates: ``date`` columns must be full
``YYYY-MM-DD`` calendar dates; ``pdate`` columns may also be ``YYYY-MM`` or ``YYYY`` and are
compared by their earliest/latest possible day (an end is "before its start" only if its latest
possible day is before the start's earliest possible day).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

import pandas as pd
import pandera.pandas as pa

from analysis_lib.toolkit import escape
from analysis_lib.trial import sdtm_standard
from analysis_lib.trial.io import read_delivery
from analysis_lib.trial.problems import MAX_ROWS_SHOWN, Problem
from analysis_lib.trial.problems import more as _more
from analysis_lib.trial.problems import rows as _rows
from analysis_lib.trial.sdtm import DOMAINS, LB_TESTS, Domain

if TYPE_CHECKING:
    from analysis_lib.trial.config import Cut

# Numeric ranges that are part of the input contract: (domain, column) -> (low, high), inclusive.
RANGES: dict[tuple[str, str], tuple[int, int]] = {("ae", "AETOXGR"): (1, 5)}

_INT = r"[+-]?\d+"
_FULL_DATE = r"\d{4}-\d{2}-\d{2}"
_PARTIAL_DATE = r"\d{4}(-\d{2}(-\d{2})?)?"


class ValidationFailed(Exception):
    """Raised by ``csr derive`` when the inputs have problems; carries them all."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__(format_problems(self.problems))


def format_problems(problems: list[Problem]) -> str:
    """A readable multi-line report of all problems (for the command line)."""
    if not problems:
        return "No problems found."
    if all(p.rule in sdtm_standard.CONTENT_RULES for p in problems):
        head = (
            f"The delivery is read as standard SDTM but lacks what a CAR-T report needs "
            f"({len(problems)} item{'s' if len(problems) != 1 else ''}):"
        )
        return "\n".join([head] + [f"  - {p}" for p in problems])
    head = f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found in the input data:"
    return "\n".join([head] + [f"  - {p}" for p in problems])


# ---------------------------------------------------------------- dates shared with derive


def date_bounds(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Earliest and latest possible day of each ISO 8601 (possibly partial) date string.

    ``YYYY-MM-DD`` -> that day twice; ``YYYY-MM`` -> first and last day of the month; ``YYYY`` ->
    1 January and 31 December. Empty or invalid -> NaT.
    """
    s = values.astype("string[pyarrow]").str.strip()
    full = pd.to_datetime(s.where(s.str.fullmatch(_FULL_DATE)), format="%Y-%m-%d", errors="coerce")
    month = pd.to_datetime(s.where(s.str.fullmatch(r"\d{4}-\d{2}")) + "-01", format="%Y-%m-%d", errors="coerce")
    year = pd.to_datetime(s.where(s.str.fullmatch(r"\d{4}")) + "-01-01", format="%Y-%m-%d", errors="coerce")
    lo = full.fillna(month).fillna(year)
    hi = full.fillna(month + pd.offsets.MonthEnd(0)).fillna(year + pd.offsets.YearEnd(0))
    return lo, hi


# ---------------------------------------------------------------- per-column schema


def _blank(s: pd.Series) -> pd.Series:
    """Empty or whitespace only: a missing value (the required-value rule reports it, if any)."""
    return s.str.strip() == ""


def _valid_date(s: pd.Series, partial: bool) -> pd.Series:
    lo, _ = date_bounds(s)
    shape = s.str.fullmatch(_PARTIAL_DATE if partial else _FULL_DATE)
    return _blank(s) | (shape & lo.notna())


def _valid_number(s: pd.Series) -> pd.Series:
    num = pd.to_numeric(s.where(~_blank(s)), errors="coerce")
    return _blank(s) | (num.notna() & num.abs().lt(float("inf")))


def domain_schema(domain: Domain, present: list[str]) -> pa.DataFrameSchema:
    """The pandera schema for the columns of ``domain`` that are present in the file.

    Each check's name is the rule and its error text the plain-words message suffix.
    """
    columns = {}
    for col in domain.columns:
        if col.name not in present:
            continue
        checks = []
        if col.required and not col.nullable:
            checks.append(pa.Check(lambda s: ~_blank(s), name="required value", error="is empty (a value is required)"))
        if col.kind == "int":
            checks.append(
                pa.Check(lambda s: _blank(s) | s.str.fullmatch(_INT), name="type", error="is not a whole number")
            )
        elif col.kind == "float":
            checks.append(pa.Check(_valid_number, name="type", error="is not a number"))
        elif col.kind in ("date", "pdate"):
            partial = col.kind == "pdate"
            checks.append(
                pa.Check(
                    lambda s, p=partial: _valid_date(s, p),
                    name="ISO 8601 date",
                    error="is not an ISO 8601 date (" + ("YYYY-MM-DD, YYYY-MM or YYYY)" if partial else "YYYY-MM-DD)"),
                )
            )
        if col.kind == "cat":
            terms = set(col.terms)
            checks.append(
                pa.Check(
                    lambda s, t=terms: _blank(s) | s.isin(t),
                    name="controlled term",
                    error="not in the controlled terms (" + ", ".join(repr(t) for t in col.terms if t) + ")",
                )
            )
        if (domain.name, col.name) in RANGES:
            low, high = RANGES[(domain.name, col.name)]
            checks.append(
                pa.Check(
                    lambda s, a=low, b=high: (
                        ~s.str.fullmatch(_INT)
                        | pd.to_numeric(s.where(s.str.fullmatch(_INT)), errors="coerce").between(a, b)
                    ),
                    name="grade range" if col.name == "AETOXGR" else "range",
                    error=f"not in {low}-{high}",
                )
            )
        columns[col.name] = pa.Column(None, checks=checks, nullable=True, required=False)
    return pa.DataFrameSchema(columns, strict=False)


# ---------------------------------------------------------------- helpers


def _list(values) -> str:
    uniq = list(dict.fromkeys(str(v) for v in values))
    shown = ", ".join(repr(v) if v == "" or v != v.strip() else v for v in uniq[:MAX_ROWS_SHOWN])
    return shown + (", ..." if len(uniq) > MAX_ROWS_SHOWN else "")


def _values(values) -> str:
    return ("value " if len(set(map(str, values))) == 1 else "values ") + _list(values)


def _column_problems(file: str, domain: Domain, df: pd.DataFrame) -> list[Problem]:
    """Missing required columns, then the pandera per-column checks."""
    problems = [
        Problem(file, c.name, (), "required column", "required column is missing")
        for c in domain.columns
        if c.required and c.name not in df.columns
    ]
    schema = domain_schema(domain, list(df.columns))
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        fc = fc[fc["index"].notna()]
        order = {c.name: i for i, c in enumerate(domain.columns)}
        groups = sorted(
            fc.groupby(["column", "check"], sort=False), key=lambda kv: (order.get(kv[0][0], 99), str(kv[0][1]))
        )
        for (column, check), g in groups:
            g = g.sort_values("index")
            rule = next((ch.name for ch in schema.columns[column].checks if ch.error == check), check)
            what = "value" if rule == "required value" else _values(g["failure_case"])
            problems.append(Problem(file, column, _rows(g["index"]), rule, f"{what} {check}{_more(len(g))}"))
    return problems


def _dup_problems(file: str, df: pd.DataFrame, key: tuple[str, ...], rule: str, what: str) -> list[Problem]:
    """One problem listing rows whose ``key`` values occur more than once."""
    if not set(key) <= set(df.columns):
        return []
    dup = df[df.duplicated(list(key), keep=False)]
    if dup.empty:
        return []
    groups = list(dup.groupby(list(key), sort=False))
    descs = [
        ", ".join(f"{k}={v}" for k, v in zip(key, vals if isinstance(vals, tuple) else (vals,)))
        for vals, _ in groups[:3]
    ]
    more = f" ({len(groups)} duplicated in all)" if len(groups) > 3 else ""
    return [Problem(file, "+".join(key), _rows(sorted(dup.index)), rule, f"duplicate {what} {'; '.join(descs)}{more}")]


# Natural keys the derivations rely on beyond the contract's unique keys:
# (domain, row filter or None, key, rule, what)
EXTRA_KEYS = (
    ("ck", None, ("USUBJID", "CKTRT", "CKSPEC", "CKMETHOD", "CKDTC"), "one sample per day", "sample"),
    ("ds", ("DSDECOD", "DEATH"), ("USUBJID",), "one death per subject", "death record for"),
    ("lb", None, ("USUBJID", "LBTESTCD", "LBDTC"), "one result per test per day", "result"),
)


def _where(
    file: str, col: str, df: pd.DataFrame, mask: pd.Series, rule: str, message: Callable[[], str]
) -> list[Problem]:
    """One problem naming the rows where ``mask`` holds (none when it holds nowhere); ``message``
    is built only then."""
    return [Problem(file, col, _rows(df.index[mask]), rule, message())] if mask.any() else []


def _lb_problems(file: str, df: pd.DataFrame) -> list[Problem]:
    """LB rules beyond the column types: known test codes, the test's unit, numeric non-negative
    results (no '<x' strings: a value below a limit of quantification is delivered as a number or
    the record is left out, never as text), normal ranges with low <= high."""
    if "LBTESTCD" not in df:
        return []
    code = df["LBTESTCD"].astype(str).str.strip()
    known = code.isin(list(LB_TESTS))
    bad = ~known & ~_blank(code)
    out = _where(
        file,
        "LBTESTCD",
        df,
        bad,
        "known test code",
        lambda: (
            f"{_values(code[bad])} not a test of the input contract "
            f"({', '.join(LB_TESTS)}; sdtm.LB_TESTS){_more(int(bad.sum()))}"
        ),
    )
    if "LBSTRESU" in df:
        expected = code.map({k: t.unit for k, t in LB_TESTS.items()})
        unit = df["LBSTRESU"].astype(str).str.strip()
        wrong = known & (unit != expected)
        out += _where(
            file,
            "LBSTRESU",
            df,
            wrong,
            "unit of the test",
            lambda: (
                f"{_values(unit[wrong])} not the standard unit of the test "
                f"(e.g. {code[wrong.idxmax()]} is in {expected[wrong.idxmax()]}){_more(int(wrong.sum()))}"
            ),
        )
    for col in ("LBORRES", "LBSTRESN"):
        if col not in df:
            continue
        text = df[col].astype(str).str.strip()
        num = pd.to_numeric(text.where(~_blank(text)), errors="coerce")
        if col == "LBORRES":
            censored = text.str.match(r"^\s*[<>]")
            out += _where(
                file,
                col,
                df,
                censored,
                "no '<x' results",
                lambda: (
                    f"{_values(text[censored])} is a censored result: deliver the number (LBSTRESN) or "
                    f"leave the record out{_more(int(censored.sum()))}"
                ),
            )
            nonnumeric = ~censored & ~_blank(text) & num.isna()
            out += _where(
                file,
                col,
                df,
                nonnumeric,
                "numeric result",
                lambda: f"{_values(text[nonnumeric])} is not a number{_more(int(nonnumeric.sum()))}",
            )
        neg = num < 0
        out += _where(
            file,
            col,
            df,
            neg,
            "non-negative result",
            lambda: f"{_values(text[neg])} is negative (a count or concentration){_more(int(neg.sum()))}",
        )
    if {"LBSTNRLO", "LBSTNRHI"} <= set(df.columns):
        lo = pd.to_numeric(df["LBSTNRLO"].astype(str).str.strip().replace("", None), errors="coerce")
        hi = pd.to_numeric(df["LBSTNRHI"].astype(str).str.strip().replace("", None), errors="coerce")
        inverted = lo > hi
        first = inverted.idxmax() if inverted.any() else None
        out += _where(
            file,
            "LBSTNRLO",
            df,
            inverted,
            "normal range low <= high",
            lambda: (
                f"lower limit {df.at[first, 'LBSTNRLO']} above upper limit {df.at[first, 'LBSTNRHI']}"
                f"{_more(int(inverted.sum()))}"
            ),
        )
    return out


def _key_problems(file: str, name: str, df: pd.DataFrame) -> list[Problem]:
    out = _dup_problems(file, df, DOMAINS[name].key, "unique key", "key")
    for dom, where, key, rule, what in EXTRA_KEYS:
        if dom == name and (where is None or where[0] in df):
            out += _dup_problems(file, df if where is None else df[df[where[0]] == where[1]], key, rule, what)
    return out


def _cross_problems(frames: dict[str, pd.DataFrame], files: dict[str, str]) -> list[Problem]:
    """Rules that span rows or domains: known subjects, chronology, dosing vs consent."""
    out: list[Problem] = []
    dm = frames.get("dm")
    known = set(dm["USUBJID"]) if dm is not None and "USUBJID" in dm else None
    for name, df in frames.items():
        file, domain = files[name], DOMAINS[name]
        if known is not None and name != "dm" and "USUBJID" in df:
            bad = df[~df["USUBJID"].isin(known) & ~_blank(df["USUBJID"])]
            if len(bad):
                out.append(
                    Problem(
                        file,
                        "USUBJID",
                        _rows(bad.index),
                        "known subject",
                        f"subject {_list(bad['USUBJID'])} not in {files['dm']}{_more(len(bad))}",
                    )
                )
        for start, end in domain.dates:
            if start in df and end in df:
                s_lo, _ = date_bounds(df[start])
                _, e_hi = date_bounds(df[end])
                bad = e_hi < s_lo
                if bad.any():
                    first = bad.idxmax()
                    out.append(
                        Problem(
                            file,
                            end,
                            _rows(df.index[bad]),
                            "end >= start",
                            f"{end} {df.at[first, end]} is before {start} {df.at[first, start]}{_more(int(bad.sum()))}",
                        )
                    )
    ex = frames.get("ex")
    if dm is not None and ex is not None and {"USUBJID", "RFICDTC"} <= set(dm) and {"USUBJID", "EXSTDTC"} <= set(ex):
        consent = date_bounds(dm.drop_duplicates("USUBJID").set_index("USUBJID")["RFICDTC"])[0]
        dose = date_bounds(ex["EXSTDTC"])[0]
        bad = dose < ex["USUBJID"].map(consent)
        if bad.any():
            first = bad.idxmax()
            out.append(
                Problem(
                    files["ex"],
                    "EXSTDTC",
                    _rows(ex.index[bad]),
                    "no dosing before consent",
                    f"infusion on {ex.at[first, 'EXSTDTC']} before informed consent "
                    f"(dm RFICDTC {dm.loc[dm['USUBJID'] == ex.at[first, 'USUBJID'], 'RFICDTC'].iloc[0]}) "
                    f"for {ex.at[first, 'USUBJID']}{_more(int(bad.sum()))}",
                )
            )
    return out + _consistency_problems(frames, files)


# ---------------------------------------------------------------- clinical consistency


def _has(df: pd.DataFrame | None, *cols: str) -> TypeGuard[pd.DataFrame]:
    return df is not None and set(cols) <= set(df.columns)


def _subject_date(dm: pd.DataFrame, col: str) -> pd.Series:
    """``dm[col]`` as the earliest possible day, indexed by USUBJID (first row per subject)."""
    return date_bounds(dm.drop_duplicates("USUBJID").set_index("USUBJID")[col])[0]


def _before(
    file: str, df: pd.DataFrame, col: str, mask: pd.Series, rule: str, what: str, ref: pd.Series
) -> list[Problem]:
    """One problem for the rows in ``mask``: ``df[col]`` is before the subject's ``ref`` date."""
    if not mask.any():
        return []
    first = mask.idxmax()
    subj = df.at[first, "USUBJID"]
    ref_day = ref.get(subj)
    shown = ref_day.date().isoformat() if isinstance(ref_day, pd.Timestamp) else str(ref_day)
    return [
        Problem(
            file,
            col,
            _rows(df.index[mask]),
            rule,
            f"{what} on {df.at[first, col]} for {subj} is before {shown}{_more(int(mask.sum()))}",
        )
    ]


def _kinetics_problems(file: str, ck: pd.DataFrame) -> list[Problem]:
    """Kinetic results are amounts (never negative), and CKSTRESN is CKORRES as a number."""
    out: list[Problem] = []
    if not _has(ck, "CKSTRESN"):
        return out
    num = pd.to_numeric(ck["CKSTRESN"].where(~_blank(ck["CKSTRESN"])), errors="coerce")
    for col, values in (("CKSTRESN", num), ("CKLLOQ", pd.to_numeric(ck.get("CKLLOQ"), errors="coerce"))):
        if values is None:
            continue
        bad = values < 0
        if bad.any():
            out.append(
                Problem(
                    file,
                    col,
                    _rows(ck.index[bad]),
                    "not negative",
                    f"{_values(ck.loc[bad, col])} below 0 (cell counts and copy numbers cannot be "
                    f"negative){_more(int(bad.sum()))}",
                )
            )
    if "CKORRES" in ck:
        orres = ck["CKORRES"].str.strip()
        blq = orres.str.startswith("<")
        as_num = pd.to_numeric(orres.where(~blq & ~_blank(ck["CKORRES"])), errors="coerce")
        agree = (blq & num.isna()) | (
            ~blq & as_num.notna() & num.notna() & ((as_num - num).abs() <= 1e-9 * num.abs().clip(lower=1))
        )
        bad = ~agree & ~_blank(ck["CKORRES"]) & ~(~blq & as_num.isna())  # unparsable text: own rule below
        if bad.any():
            first = bad.idxmax()
            out.append(
                Problem(
                    file,
                    "CKSTRESN",
                    _rows(ck.index[bad]),
                    "CKSTRESN agrees with CKORRES",
                    f"CKSTRESN {ck.at[first, 'CKSTRESN'] or 'empty'} does not match CKORRES "
                    f"{ck.at[first, 'CKORRES']} (a number is the same number; '<LLOQ' has no "
                    f"CKSTRESN){_more(int(bad.sum()))}",
                )
            )
        text = ~blq & as_num.isna() & ~_blank(ck["CKORRES"])
        if text.any():
            out.append(
                Problem(
                    file,
                    "CKORRES",
                    _rows(ck.index[text]),
                    "numeric or <LLOQ",
                    f"{_values(ck.loc[text, 'CKORRES'])} is neither a number nor '<LLOQ'{_more(int(text.sum()))}",
                )
            )
    return out


def _consistency_problems(frames: dict[str, pd.DataFrame], files: dict[str, str]) -> list[Problem]:
    """Clinical order and completeness a report relies on (issue 14, item 5): kinetic values,
    CD19 before CD22, an infusion date backed by an exposure record, nothing done before consent,
    no death before the infusion, no empty domain where the trial cannot have none."""
    out: list[Problem] = []
    dm, ex, pr, ds, ck = (frames.get(n) for n in ("dm", "ex", "pr", "ds", "ck"))
    if ck is not None:
        out += _kinetics_problems(files["ck"], ck)
    treated = dm is not None and _has(dm, "RFSTDTC") and bool((~_blank(dm["RFSTDTC"])).any())
    for name in ("dm", "ex", "ae") if treated else ("dm",):
        df = frames.get(name)
        if df is not None and len(df) == 0:
            why = "no subjects" if name == "dm" else "subjects with a CD19 CAR-T infusion date in dm but none here"
            out.append(Problem(files[name], "", (), "records present", f"the file has a header but no records ({why})"))
    if _has(ex, "USUBJID", "EXTRT", "EXSTDTC"):
        day = date_bounds(ex["EXSTDTC"])[0]
        first19 = day[ex["EXTRT"] == "CD19 CAR-T"].groupby(ex["USUBJID"]).min()
        cd22 = ex["EXTRT"] == "CD22 CAR-T"
        out += _before(
            files["ex"],
            ex,
            "EXSTDTC",
            cd22 & (day < ex["USUBJID"].map(first19)),
            "CD19 before CD22 CAR-T",
            "CD22 CAR-T infusion",
            first19.rename("CD19 CAR-T infusion"),
        )
        if _has(dm, "USUBJID", "RFSTDTC"):
            infused = dm[~_blank(dm["RFSTDTC"])]
            missing = infused[~infused["USUBJID"].isin(set(ex.loc[ex["EXTRT"] == "CD19 CAR-T", "USUBJID"]))]
            if len(missing):
                out.append(
                    Problem(
                        files["dm"],
                        "RFSTDTC",
                        _rows(missing.index),
                        "infusion has an exposure record",
                        f"subject {_list(missing['USUBJID'])} has a CD19 CAR-T infusion date but no "
                        f"CD19 CAR-T record in {files['ex']}{_more(len(missing))}",
                    )
                )
    if _has(dm, "USUBJID", "RFICDTC") and _has(pr, "USUBJID", "PRSTDTC"):
        consent = _subject_date(dm, "RFICDTC")
        day = date_bounds(pr["PRSTDTC"])[0]
        mask = day < pr["USUBJID"].map(consent)
        what = str(pr.loc[mask, "PRCAT"].iloc[0]).lower() if mask.any() and "PRCAT" in pr else "procedure"
        out += _before(files["pr"], pr, "PRSTDTC", mask, "no procedure before consent", what, consent)
    if _has(dm, "USUBJID", "RFSTDTC") and _has(ds, "USUBJID", "DSDECOD", "DSSTDTC"):
        infusion = _subject_date(dm, "RFSTDTC")
        mask = (ds["DSDECOD"] == "DEATH") & (date_bounds(ds["DSSTDTC"])[0] < ds["USUBJID"].map(infusion))
        out += _before(files["ds"], ds, "DSSTDTC", mask, "no death before infusion", "death", infusion)
    return out


# ---------------------------------------------------------------- entry points


def param_problems(frames: dict[str, pd.DataFrame], files: dict[str, str], study: Mapping[str, Any]) -> list[Problem]:
    """The data against ``params/study.yml``: every dose level a subject is assigned (DM.DOSELVL)
    is declared in ``dose_levels`` (else the subject would silently fall out of every by-level table)."""
    dm = frames.get("dm")
    if dm is None or "DOSELVL" not in dm:
        return []
    declared = {str(d["level"]) for d in study["dose_levels"]}
    values = dm["DOSELVL"].str.strip()
    bad = values.str.fullmatch(_INT).fillna(False).astype(bool) & ~values.isin(declared)
    if not bad.any():
        return []
    return [
        Problem(
            files["dm"],
            "DOSELVL",
            _rows(dm.index[bad]),
            "dose level in params",
            f"dose level{'s' if values[bad].nunique() > 1 else ''} {_list(values[bad])} not among the dose "
            f"levels of params/study.yml dose_levels ({', '.join(sorted(declared))}){_more(int(bad.sum()))}",
        )
    ]


def validate_frames(
    frames: dict[str, pd.DataFrame], files: dict[str, str] | None = None, study: Mapping[str, Any] | None = None
) -> list[Problem]:
    """All problems in already-read domain frames (string values as delivered); with ``study``, also
    the data against the study parameters (:func:`param_problems`).

    Nothing here depends on the data cut date: a snapshot may hold records after it, and the cut is
    applied after validation (:mod:`analysis_lib.trial.datacut`)."""
    files = {n: (files or {}).get(n) or frames[n].attrs.get("file") or f"{n}.csv" for n in frames}
    # Arrow-backed strings make the vectorised string checks several times faster.
    frames = {n: df.astype("string[pyarrow]") for n, df in frames.items()}
    problems: list[Problem] = []
    for name, df in frames.items():
        problems += _column_problems(files[name], DOMAINS[name], df)
        problems += _key_problems(files[name], name, df)
        if name == "lb":
            problems += _lb_problems(files[name], df)
    problems += _cross_problems(frames, files)
    if study is not None:
        problems += param_problems(frames, files, study)
    return problems


def _delivered(
    p: Problem, view: dict[str, pd.DataFrame], origins: dict[str, dict[str, sdtm_standard.Origin]]
) -> Problem:
    """A problem found in the analysis view, in the delivery's terms: the delivered file and column
    the value came from (``suppae.xpt, column QVAL where QNAM=AEDLT``) and its delivered rows (a
    view row no record was delivered for is named by its subject)."""
    name = next((n for n, df in view.items() if df.attrs.get("file") == p.file), None)
    if name is None or name not in origins:
        return p
    where = origins[name]
    parts = [where[c] for c in p.column.split("+") if c in where] if p.column else []
    if not parts:
        return Problem(p.file, p.column, p.rows, p.rule, sdtm_standard.rename_in_message(p.message, where))
    file = parts[0].file
    column = "+".join(o.column for o in parts)
    rows: list = []
    for r in p.rows:
        if isinstance(r, int):
            row = parts[0].row(r)
            df = view[name]
            rows.append(row if row else df.at[r - 1, "USUBJID"] if 0 < r <= len(df) else r)
        else:
            rows.append(r)
    return Problem(file, column, tuple(dict.fromkeys(rows)), p.rule, sdtm_standard.rename_in_message(p.message, where))


def validate_delivery(
    frames: dict[str, pd.DataFrame], study: Mapping[str, Any] | None = None
) -> tuple[dict[str, pd.DataFrame], list[Problem]]:
    """All problems of a delivered SDTM snapshot (string frames as read) and, when it has what a
    CAR-T report needs, its analysis view.

    Order: the standard structure (:func:`analysis_lib.trial.sdtm_standard.delivery_issues`), then
    what the report needs beyond standard SDTM (``content_issues``); if a need is not met, those
    are the problems and no view is built (empty dict). Otherwise the view is built and the trial's
    rules (:func:`validate_frames`) run on it, each problem named by the delivered file, column and
    rows it came from."""
    problems = sdtm_standard.delivery_issues(frames)
    needs = sdtm_standard.content_issues(frames)
    if needs or any(p.rule == "required variable" for p in problems):
        return {}, problems + needs
    problems += sdtm_standard.link_issues(frames)
    view, origins = sdtm_standard.build_view(frames)
    seen = {(p.file, p.column) for p in problems if p.rule == "ISO 8601"}
    for p in validate_frames(view, study=study):
        q = _delivered(p, view, origins)
        if not (q.rule == "ISO 8601 date" and (q.file, q.column) in seen):
            problems.append(q)
    return {name: view[name] for name in DOMAINS}, problems


def read_and_validate(
    data_dir: Path, study: Mapping[str, Any] | None = None
) -> tuple[dict[str, pd.DataFrame], list[Problem]]:
    """Read the SDTM delivery of a data folder and validate it (with ``study``: against the study
    parameters too); unreadable files become problems. Returns the analysis view (empty when the
    delivery lacks what the report needs) and the problems."""
    frames, errors = read_delivery(data_dir)
    problems = [Problem(e.file, "", (), "file present and readable", e.message) for e in errors]
    if errors:
        return {}, problems
    view, found = validate_delivery(frames, study)
    return view, problems + found


def font_warnings(frames: dict[str, pd.DataFrame]) -> list[Problem]:
    """Text the PDF's fonts cannot set (emoji, CJK, right-to-left scripts), one warning per file and
    column naming the rows: the report is still built, showing each such character in the PDF as a
    marker ``[U+XXXX]`` (:func:`analysis_lib.toolkit.escape.unsettable`); the HTML shows it as it is."""
    out: list[Problem] = []
    for name, df in frames.items():
        file = df.attrs.get("file") or f"{name}.csv"
        for col in df.columns:
            values = df[col].astype(str)
            odd = values.map(lambda v: bool(escape.unsettable(v)))
            if odd.any():
                chars = sorted({c for v in values[odd] for c in escape.unsettable(v)})
                shown = ", ".join(f"{c} {escape.marker(c)}" for c in chars[:MAX_ROWS_SHOWN])
                out.append(
                    Problem(
                        file,
                        str(col),
                        _rows(df.index[odd]),
                        "characters the PDF can set",
                        f"{shown}{', ...' if len(chars) > MAX_ROWS_SHOWN else ''} cannot be set in the "
                        f"PDF's fonts; the PDF shows the marker instead{_more(int(odd.sum()))}",
                    )
                )
    return out


def validate_cut(cut: Cut, study: Mapping[str, Any] | None = None) -> list[Problem]:
    """All problems in the inputs of ``cut`` (empty list = valid), the data against the study
    parameters included (``study``, default ``params/study.yml``). Never raises for a data problem."""
    from analysis_lib.trial.config import load_study

    return read_and_validate(cut.data_dir, load_study(cut.root) if study is None else study)[1]
