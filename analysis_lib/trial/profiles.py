"""Subject profiles for the safety review committee (docs/design.md §7): one per treated subject,
from ADaM only — ADSL (infusions, HSCT, death, last contact), ADPR (lymphodepletion and
conditioning), ADAE (events by grade; CRS, ICANS, acute and chronic GVHD on their own lanes;
tocilizumab and corticosteroids given for an AE), ADRS (responses and MRD) and ADCK (CAR-T
kinetics in blood and CSF, qPCR, with the LLOQ).

:func:`profile_data` collects one subject's plotted records (:class:`ProfileData`, picklable, so
profiles are drawn in worker processes by :func:`render`); :func:`ae_table` is the subject's AE
table; :func:`pdf_subjects` names the subjects whose profiles the PDF appendix holds (died, DLT
or serious AESI: the narrated subjects); :func:`profile_html` / :func:`profile_latex` the book
renderings (every text from the data escaped by :mod:`analysis_lib.toolkit.escape`).
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from analysis_lib.toolkit import escape, frames
from analysis_lib.toolkit.tlf import html as tlf_html
from analysis_lib.trial import narratives

ID = "USUBJID"
TREATMENT = "Treatment"
TOCI = "Tocilizumab (for AE)"
STEROIDS = "Corticosteroids (for AE)"
RESPONSE = "Response (MRD)"
#: AESI categories drawn on their own lanes, with the lane label.
OWN_LANES = {"CRS": "CRS", "ICANS": "ICANS", "ACUTE GVHD": "Acute GVHD", "CHRONIC GVHD": "Chronic GVHD"}
#: Marker style per response (ADRS AVALC): (legend label, marker, colour).
RESPONSE_STYLE = {
    "CR": ("CR", "o", "#009E73"),
    "CRI": ("CRi", "o", "#56B4E9"),
    "NR": ("NR", "s", "#E69F00"),
    "PD": ("PD", "X", "#D55E00"),
    "RELAPSE": ("Relapse", "X", "#D55E00"),
    "NE": ("NE", "s", "#999999"),
}
MARKER_COLUMNS = ["lane", "day", "label", "marker", "colour", "filled"]
MAX_OTHER_LANES = 10  # further preferred terms share the lane "Other AEs"
#: Kinetics drawn: (ADCK PARAMCD, legend label) — qPCR in blood and CSF (one unit on one axis).
KINETICS = (
    ("CD19PBQP", "CD19 CAR-T, blood"),
    ("CD19CSQP", "CD19 CAR-T, CSF"),
    ("CD22PBQP", "CD22 CAR-T, blood"),
    ("CD22CSQP", "CD22 CAR-T, CSF"),
)


@dataclass(frozen=True)
class ProfileData:
    """What one subject's profile figure plots (inputs of ``figures.subject_profile``)."""

    usubjid: str
    subject: str
    title: str
    lanes: tuple[str, ...]
    bars: pd.DataFrame
    markers: pd.DataFrame
    kinetics: pd.DataFrame
    end_day: float
    end_label: str
    labs: pd.DataFrame | None = None
    lab_panels: tuple[Any, ...] = ()


#: Laboratory panels of the profile: (ADLB PARAMCD, legend label, parameter naming the threshold).
LAB_TESTS = (
    ("NEUT", "ANC (10^9/L)", "neutrophil"),
    ("PLAT", "Platelets (10^9/L)", "platelet"),
    ("CD19", "CD19+ B cells (cells/uL)", "b_cells"),
)
LAB_COLUMNS = ["panel", "day", "value", "low", "high"]


def lab_panels(laboratory: Mapping[str, Any]) -> tuple[Any, ...]:
    """The profile's laboratory panels with their thresholds from ``params/study.yml``
    ``laboratory``: ANC and platelets at the count-recovery threshold (``recovery``), B cells at
    the B-cell aplasia threshold (``b_cell_aplasia_below``, symmetric-log axis)."""
    from analysis_lib.toolkit.figures import LabPanel

    rec = laboratory["recovery"]
    aplasia = float(laboratory["b_cell_aplasia_below"])
    return (
        LabPanel("NEUT", LAB_TESTS[0][1], float(rec["neutrophil"]["threshold"]),
                 f"Recovery threshold {rec['neutrophil']['threshold']:g}"),
        LabPanel("PLAT", LAB_TESTS[1][1], float(rec["platelet"]["threshold"]),
                 f"Recovery threshold {rec['platelet']['threshold']:g}"),
        LabPanel("CD19", LAB_TESTS[2][1], aplasia, f"B-cell aplasia below {aplasia:g}", log=True),
    )  # fmt: skip


