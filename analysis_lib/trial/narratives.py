"""Subject narratives for the safety review committee (ICH E3 12.3.2, docs/design.md §7).

A narrative is written for every safety-population subject who died, had a dose-limiting
toxicity (``AEDLT == "Y"``) or a serious adverse event of special interest (``AESER == "Y"`` and
an ``AESICAT`` category, the study's AESI mapping in ``params/study.yml`` as derived into ADAE).
Its text is built **only** from ADaM records — ADSL (treatments, death, follow-up), ADAE (the
events: study day, grade with its grading scale, seriousness, relation, DLT, outcome and the
tocilizumab/corticosteroid flags of the concomitant medications linked to the AE) and ADRS (the
latest response assessment on or before each onset, best overall response) — never invented:
a fact missing from the data is said to be missing.

Two steps, so a test can re-derive every number: :func:`build` collects the facts
(:class:`Narrative` with its :class:`EventFacts`), :func:`paragraphs` turns them into plain-text
paragraphs (escaped by the TLF renderers like any text from the data). :func:`listing` and
:func:`index_listing` give the display frames of the chapter's listings, :func:`facts_ard` the
facts behind them as an ARD.

Study days count the CD19 CAR-T infusion as Day 0 (``ASTDY0``, ``AENDY0``, ``DTHDY0``, ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from analysis_lib.toolkit import ard as ard_mod
from analysis_lib.toolkit import frames
from analysis_lib.trial import safety

ID = "USUBJID"
DEATH = "death"
DLT = "DLT"
SERIOUS_AESI = "serious AESI"
FATAL = "fatal outcome"
REASON_ORDER = (DEATH, DLT, SERIOUS_AESI)
DEATH_FROM_ALL = "RELAPSE/PROGRESSION OF ALL"
#: Response categories (ADRS AVALC) as written in the text.
RESPONSE_TEXT = {
    "CR": "complete remission (CR)",
    "CRI": "CR with incomplete haematological recovery (CRi)",
    "NR": "no response (NR)",
    "PD": "progressive disease (PD)",
    "RELAPSE": "relapse",
    "NE": "not evaluable (NE)",
}
#: AEOUT as written in the text.
OUTCOME_TEXT = {
    "RECOVERED/RESOLVED": "recovered/resolved",
    "RECOVERED/RESOLVED WITH SEQUELAE": "recovered/resolved with sequelae",
    "NOT RECOVERED/NOT RESOLVED": "not recovered/not resolved",
    "RECOVERING/RESOLVING": "recovering/resolving",
    "FATAL": "fatal",
    "UNKNOWN": "unknown",
}
#: AESICAT as written in the text (others: lower case).
AESI_TEXT = {
    "CRS": "CRS",
    "ICANS": "ICANS",
    "ACUTE GVHD": "acute GVHD",
    "CHRONIC GVHD": "chronic GVHD",
    "CMV REACTIVATION": "CMV reactivation",
    "INFECTION": "infection",
    "PROLONGED CYTOPENIA": "prolonged cytopenia",
}
_ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V"}
_NIH = {1: "mild", 2: "moderate", 3: "severe"}

ADSL_COLUMNS = (
    ID, "SAFFL", "TRT01A", "PHASE", "COHORT", "AGE", "SEX", "DONORTYP", "CD19DT", "LDSTDT", "HSCTFL", "HSCTDY0",
    "CD22FL", "CD22DY0", "DTHFL", "DTHDY0", "DTHCAUS", "DTHTRTFL", "FUDY0", "EOSSTT", "DCSREAS", "CUTOFFDT",
)  # fmt: skip
ADAE_COLUMNS = (
    ID, "AESEQ", "AEDECOD", "AETERM", "AESICAT", "AETOXGR", "AEGRSCL", "AESER", "AEREL", "AEOUT", "AEDLT",
    "ASTDY0", "AENDY0", "ASTDTF", "AONGOFL", "ADURN", "TRTEMFL", "CMTOCIFL", "CMSTERFL",
)  # fmt: skip
ADRS_COLUMNS = (ID, "PARAMCD", "AVALC", "ADY0")


def grade_text(grade: int, scale: str) -> str:
    """The grade as its scale states it: 'grade 3 (CTCAE v5.0)', 'grade III (MAGIC)',
    'moderate (NIH 2014)'; the scale is ADAE ``AEGRSCL``."""
    s = str(scale).strip()
    if s.upper().startswith("MAGIC"):
        return f"grade {_ROMAN.get(int(grade), str(grade))} ({s})"
    if s.upper().startswith("NIH") and int(grade) in _NIH:
        return f"{_NIH[int(grade)]} ({s})"
    return f"grade {int(grade)} ({s})" if s else f"grade {int(grade)} (grading scale not recorded)"


def aesi_text(category: str) -> str:
    """An AESICAT as written in the text ('acute GVHD', 'CRS')."""
    return AESI_TEXT.get(category, category.lower())


def sentence_case(text: str) -> str:
    """First letter upper case, the rest unchanged ('DLT, serious AESI' stays as it is)."""
    return text[:1].upper() + text[1:]


def day_text(day: Any) -> str:
    """'Day 12', 'Day -5' (study day, Day 0 = CD19 CAR-T infusion)."""
    return f"Day {int(day)}"


def _opt_int(v: Any) -> int | None:
    return None if v is None or pd.isna(v) else int(v)


def _opt_float(v: Any) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def _str(v: Any) -> str:
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v).strip()


@dataclass(frozen=True)
class Assessment:
    """A response assessment (ADRS ``OVRLRESP``) and the MRD result (``MRD``) on the same day."""

    response: str
    day: int
    mrd: str = ""


@dataclass(frozen=True)
class EventFacts:
    """One adverse event of a narrative (one ADAE record) with what the text states about it."""

    aeseq: int
    term: str
    verbatim: str
    category: str
    grade: int
    scale: str
    start_day: int
    start_imputed: bool
    end_day: int | None  # None when ongoing
    ongoing: bool
    duration: int | None
    serious: bool
    related: bool
    dlt: bool
    outcome: str
    tocilizumab: bool
    steroids: bool
    reasons: tuple[str, ...]
    response_before: Assessment | None  # latest assessment on or before the onset day


@dataclass(frozen=True)
class Narrative:
    """The facts of one subject's narrative (ADSL, ADAE and ADRS only)."""

    usubjid: str
    subject: str
    reasons: tuple[str, ...]
    dose_level: str
    phase: str
    cohort: str
    age: int | None
    sex: str
    donor: str
    baseline_status: str  # DISSTAT
    baseline_blasts: float | None  # BMBLAST, % of marrow cells
    baseline_mrd: float | None  # MRDBL, %
    prior_lines: int | None  # PRLINES
    lymphodepletion_day: int | None
    hsct_day: int | None
    cd22_day: int | None
    death_day: int | None
    death_cause: str
    non_relapse_death: bool
    best_response: str
    first_response_day: int | None  # first OVRLRESP CR/CRi
    relapse_day: int | None  # first OVRLRESP RELAPSE/PD after Day 0
    last_day: int | None  # FUDY0: last contact (or death)
    status: str  # EOSSTT
    discontinuation: str  # DCSREAS
    events: tuple[EventFacts, ...] = field(default_factory=tuple)


