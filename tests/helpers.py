"""Helpers shared by several test modules (tests never import each other): a tiny project with
stand-in pipeline steps, SDTM cut folders, numeric closeness, headless Chromium."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import shutil
import subprocess
import types
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from fixtures.mini_study import CUT

from analysis_lib.pipeline import runner as pipeline
from analysis_lib.trial.config import Cut, project_root

# from test_pipeline.py
CHAPTER_CODE = """\
from pathlib import Path
out = Path(output_dir)
rows = (out / "adam" / "adsl.csv").read_text().splitlines()[1:]
if any("FAIL_{name}" in r for r in rows):
    raise ValueError("planted failure in {name}")
(out / "ard" / "{name}.csv").write_text("cut,stat_name,stat_value\\n" + cut + ",N," + str(len(rows)) + "\\n")
print("{name}: N =", len(rows), "hashseed", __import__("os").environ["PYTHONHASHSEED"],
      "in", Path.cwd().name)
"""


def write_chapter(root: Path, name: str, extra: str = "", run_last: bool = False) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('cut = "final"\noutput_dir = None')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"# {name}"),
        params,
        nbformat.v4.new_code_cell(CHAPTER_CODE.format(name=name) + extra),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if run_last:
        nb.metadata["csr"] = {"run_last": True}
    nbformat.write(nb, root / "chapters" / f"{name}.ipynb")


def make_project(root: Path, cuts=("c1",)) -> Path:
    """A minimal project: params, one data folder per cut, two chapters, book config, lock file."""
    (root / "params").mkdir(parents=True)
    (root / "chapters").mkdir()
    shutil.copyfile(project_root() / "params" / "study.yml", root / "params" / "study.yml")  # a valid study.yml
    previous = None
    for i, cut in enumerate(cuts):
        (root / "params" / f"{cut}.yml").write_text(
            f"id: {cut}\ncut_date: 2025-0{i + 1}-01\ndata_dir: synthetic_data/{cut}\nkind: interim\n"
            + (f"previous: {previous}\n" if previous else "")
        )
        data = root / "synthetic_data" / cut
        data.mkdir(parents=True)
        (data / "dm.csv").write_text("USUBJID\n" + "".join(f"S{j}\n" for j in range(3 + i)))
        previous = cut
    (root / "chapters" / "index.md").write_text("# Test CSR\n")
    write_chapter(root, "01-alpha")
    write_chapter(root, "02-beta")
    (root / "_quarto.yml").write_text("book: {title: Test}\n")
    (root / "requirements.lock").write_text("pandas==2.2.3\n")
    return root


class FakeValidationFailed(Exception):
    def __init__(self, problems):
        self.problems = problems
        super().__init__(str(problems))


def fake_modules(calls: list[str]) -> dict[str, types.SimpleNamespace]:
    """Stand-ins for validate/derive/render that record their calls."""

    def validate_cut(cut):
        calls.append(f"validate:{cut.id}")
        text = (cut.data_dir / "dm.csv").read_text()
        return [
            f"dm.csv, column USUBJID, row {i}: value BAD is not allowed [controlled terms]"
            for i, line in enumerate(text.splitlines()[1:], 1)
            if line == "BAD"
        ]

    def format_problems(problems):
        return f"{len(problems)} problem(s) found in the input data:\n" + "\n".join(f"  - {p}" for p in problems)

    def derive_cut(cut, out_dir=None):
        calls.append(f"derive:{cut.id}")
        (out_dir / "adsl.csv").write_text((cut.data_dir / "dm.csv").read_text())
        return {}

    def render_cut(cut, build_dir, engine="jupyter-book"):
        calls.append(f"render:{cut.id}:{engine}")
        html = build_dir / "html"
        html.mkdir()
        body = "".join(p.read_text() for p in sorted((build_dir / "ard").glob("*.csv")))
        (html / "index.html").write_text(f"<pre>{body}</pre>\n")
        pdf = build_dir / f"csr-{cut.id}.pdf"
        pdf.write_bytes(b"%PDF-fake " + body.encode())
        return {"html": html / "index.html", "pdf": pdf}

    def write_manifest(cut, build_dir, engine, timings):
        from analysis_lib.pipeline import provenance

        outputs = provenance.deliverables(build_dir)
        (build_dir / "manifest.json").write_text(
            json.dumps({"cut": cut.id, "engine": engine, "outputs": outputs}) + "\n"
        )
        return build_dir / "manifest.json"

    return {
        "validate": types.SimpleNamespace(
            validate_cut=validate_cut, format_problems=format_problems, ValidationFailed=FakeValidationFailed
        ),
        "derive": types.SimpleNamespace(derive_cut=derive_cut),
        "render": types.SimpleNamespace(render_cut=render_cut, write_manifest=write_manifest),
    }


def install_fakes(monkeypatch, fakes: dict[str, types.SimpleNamespace]) -> None:
    """Put the fake validate/derive/render steps in place of the real ones (the runner's step
    functions and the render module's entry points)."""
    from analysis_lib.pipeline import render

    validate, derive = fakes["validate"], fakes["derive"]

    def run_validate(cut, reporter=None):
        problems = validate.validate_cut(cut)
        if problems:
            raise pipeline.PipelineError(f"Data cut '{cut.id}' ({cut.data_dir}): " + validate.format_problems(problems))
        return {}

    def run_derive(cut, build, domains):
        pipeline._clear(build / "adam")
        (build / "adam").mkdir(parents=True)
        derive.derive_cut(cut, out_dir=build / "adam")

    monkeypatch.setattr(pipeline, "validate_inputs", run_validate)
    monkeypatch.setattr(pipeline, "_run_derive", run_derive)
    monkeypatch.setattr(render, "render_cut", fakes["render"].render_cut)
    monkeypatch.setattr(render, "write_manifest", fakes["render"].write_manifest)


def tree_hashes(path: Path) -> dict[str, str]:
    return {
        p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "_output").iterdir() if p.name.startswith((".staging", ".old")))