def lab_records(lb: pd.DataFrame) -> pd.DataFrame:
    """One subject's plotted laboratory values (ADLB NEUT, PLAT, CD19 with ADY0 and AVAL) on
    the Day-0 scale with their normal range (ANRLO, ANRHI), by test and day."""
    d = lb[lb["PARAMCD"].isin([t for t, _, _ in LAB_TESTS]) & lb["ADY0"].notna() & lb["AVAL"].notna()]
    out = pd.DataFrame(
        {"panel": d["PARAMCD"].astype(str), "day": d["ADY0"].astype(float), "value": d["AVAL"].astype(float),
         "low": pd.to_numeric(d["ANRLO"], errors="coerce"), "high": pd.to_numeric(d["ANRHI"], errors="coerce")},
        columns=LAB_COLUMNS,
    )  # fmt: skip
    order = {t: i for i, (t, _, _) in enumerate(LAB_TESTS)}
    return out.sort_values(["panel", "day"], key=lambda c: c.map(order) if c.name == "panel" else c,
                           kind="stable").reset_index(drop=True)  # fmt: skip


def _day(a: Any, b: Any) -> float | None:
    return None if pd.isna(a) or pd.isna(b) else float((a - b).days)


def profile_data(
    s: Mapping[str, Any], ae: pd.DataFrame, rs: pd.DataFrame, ck: pd.DataFrame, pr: pd.DataFrame
) -> ProfileData:
    """One subject's plotted records: ``s`` its ADSL row, the others its ADAE/ADRS/ADCK/ADPR rows."""
    subject = subject_label(s)
    bars: list[dict[str, Any]] = []
    marks: list[dict[str, Any]] = []
    for r in pr.to_dict("records"):
        if r["PRCAT"] in ("LYMPHODEPLETION", "CONDITIONING") and pd.notna(r["ASTDY0"]):
            end = r["AENDY0"] if pd.notna(r["AENDY0"]) else r["ASTDY0"]
            bars.append(dict(lane=TREATMENT, start=float(r["ASTDY0"]), end=float(end) + 1, grade=None, ongoing=False))
    marks.append(dict(lane=TREATMENT, day=0.0, label="CD19 CAR-T", marker="^", colour="#0072B2"))
    if s["HSCTFL"] == "Y" and pd.notna(s["HSCTDY0"]):
        marks.append(dict(lane=TREATMENT, day=float(s["HSCTDY0"]), label="Allo-HSCT", marker="s", colour="#009E73"))
    if s["CD22FL"] == "Y" and pd.notna(s["CD22DY0"]):
        marks.append(dict(lane=TREATMENT, day=float(s["CD22DY0"]), label="CD22 CAR-T", marker="D", colour="#CC79A7"))
    ae = ae.sort_values(["ASTDY0", "AESEQ"], kind="stable")
    other = list(dict.fromkeys(ae.loc[~ae["AESICAT"].isin(list(OWN_LANES)), "AEDECOD"]))
    other_lanes = {t: (t if i < MAX_OTHER_LANES else "Other AEs") for i, t in enumerate(other)}
    for r in ae.to_dict("records"):
        lane = OWN_LANES.get(r["AESICAT"]) or other_lanes[r["AEDECOD"]]
        end = r["AENDY0"] if pd.notna(r["AENDY0"]) else r["ASTDY0"] + (r["ADURN"] or 1) - 1
        bars.append(
            dict(lane=lane, start=float(r["ASTDY0"]), end=float(end) + 1, grade=int(r["AETOXGR"]),
                 ongoing=r["AONGOFL"] == "Y")
        )  # fmt: skip
        if r["CMTOCIFL"] == "Y":
            marks.append(dict(lane=TOCI, day=float(r["ASTDY0"]), label="Tocilizumab (for AE)", marker="v",
                              colour="#0072B2"))  # fmt: skip
        if r["CMSTERFL"] == "Y":
            marks.append(dict(lane=STEROIDS, day=float(r["ASTDY0"]), label="Corticosteroids (for AE)", marker="P",
                              colour="#E69F00"))  # fmt: skip
    ovr = rs[(rs["PARAMCD"] == "OVRLRESP") & rs["ADY0"].notna()]
    mrd = {int(r["ADY0"]): r["AVALC"] for r in rs[(rs["PARAMCD"] == "MRD") & rs["ADY0"].notna()].to_dict("records")}
    for r in ovr.to_dict("records"):
        label, marker, colour = RESPONSE_STYLE.get(str(r["AVALC"]), (str(r["AVALC"]), "s", "#999999"))
        neg = mrd.get(int(r["ADY0"])) == "NEGATIVE"
        if r["AVALC"] in ("CR", "CRI"):
            label += ", MRD-negative" if neg else ", MRD-positive/unknown"
        marks.append(dict(lane=RESPONSE, day=float(r["ADY0"]), label=label, marker=marker, colour=colour, filled=neg))
    died = s["DTHFL"] == "Y" and pd.notna(s["DTHDY0"])
    end_day = float(s["DTHDY0"]) if died else float(s["FUDY0"]) if pd.notna(s["FUDY0"]) else 0.0
    end_label = f"Death (Day {int(end_day)})" if died else f"Last contact (Day {int(end_day)})"
    if died:
        marks.append(dict(lane=RESPONSE, day=end_day, label="Death", marker="X", colour="#000000"))
    k = ck[ck["PARAMCD"].isin([p for p, _ in KINETICS])].copy()
    k["day"] = (k["ADT"] - s["CD19DT"]).dt.days.astype(float)
    k["series"] = k["PARAMCD"].map(dict(KINETICS))
    k = k.assign(value=k["AVAL"], lloq=k["LLOQ"], blq=k["BLQFL"] == "Y")[["day", "value", "series", "lloq", "blq"]]
    k = k.sort_values(["series", "day"], key=lambda c: c.map({lab: i for i, (_, lab) in enumerate(KINETICS)})
                      if c.name == "series" else c, kind="stable")  # fmt: skip
    used = {b["lane"] for b in bars} | {m["lane"] for m in marks}
    lanes = [TREATMENT, *OWN_LANES.values(), TOCI, STEROIDS, *dict.fromkeys(other_lanes.values()), RESPONSE]
    lanes = [lane for lane in lanes if lane in used or lane in (TREATMENT, *OWN_LANES.values(), RESPONSE)]
    title = f"Subject {subject} — {s['TRT01A']}"
    return ProfileData(
        usubjid=str(s[ID]),
        subject=subject,
        title=title,
        lanes=tuple(lanes),
        bars=pd.DataFrame(bars, columns=["lane", "start", "end", "grade", "ongoing"]),
        markers=pd.DataFrame([{"filled": True, **m} for m in marks], columns=MARKER_COLUMNS),
        kinetics=k.reset_index(drop=True),
        end_day=end_day,
        end_label=end_label,
    )


