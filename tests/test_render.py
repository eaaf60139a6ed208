"""Render deliverables: a small book from two executed notebooks (a long table and a vector figure)
built to HTML and PDF, then checked as a reviewer would: offline HTML, Chromium loads it without
console errors, the PDF has the TLF numbers, a real table, embedded fonts, header/footer, title page.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from helpers import chromium  # shared test helpers (tests/helpers.py)

from analysis_lib.pipeline import provenance, render
from analysis_lib.toolkit import escape
from analysis_lib.trial import config

ROOT = Path(__file__).resolve().parents[1]
CUT_DATE = dt.date(2025, 3, 31)
TLFS = [
    {"id": "t-demo-ae", "number": "Table 14.3.1.2", "title": "Adverse events by system organ class (demo)"},
    {"id": "f-demo-os", "number": "Figure 14.2.3", "title": "Kaplan-Meier plot of overall survival (demo)"},
]
N_ROWS = 90  # enough rows for the longtable to break across pages
# TLFs made by the real analysis_lib.toolkit.tlf objects (third chapter), written through its Emitter
LIB_TLFS = [
    {"id": "t-lib-g3", "number": "Table 14.3.2.1", "title": "Grade >= 3 adverse events (library table)"},
    {"id": "f-lib-ck", "number": "Figure 14.2.8", "title": "CAR-T expansion (library figure)"},
]


class DemoTable:
    """Stand-in for analysis_lib.toolkit.tlf tables: the same reprs (HTML table; MyST raw-LaTeX longtable)."""

    def __init__(self, number: str, title: str, tlf_id: str, rows: list[tuple[str, str, str]]):
        self.number, self.title, self.id, self.rows = number, title, tlf_id, rows

    def _repr_html_(self) -> str:
        body = "".join(f"<tr><td>{html.escape(a)}</td><td>{b}</td><td>{c}</td></tr>" for a, b, c in self.rows)
        return (
            f'<table class="tlf"><caption>{self.number}: {html.escape(self.title)}</caption>'
            "<thead><tr><th>Preferred term</th><th>DL1 (N=3)</th><th>DL2 (N=6)</th></tr></thead>"
            f"<tbody>{body}</tbody></table><p>Source: ADAE; program adverse_events.ipynb</p>"
        )

    def _repr_markdown_(self) -> str:
        body = "\n".join(rf"{a} & {b} & {c} \\" for a, b, c in self.rows)
        return (
            "```{raw} latex\n"
            rf"\phantomsection\label{{tlf:{self.id}}}"
            rf"\belowpdfbookmark{{{self.number}: {self.title}}}{{bm:{self.id}}}%"
            "\n"
            rf"\begin{{longtable}}{{@{{}}lrr@{{}}}}\caption*{{{self.number}: {self.title}}}\\"
            "\n\\toprule Preferred term & DL1 (N=3) & DL2 (N=6) \\\\ \\midrule \\endhead\n"
            "\\bottomrule \\endfoot\n"
            f"{body}\n\\end{{longtable}}\n```\n"
        )


def _figure_outputs(figures: Path) -> dict[str, str]:
    """A real matplotlib figure: PDF file for LaTeX (bare name), inline SVG for HTML."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.step([0, 3, 6, 12, 24], [1, 0.9, 0.8, 0.7, 0.65], where="post")
    ax.set(xlabel="Months since CD19 CAR-T infusion", ylabel="Overall survival", ylim=(0, 1.02))
    fig.tight_layout()
    fig.savefig(figures / "f-demo-os.pdf", metadata={"CreationDate": None})
    svg = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "f-demo-os"}):
        fig.savefig(svg, format="svg", metadata={"Date": None})
    plt.close(fig)
    svg_text = svg.getvalue()
    svg_text = svg_text[svg_text.index("<svg") :]
    tlf = TLFS[1]
    return {
        "text/html": f"<figure><figcaption>{tlf['number']}: {tlf['title']}</figcaption>{svg_text}</figure>",
        "text/markdown": "```{raw} latex\n\\begin{center}\\textbf{"
        + f"{tlf['number']}: {tlf['title']}"
        + "}\\label{tlf:f-demo-os}\\belowpdfbookmark{"
        + f"{tlf['number']}: {tlf['title']}"
        + "}{bm:f-demo-os}\\\\[2mm]\n"
        "\\includegraphics[width=0.9\\linewidth]{f-demo-os.pdf}\n\\end{center}\n```\n",
        "text/plain": "<Figure>",
    }


