"""Reading configuration files and writing output files safely."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml


def atomic_write(path: Path, data: bytes) -> None:
    """Write via a temporary file beside ``path`` so a failed run never leaves a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def read_yaml_mapping(path: Path, error: type[Exception]) -> dict[str, Any]:
    """A YAML file whose top level is a mapping; a missing file, bad YAML or another top level raises ``error``
    with one sentence naming the file (configuration and catalogue readers share this)."""
    if not path.is_file():
        raise error(f"{path}: file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except ValueError as exc:  # PyYAML's own date constructor: an unquoted 2026-18-01 or 2026-02-30
        raise error(f"{path}: not valid YAML: {exc}; dates must be real calendar dates (YYYY-MM-DD)") from None
    if not isinstance(data, dict):
        raise error(f"{path}: expected a mapping at top level")
    return data