def all_profiles(
    adam: Mapping[str, pd.DataFrame], *, pop_flag: str = "SAFFL", laboratory: Mapping[str, Any] | None = None
) -> list[ProfileData]:
    """:func:`profile_data` of every population subject (by USUBJID); ``adam`` maps adsl, adae,
    adrs, adck, adpr (and optionally adlb) to their frames. With ``adlb`` and ``laboratory``
    (``params/study.yml``: the thresholds) a subject with LB data gets the laboratory panels."""
    adsl = adam["adsl"]
    frames.require_columns(adsl, [ID, pop_flag, "SITEID", "SUBJID", "TRT01A", "CD19DT", "HSCTFL", "HSCTDY0",
                                  "CD22FL", "CD22DY0", "DTHFL", "DTHDY0", "FUDY0"], "ADSL")  # fmt: skip
    frames.require_columns(adam["adae"], [ID, "AESEQ", "AEDECOD", "AESICAT", "AETOXGR", "ASTDY0", "AENDY0", "ADURN",
                                          "AONGOFL", "CMTOCIFL", "CMSTERFL", "TRTEMFL"], "ADAE")  # fmt: skip
    frames.require_columns(adam["adrs"], [ID, "PARAMCD", "AVALC", "ADY0"], "ADRS")
    frames.require_columns(adam["adck"], [ID, "PARAMCD", "AVAL", "LLOQ", "BLQFL", "ADT"], "ADCK")
    frames.require_columns(adam["adpr"], [ID, "PRCAT", "ASTDY0", "AENDY0"], "ADPR")
    ae = adam["adae"][frames.yes(adam["adae"]["TRTEMFL"])]
    by = {n: dict(tuple(df.groupby(ID))) for n, df in (("ae", ae), ("rs", adam["adrs"]), ("ck", adam["adck"]),
                                                          ("pr", adam["adpr"]))}  # fmt: skip
    empty = {n: df.iloc[0:0] for n, df in (("ae", ae), ("rs", adam["adrs"]), ("ck", adam["adck"]),
                                             ("pr", adam["adpr"]))}  # fmt: skip
    pop = adsl[frames.yes(adsl[pop_flag])].sort_values(ID)
    out = [
        profile_data(s, *(by[n].get(s[ID], empty[n]) for n in ("ae", "rs", "ck", "pr"))) for s in pop.to_dict("records")
    ]
    if "adlb" not in adam or laboratory is None:
        return out
    frames.require_columns(adam["adlb"], [ID, "PARAMCD", "AVAL", "ADY0", "ANRLO", "ANRHI"], "ADLB")
    panels = lab_panels(laboratory)
    lb = dict(tuple(adam["adlb"].groupby(ID)))
    return [
        dataclasses.replace(p, labs=lab_records(lb[p.usubjid]), lab_panels=panels) if p.usubjid in lb else p
        for p in out
    ]


