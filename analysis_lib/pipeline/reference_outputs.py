"""Re-execute the committed chapter notebooks on the reference data cut, in place.

The chapters in ``chapters/`` are committed with the outputs of the reference cut (the chapters'
default ``cut`` parameter); ``pytest --nbval`` re-executes them and compares (docs/design.md §2). Run this
after an intended change of results (``make notebooks``) and review the diff like any other change.
"""

from __future__ import annotations

import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from analysis_lib.trial import config

REFERENCE_CUT = "final"


def derive_reference(out_dir: Path, cut_id: str = REFERENCE_CUT) -> Path:
    """Derive the reference cut's ADaM into ``out_dir/adam`` (what the chapters read)."""
    from analysis_lib.trial import derive

    derive.derive_cut(config.load_cut(cut_id), out_dir / "adam")
    return out_dir


def _execute_in_place(path: Path, output_dir: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    from analysis_lib.pipeline.runner import KERNEL_ENV, kernel_manager_class

    nb = nbformat.read(path, as_version=4)
    km_class = kernel_manager_class(
        {**KERNEL_ENV, "CSR_OUTPUT_DIR": str(output_dir), "CSR_ROOT": str(config.project_root())}, cwd=path.parent
    )
    NotebookClient(
        nb,
        kernel_name="python3",
        kernel_manager_class=km_class,
        timeout=600,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")


def refresh(names: list[str] | None = None) -> list[Path]:
    """Execute the named chapters (default: all of ``_quarto.yml``) in place on the reference cut."""
    from analysis_lib.pipeline.runner import chapter_notebooks

    root = config.project_root()
    paths = [p for p in chapter_notebooks(root) if not names or p.stem in names]
    with tempfile.TemporaryDirectory(prefix="csr-reference-") as tmp:
        out = derive_reference(Path(tmp))
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            list(pool.map(lambda p: _execute_in_place(p, out), paths))
    return paths


if __name__ == "__main__":
    for p in refresh(sys.argv[1:] or None):
        print(f"refreshed {p.relative_to(config.project_root())}")
