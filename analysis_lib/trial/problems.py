"""A data problem and how it names its rows: the one type every input check reports
(:mod:`analysis_lib.trial.sdtm_standard` for the delivery's structure, :mod:`analysis_lib.trial.validate`
for the trial's rules), so the command line prints them all the same way."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: How many rows (or values) a message names before it says how many there are in all.
MAX_ROWS_SHOWN = 5


@dataclass(frozen=True)
class Problem:
    """One data problem: where it is and which rule it breaks, in plain words."""

    file: str
    column: str
    rows: tuple  # a few 1-based data row numbers (or USUBJIDs)
    rule: str
    message: str

    def __str__(self) -> str:
        where = self.file + (f", column {self.column}" if self.column else "")
        if self.rows:
            where += (", row " if len(self.rows) == 1 else ", rows ") + ", ".join(map(str, self.rows))
        return f"{where}: {self.message} [{self.rule}]"


def rows(index: Iterable) -> tuple[int, ...]:
    """The first :data:`MAX_ROWS_SHOWN` 1-based data row numbers of a 0-based frame index."""
    return tuple(int(i) + 1 for i in list(index)[:MAX_ROWS_SHOWN])


def more(n: int) -> str:
    """ " (n rows in all)" when a message names fewer rows than the ``n`` that break the rule."""
    return f" ({n} rows in all)" if n > MAX_ROWS_SHOWN else ""
