"""TLF objects (tables, figures, listings) that know their CSR metadata and render themselves.

One object, many renderings (docs/design.md §3): ``_repr_html_`` for the HTML book, ``_repr_markdown_``
(a MyST ``{raw} latex`` block) for Jupyter Book's PDF, ``_repr_latex_`` for Quarto, ``to_markdown``
and ``to_rtf`` (via ``rtflite``) for the medical writers. Numbers and titles come from the TLF
catalogue (``chapters/tlf_catalogue.yml``), never from the renderer.

The LaTeX of a table needs ``longtable``, ``booktabs`` and ``array`` in the preamble.
"""
from __future__ import annotations

import datetime as dt
import difflib
import html
import io
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import pandas as pd
import yaml

INDENT = "_indent"
_KINDS = {"Table": "table", "Figure": "figure", "Listing": "listing"}
_NUMBER_RE = re.compile(r"^(Table|Figure) 14(\.\d+)+$|^Listing 16\.2(\.\d+)+$")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_ID_PREFIX = {"table": "t-", "figure": "f-", "listing": "l-"}


class TLFError(ValueError):
    """A TLF, its body or the catalogue is malformed (the message names the file/column/rows)."""


# --------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class CatalogueEntry:
    """One TLF of the catalogue."""

    id: str
    number: str
    title: str
    population: str
    chapter: str
    footnotes: tuple[str, ...] = ()
    population_label: str | None = None

    @property
    def kind(self) -> str:
        return _KINDS[self.number.split(" ", 1)[0]]


