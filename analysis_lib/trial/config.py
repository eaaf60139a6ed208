"""Study and data-cut parameters (``params/study.yml``, ``params/<cut>.yml``) and output locations."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from analysis_lib.toolkit import files
from analysis_lib.trial import params_schema


class ConfigError(Exception):
    """A parameter file is missing or malformed (message names the file and key)."""


def project_root() -> Path:
    """The project folder: ``$CSR_ROOT`` if set, else the checkout this package lives in."""
    env = os.environ.get("CSR_ROOT")
    return Path(env).resolve() if env else Path(__file__).resolve().parents[2]


def _read_yaml(path: Path) -> dict[str, Any]:
    return files.read_yaml_mapping(path, ConfigError)


def _fail(path: Path, problems: list[str]) -> ConfigError:
    """One error listing every problem of a parameter file (one line each, path first)."""
    n = len(problems)
    head = f"{path}: {n} problem{'s' if n != 1 else ''} in the parameters:"
    return ConfigError("\n".join([head] + [f"  - {p}" for p in problems]))


@lru_cache(maxsize=8)
def _study_cached(path: str) -> dict[str, Any]:
    data = _read_yaml(Path(path))
    problems = params_schema.study_problems(data, Path(path).name)
    if problems:
        raise _fail(Path(path), problems)
    return data


def load_study(root: Path | None = None) -> dict[str, Any]:
    """The study-level parameters as a nested dict, validated against
    :class:`~analysis_lib.trial.params_schema.StudyParams` (a :class:`ConfigError` lists every
    unknown, missing or mistyped key). The mapping is the file's own, unchanged."""
    return _study_cached(str((root or project_root()) / "params" / "study.yml"))


@dataclass(frozen=True)
class Cut:
    """One data cut, as declared in ``params/<id>.yml``."""

    id: str
    cut_date: dt.date
    #: The input folder: the SDTM delivery (``data_dir:``) or, when :attr:`sponsor_adam`, the sponsor's
    #: ADaM folder (``adam_dir:``); its files are the run's input data (hashes, provenance).
    data_dir: Path
    kind: str  # "interim" | "final"
    label: str
    previous: str | None
    params_file: Path
    root: Path
    #: True when ``params/<cut>.yml`` names ``adam_dir:``: derive is skipped (docs/adam.md, the contract)
    sponsor_adam: bool = False
    #: ``tlfs_off:`` of the cut file as (TLF id, reason) pairs, in file order
    tlfs_off: tuple[tuple[str, str], ...] = ()

    def off_reason(self, tlf_id: str) -> str | None:
        """Why TLF ``tlf_id`` is not produced for this cut (from ``tlfs_off:``), or None when it is."""
        return dict(self.tlfs_off).get(tlf_id)

    @property
    def input_key(self) -> str:
        """The cut file's key naming the input folder (for messages)."""
        return "adam_dir" if self.sponsor_adam else "data_dir"

    @property
    def output_dir(self) -> Path:
        return self.root / "_output" / self.id

    @property
    def report_type(self) -> str:
        """What the report of this cut is called on title pages and running headers."""
        return f"{'Final' if self.kind == 'final' else 'Interim'} clinical study report"

    @property
    def adam_dir(self) -> Path:
        return self.output_dir / "adam"

    @property
    def ard_dir(self) -> Path:
        return self.output_dir / "ard"


def _cut_params(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The raw mapping of a cut file and its schema problems."""
    data = _read_yaml(path)
    return data, params_schema.schema_problems(params_schema.CutParams, data, path.name)


def _previous_problems(path: Path, cut: params_schema.CutParams) -> list[str]:
    """The previous cut must be declared (``params/<previous>.yml``) and cut earlier."""
    if cut.previous is None:
        return []
    prev_path = path.with_name(f"{cut.previous}.yml")
    if cut.previous == "study" or not prev_path.is_file():
        return [f"{path.name}: previous: no data cut '{cut.previous}' ({prev_path} not found)"]
    data, problems = _cut_params(prev_path)
    if problems:
        return [f"{path.name}: previous: cut '{cut.previous}' is not valid ({prev_path.name} has problems)"]
    prev = params_schema.CutParams.model_validate(data)
    if prev.cut_date >= cut.cut_date:
        return [
            f"{path.name}: previous: cut '{cut.previous}' ({prev.cut_date}) is not earlier than this cut "
            f"({cut.cut_date})"
        ]
    return []


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
    """Read and validate ``params/<cut_id>.yml`` (:class:`~analysis_lib.trial.params_schema.CutParams`,
    id = file name, the previous cut declared and earlier); raise :class:`ConfigError` listing every problem."""
    root = root or project_root()
    check_cut_name(cut_id)
    path = root / "params" / f"{cut_id}.yml"
    if not path.is_file():
        known = sorted(p.stem for p in (root / "params").glob("*.yml") if p.stem != "study")
        raise ConfigError(f"{path}: no such data cut '{cut_id}' (known cuts: {', '.join(known)})")
    data, problems = _cut_params(path)
    if problems:
        raise _fail(path, problems)
    params = params_schema.CutParams.model_validate(data)
    problems = [] if params.id == cut_id else [f"{path.name}: id: '{params.id}' does not match the file name"]
    problems += _previous_problems(path, params)
    problems += _tlfs_off_problems(path, root, params.tlfs_off)
    if problems:
        raise _fail(path, problems)
    folder = params.adam_dir if params.adam_dir is not None else params.data_dir
    assert folder is not None  # CutParams: exactly one of them
    data_dir = Path(folder)
    if not data_dir.is_absolute():
        data_dir = root / data_dir
    return Cut(
        id=cut_id,
        cut_date=params.cut_date,
        data_dir=data_dir,
        kind=params.kind,
        label=params.label or cut_id,
        previous=check_cut_name(params.previous) if params.previous else None,
        params_file=path,
        root=root,
        sponsor_adam=params.adam_dir is not None,
        tlfs_off=tuple(params.tlfs_off.items()),
    )


def catalogue_ids(root: Path) -> list[str]:
    """The TLF ids of ``chapters/tlf_catalogue.yml`` in catalogue order (empty when there is no catalogue)."""
    path = root / "chapters" / "tlf_catalogue.yml"
    if not path.is_file():
        return []
    items = _read_yaml(path).get("tlfs") or []
    return [str(item["id"]) for item in items if isinstance(item, dict) and "id" in item]


def _tlfs_off_problems(path: Path, root: Path, off: dict[str, str]) -> list[str]:
    """Every id under ``tlfs_off:`` must be a TLF of the catalogue."""
    if not off:
        return []
    known = catalogue_ids(root)
    return [
        f"{path.name}: tlfs_off: {tlf_id}: not a TLF of chapters/tlf_catalogue.yml (ids look like "
        f"{', '.join(known[:3])}, ...)"
        for tlf_id in off
        if tlf_id not in known
    ]


def list_cuts(root: Path | None = None) -> list[str]:
    """Ids of all declared data cuts, in cut-date order."""
    root = root or project_root()
    ids = [p.stem for p in (root / "params").glob("*.yml") if p.stem != "study"]
    return sorted(ids, key=lambda i: load_cut(i, root).cut_date)


def default_cut(root: Path | None = None) -> str:
    """The cut the README's main command reports: ``default_cut`` in study.yml, else the latest."""
    study = load_study(root)
    return study.get("default_cut") or list_cuts(root)[-1]
