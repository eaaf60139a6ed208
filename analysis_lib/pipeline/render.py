"""Render a data cut's executed notebooks into the CSR deliverables: HTML site, PDF, manifest.

The book is defined once in ``_quarto.yml`` (title, chapter order, formats). For the default engine,
Jupyter Book 1.x, this module generates ``_config.yml``/``_toc.yml`` from it in a scratch folder,
turns them into a Sphinx ``conf.py`` with Jupyter Book's own config code, and runs Sphinx's ``html``
and ``latex`` builders in parallel (then ``latexmk``). Notebooks are never re-executed. Code cells are
hidden at render time; tables and figures pick their representation per builder (docs/design.md §3):
HTML uses ``text/html``, LaTeX uses ``text/markdown`` (a MyST raw-LaTeX block with a longtable or an
``\\includegraphics``). Outputs replace the previous ones only after a successful build.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from analysis_lib.pipeline import provenance
from analysis_lib.toolkit import escape
from analysis_lib.toolkit.tlf import rtf as tlf_rtf
from analysis_lib.trial import config

BOOK_DIR = Path(__file__).resolve().parent / "book"
ENGINES = ("jupyter-book", "quarto")
TLF_KINDS = ("Table", "Figure", "Listing")
# Jupyter Book/Sphinx extensions left out: they load remote resources (thebe, comments) or are unused.
_DROP_EXTENSIONS = {"sphinx_thebe", "sphinx_comments", "sphinx.ext.intersphinx", "sphinx_copybutton"}


class RenderError(Exception):
    """The book could not be rendered; the message names the file, chapter or tool that failed."""


# --------------------------------------------------------------------------------------------------
# Book definition and front matter
# --------------------------------------------------------------------------------------------------
def load_book(path: Path | None = None) -> dict[str, Any]:
    """Read the book definition (``_quarto.yml``): title, author, version and chapter list."""
    path = Path(path) if path else config.project_root() / "_quarto.yml"
    if not path.is_file():
        raise RenderError(f"{path}: book definition not found")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    book = data.get("book")
    if not isinstance(book, dict):
        raise RenderError(f"{path}: missing mapping 'book'")
    chapters = book.get("chapters")
    if not isinstance(chapters, list) or not chapters or not all(isinstance(c, str) for c in chapters):
        raise RenderError(f"{path}: 'book.chapters' must be a non-empty list of file names")
    if chapters[0] != "index.md":
        raise RenderError(f"{path}: the first chapter must be 'index.md' (the front page), not '{chapters[0]}'")
    bad = [c for c in chapters[1:] if not c.endswith(".ipynb")]
    if bad:
        raise RenderError(f"{path}: chapters after index.md must be notebooks (.ipynb): {', '.join(bad)}")
    stems = [Path(c).stem for c in chapters[1:]]
    dups = sorted({s for s in stems if stems.count(s) > 1})
    if dups:
        raise RenderError(f"{path}: chapter(s) listed twice: {', '.join(dups)}")
    return {
        "path": path,
        "title": str(book.get("title", "Clinical Study Report")),
        "author": str(book.get("author", "")),
        "version": str(book.get("version", "1.0")),
        "chapters": stems,
        "raw": data,
    }


def report_info(cut: config.Cut, book: dict[str, Any]) -> dict[str, str]:
    """The strings shown on the title page, front page and banner (from params and the book)."""
    study = config.load_study(cut.root).get("study", {})
    return {
        "STUDY_ID": str(study.get("id", "")),
        "STUDY_TITLE": str(study.get("title", book["title"])),
        "PHASE": str(study.get("phase", "")),
        "SPONSOR": str(study.get("sponsor", book["author"])),
        "REPORT_TYPE": cut.report_type,
        "CUT_LABEL": cut.label,
        "CUT_ID": cut.id,
        "CUT_DATE": cut.cut_date.isoformat(),
        "VERSION": book["version"],
        "BOOK_TITLE": book["title"],
    }


def banner_text(info: dict[str, str]) -> str:
    """One line shown on every HTML page: study, report type and data cut date."""
    return f"{info['STUDY_ID']} · {info['REPORT_TYPE']} · Data cut {info['CUT_DATE']} ({info['CUT_LABEL']})"


def banner_html(info: dict[str, str]) -> str:
    """:func:`banner_text` for the theme's announcement bar, which inserts it as raw HTML: escaped."""
    return escape.html(banner_text(info))


def tex_values(info: dict[str, str]) -> dict[str, str]:
    """The report strings as LaTeX text for the title page, running header and PDF metadata
    (:func:`analysis_lib.toolkit.escape.latex`: data, never markup)."""
    return {k: escape.latex(v) for k, v in info.items()}


