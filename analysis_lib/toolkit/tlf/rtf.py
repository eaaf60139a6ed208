"""RTF renderings of TLFs for medical writers, laid out the way a CSR TLF shell is (docs/design.md §3a).

Every page of a TLF carries the same furniture: a running header (study id, report type, data
cut-off and "Page x of y" as ``PAGE``/``NUMPAGES`` fields, so Word and LibreOffice number the
pages), the title block (number, title, population), the column headers, and a running footer
(source datasets, program, ARD file, data cut-off: :meth:`TLF.meta_lines`). Footnotes follow one
convention: once, directly under the table body (or figure) on the TLF's last page.

Pagination is computed here, not left to rtflite's fixed row budget: column widths come from the
content (never narrower than the longest header word, so no header word is split) and fill the
page; each row's height is the number of lines its cells wrap to at those widths; rows go onto a
page while they fit the page height left by the furniture. rtflite encodes the rows of each page
(cells, borders, footnote box) and this module assembles pages and sections with its own header,
footer and section formatting, so a TLF file and the combined TLF volume (:func:`write_volume`)
share one layout. Every text from the data is escaped (:func:`escape.rtf`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis_lib.toolkit.escape import rtf as esc
from analysis_lib.toolkit.files import atomic_write
from analysis_lib.toolkit.tlf.catalogue import TLFError

__all__ = ["Furniture", "PageLayout", "TLFError", "VolumeEntry", "write_figure", "write_table", "write_volume"]

if TYPE_CHECKING:
    from analysis_lib.toolkit.tlf.model import TLF, Figure, Table

TWIPS = 1440  # per inch
PT = 72.0  # points per inch
BODY_PT = 9  # table cells, column headers and footnotes
TITLE_PT = 10
FURNITURE_PT = 8  # running header and footer
LINE = 1.15  # line height / font size of the serif font (Times New Roman / Liberation Serif)
CELL_PAD = 2 * 108 / TWIPS + 0.05  # rtflite's \trgaph108 either side of a cell's text, borders, rounding
ROW_EXTRA = (15 + 15) / 20 + 0.3  # points: rtflite's \sb15\sa15 per cell paragraph, plus the rule
INDENT = 180 / TWIPS  # per indent level of the row label
MEASURE = 1.03  # text widths are measured this much wider than the metrics say (clients' kerning and hinting)
FILL = 0.94  # share of the computed page height the rows may take (headroom for rounding in the client)

#: A page break after a table (an empty tiny paragraph either side, as rtflite/r2rtf write it).
PAGE_BREAK = "{\\pard\\fs2\\par}\\page{\\pard\\fs2\\par}\n"
#: The RTF prolog every file written here starts with (the volume joins files after it).
PROLOG = "{\\rtf1\\ansi\\deff0\\deflang1033\n"


@dataclass(frozen=True)
class Furniture:
    """Study-level text of the running header: study id and report type (from the study's params)."""

    study_id: str = ""
    report_type: str = ""


@dataclass(frozen=True)
class PageLayout:
    """Paper size, orientation and margins (inches: left, right, top, bottom, header, footer)."""

    orientation: str
    width: float
    height: float
    margin: tuple[float, float, float, float, float, float] = (1.0, 1.0, 1.0, 1.0, 0.5, 0.5)

    @property
    def content_width(self) -> float:
        return self.width - self.margin[0] - self.margin[1]

    @property
    def content_height(self) -> float:
        return self.height - self.margin[2] - self.margin[3]

    def section(self) -> str:
        """RTF section formatting: paper, orientation, margins, header and footer distance."""
        tw = [round(m * TWIPS) for m in self.margin]
        land = "\\lndscpsxn" if self.orientation == "landscape" else ""
        return (
            f"\\sectd{land}\\pgwsxn{round(self.width * TWIPS)}\\pghsxn{round(self.height * TWIPS)}"
            f"\\marglsxn{tw[0]}\\margrsxn{tw[1]}\\margtsxn{tw[2]}\\margbsxn{tw[3]}"
            f"\\headery{tw[4]}\\footery{tw[5]}\n"
        )

    def document(self) -> str:
        """The same as document defaults (readers that ignore section formatting still get the paper)."""
        tw = [round(m * TWIPS) for m in self.margin]
        land = "\\landscape" if self.orientation == "landscape" else ""
        return (
            f"\\paperw{round(self.width * TWIPS)}\\paperh{round(self.height * TWIPS)}{land}"
            f"\\margl{tw[0]}\\margr{tw[1]}\\margt{tw[2]}\\margb{tw[3]}\n"
        )


PORTRAIT = PageLayout("portrait", 8.5, 11.0)
LANDSCAPE = PageLayout("landscape", 11.0, 8.5)


# --------------------------------------------------------------------------------------------------
# Measuring text: widths from the font metrics rtflite ships, lines by greedy word wrap
# --------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=65536)
def text_width(text: str, pt: float = BODY_PT) -> float:
    """Width in inches of ``text`` in Times New Roman at ``pt`` points."""
    from rtflite import get_string_width

    return MEASURE * float(get_string_width(text, font="Times New Roman", font_size=pt))


def _words(text: str) -> list[str]:
    return [w for line in text.split("\n") for w in line.split()]


def wrap_lines(text: str, width: float, pt: float = BODY_PT) -> int:
    """Lines ``text`` takes in a box ``width`` inches wide (explicit ``\\n`` breaks kept; a word
    wider than the box takes as many lines as it needs)."""
    space = text_width(" ", pt)
    width += 1e-6  # a word exactly as wide as the box fits (floating-point sums of widths)
    lines = 0
    for para in text.split("\n"):
        used, n = 0.0, 1
        for word in para.split():
            w = text_width(word, pt)
            if used and used + space + w <= width:
                used += space + w
                continue
            if used:
                n += 1
            extra = int(w // width) if width > 0 else 0
            n += extra
            used = w - extra * width
        lines += n
    return lines


def _block_height(lines: int, pt: float) -> float:
    """Inches taken by ``lines`` lines at ``pt`` points."""
    return lines * pt * LINE / PT


# --------------------------------------------------------------------------------------------------
# Column widths and orientation
# --------------------------------------------------------------------------------------------------
def _fit(mins: list[float], wants: list[float], total: float) -> list[float]:
    """Widths summing to ``total``. When the wanted (one-line) widths fit they are scaled up to
    fill the page; else columns are filled like water: one level ``c`` with every width
    ``clamp(c, min, want)`` -- narrow columns keep their one-line width, the widest text columns
    share what is left and wrap, none goes below its minimum (when the minimums fit)."""
    if sum(wants) <= total:
        return [w * total / sum(wants) for w in wants]
    if sum(mins) >= total:
        return [m * total / sum(mins) for m in mins]

    def filled(level: float) -> list[float]:
        return [min(max(level, m), w) for m, w in zip(mins, wants)]

    lo, hi = 0.0, max(wants)
    for _ in range(60):  # bisection: sum(filled(level)) grows with level
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if sum(filled(mid)) < total else (lo, mid)
    widths = filled(lo)
    spare = total - sum(widths)  # bisection remainder, given to the columns still below their want
    grow = [j for j, (w, want) in enumerate(zip(widths, wants)) if w < want] or list(range(len(widths)))
    return [w + (spare / len(grow) if j in grow else 0.0) for j, w in enumerate(widths)]


def _column_needs(t: Table) -> tuple[list[float], list[float], list[float]]:
    """Per column (inches, padding included): the longest header word, the longest word anywhere
    in the column, and the width that shows every cell on one line."""
    rows = t.rows()
    indents = t.indents()
    head_min, word_min, want = [], [], []
    for j, name in enumerate(t.columns):
        cells = [r[j] for r in rows]
        extra = CELL_PAD + (INDENT * max(indents, default=0) if j == 0 else 0.0)
        head = max((text_width(w) for w in _words(name)), default=0.0) + CELL_PAD
        words = max([text_width(w) for c in cells for w in _words(c)] + [head - CELL_PAD], default=0.0)
        lines = [*name.split("\n"), *(line for c in cells for line in c.split("\n"))]
        head_min.append(head)
        word_min.append(words + extra)
        want.append(max((text_width(s) for s in lines), default=0.0) + extra)
    return head_min, word_min, want


def table_layout(t: Table) -> tuple[PageLayout, list[float]]:
    """Page layout and column widths (inches) of a table or listing.

    Listings are landscape; a table is portrait when its data columns (all but the first) fit there
    on one line and leave the row-label column at least a third of the width (or its longest word),
    else landscape. Widths fill the page width, never below the longest header word of a column (no
    header word split), and keep data words whole where the page allows.
    """
    head_min, word_min, want = _column_needs(t)
    label = min(want[0], max(word_min[0], PORTRAIT.content_width / 3))
    portrait_ok = sum(want[1:]) + label <= PORTRAIT.content_width
    layout = LANDSCAPE if (t.kind == "listing" or not portrait_ok) else PORTRAIT
    total = layout.content_width
    mins = word_min if sum(word_min) <= total else head_min
    return layout, _fit(mins, want, total)


# --------------------------------------------------------------------------------------------------
# Furniture: header, footer, title block, footnotes
# --------------------------------------------------------------------------------------------------
def _field(instruction: str, result: str = "1") -> str:
    return f"{{\\field{{\\*\\fldinst {instruction} }}{{\\fldrslt {result}}}}}"


def page_x_of_y() -> str:
    """'Page x of y' as RTF fields (the client fills them in when it lays out the pages)."""
    return f"Page {_field('PAGE')} of {_field('NUMPAGES')}"


def header_rtf(furniture: Furniture, cut_date: str | None, layout: PageLayout) -> str:
    """Running header: study id and report type left, "Page x of y" right; data cut-off below."""
    left = " | ".join(esc(x) for x in (furniture.study_id, furniture.report_type) if x)
    tab = round(layout.content_width * TWIPS)
    fs = FURNITURE_PT * 2
    cut = f"Data cut-off: {esc(cut_date)}" if cut_date else ""
    return (
        f"{{\\header\\pard\\plain\\ql\\tqr\\tx{tab}\\f0\\fs{fs} {left}\\tab {page_x_of_y()}\\par\n"
        f"\\pard\\plain\\ql\\brdrb\\brdrs\\brdrw10\\brsp20\\f0\\fs{fs} {cut}\\par}}\n"
    )


def footer_rtf(lines: Sequence[str]) -> str:
    """Running footer: the TLF's source, program, ARD and data cut-off lines, over a rule."""
    fs = FURNITURE_PT * 2
    text = "\\line ".join(esc(x) for x in lines)
    return f"{{\\footer\\pard\\plain\\ql\\brdrt\\brdrs\\brdrw10\\brsp20\\f0\\fs{fs} {text}\\par}}\n"


def footer_height(lines: Sequence[str], layout: PageLayout) -> float:
    """Inches the running footer takes (to check it fits in the bottom margin)."""
    n = sum(wrap_lines(x, layout.content_width, FURNITURE_PT) for x in lines)
    return _block_height(n, FURNITURE_PT)


def bookmark_name_for(slug: str) -> str:
    """RTF bookmark of a TLF's first page from its id (the volume's table of contents links to it)."""
    return "tlf_" + re.sub(r"[^A-Za-z0-9]+", "_", slug)[:36]


def bookmark_name(t: TLF) -> str:
    return bookmark_name_for(t.slug)


def _title_lines(t: TLF) -> list[str]:
    return [x for x in (t.number, t.title, t.population_text()) if x]


def title_rtf(t: TLF, first: bool) -> str:
    """Title block: number, title, population, centred; on the first page an outline level (the
    heading a client's navigator and PDF export show) and the bookmark the volume links to."""
    body = "\\line ".join(esc(x) for x in _title_lines(t))
    mark = ""
    outline = ""
    if first:
        name = bookmark_name(t)
        mark = f"{{\\*\\bkmkstart {name}}}{{\\*\\bkmkend {name}}}"
        outline = "\\outlinelevel0"
    return f"{{\\pard\\plain\\keepn\\qc\\sb0\\sa120{outline}\\f0\\fs{TITLE_PT * 2} {mark}{body}\\par}}\n"


def title_height(t: TLF, layout: PageLayout) -> float:
    n = sum(wrap_lines(x, layout.content_width, TITLE_PT) for x in _title_lines(t))
    return _block_height(n, TITLE_PT) + 6 / PT


def _notes_height(notes: Sequence[str], width: float) -> float:
    if not notes:
        return 0.0
    return _block_height(sum(wrap_lines(x, width - CELL_PAD) for x in notes), BODY_PT) + ROW_EXTRA / PT


# --------------------------------------------------------------------------------------------------
# Tables and listings
# --------------------------------------------------------------------------------------------------
def row_heights(t: Table, widths: Sequence[float]) -> list[float]:
    """Inches each body row takes at ``widths``: its tallest cell's wrapped lines."""
    out = []
    for row, level in zip(t.rows(), t.indents()):
        lines = 1
        for j, (cell, w) in enumerate(zip(row, widths)):
            inner = w - CELL_PAD - (INDENT * level if j == 0 else 0.0)
            lines = max(lines, wrap_lines(cell, inner))
        out.append(_block_height(lines, BODY_PT) + ROW_EXTRA / PT)
    return out


def header_height(t: Table, widths: Sequence[float]) -> float:
    lines = max((wrap_lines(c, w - CELL_PAD) for c, w in zip(t.columns, widths)), default=1)
    return _block_height(lines, BODY_PT) + ROW_EXTRA / PT


def paginate(heights: Sequence[float], room: float, last_extra: float) -> list[range]:
    """Rows per page: greedily while they fit ``room`` inches; the last page must also hold
    ``last_extra`` (the footnotes), else its last rows move to one more page. A row taller than a
    page gets a page of its own."""
    pages: list[list[int]] = [[]]
    used = 0.0
    for i, h in enumerate(heights):
        if pages[-1] and used + h > room:
            pages.append([])
            used = 0.0
        pages[-1].append(i)
        used += h
    moved: list[int] = []
    while len(pages[-1]) > 1 and used + last_extra > room:
        i = pages[-1].pop()
        moved.insert(0, i)
        used -= heights[i]
    if moved:
        pages.append(moved)
    if not pages[-1]:
        pages[-1] = []
    return [range(p[0], p[-1] + 1) if p else range(0) for p in pages]


@dataclass(frozen=True)
class TablePlan:
    """How a table is laid out: page, column widths (inches) and the rows of each page."""

    layout: PageLayout
    widths: list[float]
    pages: list[range]


def plan_table(t: Table) -> TablePlan:
    """Layout, widths and pagination of ``t`` (see the module docstring)."""
    layout, widths = table_layout(t)
    room = FILL * (layout.content_height - title_height(t, layout) - header_height(t, widths))
    notes = _notes_height(t.footnotes, layout.content_width)
    return TablePlan(layout, widths, paginate(row_heights(t, widths), room, notes))


def _rtflite_body(doc: Any) -> str:
    """The page content rtflite encodes for ``doc`` (column headers, rows, footnote box), without
    its prolog, page settings and closing brace: this module writes those itself."""
    text = doc.rtf_encode()
    m = re.search(r"\\footery-?\d+\n", text)
    if m is None or not text.rstrip().endswith("}"):
        raise TLFError("unexpected rtflite output: page settings not found")
    return text[m.end() :].rstrip()[:-1].strip("\n") + "\n"


def _table_page(t: Table, plan: TablePlan, body_rows: list[list[str]], indents: list[int], notes: bool) -> str:
    """One page of a table: its rows (with column headers, and the footnote box when ``notes``)."""
    import polars as pl
    import rtflite as rtf

    ncol = len(t.columns)
    names = [f"c{j}" for j in range(ncol)]
    df = pl.DataFrame(
        {n: [esc(r[j]) for r in body_rows] for j, n in enumerate(names)}, schema=dict.fromkeys(names, pl.Utf8)
    )
    indent = [[int(180 * i)] + [0] * (ncol - 1) for i in indents] or [[0] * ncol]
    just = [["l"] + ["c"] * (ncol - 1)]
    lay = plan.layout
    kwargs: dict[str, Any] = dict(
        df=df,
        rtf_page=rtf.RTFPage(
            orientation=lay.orientation,
            width=lay.width,
            height=lay.height,
            margin=list(lay.margin),
            col_width=lay.content_width,
            nrow=10**7,
        ),
        rtf_column_header=[
            rtf.RTFColumnHeader(
                text=[esc(c) for c in t.columns],
                col_rel_width=plan.widths,
                text_justification=[just[0]],
                text_convert=[False],
            )
        ],
        rtf_body=rtf.RTFBody(
            col_rel_width=plan.widths,
            text_justification=just,
            text_indent_left=indent,
            text_indent_first=[[0] * ncol],
            text_convert=[[False]],
        ),
    )
    if t.footnotes and notes:
        kwargs["rtf_footnote"] = rtf.RTFFootnote(text=[esc(f) for f in t.footnotes], text_convert=[[False]])
    # the column-header row (the page's first row) is also a repeating header row (\trhdr): should a
    # client lay a page out longer than planned, the rows it moves on still get the headers
    return _rtflite_body(rtf.RTFDocument(**kwargs)).replace("\\trowd", "\\trowd\\trhdr", 1)


def _section(layout: PageLayout, header: str, footer: str, pages: Sequence[str]) -> str:
    """One RTF section: formatting, running header and footer, pages joined by page breaks."""
    return layout.section() + header + footer + PAGE_BREAK.join(pages)


def _file(layout: PageLayout, sections: Sequence[str]) -> bytes:
    """A whole RTF file: prolog, font table, document defaults, sections, closing brace."""
    from rtflite.rtf.syntax import RTFSyntaxGenerator

    text = (
        PROLOG
        + RTFSyntaxGenerator.generate_font_table()
        + "\n"
        + layout.document()
        + "{\\pard\\fs2\\par}\\sect\n".join(sections)
        + "}\n"
    )
    return _ascii(text)


def _ascii(text: str) -> bytes:
    """RTF is 7-bit: every non-ASCII character was escaped by :func:`escape.rtf`."""
    try:
        return text.encode("ascii")
    except UnicodeEncodeError as exc:
        raise TLFError(f"RTF output holds a non-ASCII character {text[exc.start]!r} that was not escaped") from None


def _furniture(t: TLF, furniture: Furniture | None, layout: PageLayout) -> tuple[str, str]:
    furniture = furniture or Furniture()
    return header_rtf(furniture, t.cut_date, layout), footer_rtf(t.meta_lines())


def table_section(t: Table, furniture: Furniture | None = None) -> tuple[PageLayout, str, int]:
    """The RTF section of a table or listing, its layout and its number of pages."""
    plan = plan_table(t)
    header, footer = _furniture(t, furniture, plan.layout)
    rows, indents = t.rows(), t.indents()
    pages = [
        title_rtf(t, first=k == 0)
        + _table_page(t, plan, rows[r.start : r.stop], indents[r.start : r.stop], notes=k == len(plan.pages) - 1)
        for k, r in enumerate(plan.pages)
    ]
    return plan.layout, _section(plan.layout, header, footer, pages), len(pages)


def write_table(t: Table, path: Path, furniture: Furniture | None = None) -> Path:
    """Write a table or listing as RTF: furniture on every page, rows paginated to fill the page,
    footnotes under the table on the last page (module docstring). Returns ``path``."""
    layout, section, _ = table_section(t, furniture)
    atomic_write(path, _file(layout, [section]))
    return path


# --------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------
def figure_scale(f: Figure, layout: PageLayout) -> float:
    """How much the figure is scaled to fill the room the furniture leaves on a ``layout`` page."""
    w, h = f.figure.get_size_inches()
    notes = _notes_height(f.footnotes, layout.content_width)
    room_h = FILL * (layout.content_height - title_height(f, layout) - notes) - 0.1
    return float(min(layout.content_width / w, room_h / h))


def figure_section(f: Figure, png: Path, furniture: Furniture | None = None) -> tuple[PageLayout, str]:
    """The RTF section of a figure: one page, portrait or landscape, whichever shows the figure
    larger, the PNG scaled into the room the furniture leaves."""
    import rtflite as rtf

    w, h = f.figure.get_size_inches()
    layout = max((PORTRAIT, LANDSCAPE), key=lambda lay: figure_scale(f, lay) - (0.05 if lay is LANDSCAPE else 0.0))
    scale = figure_scale(f, layout)
    doc = rtf.RTFDocument(
        rtf_page=rtf.RTFPage(
            orientation=layout.orientation, width=layout.width, height=layout.height, margin=list(layout.margin)
        ),
        rtf_figure=rtf.RTFFigure(figures=[str(png)], fig_width=round(w * scale, 3), fig_height=round(h * scale, 3)),
    )
    page = title_rtf(f, first=True) + _rtflite_body(doc)
    if f.footnotes:
        text = "\\line ".join(esc(x) for x in f.footnotes)
        page += f"{{\\pard\\plain\\ql\\sb60\\f0\\fs{BODY_PT * 2} {text}\\par}}\n"
    header, footer = _furniture(f, furniture, layout)
    return layout, _section(layout, header, footer, [page])


def write_figure(f: Figure, path: Path, png: Path | None = None, furniture: Furniture | None = None) -> Path:
    """Write a figure as RTF: furniture, title block, the PNG filling the page, footnotes below."""
    cleanup = None
    if png is None:
        png = path.with_name(f".{f.slug}.rtf.png")
        atomic_write(png, f.render("png"))
        cleanup = png
    try:
        layout, section = figure_section(f, png, furniture)
        atomic_write(path, _file(layout, [section]))
    finally:
        if cleanup is not None:
            cleanup.unlink(missing_ok=True)
    return path


# --------------------------------------------------------------------------------------------------
# The combined TLF volume
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VolumeEntry:
    """One TLF of the volume: its number, title, RTF file (written by this module) and bookmark."""

    number: str
    title: str
    rtf: Path
    bookmark: str


def _sections_of(path: Path) -> str:
    """The sections of a TLF file written by :func:`_file` (between document defaults and the end)."""
    text = path.read_text(encoding="ascii")
    m = re.search(r"\\margb\d+\n(?=\\sectd)", text)
    if not text.startswith(PROLOG) or m is None or not text.endswith("}\n"):
        raise TLFError(f"{path}: not an RTF TLF written by analysis_lib (cannot join it into the volume)")
    return text[m.end() : -2]


def toc_rtf(entries: Sequence[VolumeEntry], heading: Sequence[str]) -> str:
    """Table of contents: one line per TLF, a hyperlink to its bookmark, a dotted leader and its
    page as a ``PAGEREF`` field to the bookmark, which Word and LibreOffice compute when they lay
    out the pages. (Not wrapped in a Word ``TOC`` field: LibreOffice then shows no page numbers.)"""
    tab = round(PORTRAIT.content_width * TWIPS)
    head = "\\line ".join(esc(x) for x in heading)
    lines = []
    for e in entries:
        text = f"{esc(e.number)}  {esc(e.title)}"
        page = _field(f"PAGEREF {e.bookmark} \\\\h", "0")
        link = f'{{\\field{{\\*\\fldinst HYPERLINK \\\\l "{e.bookmark}" }}{{\\fldrslt {text}}}}}\\tab {page}'
        lines.append(f"\\pard\\plain\\ql\\li0\\tqr\\tldot\\tx{tab}\\sb20\\sa20\\f0\\fs{BODY_PT * 2} {link}\\par\n")
    toc = "".join(lines)
    return (
        f"{{\\pard\\plain\\qc\\sb0\\sa240\\f0\\fs{TITLE_PT * 2 + 4}\\b {head}\\par}}\n"
        f"{{\\pard\\plain\\qc\\sa120\\f0\\fs{TITLE_PT * 2}\\b Contents\\par}}\n" + toc
    )


def write_volume(
    entries: Sequence[VolumeEntry], path: Path, furniture: Furniture, cut_date: str, heading: Sequence[str]
) -> Path:
    """Join TLF files into one volume in the given (catalogue) order: a table of contents, then
    every TLF as its own section (page break, its orientation, its furniture). The running header's
    "Page x of y" counts the volume's pages, as the contents' page numbers do."""
    if not entries:
        raise TLFError("the TLF volume needs at least one TLF")
    toc_footer = footer_rtf([f"Data cut-off: {cut_date}"])
    sections = [_section(PORTRAIT, header_rtf(furniture, cut_date, PORTRAIT), toc_footer, [toc_rtf(entries, heading)])]
    sections += [_sections_of(e.rtf) for e in entries]
    atomic_write(path, _file(PORTRAIT, sections))
    return path
