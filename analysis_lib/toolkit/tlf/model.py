"""TLF objects: a table, listing or figure with its CSR metadata (number, title, population with
its N, footnotes, source, data cut, ARD file). They render themselves through the renderer modules
beside this one: ``_repr_html_`` (HTML book), ``_repr_markdown_`` (a MyST ``{raw} latex`` block
for Jupyter Book's PDF), ``_repr_latex_`` (Quarto), ``to_markdown`` and ``to_rtf``
(docs/design.md §3).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from analysis_lib.toolkit.tlf import html, latex, markdown, rtf
from analysis_lib.toolkit.tlf.catalogue import CatalogueEntry, TLFError

INDENT = "_indent"


def slugify(text: str) -> str:
    """'Table 14.3.1.2' -> 'table-14-3-1-2' (file names of the RTF package)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass(frozen=True)
class Source:
    """Where a TLF comes from: analysis datasets and the program that made it."""

    datasets: tuple[str, ...] = ()
    program: str = ""

    def text(self) -> str:
        parts = []
        if self.datasets:
            parts.append(", ".join(self.datasets))
        if self.program:
            parts.append(f"program {self.program}")
        return "Source: " + "; ".join(parts) if parts else ""


SourceLike = Source | str | Sequence[Any] | Mapping[str, Any] | None


def as_source(src: SourceLike) -> Source:
    """A :class:`Source` from a Source, a program name, ``(datasets, program)`` or a mapping."""
    if src is None:
        return Source()
    if isinstance(src, Source):
        return src
    if isinstance(src, str):
        return Source(program=src)
    if isinstance(src, Mapping):
        return Source(tuple(src.get("datasets", ())), str(src.get("program", "")))
    datasets, program = tuple(src)
    if isinstance(datasets, str):
        datasets = (datasets,)
    return Source(tuple(datasets), str(program))


def _cut_date(cut: Any) -> str | None:
    if cut is None:
        return None
    cut = getattr(cut, "cut_date", cut)
    if isinstance(cut, (dt.date, dt.datetime)):
        return cut.strftime("%Y-%m-%d")
    return str(cut)


@dataclass(repr=False)
class TLF:
    """What every table, listing and figure carries (ICH E3 / CSR conventions)."""

    number: str
    title: str
    population: str = ""
    population_n: int | None = None
    footnotes: Sequence[str] = ()
    source: SourceLike = None
    cut_date: Any = None
    id: str | None = None
    chapter: str | None = None
    ard_file: str | None = None

    kind: ClassVar[str] = "tlf"

    def __post_init__(self) -> None:
        if not self.number or not self.title:
            raise TLFError(f"{self.kind}: number and title are required (got {self.number!r}, {self.title!r})")
        self.source = as_source(self.source)
        self.cut_date = _cut_date(self.cut_date)
        self.footnotes = tuple(str(f) for f in (self.footnotes or ()))
        if self.population_n is not None:
            if isinstance(self.population_n, bool) or int(self.population_n) != self.population_n:
                raise TLFError(f"{self.number}: population_n must be an integer, got {self.population_n!r}")
            self.population_n = int(self.population_n)

    @property
    def source_info(self) -> Source:
        assert isinstance(self.source, Source)  # normalised in __post_init__
        return self.source

    def __repr__(self) -> str:
        """Short and stable (it is the text/plain output of a notebook cell)."""
        pop = f" [{self.population_text()}]" if self.population_text() else ""
        return f"{self.number}: {self.title}{pop}"

    @property
    def slug(self) -> str:
        """Stem of the figure/metadata files: the catalogue id, else the number slug."""
        return self.id or slugify(self.number)

    @property
    def rtf_name(self) -> str:
        return slugify(self.number) + ".rtf"

    def population_text(self) -> str:
        if not self.population:
            return f"N = {self.population_n}" if self.population_n is not None else ""
        if self.population_n is None:
            return self.population
        return f"{self.population} (N = {self.population_n})"

    def meta_lines(self) -> list[str]:
        """Source, ARD and data-cut line(s) shown under every TLF."""
        lines = []
        src = self.source_info.text()
        if src:
            lines.append(src + (f"; analysis results {self.ard_file}" if self.ard_file else ""))
        elif self.ard_file:
            lines.append(f"Analysis results: {self.ard_file}")
        if self.cut_date:
            lines.append(f"Data cut-off: {self.cut_date}")
        return lines

    def notes(self) -> list[str]:
        """Footnotes, then the source/data-cut lines."""
        return [*self.footnotes, *self.meta_lines()]

    def metadata(self) -> dict[str, Any]:
        """JSON-able description used by the renderer to build lists of tables/figures."""
        return {
            "id": self.id,
            "kind": self.kind,
            "number": self.number,
            "title": self.title,
            "chapter": self.chapter,
            "population": self.population,
            "population_n": self.population_n,
            "footnotes": list(self.footnotes),
            "source": {"datasets": list(self.source_info.datasets), "program": self.source_info.program},
            "cut_date": self.cut_date,
            "ard": self.ard_file,
        }

    @classmethod
    def _entry_kwargs(cls, entry: CatalogueEntry) -> dict[str, Any]:
        if entry.kind != cls.kind:
            raise TLFError(f"catalogue entry '{entry.id}' is a {entry.kind} ({entry.number}), not a {cls.kind}")
        return dict(
            number=entry.number,
            title=entry.title,
            population=entry.population_label or entry.population,
            footnotes=entry.footnotes,
            id=entry.id,
            chapter=entry.chapter,
        )


