"""Checks and small helpers on input frames, shared by every analysis (one copy of each rule).

Errors are ``ValueError`` naming the dataset (``what``), the column, the rows and the rule —
never a bare ``KeyError`` from deep inside pandas.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd


def py(v: Any) -> Any:
    """Plain Python scalar (int/float/str/None) for object-dtype ARD values."""
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    return v


def is_missing_value(x: Any) -> bool:
    """True for None, NaN, NaT and pandas NA (one scalar test used by every formatter)."""
    if x is None:
        return True
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def rows_where(mask: pd.Series, limit: int = 10) -> str:
    """'rows [3, 7] (+2 more)': the index labels where ``mask`` holds, for error messages."""
    idx = list(mask[mask].index[:limit])
    more = "" if int(mask.sum()) <= limit else f" (+{int(mask.sum()) - limit} more)"
    return f"rows {idx}{more}"


def require_columns(df: pd.DataFrame, cols: Iterable[str | None], what: str) -> None:
    """``df`` is a DataFrame holding every column of ``cols`` (None entries are skipped)."""
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{what}: expected a pandas DataFrame, got {type(df).__name__}")
    cols = list(cols)
    note = getattr(type(df), "note_required", None)  # a declared input is a read (the ADaM contract scan)
    if note is not None:
        note(df, cols)
    missing = [c for c in cols if c is not None and c not in df.columns]
    if missing:
        raise ValueError(f"{what}: missing required column(s) {missing}")


def is_missing(s: pd.Series) -> pd.Series:
    """Missing = NA or blank string (SAS XPT/CSV carry blanks for missing character values)."""
    return s.isna() | s.astype(str).str.strip().eq("")


def no_missing(df: pd.DataFrame, col: str, what: str) -> None:
    """Every record has a value in ``col``."""
    bad = is_missing(df[col])
    if bad.any():
        raise ValueError(f"{what}: column {col} is missing in {rows_where(bad)}; every analysed record needs a value")


def unique_ids(df: pd.DataFrame, id_var: str, what: str) -> None:
    """One record per subject."""
    dup = df[id_var].duplicated(keep=False)
    if dup.any():
        raise ValueError(
            f"{what}: {id_var} must be unique (one record per subject) but is "
            f"repeated in {rows_where(dup)}: {sorted(df.loc[dup, id_var].unique())[:5]}"
        )


def yes(s: pd.Series) -> pd.Series:
    """Where a Y/N flag is "Y" (blank, N and missing are not "Y")."""
    return s.astype(str).str.strip().eq("Y")


def flag_yes(df: pd.DataFrame, flag: str) -> pd.Series:
    """Rows of ``df`` whose Y/N flag column ``flag`` is "Y"."""
    return yes(df[flag])


def key(v: Any) -> Any:
    """A lookup key with NaN (from a CSV round trip), NaT and None unified to None."""
    return None if is_missing_value(v) else v
