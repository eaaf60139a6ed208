"""The TLF catalogue: number, title, population and footnotes of every table, figure and listing.

The catalogue is the unit of traceability (docs/design.md §2a): entry ``id`` → its ARD file
``ard/<id>.csv`` → its renderings. Titles and footnotes may hold ``{placeholders}`` filled from a
``context`` mapping the caller builds from the study's parameters, so a protocol value is written
once (in ``params/``) and never restated by hand in the catalogue.
"""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis_lib.toolkit import files

KINDS = {"Table": "table", "Figure": "figure", "Listing": "listing"}
_NUMBER_RE = re.compile(r"^(Table|Figure) 14(\.\d+)+$|^Listing 16\.2(\.\d+)+$")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_ID_PREFIX = {"table": "t-", "figure": "f-", "listing": "l-"}
_ALLOWED = {"id", "number", "title", "population", "chapter", "footnotes", "population_label"}


class TLFError(ValueError):
    """A TLF, its body or the catalogue is malformed (the message names the file/column/rows)."""


@dataclass(frozen=True)
class CatalogueEntry:
    """One TLF of the catalogue (placeholders already filled)."""

    id: str
    number: str
    title: str
    population: str
    chapter: str
    footnotes: tuple[str, ...] = ()
    population_label: str | None = None

    @property
    def kind(self) -> str:
        return KINDS[self.number.split(" ", 1)[0]]

    @property
    def ard_file(self) -> str:
        """Path of this TLF's ARD relative to the cut's output folder."""
        return f"ard/{self.id}.csv"


class Catalogue(dict[str, CatalogueEntry]):
    """``dict`` id -> :class:`CatalogueEntry` whose lookup of an unknown id says what is known."""

    path: Path

    def __missing__(self, key: str) -> CatalogueEntry:
        close = difflib.get_close_matches(str(key), list(self), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise TLFError(f"{self.path}: unknown TLF id '{key}'{hint}")


def _fill(text: str, context: Mapping[str, Any], where: str) -> str:
    """``text`` with ``{name}`` placeholders replaced from ``context``; ``{{``/``}}`` are literal
    braces. An unknown placeholder is an error naming the entry (never left in a title)."""
    names = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    unknown = sorted({n for n in names if n not in context})
    if unknown:
        known = ", ".join(sorted(context)) or "none"
        raise TLFError(f"{where}: unknown placeholder(s) {', '.join('{' + n + '}' for n in unknown)} (known: {known})")
    try:
        return text.format_map(context)
    except (ValueError, IndexError) as exc:
        raise TLFError(f"{where}: malformed placeholder in {text!r} ({exc})") from None


def load_catalogue(
    path: str | Path, *, context: Mapping[str, Any] | None = None, population_labels: Mapping[str, str] | None = None
) -> Catalogue:
    """Read the TLF catalogue: ids and numbers unique, numbers ICH E3 style, placeholders in
    titles and footnotes filled from ``context``, population flags labelled from
    ``population_labels`` (``{"SAFFL": "Safety population"}``; the flag itself when absent).

    Errors name the file, the entry (position and id) and the rule broken.
    """
    path = Path(path)
    context = dict(context or {})
    labels = dict(population_labels or {})
    data = files.read_yaml_mapping(path, TLFError)
    if not isinstance(data.get("tlfs"), list):
        raise TLFError(f"{path}: expected a top-level key 'tlfs' holding a list of entries")
    cat = Catalogue()
    cat.path = path
    numbers: dict[str, str] = {}
    for i, raw in enumerate(data["tlfs"], start=1):
        where = f"{path}: entry {i}"
        if not isinstance(raw, dict):
            raise TLFError(f"{where}: expected a mapping, got {type(raw).__name__}")
        if "id" in raw:
            where += f" ('{raw['id']}')"
        missing = [k for k in ("id", "number", "title", "population", "chapter") if not raw.get(k)]
        if missing:
            raise TLFError(f"{where}: missing key(s) {', '.join(missing)}")
        unknown = sorted(set(raw) - _ALLOWED)
        if unknown:
            raise TLFError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(_ALLOWED))})")
        tid, number = str(raw["id"]), str(raw["number"])
        if not _ID_RE.match(tid):
            raise TLFError(f"{where}: id must be lower-case letters, digits and '-'")
        if not _NUMBER_RE.match(number):
            raise TLFError(f"{where}: number '{number}' is not 'Table 14.x', 'Figure 14.x' or 'Listing 16.2.x'")
        kind = KINDS[number.split(" ", 1)[0]]
        if not tid.startswith(_ID_PREFIX[kind]):
            raise TLFError(f"{where}: a {kind} id must start with '{_ID_PREFIX[kind]}'")
        if tid in cat:
            raise TLFError(f"{where}: duplicate id '{tid}'")
        if number in numbers:
            raise TLFError(f"{where}: duplicate number '{number}' (also used by '{numbers[number]}')")
        foot = raw.get("footnotes") or []
        if isinstance(foot, str) or not all(isinstance(f, str) for f in foot):
            raise TLFError(f"{where}: footnotes must be a list of strings")
        numbers[number] = tid
        population = str(raw["population"])
        label = raw.get("population_label") or labels.get(population) or population
        cat[tid] = CatalogueEntry(
            id=tid,
            number=number,
            title=_fill(str(raw["title"]), context, f"{where}, title"),
            population=population,
            chapter=str(raw["chapter"]),
            footnotes=tuple(_fill(f, context, f"{where}, footnote {k}") for k, f in enumerate(foot, 1)),
            population_label=_fill(str(label), context, f"{where}, population_label"),
        )
    return cat