def _check_body(body: pd.DataFrame, number: str) -> pd.DataFrame:
    """A display frame: string cells (no missing), optional int `_indent` in 0..2."""
    if not isinstance(body, pd.DataFrame):
        raise TLFError(f"{number}: body must be a pandas DataFrame, got {type(body).__name__}")
    cols = [c for c in body.columns if c != INDENT]
    if not cols:
        raise TLFError(f"{number}: body has no display columns")
    for c in body.columns:
        if not isinstance(c, str):
            raise TLFError(f"{number}: column header {c!r} is not a string")
    body = body.reset_index(drop=True)
    for c in cols:
        col = body[c]
        bad = col.isna() | ~col.map(lambda v: isinstance(v, str))
        if bad.any():
            rows = ", ".join(str(i) for i in body.index[bad][:10])
            raise TLFError(
                f"{number}: column '{c}' must hold strings with no missing values "
                f"(format numbers first, 'NE'/'Not reached' for missing); bad rows: {rows}"
            )
        low = col.str.strip().str.lower()
        nan_rows = body.index[low.isin({"nan", "none", "<na>", "nat"})]
        if len(nan_rows):
            raise TLFError(f"{number}: column '{c}' shows 'nan'/'None' at rows {', '.join(map(str, nan_rows[:10]))}")
    if INDENT in body.columns:
        ind = body[INDENT]
        ok = ind.map(lambda v: isinstance(v, (int,)) or (hasattr(v, "is_integer") and float(v).is_integer()))
        ok &= ind.isin([0, 1, 2])
        if not ok.all():
            rows = ", ".join(str(i) for i in body.index[~ok][:10])
            raise TLFError(f"{number}: column '{INDENT}' must be 0, 1 or 2; bad rows: {rows}")
        body = body.assign(**{INDENT: ind.astype(int)})
    return body


def _check_cells(t: Table, cells: dict[Any, Any], what: str) -> dict[tuple[int, int], Any]:
    """``cells`` keyed by (row, display column) inside the body, else a TLFError naming the key."""
    n_rows, n_cols = len(t.body), len([c for c in t.body.columns if c != INDENT])
    for key in cells:
        ok = isinstance(key, tuple) and len(key) == 2 and all(isinstance(k, int) for k in key)
        if not ok or not (0 <= key[0] < n_rows and 0 <= key[1] < n_cols):
            raise TLFError(f"{t.number}: {what} key {key!r} is not a (row, column) of the {n_rows} x {n_cols} body")
    return dict(sorted(cells.items()))


