"""Provenance of a data cut's report: what data, parameters, code and software made it.

:func:`collect` holds no wall-clock time, so the same inputs and code give the same dict (the
provenance chapter shows it); :func:`analysis_lib.pipeline.render.write_manifest` adds the run time.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from analysis_lib.trial import config

# Packages whose versions can change a number, a table or the rendering.
KEY_PACKAGES = (
    "car-t-csr",
    "numpy",
    "pandas",
    "scipy",
    "lifelines",
    "pyreadstat",
    "pyarrow",
    "pandera",
    "pyyaml",
    "matplotlib",
    "rtflite",
    "papermill",
    "nbformat",
    "nbclient",
    "ipykernel",
    "jupyter-book",
    "sphinx",
    "myst-nb",
    "sphinx-book-theme",
)


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _hashes(files: list[Path], root: Path) -> dict[str, str]:
    """``{path relative to root (or absolute if outside): sha256}`` in sorted order."""
    out = {}
    for f in sorted(files):
        try:
            key = f.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            key = f.resolve().as_posix()
        out[key] = sha256(f)
    return out


def git_state(root: Path) -> dict[str, Any]:
    """Commit of the checkout and whether tracked or untracked (non-ignored) files differ from it."""

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)

    head = git("rev-parse", "HEAD")
    if head.returncode != 0:
        return {"commit": None, "dirty": None, "note": "not a git checkout"}
    status = git("status", "--porcelain")
    changed = [line[3:] for line in status.stdout.splitlines()]
    return {"commit": head.stdout.strip(), "dirty": bool(changed), "changed_files": changed}


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str | None]:
    """Installed version of each package (``None`` when not installed)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _tool_version(cmd: list[str]) -> str | None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = (proc.stdout or proc.stderr).strip().splitlines()
    return first[0] if proc.returncode == 0 and first else None


#: Files in a cut's output folder that are not deliverables: the manifest itself, and hidden entries at
#: its top (the runner's ``.cache.json``, build scratch folders); the stale marker is reported on its own.
MANIFEST = "manifest.json"
STALE_MARKER = "STALE.txt"


def deliverables(folder: Path) -> dict[str, str]:
    """``{path relative to folder: sha256}`` of every deliverable under ``folder`` (sorted), i.e.
    every file but the manifest, the stale marker and hidden files or folders at the top."""
    folder = Path(folder)
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not rel.parts[0].startswith(".") and rel.as_posix() not in (MANIFEST, STALE_MARKER):
            out[rel.as_posix()] = sha256(path)
    return out


def compare(folder: Path, recorded: dict[str, str]) -> list[tuple[str, str]]:
    """How ``folder`` differs from the ``recorded`` deliverable hashes: ``(path, "missing" |
    "edited" | "not in the manifest")`` sorted by path; empty when every file matches."""
    found = deliverables(folder)
    diffs = [(p, "missing") for p in recorded if p not in found]
    diffs += [(p, "edited") for p, h in recorded.items() if p in found and found[p] != h]
    diffs += [(p, "not in the manifest") for p in found if p not in recorded]
    return sorted(diffs)


class VerifyError(Exception):
    """The folder has no readable manifest to check against."""


def verify(folder: Path) -> list[str]:
    """Check a delivered package (a cut's output folder) against its ``manifest.json``: one line per
    difference naming the file (missing, edited, not in the manifest) and the stale marker if a
    partial step ran after the report; empty when the package is exactly what the manifest lists."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VerifyError(f"{folder / MANIFEST}: not found; run `csr report` for this cut first") from None
    except (OSError, ValueError) as exc:
        raise VerifyError(f"{folder / MANIFEST}: not readable JSON ({exc})") from None
    recorded = manifest.get("outputs") if isinstance(manifest, dict) else None
    if not isinstance(recorded, dict):
        raise VerifyError(
            f"{folder / MANIFEST}: lists no deliverables (key 'outputs'); it was written by an older "
            "version of the pipeline: re-run `csr report --force`"
        )
    lines = [
        f"{path}: {what}" + (" (sha256 differs from manifest.json)" if what == "edited" else "")
        for path, what in compare(folder, recorded)
    ]
    if (folder / STALE_MARKER).is_file():
        lines.insert(0, f"{STALE_MARKER}: " + (folder / STALE_MARKER).read_text(encoding="utf-8").strip())
    return lines


def _input_note(cut: config.Cut) -> dict[str, Any]:
    """What the run was made from: an SDTM delivery (validated, cut and derived here) or a sponsor's
    ADaM (taken as already cut at the cut date; validation of SDTM, the data cut and derive skipped)
    — and the TLFs switched off for the cut, with their reasons."""
    note: dict[str, Any] = {"kind": "sponsor ADaM" if cut.sponsor_adam else "SDTM", "key": cut.input_key}
    if cut.sponsor_adam:
        note["data_cut"] = (
            f"not applied by the pipeline: the sponsor's ADaM is taken as already cut at {cut.cut_date.isoformat()}; "
            "SDTM validation, the data cut and derive were skipped, the datasets checked against the ADaM contract"
        )
    else:
        note["data_cut"] = f"applied by the pipeline at {cut.cut_date.isoformat()} (analysis_lib.trial.datacut)"
    note["tlfs_off"] = dict(cut.tlfs_off)
    return note


def collect(cut: str | config.Cut, engine: str = "jupyter-book") -> dict[str, Any]:
    """Provenance of ``cut``: input data and parameter file hashes, git state, software, engine."""
    cut = config.load_cut(cut) if isinstance(cut, str) else cut
    root = cut.root
    if not cut.data_dir.is_dir():
        raise FileNotFoundError(f"{cut.params_file}: {cut.input_key} {cut.data_dir} does not exist")
    data_files = [p for p in cut.data_dir.rglob("*") if p.is_file() and not p.name.startswith(".")]
    params = [root / "params" / "study.yml", cut.params_file]
    definitions = [p for p in (root / "_quarto.yml", root / "chapters" / "tlf_catalogue.yml") if p.is_file()]
    engine_version = {
        "jupyter-book": lambda: package_versions(("jupyter-book",))["jupyter-book"],
        "quarto": lambda: _tool_version(["quarto", "--version"]),
    }.get(engine, lambda: None)()
    return {
        "study": config.load_study(root).get("study", {}).get("id"),
        "cut": {"id": cut.id, "cut_date": cut.cut_date.isoformat(), "kind": cut.kind, "label": cut.label},
        "input": _input_note(cut),
        "inputs": _hashes(data_files, root),
        "params": _hashes(params, root),
        "definitions": _hashes(definitions, root),
        "git": git_state(root),
        "python": {"version": platform.python_version(), "implementation": platform.python_implementation()},
        "packages": package_versions(),
        "engine": {
            "name": engine,
            "version": engine_version,
            "latex": _tool_version(["pdflatex", "--version"]) if engine == "jupyter-book" else None,
        },
    }