def figure(p: ProfileData) -> Any:
    """The profile as a matplotlib Figure (``figures.subject_profile``)."""
    from analysis_lib.toolkit import figures

    return figures.subject_profile(
        p.bars, p.markers, p.kinetics, lanes=p.lanes, end_day=p.end_day, end_label=p.end_label,
        labs=p.labs, lab_panels=p.lab_panels,
    )  # fmt: skip


def render(p: ProfileData, dpi: int = 120) -> bytes:
    """The profile as PNG bytes (one raster serves the HTML page, the PDF and is quick to draw:
    a vector PDF per subject would double the time for font subsetting), byte-identical across
    runs; safe in a worker process."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from PIL import Image

    buf = io.BytesIO()
    figure(p).savefig(buf, format="png", metadata={"Software": "analysis_lib"}, dpi=dpi)
    # RGB without alpha: pdfTeX embeds such a PNG as it is (with alpha it re-encodes every image)
    out = io.BytesIO()
    Image.open(io.BytesIO(buf.getvalue())).convert("RGB").save(out, format="png", compress_level=6)
    return out.getvalue()


def render_all(profiles: Sequence[ProfileData], workers: int | None = None) -> list[bytes]:
    """:func:`render` of every profile in worker processes (fork), in input order."""
    import multiprocessing as mp
    import os
    from concurrent.futures import ProcessPoolExecutor

    n = workers or min(len(profiles), os.cpu_count() or 1)
    if n <= 1 or len(profiles) < 4:
        return [render(p) for p in profiles]
    with ProcessPoolExecutor(max_workers=n, mp_context=mp.get_context("fork")) as pool:
        return list(pool.map(render, profiles, chunksize=max(1, len(profiles) // (4 * n))))


AE_COLUMNS = ["Preferred term", "AESI", "Grade (scale)", "Onset–end day", "SAE", "Rel.", "DLT",
              "Given for AE", "Outcome"]  # fmt: skip
AE_FOOTNOTE = (
    "Treatment-emergent adverse events by onset. Onset–end: days after CD19 CAR-T infusion (Day 0). SAE: serious; "
    "Rel.: related to study treatment as assessed by the investigator; DLT: dose-limiting toxicity as adjudicated by "
    "the safety review committee. Given for AE: tocilizumab (toci.) or corticosteroids (steroids) recorded as given "
    "for the event. Grades on the scale recorded for the event (MAGIC as I-IV, NIH 2014 as mild/moderate/severe)."
)


def _grade_cell(grade: int, scale: str) -> str:
    text = narratives.grade_text(grade, scale)
    return text.removeprefix("grade ")


def ae_table(ae: pd.DataFrame) -> pd.DataFrame:
    """The subject's treatment-emergent AEs by onset: display frame of strings."""
    ae = ae.sort_values(["ASTDY0", "AESEQ"], kind="stable")
    rows = []
    for r in ae.to_dict("records"):
        end = "ongoing" if r["AONGOFL"] == "Y" else str(int(r["AENDY0"])) if pd.notna(r["AENDY0"]) else "–"
        given = [t for t, f in (("toci.", "CMTOCIFL"), ("steroids", "CMSTERFL")) if r[f] == "Y"]
        rows.append(
            [
                str(r["AEDECOD"]),
                narratives.sentence_case(narratives.aesi_text(str(r["AESICAT"]))) if r["AESICAT"] else "–",
                _grade_cell(int(r["AETOXGR"]), str(r["AEGRSCL"])),
                f"{int(r['ASTDY0'])}–{end}",
                "Y" if r["AESER"] == "Y" else "N",
                "Y" if r["AEREL"] == "RELATED" else "N",
                "Y" if r["AEDLT"] == "Y" else "N",
                " + ".join(given) or "–",
                narratives.sentence_case(narratives.OUTCOME_TEXT.get(str(r["AEOUT"]), str(r["AEOUT"]).lower())),
            ]
        )
    if not rows:
        rows = [["No adverse events", *[""] * (len(AE_COLUMNS) - 1)]]
    return pd.DataFrame(rows, columns=AE_COLUMNS)


