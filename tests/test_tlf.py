"""TLF catalogue and Table/Listing/Figure renderings (HTML, LaTeX, Markdown, RTF) and the Emitter."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure as MplFigure

from analysis_lib.toolkit import ard, escape, formats, tlf
from analysis_lib.toolkit.tlf import rtf
from analysis_lib.trial import catalogue as study_catalogue

REPO = Path(__file__).resolve().parents[1]
CUT = dt.date(2025, 3, 1)
SOURCE = (["ADSL", "ADAE"], "chapters/adverse_events.ipynb")


def ae_body() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "System organ class\nPreferred term": [
                "Any TEAE",
                "Infections & infestations",
                "Pneumonia (grade ≥3)",
                "Nervous system disorders",
                "ICANS_x 50% #1 ^ <2> µL ×10⁵",
            ],
            "DL1\n(N=3)": ["3 (100.0)", "2 (66.7)", "1 (33.3)", "1 (33.3)", "0"],
            "Total\n(N=6)": ["6 (100.0)", "3 (50.0)", "1 (16.7)", "3 (50.0)", "1 (16.7)"],
            "_indent": [0, 1, 2, 1, 2],
        }
    )


@pytest.fixture
def table() -> tlf.Table:
    return tlf.Table.from_catalogue(
        study_catalogue.load()["t-ae-soc-pt"], ae_body(), population_n=6, cut=CUT, source=SOURCE
    )


# --------------------------------------------------------------------------- catalogue


def test_catalogue_of_the_repo_loads():
    cat = study_catalogue.load()
    entry = cat["t-ae-soc-pt"]
    assert entry.number == "Table 14.3.2.2"
    assert entry.population == "SAFFL"
    assert entry.kind == "table"
    assert cat["f-km-os"].kind == "figure" and cat["l-deaths"].kind == "listing"
    assert len({e.number for e in cat.values()}) == len(cat)


def test_unknown_id_is_a_clear_error():
    cat = study_catalogue.load()
    with pytest.raises(tlf.TLFError, match=r"tlf_catalogue.yml: unknown TLF id 't-ae-soc' \(did you mean t-ae-soc-pt"):
        cat["t-ae-soc"]


def _write(tmp_path, text) -> Path:
    p = tmp_path / "cat.yml"
    p.write_text(text, encoding="utf-8")
    return p


ENTRY = "  - {{id: {id}, number: '{number}', title: T, population: SAFFL, chapter: c}}\n"


def test_duplicate_number_is_rejected(tmp_path):
    p = _write(
        tmp_path,
        "tlfs:\n" + ENTRY.format(id="t-a", number="Table 14.1.1") + ENTRY.format(id="t-b", number="Table 14.1.1"),
    )
    with pytest.raises(
        tlf.TLFError, match=r"entry 2 \('t-b'\): duplicate number 'Table 14.1.1' \(also used by 't-a'\)"
    ):
        tlf.load_catalogue(p)


def test_duplicate_id_bad_number_and_prefix_are_rejected(tmp_path):
    p = _write(
        tmp_path,
        "tlfs:\n" + ENTRY.format(id="t-a", number="Table 14.1.1") + ENTRY.format(id="t-a", number="Table 14.1.2"),
    )
    with pytest.raises(tlf.TLFError, match="duplicate id 't-a'"):
        tlf.load_catalogue(p)
    p = _write(tmp_path, "tlfs:\n" + ENTRY.format(id="t-a", number="Table 3"))
    with pytest.raises(tlf.TLFError, match="number 'Table 3' is not"):
        tlf.load_catalogue(p)
    p = _write(tmp_path, "tlfs:\n" + ENTRY.format(id="t-a", number="Figure 14.2.1"))
    with pytest.raises(tlf.TLFError, match="a figure id must start with 'f-'"):
        tlf.load_catalogue(p)
    p = _write(tmp_path, "tlfs:\n  - {id: t-a, number: 'Table 14.1', title: T}\n")
    with pytest.raises(tlf.TLFError, match="missing key\\(s\\) population, chapter"):
        tlf.load_catalogue(p)


def test_from_catalogue_fills_metadata(table):
    assert table.number == "Table 14.3.2.2"
    assert table.title.startswith("Adverse events")
    assert table.population_text() == "Safety population (N = 6)"
    assert table.footnotes[0].startswith("Period 1:")
    assert table.cut_date == "2025-03-01"
    assert table.source.text() == "Source: ADSL, ADAE; program chapters/adverse_events.ipynb"
    with pytest.raises(tlf.TLFError, match="'f-km-os' is a figure"):
        tlf.Table.from_catalogue(study_catalogue.load()["f-km-os"], ae_body(), population_n=6, cut=CUT, source=SOURCE)


# --------------------------------------------------------------------------- body validation


def test_body_with_nan_or_numbers_is_rejected():
    body = ae_body()
    body.loc[3, "DL1\n(N=3)"] = None
    with pytest.raises(tlf.TLFError, match=r"Table 14.1: column 'DL1\n\(N=3\)' must hold strings .* bad rows: 3"):
        tlf.Table(number="Table 14.1", title="T", body=body)
    body = ae_body()
    body.loc[2, "Total\n(N=6)"] = "nan"
    with pytest.raises(tlf.TLFError, match="shows 'nan'/'None' at rows 2"):
        tlf.Table(number="Table 14.1", title="T", body=body)
    body = ae_body()
    body["_indent"] = [0, 1, 3, 1, 2]
    with pytest.raises(tlf.TLFError, match="'_indent' must be 0, 1 or 2; bad rows: 2"):
        tlf.Table(number="Table 14.1", title="T", body=body)


# --------------------------------------------------------------------------- renderings


def test_plain_repr_is_short(table):
    assert repr(table) == (
        "Table 14.3.2.2: Adverse events by system organ class and preferred term, period 1 [Safety population (N = 6)]"
    )


def test_html(table):
    out = table._repr_html_()
    assert re.search(r"<table[ >]", out) and "</table>" in out
    assert '<div class="csr-tlf csr-table" id="t-ae-soc-pt">' in out
    assert '<span class="csr-tlf-number">Table 14.3.2.2</span>' in out
    assert "Safety population (N = 6)" in out
    assert "Period 1: CD19 CAR-T infusion" in out
    assert "Source: ADSL, ADAE; program chapters/adverse_events.ipynb" in out
    assert "Data cut-off: 2025-03-01" in out
    assert "<th>DL1<br/>(N=3)</th>" in out
    assert "Infections &amp; infestations" in out and "&lt;2&gt;" in out
    assert "_indent" not in out and "nan" not in out.lower().replace("infestations", "")
    # indentation: level 1 and 2 rows are padded more than level 0
    assert '<tr class="csr-indent-2"><td style="padding-left:3.6em">Pneumonia' in out
    assert '<tr class="csr-indent-1"><td style="padding-left:2.1em">Infections' in out
    assert '<tr class="csr-indent-0"><td>Any TEAE</td>' in out


def test_latex(table):
    tex = table.to_latex()
    assert r"\begin{longtable}" in tex and r"\end{longtable}" in tex
    assert tex.count(r"\endhead") == 1 and r"\endfirsthead" in tex and r"\endlastfoot" in tex
    assert tex.count(r"\toprule") == 2 and r"\bottomrule" in tex
    assert r"\textbf{Table 14.3.2.2}" in tex
    assert tex.count(r"\label{tlf:t-ae-soc-pt}") == 1 and tex.index(r"\label{tlf:") < tex.index(r"\endfirsthead")
    assert r"\textbf{DL1\newline (N=3)}" in tex
    # escaping of special characters and Unicode
    assert (
        r"ICANS\_x 50\% \#1 \textasciicircum{} \textless{}2\textgreater{} \ensuremath{\mu}L "
        r"\ensuremath{\times}10\textsuperscript{5}"
    ) in tex
    assert r"Infections \& infestations" in tex and r"grade \ensuremath{\geq}3" in tex
    assert r"\setlength{\leftskip}{3.0em}Pneumonia" in tex
    # the last row is never separated from the footnotes (longtable's \\* forbids the break)
    body = tex.split(r"\endlastfoot")[1]
    assert body.count(r"\\*") == 1 and body.rstrip().split("\n")[-3].endswith(r"\\*")
    assert r"\setlength{\leftskip}{1.5em}Infections" in tex
    # p{} columns whose widths add up to the line width
    fracs = [float(x) for x in re.findall(r"p\{\\dimexpr ([0-9.]+)\\linewidth", tex)]
    assert len(fracs) == 3 and abs(sum(fracs) - 1) < 1e-3
    assert "_indent" not in tex
    assert table._repr_latex_() == tex
    md = table._repr_markdown_()
    assert md.startswith("```{raw} latex\n") and md.endswith("```\n") and tex in md


def test_raw_latex_fence_outlasts_backticks():
    assert tlf.raw_latex_block("a\n") == "```{raw} latex\na\n```\n"
    assert tlf.raw_latex_block("x ```` y\n") == "`````{raw} latex\nx ```` y\n`````\n"


def test_latex_escape():
    assert escape.latex(r"a\b{c}~$") == r"a\textbackslash{}b\{c\}\textasciitilde{}\$"
    assert escape.latex("10⁻¹²") == r"10\textsuperscript{-12}"


def test_markdown(table):
    md = table.to_markdown()
    lines = md.splitlines()
    assert lines[0] == "**Table 14.3.2.2** Adverse events by system organ class and preferred term, period 1"
    assert "| System organ class Preferred term | DL1 (N=3) | Total (N=6) |" in lines
    assert "|:---|:---:|:---:|" in lines
    assert "| \u00a0\u00a0\u00a0\u00a0\u00a0\u00a0\u00a0\u00a0Pneumonia (grade ≥3) | 1 (33.3) | 1 (16.7) |" in lines
    nbsp8 = "\u00a0" * 8
    assert f"| {nbsp8}ICANS\\_x 50% #1 ^ \\<2\\> µL ×10⁵ | 0 | 1 (16.7) |" in lines
    assert "Data cut-off: 2025-03-01" in lines[-1]


def test_rtf(table, tmp_path):
    body = ae_body()
    body.loc[0, "System organ class\nPreferred term"] = r"Any {TEAE}\x"
    t = tlf.Table.from_catalogue(study_catalogue.load()["t-ae-soc-pt"], body, population_n=6, cut=CUT, source=SOURCE)
    path = t.to_rtf(tmp_path / "t.rtf")
    text = path.read_text(encoding="ascii")
    assert text.startswith("{\\rtf1")
    assert "Table 14.3.2.2" in text and "Adverse events by system organ class" in text
    assert "Safety population (N = 6)" in text
    assert "Period 1: CD19 CAR-T infusion" in text and "Data cut-off: 2025-03-01" in text
    assert "DL1\\line (N=3)" in text
    assert r"Any \{TEAE\}\\x" in text  # braces and backslash from data escaped
    assert "\\u8805?3" in text and "\\u181?L \\uc1\\u215?10\\uc1\\u8309?" in text  # ≥, µ, ×, ⁵ escaped
    # indentation: 180 twips per level on the row label, plain for level 0
    assert re.search(r"\\li360\\ri0\\ql\\fs18\{\\f0 Pneumonia", text)
    assert re.search(r"\\li180\\ri0\\ql\\fs18\{\\f0 Infections", text)
    assert "\\paperw12240\\paperh15840" in text  # portrait letter for this narrow table
    # braces balance (a parse sanity check)
    depth = 0
    for m in re.finditer(r"\\\\|\\[{}]|[{}]", text):
        depth += {"{": 1, "}": -1}.get(m.group(), 0)
        assert depth >= 0
    assert depth == 0
    # deterministic
    again = t.to_rtf(tmp_path / "t2.rtf").read_bytes()
    assert again == path.read_bytes()


def test_wide_table_and_listing_are_landscape(tmp_path):
    wide = pd.DataFrame({f"Column {i}\n(N=10)": ["10 (100.0)", "5 (50.0)"] for i in range(9)})
    wide.insert(0, "Parameter", ["Any", "Some"])
    t = tlf.Table(number="Table 14.1.9", title="Wide", body=wide)
    assert "\\paperw15840\\paperh12240" in t.to_rtf(tmp_path / "w.rtf").read_text()
    lst = tlf.Listing(
        number="Listing 16.2.7.2",
        title="Listing of deaths",
        body=pd.DataFrame({"Subject": ["01-001"], "Day of death": ["45"], "Cause": ["Disease progression"]}),
    )
    assert lst.kind == "listing"
    assert "\\paperw15840" in lst.to_rtf(tmp_path / "l.rtf").read_text()
    assert 'class="csr-tlf csr-listing"' in lst._repr_html_()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex (texlive) not installed")
def test_latex_compiles(table, tmp_path):
    long_body = pd.concat([ae_body()] * 20, ignore_index=True)
    long = tlf.Table.from_catalogue(
        study_catalogue.load()["t-ae-soc-pt"], long_body, population_n=6, cut=CUT, source=SOURCE
    )
    fig = tlf.Figure.from_catalogue(
        study_catalogue.load()["f-km-os"], _mpl_figure(), population_n=12, cut=CUT, source=(["ADTTE"], "tte.ipynb")
    )
    fig.save(tmp_path / "figures")
    doc = "\n".join(
        [
            r"\documentclass{article}",
            r"\usepackage[T1]{fontenc}",
            r"\usepackage[margin=2.5cm]{geometry}",
            r"\usepackage{longtable,booktabs,array,graphicx}",
            r"\graphicspath{{figures/}}",
            r"\begin{document}",
            r"\listoftables",
            r"\listoffigures",
            r"Long table on page \pageref{tlf:long}.",
            table.to_latex(),
            r"\clearpage",
            long.to_latex().replace("tlf:t-ae-soc-pt", "tlf:long"),
            fig.to_latex(),
            r"\end{document}",
        ]
    )
    (tmp_path / "doc.tex").write_text(doc, encoding="utf-8")
    for _ in range(2):  # longtable needs two passes for column widths / list of tables
        res = subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert res.returncode == 0, res.stdout[-3000:]
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert "Overfull \\hbox" not in log
    pdf = tmp_path / "doc.pdf"
    assert pdf.stat().st_size > 0
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
        assert len(re.findall(r"Table 14\.3\.2\.2\s+\(continued\)", text)) >= 1  # header repeated on the next page
        assert re.search(r"Data cut-o.{1,2}: 2025-03-01", text)  # (T1 "ff" ligature extracts oddly)
        assert text.count("Total") >= 3  # column header on every page
        assert "Figure 14.2.1" in text and "Kaplan-Meier plot of overall survival" in text
        assert "Long table on page 2." in text


# --------------------------------------------------------------------------- figures and the emitter


def _mpl_figure() -> MplFigure:
    fig = MplFigure(figsize=(5, 3))
    ax = fig.add_subplot()
    ax.plot([0, 1, 2], [1, 0.5, 0.25], label="a")
    ax.set_title("x < y & z")
    return fig


def test_figure_files_are_byte_identical(tmp_path):
    f = tlf.Figure.from_catalogue(
        study_catalogue.load()["f-km-os"], _mpl_figure(), population_n=12, cut=CUT, source=(["ADTTE"], "tte.ipynb")
    )
    a = f.save(tmp_path / "a")
    b = tlf.Figure.from_catalogue(
        study_catalogue.load()["f-km-os"], _mpl_figure(), population_n=12, cut=CUT, source=(["ADTTE"], "tte.ipynb")
    ).save(tmp_path / "b")
    for fmt in ("svg", "pdf", "png"):
        assert a[fmt].name == f"f-km-os.{fmt}"
        assert a[fmt].read_bytes() == b[fmt].read_bytes(), fmt
    assert a["pdf"].read_bytes().startswith(b"%PDF")
    assert b"CreationDate" not in a["pdf"].read_bytes()
    assert a["png"].read_bytes().startswith(b"\x89PNG")


def test_figure_renderings(tmp_path):
    f = tlf.Figure.from_catalogue(
        study_catalogue.load()["f-km-os"], _mpl_figure(), population_n=12, cut=CUT, source=(["ADTTE"], "tte.ipynb")
    )
    html = f._repr_html_()
    assert "<svg" in html and "<?xml" not in html and "http" not in html.replace("http://www.w3.org", "")
    assert "Figure 14.2.1" in html and "Kaplan-Meier plot of overall survival" in html
    assert "Efficacy population (N = 12)" in html and "Data cut-off: 2025-03-01" in html
    md = f._repr_markdown_()
    assert md.startswith("```{raw} latex\n")
    assert (
        r"\includegraphics[width=\linewidth,height=0.72\textheight,keepaspectratio]{f-km-os.pdf}" in md
        and r"\label{tlf:f-km-os}" in md
    )
    assert str(tmp_path) not in md and "/" not in md.split("includegraphics")[1].split("}")[1].split("{")[1]
    rtf = f.to_rtf(tmp_path / "f.rtf").read_text(encoding="ascii")
    assert rtf.startswith("{\\rtf1") and "Figure 14.2.1" in rtf and "\\pngblip" in rtf
    assert not list(tmp_path.glob(".*png"))  # temporary PNG removed


def test_emitter_writes_rtf_figures_and_metadata(tmp_path, table):
    em = tlf.Emitter(catalogue=study_catalogue.load(), output_dir=tmp_path, display=False)
    em.emit(table)
    fig = tlf.Figure.from_catalogue(
        study_catalogue.load()["f-km-os"], _mpl_figure(), population_n=12, cut=CUT, source=(["ADTTE"], "tte.ipynb")
    )
    em.emit(fig)
    assert (tmp_path / "rtf" / "table-14-3-2-2.rtf").read_text().startswith("{\\rtf1")
    assert (tmp_path / "rtf" / "figure-14-2-1.rtf").is_file()
    for fmt in ("svg", "pdf", "png"):
        assert (tmp_path / "figures" / f"f-km-os.{fmt}").is_file()
    meta = json.loads((tmp_path / "tlf" / "t-ae-soc-pt.json").read_text())
    assert meta == {
        "id": "t-ae-soc-pt",
        "kind": "table",
        "number": "Table 14.3.2.2",
        "title": "Adverse events by system organ class and preferred term, period 1",
        "chapter": "adverse_events",
        "population": "Safety population",
        "population_n": 6,
        "footnotes": list(table.footnotes),
        "source": {"datasets": ["ADSL", "ADAE"], "program": "chapters/adverse_events.ipynb"},
        "cut_date": "2025-03-01",
        "files": {"rtf": "rtf/table-14-3-2-2.rtf"},
        "ard": None,
    }
    fmeta = json.loads((tmp_path / "tlf" / "f-km-os.json").read_text())
    assert fmeta["files"] == {
        "rtf": "rtf/figure-14-2-1.rtf",
        "svg": "figures/f-km-os.svg",
        "pdf": "figures/f-km-os.pdf",
        "png": "figures/f-km-os.png",
    }
    assert str(tmp_path) not in json.dumps(fmeta)
    with pytest.raises(tlf.TLFError, match="already emitted"):
        em.emit(
            tlf.Table.from_catalogue(
                study_catalogue.load()["t-ae-soc-pt"], ae_body(), population_n=6, cut=CUT, source=SOURCE
            )
        )
    # re-running gives byte-identical files
    first = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    em2 = tlf.Emitter(catalogue=study_catalogue.load(), output_dir=tmp_path, display=False)
    em2.emit(table)
    em2.emit(
        tlf.Figure.from_catalogue(
            study_catalogue.load()["f-km-os"], _mpl_figure(), population_n=12, cut=CUT, source=(["ADTTE"], "tte.ipynb")
        )
    )
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == first


def test_emitter_needs_cut_or_dir():
    with pytest.raises(tlf.TLFError, match="needs a Cut"):
        tlf.Emitter(catalogue=study_catalogue.load())


def test_emitter_shortcuts_use_its_cut(tmp_path):
    class FakeCut:  # what config.load_cut returns, as far as the emitter needs
        cut_date = dt.date(2025, 6, 30)
        output_dir = tmp_path / "_output" / "interim-1"

    em = tlf.Emitter(FakeCut(), catalogue=study_catalogue.load(), display=False)
    numbers = ard.frame([("TRT01A", "Total", None, None, "ANY", None, "n", 6)])
    assert (
        em.table("t-ae-soc-pt", ae_body(), ard=numbers, population_n=6, source=SOURCE, footnotes=["Extra note."])
        is None
    )
    t = em.emitted[-1]
    assert t.cut_date == "2025-06-30" and t.footnotes[-1] == "Extra note."
    # the TLF is the unit: its ARD is ard/<id>.csv, named in the metadata and the source line
    assert ard.read(FakeCut.output_dir / "ard" / "t-ae-soc-pt.csv").equals(numbers)
    meta = json.loads((FakeCut.output_dir / "tlf" / "t-ae-soc-pt.json").read_text())
    assert meta["ard"] == meta["files"]["ard"] == "ard/t-ae-soc-pt.csv"
    assert "analysis results ard/t-ae-soc-pt.csv" in t.meta_lines()[0]
    em.listing(
        "l-deaths",
        pd.DataFrame({"Subject": ["01-001"], "Cause": ["Relapse"]}),
        population_n=6,
        source=(["ADSL"], "deaths.ipynb"),
    )
    lst = em.emitted[-1]
    assert lst.number == "Listing 16.2.7.2"
    assert (FakeCut.output_dir / "rtf" / "listing-16-2-7-2.rtf").is_file()
    assert json.loads((FakeCut.output_dir / "tlf" / "l-deaths.json").read_text())["kind"] == "listing"
    listed = ard.read(FakeCut.output_dir / "ard" / "l-deaths.csv")  # a listing's ARD: its records
    assert listed["stat_value"].tolist() == ["01-001", "Relapse"]


FURNITURE = tlf.RTFFurniture(study_id="STUDY-1", report_type="Interim clinical study report")


def _sae_listing(n: int, long_every: int = 0) -> tlf.Listing:
    """A listing shaped like Listing 16.2.7.3 (narrow coded columns beside free-text ones)."""
    body = pd.DataFrame(
        {
            "Subject": [f"01-{i:03d}" for i in range(n)],
            "Dose level": ["DL2 3×10⁵/kg"] * n,
            "Preferred term": [
                "Cytomegalovirus infection reactivation with a long verbatim term " * 3
                if long_every and i % long_every == 0
                else "Pyrexia"
                for i in range(n)
            ],
            "Grade": ["3"] * n,
            "Related": ["Yes"] * n,
            "DLT": ["No"] * n,
            "Outcome": ["Recovered/resolved"] * n,
        }
    )
    return tlf.Listing(
        number="Listing 16.2.7.3",
        title="Listing of serious adverse events",
        body=body,
        population="Safety population",
        population_n=n,
        cut_date=CUT,
        id="l-sae",
        source=(["ADSL", "ADAE"], "chapters/deaths_saes.ipynb"),
        footnotes=("Only once, at the end.",),
    )


def _pages(text: str) -> list[str]:
    return text.split("\\page")


def test_rtf_pages_carry_header_footer_title_and_column_headers(tmp_path):
    lst = _sae_listing(100)
    text = lst.to_rtf(tmp_path / "l.rtf", furniture=FURNITURE).read_text(encoding="ascii")
    assert text.startswith("{\\rtf1") and text.count("{") - text.count("\\{") == text.count("}") - text.count("\\}")
    # running header and footer once per section: every page shows them
    assert text.count("{\\header") == 1 and text.count("{\\footer") == 1
    header = text[text.index("{\\header") : text.index("{\\footer")]
    assert "STUDY-1 | Interim clinical study report" in header and "Data cut-off: 2025-03-01" in header
    assert "Page {\\field{\\*\\fldinst PAGE }" in header and "{\\field{\\*\\fldinst NUMPAGES }" in header
    footer = text[text.index("{\\footer") :]
    assert footer.split("\\par}")[0].count("Source: ADSL, ADAE; program chapters/deaths_saes.ipynb") == 1
    pages = _pages(text)
    assert len(pages) == len(rtf.plan_table(lst).pages) > 1
    for page in pages:  # title block and column headers on every page
        assert "Listing 16.2.7.3" in page and "Safety population (N = 100)" in page and "{\\f0 Preferred term}" in page
        assert page.count("\\trhdr") == 1 and page.index("\\trhdr") < page.index("{\\f0 Preferred term}")
    # footnotes: once, under the table on the last page; the bookmark of the TLF on its first page only
    assert text.count("Only once, at the end.") == 1 and "Only once, at the end." in pages[-1]
    assert text.count("\\bkmkstart tlf_l_sae}") == 1 and "\\bkmkstart" in pages[0]
    assert all(f"01-{i:03d}" in text for i in range(100))
    assert "\\paperw15840\\paperh12240\\landscape" in text and "\\lndscpsxn" in text


def test_rtf_pagination_fills_the_page_by_row_height(tmp_path):
    short = rtf.plan_table(_sae_listing(100))
    assert [len(p) for p in short.pages][:-1] == [len(short.pages[0])] * (len(short.pages) - 1)
    assert len(short.pages[0]) >= 28  # landscape letter, one-line rows (rtflite's default: 24 rows budget)
    assert [i for p in short.pages for i in p] == list(range(100))  # every row once, in order
    wrapped = rtf.plan_table(_sae_listing(100, long_every=2))
    assert len(wrapped.pages[0]) < len(short.pages[0])  # rows that wrap take more room
    # the heights of the rows on a page never exceed the page
    layout = wrapped.layout
    room = layout.content_height - rtf.title_height(_sae_listing(100), layout)
    heights = rtf.row_heights(_sae_listing(100, long_every=2), wrapped.widths)
    assert all(sum(heights[i] for i in p) <= room for p in wrapped.pages)


def test_paginate_keeps_footnotes_with_the_last_rows():
    assert rtf.paginate([1.0] * 10, room=4.0, last_extra=0.0) == [range(0, 4), range(4, 8), range(8, 10)]
    assert rtf.paginate([1.0] * 8, room=4.0, last_extra=1.5) == [range(0, 4), range(4, 6), range(6, 8)]
    assert rtf.paginate([5.0, 1.0], room=4.0, last_extra=0.0) == [range(0, 1), range(1, 2)]  # too tall: own page
    assert rtf.paginate([], room=4.0, last_extra=1.0) == [range(0)]


def test_column_widths_fill_the_page_and_never_split_a_header_word():
    lst = _sae_listing(20, long_every=3)
    layout, widths = rtf.table_layout(lst)
    assert layout.orientation == "landscape" and sum(widths) == pytest.approx(layout.content_width)
    for name, w in zip(lst.columns, widths):
        for word in name.split():
            assert rtf.wrap_lines(word, w - rtf.CELL_PAD) == 1, (name, w)
    # narrow coded columns keep one line; the free-text column is the one that wraps
    for j, name in enumerate(lst.columns):
        if name != "Preferred term":
            assert all(rtf.wrap_lines(r[j], widths[j] - rtf.CELL_PAD) == 1 for r in lst.rows()), name
    # a narrow table fills the portrait page; a wide one goes landscape
    narrow = tlf.Table(
        number="Table 14.1.9", title="Narrow", body=pd.DataFrame({"Parameter": ["Any"], "Total\n(N=6)": ["6 (100)"]})
    )
    layout, widths = rtf.table_layout(narrow)
    assert layout.orientation == "portrait" and sum(widths) == pytest.approx(layout.content_width)


def test_wrap_lines_counts_words_and_breaks():
    w = rtf.text_width("Recovered/resolved")
    assert rtf.wrap_lines("Recovered/resolved", w) == 1
    assert rtf.wrap_lines("Recovered/resolved Recovered/resolved", w * 1.5) == 2
    assert rtf.wrap_lines("a\nb\nc", 1.0) == 3
    assert rtf.wrap_lines("x" * 40, rtf.text_width("x" * 10)) == 4  # a word wider than the box


def test_long_listing_is_complete(tmp_path):
    text = _sae_listing(3000).to_rtf(tmp_path / "big.rtf").read_text(encoding="ascii")  # encoded page by page
    assert text.count("\\page{") + 1 == len(rtf.plan_table(_sae_listing(3000)).pages) > 50
    assert text.count("01-2999") == 1 and text.count("Only once, at the end.") == 1


def test_volume_joins_tlfs_in_order_with_contents(tmp_path):
    lst = _sae_listing(60)
    lst.to_rtf(tmp_path / "l.rtf", furniture=FURNITURE)
    t = tlf.Table.from_catalogue(
        study_catalogue.load()["t-ae-soc-pt"], ae_body(), population_n=6, cut=CUT, source=SOURCE
    )
    t.to_rtf(tmp_path / "t.rtf", furniture=FURNITURE)
    entries = [
        rtf.VolumeEntry(t.number, t.title, tmp_path / "t.rtf", rtf.bookmark_name(t)),
        rtf.VolumeEntry(lst.number, lst.title, tmp_path / "l.rtf", rtf.bookmark_name(lst)),
    ]
    path = rtf.write_volume(entries, tmp_path / "v.rtf", FURNITURE, "2025-03-01", ["STUDY-1", "TLFs"])
    text = path.read_text("ascii")
    toc = text[: text.index("\\sect\n")]
    assert toc.index("Table 14.3.2.2") < toc.index("Listing 16.2.7.3")
    for e in entries:
        assert f'HYPERLINK \\\\l "{e.bookmark}"' in toc and f"PAGEREF {e.bookmark} " in toc
        assert text.count(f"\\bkmkstart {e.bookmark}}}") == 1
    sections = text.split("\\sect\n")
    assert len(sections) == 3 and "\\lndscpsxn" in sections[2] and "\\lndscpsxn" not in sections[1]
    assert all("{\\header" in s and "{\\footer" in s for s in sections)
    (tmp_path / "bad.rtf").write_text("{\\rtf1 not ours}")
    with pytest.raises(tlf.TLFError, match="not an RTF TLF written by analysis_lib"):
        rtf.write_volume([rtf.VolumeEntry("T", "t", tmp_path / "bad.rtf", "b")], tmp_path / "v2.rtf", FURNITURE, "", [])


def test_emitter_without_rendering_writes_nothing(tmp_path, table, monkeypatch):
    monkeypatch.setenv("CSR_RENDER_TLFS", "0")
    em = tlf.Emitter(catalogue=study_catalogue.load(), output_dir=tmp_path, display=False)
    assert em.emit(table) is table and em.emitted == [table]
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(("size", "orientation"), [((8, 5), "landscape"), ((6, 7), "portrait")])
def test_figure_rtf_takes_the_orientation_that_shows_it_larger(tmp_path, size, orientation):
    fig = MplFigure(figsize=size)
    fig.add_subplot().plot([0, 1], [1, 0])
    f = tlf.Figure(number="Figure 14.2.1", title="Kaplan-Meier plot", figure=fig, cut_date=CUT, footnotes=("Note.",))
    text = f.to_rtf(tmp_path / "f.rtf", furniture=FURNITURE).read_text(encoding="ascii")
    layout = rtf.LANDSCAPE if orientation == "landscape" else rtf.PORTRAIT
    assert ("\\lndscpsxn" in text) == (orientation == "landscape")
    width = int(re.search(r"\\picwgoal(\d+)", text).group(1)) / rtf.TWIPS
    assert width == pytest.approx(size[0] * rtf.figure_scale(f, layout), abs=0.01) and width <= layout.content_width
    assert "{\\header" in text and "Page {\\field" in text and text.count("Note.") == 1


# ---------------------------------------------------------------- text from the data is data (issue 14)

PAYLOADS = [
    "<img src=x onerror=\"document.body.dataset.pwned='yes'\">",
    "{math}`\\input{/etc/passwd}`",
    "```{raw} latex\n\\input{/etc/passwd}\n```",
    "$\\input{/etc/passwd}$",
    "# heading",
    "- item",
    "1. item",
    "% comment",
    "(target)=",
    ":::{note}\nx\n:::",
    "[link](javascript:alert(1))",
    "a | b",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_plain_text_is_never_markdown(payload):
    from markdown_it import MarkdownIt

    shown = escape.to_markdown(payload)
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(shown)  # raw HTML allowed
    assert html.startswith("<p>") and html.count("<p>") == 1 and "<img" not in html and "<a " not in html
    assert "<h1>" not in html and "<li>" not in html and "<table>" not in html
    text = html.removeprefix("<p>").removesuffix("</p>\n")
    assert __import__("html").unescape(text) == "\n".join(payload.splitlines())  # shown as itself


def test_markup_passes_and_its_data_is_escaped():
    table = formats.markdown_table(["Term"], [["<b>x</b>"]])
    assert isinstance(table, escape.Markup) and escape.to_markdown(table) == table
    assert escape.markup("**{}**", "<i>") == "**\\<i\\>**"
    joined = escape.Markup("*a* ") + "<b>"
    assert isinstance(joined, escape.Markup) and joined == "*a* \\<b\\>"
    prose = "Datasets (v1.2):\n\n" + table  # a paragraph of text, then the table: both survive
    assert isinstance(prose, escape.Markup) and prose == "Datasets (v1.2):\n\n" + str(table)


def test_characters_the_pdf_cannot_set_are_named():
    assert escape.unsettable("Anaemia 😷 贫血 ≥ é µ") == sorted("贫血😷")
    assert escape.marker("😷") == "[U+1F637]"
    assert escape.latex("`x`") == r"\textasciigrave{}x\textasciigrave{}"