def _fill(template: str, values: dict[str, str]) -> str:
    """Replace ``@@KEY@@`` placeholders; a placeholder without a value is an error, not left in."""

    def value(m: re.Match) -> str:
        if m.group(1) not in values:
            raise RenderError(f"template placeholder @@{m.group(1)}@@ has no value")
        return values[m.group(1)]

    return re.sub(r"@@([A-Z_]+)@@", value, template)


def _template(name: str) -> str:
    return (BOOK_DIR / name).read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------------
# TLF list (number + title), from the TLF metadata the notebooks wrote, else the catalogue
# --------------------------------------------------------------------------------------------------
def profiles_switch() -> str:
    """LaTeX preamble line for ``csr render --profiles all`` (``$CSR_PROFILES``): the PDF appendix
    then typesets the profile of every subject (trial/profiles.py wraps the others in
    ``\\ifcsrallprofiles``); by default only the narrated subjects' profiles."""
    if os.environ.get("CSR_PROFILES", "narrated") == "all":
        return "\n\\newif\\ifcsrallprofiles\\csrallprofilestrue\n"
    return ""


def _tlf_sort_key(number: str) -> tuple:
    kind, _, rest = number.partition(" ")
    kind_rank = TLF_KINDS.index(kind) if kind in TLF_KINDS else len(TLF_KINDS)
    parts = tuple(int(p) if p.isdigit() else 10**6 for p in re.split(r"[.\s]", rest) if p)
    return (kind_rank, parts, number)


