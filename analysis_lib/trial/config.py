"""Study and data-cut parameters (``params/study.yml``, ``params/<cut>.yml``) and output locations."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml


class ConfigError(Exception):
    """A parameter file is missing or malformed (message names the file and key)."""


def project_root() -> Path:
    """The project folder: ``$CSR_ROOT`` if set, else the checkout this package lives in."""
    env = os.environ.get("CSR_ROOT")
    return Path(env).resolve() if env else Path(__file__).resolve().parents[2]


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except ValueError as exc:  # YAML's own date parsing: 2026-02-30 is well-formed but impossible
        raise ConfigError(
            f"{path}: a value is not valid ({exc}); dates must be real calendar dates (YYYY-MM-DD)"
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at top level")
    return data


@lru_cache(maxsize=8)
def _study_cached(path: str) -> dict[str, Any]:
    return _read_yaml(Path(path))


def load_study(root: Path | None = None) -> dict[str, Any]:
    """The study-level parameters as a nested dict."""
    return _study_cached(str((root or project_root()) / "params" / "study.yml"))


@dataclass(frozen=True)
class Cut:
    """One data cut, as declared in ``params/<id>.yml``."""

    id: str
    cut_date: dt.date
    data_dir: Path
    kind: str  # "interim" | "final"
    label: str
    previous: str | None
    params_file: Path
    root: Path

    @property
    def output_dir(self) -> Path:
        return self.root / "_output" / self.id

    @property
    def adam_dir(self) -> Path:
        return self.output_dir / "adam"

    @property
    def ard_dir(self) -> Path:
        return self.output_dir / "ard"


_CUT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def check_cut_name(cut_id: object) -> str:
    """A cut name names ``params/<cut>.yml`` and ``_output/<cut>/``: letters, digits, ``-`` and ``_``
    only (no ``..``, ``/`` or spaces), so it can never point outside those folders."""
    if not isinstance(cut_id, str) or not _CUT_NAME.fullmatch(cut_id):
        raise ConfigError(
            f"'{cut_id}' is not a valid data cut name: use letters, digits, '-' and '_' "
            "(it names params/<cut>.yml and _output/<cut>/)"
        )
    return cut_id


def load_cut(cut_id: str, root: Path | None = None) -> Cut:
    """Read ``params/<cut_id>.yml``; raise :class:`ConfigError` naming the file and key on problems."""
    root = root or project_root()
    check_cut_name(cut_id)
    path = root / "params" / f"{cut_id}.yml"
    if not path.is_file():
        known = sorted(p.stem for p in (root / "params").glob("*.yml") if p.stem != "study")
        raise ConfigError(f"{path}: no such data cut '{cut_id}' (known cuts: {', '.join(known)})")
    data = _read_yaml(path)
    for key in ("id", "cut_date", "data_dir", "kind"):
        if key not in data:
            raise ConfigError(f"{path}: missing key '{key}'")
    if data["id"] != cut_id:
        raise ConfigError(f"{path}: id '{data['id']}' does not match the file name '{cut_id}'")
    cut_date = data["cut_date"]
    if isinstance(cut_date, str):
        try:
            cut_date = dt.date.fromisoformat(cut_date)
        except ValueError:
            raise ConfigError(f"{path}: cut_date '{cut_date}' is not an ISO 8601 date") from None
    if not isinstance(cut_date, dt.date):
        raise ConfigError(f"{path}: cut_date must be a date (YYYY-MM-DD)")
    if data["kind"] not in ("interim", "final"):
        raise ConfigError(f"{path}: kind must be 'interim' or 'final', not '{data['kind']}'")
    data_dir = Path(data["data_dir"])
    if not data_dir.is_absolute():
        data_dir = root / data_dir
    return Cut(
        id=cut_id,
        cut_date=cut_date,
        data_dir=data_dir,
        kind=data["kind"],
        label=data.get("label", cut_id),
        previous=check_cut_name(data["previous"]) if data.get("previous") else None,
        params_file=path,
        root=root,
    )


def list_cuts(root: Path | None = None) -> list[str]:
    """Ids of all declared data cuts, in cut-date order."""
    root = root or project_root()
    ids = [p.stem for p in (root / "params").glob("*.yml") if p.stem != "study"]
    return sorted(ids, key=lambda i: load_cut(i, root).cut_date)


def default_cut(root: Path | None = None) -> str:
    """The cut the README's main command reports: ``default_cut`` in study.yml, else the latest."""
    study = load_study(root)
    return study.get("default_cut") or list_cuts(root)[-1]