def pdf_subjects(adsl: pd.DataFrame, adae: pd.DataFrame, adrs: pd.DataFrame, which: str = "narrated") -> set[str]:
    """USUBJIDs whose profiles the PDF holds: ``"narrated"`` (died, DLT or serious AESI, as
    :func:`narratives.build`) or ``"all"`` safety subjects."""
    if which == "all":
        return set(adsl.loc[frames.yes(adsl["SAFFL"]), ID])
    if which != "narrated":
        raise ValueError(f"profiles: expected 'narrated' or 'all', got {which!r}")
    return {n.usubjid for n in narratives.build(adsl, adae, adrs)}


def anchor(p: ProfileData) -> str:
    """HTML id of a subject's profile section."""
    return f"profile-{p.subject}"


#: Folder of the subject pages in the HTML book (beside ``notebooks/``, the chapter pages), and
#: where the profiles chapter leaves each page's content for the render step (``figures/``).
PAGES_DIR = "profiles"
#: The pages the profiles chapter produced, in book order: ``[{"page", "title", "html"}]``
#: (``html``: the content file in ``figures/``), read by ``pipeline/render.py``.
PAGES_INDEX = "profile-pages.json"
#: Where the subject index is (the profiles chapter's Listing 16.2.7.7), relative to a subject page.
INDEX_HREF = "../notebooks/profiles.html#l-profiles"


def subject_label(s: Mapping[str, Any]) -> str:
    """The subject as the listings and profiles show it: SITEID-SUBJID when both are given, else USUBJID."""
    site, subj = s.get("SITEID"), s.get("SUBJID")
    ok = all(not frames.is_missing_value(v) and str(v).strip() != "" for v in (site, subj))
    return f"{site}-{subj}" if ok else str(s[ID])


def page_name(subject: str) -> str:
    """File stem of a subject's page: the subject label with anything but letters, digits, ``.``,
    ``_`` and ``-`` as ``_`` (a page name is a path: data never reaches it unfiltered)."""
    import re

    return "subject-" + re.sub(r"[^A-Za-z0-9._-]", "_", subject)


