"""What every chapter notebook needs, in one place: the cut, its ADaM datasets, the TLF emitter
(which writes each TLF with its ARD, ``ard/<tlf id>.csv``) and rendered interpretive text.

A chapter starts with ``ch = chapter.start(cut, output_dir)`` right after its papermill
``parameters`` cell. ``output_dir`` is the build directory the pipeline passes in; when it is
``None`` (a notebook run by hand or by the nbval regression tests) ``$CSR_OUTPUT_DIR`` is used,
else ``_output/<cut>/``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis_lib.toolkit import escape
from analysis_lib.toolkit.tlf import Emitter, RTFFurniture, Source
from analysis_lib.trial import catalogue, config


class ChapterError(RuntimeError):
    """A chapter cannot run for this cut (e.g. the ADaM datasets were not derived)."""


def resolve_output_dir(cut: config.Cut, output_dir: str | os.PathLike | None) -> Path:
    """The build directory: the argument, else ``$CSR_OUTPUT_DIR``, else ``_output/<cut>/``."""
    if output_dir:
        return Path(output_dir)
    env = os.environ.get("CSR_OUTPUT_DIR")
    return Path(env) if env else cut.output_dir


@dataclass
class Chapter:
    """One chapter's run for one data cut."""

    name: str
    cut: config.Cut
    output_dir: Path
    study: dict[str, Any]
    emit: Emitter
    _adam: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: the TLF whose ``produces`` block runs (None: the chapter's set-up); the ADaM contract scan
    #: attributes each variable read to it
    current_tlf: str | None = None

    # ------------------------------------------------------------------ data
    def adam(self, name: str) -> pd.DataFrame:
        """ADaM dataset ``name`` (adsl, adae, adrs, adtte, adck, adpp) of this cut (a copy)."""
        if name not in self._adam:
            path = self.output_dir / "adam" / f"{name}.parquet"
            if not path.is_file():
                raise ChapterError(f"{path}: not found — derive the cut first (csr derive --cut {self.cut.id})")
            self._adam[name] = pd.read_parquet(path)
        return self._adam[name].copy()

    def population(self, flag: str) -> pd.DataFrame:
        """ADSL subjects with ``flag == "Y"``."""
        adsl = self.adam("adsl")
        return adsl[adsl[flag] == "Y"].reset_index(drop=True)

    def pop_n(self, flag: str) -> int:
        return len(self.population(flag))

    @property
    def dose_labels(self) -> list[str]:
        """TRT01A labels in dose-level order (from params/study.yml)."""
        return [d["label"] for d in self.study["dose_levels"]]

    def dose_levels_present(self, df: pd.DataFrame, by: str = "TRT01A") -> list[str]:
        """Dose-level labels in protocol order, limited to those in ``df`` plus any others sorted."""
        present = set(df[by].dropna())
        return [d for d in self.dose_labels if d in present] + sorted(present - set(self.dose_labels))

    def source(self, *datasets: str) -> Source:
        """Source line of a TLF: the datasets it reads and this chapter's program."""
        return Source(datasets=tuple(d.upper() for d in datasets), program=f"chapters/{self.name}.ipynb")

    # ------------------------------------------------------------------ links to the subject profiles
    def drilldown(
        self, ard: pd.DataFrame, row_keys: Sequence[tuple[Any, ...] | None]
    ) -> dict[tuple[int, int], list[tuple[str, str | None]]]:
        """The subjects behind each count of a table (``Table.drilldown``), read from the ARD that
        made the counts (:func:`formats.drilldown_cells`; ``row_keys``: the ARD row of each
        display row), each linked to its profile page."""
        from analysis_lib.toolkit import formats
        from analysis_lib.trial import profiles

        return profiles.drilldown(formats.drilldown_cells(ard, row_keys), self.adam("adsl"))

    def subject_links(self, body: pd.DataFrame, column: str = "Subject") -> dict[tuple[int, int], str]:
        """``Listing.links`` of a listing's subject column to the subjects' profile pages."""
        from analysis_lib.trial import profiles

        return profiles.listing_links(body, self.adam("adsl"), column)

    # ------------------------------------------------------------------ outputs
    def produces(self, tlf_id: str) -> bool:
        """True when TLF ``tlf_id`` is produced for this cut; else show, where it would be, that it
        is not produced and why (:meth:`off_reason`), record it for the TLF lists, and return False.

        A chapter computes each TLF under ``if ch.produces("<id>"):`` so a TLF switched off in the
        cut's parameters (``tlfs_off:``, e.g. its ADaM variables are absent from a sponsor's ADaM)
        reads none of its inputs, writes no ARD, and the chapter's other TLFs still appear."""
        if tlf_id not in self.emit.catalogue:
            raise ChapterError(f"{tlf_id}: not a TLF of chapters/tlf_catalogue.yml")
        self.current_tlf = tlf_id
        reason = self.off_reason(tlf_id)
        if reason is None:
            return True
        self.text(self.emit.not_produced(tlf_id, reason))
        return False

    def off_reason(self, tlf_id: str) -> str | None:
        """Why TLF ``tlf_id`` is not produced for this cut, or None: switched off in ``tlfs_off:``
        (the reason given there), or it needs a dataset only the pipeline's own data cut writes
        (the data-cut log) while the cut's input is a sponsor's ADaM."""
        reason = self.cut.off_reason(tlf_id)
        if reason is not None:
            return f"{reason} (tlfs_off in params/{self.cut.params_file.name})"
        if self.cut.sponsor_adam:
            from analysis_lib.trial import adam_contract

            if adam_contract.needs_pipeline_only(tlf_id):
                return adam_contract.SPONSOR_ADAM_NO_CUT
        return None

    def text(self, text: str) -> None:
        """Show interpretive text. A plain ``str`` (an f-string with AE terms, ids, labels) is text,
        shown literally; only :class:`~analysis_lib.toolkit.escape.Markup` (tables, method lists
        the library wrote with escaped data) is Markdown. See :func:`show_markdown`."""
        show_markdown(text)


def show_markdown(text: str) -> None:
    """Display ``text`` as a bundle both book builders understand (html and markdown), through the
    one escaping rule (:func:`analysis_lib.toolkit.escape.to_markdown`): data is never markup, and
    the HTML is rendered with raw HTML off as a second guard."""
    from IPython.display import display
    from markdown_it import MarkdownIt

    markdown = escape.to_markdown(text)
    html = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    display({"text/markdown": markdown, "text/html": html, "text/plain": str(text)}, raw=True)


def start(name: str, cut: str, output_dir: str | os.PathLike | None = None) -> Chapter:
    """Open chapter ``name`` (its notebook stem) for data cut ``cut``."""
    import matplotlib

    matplotlib.use("Agg")
    cut_obj = config.load_cut(cut)
    out = resolve_output_dir(cut_obj, output_dir)
    if not (out / "adam").is_dir():
        raise ChapterError(f"{out / 'adam'}: no ADaM datasets — run `csr derive --cut {cut}` first")
    study = config.load_study()
    furniture = RTFFurniture(study_id=str(study.get("study", {}).get("id", "")), report_type=cut_obj.report_type)
    emit = Emitter(cut_obj, out, catalogue=catalogue.load(study), furniture=furniture)
    return Chapter(name=name, cut=cut_obj, output_dir=out, study=study, emit=emit)
