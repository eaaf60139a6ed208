"""Analysis library for the CD19 CAR-T -> allo-HSCT -> CD22 CAR-T phase I CSR.

Layers (docs/design.md): ``toolkit`` (study-agnostic statistics, ARDs, display, TLFs, figures) ->
``trial`` (this protocol: parameters, SDTM contract, validation, data cut, ADaM, analyses) ->
``pipeline`` (the ``csr`` command, runner, rendering, provenance); ``synthetic`` (the seeded data
generator). The stable public API (docs/design.md §6) is ``from analysis_lib import stats, ard``.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

__version__ = "0.1.0"
__all__ = ["ard", "stats"]

_PUBLIC = {"stats": "analysis_lib.toolkit.stats", "ard": "analysis_lib.toolkit.ard"}


def __getattr__(name: str) -> Any:
    """``analysis_lib.stats`` / ``analysis_lib.ard``: the public API, imported on first use (so
    ``csr --help`` stays light) and registered under its public name too."""
    if name in _PUBLIC:
        module = importlib.import_module(_PUBLIC[name])
        sys.modules[f"analysis_lib.{name}"] = module
        return module
    raise AttributeError(f"module 'analysis_lib' has no attribute {name!r}")
