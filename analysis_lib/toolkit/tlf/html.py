"""HTML renderings of TLFs for the book's site (every text from the data escaped)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from analysis_lib.toolkit.escape import html as esc

if TYPE_CHECKING:
    from analysis_lib.toolkit.tlf.model import TLF, Figure, Table

CSS = (
    "<style>.csr-tlf{margin:1em 0}.csr-tlf table{border-collapse:collapse;border-top:2px solid #000;"
    "border-bottom:2px solid #000;font-size:0.9em;min-width:min(100%,44em)}.csr-tlf-number{font-weight:bold}"
    ".csr-tlf figcaption{margin-bottom:0.4em}"
    ".csr-tlf caption{caption-side:top;text-align:left;"
    "padding-bottom:0.4em}.csr-tlf thead th{border-bottom:1px solid #000;text-align:center;"
    "vertical-align:bottom;padding:0.2em 0.6em}.csr-tlf td{padding:0.15em 0.6em;vertical-align:top;"
    "text-align:center;white-space:nowrap}.csr-tlf td:first-child,.csr-tlf th:first-child{text-align:left;"
    "white-space:normal}"
    ".csr-tlf-notes{font-size:0.85em;margin:0.3em 0 0 0;max-width:52em}.csr-tlf-notes p{margin:0.1em 0}"
    ".csr-tlf figure{margin:0}.csr-tlf svg{max-width:100%;height:auto}"
    ".csr-drill summary{cursor:pointer;color:#1f4e99;text-decoration:underline dotted}"
    ".csr-drill ul{list-style:none;margin:0.2em 0;padding:0;text-align:left;font-size:0.9em}</style>"
)


def _caption(t: TLF) -> str:
    cap = f'<span class="csr-tlf-number">{esc(t.number)}</span> <span class="csr-tlf-title">{esc(t.title)}</span>'
    if t.population_text():
        cap += f'<br/><span class="csr-tlf-population">{esc(t.population_text())}</span>'
    return cap


def _notes(t: TLF) -> str:
    notes = [f'<p class="csr-tlf-footnote">{esc(f)}</p>' for f in t.footnotes]
    notes += [f'<p class="csr-tlf-source">{esc(line)}</p>' for line in t.meta_lines()]
    return '<div class="csr-tlf-notes">' + "".join(notes) + "</div>"


def _ident(t: TLF) -> str:
    return f' id="{esc(t.id)}"' if t.id else ""


def _link(text: str, href: str | None) -> str:
    return f'<a href="{esc(href)}">{esc(text)}</a>' if href else esc(text)


def _cell(t: Table, i: int, j: int, v: str) -> str:
    """A body cell: its text, a link (``t.links``) or a drill-down (``t.drilldown``): a
    ``<details>`` whose summary keeps the count as its text and opens the list of the subjects it
    counts — plain HTML, no script, works offline."""
    items = t.drilldown.get((i, j))
    if items:
        lis = "".join(f"<li>{_link(text, href)}</li>" for text, href in items)
        return f'<details class="csr-drill"><summary>{esc(v)}</summary><ul>{lis}</ul></details>'
    href = t.links.get((i, j))
    return _link(v, href) if href else esc(v)


def table(t: Table) -> str:
    """A captioned ``<table>`` (header, indented row labels) with footnotes and source below."""
    out = [
        CSS,
        f'<div class="csr-tlf csr-{t.kind}"{_ident(t)}>',
        f'<table class="csr-{t.kind}-body">',
        f"<caption>{_caption(t)}</caption>",
        "<thead><tr>"
        + "".join(f"<th>{'<br/>'.join(esc(p) for p in c.split(chr(10)))}</th>" for c in t.columns)
        + "</tr></thead>",
        "<tbody>",
    ]
    for i, (ind, row) in enumerate(zip(t.indents(), t.rows(), strict=True)):
        cells = []
        for j, v in enumerate(row):
            style = f' style="padding-left:{0.6 + 1.5 * ind:.1f}em"' if j == 0 and ind else ""
            cells.append(f"<td{style}>{_cell(t, i, j, v)}</td>")
        out.append(f'<tr class="csr-indent-{ind}">' + "".join(cells) + "</tr>")
    out += ["</tbody></table>", _notes(t), "</div>"]
    return "\n".join(out)


def figure(f: Figure) -> str:
    """The figure as inline SVG inside a captioned ``<figure>``."""
    import re

    svg = f.render("svg").decode("utf-8")
    svg = svg[svg.index("<svg") :]  # drop the XML prolog and DOCTYPE for inline use
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.S)  # RDF block naming external URIs
    return "\n".join(
        [
            CSS,
            f'<div class="csr-tlf csr-figure"{_ident(f)}>',
            "<figure>",
            f"<figcaption>{_caption(f)}</figcaption>",
            svg,
            _notes(f),
            "</figure>",
            "</div>",
        ]
    )
