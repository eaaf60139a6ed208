"""LaTeX renderings of TLFs for the PDF: ``longtable`` tables (needs ``longtable``, ``booktabs``
and ``array`` in the preamble) and figures by bare file name (the renderer sets ``\\graphicspath``)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from analysis_lib.toolkit.escape import latex as esc
from analysis_lib.toolkit.escape import latex_lines

if TYPE_CHECKING:
    from analysis_lib.toolkit.tlf.model import TLF, Figure, Table


def raw_block(tex: str) -> str:
    """A MyST ``{raw} latex`` fence around ``tex`` (fence longer than any backtick run inside)."""
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", tex)), default=0))
    return f"{fence}{{raw}} latex\n{tex}{fence}\n"


def _anchor(t: TLF, lst: str, kind: str) -> str:
    """Hyperlink anchor, entry in \\listoftables/\\listoffigures, a PDF bookmark one level below the
    section it sits in (every TLF is in the PDF's outline) and ``\\label{tlf:<id>}``."""
    out = (
        r"\ifdefined\phantomsection\phantomsection\fi"
        rf"\addcontentsline{{{lst}}}{{{kind}}}{{{esc(t.number)}\quad {esc(t.title)}}}"
        rf"\ifdefined\belowpdfbookmark\belowpdfbookmark{{{esc(t.number)}: {esc(t.title)}}}{{tlfbm:{t.slug}}}\fi"
    )
    if t.id:
        out += rf"\label{{tlf:{t.id}}}"
    return out


def table(t: Table) -> str:
    """A ``longtable`` (booktabs rules, wrapping p{} columns that fill \\linewidth, header
    repeated on every page via \\endhead, footnotes and source at the end)."""
    ncol = len(t.columns)
    weights = t.col_weights()
    spec = []
    for j, w in enumerate(weights):
        width = rf"\dimexpr {w / sum(weights):.4f}\linewidth-2\tabcolsep\relax"
        align = r"\raggedright" if j == 0 else r"\centering"
        spec.append(rf">{{{align}\arraybackslash}}p{{{width}}}")
    full = rf"\multicolumn{{{ncol}}}{{@{{}}p{{\linewidth}}@{{}}}}"
    number, title = esc(t.number), esc(t.title)
    header = " & ".join(rf"\textbf{{{latex_lines(c)}}}" for c in t.columns) + r" \\"
    # anchor, list-of-tables entry and \label{tlf:<id>} (page numbers in the renderer's TLF lists)
    # sit in the first head, which is typeset exactly once, on the table's first page
    title_block = rf"{full}{{{_anchor(t, 'lot', 'table')}\centering\textbf{{{number}}}\par {title}"
    if t.population_text():
        title_block += rf"\par {esc(t.population_text())}"
    title_block += r"\par\smallskip}\\"
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
    lines += [rf"{full}{{\footnotesize {esc(n)}}}\\" for n in t.notes()]
    lines.append(r"\endlastfoot")
    rows = list(zip(t.indents(), t.rows(), strict=True))
    for i, (ind, row) in enumerate(rows, start=1):
        cells = [latex_lines(v) for v in row]
        if ind:
            cells[0] = rf"\setlength{{\leftskip}}{{{1.5 * ind:.1f}em}}" + cells[0]
        # no page break after the last row: longtable cannot look ahead at the footnotes, so a table
        # whose rows just fit would put them alone under a "(continued)" header on the next page
        lines.append(" & ".join(cells) + (r" \\*" if i == len(rows) else r" \\"))
    lines += [r"\end{longtable}", r"\endgroup"]
    return "\n".join(lines) + "\n"


def figure(f: Figure) -> str:
    """Number/title block, the PDF by bare file name, notes; kept together on one page."""
    lines = [
        r"\par\bigskip\noindent\begin{minipage}{\linewidth}\centering",
        _anchor(f, "lof", "figure"),
        rf"\textbf{{{esc(f.number)}}}\par {esc(f.title)}\par",
    ]
    if f.population_text():
        lines.append(rf"{esc(f.population_text())}\par")
    lines.append(r"\smallskip")
    lines.append(rf"\includegraphics[width=\linewidth,height=0.72\textheight,keepaspectratio]{{{f.slug}.pdf}}\par")
    lines.append(r"\raggedright\footnotesize")
    lines += [rf"{esc(n)}\par" for n in f.notes()]
    lines.append(r"\end{minipage}\par\bigskip")
    return "\n".join(lines) + "\n"