class Catalogue(dict):
    """``dict`` id -> :class:`CatalogueEntry` whose lookup of an unknown id says what is known."""

    path: Path

    def __missing__(self, key):
        close = difflib.get_close_matches(str(key), list(self), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise TLFError(f"{self.path}: unknown TLF id '{key}'{hint}")


def default_catalogue_path() -> Path:
    from analysis_lib.trial.config import project_root

    return project_root() / "chapters" / "tlf_catalogue.yml"


def load_catalogue(path: str | os.PathLike | None = None) -> Catalogue:
    """Read the TLF catalogue: ids and numbers must be unique, numbers ICH E3 style.

    Errors name the file, the entry (position and id) and the rule broken.
    """
    path = Path(path) if path is not None else default_catalogue_path()
    if not path.is_file():
        raise TLFError(f"{path}: TLF catalogue not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TLFError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("tlfs"), list):
        raise TLFError(f"{path}: expected a top-level key 'tlfs' holding a list of entries")
    cat = Catalogue()
    cat.path = path
    numbers: dict[str, str] = {}
    allowed = {"id", "number", "title", "population", "chapter", "footnotes", "population_label"}
    for i, raw in enumerate(data["tlfs"], start=1):
        where = f"{path}: entry {i}"
        if not isinstance(raw, dict):
            raise TLFError(f"{where}: expected a mapping, got {type(raw).__name__}")
        if "id" in raw:
            where += f" ('{raw['id']}')"
        missing = [k for k in ("id", "number", "title", "population", "chapter") if not raw.get(k)]
        if missing:
            raise TLFError(f"{where}: missing key(s) {', '.join(missing)}")
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise TLFError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")
        tid, number = str(raw["id"]), str(raw["number"])
        if not _ID_RE.match(tid):
            raise TLFError(f"{where}: id must be lower-case letters, digits and '-'")
        if not _NUMBER_RE.match(number):
            raise TLFError(f"{where}: number '{number}' is not 'Table 14.x', 'Figure 14.x' or 'Listing 16.2.x'")
        kind = _KINDS[number.split(" ", 1)[0]]
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
        cat[tid] = CatalogueEntry(
            id=tid,
            number=number,
            title=str(raw["title"]),
            population=str(raw["population"]),
            chapter=str(raw["chapter"]),
            footnotes=tuple(foot),
            population_label=raw.get("population_label"),
        )
    return cat


def population_label(flag: str) -> str:
    """'SAFFL' -> 'Safety population', from ``params/study.yml`` ``populations`` (else the flag)."""
    from analysis_lib.trial.config import ConfigError, load_study

    try:
        text = (load_study().get("populations") or {}).get(flag)
    except ConfigError:  # no study parameters (e.g. another study's ADaM): fall back to the flag
        text = None
    if not text:
        return flag
    return f"{str(text).split(':', 1)[0].strip()} population"


# --------------------------------------------------------------------------- shared helpers


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


SourceLike = Union[Source, str, Sequence, Mapping, None]


def _as_source(src: SourceLike) -> Source:
    if src is None:
        return Source()
    if isinstance(src, Source):
        return src
    if isinstance(src, str):
        return Source(program=src)
    if isinstance(src, Mapping):
        return Source(tuple(src.get("datasets", ())), str(src.get("program", "")))
    datasets, program = src
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


def _meta_lines(obj: "_TLF") -> list[str]:
    """Source and data-cut line(s) shown under every TLF."""
    lines = []
    src = obj.source.text()
    if src:
        lines.append(src)
    if obj.cut_date:
        lines.append(f"Data cut-off: {obj.cut_date}")
    return lines


_HTML_CSS = (
    "<style>.csr-tlf{margin:1em 0}.csr-tlf table{border-collapse:collapse;border-top:2px solid #000;"
    "border-bottom:2px solid #000;font-size:0.9em;min-width:min(100%,44em)}.csr-tlf-number{font-weight:bold}"
    ".csr-tlf figcaption{margin-bottom:0.4em}"
    ".csr-tlf caption{caption-side:top;text-align:left;"
    "padding-bottom:0.4em}.csr-tlf thead th{border-bottom:1px solid #000;text-align:center;"
    "vertical-align:bottom;padding:0.2em 0.6em}.csr-tlf td{padding:0.15em 0.6em;vertical-align:top;"
    "text-align:center;white-space:nowrap}.csr-tlf td:first-child,.csr-tlf th:first-child{text-align:left;"
    "white-space:normal}"
    ".csr-tlf-notes{font-size:0.85em;margin:0.3em 0 0 0;max-width:52em}.csr-tlf-notes p{margin:0.1em 0}"
    ".csr-tlf figure{margin:0}.csr-tlf svg{max-width:100%;height:auto}</style>"
)


def _esc(text: str) -> str:
    return html.escape(str(text), quote=True)


# LaTeX: text-mode escapes (pdflatex-safe, no extra packages) and common Unicode in clinical tables.
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
    "≥": r"\ensuremath{\geq}", "≤": r"\ensuremath{\leq}", "±": r"\ensuremath{\pm}",
    "×": r"\ensuremath{\times}", "µ": r"\ensuremath{\mu}", "μ": r"\ensuremath{\mu}",
    "°": r"\ensuremath{^\circ}", "–": "--", "—": "---", "−": r"\ensuremath{-}",
    "→": r"\ensuremath{\rightarrow}", "α": r"\ensuremath{\alpha}", "β": r"\ensuremath{\beta}",
    "γ": r"\ensuremath{\gamma}", "κ": r"\ensuremath{\kappa}", "‘": "`", "’": "'", "“": "``", "”": "''",
    "…": r"\ldots{}", "\u00a0": "~", "≠": r"\ensuremath{\neq}", "≈": r"\ensuremath{\approx}",
}
_SUPERSCRIPTS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+"))
_SUBSCRIPTS = dict(zip("₀₁₂₃₄₅₆₇₈₉", "0123456789"))


def latex_escape(text: str) -> str:
    """Escape text for LaTeX text mode; superscript/subscript digits become \\textsuperscript etc."""
    out = []
    for ch in str(text):
        if ch in _LATEX_SPECIAL:
            out.append(_LATEX_SPECIAL[ch])
        elif ch in _SUPERSCRIPTS:
            out.append(r"\textsuperscript{" + _SUPERSCRIPTS[ch] + "}")
        elif ch in _SUBSCRIPTS:
            out.append(r"\textsubscript{" + _SUBSCRIPTS[ch] + "}")
        else:
            out.append(ch)
    return "".join(out).replace("}\\textsuperscript{", "").replace("}\\textsubscript{", "")


def raw_latex_block(tex: str) -> str:
    """A MyST ``{raw} latex`` fence around ``tex`` (fence longer than any backtick run inside)."""
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", tex)), default=0))
    return f"{fence}{{raw}} latex\n{tex}{fence}\n"


def _latex_lines(text: str) -> str:
    return r"\newline ".join(latex_escape(part) for part in str(text).split("\n"))


def _atomic_write(path: Path, data: bytes) -> None:
    """Write via a temporary file so a failed run never leaves a half-written output."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- base


@dataclass(repr=False)
class _TLF:
    number: str
    title: str
    population: str = ""
    population_n: int | None = None
    footnotes: Sequence[str] = ()
    source: SourceLike = None
    cut_date: Any = None
    id: str | None = None
    chapter: str | None = None

    kind = "tlf"

    def __post_init__(self):
        if not self.number or not self.title:
            raise TLFError(f"{self.kind}: number and title are required (got {self.number!r}, {self.title!r})")
        self.source = _as_source(self.source)
        self.cut_date = _cut_date(self.cut_date)
        self.footnotes = tuple(str(f) for f in (self.footnotes or ()))
        if self.population_n is not None:
            if isinstance(self.population_n, bool) or int(self.population_n) != self.population_n:
                raise TLFError(f"{self.number}: population_n must be an integer, got {self.population_n!r}")
            self.population_n = int(self.population_n)

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
            "source": {"datasets": list(self.source.datasets), "program": self.source.program},
            "cut_date": self.cut_date,
        }

    def _latex_anchor(self, lst: str, kind: str) -> str:
        """Hyperlink anchor, entry in \\listoftables/\\listoffigures and ``\\label{tlf:<id>}``."""
        out = (r"\ifdefined\phantomsection\phantomsection\fi"
               rf"\addcontentsline{{{lst}}}{{{kind}}}{{{latex_escape(self.number)}\quad {latex_escape(self.title)}}}")
        if self.id:
            out += rf"\label{{tlf:{self.id}}}"
        return out

    @classmethod
    def _from_entry(cls, entry_id: str, catalogue: Mapping | None, kind: str) -> CatalogueEntry:
        cat = catalogue if catalogue is not None else load_catalogue()
        entry = cat[entry_id]
        if entry.kind != kind:
            raise TLFError(f"catalogue entry '{entry_id}' is a {entry.kind} ({entry.number}), not a {kind}")
        return entry

    @staticmethod
    def _entry_kwargs(entry: CatalogueEntry) -> dict[str, Any]:
        return dict(
            number=entry.number,
            title=entry.title,
            population=entry.population_label or population_label(entry.population),
            footnotes=entry.footnotes,
            id=entry.id,
            chapter=entry.chapter,
        )


# --------------------------------------------------------------------------- tables and listings


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


@dataclass(repr=False)
class Table(_TLF):
    """A CSR table: metadata plus a display ``body`` (strings; first column = row label).

    ``body`` may carry an int column ``_indent`` (0, 1, 2) honoured by every rendering and never
    shown; column headers may contain ``"\\n"`` for line breaks (e.g. ``"DL1\\n(N=3)"``).
    """

    body: pd.DataFrame = field(default_factory=pd.DataFrame)

    kind = "table"

    def __post_init__(self):
        super().__post_init__()
        self.body = _check_body(self.body, self.number)

    @classmethod
    def from_catalogue(cls, entry_id: str, body: pd.DataFrame, *, population_n: int | None, cut: Any,
                       source: SourceLike, catalogue: Mapping | None = None, footnotes: Sequence[str] = ()):
        """Build from the catalogue entry (number, title, population, footnotes).

        ``cut`` is a :class:`~analysis_lib.trial.config.Cut` or a date; extra ``footnotes`` are appended
        after the catalogue's.
        """
        entry = cls._from_entry(entry_id, catalogue, cls.kind)
        kw = cls._entry_kwargs(entry)
        kw["footnotes"] = tuple(kw["footnotes"]) + tuple(footnotes)
        return cls(body=body, population_n=population_n, cut_date=cut, source=source, **kw)

    # ---- structure helpers
    @property
    def columns(self) -> list[str]:
        return [c for c in self.body.columns if c != INDENT]

    def _indents(self) -> list[int]:
        if INDENT in self.body.columns:
            return self.body[INDENT].tolist()
        return [0] * len(self.body)

    def _rows(self) -> list[list[str]]:
        return self.body[self.columns].values.tolist()

    def col_weights(self) -> list[float]:
        """Relative column widths from content length (row label wider, data columns bounded)."""
        weights = []
        for j, c in enumerate(self.columns):
            cells = [*c.split("\n"), *self.body[c].tolist()]
            longest = max(len(s) for s in cells) if cells else 1
            if j == 0:
                longest += 3 * max(self._indents(), default=0)
                weights.append(float(min(max(longest, 12), 45)))
            else:
                weights.append(float(min(max(longest, 6), 22)))
        return weights

    def _fractions(self) -> list[float]:
        w = self.col_weights()
        return [x / sum(w) for x in w]

    # ---- HTML
    def _repr_html_(self) -> str:
        cls = f"csr-tlf csr-{self.kind}"
        ident = f' id="{_esc(self.id)}"' if self.id else ""
        out = [_HTML_CSS, f'<div class="{cls}"{ident}>', f'<table class="csr-{self.kind}-body">']
        cap = f'<span class="csr-tlf-number">{_esc(self.number)}</span> <span class="csr-tlf-title">{_esc(self.title)}</span>'
        pop = self.population_text()
        if pop:
            cap += f'<br/><span class="csr-tlf-population">{_esc(pop)}</span>'
        out.append(f"<caption>{cap}</caption>")
        out.append("<thead><tr>" + "".join(
            f"<th>{'<br/>'.join(_esc(p) for p in c.split(chr(10)))}</th>" for c in self.columns) + "</tr></thead>")
        out.append("<tbody>")
        for ind, row in zip(self._indents(), self._rows()):
            cells = []
            for j, v in enumerate(row):
                style = f' style="padding-left:{0.6 + 1.5 * ind:.1f}em"' if j == 0 and ind else ""
                cells.append(f"<td{style}>{_esc(v)}</td>")
            out.append(f'<tr class="csr-indent-{ind}">' + "".join(cells) + "</tr>")
        out.append("</tbody></table>")
        out.append(self._html_notes())
        out.append("</div>")
        return "\n".join(out)

    def _html_notes(self) -> str:
        notes = [f'<p class="csr-tlf-footnote">{_esc(f)}</p>' for f in self.footnotes]
        notes += [f'<p class="csr-tlf-source">{_esc(line)}</p>' for line in _meta_lines(self)]
        return '<div class="csr-tlf-notes">' + "".join(notes) + "</div>"

    # ---- LaTeX
    def to_latex(self) -> str:
        """A ``longtable`` (booktabs rules, wrapping p{} columns that fill \\linewidth, header
        repeated on every page via \\endhead, footnotes and source at the end)."""
        ncol = len(self.columns)
        spec = []
        for j, frac in enumerate(self._fractions()):
            width = rf"\dimexpr {frac:.4f}\linewidth-2\tabcolsep\relax"
            align = r"\raggedright" if j == 0 else r"\centering"
            spec.append(rf">{{{align}\arraybackslash}}p{{{width}}}")
        full = rf"\multicolumn{{{ncol}}}{{@{{}}p{{\linewidth}}@{{}}}}"
        number, title = latex_escape(self.number), latex_escape(self.title)
        header = " & ".join(rf"\textbf{{{_latex_lines(c)}}}" for c in self.columns) + r" \\"
        # anchor, list-of-tables entry and \label{tlf:<id>} (page numbers in the renderer's TLF lists)
        # sit in the first head, which is typeset exactly once, on the table's first page
        title_block = rf"{full}{{{self._latex_anchor('lot', 'table')}\centering\textbf{{{number}}}\par {title}"
        if self.population_text():
            title_block += rf"\par {latex_escape(self.population_text())}"
        title_block += r"\par\smallskip}\\"
        notes = [*self.footnotes, *_meta_lines(self)]
        lines = [
            r"\begingroup\small\setlength{\LTpre}{\bigskipamount}\setlength{\LTpost}{\bigskipamount}",
            rf"\begin{{longtable}}{{@{{}}{''.join(spec)}@{{}}}}",
            title_block,
            r"\toprule",
            header,
            r"\midrule",
            r"\endfirsthead",
            rf"{full}{{\centering\textbf{{{number}}} (continued)\par\smallskip}}\\",
            r"\toprule",
            header,
            r"\midrule",
            r"\endhead",
            r"\midrule",
            rf"{full}{{\raggedleft\footnotesize (continued on next page)}}\\",
            r"\endfoot",
            r"\bottomrule",
        ]
        lines += [rf"{full}{{\footnotesize {latex_escape(n)}}}\\" for n in notes]
        lines.append(r"\endlastfoot")
        for ind, row in zip(self._indents(), self._rows()):
            cells = [_latex_lines(v) for v in row]
            if ind:
                cells[0] = rf"\setlength{{\leftskip}}{{{1.5 * ind:.1f}em}}" + cells[0]
            lines.append(" & ".join(cells) + r" \\")
        lines += [r"\end{longtable}", r"\endgroup"]
        return "\n".join(lines) + "\n"

    def _repr_latex_(self) -> str:
        return self.to_latex()

    def _repr_markdown_(self) -> str:
        return raw_latex_block(self.to_latex())

    # ---- Markdown
    def to_markdown(self) -> str:
        """A pipe table with the number/title above and footnotes/source below."""
        def cell(s: str) -> str:
            return re.sub(r"([\\`*_\[\]<>|])", r"\\\1", str(s)).replace("\n", " ")

        out = [f"**{cell(self.number)}** {cell(self.title)}"]
        if self.population_text():
            out += ["", cell(self.population_text())]
        out += ["", "| " + " | ".join(cell(c) for c in self.columns) + " |",
                "|" + "|".join([":---"] + [":---:"] * (len(self.columns) - 1)) + "|"]
        for ind, row in zip(self._indents(), self._rows()):
            vals = [cell(v) for v in row]
            vals[0] = "\u00a0" * (4 * ind) + vals[0]
            out.append("| " + " | ".join(vals) + " |")
        notes = [*self.footnotes, *_meta_lines(self)]
        if notes:
            out.append("")
            out += [cell(n) + ("  " if i < len(notes) - 1 else "") for i, n in enumerate(notes)]
        return "\n".join(out) + "\n"

    # ---- RTF
    def _rtf_document(self, rows: slice = slice(None), notes: bool = True):
        import polars as pl
        import rtflite as rtf

        ncol = len(self.columns)
        weights = self.col_weights()
        # ~0.07 in per character at 9 pt; landscape when the content needs more than portrait width.
        orientation = "landscape" if (sum(weights) * 0.07 > 6.25 or ncol > 7 or self.kind == "listing") else "portrait"
        names = [f"c{j}" for j in range(ncol)]
        body_rows, indents = self._rows()[rows], self._indents()[rows]
        df = pl.DataFrame({n: [_rtf_text(r[j]) for r in body_rows] for j, n in enumerate(names)}, schema={n: pl.Utf8 for n in names})
        indent = [[int(180 * i)] + [0] * (ncol - 1) for i in indents] or [[0] * ncol]
        just = [["l"] + ["c"] * (ncol - 1)]
        title = [_rtf_text(t) for t in (self.number, self.title, self.population_text()) if t]
        kwargs = dict(
            df=df,
            rtf_page=rtf.RTFPage(orientation=orientation),
            rtf_title=rtf.RTFTitle(text=title, text_convert=[False]),
            rtf_column_header=[rtf.RTFColumnHeader(text=[_rtf_text(c) for c in self.columns], col_rel_width=weights,
                                                   text_justification=[just[0]], text_convert=[False])],
            rtf_body=rtf.RTFBody(col_rel_width=weights, text_justification=just, text_indent_left=indent,
                                 text_indent_first=[[0] * ncol], text_convert=[[False]]),
        )
        if self.footnotes and notes:
            kwargs["rtf_footnote"] = rtf.RTFFootnote(text=[_rtf_text(f) for f in self.footnotes], text_convert=[[False]])
        meta = [_rtf_text(m) for m in _meta_lines(self)]
        if meta and notes:
            kwargs["rtf_source"] = rtf.RTFSource(text=meta, text_convert=[[False]])
        return rtf.RTFDocument(**kwargs)

    def to_rtf(self, path: str | os.PathLike) -> Path:
        """Write the table as RTF (rtflite): title, column headers, body, footnotes, source.

        Long bodies are encoded in blocks of :data:`RTF_BLOCK_ROWS` rows joined page by page with
        ``rtflite.assemble_rtf`` (titles and headers on every block, notes after the last): rtflite's
        own encoding time grows with the square of the rows (10,000-row listing: minutes).
        """
        import rtflite as rtf

        path = Path(path)
        n = len(self._rows())
        if n <= RTF_BLOCK_ROWS:
            _atomic_write(path, _rtf_bytes(self._rtf_document().rtf_encode()))
            return path
        with tempfile.TemporaryDirectory(prefix="csr-rtf-") as tmp:
            parts = []
            for k, start in enumerate(range(0, n, RTF_BLOCK_ROWS)):
                part = Path(tmp) / f"part{k:05d}.rtf"
                doc = self._rtf_document(slice(start, start + RTF_BLOCK_ROWS), notes=start + RTF_BLOCK_ROWS >= n)
                part.write_bytes(_rtf_bytes(doc.rtf_encode()))
                parts.append(str(part))
            joined = Path(tmp) / "joined.rtf"
            rtf.assemble_rtf(parts, str(joined))
            _atomic_write(path, joined.read_bytes())
        return path


#: Rows per rtflite encoding block (see :meth:`Table.to_rtf`).
RTF_BLOCK_ROWS = 200


def _rtf_text(text: str) -> str:
    """Escape RTF control characters in data (rtflite leaves \\, { and } as they are); "\\n" -> \\line."""
    text = str(text).replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}").replace("\n", "\\line ")
    return "".join(ch if ord(ch) < 128 else _rtf_unicode(ch) for ch in text)


def _rtf_unicode(ch: str) -> str:
    """Non-ASCII as RTF \\uN? (signed 16-bit; UTF-16 surrogate pairs beyond the BMP)."""
    units = ch.encode("utf-16-be")
    codes = [int.from_bytes(units[i:i + 2], "big") for i in range(0, len(units), 2)]
    return "".join(f"\\uc1\\u{c - 65536 if c > 32767 else c}?" for c in codes)


def _rtf_bytes(text: str) -> bytes:
    """RTF is 7-bit: every non-ASCII character was escaped by :func:`_rtf_text`."""
    try:
        return text.encode("ascii")
    except UnicodeEncodeError as exc:
        raise TLFError(f"RTF output holds a non-ASCII character {text[exc.start]!r} that was not escaped") from None


@dataclass(repr=False)
class Listing(Table):
    """A listing of records (ICH E3 16.2.x): same renderings as a table, RTF in landscape."""

    kind = "listing"


# --------------------------------------------------------------------------- figures


_SAVE_META = {
    "svg": {"Date": None, "Creator": "analysis_lib"},
    "pdf": {"CreationDate": None, "ModDate": None, "Creator": "analysis_lib", "Producer": "analysis_lib"},
    "png": {"Software": "analysis_lib"},
}


@dataclass(repr=False)
class Figure(_TLF):
    """A CSR figure: metadata around a matplotlib figure; saved as SVG + PDF (vector) and PNG."""

    figure: Any = None
    dpi: int = 200

    kind = "figure"

    def __post_init__(self):
        super().__post_init__()
        if self.figure is None or not hasattr(self.figure, "savefig"):
            raise TLFError(f"{self.number}: figure must be a matplotlib Figure")

    @classmethod
    def from_catalogue(cls, entry_id: str, figure: Any, *, population_n: int | None, cut: Any,
                       source: SourceLike, catalogue: Mapping | None = None, footnotes: Sequence[str] = ()):
        """Build from the catalogue entry (number, title, population, footnotes)."""
        entry = cls._from_entry(entry_id, catalogue, cls.kind)
        kw = cls._entry_kwargs(entry)
        kw["footnotes"] = tuple(kw["footnotes"]) + tuple(footnotes)
        return cls(figure=figure, population_n=population_n, cut_date=cut, source=source, **kw)

    def render(self, fmt: str) -> bytes:
        """The figure as bytes in 'svg', 'pdf' or 'png', byte-identical across runs."""
        import matplotlib

        if fmt not in _SAVE_META:
            raise TLFError(f"{self.number}: unknown figure format '{fmt}'")
        buf = io.BytesIO()
        with matplotlib.rc_context({"svg.hashsalt": self.slug, "svg.fonttype": "path", "pdf.fonttype": 42}):
            self.figure.savefig(buf, format=fmt, metadata=_SAVE_META[fmt], dpi=self.dpi)
        return buf.getvalue()

    def save(self, directory: str | os.PathLike) -> dict[str, Path]:
        """Write ``<slug>.svg``, ``.pdf`` and ``.png`` into ``directory``; returns fmt -> path."""
        directory = Path(directory)
        paths = {}
        for fmt in ("svg", "pdf", "png"):
            paths[fmt] = directory / f"{self.slug}.{fmt}"
            _atomic_write(paths[fmt], self.render(fmt))
        return paths

    def _repr_html_(self) -> str:
        svg = self.render("svg").decode("utf-8")
        svg = svg[svg.index("<svg"):]  # drop the XML prolog and DOCTYPE for inline use
        svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.S)  # RDF block naming external URIs
        ident = f' id="{_esc(self.id)}"' if self.id else ""
        cap = f'<span class="csr-tlf-number">{_esc(self.number)}</span> <span class="csr-tlf-title">{_esc(self.title)}</span>'
        if self.population_text():
            cap += f'<br/><span class="csr-tlf-population">{_esc(self.population_text())}</span>'
        notes = [f'<p class="csr-tlf-footnote">{_esc(f)}</p>' for f in self.footnotes]
        notes += [f'<p class="csr-tlf-source">{_esc(line)}</p>' for line in _meta_lines(self)]
        return "\n".join([
            _HTML_CSS, f'<div class="csr-tlf csr-figure"{ident}>', "<figure>",
            f"<figcaption>{cap}</figcaption>", svg,
            '<div class="csr-tlf-notes">' + "".join(notes) + "</div>", "</figure>", "</div>",
        ])

    def to_latex(self) -> str:
        """Number/title block, the PDF by bare file name (the renderer sets \\graphicspath), notes."""
        number, title = latex_escape(self.number), latex_escape(self.title)
        lines = [
            r"\par\bigskip\noindent\begin{minipage}{\linewidth}\centering",
            self._latex_anchor("lof", "figure"),
            rf"\textbf{{{number}}}\par {title}\par",
        ]
        if self.population_text():
            lines.append(rf"{latex_escape(self.population_text())}\par")
        lines.append(r"\smallskip")
        lines.append(rf"\includegraphics[width=\linewidth,height=0.72\textheight,keepaspectratio]{{{self.slug}.pdf}}\par")
        lines.append(r"\raggedright\footnotesize")
        lines += [rf"{latex_escape(n)}\par" for n in (*self.footnotes, *_meta_lines(self))]
        lines.append(r"\end{minipage}\par\bigskip")
        return "\n".join(lines) + "\n"

    def _repr_markdown_(self) -> str:
        return raw_latex_block(self.to_latex())

    def to_markdown(self) -> str:
        notes = [*self.footnotes, *_meta_lines(self)]
        out = [f"**{self.number}** {self.title}", ""]
        if self.population_text():
            out += [self.population_text(), ""]
        out += [f"![{self.number}](figures/{self.slug}.png)", ""] + [n + "  " for n in notes]
        return "\n".join(out).rstrip() + "\n"

    def to_rtf(self, path: str | os.PathLike, png: str | os.PathLike | None = None) -> Path:
        """Write the figure as RTF (rtflite RTFFigure with the PNG), title and footnotes."""
        import rtflite as rtf

        path = Path(path)
        if png is None:
            png = path.with_name(f".{self.slug}.rtf.png")
            _atomic_write(Path(png), self.render("png"))
            cleanup = Path(png)
        else:
            cleanup = None
        try:
            w, h = self.figure.get_size_inches()
            landscape = w / h > 1.45
            max_w = 8.5 if landscape else 6.0
            scale = min(1.0, max_w / w, (5.0 if landscape else 7.5) / h)
            title = [_rtf_text(t) for t in (self.number, self.title, self.population_text()) if t]
            kwargs = dict(
                rtf_page=rtf.RTFPage(orientation="landscape" if landscape else "portrait"),
                rtf_title=rtf.RTFTitle(text=title, text_convert=[False]),
                rtf_figure=rtf.RTFFigure(figures=[str(png)], fig_width=round(w * scale, 3), fig_height=round(h * scale, 3)),
            )
            if self.footnotes:
                kwargs["rtf_footnote"] = rtf.RTFFootnote(text=[_rtf_text(f) for f in self.footnotes], as_table=False, text_convert=[[False]])
            if _meta_lines(self):
                kwargs["rtf_source"] = rtf.RTFSource(text=[_rtf_text(m) for m in _meta_lines(self)], as_table=False, text_convert=[[False]])
            _atomic_write(path, _rtf_bytes(rtf.RTFDocument(**kwargs).rtf_encode()))
        finally:
            if cleanup is not None:
                cleanup.unlink(missing_ok=True)
        return path


# --------------------------------------------------------------------------- emitter


def tlf_rendering_enabled() -> bool:
    """False when ``$CSR_RENDER_TLFS`` is ``0``: chapters then compute every ARD and build every TLF
    body but write and show no TLF (the benchmark's "derive + ARDs, no rendering" scale runs)."""
    return os.environ.get("CSR_RENDER_TLFS", "1") != "0"


class Emitter:
    """Shows TLFs in a chapter notebook and writes their files for one data cut.

    Files (paths relative to ``output_dir`` = ``_output/<cut>/``): ``rtf/<number-slug>.rtf``,
    ``figures/<slug>.{svg,pdf,png}`` and ``tlf/<slug>.json`` (metadata for lists of tables and
    figures). Nothing written carries a timestamp or an absolute path.
    """

    def __init__(self, cut: Any = None, output_dir: str | os.PathLike | None = None, *, display: bool = True,
                 render: bool | None = None):
        if output_dir is None:
            if cut is None or not hasattr(cut, "output_dir"):
                raise TLFError("Emitter needs a Cut (from config.load_cut) or an output_dir")
            output_dir = cut.output_dir
        self.cut = cut
        self.output_dir = Path(output_dir)
        self.display = display
        self.render = tlf_rendering_enabled() if render is None else render
        self.emitted: list[_TLF] = []

    # Shortcuts: build the TLF from the catalogue with this emitter's cut and emit it. They return
    # nothing: emit() shows the TLF once (a returned object would be shown again as the cell's
    # value); it stays available as ``self.emitted[-1]``.
    def table(self, entry_id: str, body: pd.DataFrame, **meta: Any) -> None:
        """Emit catalogue table ``entry_id`` (``meta``: population_n, source, footnotes, catalogue)."""
        self.emit(Table.from_catalogue(entry_id, body, cut=self.cut, **meta))

    def listing(self, entry_id: str, body: pd.DataFrame, **meta: Any) -> None:
        """Emit catalogue listing ``entry_id`` (same ``meta`` as :meth:`table`)."""
        self.emit(Listing.from_catalogue(entry_id, body, cut=self.cut, **meta))

    def figure(self, entry_id: str, figure: Any, **meta: Any) -> None:
        """Emit catalogue figure ``entry_id`` (a matplotlib figure; same ``meta`` as :meth:`table`)."""
        self.emit(Figure.from_catalogue(entry_id, figure, cut=self.cut, **meta))

    def emit(self, tlf: _TLF) -> _TLF:
        """Write the TLF's files, display it (IPython) and return it."""
        if not isinstance(tlf, _TLF):
            raise TLFError(f"emit() takes a Table, Listing or Figure, not {type(tlf).__name__}")
        clash = [t for t in self.emitted if t.number == tlf.number and t is not tlf]
        if clash:
            raise TLFError(f"{tlf.number} was already emitted in this notebook")
        if not self.render:  # analysis only: the TLF was built from its ARD; nothing is written or shown
            self.emitted.append(tlf)
            if isinstance(tlf, Figure):
                import matplotlib.pyplot as plt

                plt.close(tlf.figure)
            return tlf
        files = {"rtf": f"rtf/{tlf.rtf_name}"}
        if isinstance(tlf, Figure):
            saved = tlf.save(self.output_dir / "figures")
            files.update({fmt: f"figures/{p.name}" for fmt, p in saved.items()})
            tlf.to_rtf(self.output_dir / files["rtf"], png=saved["png"])
        else:
            tlf.to_rtf(self.output_dir / files["rtf"])
        meta = tlf.metadata() | {"files": files}
        data = json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        _atomic_write(self.output_dir / "tlf" / f"{tlf.slug}.json", data.encode("utf-8"))
        self.emitted.append(tlf)
        if self.display:
            from IPython.display import display

            display(tlf)
        return tlf
