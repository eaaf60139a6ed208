"""Shared pytest fixtures."""
from __future__ import annotations

import os
from pathlib import Path

import pytest


def _reference_data_dir() -> Path | None:
    """Public reference ADaM: $CSR_REFERENCE_DATA, else the copy in tests/reference-data (see its
    README for sources and licences), else ../shared/reference-data beside the checkout."""
    env = os.environ.get("CSR_REFERENCE_DATA")
    here = Path(__file__).resolve().parent
    candidates = ([Path(env)] if env else []) + [
        here / "reference-data", here.parents[1] / "shared" / "reference-data"]
    return next((p for p in candidates if p.is_dir()), None)


@pytest.fixture(scope="session")
def reference_data() -> Path:
    """Folder holding cdiscpilot01/ and pharmaverseadam/; skips when it is not available."""
    path = _reference_data_dir()
    if path is None:
        pytest.skip("public reference ADaM not found: set CSR_REFERENCE_DATA or place it in "
                    "../shared/reference-data next to the checkout")
    return path