@dataclass(repr=False)
class Table(TLF):
    """A CSR table: metadata plus a display ``body`` (strings; first column = row label).

    ``body`` may carry an int column ``_indent`` (0, 1, 2) honoured by every rendering and never
    shown; column headers may contain ``"\\n"`` for line breaks (e.g. ``"DL1\\n(N=3)"``).
    """

    body: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: HTML only: {(row, column): [(text, href or None), ...]} — the subjects a count cell counts;
    #: the HTML shows the cell as ``<details>`` whose summary is the cell's text and whose body
    #: lists them (linked where an href is given). Row and column index the display cells (column
    #: 0 = row label). The count (the cell's leading integer) must equal the list's length.
    drilldown: Mapping[tuple[int, int], Sequence[tuple[str, str | None]]] = field(default_factory=dict)
    #: HTML only: {(row, column): href} — the cell's text as a link (e.g. a subject's profile page).
    links: Mapping[tuple[int, int], str] = field(default_factory=dict)

    kind: ClassVar[str] = "table"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.body = _check_body(self.body, self.number)
        self.drilldown = _check_cells(self, dict(self.drilldown), "drilldown")
        self.links = _check_cells(self, dict(self.links), "links")
        for (i, j), items in self.drilldown.items():
            text = str(self.body.iloc[i, self._column_positions()[j]])
            m = re.match(r"\s*(\d+)", text)
            if m is None or int(m.group(1)) != len(items):
                raise TLFError(
                    f"{self.number}: drill-down of row {i}, column '{self.columns[j]}' lists {len(items)} "
                    f"subject(s) but the cell reads '{text}'"
                )
            for item in items:
                if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
                        and (item[1] is None or isinstance(item[1], str))):  # fmt: skip
                    raise TLFError(f"{self.number}: drill-down of row {i}, column {j}: expected (text, href) "
                                   f"pairs, got {item!r}")  # fmt: skip

    def _column_positions(self) -> list[int]:
        """Positions in ``body`` of the display columns (``_indent`` skipped)."""
        return [k for k, c in enumerate(self.body.columns) if c != INDENT]

    @classmethod
    def from_catalogue(
        cls,
        entry: CatalogueEntry,
        body: pd.DataFrame,
        *,
        population_n: int | None,
        cut: Any,
        source: SourceLike,
        footnotes: Sequence[str] = (),
        drilldown: Mapping[tuple[int, int], Sequence[tuple[str, str | None]]] | None = None,
        links: Mapping[tuple[int, int], str] | None = None,
    ) -> Table:
        """Build from a catalogue entry (number, title, population, footnotes, ARD file).

        ``cut`` is a cut object with ``cut_date`` or a date; extra ``footnotes`` (data-driven
        ones only: static text belongs in the catalogue) are appended after the catalogue's.
        ``drilldown`` and ``links``: the HTML-only cell mappings of :class:`Table`.
        """
        kw = cls._entry_kwargs(entry)
        kw["footnotes"] = tuple(kw["footnotes"]) + tuple(footnotes)
        return cls(body=body, population_n=population_n, cut_date=cut, source=source, drilldown=drilldown or {},
                   links=links or {}, **kw)  # fmt: skip

    @property
    def columns(self) -> list[str]:
        return [c for c in self.body.columns if c != INDENT]

    def indents(self) -> list[int]:
        if INDENT in self.body.columns:
            return [int(i) for i in self.body[INDENT].tolist()]
        return [0] * len(self.body)

    def rows(self) -> list[list[str]]:
        return self.body[self.columns].values.tolist()

    def col_weights(self) -> list[float]:
        """Relative column widths from content length (row label wider, data columns bounded)."""
        weights = []
        for j, c in enumerate(self.columns):
            cells = [*c.split("\n"), *self.body[c].tolist()]
            longest = max(len(s) for s in cells) if cells else 1
            if j == 0:
                longest += 3 * max(self.indents(), default=0)
                weights.append(float(min(max(longest, 12), 45)))
            else:
                weights.append(float(min(max(longest, 6), 22)))
        return weights

    def _repr_html_(self) -> str:
        return html.table(self)

    def to_latex(self) -> str:
        return latex.table(self)

    def _repr_latex_(self) -> str:
        return self.to_latex()

    def _repr_markdown_(self) -> str:
        return latex.raw_block(self.to_latex())

    def to_markdown(self) -> str:
        return markdown.table(self)

    def to_rtf(self, path: str | os.PathLike[str], furniture: rtf.Furniture | None = None) -> Path:
        """Write the RTF (``furniture``: study id and report type of the running header)."""
        return rtf.write_table(self, Path(path), furniture)