def href(subject: str) -> str:
    """Link from a chapter page (``notebooks/<chapter>.html``) to the subject's profile page."""
    return f"../{PAGES_DIR}/{page_name(subject)}.html"


def subject_pages(adsl: pd.DataFrame, pop_flag: str = "SAFFL") -> dict[str, tuple[str, str | None]]:
    """USUBJID -> (label, profile href) of every ADSL subject; the href is None for a subject
    outside ``pop_flag`` (no profile page). Two subjects with one page name are an error."""
    frames.require_columns(adsl, [ID, pop_flag], "ADSL")
    out: dict[str, tuple[str, str | None]] = {}
    seen: dict[str, str] = {}
    for s in adsl.to_dict("records"):
        label = subject_label(s)
        treated = frames.yes(pd.Series([s[pop_flag]])).iloc[0]
        if treated:
            other = seen.setdefault(page_name(label), str(s[ID]))
            if other != str(s[ID]):
                raise ValueError(f"ADSL: subjects {other} and {s[ID]} would share the profile page {page_name(label)}")
        out[str(s[ID])] = (label, href(label) if treated else None)
    return out


def drilldown(
    cells: Mapping[tuple[int, int], Sequence[str]], adsl: pd.DataFrame, pop_flag: str = "SAFFL"
) -> dict[tuple[int, int], list[tuple[str, str | None]]]:
    """Subject lists of a table's count cells (``formats.drilldown_cells``) as (label, profile
    href) pairs for ``Table.drilldown``; a USUBJID not in ADSL is an error."""
    pages = subject_pages(adsl, pop_flag)
    unknown = sorted({i for ids in cells.values() for i in ids if i not in pages})
    if unknown:
        raise ValueError(f"drill-down: subject(s) {unknown[:5]} are not in ADSL")
    return {k: [pages[i] for i in ids] for k, ids in cells.items()}


def listing_links(
    body: pd.DataFrame, adsl: pd.DataFrame, column: str = "Subject", pop_flag: str = "SAFFL"
) -> dict[tuple[int, int], str]:
    """``Listing.links`` for a listing's subject column: each cell reading a subject's label or
    USUBJID links to that subject's profile page (blank cells and subjects without one: no link)."""
    if column not in body.columns:
        raise ValueError(f"listing: no column '{column}' to link to the subject profiles")
    pages = subject_pages(adsl, pop_flag)
    by_text = {text: h for u, (label, h) in pages.items() for text in (u, label) if h}
    j = [c for c in body.columns if c != "_indent"].index(column)
    return {(i, j): by_text[str(v)] for i, v in enumerate(body[column].tolist()) if str(v) in by_text}


def narrative_links(narr: Sequence[Any], body: pd.DataFrame, adsl: pd.DataFrame) -> dict[tuple[int, int], str]:
    """``Listing.links`` of the narratives listing (``narratives.listing``): each subject's heading
    row links to the subject's profile page."""
    pages = subject_pages(adsl)
    heads: dict[str, str] = {}
    for n in narr:
        h = pages.get(n.usubjid, ("", None))[1]
        if h:
            heads[narratives.heading(n)] = h
    col = body.columns[0]
    return {(i, 0): heads[v] for i, v in enumerate(body[col].tolist()) if v in heads}


def swimmer_links(records: pd.DataFrame, adsl: pd.DataFrame, pop_flag: str = "SAFFL") -> str:
    """The swimmer plot's subjects, top to bottom as drawn (``figures.swimmer_order``; labels as
    on the plot, ADSL ``SUBJID``), each linked to its profile page (HTML only: the plot is an image)."""
    from analysis_lib.toolkit import figures

    pop = adsl[frames.yes(adsl[pop_flag])]
    by_subjid = pop.groupby(pop["SUBJID"].astype(str))[ID].agg(list).to_dict()
    twice = sorted(k for k, v in by_subjid.items() if len(v) > 1)
    if twice:
        raise ValueError(
            f"ADSL: SUBJID {twice[:5]} name more than one {pop_flag} subject; the swimmer labels are ambiguous"
        )
    pages = subject_pages(adsl, pop_flag)
    e = escape.html
    items = []
    for subjid in figures.swimmer_order(records):
        u = by_subjid.get(str(subjid), [None])[0]
        h = pages[u][1] if u in pages else None
        items.append(f'<a href="{e(h)}">{e(str(subjid))}</a>' if h else e(str(subjid)))
    return (
        '<p class="csr-subject-links"><strong>Subject profiles, in the order of the swimmer plot (top to bottom):'
        f"</strong> {' · '.join(items)}</p>"
    )


