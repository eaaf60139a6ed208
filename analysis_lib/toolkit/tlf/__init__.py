"""TLF objects (tables, figures, listings) that know their CSR metadata and render themselves.

Split along its seams: :mod:`.catalogue` (numbers, titles, footnotes; placeholders filled from the
study's parameters), :mod:`.model` (the objects), :mod:`.html`, :mod:`.latex`, :mod:`.markdown`,
:mod:`.rtf` (the renderings) and :mod:`.emitter` (writes a chapter's TLFs with their ARDs).
"""

from analysis_lib.toolkit.tlf.catalogue import Catalogue, CatalogueEntry, TLFError, load_catalogue
from analysis_lib.toolkit.tlf.emitter import Emitter, tlf_rendering_enabled
from analysis_lib.toolkit.tlf.latex import raw_block as raw_latex_block
from analysis_lib.toolkit.tlf.model import INDENT, TLF, Figure, Listing, Source, Table, slugify
from analysis_lib.toolkit.tlf.rtf import Furniture as RTFFurniture

__all__ = [
    "INDENT",
    "TLF",
    "Catalogue",
    "CatalogueEntry",
    "Emitter",
    "Figure",
    "Listing",
    "RTFFurniture",
    "Source",
    "TLFError",
    "Table",
    "load_catalogue",
    "raw_latex_block",
    "slugify",
    "tlf_rendering_enabled",
]