def _subject_label(row: Mapping[str, Any]) -> str:
    site, subj = _str(row.get("SITEID")), _str(row.get("SUBJID"))
    return f"{site}-{subj}" if site and subj else str(row[ID])


def _assessments(adrs: pd.DataFrame) -> dict[str, list[Assessment]]:
    """Per subject: OVRLRESP assessments by study day with the MRD of the same day."""
    frames.require_columns(adrs, ADRS_COLUMNS, "ADRS")
    ovr = adrs[(adrs["PARAMCD"] == "OVRLRESP") & adrs["ADY0"].notna()]
    mrd = adrs[(adrs["PARAMCD"] == "MRD") & adrs["ADY0"].notna()]
    mrd_at = {(r[ID], int(r["ADY0"])): _str(r["AVALC"]) for r in mrd.to_dict("records")}
    out: dict[str, list[Assessment]] = {}
    for r in ovr.sort_values([ID, "ADY0"], kind="stable").to_dict("records"):
        day = int(r["ADY0"])
        out.setdefault(r[ID], []).append(Assessment(_str(r["AVALC"]), day, mrd_at.get((r[ID], day), "")))
    return out


def latest_before(assessments: Sequence[Assessment], day: int) -> Assessment | None:
    """The latest assessment on or before study day ``day`` (the last of that day), or None."""
    before = [a for a in assessments if a.day <= day]
    return before[-1] if before else None


