"""The emitter: shows a chapter's TLFs and writes, per TLF, its ARD, RTF, figure files and
metadata for one data cut — the TLF is the unit of traceability (docs/design.md §2a)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from analysis_lib.toolkit import ard as ardlib
from analysis_lib.toolkit.files import atomic_write
from analysis_lib.toolkit.tlf.catalogue import Catalogue, TLFError
from analysis_lib.toolkit.tlf.model import TLF, Figure, Listing, SourceLike, Table, slugify
from analysis_lib.toolkit.tlf.rtf import Furniture


def tlf_rendering_enabled() -> bool:
    """False when ``$CSR_RENDER_TLFS`` is ``0``: chapters then compute and write every ARD and
    build every TLF body but write and show no TLF (the benchmark's analysis-only scale runs)."""
    return os.environ.get("CSR_RENDER_TLFS", "1") != "0"


def subjects_file(tlf_id: str) -> str:
    """Path (relative to the cut's output folder) of a TLF's subject-level ARD companion."""
    return f"ard/{tlf_id}-subjects.csv"


class Emitter:
    """Shows TLFs in a chapter notebook and writes their files for one data cut.

    Files (paths relative to ``output_dir`` = ``_output/<cut>/``): ``ard/<id>.csv`` (the numbers),
    ``rtf/<number-slug>.rtf``, ``figures/<id>.{svg,pdf,png}`` and ``tlf/<id>.json`` (metadata for
    the lists of tables and figures, naming every file of the TLF). Nothing written carries a
    timestamp or an absolute path. ``furniture`` (study id, report type) heads every RTF page.
    """

    def __init__(
        self,
        cut: Any = None,
        output_dir: str | os.PathLike[str] | None = None,
        *,
        catalogue: Catalogue,
        display: bool = True,
        render: bool | None = None,
        furniture: Furniture | None = None,
    ):
        if output_dir is None:
            if cut is None or not hasattr(cut, "output_dir"):
                raise TLFError("Emitter needs a Cut (with an output_dir) or an output_dir")
            output_dir = cut.output_dir
        self.cut = cut
        self.catalogue = catalogue
        self.output_dir = Path(output_dir)
        self.display = display
        self.render = tlf_rendering_enabled() if render is None else render
        self.furniture = furniture
        self.emitted: list[TLF] = []
        self.skipped: list[str] = []  # catalogue ids recorded as not produced (not_produced)

    # Shortcuts: build the TLF from the catalogue with this emitter's cut and emit it with its ARD.
    # They return nothing: emit() shows the TLF once (a returned object would be shown again as the
    # cell's value); it stays available as ``self.emitted[-1]``.
    def table(
        self,
        entry_id: str,
        body: pd.DataFrame,
        *,
        ard: pd.DataFrame,
        population_n: int | None,
        source: SourceLike,
        footnotes: tuple[str, ...] | list[str] = (),
        drilldown: Mapping[tuple[int, int], Sequence[tuple[str, str | None]]] | None = None,
    ) -> None:
        """Emit catalogue table ``entry_id`` whose numbers are ``ard``; ``drilldown``: the
        subjects behind its count cells (HTML only, :class:`Table`)."""
        tlf = Table.from_catalogue(
            self.catalogue[entry_id], body, population_n=population_n, cut=self.cut, source=source, footnotes=footnotes,
            drilldown=drilldown,
        )  # fmt: skip
        self.emit(tlf, ard)

    def listing(
        self,
        entry_id: str,
        body: pd.DataFrame,
        *,
        population_n: int | None,
        source: SourceLike,
        ard: pd.DataFrame | None = None,
        footnotes: tuple[str, ...] | list[str] = (),
        links: Mapping[tuple[int, int], str] | None = None,
    ) -> None:
        """Emit catalogue listing ``entry_id``; its ARD is ``ard`` or, by default, the listed
        records themselves in long form (:func:`ard.listing_ard`); ``links``: cells shown as
        links in the HTML (e.g. subject ids to their profile pages)."""
        tlf = Listing.from_catalogue(
            self.catalogue[entry_id], body, population_n=population_n, cut=self.cut, source=source, footnotes=footnotes,
            links=links,
        )  # fmt: skip
        self.emit(tlf, ardlib.listing_ard(tlf.body, tlf.columns) if ard is None else ard)

    def figure(
        self,
        entry_id: str,
        figure: Any,
        *,
        ard: pd.DataFrame,
        population_n: int | None,
        source: SourceLike,
        footnotes: tuple[str, ...] | list[str] = (),
    ) -> None:
        """Emit catalogue figure ``entry_id`` (a matplotlib figure) whose plotted numbers are ``ard``."""
        tlf = Figure.from_catalogue(
            self.catalogue[entry_id],
            figure,
            population_n=population_n,
            cut=self.cut,
            source=source,
            footnotes=footnotes,
        )
        self.emit(tlf, ard)

    def not_produced(self, entry_id: str, reason: str) -> str:
        """Record that catalogue TLF ``entry_id`` is not produced for this cut, and why.

        Why: a TLF whose inputs the delivery lacks is switched off in the cut's parameters
        (``tlfs_off:``); the book then says so where the TLF would be, instead of an empty table.
        No ARD, RTF or figure is written (any left from an earlier run of the chapter is removed);
        ``tlf/<id>.json`` says ``"produced": false`` with the reason, so the lists of TLFs and the
        provenance name it. Returns the sentence the chapter shows (plain text, never markup)."""
        entry = self.catalogue[entry_id]
        text = f"{entry.number} ({entry.title}) is not produced for this data cut: {reason}"
        for rel in (entry.ard_file, f"rtf/{slugify(entry.number)}.rtf"):
            (self.output_dir / rel).unlink(missing_ok=True)
        for old in (self.output_dir / "figures").glob(f"{entry.id}.*"):
            old.unlink()
        meta = {
            "id": entry.id,
            "kind": entry.kind,
            "number": entry.number,
            "title": entry.title,
            "chapter": entry.chapter,
            "produced": False,
            "reason": reason,
            "files": {},
        }
        self.skipped.append(entry_id)
        if self.render:
            data = json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
            atomic_write(self.output_dir / "tlf" / f"{entry.id}.json", data.encode("utf-8"))
        return text

    def emit(self, tlf: TLF, ard: pd.DataFrame | None = None) -> TLF:
        """Write the TLF's ARD (when given) and files, display it (IPython) and return it."""
        if not isinstance(tlf, TLF):
            raise TLFError(f"emit() takes a Table, Listing or Figure, not {type(tlf).__name__}")
        if any(t.number == tlf.number and t is not tlf for t in self.emitted):
            raise TLFError(f"{tlf.number} was already emitted in this notebook")
        if ard is not None:
            if not tlf.id:
                raise TLFError(f"{tlf.number}: an ARD is saved under the TLF's catalogue id, which it lacks")
            tlf.ard_file = f"ard/{tlf.id}.csv"  # named in the TLF's source line and metadata
            ardlib.write(ard, self.output_dir / tlf.ard_file, what=f"ARD of {tlf.number} ({tlf.id})")
            if ardlib.has_subjects(ard):  # the subject-level companion: who each count counts
                ardlib.write_subjects(
                    ard, self.output_dir / subjects_file(tlf.id), what=f"ARD of {tlf.number} ({tlf.id})"
                )
        self.emitted.append(tlf)
        if not self.render:  # analysis only: the ARD is written; no TLF file is written or shown
            if isinstance(tlf, Figure):
                import matplotlib.pyplot as plt

                plt.close(tlf.figure)
            return tlf
        files = {"rtf": f"rtf/{tlf.rtf_name}"}
        if tlf.ard_file:
            files["ard"] = tlf.ard_file
            if ard is not None and ardlib.has_subjects(ard):
                files["subjects"] = subjects_file(str(tlf.id))
        if isinstance(tlf, Figure):
            saved = tlf.save(self.output_dir / "figures")
            files.update({fmt: f"figures/{p.name}" for fmt, p in saved.items()})
            tlf.to_rtf(self.output_dir / files["rtf"], png=saved["png"], furniture=self.furniture)
        elif isinstance(tlf, Table):
            tlf.to_rtf(self.output_dir / files["rtf"], furniture=self.furniture)
        meta = tlf.metadata() | {"files": files}
        data = json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        atomic_write(self.output_dir / "tlf" / f"{tlf.slug}.json", data.encode("utf-8"))
        if self.display:
            from IPython.display import display

            display(tlf)
        return tlf
