"""The data cut applied by the pipeline: a delivery may be a snapshot holding records after the cut date.

Flow (docs/design.md §2): read + validate -> **apply the cut** (:func:`apply_cut`) -> derive ADaM. The
rules follow the pharmaverse R package ``datacutr`` (each function's docstring names the one it
mirrors); all work on the validated domains as delivered (strings), per domain:

1. ``subject`` — records of a subject whose informed consent (DM.RFICDTC) is after the cut are
   removed, in every domain (``datacutr::create_dcut`` + ``pt_cut``: the cut's subjects).
2. ``date`` — records whose start or only date (AESTDTC, CMSTDTC, RSDTC, DSSTDTC, SVSTDTC, ...) is
   after the cut are removed; deaths and disposition events after the cut go with them (DS)
   (``datacutr::date_cut``).
3. ``ongoing`` — an end date after the cut (AEENDTC, CMENDTC, PRENDTC) becomes empty: the record is
   ongoing at the cut; an AE's outcome is then the ongoing one (``NOT RECOVERED/NOT RESOLVED``).
   ``datacutr`` has no such rule (it cuts on start dates only); this is the ADaM convention that an
   end not known by the cut is ongoing, as the committed trial's deliveries hold it.
4. ``dm`` — DM dates after the cut are cleared: the death date with the death flag (DTHDTC, DTHFL;
   ``datacutr::special_dm_cut``) and the CD19 CAR-T date RFSTDTC (not yet infused at the cut).

A date is after the cut when its earliest possible day is (``YYYY-MM`` -> the 1st), as
``datacutr::impute_sdtm`` imputes a partial date before comparing; an empty date never cuts a record.
The cut log (:class:`CutLog`) lists every record removed or changed, by domain and rule; its ARD
(:func:`log_ard`) is the data-cut table of the provenance chapter.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from analysis_lib.toolkit import ard as ardlib
from analysis_lib.trial.sdtm import CUT_DATE_COLUMNS, DOMAINS
from analysis_lib.trial.validate import date_bounds

#: The rules, in the order they are applied: id -> what happens to a record (table column header).
RULES: dict[str, str] = {
    "subject": "Removed: consent after the cut",
    "date": "Removed: dated after the cut",
    "ongoing": "Changed: end date after the cut, set ongoing",
    "dm": "Changed: DM date after the cut, cleared",
}
#: DM columns cleared when after the cut, with the columns cleared with them (datacutr special_dm_cut).
DM_CLEARED: dict[str, tuple[str, ...]] = {"RFSTDTC": (), "DTHDTC": ("DTHFL",)}
#: The AE outcome of an event ongoing at the cut (a term of the input contract's AEOUT).
ONGOING_OUTCOME: dict[str, tuple[str, str]] = {"ae": ("AEOUT", "NOT RECOVERED/NOT RESOLVED")}
assert ONGOING_OUTCOME["ae"][1] in DOMAINS["ae"].column("AEOUT").terms
#: Name of the cut log beside the ADaM datasets (``adam/dcutlog.parquet``, :func:`log_frame`).
LOG_DATASET = "dcutlog"
#: Columns of the cut log, one row per record removed or changed.
LOG_COLUMNS = ["DOMAIN", "RULE", "ROW", "USUBJID", "KEY", "COLUMN", "VALUE"]


def end_columns(name: str) -> tuple[str, ...]:
    """End dates of a domain: the second of each (start, end) pair in the input contract."""
    return tuple(end for _, end in DOMAINS[name].dates)


def start_columns(name: str) -> tuple[str, ...]:
    """The start or only date(s) of a domain that cut its records (the contract's cut-date columns
    less its end dates; DM is cut by subject instead)."""
    if name == "dm":
        return ()
    return tuple(c for c in CUT_DATE_COLUMNS.get(name, ()) if c not in end_columns(name))


@dataclass(frozen=True)
class CutLog:
    """What the cut did: ``records`` (one row per record removed or changed, :data:`LOG_COLUMNS`;
    ROW is the 1-based data row of the delivered file) and ``delivered`` (records per domain)."""

    records: pd.DataFrame
    delivered: dict[str, int]


# ------------------------------------------------------------------------------ the rules, one each
def after_cut(values: pd.Series, cut_date: dt.date) -> pd.Series:
    """True where an ISO 8601 (possibly partial) date's earliest possible day is after the cut date
    (``datacutr::impute_sdtm`` then the ``>`` of ``date_cut``); empty or invalid dates are False."""
    lo, _ = date_bounds(values)
    return (lo > pd.Timestamp(cut_date)).fillna(False).astype(bool)


def cut_subjects(dm: pd.DataFrame, cut_date: dt.date) -> set[str]:
    """Subjects of the cut: informed consent (DM.RFICDTC) on or before the cut date, or not dated
    (``datacutr::create_dcut``, which keeps the subjects whose chosen DS date is not after the cut)."""
    return set(dm.loc[~after_cut(dm["RFICDTC"], cut_date), "USUBJID"])


def subject_cut(df: pd.DataFrame, subjects: set[str]) -> pd.Series:
    """Records to remove: those of subjects not in the cut (``datacutr::pt_cut``)."""
    return ~df["USUBJID"].isin(subjects)


def date_cut(df: pd.DataFrame, column: str, cut_date: dt.date) -> pd.Series:
    """Records to remove: ``column`` after the cut date (``datacutr::date_cut``)."""
    return after_cut(df[column], cut_date)


def ongoing_cut(df: pd.DataFrame, column: str, cut_date: dt.date) -> pd.Series:
    """Records whose end date ``column`` is after the cut: it becomes empty (ongoing at the cut).
    No ``datacutr`` counterpart: see the module docstring, rule 3."""
    return after_cut(df[column], cut_date)


def dm_cut(dm: pd.DataFrame, column: str, cut_date: dt.date) -> pd.Series:
    """DM records whose ``column`` (death date, first-dose date) is after the cut: it is cleared with
    the flags that go with it (``datacutr::special_dm_cut``, which clears DTHDTC and DTHFL)."""
    return after_cut(dm[column], cut_date)


# ------------------------------------------------------------------------------ applying them
def _key(df: pd.DataFrame, name: str) -> pd.Series:
    cols = [c for c in DOMAINS[name].key if c in df]
    return df[cols].astype(str).apply(lambda r: ", ".join(f"{c}={v}" for c, v in zip(cols, r)), axis=1)


def _log(df: pd.DataFrame, name: str, rule: str, column: str, hit: pd.Series) -> pd.DataFrame:
    """Cut-log rows of the records ``hit`` (index = delivered row - 1)."""
    sel = df[hit]
    return pd.DataFrame(
        {
            "DOMAIN": name.upper(),
            "RULE": rule,
            "ROW": (sel.index + 1).astype(int),
            "USUBJID": sel["USUBJID"].astype(str),
            "KEY": _key(sel, name) if len(sel) else pd.Series(dtype=str),
            "COLUMN": column,
            "VALUE": sel[column].astype(str) if column in sel else "",
        },
        columns=LOG_COLUMNS,
    )


def cut_domain(
    df: pd.DataFrame, name: str, subjects: set[str] | None, cut_date: dt.date
) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """One domain cut: the frame as it stood at the cut (0-based RangeIndex again) and its log rows.
    ``subjects`` None (no DM to take them from): no subject rule."""
    logs: list[pd.DataFrame] = []
    out = df.copy()
    if subjects is not None and "USUBJID" in out:
        hit = subject_cut(out, subjects)
        logs.append(_log(out, name, "subject", "RFICDTC" if name == "dm" else "USUBJID", hit))
        out = out[~hit]
    for col in start_columns(name):
        if col in out:
            hit = date_cut(out, col, cut_date)
            logs.append(_log(out, name, "date", col, hit))
            out = out[~hit]
    out = out.copy()
    for col in end_columns(name):
        if col in out:
            hit = ongoing_cut(out, col, cut_date)
            logs.append(_log(out, name, "ongoing", col, hit))
            out.loc[hit, col] = ""
            if name in ONGOING_OUTCOME and ONGOING_OUTCOME[name][0] in out:
                out.loc[hit, ONGOING_OUTCOME[name][0]] = ONGOING_OUTCOME[name][1]
    if name == "dm":
        for col, with_it in DM_CLEARED.items():
            if col in out:
                hit = dm_cut(out, col, cut_date)
                logs.append(_log(out, name, "dm", col, hit))
                for c in (col, *with_it):
                    if c in out:
                        out.loc[hit, c] = ""
    out = out.reset_index(drop=True)
    out.attrs = dict(df.attrs)
    return out, logs


def apply_cut(domains: dict[str, pd.DataFrame], cut_date: dt.date) -> tuple[dict[str, pd.DataFrame], CutLog]:
    """Every domain as it stood at ``cut_date`` (validated string frames in, the same shape out) and
    the cut log. A delivery holding nothing after the cut comes out equal to what went in."""
    subjects = cut_subjects(domains["dm"], cut_date) if "dm" in domains else None
    out: dict[str, pd.DataFrame] = {}
    logs: list[pd.DataFrame] = []
    for name, df in domains.items():
        out[name], rows = cut_domain(df, name, subjects, cut_date)
        logs += rows
    records = pd.concat(logs, ignore_index=True) if logs else pd.DataFrame(columns=LOG_COLUMNS)
    return out, CutLog(records.astype({"ROW": int}), {n: len(df) for n, df in domains.items()})


# ------------------------------------------------------------------------------ the cut log
def applicable_rules(name: str) -> list[tuple[str, tuple[str, ...]]]:
    """The rules that apply to a domain, with the columns they read."""
    rules: list[tuple[str, tuple[str, ...]]] = [("subject", ("RFICDTC",) if name == "dm" else ("USUBJID",))]
    if start_columns(name):
        rules.append(("date", start_columns(name)))
    if end_columns(name):
        rules.append(("ongoing", end_columns(name)))
    if name == "dm":
        rules.append(("dm", tuple(DM_CLEARED)))
    return rules


def log_ard(log: CutLog) -> pd.DataFrame:
    """The cut log as an ARD: per domain (group1 ``DOMAIN``), the records delivered, then per rule
    that applies to it (variable ``RULE``, variable_level the rule id) the records removed or changed
    (stat ``n``), then the records analysed. Every applicable rule has a row, 0 included."""
    rows: list[tuple[str | int | None, ...]] = []
    counts = log.records.groupby(["DOMAIN", "RULE"]).size().to_dict() if len(log.records) else {}
    for name in DOMAINS:
        if name not in log.delivered:
            continue
        dom = name.upper()
        removed = 0
        rows.append(("DOMAIN", dom, None, None, "RECORDS", "delivered", "n", int(log.delivered[name])))
        for rule, cols in applicable_rules(name):
            n = int(counts.get((dom, rule), 0))
            removed += n if rule in ("subject", "date") else 0
            rows.append(("DOMAIN", dom, "COLUMN", ", ".join(cols), "RULE", rule, "n", n))
        rows.append(("DOMAIN", dom, None, None, "RECORDS", "analysed", "n", int(log.delivered[name]) - removed))
    return ardlib.frame(rows)


def log_table(ard: pd.DataFrame) -> pd.DataFrame:
    """The display frame of :func:`log_ard`: one row per domain; a rule that does not apply reads ``-``."""
    body = []
    for dom, g in ard.groupby("group1_level", sort=False):
        rec = dict(zip(g["variable_level"], g["stat_value"]))
        row = {"Domain": str(dom), "Delivered": str(rec["delivered"])}
        row.update({text: str(rec[rule]) if rule in rec else "-" for rule, text in RULES.items()})
        row["Analysed"] = str(rec["analysed"])
        body.append(row)
    return pd.DataFrame(body, columns=["Domain", "Delivered", *RULES.values(), "Analysed"])


def log_summary(ard: pd.DataFrame, cut_date: dt.date | str) -> str:
    """One sentence of running text from :func:`log_ard`: what the cut removed and changed."""
    rules = ard[ard["variable"] == "RULE"]
    removed = int(rules.loc[rules["variable_level"].isin(["subject", "date"]), "stat_value"].sum())
    changed = int(rules.loc[rules["variable_level"].isin(["ongoing", "dm"]), "stat_value"].sum())
    if removed == changed == 0:
        return f"The delivery holds no record dated after the cut-off date {cut_date}: the data cut changed nothing."
    per = rules[rules["stat_value"] > 0]
    parts = [
        f"{dom} "
        + ", ".join(f"{n} {RULES[rule].split(': ', 1)[1]}" for rule, n in g[["variable_level", "stat_value"]].values)
        for dom, g in per.groupby("group1_level", sort=False)
    ]
    return (
        f"The delivery is a snapshot holding records after the cut-off date {cut_date}: the data cut removed "
        f"{removed} record{'s' if removed != 1 else ''} and changed {changed} ({'; '.join(parts)})."
    )


def log_frame(log: CutLog) -> pd.DataFrame:
    """The cut log as one frame to store beside the ADaM datasets (``adam/dcutlog.parquet``): the
    records removed or changed, then one ``DELIVERED`` row per domain holding its record count in ROW."""
    delivered = pd.DataFrame(
        [(n.upper(), "DELIVERED", k, "", "", "", "") for n, k in log.delivered.items()], columns=LOG_COLUMNS
    )
    return pd.concat([log.records, delivered], ignore_index=True).astype({"ROW": int})


def read_log_frame(df: pd.DataFrame) -> CutLog:
    """:func:`log_frame` back into a :class:`CutLog`."""
    deliv = df["RULE"] == "DELIVERED"
    delivered = {str(d).lower(): int(n) for d, n in zip(df.loc[deliv, "DOMAIN"], df.loc[deliv, "ROW"])}
    return CutLog(df[~deliv].reset_index(drop=True), delivered)