RESPONDER = ("CR", "CRI")
PROGRESSION = ("RELAPSE", "PD")


def _first_day(assessments: Sequence[Assessment], codes: Sequence[str]) -> int | None:
    days = [a.day for a in assessments if a.response.upper() in codes and a.day >= 0]
    return min(days) if days else None


def event_reasons(ae: pd.DataFrame) -> pd.DataFrame:
    """ADAE with ``_REASONS`` (tuple): why each record is narrated — ``DLT`` (AEDLT = Y),
    ``Serious AESI`` (AESER = Y and an AESICAT category), ``Fatal outcome`` (AEOUT = FATAL)."""
    dlt = frames.yes(ae["AEDLT"])
    saesi = frames.yes(ae["AESER"]) & ae["AESICAT"].fillna("").astype(str).str.strip().ne("")
    fatal = ae["AEOUT"].eq("FATAL")
    reasons = [
        tuple(r for r, hit in ((DLT, d), (SERIOUS_AESI, s), (FATAL, f)) if hit)
        for d, s, f in zip(dlt, saesi, fatal, strict=True)
    ]
    return ae.assign(_REASONS=reasons)


def build(adsl: pd.DataFrame, adae: pd.DataFrame, adrs: pd.DataFrame, *, pop_flag: str = "SAFFL") -> list[Narrative]:
    """The narratives of the population's subjects who died (``DTHFL``), had a DLT or a serious
    AESI (treatment-emergent ADAE records), ordered by subject. Events narrated: the subject's
    DLTs, serious AESIs and AEs with fatal outcome, by onset day then AESEQ."""
    frames.require_columns(adsl, ADSL_COLUMNS, "ADSL")
    frames.require_columns(adae, ADAE_COLUMNS, "ADAE")
    pop = adsl[frames.yes(adsl[pop_flag])]
    ae = adae[frames.yes(adae["TRTEMFL"]) & adae[ID].isin(pop[ID])]
    ae = event_reasons(ae)
    ae = ae[ae["_REASONS"].map(bool)].sort_values([ID, "ASTDY0", "AESEQ"], kind="stable")
    resp = _assessments(adrs)
    best = {}
    if "BESTRSP" in set(adrs["PARAMCD"]):
        best = adrs[adrs["PARAMCD"] == "BESTRSP"].set_index(ID)["AVALC"].to_dict()
    events: dict[str, list[EventFacts]] = {}
    for r in ae.to_dict("records"):
        ongoing = frames.yes(pd.Series([r["AONGOFL"]])).iloc[0]
        events.setdefault(r[ID], []).append(
            EventFacts(
                aeseq=int(r["AESEQ"]),
                term=_str(r["AEDECOD"]),
                verbatim=_str(r["AETERM"]),
                category=_str(r["AESICAT"]),
                grade=int(r["AETOXGR"]),
                scale=_str(r["AEGRSCL"]),
                start_day=int(r["ASTDY0"]),
                start_imputed=bool(_str(r["ASTDTF"])),
                end_day=None if ongoing else _opt_int(r["AENDY0"]),
                ongoing=bool(ongoing),
                duration=_opt_int(r["ADURN"]),
                serious=_str(r["AESER"]) == "Y",
                related=_str(r["AEREL"]) == "RELATED",
                dlt=_str(r["AEDLT"]) == "Y",
                outcome=_str(r["AEOUT"]),
                tocilizumab=_str(r["CMTOCIFL"]) == "Y",
                steroids=_str(r["CMSTERFL"]) == "Y",
                reasons=tuple(r["_REASONS"]),
                response_before=latest_before(resp.get(r[ID], []), int(r["ASTDY0"])),
            )
        )
    out = []
    for s in pop.sort_values(ID).to_dict("records"):
        evs = tuple(events.get(s[ID], ()))
        died = _str(s["DTHFL"]) == "Y"
        reasons = tuple(
            r
            for r, hit in (
                (DEATH, died),
                (DLT, any(e.dlt for e in evs)),
                (SERIOUS_AESI, any(SERIOUS_AESI in e.reasons for e in evs)),
            )
            if hit
        )
        if not reasons:
            continue
        ld = None
        if pd.notna(s["LDSTDT"]) and pd.notna(s["CD19DT"]):
            ld = int((s["LDSTDT"] - s["CD19DT"]).days)
        out.append(
            Narrative(
                usubjid=str(s[ID]),
                subject=_subject_label(s),
                reasons=reasons,
                dose_level=_str(s["TRT01A"]),
                phase=_str(s["PHASE"]),
                cohort=_str(s["COHORT"]),
                age=_opt_int(s["AGE"]),
                sex=_str(s["SEX"]),
                donor=_str(s["DONORTYP"]),
                baseline_status=_str(s.get("DISSTAT")),
                baseline_blasts=_opt_float(s.get("BMBLAST")),
                baseline_mrd=_opt_float(s.get("MRDBL")),
                prior_lines=_opt_int(s.get("PRLINES")),
                lymphodepletion_day=ld,
                hsct_day=_opt_int(s["HSCTDY0"]) if _str(s["HSCTFL"]) == "Y" else None,
                cd22_day=_opt_int(s["CD22DY0"]) if _str(s["CD22FL"]) == "Y" else None,
                death_day=_opt_int(s["DTHDY0"]) if died else None,
                death_cause=_str(s["DTHCAUS"]) if died else "",
                non_relapse_death=died and _str(s["DTHTRTFL"]) == "Y",
                best_response=_str(best.get(s[ID], "")),
                first_response_day=_first_day(resp.get(s[ID], []), RESPONDER),
                relapse_day=_first_day(resp.get(s[ID], []), PROGRESSION),
                last_day=_opt_int(s["FUDY0"]),
                status=_str(s["EOSSTT"]),
                discontinuation=_str(s["DCSREAS"]),
                events=evs,
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# text


def _sex(sex: str) -> str:
    return {"F": "female", "M": "male"}.get(sex.upper(), "subject of unrecorded sex" if not sex else sex.lower())


def response_text(code: str) -> str:
    """An ADRS AVALC as written in a narrative ('complete remission (CR)')."""
    return RESPONSE_TEXT.get(code.upper(), code) if code else "not recorded"


def _assessment_text(a: Assessment | None, day: int) -> str:
    if a is None:
        return f"no response assessment on or before {day_text(day)}"
    mrd = f", MRD {a.mrd.lower()}" if a.mrd else ""
    return f"{response_text(a.response)} at the latest assessment, on {day_text(a.day)}{mrd}"


def _timing(n: Narrative, day: int) -> str:
    """Where a study day lies relative to allo-HSCT and CD22 CAR-T."""
    parts = []
    if n.hsct_day is not None:
        d = day - n.hsct_day
        parts.append(f"{abs(d)} day{'s' * (abs(d) != 1)} {'after' if d >= 0 else 'before'} allo-HSCT")
    if n.cd22_day is not None:
        d = day - n.cd22_day
        parts.append(f"{abs(d)} day{'s' * (abs(d) != 1)} {'after' if d >= 0 else 'before'} CD22 CAR-T")
    return f" ({'; '.join(parts)})" if parts else ""


def event_text(n: Narrative, e: EventFacts) -> str:
    """One event's paragraph: term, grade with scale, onset/end study days, seriousness, DLT,
    relation, treatments linked to it, outcome and the response status at onset."""
    what = e.term + (f" (reported as '{e.verbatim}')" if e.verbatim and e.verbatim.lower() != e.term.lower() else "")
    cat = f", an adverse event of special interest ({aesi_text(e.category)})" if e.category else ""
    onset = f"{day_text(e.start_day)}{' (start date partially imputed)' if e.start_imputed else ''}"
    s = [f"{what}{cat}, {grade_text(e.grade, e.scale)}, started on {onset}{_timing(n, e.start_day)}."]
    if e.ongoing:
        s.append(f"It was ongoing at the data cut or death ({e.duration} days by then)." if e.duration else "Ongoing.")
    elif e.end_day is not None:
        s.append(f"It ended on {day_text(e.end_day)} (duration {e.duration} days).")
    qual = ["serious" if e.serious else "not serious"]
    if e.dlt:
        qual.append("adjudicated as a dose-limiting toxicity")
    s.append(
        f"The event was {' and '.join(qual)}, and assessed by the investigator as "
        f"{'related' if e.related else 'not related'} to study treatment."
    )
    given = [t for t, hit in (("tocilizumab", e.tocilizumab), ("corticosteroids", e.steroids)) if hit]
    s.append(
        f"{' and '.join(given).capitalize()} {'was' if given == ['tocilizumab'] else 'were'} given for this event."
        if given
        else "No tocilizumab or corticosteroids were recorded for this event."
    )
    s.append(f"Outcome: {OUTCOME_TEXT.get(e.outcome.upper(), e.outcome.lower() or 'not recorded')}.")
    s.append(f"Response status at onset: {_assessment_text(e.response_before, e.start_day)}.")
    return " ".join(s)


def _treatment_text(n: Narrative) -> str:
    s = []
    if n.lymphodepletion_day is not None:
        s.append(f"started lymphodepletion on {day_text(n.lymphodepletion_day)}")
    s.append("received CD19 CAR-T on Day 0")
    if n.hsct_day is not None:
        donor = f" from a {n.donor.lower()} donor" if n.donor else ""
        s.append(f"underwent allo-HSCT{donor} on {day_text(n.hsct_day)}")
    else:
        s.append("did not undergo allo-HSCT")
    if n.cd22_day is not None:
        s.append(f"received CD22 CAR-T on {day_text(n.cd22_day)}")
    else:
        s.append("did not receive CD22 CAR-T")
    return ", ".join(s[:-1]) + " and " + s[-1]


def _article(word: str) -> str:
    """'an' before a vowel sound ('an 18-year-old', 'an 8-year-old'), else 'a'."""
    return "an" if word[:1].lower() in "aeiou8" or word.startswith(("11-", "18-")) else "a"


def baseline_text(n: Narrative) -> str:
    """'Baseline disease: first relapse, 2 prior lines of therapy, bone marrow blasts 37.2%, MRD
    35.87%.' (ADSL DISSTAT, PRLINES, BMBLAST, MRDBL; what is missing is left out)."""
    status = {"RELAPSE AFTER HSCT": "relapse after allo-HSCT"}.get(n.baseline_status, n.baseline_status.lower())
    parts = [status] if status else []
    if n.prior_lines is not None:
        parts.append(f"{n.prior_lines} prior line{'s' * (n.prior_lines != 1)} of therapy")
    if n.baseline_blasts is not None:
        parts.append(f"bone marrow blasts {n.baseline_blasts:g}%")
    if n.baseline_mrd is not None:
        parts.append(f"MRD {n.baseline_mrd:g}%")
    return f"Baseline disease: {', '.join(parts)}." if parts else "Baseline disease status not recorded."


def _course_text(n: Narrative) -> str:
    s = f"Best overall response: {response_text(n.best_response)}"
    if n.first_response_day is not None:
        s += f", first CR/CRi on {day_text(n.first_response_day)}"
    if n.relapse_day is not None:
        s += f"; relapse or progression first documented on {day_text(n.relapse_day)}"
    return s + "."


def paragraphs(n: Narrative, *, cut_date: str = "") -> list[str]:
    """The narrative as plain-text paragraphs: background and treatments, each event, then
    death or the status at the data cut."""
    age = f"{n.age}-year-old " if n.age is not None else ""
    article = _article(age or _sex(n.sex))
    cohort = f", cohort {n.cohort}" if n.cohort else ""
    phase = f"{n.phase.lower()} phase" if n.phase else "study"
    out = [
        f"Subject {n.subject}, {article} {age}{_sex(n.sex)} in the {phase}{cohort} (CD19 CAR-T {n.dose_level}), "
        f"{_treatment_text(n)}. {baseline_text(n)} {_course_text(n)}"
    ]
    if not n.events:
        out.append("No dose-limiting toxicity, serious adverse event of special interest or adverse event with "
                   "fatal outcome was recorded.")  # fmt: skip
    out += [event_text(n, e) for e in n.events]
    if n.death_day is not None:
        cat = "non-relapse mortality" if n.non_relapse_death else "death from relapse or progression of ALL"
        cause = safety.cause_label(n.death_cause) if n.death_cause else "not recorded"
        fatal = [e.term for e in n.events if e.outcome == "FATAL"]
        tail = f" Adverse event(s) with fatal outcome: {', '.join(fatal)}." if fatal else ""
        out.append(
            f"The subject died on {day_text(n.death_day)}{_timing(n, n.death_day)}; cause of death: {cause} "
            f"({cat}).{tail}"
        )
    else:
        when = f" ({cut_date})" if cut_date else ""
        last = f"; last contact on {day_text(n.last_day)}" if n.last_day is not None else ""
        if n.status == "COMPLETED":
            state = "had completed the study"
        elif n.status == "DISCONTINUED":
            why = f" ({n.discontinuation.lower()})" if n.discontinuation else ""
            state = f"had discontinued the study{why}"
        else:
            state = "was alive and in follow-up"
        out.append(f"At the data cut{when} the subject {state}{last}.")
    return out


# --------------------------------------------------------------------------------------------
# display frames and ARD


NARRATIVE_COLUMN = "Narrative"
INDEX_COLUMNS = ["Subject", "Dose level", "Narrated for", "Death", "DLT (day)", "Serious AESI (day)"]


def heading(n: Narrative) -> str:
    """'Subject 01-012 — DL2 3×10⁵/kg — narrated for: death, DLT, serious AESI' (the first row)."""
    return f"Subject {n.subject} — {n.dose_level} — narrated for: {', '.join(n.reasons)}"


def listing(narratives: Sequence[Narrative], *, cut_date: str = "") -> pd.DataFrame:
    """One-column display frame: per subject a heading row (indent 0), then its paragraphs
    (indent 1). A single row saying so when there is no narrative."""
    rows: list[tuple[str, int]] = []
    for n in narratives:
        rows.append((heading(n), 0))
        rows += [(p, 1) for p in paragraphs(n, cut_date=cut_date)]
    if not rows:
        rows = [("No subject died, had a dose-limiting toxicity or a serious adverse event of special interest.", 0)]
    return pd.DataFrame(rows, columns=[NARRATIVE_COLUMN, "_indent"])


def _events_text(n: Narrative, pick: str) -> str:
    evs = [e for e in n.events if (e.dlt if pick == DLT else SERIOUS_AESI in e.reasons)]
    return "; ".join(f"{e.term} ({e.start_day})" for e in evs) or "–"


def index_listing(narratives: Sequence[Narrative]) -> pd.DataFrame:
    """The narratives' index: subject, dose level, reasons, death day and cause, DLTs and
    serious AESIs with their onset days."""
    rows = [
        [
            n.subject,
            n.dose_level,
            sentence_case(", ".join(n.reasons)),
            f"Day {n.death_day}: {safety.cause_label(n.death_cause)}" if n.death_day is not None else "–",
            _events_text(n, DLT),
            _events_text(n, SERIOUS_AESI),
        ]
        for n in narratives
    ]
    if not rows:
        rows = [["No narratives", *[""] * (len(INDEX_COLUMNS) - 1)]]
    return pd.DataFrame(rows, columns=INDEX_COLUMNS)


def events_frame(narratives: Sequence[Narrative]) -> pd.DataFrame:
    """The narrated events' facts, one row per (subject, AESEQ)."""
    rows = []
    for n in narratives:
        for e in n.events:
            d = asdict(e)
            a = d.pop("response_before")
            d["reasons"] = ", ".join(e.reasons)
            d["response_before"] = a["response"] if a else ""
            d["response_before_day"] = a["day"] if a else None
            d["mrd_before"] = a["mrd"] if a else ""
            rows.append({ID: n.usubjid, **d})
    return pd.DataFrame(rows)


def subjects_frame(narratives: Sequence[Narrative]) -> pd.DataFrame:
    """The narrated subjects' facts, one row per subject (events left out)."""
    rows = []
    for n in narratives:
        d = asdict(n)
        d.pop("events")
        d["reasons"] = ", ".join(n.reasons)
        rows.append({ID: d.pop("usubjid"), **d})
    return pd.DataFrame(rows)


def facts_ard(narratives: Sequence[Narrative]) -> pd.DataFrame:
    """The facts every narrative states, as an ARD (``ard.records_ard``): subject rows
    (group1 USUBJID) and event rows (group1 USUBJID, group2 AESEQ)."""
    subj = subjects_frame(narratives)
    if subj.empty:
        return ard_mod.frame([])
    parts = [ard_mod.records_ard(subj, [ID], [c for c in subj.columns if c != ID])]
    ev = events_frame(narratives)
    if not ev.empty:
        ev = ev.rename(columns={"aeseq": "AESEQ"})
        parts.append(ard_mod.records_ard(ev, [ID, "AESEQ"], [c for c in ev.columns if c not in (ID, "AESEQ")]))
    return pd.concat(parts, ignore_index=True).astype(object)