# from test_validate.py
def write_cut(domains: dict[str, pd.DataFrame], folder: Path) -> Path:
    """Write analysis-view frames as their standard SDTM delivery (``sdtm_standard.from_view``), one
    CSV per dataset (``ae.csv``, ``suppae.csv``, ``relrec.csv``, ...). A view domain left out of
    ``domains`` leaves out the delivered datasets made only from it (e.g. no ``ck`` -> no ``pc.csv``)."""
    from analysis_lib.trial import sdtm, sdtm_standard

    folder.mkdir(parents=True, exist_ok=True)
    view = {n: domains[n] if n in domains else _empty_view(sdtm, n) for n in sdtm.DOMAINS}
    delivery = sdtm_standard.from_view(view)
    made_from = {"ck": ("pc",), "bl": ("mh", "fa"), "dm": ("dm", "suppdm", "vs")}
    made_from["ds"], made_from["cm"] = ("ds", "dd"), ("cm", "relrec")
    made_from["ae"], made_from["pr"] = ("ae", "suppae"), ("pr", "supppr")
    for name in sdtm.DOMAINS:
        if name in domains:
            for out in made_from.get(name, (name,)):
                delivery[out].to_csv(folder / f"{out}.csv", index=False)
    return folder


def _empty_view(sdtm, name: str) -> pd.DataFrame:
    return pd.DataFrame({c.name: pd.Series(dtype=object) for c in sdtm.DOMAINS[name].columns})


def make_cut(folder: Path, cut_date: dt.date = CUT) -> Cut:
    root = project_root()
    return Cut(
        id="test",
        cut_date=cut_date,
        data_dir=folder,
        kind="interim",
        label="test",
        previous=None,
        params_file=root / "params" / "study.yml",
        root=root,
    )


# from test_stats.py
TOL = 1e-6


def close(a, b, tol=TOL) -> bool:
    """Equal within tol, with nan == nan (R's NA)."""
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= tol


def assert_close(actual, expected, what: str, tol=TOL):
    a = np.asarray(actual, float)
    e = np.asarray(expected, float)
    assert a.shape == e.shape, what
    bad = [i for i in range(a.size) if not close(a.flat[i], e.flat[i], tol)]
    assert not bad, f"{what}: rows {bad[:5]} got {a.flat[bad[:5]]} expected {e.flat[bad[:5]]}"


# from test_render.py
def chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium not installed")
    return subprocess.run(
        [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp}",
            "--enable-logging=stderr",
            "--v=0",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
