"""Markdown renderings of TLFs (pipe tables; every text from the data escaped)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from analysis_lib.toolkit.escape import markdown as esc

if TYPE_CHECKING:
    from analysis_lib.toolkit.tlf.model import Figure, Table


def _cell(text: str) -> str:
    """One table cell or caption line: on one line, escaped."""
    return esc(str(text).replace("\n", " "))


def table(t: Table) -> str:
    """A pipe table with the number/title above and footnotes/source below."""
    out = [f"**{_cell(t.number)}** {_cell(t.title)}"]
    if t.population_text():
        out += ["", _cell(t.population_text())]
    out += [
        "",
        "| " + " | ".join(_cell(c) for c in t.columns) + " |",
        "|" + "|".join([":---"] + [":---:"] * (len(t.columns) - 1)) + "|",
    ]
    for ind, row in zip(t.indents(), t.rows(), strict=True):
        vals = [_cell(v) for v in row]
        vals[0] = "\u00a0" * (4 * ind) + vals[0]
        out.append("| " + " | ".join(vals) + " |")
    notes = t.notes()
    if notes:
        out.append("")
        out += [_cell(n) + ("  " if i < len(notes) - 1 else "") for i, n in enumerate(notes)]
    return "\n".join(out) + "\n"


def figure(f: Figure) -> str:
    """Number/title, the PNG by relative path, notes."""
    out = [f"**{_cell(f.number)}** {_cell(f.title)}", ""]
    if f.population_text():
        out += [_cell(f.population_text()), ""]
    out += [f"![{_cell(f.number)}](figures/{f.slug}.png)", ""] + [_cell(n) + "  " for n in f.notes()]
    return "\n".join(out).rstrip() + "\n"
