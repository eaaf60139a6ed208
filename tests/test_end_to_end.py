"""End to end on the real project (a scratch copy): `csr report` for the reference cut gives the
HTML book, the PDF and the RTF package with every TLF of the catalogue, offline and fonts embedded;
a corrupted copy of the data is refused and leaves that report untouched.

The copy carries hostile and unlucky text (issue 14): a script payload and a LaTeX payload as AE
terms, emoji/CJK/Arabic in an AE term, a ``$...$`` mathtext payload in a subject id and a script in
the cut's label. The report must still build, show all of it as text and run none of it."""

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


SECRET = "LEAKED-FILE-CONTENT-7f3a"
RUN_LOG: dict[str, str] = {}
XSS_TERM = "<img src=x onerror=\"document.body.dataset.pwned='yes'\">"
UNICODE_TERM = "Anaemia 😷 贫血 فقر الدم"
LABEL = "Final <script>document.body.dataset.label='ran'</script> 🎉"
SUBJID = ("01-001", r"01-$\foo{x}$")


def _latex_term(secret: Path) -> str:
    return f"Rash {{math}}`\\input{{{secret}}}` ```{{raw}} latex\n\\input{{{secret}}}\n``` $\\input{{{secret}}}$"


def _plant_payloads(root: Path) -> None:
    """Frequent AE terms become payloads (so they reach the running text), consistently in every cut
    and in the AESI definitions; one subject id a mathtext payload; the cut's label a script."""
    import yaml

    from analysis_lib.trial import io

    secret = root / "secret.tex"
    secret.write_text(SECRET + "\n")
    terms = {"Neutropenia": XSS_TERM, "Thrombocytopenia": _latex_term(secret), "Anaemia": UNICODE_TERM}
    for folder in (root / "synthetic_data").iterdir():
        for name, cols in (("ae", ("AETERM", "AEDECOD")), ("dm", ("SUBJID",))):
            # XPT v5 holds ASCII text: the payloads travel in a UTF-8 CSV, as a delivery may send them
            df = io.read_file(folder / f"{name}.xpt")
            for col in cols:
                df[col] = df[col].replace(terms if name == "ae" else dict([SUBJID]))
            df.to_csv(folder / f"{name}.csv", index=False)
            (folder / f"{name}.xpt").unlink()
    study = root / "params" / "study.yml"
    data = yaml.safe_load(study.read_text(encoding="utf-8"))
    aesi = data["aesi"]["PROLONGED CYTOPENIA"]
    aesi["decod"] = [terms.get(t, t) for t in aesi["decod"]]
    study.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    params = root / "params" / f"{CUT}.yml"
    cut = yaml.safe_load(params.read_text(encoding="utf-8"))
    params.write_text(yaml.safe_dump({**cut, "label": LABEL}, sort_keys=False, allow_unicode=True), encoding="utf-8")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    for name in PROJECT:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, root / name)
    _plant_payloads(root)
    proc = _csr(root, "report", "--cut", CUT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    RUN_LOG["report"] = proc.stdout + proc.stderr
    return root, root / "_output" / CUT


@pytest.fixture(scope="module")
def clean_report(tmp_path_factory):
    """The report of the project's own delivery, without planted payloads: what a medical writer
    receives, for the page-density checks of the RTF package (long payload terms wrap rows)."""
    root = tmp_path_factory.mktemp("clean")
    for name in PROJECT:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, root / name)
    proc = _csr(root, "report", "--cut", CUT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root, root / "_output" / CUT


def _comparable(folder: Path) -> dict[str, bytes]:
    """Every file's bytes; the manifest without its run time and the cache without its timings (the
    only places with a clock, by design)."""
    files = _digest(folder)
    for name, volatile in (("manifest.json", "run"), (".cache.json", "last_run")):
        data = json.loads(files[name])
        data.pop(volatile)
        files[name] = json.dumps(data, sort_keys=True).encode()
    return files


def test_report_has_every_deliverable(report):
    _, out = report
    assert (out / "html" / "index.html").is_file() and (out / f"csr-{CUT}.pdf").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"study", "cut", "inputs", "params", "definitions", "git", "packages", "run"} <= set(manifest)
    assert manifest["cut"]["id"] == CUT and manifest["inputs"]  # every input file with its hash
    assert len(list((out / "notebooks").glob("*.ipynb"))) == len(list((ROOT / "chapters").glob("*.ipynb")))
    assert set(manifest["outputs"]) == {
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and not p.relative_to(out).as_posix().startswith(".")
    } - {"manifest.json"}
    assert "IPKernelApp" not in RUN_LOG["report"] and "KeyboardInterrupt" not in RUN_LOG["report"]  # quiet kernels


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