@dataclass(repr=False)
class Listing(Table):
    """A listing of records (ICH E3 16.2.x): same renderings as a table, RTF in landscape."""

    kind: ClassVar[str] = "listing"


_SAVE_META: dict[str, dict[str, Any]] = {
    "svg": {"Date": None, "Creator": "analysis_lib"},
    "pdf": {"CreationDate": None, "ModDate": None, "Creator": "analysis_lib", "Producer": "analysis_lib"},
    "png": {"Software": "analysis_lib"},
}


@dataclass(repr=False)
class Figure(TLF):
    """A CSR figure: metadata around a matplotlib figure; saved as SVG + PDF (vector) and PNG."""

    figure: Any = None
    dpi: int = 200

    kind: ClassVar[str] = "figure"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.figure is None or not hasattr(self.figure, "savefig"):
            raise TLFError(f"{self.number}: figure must be a matplotlib Figure")

    @classmethod
    def from_catalogue(
        cls,
        entry: CatalogueEntry,
        figure: Any,
        *,
        population_n: int | None,
        cut: Any,
        source: SourceLike,
        footnotes: Sequence[str] = (),
    ) -> Figure:
        """Build from a catalogue entry (number, title, population, footnotes, ARD file)."""
        kw = cls._entry_kwargs(entry)
        kw["footnotes"] = tuple(kw["footnotes"]) + tuple(footnotes)
        return cls(figure=figure, population_n=population_n, cut_date=cut, source=source, **kw)

    def render(self, fmt: str) -> bytes:
        """The figure as bytes in 'svg', 'pdf' or 'png', byte-identical across runs."""
        import io

        import matplotlib

        if fmt not in _SAVE_META:
            raise TLFError(f"{self.number}: unknown figure format '{fmt}'")
        buf = io.BytesIO()
        with matplotlib.rc_context({"svg.hashsalt": self.slug, "svg.fonttype": "path", "pdf.fonttype": 42}):
            self.figure.savefig(buf, format=fmt, metadata=_SAVE_META[fmt], dpi=self.dpi)
        return buf.getvalue()

    def save(self, directory: str | os.PathLike[str]) -> dict[str, Path]:
        """Write ``<slug>.svg``, ``.pdf`` and ``.png`` into ``directory``; returns fmt -> path."""
        from analysis_lib.toolkit.files import atomic_write

        directory = Path(directory)
        paths = {}
        for fmt in ("svg", "pdf", "png"):
            paths[fmt] = directory / f"{self.slug}.{fmt}"
            atomic_write(paths[fmt], self.render(fmt))
        return paths

    def _repr_html_(self) -> str:
        return html.figure(self)

    def to_latex(self) -> str:
        return latex.figure(self)

    def _repr_markdown_(self) -> str:
        return latex.raw_block(self.to_latex())

    def to_markdown(self) -> str:
        return markdown.figure(self)

    def to_rtf(
        self,
        path: str | os.PathLike[str],
        png: str | os.PathLike[str] | None = None,
        furniture: rtf.Furniture | None = None,
    ) -> Path:
        """Write the RTF from ``png`` (rendered when not given) with ``furniture``'s running header."""
        return rtf.write_figure(self, Path(path), None if png is None else Path(png), furniture)