def _library_tlfs(build: Path) -> list:
    """A long indented table and a figure made with analysis_lib.toolkit.tlf, emitted into the build folder."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from analysis_lib.toolkit import tlf
    from analysis_lib.trial import catalogue as study_catalogue

    rows = []
    for soc in range(1, 8):
        rows.append({"_indent": 0, "System organ class\n  Preferred term": f"SOC {soc}", "Overall\n(N=12)": "5 (41.7)"})
        rows += [
            {
                "_indent": 1,
                "System organ class\n  Preferred term": f"PT {soc}.{pt}",
                "Overall\n(N=12)": f"{pt} ({100 * pt / 12:.1f})",
            }
            for pt in range(1, 10)
        ]
    src = {"datasets": ["ADSL", "ADAE"], "program": "gamma.ipynb"}
    table = tlf.Table(
        number=LIB_TLFS[0]["number"],
        title=LIB_TLFS[0]["title"],
        id=LIB_TLFS[0]["id"],
        population="Safety population",
        population_n=12,
        footnotes=["Grade by CTCAE v5.0."],
        source=src,
        cut_date=CUT_DATE,
        body=pd.DataFrame(rows),
    )
    fig, ax = plt.subplots(figsize=(6, 3), layout="constrained")
    ax.semilogy([0, 7, 14, 28, 90], [1, 3000, 800, 90, 5], marker="o")
    ax.set(xlabel="Days since CD19 CAR-T infusion", ylabel="Transgene copies/ug gDNA")
    figure = tlf.Figure(
        number=LIB_TLFS[1]["number"],
        title=LIB_TLFS[1]["title"],
        id=LIB_TLFS[1]["id"],
        population="CK-evaluable",
        population_n=11,
        source=src,
        cut_date=CUT_DATE,
        figure=fig,
    )
    emitter = tlf.Emitter(catalogue=study_catalogue.load(), output_dir=build, display=False)
    (build / "rtf").mkdir(exist_ok=True)
    out = [emitter.emit(table), emitter.emit(figure)]
    plt.close(fig)
    return out


def _display(data: dict[str, str]):
    return nbformat.v4.new_output("display_data", data=data, metadata={})


def make_sample_build(tmp: Path) -> tuple[config.Cut, Path, Path]:
    """A project-like folder: params, input data, book definition, build dir with executed notebooks."""
    (tmp / "params").mkdir(parents=True)
    shutil.copyfile(ROOT / "params" / "study.yml", tmp / "params" / "study.yml")
    (tmp / "params" / "demo.yml").write_text(
        f"id: demo\ncut_date: {CUT_DATE.isoformat()}\ndata_dir: data/demo\nkind: interim\nlabel: Demo interim\n",
        encoding="utf-8",
    )
    (tmp / "data" / "demo").mkdir(parents=True)
    (tmp / "data" / "demo" / "dm.csv").write_text("USUBJID,AGE\n001,34\n", encoding="utf-8")
    book = tmp / "_quarto.yml"
    book.write_text(
        "project: {type: book}\nbook:\n  title: Clinical Study Report\n  author: Test sponsor\n"
        "  version: '0.9'\n  chapters: [index.md, chapters/alpha.ipynb, chapters/beta.ipynb, chapters/gamma.ipynb]\n",
        encoding="utf-8",
    )
    cut = config.load_cut("demo", root=tmp)
    build = tmp / "_output" / "demo"
    for sub in ("notebooks", "figures", "tlf"):
        (build / sub).mkdir(parents=True)
    for tlf in TLFS:
        (build / "tlf" / f"{tlf['id']}.json").write_text(json.dumps(tlf), encoding="utf-8")

    rows = [
        (f"Preferred term {i:02d}", f"{i % 3} ({100 * (i % 3) / 3:.1f})", f"{i % 6} ({100 * (i % 6) / 6:.1f})")
        for i in range(1, N_ROWS + 1)
    ]
    table = DemoTable(TLFS[0]["number"], TLFS[0]["title"], TLFS[0]["id"], rows)
    alpha = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("SECRET_CODE_MARKER = show_table(adae)")
    code.outputs = [
        _display(
            {"text/html": table._repr_html_(), "text/markdown": table._repr_markdown_(), "text/plain": "<DemoTable>"}
        )
    ]
    alpha.cells = [nbformat.v4.new_markdown_cell("# Adverse events\n\nMost subjects had CRS, mostly grade 1-2."), code]
    beta = nbformat.v4.new_notebook()
    fig_cell = nbformat.v4.new_code_cell("km_plot(adtte)")
    fig_cell.outputs = [_display(_figure_outputs(build / "figures"))]
    beta.cells = [nbformat.v4.new_markdown_cell("# Time to event\n\nOverall survival by Kaplan-Meier."), fig_cell]
    gamma = nbformat.v4.new_notebook()
    gamma.cells = [nbformat.v4.new_markdown_cell("# Library TLFs\n\nTables and figures from analysis_lib.toolkit.tlf.")]
    for tlf in _library_tlfs(build):
        cell = nbformat.v4.new_code_cell("emit(tlf)")
        cell.outputs = [
            _display(
                {"text/html": tlf._repr_html_(), "text/markdown": tlf._repr_markdown_(), "text/plain": repr(tlf.number)}
            )
        ]
        gamma.cells.append(cell)
    for name, nb in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, build / "notebooks" / f"{name}.ipynb")
    return cut, build, book


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("book")
    cut, build, book = make_sample_build(tmp)
    paths = render.render_cut(cut, build, book=book)
    return {"cut": cut, "build": build, "paths": paths, "tmp": tmp}


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True, **kw)


# -------------------------------------------------------------------------------- fast unit tests
def test_book_definition_has_every_catalogue_chapter():
    import yaml

    bk = render.load_book(ROOT / "_quarto.yml")
    assert bk["chapters"][:2] == ["changes", "disposition"]
    catalogue = yaml.safe_load((ROOT / "chapters" / "tlf_catalogue.yml").read_text(encoding="utf-8"))
    missing = {t["chapter"] for t in catalogue["tlfs"]} - set(bk["chapters"])
    assert not missing, f"catalogue chapters not in _quarto.yml: {sorted(missing)}"


def test_load_book_rejects_bad_chapter_list(tmp_path):
    bad = tmp_path / "_quarto.yml"
    bad.write_text("book:\n  chapters: [chapters/a.ipynb, index.md]\n", encoding="utf-8")
    with pytest.raises(render.RenderError, match=r"first chapter must be 'index\.md'"):
        render.load_book(bad)


def test_missing_and_unlisted_notebooks_are_errors(tmp_path):
    cut, build, book = make_sample_build(tmp_path)
    (build / "notebooks" / "beta.ipynb").rename(build / "notebooks" / "delta.ipynb")
    with pytest.raises(render.RenderError, match=r"no executed notebook for chapter\(s\) beta"):
        render.render_cut(cut, build, book=book)
    (build / "notebooks" / "beta.ipynb").write_text((build / "notebooks" / "alpha.ipynb").read_text())
    with pytest.raises(render.RenderError, match=r"notebook\(s\) delta are not chapters"):
        render.render_cut(cut, build, book=book)


def test_quarto_engine_without_quarto_says_so(tmp_path, monkeypatch):
    cut, build, book = make_sample_build(tmp_path)
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    with pytest.raises(render.RenderError, match="Quarto is not installed; use --engine jupyter-book"):
        render.render_cut(cut, build, engine="quarto", book=book)


def test_tlf_entries_sorted_by_kind_and_section(tmp_path):
    (tmp_path / "tlf").mkdir()
    for i, num in enumerate(["Figure 14.2.3", "Table 14.2.10", "Listing 16.2.7.1", "Table 14.2.9"]):
        (tmp_path / "tlf" / f"x{i}.json").write_text(json.dumps({"number": num, "title": f"T{i}"}))
    assert [e["number"] for e in render.tlf_entries(tmp_path)] == [
        "Table 14.2.9",
        "Table 14.2.10",
        "Figure 14.2.3",
        "Listing 16.2.7.1",
    ]
    (tmp_path / "tlf" / "bad.json").write_text(json.dumps({"number": "Table 1"}))
    with pytest.raises(render.RenderError, match=r"bad.json: TLF metadata lacks title"):
        render.tlf_entries(tmp_path)


def test_title_page_text_goes_through_the_one_latex_escaper():
    assert not hasattr(render, "tex_escape")
    expected = r"r/r B-ALL: 1x10\textasciicircum{}5 \& 50\% \ensuremath{\geq}3"
    assert escape.latex("r/r B-ALL: 1x10^5 & 50% ≥3") == expected


def test_report_strings_go_through_the_one_escaping_path():
    info = {"CUT_LABEL": "r/r B-ALL: 1x10^5 & 50% ≥3 <b>{x}</b>"}
    assert render.tex_values(info)["CUT_LABEL"] == escape.latex(info["CUT_LABEL"])
    label = render.tex_values(info)["CUT_LABEL"]
    assert r"\&" in label and r"\ensuremath{\geq}" in label
    banner = render.banner_html(
        {"STUDY_ID": "S", "REPORT_TYPE": "R", "CUT_DATE": "D", "CUT_LABEL": "<script>alert(1)</script>"}
    )
    assert "<script>" not in banner and "&lt;script&gt;" in banner


def test_provenance_collect_hashes_inputs_and_is_stable(tmp_path):
    cut, _, _ = make_sample_build(tmp_path)
    first = provenance.collect(cut)
    assert first["inputs"] == {"data/demo/dm.csv": hashlib.sha256(b"USUBJID,AGE\n001,34\n").hexdigest()}
    assert set(first["params"]) == {"params/study.yml", "params/demo.yml"}
    assert first["cut"] == {"id": "demo", "cut_date": "2025-03-31", "kind": "interim", "label": "Demo interim"}
    assert first["packages"]["jupyter-book"] == "1.0.4"
    assert provenance.collect(cut) == first  # no clock inside


# -------------------------------------------------------------------------------- built book
@pytest.mark.slow
def test_outputs_and_manifest(built):
    paths, build = built["paths"], built["build"]
    assert paths["pdf"] == build / "csr-demo.pdf" and paths["pdf"].stat().st_size > 10_000
    assert (build / "html" / "index.html").is_file() and (build / "html" / "searchindex.js").is_file()
    manifest = json.loads((build / "manifest.json").read_text())
    assert manifest["engine"]["name"] == "jupyter-book"
    assert manifest["cut"]["cut_date"] == "2025-03-31"
    assert set(manifest["run"]["timings_s"]) == {"html_s", "pdf_s", "tlf_volume_s", "total_s"}
    assert not list(build.glob(".render-*")), "scratch folder left behind"


@pytest.mark.slow
def test_html_is_offline_and_hides_code(built):
    html_dir = built["build"] / "html"
    remote = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.I)
    url_in_css = re.compile(r"""url\(\s*["']?\s*(?:https?:)?//""", re.I)
    offenders = []
    for f in sorted(html_dir.rglob("*")):
        if f.suffix in {".html", ".js", ".css"}:
            text = f.read_text(encoding="utf-8", errors="replace")
            for m in list(remote.finditer(text)) + list(url_in_css.finditer(text)):
                offenders.append(f"{f.relative_to(html_dir)}: {text[m.start() : m.start() + 80]!r}")
    assert not offenders, "\n".join(offenders)
    page = (html_dir / "notebooks" / "alpha.html").read_text(encoding="utf-8")
    assert "SECRET_CODE_MARKER" not in page  # code hidden at render time
    assert "<table" in page and "Preferred term 90" in page and "Table 14.3.1.2" in page
    assert "```{raw} latex" not in page and "longtable" not in page  # HTML skips text/markdown
    index = (html_dir / "index.html").read_text(encoding="utf-8")
    assert "CART-19-22-ALL · Interim clinical study report · Data cut 2025-03-31" in index  # banner
    assert "<svg" in (html_dir / "notebooks" / "beta.html").read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("page", ["index.html", "notebooks/alpha.html", "search.html?q=preferred"])
def test_chromium_loads_pages_without_console_errors(built, page, tmp_path):
    path, _, query = page.partition("?")
    url = (built["build"] / "html" / path).as_uri() + (f"?{query}" if query else "")
    proc = chromium(["--virtual-time-budget=5000", "--dump-dom", url], tmp_path / "profile")
    errors = [line for line in proc.stderr.splitlines() if "Uncaught" in line or "ERROR:CONSOLE" in line]
    assert not errors, "\n".join(errors)
    assert "CART-19-22-ALL" in proc.stdout  # the DOM was rendered, banner included
    if query:  # offline full-text search finds the table's page
        assert re.search(r'<ul class="search">.*notebooks/alpha\.html', proc.stdout)


@pytest.mark.slow
def test_pdf_text_has_title_page_tlfs_table_and_running_heads(built):
    pdf = built["paths"]["pdf"]
    text = _run(["pdftotext", "-layout", str(pdf), "-"]).stdout
    pages = text.split("\f")
    title = pages[0]
    for expected in ("CART-19-22-ALL", "Interim clinical study report", "2025-03-31", "Demo interim", "0.9"):
        assert expected in title
    for tlf in TLFS + LIB_TLFS:
        assert tlf["number"] in text
    n_pages = int(re.search(r"Pages:\s+(\d+)", _run(["pdfinfo", str(pdf)]).stdout).group(1))
    assert f"Page 2 of {n_pages}" in text and f"Page {n_pages} of {n_pages}" in text
    assert "Data cut: 2025-03-31" in pages[1]
    # a real table: columns laid out on one line; header repeated on the page the table continues on
    assert re.search(r"Preferred term 05\s{2,}2 \(66\.7\)\s{2,}5 \(83\.3\)", text)
    header_pages = [p for p in pages if re.search(r"Preferred term\s{2,}DL1 \(N=3\)\s{2,}DL2 \(N=6\)", p)]
    assert len(header_pages) >= 2
    # the list of tables/figures gives the page where each TLF is
    lot = next(p for p in pages if "List of tables, figures and listings" in p and "Number" in p)
    table_page = next(i + 1 for i, p in enumerate(pages) if "Preferred term 01" in p)
    assert re.search(rf"Table 14\.3\.1\.2\s+Adverse events by system organ class \(demo\)\s+{table_page}\b", lot)
    tex = built["paths"]["tex"].read_text(encoding="utf-8")
    assert r"\begin{longtable}" in tex and "SECRET_CODE_MARKER" not in tex


def test_pdf_has_document_properties_and_a_bookmark_per_tlf(built):
    pdf = built["paths"]["pdf"]
    info = _run(["pdfinfo", str(pdf)]).stdout
    assert re.search(r"^Title:\s+\S", info, re.M) and re.search(r"^Author:\s+\S", info, re.M)
    assert re.search(r"^Subject:\s+\S.*2025-03-31", info, re.M) and re.search(r"^Keywords:\s+\S", info, re.M)
    assert render.pdf_problems(pdf, [t["number"] for t in TLFS]) == []
    marks = render.pdf_bookmarks(pdf)
    assert all(any(m.startswith(t["number"] + ":") for m in marks) for t in TLFS)
    # the check names what is wrong
    assert render.pdf_problems(pdf, ["Table 99.9"]) == ["no bookmark for Table 99.9"]


@pytest.mark.slow
def test_pdf_fonts_all_embedded_and_figure_is_vector(built):
    pdf = built["paths"]["pdf"]
    rows = _run(["pdffonts", str(pdf)]).stdout.splitlines()[2:]
    assert rows
    not_embedded = [r for r in rows if r.split()[-5] != "yes"]
    assert not not_embedded, "\n".join(rows)
    # the figure is the matplotlib PDF included as vector graphics, not a raster image
    images = _run(["pdfimages", "-list", str(pdf)]).stdout.splitlines()[2:]
    assert images == []


@pytest.mark.slow
def test_render_is_deterministic(built, tmp_path):
    """Same inputs in another folder: byte-identical PDF and HTML site."""
    cut, build, book = make_sample_build(tmp_path)
    again = render.render_cut(cut, build, book=book)
    assert again["pdf"].read_bytes() == built["paths"]["pdf"].read_bytes()
    first, second = built["build"] / "html", build / "html"
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    differ = [str(f) for f in files if (first / f).read_bytes() != (second / f).read_bytes()]
    assert not differ


@pytest.mark.slow
def test_failed_render_keeps_previous_outputs(built, tmp_path):
    cut, build, book = make_sample_build(tmp_path)
    render.render_cut(cut, build, book=book)
    before = (build / "csr-demo.pdf").read_bytes()
    nb = nbformat.read(build / "notebooks" / "alpha.ipynb", as_version=4)
    nb.cells[1].outputs[0]["data"]["text/markdown"] = "```{raw} latex\n\\begin{longtable}{ll}\n```\n"
    nbformat.write(nb, build / "notebooks" / "alpha.ipynb")
    with pytest.raises(render.RenderError, match="latexmk"):
        render.render_cut(cut, build, book=book)
    assert (build / "csr-demo.pdf").read_bytes() == before
    assert (build / "html" / "index.html").is_file()


def test_link_problems_names_every_link_without_its_page_or_anchor(tmp_path):
    site = tmp_path / "html"
    (site / "notebooks").mkdir(parents=True)
    (site / "profiles").mkdir()
    (site / "profiles" / "subject-01-001.html").write_text(
        '<section id="profile-01-001"><a href="../notebooks/profiles.html#l-profiles">index</a></section>'
    )
    (site / "notebooks" / "profiles.html").write_text(
        '<div id="l-profiles"><a href="../profiles/subject-01-001.html">01-001</a>'
        '<a href="../profiles/subject-01-009.html">01-009</a><a href="#nowhere">x</a>'
        '<a href="https://example.org/">external</a></div>'
    )
    assert render.link_problems(site) == [
        "notebooks/profiles.html: link #nowhere: no element with id 'nowhere'",
        "notebooks/profiles.html: link ../profiles/subject-01-009.html: no such page",
    ]


def test_profile_pages_are_written_from_the_chapter_files_and_only_in_the_html_toc(tmp_path):
    build = tmp_path / "build"
    (build / "figures").mkdir(parents=True)
    (build / "figures" / "subject-01-001.html").write_text("<p>profile ```` of 01-001</p>")
    (build / "figures" / "profile-pages.json").write_text(
        json.dumps(
            [
                {
                    "page": "subject-01-001",
                    "title": "Figure 16.2.7.7.1: Subject *01-001*",
                    "html": "figures/subject-01-001.html",
                }
            ]
        )
    )
    src = tmp_path / "src"
    assert render._write_profile_pages(src, build) == ["profiles/subject-01-001"]
    page = (src / "profiles" / "subject-01-001.md").read_text()
    assert page.startswith("# Figure 16.2.7.7.1: Subject \\*01-001\\*\n")  # the title is text, not markup
    assert "`````{raw} html\n<p>profile ```` of 01-001</p>\n`````\n" in page  # a fence the content cannot close
    toc = render._toc(["profiles"], {"profiles": ["profiles/subject-01-001"]})
    assert toc["chapters"] == [{"file": "notebooks/profiles", "sections": [{"file": "profiles/subject-01-001"}]}]
    (build / "figures" / "profile-pages.json").write_text(json.dumps([{"page": "../x", "title": "t", "html": "a"}]))
    with pytest.raises(render.RenderError, match="not a plain file name"):
        render._write_profile_pages(tmp_path / "src2", build)