def profile_html(p: ProfileData, number: str, png: bytes, table_html: str, notes: Sequence[str]) -> str:
    """A subject's HTML section: heading with anchor, the figure (PNG inline, offline), its notes
    and the AE table (an already rendered TLF)."""
    img = base64.b64encode(png).decode("ascii")
    e = escape.html
    notes_html = "".join(f'<p class="csr-tlf-footnote">{e(n)}</p>' for n in notes)
    return (
        f'{tlf_html.CSS}<section class="csr-profile" id="{e(anchor(p))}">'
        f'<div class="csr-tlf csr-figure"><figure><figcaption><span class="csr-tlf-number">{e(number)}</span> '
        f'<span class="csr-tlf-title">{e(p.title)}</span></figcaption>'
        f'<img src="data:image/png;base64,{img}" alt="{e("Profile of subject " + p.subject)}" style="max-width:100%"/>'
        f'<div class="csr-tlf-notes">{notes_html}</div></figure></div>{table_html}'
        f'<p><a href="{e(INDEX_HREF)}">Back to the subject index</a></p></section>'
    )


#: Defines the switch ``\\ifcsrallprofiles`` (false) unless the preamble did (``csr render --profiles all``).
PROFILES_SWITCH = r"\ifdefined\ifcsrallprofiles\else\expandafter\newif\csname ifcsrallprofiles\endcsname\fi"


def pdf_conditional(tex: str, *, always: bool) -> str:
    """``tex`` as it is for a subject the PDF always shows (narrated), else typeset only with
    ``csr render --profiles all`` (inside ``\\ifcsrallprofiles ... \\fi``)."""
    if always:
        return tex
    return f"{PROFILES_SWITCH}\n\\ifcsrallprofiles\n{tex}\\fi\n"


def profile_latex(number: str, title: str, image: str, table_tex: str, notes: Sequence[str]) -> str:
    """A subject's PDF page(s): number and title, the profile image (bare file name, found by the
    book's ``\\graphicspath``), its notes, then the AE table (an already rendered TLF)."""
    e = escape.latex
    lines = [
        r"\clearpage\noindent\begin{minipage}{\linewidth}\centering",
        rf"\textbf{{{e(number)}}}\par {e(title)}\par\smallskip",
        rf"\includegraphics[width=\linewidth,height=0.62\textheight,keepaspectratio]{{{image}}}\par",
        r"\raggedright\footnotesize",
        *[rf"{e(n)}\par" for n in notes],
        r"\end{minipage}\par\medskip",
        table_tex,
    ]
    return "\n".join(lines) + "\n"


INDEX_COLUMNS = ["Subject", "Dose level", "Follow-up", "Narrated for", "Profile"]


def index_listing(profiles: Sequence[ProfileData], reasons: Mapping[str, str]) -> pd.DataFrame:
    """The subject index as a listing: subject, dose level, end of follow-up, narrative reasons
    and the profile's number."""
    rows = [
        [p.subject, p.title.split(" — ", 1)[-1], p.end_label, reasons.get(p.usubjid, "–"), profile_number(k)]
        for k, p in enumerate(profiles, start=1)
    ]
    if not rows:
        rows = [["No treated subjects", *[""] * (len(INDEX_COLUMNS) - 1)]]
    return pd.DataFrame(rows, columns=INDEX_COLUMNS)


def profile_number(k: int) -> str:
    """'16.2.7.7.k': the k-th profile of the appendix (figure and AE listing share it)."""
    return f"16.2.7.7.{k}"