def test_libreoffice_shows_furniture_on_every_page_and_the_volume_has_a_working_toc(clean_report, tmp_path):
    """The RTF package as a medical writer opens it: every page of every TLF has the running header
    (study, report type, "Page x of y"), the footer (source) and the title and column headers; the
    pages LibreOffice lays out are the pages the paginator planned; Listing 16.2.7.3 (17 pages before
    the paginator) fits in 6; no header word is split; the volume's contents point at the right pages."""
    _, out = clean_report
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
    lines = toc.splitlines()
    for number in order:
        start = next(k for k, x in enumerate(lines) if x.strip().startswith(number + " "))
        # a long title wraps: the entry's page number ends the first line with leader dots
        leader = next(m for x in lines[start : start + 4] if (m := re.search(r"\.{3,}\s*(\d+)\s*$", x)))
        page_no = int(leader.group(1))
        assert number in "\n".join(vol[page_no - 1].splitlines()[:8]), (number, page_no)
    toc_pages = sum(1 for p in vol if "...." in p)
    assert len(vol) == toc_pages + sum(len(pages[r.stem]) for r in rtfs)


# ---------------------------------------------------------------- issue 14: trustworthy outputs


def test_script_payloads_run_no_script_in_chromium(report, tmp_path):
    from helpers import chromium

    _, out = report
    for page in (
        "index.html",
        "notebooks/adverse_events.html",
        "notebooks/deaths_saes.html",
        "notebooks/changes.html",
        "notebooks/methods.html",
    ):
        proc = chromium(["--virtual-time-budget=5000", "--dump-dom", (out / "html" / page).as_uri()], tmp_path / "p")
        dom = proc.stdout
        body = re.search(r"<body[^>]*>", dom)
        assert body and "CART-19-22-ALL" in dom, page
        assert "data-pwned" not in body.group(0) and "data-label" not in body.group(0), f"{page}: a script ran"
        assert '<img src="x"' not in dom and "<script>document" not in dom, f"{page}: payload became markup"
    ae = (out / "html" / "notebooks" / "adverse_events.html").read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=" in ae  # shown as text in the running text and the tables
    assert "&lt;script&gt;document.body.dataset.label" in (out / "html" / "index.html").read_text(encoding="utf-8")


def test_latex_payload_is_text_in_the_pdf_and_unicode_is_marked(report):
    root, out = report
    text = subprocess.run(
        ["pdftotext", str(out / f"csr-{CUT}.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    secret = str(root / "secret.tex")
    assert SECRET not in text, "a LaTeX payload in the data typeset a file"
    assert f"\\input{{{secret}}}" in text.replace("\n", "") and "{raw} latex" in text
    assert "[U+1F637]" in text and "[U+8D2B][U+8840]" in text and "[U+1F389]" in text  # emoji, CJK, in the label
    assert "<script>document.body.dataset.label" in text  # the label as text on the title page
    html = (out / "html" / "notebooks" / "adverse_events.html").read_text(encoding="utf-8")
    assert UNICODE_TERM in html  # the browser sets it with its own fonts
    log = RUN_LOG["report"]  # the run warned, naming the records
    assert re.search(
        r"warning: ae\.csv, column AEDECOD, rows? [\d, ]+: .*\[U\+[0-9A-F]+\].* cannot be set in the "
        r"PDF's fonts",
        log,
    ), log
    assert "warning: final.yml, key label: [U+1F389]" in log


def test_two_force_runs_in_different_folders_give_byte_identical_outputs(report, tmp_path):
    root, out = report
    other = tmp_path / "elsewhere" / "project"
    shutil.copytree(root, other, ignore=shutil.ignore_patterns("_output"))
    proc = _csr(other, "report", "--cut", CUT, "--force")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    first, second = _comparable(out), _comparable(other / "_output" / CUT)
    assert sorted(first) == sorted(second)
    differ = [name for name in first if first[name] != second[name]]
    assert not differ, f"differ between two --force runs in different folders: {differ}"
    everything = b"".join(first.values()).replace(str(root / "secret.tex").encode(), b"")  # the payload names it
    assert str(root).encode() not in everything, "a build path inside the outputs"


def test_verify_the_report_then_one_edited_ard_byte(report, tmp_path):
    root, out = report
    package = tmp_path / "sent"
    shutil.copytree(out, package)
    proc = _csr(root, "verify", "--cut", CUT, "--dir", str(package))
    assert proc.returncode == 0 and "deliverables match manifest.json" in proc.stdout, proc.stderr
    ard = package / "ard" / "t-orr.csv"
    data = bytearray(ard.read_bytes())
    data[len(data) // 2] ^= 0x01
    ard.write_bytes(bytes(data))
    proc = _csr(root, "verify", "--cut", CUT, "--dir", str(package))
    assert proc.returncode == 1 and "ard/t-orr.csv: edited" in proc.stderr, proc.stderr
