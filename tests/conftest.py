"""Shared pytest fixtures."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import helpers
import pytest

from analysis_lib.pipeline import runner as pipeline


def _reference_data_dir() -> Path | None:
    """Public reference ADaM: $CSR_REFERENCE_DATA, else the copy in tests/reference-data (see its
    README for sources and licences), else ../shared/reference-data beside the checkout."""
    env = os.environ.get("CSR_REFERENCE_DATA")
    here = Path(__file__).resolve().parent
    candidates = ([Path(env)] if env else []) + [here / "reference-data", here.parents[1] / "shared" / "reference-data"]
    return next((p for p in candidates if p.is_dir()), None)


@pytest.fixture(scope="session")
def reference_data() -> Path:
    """Folder holding cdiscpilot01/ and pharmaverseadam/; skips when it is not available."""
    path = _reference_data_dir()
    if path is None:
        pytest.skip(
            "public reference ADaM not found: set CSR_REFERENCE_DATA or place it in "
            "../shared/reference-data next to the checkout"
        )
    return path


@pytest.fixture
def cut_lock_holder():
    """Context manager factory: another process holds the csr lock of ``cut_id`` in project ``root``
    while the block runs (yields the Popen, so tests can name its pid)."""

    @contextlib.contextmanager
    def hold(root: Path, cut_id: str):
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                textwrap.dedent(f"""
                import sys
                from analysis_lib.trial.config import load_cut
                from analysis_lib.pipeline.runner import cut_lock
                with cut_lock(load_cut({cut_id!r})):
                    print("locked", flush=True)
                    sys.stdin.read()
            """),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "CSR_ROOT": str(root)},
        )
        try:
            assert holder.stdout.readline().strip() == "locked"
            yield holder
        finally:
            holder.communicate("")
        assert holder.returncode == 0

    return hold


@pytest.fixture
def project(tmp_path, monkeypatch):
    """(root, calls): a tiny project as CSR_ROOT with the fake step modules in place."""
    root = helpers.make_project(tmp_path / "proj", cuts=("c1", "c2"))
    monkeypatch.setenv("CSR_ROOT", str(root))
    lib = tmp_path / "lib"  # a frozen copy: the real sources may be edited while the tests run
    lib.mkdir()
    for src in pipeline.LIB_DIR.rglob("*.py"):
        dest = lib / src.relative_to(pipeline.LIB_DIR)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(src.read_bytes())
    monkeypatch.setattr(pipeline, "LIB_DIR", lib)
    calls: list[str] = []
    helpers.install_fakes(monkeypatch, helpers.fake_modules(calls))
    return root, calls