def show_html(html_text: str) -> None:
    """Display HTML in the HTML book only (the PDF gets an empty Markdown output)."""
    from IPython.display import display

    display({"text/html": html_text, "text/markdown": "", "text/plain": ""}, raw=True)


FIGURE_NOTES = (
    "Days after CD19 CAR-T infusion (Day 0); the axis is linear to Day 30 and logarithmic after it. Bars: adverse "
    "events by onset and end day, coloured by grade (CTCAE, or the AESI's own scale: ASTCT for CRS/ICANS, MAGIC for "
    "acute GVHD, NIH for chronic GVHD), arrow: ongoing; grey bars: lymphodepletion and conditioning.",
    "Tocilizumab, corticosteroids: given for the AE starting that day (concomitant medication linked to the AE; "
    "administration dates are not in the analysis datasets). Response: overall response (filled marker: "
    "MRD-negative). Kinetics: qPCR, values below the LLOQ at LLOQ/2 (open marker), dashed line: LLOQ. Dotted line: "
    "death or last contact.",
    "Laboratory panels (where the subject has results): ANC, platelets and CD19+ B cells; shaded: normal range; "
    "dashed: the count-recovery threshold (ANC, platelets) and the B-cell aplasia threshold (B cells, axis linear "
    "below it and logarithmic above).",
)


def show_all(ch: Any, profiles: Sequence[ProfileData], adae: pd.DataFrame, in_pdf: set[str]) -> None:
    """Draw every profile (in parallel), write ``figures/profile-<subject>.png`` and, per subject,
    its HTML page content (``figures/<page>.html``: figure, notes and AE table; listed in book
    order in ``figures/profile-pages.json``, from which ``pipeline/render.py`` makes one page per
    subject). The chapter shows, per subject, a link to that page in the HTML and the figure and
    its AE table in the PDF for ``in_pdf`` (all with ``--profiles all``). Nothing is drawn when
    TLF rendering is off (``CSR_RENDER_TLFS=0``)."""
    from IPython.display import display

    from analysis_lib.toolkit.files import atomic_write
    from analysis_lib.toolkit.tlf import Listing

    if not ch.emit.render:
        return
    import json

    pngs = render_all(profiles)
    ae = adae[frames.yes(adae["TRTEMFL"])]
    by = dict(tuple(ae.groupby(ID)))
    pages = []
    for k, (p, png) in enumerate(zip(profiles, pngs, strict=True), start=1):
        image = f"profile-{p.subject}.png"
        atomic_write(ch.output_dir / "figures" / image, png)
        table = Listing(
            number=f"Listing {profile_number(k)}",
            title=f"Adverse events of subject {p.subject}",
            body=ae_table(by.get(p.usubjid, ae.iloc[0:0])),
            footnotes=(AE_FOOTNOTE,),
            source=ch.source("adae"),
            cut_date=ch.cut,
        )
        number = f"Figure {profile_number(k)}"
        # the profile is its own page of the HTML book (pipeline/render.py makes it from this file);
        # the chapter page links to it
        content = f"figures/{page_name(p.subject)}.html"
        atomic_write(ch.output_dir / content, profile_html(p, number, png, table._repr_html_(), FIGURE_NOTES).encode())
        pages.append({"page": page_name(p.subject), "title": f"{number}: {p.title}", "html": content})
        e = escape.html
        link = f'<a href="{e(href(p.subject))}">{e(number)}: {e(p.title)}</a>'
        bundle = {
            "text/html": f'<p class="csr-profile-link">{link}</p>',
            "text/markdown": "",
            "text/plain": f"{number}: {p.title}",
        }
        from analysis_lib.toolkit.tlf import raw_latex_block

        tex = profile_latex(number, f"Subject profile: {p.title}", image, table.to_latex(), FIGURE_NOTES)
        bundle["text/markdown"] = raw_latex_block(pdf_conditional(tex, always=p.usubjid in in_pdf))
        display(bundle, raw=True)
    index = json.dumps(pages, indent=1, ensure_ascii=False) + "\n"
    atomic_write(ch.output_dir / "figures" / PAGES_INDEX, index.encode("utf-8"))
