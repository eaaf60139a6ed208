"""RTF renderings of TLFs for medical writers (via ``rtflite``; every text from the data escaped)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis_lib.toolkit.escape import rtf as esc
from analysis_lib.toolkit.files import atomic_write
from analysis_lib.toolkit.tlf.catalogue import TLFError

if TYPE_CHECKING:
    from analysis_lib.toolkit.tlf.model import Figure, Table

#: Rows per rtflite encoding block (see :func:`write_table`).
BLOCK_ROWS = 200


def _ascii(text: str) -> bytes:
    """RTF is 7-bit: every non-ASCII character was escaped by :func:`escape.rtf`."""
    try:
        return text.encode("ascii")
    except UnicodeEncodeError as exc:
        raise TLFError(f"RTF output holds a non-ASCII character {text[exc.start]!r} that was not escaped") from None


def _table_document(t: Table, rows: slice = slice(None), notes: bool = True) -> Any:
    import polars as pl
    import rtflite as rtf

    ncol = len(t.columns)
    weights = t.col_weights()
    # ~0.07 in per character at 9 pt; landscape when the content needs more than portrait width.
    orientation = "landscape" if (sum(weights) * 0.07 > 6.25 or ncol > 7 or t.kind == "listing") else "portrait"
    names = [f"c{j}" for j in range(ncol)]
    body_rows, indents = t.rows()[rows], t.indents()[rows]
    df = pl.DataFrame(
        {n: [esc(r[j]) for r in body_rows] for j, n in enumerate(names)}, schema=dict.fromkeys(names, pl.Utf8)
    )
    indent = [[int(180 * i)] + [0] * (ncol - 1) for i in indents] or [[0] * ncol]
    just = [["l"] + ["c"] * (ncol - 1)]
    title = [esc(x) for x in (t.number, t.title, t.population_text()) if x]
    kwargs: dict[str, Any] = dict(
        df=df,
        rtf_page=rtf.RTFPage(orientation=orientation),
        rtf_title=rtf.RTFTitle(text=title, text_convert=[False]),
        rtf_column_header=[
            rtf.RTFColumnHeader(
                text=[esc(c) for c in t.columns],
                col_rel_width=weights,
                text_justification=[just[0]],
                text_convert=[False],
            )
        ],
        rtf_body=rtf.RTFBody(
            col_rel_width=weights,
            text_justification=just,
            text_indent_left=indent,
            text_indent_first=[[0] * ncol],
            text_convert=[[False]],
        ),
    )
    if t.footnotes and notes:
        kwargs["rtf_footnote"] = rtf.RTFFootnote(text=[esc(f) for f in t.footnotes], text_convert=[[False]])
    meta = [esc(m) for m in t.meta_lines()]
    if meta and notes:
        kwargs["rtf_source"] = rtf.RTFSource(text=meta, text_convert=[[False]])
    return rtf.RTFDocument(**kwargs)


def write_table(t: Table, path: Path) -> Path:
    """Write a table or listing as RTF: title, column headers, body, footnotes, source.

    Long bodies are encoded in blocks of :data:`BLOCK_ROWS` rows joined page by page with
    ``rtflite.assemble_rtf`` (titles and headers on every block, notes after the last): rtflite's
    own encoding time grows with the square of the rows (10,000-row listing: minutes).
    """
    import rtflite as rtf

    n = len(t.rows())
    if n <= BLOCK_ROWS:
        atomic_write(path, _ascii(_table_document(t).rtf_encode()))
        return path
    with tempfile.TemporaryDirectory(prefix="csr-rtf-") as tmp:
        parts = []
        for k, start in enumerate(range(0, n, BLOCK_ROWS)):
            part = Path(tmp) / f"part{k:05d}.rtf"
            doc = _table_document(t, slice(start, start + BLOCK_ROWS), notes=start + BLOCK_ROWS >= n)
            part.write_bytes(_ascii(doc.rtf_encode()))
            parts.append(str(part))
        joined = Path(tmp) / "joined.rtf"
        rtf.assemble_rtf(parts, str(joined))
        atomic_write(path, joined.read_bytes())
    return path


def write_figure(f: Figure, path: Path, png: Path | None = None) -> Path:
    """Write a figure as RTF (rtflite RTFFigure with the PNG), title, footnotes and source."""
    import rtflite as rtf

    cleanup = None
    if png is None:
        png = path.with_name(f".{f.slug}.rtf.png")
        atomic_write(png, f.render("png"))
        cleanup = png
    try:
        w, h = f.figure.get_size_inches()
        landscape = w / h > 1.45
        max_w = 8.5 if landscape else 6.0
        scale = min(1.0, max_w / w, (5.0 if landscape else 7.5) / h)
        title = [esc(x) for x in (f.number, f.title, f.population_text()) if x]
        kwargs: dict[str, Any] = dict(
            rtf_page=rtf.RTFPage(orientation="landscape" if landscape else "portrait"),
            rtf_title=rtf.RTFTitle(text=title, text_convert=[False]),
            rtf_figure=rtf.RTFFigure(figures=[str(png)], fig_width=round(w * scale, 3), fig_height=round(h * scale, 3)),
        )
        if f.footnotes:
            kwargs["rtf_footnote"] = rtf.RTFFootnote(
                text=[esc(x) for x in f.footnotes], as_table=False, text_convert=[[False]]
            )
        if f.meta_lines():
            kwargs["rtf_source"] = rtf.RTFSource(
                text=[esc(m) for m in f.meta_lines()], as_table=False, text_convert=[[False]]
            )
        atomic_write(path, _ascii(rtf.RTFDocument(**kwargs).rtf_encode()))
    finally:
        if cleanup is not None:
            cleanup.unlink(missing_ok=True)
    return path
