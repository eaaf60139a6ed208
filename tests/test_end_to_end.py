"""End to end on the real project (a scratch copy): `csr report` for the reference cut gives the
HTML book, the PDF and the RTF package with every TLF of the catalogue, offline and fonts embedded;
a corrupted copy of the data is refused and leaves that report untouched."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from analysis_lib.pipeline import render
from analysis_lib.toolkit import ard, tlf
from analysis_lib.trial import catalogue as study_catalogue

ROOT = Path(__file__).resolve().parents[1]
CUT = "final"
PROJECT = ("params", "chapters", "synthetic_data", "_quarto.yml", "requirements.lock")

pytestmark = pytest.mark.slow


def _csr(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).with_name("csr")), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "CSR_ROOT": str(root)},
        timeout=900,
    )


def _digest(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    for name in PROJECT:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, root / name)
    proc = _csr(root, "report", "--cut", CUT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root, root / "_output" / CUT


def test_report_has_every_deliverable(report):
    _, out = report
    assert (out / "html" / "index.html").is_file() and (out / f"csr-{CUT}.pdf").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"study", "cut", "inputs", "params", "definitions", "git", "packages", "run"} <= set(manifest)
    assert manifest["cut"]["id"] == CUT and manifest["inputs"]  # every input file with its hash
    assert len(list((out / "notebooks").glob("*.ipynb"))) == len(list((ROOT / "chapters").glob("*.ipynb")))


def test_pdf_has_every_catalogue_tlf_and_embedded_fonts(report):
    _, out = report
    pdf = out / f"csr-{CUT}.pdf"
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    missing = [e.number for e in study_catalogue.load().values() if e.number not in text]
    assert not missing, f"not in the PDF: {missing}"
    assert not re.search(r"\b(nan|NaN|None)\b", text)
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), "\n".join(fonts)


def test_pdf_has_document_properties_and_a_bookmark_per_tlf(report):
    _, out = report
    pdf = out / f"csr-{CUT}.pdf"
    study = yaml.safe_load((ROOT / "params" / "study.yml").read_text())["study"]
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(rf"^Title:\s+{re.escape(study['title'])}$", info, re.M)
    assert re.search(rf"^Author:\s+{re.escape(study['sponsor'])}$", info, re.M)
    assert re.search(rf"^Subject:\s+{re.escape(study['id'])} Final clinical study report, data cut ", info, re.M)
    assert re.search(rf"^Keywords:\s+{re.escape(study['id'])}, {CUT}, ", info, re.M)
    numbers = [e.number for e in study_catalogue.load().values()]
    assert render.pdf_problems(pdf, numbers) == []  # version, no encryption, fonts, a bookmark per TLF


def test_html_loads_nothing_from_the_network(report):
    _, out = report
    remote = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//""", re.I)
    offenders = [
        str(f)
        for f in (out / "html").rglob("*")
        if f.suffix in {".html", ".js", ".css"} and remote.search(f.read_text(encoding="utf-8", errors="replace"))
    ]
    assert not offenders


def test_every_catalogue_tlf_has_an_rtf_with_its_title(report):
    _, out = report
    for entry in study_catalogue.load().values():
        path = out / "rtf" / f"{tlf.slugify(entry.number)}.rtf"
        data = path.read_bytes()
        assert data.startswith(b"{\\rtf1") and data.rstrip().endswith(b"}"), path.name
        words = re.findall(r"[A-Za-z]{4,}", entry.title)[:3]
        assert all(w.encode() in data for w in words), f"{path.name}: title words {words}"


def test_bad_data_is_refused_and_the_report_is_untouched(report):
    root, out = report
    before = _digest(out)
    ae = root / "synthetic_data" / CUT / "ae.csv"
    good = ae.read_text()
    lines = good.splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("AETOXGR")] = "7"
    ae.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n")
    try:
        proc = _csr(root, "report", "--cut", CUT)
    finally:
        ae.write_text(good)
    assert proc.returncode == 1
    assert "ae.csv" in proc.stderr and "AETOXGR" in proc.stderr and "Traceback" not in proc.stderr
    assert _digest(out) == before