def tlf_entries(build_dir: Path, catalogue: Path | None = None) -> list[dict[str, str]]:
    """Number, title and id of each TLF: ``build_dir/tlf/*.json`` if any, else the TLF catalogue.
    A TLF not produced for the cut (``"produced": false``) keeps its place; its title says so and why.

    Sorted tables, figures, listings, each by section number (14.2.10 after 14.2.9).
    """
    files = sorted((Path(build_dir) / "tlf").glob("*.json"))
    entries: list[dict[str, str]] = []
    if files:
        for f in files:
            try:
                meta = json.loads(f.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise RenderError(f"{f}: not valid JSON ({exc})") from None
            missing = [k for k in ("number", "title") if not meta.get(k)]
            if missing:
                raise RenderError(f"{f}: TLF metadata lacks {', '.join(missing)}")
            title = str(meta["title"])
            if meta.get("produced") is False:  # switched off for this cut (Emitter.not_produced)
                title += f" [not produced for this data cut: {meta.get('reason') or 'no reason given'}]"
            entries.append({"id": str(meta.get("id", f.stem)), "number": str(meta["number"]), "title": title})
    else:
        catalogue = catalogue or config.project_root() / "chapters" / "tlf_catalogue.yml"
        if catalogue.is_file():
            data = yaml.safe_load(catalogue.read_text(encoding="utf-8")) or {}
            for i, item in enumerate(data.get("tlfs", [])):
                if not item.get("number") or not item.get("title"):
                    raise RenderError(f"{catalogue}: tlfs[{i}] lacks number or title")
                entries.append(
                    {"id": str(item.get("id", "")), "number": str(item["number"]), "title": str(item["title"]).strip()}
                )
    numbers = [e["number"] for e in entries]
    dups = sorted({n for n in numbers if numbers.count(n) > 1})
    if dups:
        raise RenderError(f"TLF numbers used twice: {', '.join(dups)}")
    return sorted(entries, key=lambda e: _tlf_sort_key(e["number"]))


def _label_id(tlf_id: str) -> str:
    """A TLF id as it may appear inside ``\\pageref``/``\\label`` (letters, digits, ``-``, ``.``)."""
    return re.sub(r"[^A-Za-z0-9.-]", "", tlf_id)


def _tlf_lists_latex(entries: list[dict[str, str]]) -> str:
    """LaTeX chapter listing tables, figures and listings (page numbers where a TLF has a label)."""
    if not entries:
        return ""
    out = [
        r"\chapter*{List of tables, figures and listings}",
        r"\addcontentsline{toc}{chapter}{List of tables, figures and listings}",
        r"\markboth{List of tables, figures and listings}{}",
    ]
    for kind in TLF_KINDS + ("Other",):
        rows = [
            e
            for e in entries
            if (e["number"].split(" ")[0] if e["number"].split(" ")[0] in TLF_KINDS else "Other") == kind
        ]
        if not rows:
            continue
        heading = {"Table": "Tables", "Figure": "Figures", "Listing": "Listings"}.get(kind, "Other outputs")
        out += [
            rf"\section*{{{heading}}}",
            r"\begin{longtable}{@{}p{0.22\linewidth}p{0.68\linewidth}r@{}}",
            r"\toprule Number & Title & Page \\ \midrule \endhead \bottomrule \endfoot",
        ]
        tex = escape.latex
        out += [rf"{tex(e['number'])} & {tex(e['title'])} & \csrtlfpage{{{_label_id(e['id'])}}} \\" for e in rows]
        out.append(r"\end{longtable}")
    return "\n".join(out) + "\n"


def _tlf_list_markdown(entries: list[dict[str, str]]) -> str:
    if not entries:
        return ""
    rows = "\n".join(f"| {escape.markdown(e['number'])} | {escape.markdown(e['title'])} |" for e in entries)
    return f"\n**Tables, figures and listings**\n\n| Number | Title |\n|---|---|\n{rows}\n"


# --------------------------------------------------------------------------------------------------
# Source folder and Jupyter Book / Sphinx configuration
# --------------------------------------------------------------------------------------------------
def _executed_notebooks(build_dir: Path, chapters: list[str], book_path: Path) -> list[Path]:
    """The executed notebook of every chapter, in book order; missing or unlisted ones are errors."""
    nb_dir = build_dir / "notebooks"
    present = {p.stem: p for p in sorted(nb_dir.glob("*.ipynb"))}
    missing = [c for c in chapters if c not in present]
    if missing:
        raise RenderError(
            f"{nb_dir}: no executed notebook for chapter(s) {', '.join(missing)} "
            f"listed in {book_path}; run `csr execute` first"
        )
    extra = [s for s in present if s not in chapters]
    if extra:
        raise RenderError(
            f"{nb_dir}: notebook(s) {', '.join(extra)} are not chapters of {book_path}; "
            "add them to book.chapters in report order"
        )
    return [present[c] for c in chapters]


def _write_sources(
    src: Path, notebooks: list[Path], info: dict[str, str], entries: list[dict[str, str]], only_html: bool = True
) -> None:
    """Front page, executed notebooks and static files into the (fresh) source folder."""
    (src / "notebooks").mkdir(parents=True)
    front = _fill(_template("index.md"), {k: escape.markdown(v) for k, v in info.items()})
    title, _, body = front.partition("\n")
    body += _tlf_list_markdown(entries)
    if only_html:  # the PDF has the title page and a typeset TLF list with page numbers instead
        body = "\n````{only} html\n" + body.strip("\n") + "\n````\n"
    (src / "index.md").write_text(title + "\n" + body, encoding="utf-8")
    for nb in notebooks:
        shutil.copyfile(nb, src / "notebooks" / nb.name)
    (src / "_static").mkdir()
    shutil.copyfile(BOOK_DIR / "csr.css", src / "_static" / "csr.css")


#: Where the profiles chapter leaves its subject pages (trial/profiles.py: ``figures/profile-pages.json``
#: lists them in book order, each with its content file) and the book folder the pages go to.
PROFILE_PAGES_INDEX = Path("figures") / "profile-pages.json"
PROFILE_PAGES_DIR = "profiles"
PROFILES_CHAPTER = "profiles"


def _write_profile_pages(src: Path, build_dir: Path) -> list[str]:
    """One MyST page per subject profile (HTML book only) from what the profiles chapter wrote:
    a heading (the figure's number and title) and the page content as raw HTML. Returns the
    pages' document names in book order (none when the chapter wrote no pages)."""
    index = build_dir / PROFILE_PAGES_INDEX
    if not index.is_file():
        return []
    try:
        pages = json.loads(index.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RenderError(f"{index}: not valid JSON ({exc})") from None
    if not isinstance(pages, list):
        raise RenderError(f"{index}: expected a list of subject pages")
    out_dir = src / PROFILE_PAGES_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    docs = []
    for i, page in enumerate(pages):
        if not isinstance(page, dict) or not all(isinstance(page.get(k), str) for k in ("page", "title", "html")):
            raise RenderError(f"{index}: entry {i} needs the strings page, title and html")
        if not re.fullmatch(r"[A-Za-z0-9._-]+", page["page"]) or page["page"].startswith("."):
            raise RenderError(f"{index}: entry {i}: page name {page['page']!r} is not a plain file name")
        content_file = build_dir / page["html"]
        if not content_file.is_file() or build_dir.resolve() not in content_file.resolve().parents:
            raise RenderError(f"{index}: entry {i}: content file {page['html']} not found in the output folder")
        content = content_file.read_text(encoding="utf-8")
        longest = max((len(m) for m in re.findall(r"`+", content)), default=0)
        fence = "`" * max(4, longest + 1)  # a fence the content cannot close
        text = f"# {escape.markdown(page['title'])}\n\n{fence}{{raw}} html\n{content}\n{fence}\n"
        (out_dir / f"{page['page']}.md").write_text(text, encoding="utf-8")
        docs.append(f"{PROFILE_PAGES_DIR}/{page['page']}")
    return docs


def jupyter_book_config(
    book: dict[str, Any], info: dict[str, str], figures_dir: str, entries: list[dict[str, str]]
) -> dict[str, Any]:
    """The generated Jupyter Book ``_config.yml`` content (offline, no execution, code hidden).

    ``figures_dir`` is the figures folder relative to the LaTeX build folder: a relative path, so
    the ``.tex`` does not name the (random) staging folder and two runs give the same bytes."""
    tex_info = tex_values(info)
    tex_info["FIGURES_DIR"] = figures_dir
    tex_name = f"csr-{info['CUT_ID']}.tex"
    return {
        "title": info["STUDY_ID"] + " " + book["title"],
        "author": info["SPONSOR"],
        "copyright": info["SPONSOR"],
        "only_build_toc_files": True,
        "exclude_patterns": ["_build", "**.ipynb_checkpoints"],
        "execute": {"execute_notebooks": "off"},
        "parse": {"myst_enable_extensions": ["colon_fence"], "myst_url_schemes": ["mailto", "http", "https"]},
        "html": {
            "use_multitoc_numbering": False,
            "home_page_in_navbar": True,
            "announcement": banner_html(info),
            "extra_footer": "",
            "baseurl": "",
        },
        "latex": {"latex_engine": "pdflatex", "use_jupyterbook_latex": False},
        "launch_buttons": {
            "thebe": False,
            "binderhub_url": "",
            "jupyterhub_url": "",
            "colab_url": "",
            "deepnote_url": "",
        },
        "repository": {"url": "", "path_to_book": "", "branch": ""},
        "sphinx": {
            "recursive_update": True,
            "config": {
                "project": f"{info['STUDY_ID']} CSR",
                "today": info["CUT_DATE"],
                "numfig": False,
                "html_show_sphinx": False,
                "html_show_sourcelink": False,
                "html_copy_source": False,
                "html_show_search_summary": False,  # its fetch() of pages fails under file:// (offline use)
                "html_last_updated_fmt": None,
                "html_theme_options": {
                    "announcement": banner_html(info),
                    "use_download_button": False,
                    "use_fullscreen_button": False,
                    "search_bar_text": "Search this report...",
                    "navbar_persistent": [],  # one search box (sidebar), not two
                    "footer_content_items": ["extra-footer.html"],
                    "extra_footer": f"<p>{html.escape(banner_text(info))}. Provenance: manifest.json "
                    "beside this site.</p>",
                    "launch_buttons": {},
                },
                # MyST-NB: executed notebooks as they are; code hidden; per-builder mime choice.
                "nb_execution_mode": "off",
                "nb_remove_code_source": True,
                "nb_output_stderr": "remove-warn",
                "nb_render_markdown_format": "myst",
                "nb_mime_priority_overrides": [
                    ["html", "text/markdown", None],
                    ["html", "text/latex", None],  # would be typeset as math by a remote MathJax
                    ["latex", "text/markdown", 5],
                    ["latex", "text/latex", None],
                ],
                "latex_documents": [["index", tex_name, tex_info["STUDY_TITLE"], tex_info["SPONSOR"], "manual"]],
                "latex_toplevel_sectioning": "chapter",
                "latex_show_urls": "no",
                "latex_elements": {
                    "papersize": "a4paper",
                    "pointsize": "10pt",
                    "fontpkg": "\\usepackage{tgtermes}\n\\usepackage{tgheros}\n\\usepackage{tgcursor}\n",
                    "fncychap": "",
                    "extraclassoptions": "openany,oneside",
                    "preamble": _fill(_template("preamble.tex"), tex_info) + profiles_switch(),
                    "maketitle": _fill(_template("titlepage.tex"), tex_info),
                    # Arabic page numbers throughout (title page = 1) so "Page X of Y" counts every page.
                    "tableofcontents": "\\begingroup\\setlength{\\parskip}{0pt}\\tableofcontents\\endgroup\n"
                    "\\clearpage\n" + _tlf_lists_latex(entries) + "\\clearpage\n",
                    "printindex": "",
                    "sphinxsetup": "hmargin={20mm,20mm}, vmargin={25mm,25mm}",
                },
            },
        },
    }


#: The table of contents of the LaTeX build: the chapters without the HTML-only subject pages
#: (the PDF has the profiles appendix inside the profiles chapter instead).
LATEX_TOC = "_toc_latex.yml"


def _toc(chapters: list[str], sections: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Jupyter Book's ``_toc.yml``: the chapters in order; ``sections``: pages listed under a chapter."""
    entries: list[dict[str, Any]] = []
    for c in chapters:
        entry: dict[str, Any] = {"file": f"notebooks/{c}"}
        if (sections or {}).get(c):
            entry["sections"] = [{"file": f} for f in (sections or {})[c]]
        entries.append(entry)
    return {"format": "jb-book", "root": "index", "chapters": entries}


def _write_sphinx_conf(
    src: Path, jb_config: dict[str, Any], chapters: list[str], profile_pages: list[str] | None = None
) -> None:
    """Write ``_config.yml``, ``_toc.yml`` (HTML: with the subject pages under the profiles
    chapter), ``_toc_latex.yml`` and the Sphinx ``conf.py`` Jupyter Book derives from them."""
    from jupyter_book.config import get_final_config

    (src / "_config.yml").write_text(yaml.safe_dump(jb_config, sort_keys=False), encoding="utf-8")
    html_toc = _toc(chapters, {PROFILES_CHAPTER: profile_pages or []})
    (src / "_toc.yml").write_text(yaml.safe_dump(html_toc, sort_keys=False), encoding="utf-8")
    (src / LATEX_TOC).write_text(yaml.safe_dump(_toc(chapters), sort_keys=False), encoding="utf-8")
    sphinx_config, _ = get_final_config(
        user_yaml=jb_config,
        sourcedir=src,
        cli_config={"latex_individualpages": False},
        validate=True,
        raise_on_invalid=True,
    )
    sphinx_config["extensions"] = [e for e in sphinx_config["extensions"] if e not in _DROP_EXTENSIONS]
    sphinx_config["external_toc_path"] = "_toc.yml"
    sphinx_config.pop("use_jupyterbook_latex", None)
    sphinx_config.pop("use_multitoc_numbering", None)
    lines = ["# Generated by analysis_lib.pipeline.render from _quarto.yml and params/; do not edit."]
    lines += [f"{key} = {sphinx_config[key]!r}" for key in sorted(sphinx_config)]
    (src / "conf.py").write_text("\n".join(lines) + "\n" + _CONF_SETUP, encoding="utf-8")


# The report has no mathematics, but MyST-NB parses every text/latex alternative of an output (the
# tables' LaTeX for Quarto) as math, so Sphinx would add MathJax from a CDN to those pages. The
# site must load nothing from the network: drop that script after Sphinx's mathjax hook has run.
_CONF_SETUP = """

def _no_remote_mathjax(app, pagename, templatename, context, doctree):
    context["script_files"] = [js for js in context.get("script_files", []) if "mathjax" not in str(js).lower()]


def setup(app):
    app.connect("html-page-context", _no_remote_mathjax, priority=900)
"""


# --------------------------------------------------------------------------------------------------
# Builds
# --------------------------------------------------------------------------------------------------
def _run(cmd: list[str], cwd: Path, env: dict[str, str], what: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
        raise RenderError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return proc


def _latex_errors(log: Path) -> str:
    if not log.is_file():
        return ""
    lines = log.read_text(encoding="latin-1").splitlines()
    hits = [i for i, line in enumerate(lines) if line.startswith("!")]
    return "\n".join("\n".join(lines[i : i + 4]) for i in hits[:5])


def _build_html(src: Path, out: Path, env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = _run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-q",
            "-b",
            "html",
            "-d",
            str(out.parent / "doctrees-html"),
            str(src),
            str(out),
        ],
        src,
        env,
        "Sphinx HTML build",
    )
    return time.perf_counter() - t0, proc.stderr


def _build_pdf(src: Path, out: Path, tex_name: str, env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = _run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-q",
            "-b",
            "latex",
            "-D",
            f"external_toc_path={LATEX_TOC}",
            "-d",
            str(out.parent / "doctrees-latex"),
            str(src),
            str(out),
        ],
        src,
        env,
        "Sphinx LaTeX build",
    )
    try:
        _run(
            ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-quiet", tex_name],
            out,
            env,
            "LaTeX (latexmk)",
        )
    except RenderError as exc:
        raise RenderError(f"{exc}\n{_latex_errors(out / tex_name.replace('.tex', '.log'))}") from None
    return time.perf_counter() - t0, proc.stderr


def _build_env(cut: config.Cut) -> dict[str, str]:
    """Environment for the builds: offline, reproducible dates (the data cut date), quiet."""
    epoch = int(dt.datetime.combine(cut.cut_date, dt.time(), dt.UTC).timestamp())
    env = dict(os.environ)
    env.update(
        {
            "SOURCE_DATE_EPOCH": str(epoch),
            "FORCE_SOURCE_DATE": "1",
            "PYTHONHASHSEED": "0",
            "TZ": "UTC",
            "LC_ALL": "C.UTF-8",
        }
    )
    return env


def _replace_dir(new: Path, target: Path) -> None:
    """Put ``new`` at ``target``, removing the old one only after the new one is in place."""
    old = target.with_name(target.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    new.rename(target)
    if old.exists():
        shutil.rmtree(old)


def render_cut(
    cut: str | config.Cut, build_dir: Path | None = None, engine: str = "jupyter-book", book: Path | None = None
) -> dict[str, Path]:
    """Render the executed notebooks of ``cut`` into ``build_dir/html/`` and ``build_dir/csr-<cut>.pdf``.

    ``build_dir`` defaults to the cut's output folder and must hold ``notebooks/*.ipynb`` (executed),
    ``figures/`` and optionally ``tlf/*.json``; ``book`` defaults to the project's ``_quarto.yml``.
    Writes ``build_dir/manifest.json`` too. Returns the paths by name (html, index, pdf, tex, manifest).
    """
    cut = config.load_cut(cut) if isinstance(cut, str) else cut
    build_dir = Path(build_dir) if build_dir else cut.output_dir
    if engine not in ENGINES:
        raise RenderError(f"unknown engine '{engine}'; use one of {', '.join(ENGINES)}")
    t_start = time.perf_counter()
    bk = load_book(book or cut.root / "_quarto.yml")
    notebooks = _executed_notebooks(build_dir, bk["chapters"], bk["path"])
    info = report_info(cut, bk)
    entries = tlf_entries(build_dir, cut.root / "chapters" / "tlf_catalogue.yml")
    work = build_dir / f".render-{engine}"
    if work.exists():
        shutil.rmtree(work)
    src = work / "src"
    if engine == "quarto":
        paths, timings = _render_quarto(cut, build_dir, bk, info, notebooks, entries, src, work)
    else:
        paths, timings = _render_jupyter_book(cut, build_dir, bk, info, notebooks, entries, src, work)
    shutil.rmtree(work)
    problems = pdf_problems(paths["pdf"], [e["number"] for e in entries])
    if problems:
        raise RenderError(f"{paths['pdf']} does not meet the regulatory PDF expectations:\n  " + "\n  ".join(problems))
    t0 = time.perf_counter()
    volume = write_tlf_volume(cut, build_dir, info)
    if volume is not None:
        paths["tlf_volume"] = volume
    timings["tlf_volume_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - t_start
    paths["manifest"] = write_manifest(cut, build_dir, engine, timings)
    return paths


def _render_jupyter_book(cut, build_dir, bk, info, notebooks, entries, src, work):
    _write_sources(src, notebooks, info, entries)
    pages = _write_profile_pages(src, build_dir) if PROFILES_CHAPTER in bk["chapters"] else []
    tex_name = f"csr-{cut.id}.tex"
    figures = os.path.relpath(build_dir / "figures", work / "latex")  # where latexmk runs
    _write_sphinx_conf(src, jupyter_book_config(bk, info, Path(figures).as_posix(), entries), bk["chapters"], pages)
    env = _build_env(cut)
    with ThreadPoolExecutor(max_workers=2) as pool:
        html_job = pool.submit(_build_html, src, work / "html", env)
        pdf_job = pool.submit(_build_pdf, src, work / "latex", tex_name, env)
        t_html, warn_html = html_job.result()
        t_pdf, warn_pdf = pdf_job.result()
    broken = link_problems(work / "html")
    if broken:
        raise RenderError(f"{len(broken)} link(s) of the HTML book lead nowhere:\n  " + "\n  ".join(broken[:20]))
    log = build_dir / "render.log"
    pdf = build_dir / f"csr-{cut.id}.pdf"
    tex = build_dir / tex_name
    shutil.copyfile(work / "latex" / tex_name, tex)
    os.replace(work / "latex" / f"csr-{cut.id}.pdf", pdf)
    _replace_dir(work / "html", build_dir / "html")
    text = f"# Sphinx warnings, HTML build\n{warn_html}\n# Sphinx warnings, LaTeX build\n{warn_pdf}\n"
    # no build folder in a deliverable: the same inputs give the same bytes wherever the build ran
    log.write_text(
        text.replace(str(src), "<book sources>").replace(str(build_dir), "<output folder>"), encoding="utf-8"
    )
    paths = {"html": build_dir / "html", "index": build_dir / "html" / "index.html", "pdf": pdf, "tex": tex, "log": log}
    return paths, {"html_s": t_html, "pdf_s": t_pdf}


def _render_quarto(cut, build_dir, bk, info, notebooks, entries, src, work):
    quarto = shutil.which("quarto")
    if not quarto:
        raise RenderError("Quarto is not installed; use --engine jupyter-book")
    _write_sources(src, notebooks, info, entries, only_html=False)
    project = json.loads(json.dumps(bk["raw"]))  # deep copy of the book definition
    project["project"] = {"type": "book", "output-dir": "_book"}
    project["book"]["title"] = info["STUDY_TITLE"]
    project["book"]["subtitle"] = f"{info['REPORT_TYPE']} · data cut {info['CUT_DATE']}"
    project["book"]["date"] = info["CUT_DATE"]
    project["book"]["chapters"] = ["index.md"] + [f"notebooks/{nb.name}" for nb in notebooks]
    fmt = project.setdefault("format", {})
    fmt.setdefault("html", {})["css"] = "_static/csr.css"
    tex_info = tex_values(info)
    tex_info["FIGURES_DIR"] = (build_dir / "figures").resolve().as_posix()
    (src / "preamble.tex").write_text(_fill(_template("preamble.tex"), tex_info) + profiles_switch(), encoding="utf-8")
    fmt.setdefault("pdf", {})["include-in-header"] = "preamble.tex"
    (src / "_quarto.yml").write_text(yaml.safe_dump(project, sort_keys=False), encoding="utf-8")
    env = _build_env(cut)
    t0 = time.perf_counter()
    _run([quarto, "render", str(src), "--to", "html"], src, env, "quarto render (html)")
    _run([quarto, "render", str(src), "--to", "pdf"], src, env, "quarto render (pdf)")
    out = src / "_book"
    pdfs = sorted(out.glob("*.pdf"))
    if not pdfs:
        raise RenderError(f"quarto render wrote no PDF in {out}")
    pdf = build_dir / f"csr-{cut.id}.pdf"
    os.replace(pdfs[0], pdf)
    _replace_dir(out, build_dir / "html")
    paths = {"html": build_dir / "html", "index": build_dir / "html" / "index.html", "pdf": pdf}
    return paths, {"quarto_s": time.perf_counter() - t0}


# --------------------------------------------------------------------------------------------------
# Checks of the PDF and the combined TLF volume
# --------------------------------------------------------------------------------------------------
def _tool(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise RenderError(f"{cmd[0]} (poppler-utils) failed on {cmd[-1]}: {exc}") from None


def link_problems(site: Path, folders: tuple[str, ...] = ("notebooks", PROFILE_PAGES_DIR)) -> list[str]:
    """Links of the report's pages (``folders`` of the built HTML ``site``: the chapters and the
    subject pages) that lead nowhere: every relative ``href`` must name an existing file and,
    with a ``#fragment``, an element with that id there. Empty when every link resolves."""
    ids: dict[Path, set[str]] = {}

    def ids_of(page: Path) -> set[str]:
        if page not in ids:
            text = page.read_text(encoding="utf-8", errors="replace")
            ids[page] = {html.unescape(m) for m in re.findall(r'\sid="([^"]*)"', text)}
        return ids[page]

    problems = []
    for folder in folders:
        for page in sorted((site / folder).glob("*.html")):
            text = page.read_text(encoding="utf-8", errors="replace")
            for raw in sorted(set(re.findall(r'<a\s[^>]*href="([^"]*)"', text))):
                target = html.unescape(raw)
                if not target or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
                    continue  # external (http:, mailto:) links are not the report's
                path, _, fragment = target.partition("#")
                dest = (page.parent / path).resolve() if path else page.resolve()
                where = f"{page.relative_to(site).as_posix()}: link {target}"
                if not dest.is_file():
                    problems.append(f"{where}: no such page")
                elif fragment and fragment not in ids_of(dest):
                    problems.append(f"{where}: no element with id '{fragment}'")
    return problems


def pdf_bookmarks(pdf: Path) -> list[str]:
    """The titles of every bookmark (outline item) of ``pdf``, in order (poppler's ``pdftohtml``)."""
    xml = _tool(["pdftohtml", "-xml", "-i", "-q", "-stdout", str(pdf)])
    outline = xml[xml.find("<outline") :] if "<outline" in xml else ""
    return [
        html.unescape(re.sub(r"<[^>]+>", "", m)).strip()
        for m in re.findall(r"<item[^>]*>(.*?)</item>", outline, flags=re.S)
    ]


def pdf_problems(pdf: Path, tlf_numbers: list[str]) -> list[str]:
    """What keeps ``pdf`` from the usual regulatory PDF expectations (FDA/ICH eCTD PDF
    specifications): document properties title, author and subject set; PDF version 1.4 to 1.7; no
    security (encryption); every font embedded; a bookmark for every TLF. Empty when it meets them."""
    info = dict(line.split(":", 1) for line in _tool(["pdfinfo", str(pdf)]).splitlines() if ":" in line)
    info = {k.strip(): v.strip() for k, v in info.items()}
    problems = [f"document property {k} is empty" for k in ("Title", "Author", "Subject") if not info.get(k)]
    version = info.get("PDF version", "")
    if version not in {"1.4", "1.5", "1.6", "1.7"}:
        problems.append(f"PDF version {version or '?'} (expected 1.4 to 1.7)")
    if not info.get("Encrypted", "").startswith("no"):
        problems.append(f"encrypted ({info.get('Encrypted')}): no security is allowed")
    fonts = _tool(["pdffonts", str(pdf)]).splitlines()[2:]
    not_embedded = [line.split()[0] for line in fonts if line.split()[-5] != "yes"]
    if not_embedded:
        problems.append(f"fonts not embedded: {', '.join(not_embedded)}")
    marks = pdf_bookmarks(pdf)
    missing = [n for n in tlf_numbers if not any(m.startswith(n + ":") for m in marks)]
    if missing:
        problems.append(f"no bookmark for {', '.join(missing)}")
    return problems


def volume_entries(build_dir: Path, catalogue: Path) -> list[tlf_rtf.VolumeEntry]:
    """The TLFs with an RTF in ``build_dir``, in catalogue order (then any others by number)."""
    metas = {}
    for f in sorted((Path(build_dir) / "tlf").glob("*.json")):
        meta = json.loads(f.read_text(encoding="utf-8"))
        if meta.get("files", {}).get("rtf"):
            metas[str(meta.get("id") or f.stem)] = meta
    order = []
    if catalogue.is_file():
        data = yaml.safe_load(catalogue.read_text(encoding="utf-8")) or {}
        order = [str(item.get("id")) for item in data.get("tlfs", []) if str(item.get("id")) in metas]
    rest = sorted((k for k in metas if k not in order), key=lambda k: _tlf_sort_key(metas[k]["number"]))
    out = []
    for key in order + rest:
        meta = metas[key]
        out.append(
            tlf_rtf.VolumeEntry(
                number=meta["number"],
                title=meta["title"],
                rtf=Path(build_dir) / meta["files"]["rtf"],
                bookmark=tlf_rtf.bookmark_name_for(key),
            )
        )
    return out


def write_tlf_volume(cut: config.Cut, build_dir: Path, info: dict[str, str]) -> Path | None:
    """The combined TLF volume ``build_dir/tlfs-<cut>.rtf``: contents, then every TLF in catalogue
    order with its page furniture (None when the cut has no TLF files)."""
    entries = volume_entries(build_dir, cut.root / "chapters" / "tlf_catalogue.yml")
    if not entries:
        return None
    furniture = tlf_rtf.Furniture(study_id=info["STUDY_ID"], report_type=info["REPORT_TYPE"])
    heading = [
        f"{info['STUDY_ID']} {info['REPORT_TYPE']}",
        info["STUDY_TITLE"],
        f"Tables, figures and listings, data cut {info['CUT_DATE']} ({info['CUT_LABEL']})",
    ]
    try:
        return tlf_rtf.write_volume(
            entries, Path(build_dir) / f"tlfs-{cut.id}.rtf", furniture, info["CUT_DATE"], heading
        )
    except tlf_rtf.TLFError as exc:
        raise RenderError(str(exc)) from None


def write_manifest(cut: str | config.Cut, build_dir: Path, engine: str, timings: dict[str, float]) -> Path:
    """Write ``build_dir/manifest.json``: provenance of the cut, every deliverable with its sha256
    (``outputs``: what ``csr verify`` checks) and the run time (the only place with a clock)."""
    cut = config.load_cut(cut) if isinstance(cut, str) else cut
    manifest = provenance.collect(cut, engine=engine)
    manifest["outputs"] = provenance.deliverables(Path(build_dir))  # every deliverable with its sha256
    manifest["run"] = {
        "finished_utc": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "timings_s": {k: round(v, 2) for k, v in sorted(timings.items())},
    }
    path = Path(build_dir) / "manifest.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
