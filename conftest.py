"""Root pytest configuration: the nbval regression tests of chapters/*.ipynb need the reference
cut's ADaM datasets; derive them once into a temporary folder the notebooks read via
$CSR_OUTPUT_DIR (so tests never touch _output/)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def pytest_configure(config):
    """Anchor nbval's sanitize file at the project root (a test may change the working folder)."""
    path = getattr(config.option, "nbval_sanitize_with", None)
    if path and not os.path.isabs(path):
        config.option.nbval_sanitize_with = str(Path(config.rootpath, path))


def pytest_collection_finish(session):
    if os.environ.get("CSR_OUTPUT_DIR") or not any(item.path.suffix == ".ipynb" for item in session.items):
        return
    from analysis_lib.pipeline.reference_outputs import derive_reference
    from analysis_lib.pipeline.runner import KERNEL_ENV

    for key, value in KERNEL_ENV.items():  # the same kernel environment as `csr execute`
        os.environ.setdefault(key, value)

    out = Path(tempfile.mkdtemp(prefix="csr-nbval-"))
    derive_reference(out)
    os.environ["CSR_OUTPUT_DIR"] = str(out)