@pytest.mark.parametrize("page", ["index.html", "notebooks/adverse_events.html", "notebooks/time_to_event.html"])
def test_chromium_shows_report_pages_without_console_errors(report, page, tmp_path):
    from helpers import chromium

    _, out = report
    proc = chromium(["--virtual-time-budget=5000", "--dump-dom", (out / "html" / page).as_uri()], tmp_path / "p")
    errors = [line for line in proc.stderr.splitlines() if "Uncaught" in line or "ERROR:CONSOLE" in line]
    assert not errors, "\n".join(errors)
    assert "CART-19-22-ALL" in proc.stdout and ("<table" in proc.stdout or page == "index.html")


def _libreoffice_pdfs(rtfs: list[Path], out: Path) -> dict[str, list[str]]:
    """Convert RTFs with LibreOffice Writer headless (a private profile: other instances may run);
    returns file stem -> the text of each page (pdftotext, layout kept)."""
    profile = out / "profile"
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(out),
            *map(str, rtfs),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    pages = {}
    for rtf_file in rtfs:
        pdf = out / f"{rtf_file.stem}.pdf"
        text = subprocess.run(
            ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        pages[rtf_file.stem] = text.split("\f")[:-1]
    return pages


def test_libreoffice_shows_furniture_on_every_page_and_the_volume_has_a_working_toc(report, tmp_path):
    """The RTF package as a medical writer opens it: every page of every TLF has the running header
    (study, report type, "Page x of y"), the footer (source) and the title and column headers; the
    pages LibreOffice lays out are the pages the paginator planned; Listing 16.2.7.3 (17 pages before
    the paginator) fits in 6; no header word is split; the volume's contents point at the right pages."""
    _, out = report
    study = yaml.safe_load((ROOT / "params" / "study.yml").read_text())["study"]
    rtfs = sorted((out / "rtf").glob("*.rtf"))
    volume = out / f"tlfs-{CUT}.rtf"
    pages = _libreoffice_pdfs([*rtfs, volume], tmp_path)
    metas = {m["files"]["rtf"]: m for m in (json.loads(p.read_text()) for p in (out / "tlf").glob("*.json"))}
    for rtf_file in rtfs:
        meta = metas[f"rtf/{rtf_file.name}"]
        got = pages[rtf_file.stem]
        planned = rtf_file.read_text(encoding="ascii").count("\\page{") + 1
        assert len(got) == planned, f"{rtf_file.name}: LibreOffice laid out {len(got)} pages, planned {planned}"
        for k, page in enumerate(got, start=1):
            assert study["id"] in page and "clinical study report" in page, (rtf_file.name, k)
            assert f"Page {k} of {len(got)}" in page, (rtf_file.name, k)
            assert f"Data cut-off: {meta['cut_date']}" in page and "Source:" in page, (rtf_file.name, k)
            assert meta["number"] in page, (rtf_file.name, k)
    sae = pages["listing-16-2-7-3"]
    assert len(sae) <= 6, f"Listing 16.2.7.3 takes {len(sae)} pages"
    headers = ard.read(out / "ard" / "l-sae.csv")["variable"].unique().tolist()
    for k, page in enumerate(sae, start=1):
        rows = re.findall(r"^\s*\d{2}-\d{3}\s", page, flags=re.M)
        assert k == len(sae) or len(rows) >= 15, f"page {k}: {len(rows)} rows"
        for word in {w for h in headers for w in h.split()}:  # column headers repeated, words whole
            assert re.search(rf"(?<!\S){re.escape(word)}(?!\S)", page), f"page {k}: header word {word!r} split"
    # the volume: contents in catalogue order, each entry's page starts with that TLF
    vol = pages[volume.stem]
    order = [e.number for e in study_catalogue.load().values()]
    toc = "\n".join(p for p in vol if "Contents" in p or "...." in p)
    assert [n for n in order if n in toc] == order
    assert sorted(order, key=toc.index) == order
    for number in order:
        line = next(x for x in toc.splitlines() if x.strip().startswith(number + " "))
        page_no = int(line.rstrip().rsplit(".", 1)[-1])
        assert number in "\n".join(vol[page_no - 1].splitlines()[:8]), (number, page_no)
    toc_pages = sum(1 for p in vol if "...." in p)
    assert len(vol) == toc_pages + sum(len(pages[r.stem]) for r in rtfs)
