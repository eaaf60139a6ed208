"""Seeded synthetic trial: one simulated CD19 CAR-T -> allo-HSCT -> CD22 CAR-T study, cut at several dates.

``generate()`` simulates ONE underlying trial (3+3 dose escalation driven by the simulated DLTs, then
expansion at the recommended dose) and writes, for every data cut declared in ``params/``, the SDTM-like
domains of ``analysis_lib.trial.sdtm`` as ``<out>/<cut>/<domain>.csv``. A cut keeps only what is known at
its date, so a later cut only adds information. Output is byte-identical for the same seed.

All calibration of the simulation (rates, durations, kinetics) lives in the named constants below;
protocol parameters (dose levels, timeline, visits) come from ``params/study.yml``.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis_lib.trial import config, sdtm

SEED = 69
N_SUBJECTS = 48
N_EXPANSION_DEFAULT = 36  # expansion size at 48 subjects; scaled with n_subjects

# --- calendar --------------------------------------------------------------------------------------
FIRST_CONSENT = dt.date(2021, 5, 10)
SCREENING_DAYS = (14, 28)  # consent -> CD19 infusion
SENTINEL_GAP_DAYS = 7  # between patients of one escalation cohort
SRC_REVIEW_DAYS = 7  # after the last patient's DLT window, before the next cohort
EXPANSION_OPEN_DAYS = 14  # after the last escalation decision
EXPANSION_ACCRUAL_PER_MONTH = 1.5  # at 36 expansion patients; scaled up for larger n
INTERIM_AFTER_HALF_DAYS = 30
NEVER_INFUSED_FRACTION = 0.04
SITES = ("01", "02", "03")
SITE_WEIGHTS = (0.5, 0.3, 0.2)

# --- toxicity --------------------------------------------------------------------------------------
# P(CRS grade 0..5) after CD19 CAR-T by dose level (ASTCT 2019)
CRS_GRADE_P = {
    1: (0.32, 0.38, 0.22, 0.06, 0.02, 0.00),
    2: (0.24, 0.38, 0.27, 0.075, 0.03, 0.005),
    3: (0.14, 0.32, 0.36, 0.11, 0.06, 0.01),
}
CRS_ONSET_DAYS = (1, 7)
CRS_DURATION_DAYS = (3, 10)
CRS_CD22_GRADE_P = (0.80, 0.16, 0.04, 0.00)  # grade 0..3 after CD22 CAR-T
STEROID_FOR_CRS2_P = 0.25
ICANS_CD22_P = 0.02
ICANS_ANY_P = {1: 0.08, 2: 0.13, 3: 0.18}
ICANS_GRADE_P = (0.45, 0.30, 0.18, 0.07)  # grade 1..4 given ICANS
ICANS_DURATION_DAYS = (2, 10)
RESPONSE_P = {1: 0.82, 2: 0.88, 3: 0.90}  # CR/CRi by Day 30
CRI_AT_DAY30_P = 0.30
MRD_NEG_GIVEN_CR_P = 0.86
HSCT_ELIGIBLE_P = 0.93  # alive responder proceeds to allo-HSCT
GRAFT_FAILURE_P = 0.015
AGVHD_P = 0.52  # any acute GVHD after HSCT
AGVHD_GRADE_P = (0.30, 0.48, 0.16, 0.06)  # MAGIC I..IV
AGVHD_FATAL_P = {3: 0.15, 4: 0.40}
CGVHD_P = 0.66  # among transplanted patients alive at HSCT + 100 days
CGVHD_GRADE_P = (0.40, 0.42, 0.18)  # NIH mild/moderate/severe
CGVHD_FATAL_P = 0.10  # severe
CMV_P = 0.45
CMV_LATE_P = 0.12
VOD_P = 0.03
VOD_FATAL_P = 0.35
CD22_REFUSAL_P = 0.05
OTHER_DEATH_P = 0.01  # non-treatment-related death during follow-up
INFECTION_FATAL_P = 0.08  # per grade >=3 infection
# --- disease course ----------------------------------------------------------------------------------
RELAPSE_HAZARD = {
    "no_hsct": math.log(2) / 120,
    "hsct_pre_cd22": -math.log(0.92) / 60,
    "cd22": -math.log(0.82) / 640,
    "hsct_no_cd22": -math.log(0.65) / 640,
}
MRD_POS_RELAPSE_FACTOR = 2.0
DEATH_AFTER_RELAPSE_P = 0.70
DEATH_AFTER_NR_P = 0.85
DISCONTINUE_AFTER_RELAPSE_P = 0.25
WITHDRAWAL_P = 0.04
LOST_TO_FOLLOW_UP_P = 0.02
SURVIVAL_CONTACT_DAYS = 90
PARTIAL_DATE_P = 0.05  # chance that a low-grade non-AESI AE (or a cGVHD steroid) has start YYYY-MM
# --- cellular kinetics -------------------------------------------------------------------------------
CK_DAYS = (1, 4, 7, 10, 14, 21, 28, 60, 90, 180, 365)
CK_CSF_DAYS = (14, 28)
CK_CSF_P = 0.8
CK_MISSED_P = 0.04
CK_LLOQ = {"FLOW CYTOMETRY": 0.1, "QPCR": 50.0}
CK_UNIT = {"FLOW CYTOMETRY": "cells/uL", "QPCR": "copies/ug gDNA"}
CK_LOG10_CMAX = {"CD19 CAR-T": math.log10(25.0), "CD22 CAR-T": math.log10(15.0)}  # cells/uL
CK_LOG10_CMAX_SD = 0.4
CK_DOSE_SLOPE = 0.3  # log10 Cmax per dose level above/below DL2
CK_NONRESPONDER_SHIFT = -0.5
CK_TMAX_DAYS = (6.5, 14.0)
CK_C0 = 0.02  # cells/uL on the day of infusion
CK_FAST_FRACTION, CK_FAST_HALF_LIFE, CK_SLOW_HALF_LIFE = 0.9, 3.0, 60.0
CK_CONDITIONING_FACTOR = 0.1  # CD19 CAR-T surviving HSCT conditioning
CK_QPCR_PER_CELL = 1000.0
CK_CSF_RATIO = 0.1
CK_NOISE_SD = {"FLOW CYTOMETRY": 0.2, "QPCR": 0.3}  # natural-log scale
CK_CSF_RATIO_SD = 0.5

# --- adverse event catalogue -----------------------------------------------------------------------
# key: (AETERM, AEDECOD, AEBODSYS)
INF = "Infections and infestations"
BLOOD = "Blood and lymphatic system disorders"
PT = {
    "CRS": ("Cytokine release syndrome", "Cytokine release syndrome", "Immune system disorders"),
    "ICANS": ("ICANS", "Immune effector cell-associated neurotoxicity syndrome", "Nervous system disorders"),
    "AGVHD": ("Acute GVHD", "Acute graft versus host disease", "Immune system disorders"),
    "CGVHD": ("Chronic GVHD", "Chronic graft versus host disease", "Immune system disorders"),
    "CMV": ("CMV reactivation", "Cytomegalovirus infection reactivation", INF),
    "GF": ("Primary graft failure", "Transplant failure", "Injury, poisoning and procedural complications"),
    "VOD": ("Hepatic veno-occlusive disease", "Venoocclusive liver disease", "Hepatobiliary disorders"),
    "NEUT": ("Neutropenia", "Neutropenia", BLOOD),
    "THROMB": ("Thrombocytopenia", "Thrombocytopenia", BLOOD),
    "ANAEM": ("Anaemia", "Anaemia", BLOOD),
    "FN": ("Febrile neutropenia", "Febrile neutropenia", BLOOD),
    "PNEU": ("Pneumonia", "Pneumonia", INF),
    "SEPSIS": ("Sepsis", "Sepsis", INF),
    "BACT": ("Bacteraemia", "Bacteraemia", INF),
    "URTI": ("Upper respiratory tract infection", "Upper respiratory tract infection", INF),
    "UTI": ("Urinary tract infection", "Urinary tract infection", INF),
    "ZOSTER": ("Herpes zoster", "Herpes zoster", INF),
    "ASPERG": ("Pulmonary aspergillosis", "Bronchopulmonary aspergillosis", INF),
    "EBV": ("EBV reactivation", "Epstein-Barr virus infection reactivation", INF),
    "HYPOK": ("Hypokalaemia", "Hypokalaemia", "Metabolism and nutrition disorders"),
    "HYPOALB": ("Hypoalbuminaemia", "Hypoalbuminaemia", "Metabolism and nutrition disorders"),
    "ALT": ("ALT increased", "Alanine aminotransferase increased", "Investigations"),
    "AST": ("AST increased", "Aspartate aminotransferase increased", "Investigations"),
    "HYPOTN": ("Hypotension", "Hypotension", "Vascular disorders"),
    "NAUSEA": ("Nausea", "Nausea", "Gastrointestinal disorders"),
    "DIARR": ("Diarrhoea", "Diarrhoea", "Gastrointestinal disorders"),
    "STOMAT": ("Oral mucositis", "Stomatitis", "Gastrointestinal disorders"),
    "RASH": ("Rash", "Rash maculo-papular", "Skin and subcutaneous tissue disorders"),
    "FATIGUE": ("Fatigue", "Fatigue", "General disorders and administration site conditions"),
    "HEADACHE": ("Headache", "Headache", "Nervous system disorders"),
    "HYPOGAM": ("Hypogammaglobulinaemia", "Hypogammaglobulinaemia", "Immune system disorders"),
    "COUGH": ("Cough", "Cough", "Respiratory, thoracic and mediastinal disorders"),
    "INSOMNIA": ("Insomnia", "Insomnia", "Psychiatric disorders"),
    "DRYEYE": ("Dry eye", "Dry eye", "Eye disorders"),
    "AKI": ("Acute kidney injury", "Acute kidney injury", "Renal and urinary disorders"),
    "HCYST": ("Haemorrhagic cystitis", "Cystitis haemorrhagic", "Renal and urinary disorders"),
}
# Generic AEs: key, first/last onset day (after CD19), P(any) in that window, P(grade 1..4),
# duration range (days), P(related to CAR-T). Haematological keys never count as DLT.
GENERIC_AES = (
    ("NEUT", 0, 10, 0.80, (0.05, 0.10, 0.35, 0.50), (7, 45), 0.7),
    ("THROMB", 0, 10, 0.60, (0.10, 0.15, 0.35, 0.40), (7, 50), 0.7),
    ("ANAEM", 0, 10, 0.55, (0.15, 0.35, 0.50, 0.00), (10, 40), 0.6),
    ("FN", 2, 20, 0.30, (0.00, 0.00, 0.92, 0.08), (3, 8), 0.5),
    ("HYPOK", 1, 30, 0.30, (0.50, 0.30, 0.18, 0.02), (2, 10), 0.3),
    ("HYPOALB", 1, 30, 0.25, (0.50, 0.40, 0.10, 0.00), (5, 25), 0.3),
    ("ALT", 1, 40, 0.25, (0.55, 0.25, 0.17, 0.03), (4, 20), 0.5),
    ("AST", 1, 40, 0.20, (0.60, 0.25, 0.13, 0.02), (4, 20), 0.5),
    ("HYPOTN", 1, 10, 0.15, (0.40, 0.40, 0.17, 0.03), (1, 5), 0.8),
    ("NAUSEA", 0, 110, 0.30, (0.60, 0.35, 0.05, 0.00), (2, 10), 0.2),
    ("DIARR", 10, 110, 0.25, (0.50, 0.35, 0.15, 0.00), (3, 14), 0.1),
    ("STOMAT", 12, 40, 0.35, (0.30, 0.40, 0.30, 0.00), (5, 20), 0.0),
    ("RASH", 5, 110, 0.12, (0.60, 0.30, 0.10, 0.00), (5, 20), 0.2),
    ("FATIGUE", 0, 120, 0.25, (0.60, 0.35, 0.05, 0.00), (7, 40), 0.3),
    ("HEADACHE", 0, 30, 0.15, (0.70, 0.28, 0.02, 0.00), (1, 5), 0.4),
    ("AKI", 1, 60, 0.05, (0.40, 0.30, 0.25, 0.05), (3, 14), 0.3),
    ("PNEU", 10, 120, 0.15, (0.00, 0.50, 0.45, 0.05), (7, 21), 0.1),
    ("SEPSIS", 5, 60, 0.06, (0.00, 0.00, 0.60, 0.40), (5, 14), 0.1),
    ("BACT", 2, 60, 0.10, (0.00, 0.30, 0.65, 0.05), (5, 14), 0.1),
    ("URTI", 20, 120, 0.15, (0.40, 0.55, 0.05, 0.00), (5, 14), 0.0),
    ("HCYST", 20, 90, 0.06, (0.30, 0.40, 0.30, 0.00), (7, 30), 0.0),
    ("EBV", 30, 120, 0.08, (0.40, 0.50, 0.10, 0.00), (14, 40), 0.0),
    # period 2 (Day 120-730)
    ("PNEU", 121, 730, 0.18, (0.00, 0.50, 0.45, 0.05), (7, 21), 0.0),
    ("URTI", 121, 730, 0.30, (0.40, 0.55, 0.05, 0.00), (5, 14), 0.0),
    ("UTI", 121, 730, 0.10, (0.30, 0.60, 0.10, 0.00), (5, 10), 0.0),
    ("ZOSTER", 121, 730, 0.10, (0.20, 0.70, 0.10, 0.00), (10, 30), 0.0),
    ("ASPERG", 121, 500, 0.04, (0.00, 0.20, 0.70, 0.10), (20, 60), 0.0),
    ("HYPOGAM", 121, 500, 0.25, (0.30, 0.60, 0.10, 0.00), (60, 200), 0.6),
    ("FATIGUE", 121, 730, 0.15, (0.70, 0.30, 0.00, 0.00), (14, 60), 0.1),
    ("COUGH", 121, 730, 0.15, (0.80, 0.20, 0.00, 0.00), (5, 20), 0.0),
    ("INSOMNIA", 121, 730, 0.08, (0.80, 0.20, 0.00, 0.00), (14, 60), 0.0),
    ("DRYEYE", 150, 730, 0.10, (0.60, 0.40, 0.00, 0.00), (30, 120), 0.0),
    ("THROMB", 121, 400, 0.08, (0.30, 0.40, 0.25, 0.05), (14, 60), 0.2),
)
HEME = {"NEUT", "THROMB", "ANAEM", "FN"}
INFECTIONS = {"PNEU", "SEPSIS", "BACT", "URTI", "UTI", "ZOSTER", "ASPERG", "EBV", "CMV"}
AESI_KEYS = {"CRS", "ICANS", "AGVHD", "CGVHD", "CMV"} | HEME | INFECTIONS
SCALE = {"CRS": "ASTCT 2019", "ICANS": "ASTCT 2019", "AGVHD": "MAGIC", "CGVHD": "NIH 2014"}
DEATH_CAUSE = {
    "CRS": "CRS",
    "ICANS": "ICANS",
    "AGVHD": "GVHD",
    "CGVHD": "GVHD",
    "VOD": "OTHER TREATMENT-RELATED",
    "GF": "OTHER TREATMENT-RELATED",
} | dict.fromkeys(INFECTIONS, "INFECTION")
DEATH_TERM = {
    "RELAPSE/PROGRESSION OF ALL": "Death due to relapsed/progressive ALL",
    "INFECTION": "Death due to infection",
    "GVHD": "Death due to GVHD",
    "CRS": "Death due to cytokine release syndrome",
    "ICANS": "Death due to neurotoxicity (ICANS)",
    "OTHER": "Death due to other cause",
    "OTHER TREATMENT-RELATED": "Death due to transplant-related complication",
}

CUT_LABELS = {
    "escalation": "End of dose escalation",
    "interim": "Mid-expansion interim analysis",
    "final": "Final analysis (2-year follow-up)",
}


# ================================================================================================
# simulation of one subject
# ================================================================================================
@dataclass
class _AE:
    key: str
    st: int
    en: int | None
    grade: int
    ser: str
    rel: str
    out: str = "RECOVERED/RESOLVED"
    dlt: str = "N"
    partial: bool = False
    fatal: bool = False  # the event would kill the patient on its end day


@dataclass
class _Subject:
    """Everything simulated for one enrolled patient; days are relative to Day 0 (CD19 infusion)."""

    idx: int
    phase: str
    cohort: str
    dose_level: int
    site: str
    consent: dt.date
    d0: dt.date  # actual (or, if never infused, planned) Day 0
    infused: bool = True
    responder: bool = False
    dlt: bool = False
    last: int = 0  # last contact day
    day730: int = 0  # (planned) Day-730 visit day
    death: int | None = None
    death_cause: str = ""
    disp: tuple[str, str, int] | None = None  # (DSDECOD, DSTERM, day) ending the study
    aes: list[_AE] = field(default_factory=list)
    cms: list[tuple] = field(default_factory=list)  # (trt, class, indication, _AE treated, st, en, partial)
    pr: list[tuple] = field(default_factory=list)  # (cat, trt, ref, st, en)
    ex: list[tuple] = field(default_factory=list)  # (product, dose, day)
    rs: list[tuple] = field(default_factory=list)  # (testcd, result, value, visit, day)
    ck: list[tuple] = field(default_factory=list)  # (product, spec, method, value|None, visit, day)
    visits: dict[str, int] = field(default_factory=dict)
    baseline: dict = field(default_factory=dict)


def _u(rng, lo, hi) -> int:
    """Uniform integer day in [lo, hi] (scalar draws in plain Python: numpy's are slow one at a time)."""
    return lo + int(rng.random() * (hi - lo + 1))


def _pick(rng, probs) -> int:
    """Index drawn with the given probabilities."""
    x = rng.random() * sum(probs)
    for i, p in enumerate(probs):
        x -= p
        if x < 0:
            return i
    return len(probs) - 1


@dataclass
class _Course:
    """The state of one patient's simulated course while its clinical events are drawn in order
    (the order of the random draws is the order of the functions in :func:`_simulate_subject`)."""

    s: _Subject
    rng: np.random.Generator
    study: dict
    horizon: int
    death: float = math.inf
    cause: str = ""
    mrd_neg: bool = False
    cri: bool = False
    hsct: int | None = None
    graft_failure: bool = False
    severe_agvhd_day: int | None = None
    relapse: int | None = None
    cd22: int | None = None
    end_of_tx: int | None = None  # last day of scheduled assessments (relapse/progression)
    disc: tuple[str, str, int] | None = None
    stop: int = 0  # last day of scheduled assessments actually done

    def kill(self, day: float, why: str) -> None:
        """The patient dies on ``day`` of ``why`` unless an earlier death was drawn."""
        if day < self.death:
            self.death, self.cause = day, why

    def add_ae(self, key: str, st: int, dur: int, grade: int, rel_p: float = 0.5, fatal_p: float = 0.0) -> _AE:
        rng = self.rng
        ser_p = 1.0 if grade >= 4 else 0.6 if grade == 3 else 0.04
        rel = "RELATED" if key in ("CRS", "ICANS") or rng.random() < rel_p else "NOT RELATED"
        ae = _AE(key, st, st + dur, grade, "Y" if rng.random() < ser_p else "N", rel)
        if grade >= 3 and fatal_p and rng.random() < fatal_p:
            ae.fatal = True
            ae.en = st + max(1, dur // 2)
            ae.grade = 4 if SCALE.get(key) in ("MAGIC", "NIH 2014") else 5
            ae.ser = "Y"
            self.kill(ae.en, DEATH_CAUSE.get(key, "OTHER TREATMENT-RELATED"))
        elif rng.random() < (0.10 if key == "ICANS" else 0.03):
            ae.out = "RECOVERED/RESOLVED WITH SEQUELAE"
        self.s.aes.append(ae)
        return ae

    def add_cm(self, trt: str, clas: str, indc: str, ai: _AE, st: int, dur: int, partial: bool = False) -> None:
        self.s.cms.append((trt, clas, indc, ai, st, st + dur, partial))


def _simulate_subject(s: _Subject, rng: np.random.Generator, study: dict) -> None:
    """Simulate the clinical course of one infused patient (mutates ``s``): one function per
    clinical event, in the order the course unfolds."""
    c = _Course(s, rng, study, horizon=int(study["timeline"]["end_of_follow_up"]))
    for event in (
        _cd19_infusion,
        _crs_and_icans,
        _other_adverse_events,
        _early_response,
        _transplant,
        _relapse_and_cd22,
        _chronic_gvhd,
        _deaths_and_discontinuations,
        _visit_schedule,
        _disposition,
        _response_assessments,
        _dlt_adjudication,
        _close_at_last_contact,
        _cellular_kinetics,
    ):
        event(c)


def _cd19_infusion(c: _Course) -> None:
    """Lymphodepletion and the CD19 CAR-T infusion on Day 0 at the cohort's dose level."""
    s, tl = c.s, c.study["timeline"]
    ld0, ld1 = tl["lymphodepletion"]
    s.pr.append(("LYMPHODEPLETION", "Fludarabine/Cyclophosphamide", "CD19 CAR-T", ld0, ld1))
    dose = next(d["dose"] for d in c.study["dose_levels"] if d["level"] == s.dose_level)
    s.ex.append(("CD19 CAR-T", float(dose), 0))
    s.visits.update({"SCREENING": -(s.d0 - s.consent).days, "LYMPHODEPLETION": ld0, "DAY 0": 0})


def _crs_and_icans(c: _Course) -> None:
    """CRS and ICANS after CD19 CAR-T (ASTCT grades by dose level), with tocilizumab and steroids."""
    rng, dl = c.rng, c.s.dose_level
    crs_g = _pick(rng, CRS_GRADE_P[dl])
    if crs_g:
        st, dur = _u(rng, *CRS_ONSET_DAYS), _u(rng, *CRS_DURATION_DAYS)
        ai = c.add_ae("CRS", st, dur, min(crs_g, 4), fatal_p=1.0 if crs_g == 5 else 0.0)
        if crs_g >= 2:
            c.add_cm(
                "Tocilizumab",
                "IL-6 RECEPTOR ANTAGONIST",
                "Cytokine release syndrome",
                ai,
                st + _u(rng, 0, 1),
                _u(rng, 0, 1),
            )
        if crs_g >= 3 or (crs_g == 2 and rng.random() < STEROID_FOR_CRS2_P):
            c.add_cm(
                "Dexamethasone", "CORTICOSTEROID", "Cytokine release syndrome", ai, st + _u(rng, 1, 2), _u(rng, 2, 6)
            )
    if rng.random() < ICANS_ANY_P[dl]:
        g = _pick(rng, ICANS_GRADE_P) + 1
        st, dur = _u(rng, 3, 10), _u(rng, *ICANS_DURATION_DAYS)
        ai = c.add_ae("ICANS", st, dur, g)
        if g >= 2:
            c.add_cm("Dexamethasone", "CORTICOSTEROID", "ICANS", ai, st, _u(rng, 2, 7))


def _other_adverse_events(c: _Course) -> None:
    """Cytopenias, infections and other adverse events over the whole follow-up."""
    rng = c.rng
    for key, lo, hi, p, gp, (d_lo, d_hi), rel_p in GENERIC_AES:
        if rng.random() < p:
            g = _pick(rng, gp) + 1
            ae = c.add_ae(
                key, _u(rng, lo, hi), _u(rng, d_lo, d_hi), g, rel_p, INFECTION_FATAL_P if key in INFECTIONS else 0.0
            )
            if key not in AESI_KEYS and g <= 2 and ae.st > 0 and rng.random() < PARTIAL_DATE_P:
                ae.partial = True


def _early_response(c: _Course) -> None:
    """Response by Day 30 (known at about Day 14 for the transplant decision), MRD and CRi."""
    rng, s = c.rng, c.s
    s.responder = rng.random() < RESPONSE_P[s.dose_level]
    c.mrd_neg = s.responder and rng.random() < MRD_NEG_GIVEN_CR_P
    c.cri = s.responder and rng.random() < CRI_AT_DAY30_P


def _transplant(c: _Course) -> None:
    """Allo-HSCT of a responder, with its conditioning, graft failure, VOD, acute GVHD and CMV."""
    rng, s, tl = c.rng, c.s, c.study["timeline"]
    if s.responder and c.death > 12 and rng.random() < HSCT_ELIGIBLE_P:
        c.hsct = int(tl["hsct"]) + _u(rng, -2, 4)
        if c.death <= c.hsct:
            c.hsct = None
    hsct = c.hsct
    if hsct is None:
        return
    regimen = "Busulfan/Fludarabine/ATG" if s.baseline["DONORTYP"] == "HAPLOIDENTICAL" else "Busulfan/Fludarabine"
    s.pr.append(("CONDITIONING", regimen, "", hsct - 6, hsct - 1))
    s.pr.append(("ALLO-HSCT", "Allogeneic peripheral blood stem cell transplantation", "", hsct, hsct))
    s.visits["HSCT"] = hsct
    if rng.random() < GRAFT_FAILURE_P:
        c.graft_failure = True
        c.add_ae("GF", hsct + _u(rng, 21, 28), _u(rng, 14, 40), 4, 0.2, fatal_p=0.5)
    if rng.random() < VOD_P:
        c.add_ae("VOD", hsct + _u(rng, 5, 21), _u(rng, 10, 30), 3 + int(rng.random() < 0.4), 0.1, fatal_p=VOD_FATAL_P)
    if rng.random() < AGVHD_P:
        g = _pick(rng, AGVHD_GRADE_P) + 1
        st = hsct + 10 + int(rng.exponential(22))
        dur = _u(rng, 14, 60)
        ai = c.add_ae("AGVHD", st, dur, g, 0.3, fatal_p=AGVHD_FATAL_P.get(g, 0.0))
        if g >= 2:
            c.add_cm("Methylprednisolone", "CORTICOSTEROID", "Acute GVHD", ai, st + _u(rng, 0, 2), _u(rng, 14, 42))
        if g >= 3:
            c.severe_agvhd_day = st
            if rng.random() < 0.3:
                c.add_cm("Ruxolitinib", "OTHER", "Acute GVHD", ai, st + _u(rng, 5, 10), _u(rng, 28, 90))
    if rng.random() < CMV_P:
        st = hsct + _u(rng, 20, 80)
        ai = c.add_ae("CMV", st, _u(rng, 14, 40), 2 + int(rng.random() < 0.3), 0.0)
        c.add_cm("Ganciclovir", "OTHER", "CMV reactivation", ai, st + _u(rng, 0, 2), _u(rng, 14, 28))
    if rng.random() < CMV_LATE_P:
        st = _u(rng, 150, 400)
        ai = c.add_ae("CMV", st, _u(rng, 14, 30), 2, 0.0)
        c.add_cm("Valganciclovir", "OTHER", "CMV reactivation", ai, st + _u(rng, 0, 2), _u(rng, 14, 28))


def _relapse_and_cd22(c: _Course) -> None:
    """Relapse of a responder (hazard by consolidation and MRD) and the CD22 CAR-T infusion of a
    transplanted patient still in remission, with its CRS and ICANS."""
    rng, s, tl, study = c.rng, c.s, c.study["timeline"], c.study
    factor = 1.0 if c.mrd_neg else MRD_POS_RELAPSE_FACTOR
    if s.responder:
        h1 = RELAPSE_HAZARD["hsct_pre_cd22" if c.hsct is not None else "no_hsct"] * factor
        t = 30 + rng.exponential(1 / h1)
        cd22_day = int(tl["cd22"]) + _u(rng, -6, 8)
        if t < cd22_day or c.hsct is None:
            relapse = int(t)
        else:
            active_gvhd = c.severe_agvhd_day is not None and c.severe_agvhd_day > cd22_day - 45
            if c.death > cd22_day and not c.graft_failure and not active_gvhd and rng.random() >= CD22_REFUSAL_P:
                c.cd22 = cd22_day
            h2 = RELAPSE_HAZARD["cd22" if c.cd22 is not None else "hsct_no_cd22"] * factor
            relapse = int(cd22_day + rng.exponential(1 / h2))
        c.relapse = relapse if relapse <= c.horizon else None
    cd22 = c.cd22
    if cd22 is None:
        return
    ld0, ld1 = tl["lymphodepletion"]
    s.pr.append(("LYMPHODEPLETION", "Fludarabine/Cyclophosphamide", "CD22 CAR-T", cd22 + ld0, cd22 + ld1))
    s.ex.append(("CD22 CAR-T", float(study["cd22_dose"]), cd22))
    s.visits.update({"CD22 LYMPHODEPLETION": cd22 + ld0, "CD22 DAY 0": cd22})
    g = _pick(rng, CRS_CD22_GRADE_P)
    if g:
        st = cd22 + _u(rng, 1, 5)
        ai = c.add_ae("CRS", st, _u(rng, 2, 6), g)
        if g >= 2:
            c.add_cm("Tocilizumab", "IL-6 RECEPTOR ANTAGONIST", "Cytokine release syndrome", ai, st + 1, 0)
    if rng.random() < ICANS_CD22_P:
        c.add_ae("ICANS", cd22 + _u(rng, 3, 8), _u(rng, 2, 5), 1 + int(rng.random() < 0.3))


def _chronic_gvhd(c: _Course) -> None:
    """Chronic GVHD (NIH 2014 severity) after the transplant, with systemic therapy."""
    rng = c.rng
    if c.hsct is None or not rng.random() < CGVHD_P:
        return
    g = _pick(rng, CGVHD_GRADE_P) + 1
    st = c.hsct + 100 + int(rng.exponential(80))
    ai = c.add_ae("CGVHD", st, _u(rng, 60, 400), g, 0.2, fatal_p=CGVHD_FATAL_P if g == 3 else 0.0)
    if g >= 2:
        c.add_cm(
            "Prednisone",
            "CORTICOSTEROID",
            "Chronic GVHD",
            ai,
            st + _u(rng, 0, 7),
            _u(rng, 60, 240),
            partial=rng.random() < 0.15,
        )
    if g == 3 and rng.random() < 0.5:
        c.add_cm("Ruxolitinib", "OTHER", "Chronic GVHD", ai, st + _u(rng, 14, 30), _u(rng, 60, 200))


def _deaths_and_discontinuations(c: _Course) -> None:
    """Deaths from ALL after no response or relapse, other deaths, withdrawal and loss to follow-up."""
    rng, s = c.rng, c.s
    if rng.random() < OTHER_DEATH_P:
        c.kill(_u(rng, 60, c.horizon), "OTHER")
    if not s.responder:
        c.end_of_tx = 45
        if rng.random() < DEATH_AFTER_NR_P:
            c.kill(30 + int(rng.gamma(2.0, 45.0)), "RELAPSE/PROGRESSION OF ALL")
    elif c.relapse is not None and c.relapse < c.death:
        c.end_of_tx = c.relapse
        if rng.random() < DISCONTINUE_AFTER_RELAPSE_P:
            c.disc = ("PROGRESSIVE DISEASE", "Relapse; transferred to palliative care", c.relapse + _u(rng, 14, 45))
        elif rng.random() < DEATH_AFTER_RELAPSE_P:
            c.kill(c.relapse + 7 + int(rng.gamma(2.0, 70.0)), "RELAPSE/PROGRESSION OF ALL")
    if c.disc is None and rng.random() < WITHDRAWAL_P:
        c.disc = ("WITHDRAWAL BY SUBJECT", "Withdrew consent", _u(rng, 60, 600))
    elif c.disc is None and rng.random() < LOST_TO_FOLLOW_UP_P:
        c.disc = ("LOST TO FOLLOW-UP", "Lost to follow-up", _u(rng, 200, 700))


def _visit_schedule(c: _Course) -> None:
    """Visits as scheduled (with windows) up to the last contact; survival follow-up contacts after
    relapse or no response; the last contact, death day and cause."""
    rng, s, study, horizon = c.rng, c.s, c.study, c.horizon

    def jit(day: int) -> int:
        return day + (0 if day <= 14 else _u(rng, -1, 1) if day <= 28 else _u(rng, -3, 3))

    for d in CK_DAYS:
        s.visits[f"DAY {d}"] = jit(d)
    for d in study["response"]["visits"] + study["response"]["later_visits"]:
        s.visits[f"DAY {d}"] = s.visits.get(f"DAY {d}", jit(d))
    if c.cd22 is not None:
        for d in CK_DAYS:
            s.visits[f"CD22 DAY {d}"] = c.cd22 + jit(d)
    day730 = s.day730 = s.visits[f"DAY {horizon}"]
    if c.death < math.inf and c.death <= day730:
        s.death, s.death_cause = int(c.death), c.cause
        last = s.death
    else:
        last = day730
    if c.disc is not None and c.disc[2] < last:
        last = c.disc[2]
        s.death, s.death_cause = None, ""
        if c.disc[0] == "LOST TO FOLLOW-UP":
            last = c.disc[2] - 90
    s.last = last
    # scheduled assessments run to the Day-730 visit as scheduled (within its window, possibly after Day 730)
    c.stop = min(last, c.end_of_tx if c.end_of_tx is not None else day730)
    s.visits = {v: d for v, d in s.visits.items() if d <= c.stop or v in ("SCREENING", "LYMPHODEPLETION")}
    if c.end_of_tx is not None:
        if c.relapse is not None and s.responder and c.relapse <= last:
            s.visits["RELAPSE"] = c.relapse
        k, d = 1, c.end_of_tx + SURVIVAL_CONTACT_DAYS
        while d < last:
            s.visits[f"SURVIVAL FOLLOW-UP {k}"] = d
            k, d = k + 1, d + SURVIVAL_CONTACT_DAYS
        if s.death is None and last == day730:
            s.visits[f"DAY {horizon}"] = day730  # survival contact at 2 years


def _disposition(c: _Course) -> None:
    """How the study ended for the patient: death, discontinuation or completion."""
    s = c.s
    if s.death is not None:
        s.disp = ("DEATH", DEATH_TERM[s.death_cause], s.death)
    elif c.disc is not None and c.disc[2] <= s.day730:
        s.disp = c.disc
    else:
        s.disp = ("COMPLETED", "Completed 2-year follow-up", s.day730)


def _response_assessments(c: _Course) -> None:
    """Response (NCCN ALL) and MRD records at every assessment done, and at relapse."""
    rng, s, study = c.rng, c.s, c.study
    vis = [
        d
        for d in study["response"]["visits"] + study["response"]["later_visits"]
        if f"DAY {d}" in s.visits and s.visits[f"DAY {d}"] <= c.stop
    ]
    mrd_level = float(10 ** rng.uniform(-2.0, -0.3))
    for d in vis:
        day = s.visits[f"DAY {d}"]
        if not s.responder:
            res = "NR" if d == 30 else "PD"
            lvl = float(s.baseline["BMBLAST"]) * (0.5 if d == 30 else 1.2)
            s.rs += [("OVRLRESP", res, None, f"DAY {d}", day), ("MRD", "POSITIVE", min(lvl, 95.0), f"DAY {d}", day)]
            continue
        res = "CRI" if d == 30 and c.cri else "CR"
        neg = c.mrd_neg or (d >= 45 and c.hsct is not None and rng.random() < 0.5)
        s.rs += [
            ("OVRLRESP", res, None, f"DAY {d}", day),
            ("MRD", "NEGATIVE" if neg else "POSITIVE", None if neg else mrd_level, f"DAY {d}", day),
        ]
    if "RELAPSE" in s.visits:
        day = s.visits["RELAPSE"]
        s.rs += [
            ("OVRLRESP", "RELAPSE", None, "RELAPSE", day),
            ("MRD", "POSITIVE", float(rng.uniform(5, 60)), "RELAPSE", day),
        ]


def _dlt_adjudication(c: _Course) -> None:
    """The safety review committee's DLT adjudication of the AEs starting in the DLT window."""
    s = c.s
    w0, w1 = c.study["dlt"]["window"]
    for ae in s.aes:
        if not (w0 <= ae.st <= w1) or ae.st > s.last:
            continue
        dlt = (
            (ae.key == "CRS" and ae.grade >= 4)
            or (ae.key == "ICANS" and ae.grade >= 3 and ae.en is not None and (ae.en - ae.st) > 3)
            or (ae.key == "AGVHD" and ae.grade >= 3)
            or ae.key == "GF"
            or (ae.key not in HEME and ae.key not in INFECTIONS and ae.grade >= 4 and ae.rel == "RELATED")
            or (ae.fatal and ae.rel == "RELATED" and ae.en == s.death and ae.en <= w1)
        )
        if dlt:
            ae.dlt, s.dlt = "Y", True


def _close_at_last_contact(c: _Course) -> None:
    """What is known at the last contact: later records dropped, open events ongoing."""
    s = c.s
    kept = []
    for ae in s.aes:
        if ae.st > s.last:
            continue
        if ae.fatal and not (s.death is not None and ae.en == s.death):
            ae.fatal = False
            ae.grade = min(ae.grade, 4)
        if ae.fatal:
            ae.out = "FATAL"
        elif ae.en is None or ae.en > s.last:
            ae.en, ae.out = None, "NOT RECOVERED/NOT RESOLVED"
        kept.append(ae)
    s.cms = [
        (t, c_, ind, ae, st, (en if en <= s.last else None), part)
        for t, c_, ind, ae, st, en, part in s.cms
        if st <= s.last
    ]
    s.aes = kept
    s.pr = [p for p in s.pr if p[3] <= s.last]
    s.ex = [e for e in s.ex if e[2] <= s.last]


def _cellular_kinetics(c: _Course) -> None:
    """CAR-T expansion and persistence per product in blood and CSF by flow cytometry and qPCR
    (fewer CD19 CAR-T cells after the transplant's conditioning); values below the LLOQ as such."""
    rng, s, dl = c.rng, c.s, c.s.dose_level
    products = [("CD19 CAR-T", 0, "DAY {}")] + ([("CD22 CAR-T", c.cd22, "CD22 DAY {}")] if c.cd22 is not None else [])
    for prod, day0, vfmt in products:
        shift = CK_DOSE_SLOPE * (dl - 2) if prod == "CD19 CAR-T" else 0.0
        if not s.responder and prod == "CD19 CAR-T":
            shift += CK_NONRESPONDER_SHIFT
        cmax = 10 ** (CK_LOG10_CMAX[prod] + shift + CK_LOG10_CMAX_SD * rng.standard_normal())
        tmax = rng.uniform(*CK_TMAX_DAYS)
        csf_ratio = CK_CSF_RATIO * math.exp(CK_CSF_RATIO_SD * rng.standard_normal())
        names = [vfmt.format(d) for d in CK_DAYS]
        present = [n for n in names if n in s.visits]
        if not present:
            continue
        t = np.array([s.visits[n] - day0 for n in present], dtype=float)
        rise = cmax * np.exp(-np.log(cmax / CK_C0) / tmax * np.clip(tmax - t, 0, None))
        dt_ = np.clip(t - tmax, 0, None)
        fall = cmax * (
            CK_FAST_FRACTION * np.exp(-math.log(2) / CK_FAST_HALF_LIFE * dt_)
            + (1 - CK_FAST_FRACTION) * np.exp(-math.log(2) / CK_SLOW_HALF_LIFE * dt_)
        )
        conc = np.where(t <= tmax, rise, fall)
        if prod == "CD19 CAR-T" and c.hsct is not None:
            conc = np.where(t > c.hsct, conc * CK_CONDITIONING_FACTOR, conc)
        for spec in ("PERIPHERAL BLOOD", "CSF"):
            missed = rng.random(len(t))  # one draw (or lumbar puncture) serves both methods
            for method in ("FLOW CYTOMETRY", "QPCR"):
                scale = (CK_QPCR_PER_CELL if method == "QPCR" else 1.0) * (csf_ratio if spec == "CSF" else 1.0)
                vals = conc * scale * np.exp(CK_NOISE_SD[method] * rng.standard_normal(len(t)))
                for name, tt, v, m in zip(present, t, vals, missed):
                    nominal = int(name.rsplit(" ", 1)[1])
                    if spec == "CSF" and (nominal not in CK_CSF_DAYS or m > CK_CSF_P):
                        continue
                    if spec != "CSF" and m < CK_MISSED_P:
                        continue
                    lloq = CK_LLOQ[method]
                    s.ck.append((prod, spec, method, float(v) if v >= lloq else None, name, int(tt) + day0))


def _baseline(rng: np.random.Generator) -> dict:
    """Demographics and baseline disease of one patient."""
    age = int(np.clip(round(rng.gamma(4.0, 8.0)) + 6, 5, 68))
    sex = "M" if rng.random() < 0.58 else "F"
    weight = 18 + 2.6 * age if age < 18 else rng.normal(72 if sex == "M" else 60, 10)
    blasts = float(np.clip(rng.lognormal(math.log(25), 1.2), 0.1, 95))
    disstat = ("PRIMARY REFRACTORY", "FIRST RELAPSE", "SECOND OR LATER RELAPSE", "RELAPSE AFTER HSCT")[
        _pick(rng, (0.22, 0.40, 0.26, 0.12))
    ]
    return {
        "AGE": age,
        "SEX": sex,
        "WEIGHTBL": float(max(weight, 15.0)),
        "RACE": "ASIAN",
        "ETHNIC": "NOT HISPANIC OR LATINO",
        "COUNTRY": "CHN",
        "DONORTYP": ("MATCHED SIBLING", "MATCHED UNRELATED", "HAPLOIDENTICAL")[_pick(rng, (0.3, 0.2, 0.5))],
        "DISSTAT": disstat,
        "PRLINES": 1 + _pick(rng, (0.3, 0.35, 0.2, 0.15)),
        "PRHSCT": "Y" if disstat == "RELAPSE AFTER HSCT" else "N",
        "PRBLIN": "Y" if rng.random() < 0.25 else "N",
        "PRINO": "Y" if rng.random() < 0.15 else "N",
        "PHSTAT": ("POSITIVE", "NEGATIVE", "UNKNOWN")[_pick(rng, (0.25, 0.70, 0.05))],
        "BMBLAST": blasts,
        "MRDBL": None if rng.random() < 0.05 else min(blasts * float(rng.uniform(0.8, 1.1)), 95.0),
        "CNSSTAT": ("CNS1", "CNS2", "CNS3")[_pick(rng, (0.85, 0.10, 0.05))],
        "EMDFL": "Y" if rng.random() < 0.12 else "N",
        "CYTORISK": ("STANDARD", "HIGH", "UNKNOWN")[_pick(rng, (0.45, 0.45, 0.10))],
        "DIAG_DAYS_BEFORE": int(rng.integers(120, 2000)),
        "DIAG_PARTIAL": rng.random() < 0.2,
        "BIRTH_DOY": int(rng.integers(0, 365)),
    }


# ================================================================================================
# the trial: 3+3 escalation, expansion, cut dates
# ================================================================================================
@dataclass
class Trial:
    """The simulated trial: subjects in enrolment order, the recommended dose and the derived cut dates."""

    subjects: list[_Subject]
    rp2d: int
    cut_dates: dict[str, dt.date]
    escalation_log: list[tuple[str, int, int, int]]  # (cohort, dose level, patients, DLTs)


def _new_subject(idx, seed, phase, cohort, dl, site, consent, study) -> tuple[_Subject, np.random.Generator]:
    rng = np.random.default_rng([seed, idx])
    base = _baseline(rng)
    d0 = consent + dt.timedelta(days=_u(rng, *SCREENING_DAYS))
    s = _Subject(idx, phase, cohort, dl, site, consent, d0, baseline=base)
    return s, rng


def simulate(n_subjects: int = N_SUBJECTS, seed: int = SEED, root: Path | None = None) -> Trial:
    """Simulate one trial of ``n_subjects`` enrolled patients (3+3 escalation, then expansion)."""
    if n_subjects < 3:
        raise ValueError(f"n_subjects must be at least 3 (one escalation cohort), got {n_subjects}")
    study = config.load_study(root)
    levels = sorted(int(d["level"]) for d in study["dose_levels"])
    w1 = int(study["dlt"]["window"][1])
    subjects: list[_Subject] = []
    log: list[tuple[str, int, int, int]] = []
    treated = dict.fromkeys(levels, 0)
    dlts = dict.fromkeys(levels, 0)
    start = FIRST_CONSENT

    def run_cohort(level: int) -> int:
        nonlocal start
        cohort = f"E{len(log) + 1}"
        k = min(3, n_subjects - len(subjects))
        n_dlt = 0
        last_d0 = start
        for j in range(k):
            consent = start + dt.timedelta(days=SENTINEL_GAP_DAYS * j)
            s, rng = _new_subject(len(subjects), seed, "DOSE ESCALATION", cohort, level, SITES[0], consent, study)
            if subjects and s.d0 <= subjects[-1].d0:
                s.d0 = subjects[-1].d0 + dt.timedelta(days=SENTINEL_GAP_DAYS)
            _simulate_subject(s, rng, study)
            subjects.append(s)
            n_dlt += s.dlt
            last_d0 = s.d0
        treated[level] += k
        dlts[level] += n_dlt
        log.append((cohort, level, k, n_dlt))
        start = last_d0 + dt.timedelta(days=w1 + SRC_REVIEW_DAYS)
        return n_dlt

    def room() -> bool:
        return len(subjects) < n_subjects

    def confirm_below(level: int) -> int:
        """MTD exceeded at ``level``: the highest lower level with <=1/6 DLTs (treating up to 6 there)."""
        for lv in reversed([x for x in levels if x < level]):
            while treated[lv] < 6 and dlts[lv] < 2 and room():
                run_cohort(lv)
            if dlts[lv] <= 1:
                return lv
        return levels[0]  # no tolerated level: simplification, expansion proceeds at the lowest

    # 3+3: escalate on 0/3 or <=1/6; add 3 on 1/3; MTD exceeded on >=2 DLTs; the RP2D needs 6 patients.
    rp2d = None
    level = levels[0]
    while rp2d is None and room():
        run_cohort(level)
        if dlts[level] >= 2:
            rp2d = confirm_below(level)
        elif treated[level] == 3 and dlts[level] == 1:
            continue  # expand to 6 at the same level
        elif level == levels[-1]:
            if treated[level] >= 6:
                rp2d = level  # otherwise: confirm the top level in 6 patients
        else:
            level = levels[levels.index(level) + 1]
    if rp2d is None:  # ran out of patients during escalation
        rp2d = level
    esc_end = subjects[-1].d0 + dt.timedelta(days=w1)

    # expansion: Poisson accrual at the RP2D
    n_exp = n_subjects - len(subjects)
    rate = EXPANSION_ACCRUAL_PER_MONTH * max(1.0, n_exp / N_EXPANSION_DEFAULT) / 30.4375
    arng = np.random.default_rng([seed, 10**9])
    offsets = np.floor(np.cumsum(arng.exponential(1 / rate, n_exp))).astype(int)
    opening = esc_end + dt.timedelta(days=SRC_REVIEW_DAYS + EXPANSION_OPEN_DAYS)
    sites = arng.choice(len(SITES), size=n_exp, p=SITE_WEIGHTS)
    n_never = min(n_exp, round(NEVER_INFUSED_FRACTION * n_subjects))
    never = set(arng.choice(n_exp, size=n_never, replace=False).tolist()) if n_exp else set()
    exp_consents = []
    for j in range(n_exp):
        day = opening + dt.timedelta(days=int(offsets[j]))
        exp_consents.append(day)
        s, rng = _new_subject(len(subjects), seed, "DOSE EXPANSION", "X", rp2d, SITES[sites[j]], day, study)
        if j in never:
            s.infused = False
            why = (
                ("PROGRESSIVE DISEASE", "Disease progression before infusion")
                if rng.random() < 0.6
                else ("WITHDRAWAL BY SUBJECT", "Withdrew consent before infusion")
            )
            s.last = -(s.d0 - s.consent).days + _u(rng, 7, 20)
            s.disp = (why[0], why[1], s.last)
            s.visits = {"SCREENING": -(s.d0 - s.consent).days}
        else:
            _simulate_subject(s, rng, study)
        subjects.append(s)

    cut_dates = {"escalation": esc_end}
    if n_exp:
        cut_dates["interim"] = exp_consents[math.ceil(n_exp / 2) - 1] + dt.timedelta(days=INTERIM_AFTER_HALF_DAYS)
    cut_dates["final"] = max(
        s.d0 + dt.timedelta(days=max(s.day730, s.disp[2] if s.disp else s.day730)) for s in subjects
    )
    return Trial(subjects, rp2d, cut_dates, log)


# ================================================================================================
# records
# ================================================================================================
_ISO_CACHE: dict[int, str] = {}


def _iso(d0: dt.date, day: int | None) -> str:
    """ISO date of study day ``day`` (Day 0 = ``d0``); cached because it is called per record."""
    if day is None:
        return ""
    o = d0.toordinal() + int(day)
    text = _ISO_CACHE.get(o)
    if text is None:
        text = _ISO_CACHE[o] = dt.date.fromordinal(o).isoformat()
    return text


def _f(x: float | None, nd: int) -> str:
    return "" if x is None else f"{x:.{nd}f}"


def _records(trial: Trial, study: dict) -> dict[str, pd.DataFrame]:
    """Full-trial domain tables (all columns as text) with hidden ``_D`` (inclusion date) columns."""
    sid = study["study"]["id"]
    width = max(3, len(str(len(trial.subjects))))
    rows: dict[str, list] = {d: [] for d in sdtm.DOMAINS}
    lloq = {"FLOW CYTOMETRY": _f(CK_LLOQ["FLOW CYTOMETRY"], 1), "QPCR": _f(CK_LLOQ["QPCR"], 0)}
    for s in trial.subjects:
        subj = f"{s.idx + 1:0{width}d}"
        u = f"{sid}-{s.site}-{subj}"
        iso = lambda day, d0=s.d0: _iso(d0, day)
        b = s.baseline
        consent = s.consent.isoformat()
        birth = s.consent - dt.timedelta(days=int(b["AGE"] * 365.25 + b["BIRTH_DOY"]))
        rows["dm"].append(
            dict(
                STUDYID=sid,
                USUBJID=u,
                SUBJID=subj,
                SITEID=s.site,
                RFICDTC=consent,
                RFSTDTC=s.d0.isoformat() if s.infused else "",
                BRTHDTC=birth.isoformat()[:7],
                AGE=str(b["AGE"]),
                AGEU="YEARS",
                SEX=b["SEX"],
                RACE=b["RACE"],
                ETHNIC=b["ETHNIC"],
                COUNTRY=b["COUNTRY"],
                WEIGHTBL=_f(b["WEIGHTBL"], 1),
                PHASE=s.phase,
                COHORT=s.cohort,
                DOSELVL=str(s.dose_level),
                DONORTYP=b["DONORTYP"],
                _D=consent,
            )
        )
        diag = (s.consent - dt.timedelta(days=b["DIAG_DAYS_BEFORE"])).isoformat()
        rows["bl"].append(
            dict(
                USUBJID=u,
                DIAGDTC=diag[:7] if b["DIAG_PARTIAL"] else diag,
                DISSTAT=b["DISSTAT"],
                PRLINES=str(b["PRLINES"]),
                PRHSCT=b["PRHSCT"],
                PRBLIN=b["PRBLIN"],
                PRINO=b["PRINO"],
                PRTKI="Y" if b["PHSTAT"] == "POSITIVE" else "N",
                BMBLAST=_f(b["BMBLAST"], 1),
                MRDBL=_f(b["MRDBL"], 2),
                CNSSTAT=b["CNSSTAT"],
                EMDFL=b["EMDFL"],
                CYTORISK=b["CYTORISK"],
                PHSTAT=b["PHSTAT"],
                _D=consent,
            )
        )
        for i, (prod, dose, day) in enumerate(sorted(s.ex, key=lambda e: e[2]), 1):
            rows["ex"].append(
                dict(
                    USUBJID=u,
                    EXSEQ=str(i),
                    EXTRT=prod,
                    EXDOSE=f"{dose:.0f}",
                    EXDOSU="CAR+ cells/kg",
                    EXROUTE="INTRAVENOUS",
                    EXSTDTC=iso(day),
                    _D=iso(day),
                )
            )
        for i, (cat, trt, ref, st, en) in enumerate(sorted(s.pr, key=lambda p: (p[3], p[0])), 1):
            rows["pr"].append(
                dict(
                    USUBJID=u,
                    PRSEQ=str(i),
                    PRCAT=cat,
                    PRTRT=trt,
                    PRREF=ref,
                    PRSTDTC=iso(st),
                    PRENDTC=iso(en if en <= s.last else None),
                    _D=iso(st),
                )
            )
        # AEs: sequence by start day then term; CMs refer to the new AESEQ
        order = sorted(range(len(s.aes)), key=lambda i: (s.aes[i].st, PT[s.aes[i].key][1], i))
        seq_of = {}
        for seq, i in enumerate(order, 1):
            ae = s.aes[i]
            seq_of[id(ae)] = seq
            term, decod, soc = PT[ae.key]
            st = iso(ae.st)
            rows["ae"].append(
                dict(
                    USUBJID=u,
                    AESEQ=str(seq),
                    AETERM=term,
                    AEDECOD=decod,
                    AEBODSYS=soc,
                    AESTDTC=st[:7] if ae.partial else st,
                    AEENDTC=iso(ae.en),
                    AETOXGR=str(ae.grade),
                    AEGRSCL=SCALE.get(ae.key, "CTCAE v5.0"),
                    AESER=ae.ser,
                    AEREL=ae.rel,
                    AEOUT=ae.out,
                    AEDLT=ae.dlt,
                    _D=st,
                )
            )
        cms = sorted(s.cms, key=lambda c: (c[4], c[0]))
        for i, (trt, clas, indc, ai, st, en, part) in enumerate(cms, 1):
            sd = iso(st)
            rows["cm"].append(
                dict(
                    USUBJID=u,
                    CMSEQ=str(i),
                    CMTRT=trt,
                    CMCLAS=clas,
                    CMINDC=indc,
                    CMAESEQ=str(seq_of[id(ai)]) if ai is not None else "",
                    CMSTDTC=sd[:7] if part else sd,
                    CMENDTC=iso(en),
                    _D=sd,
                )
            )
        rs = sorted(s.rs, key=lambda r: (r[4], r[0] == "MRD"))
        for i, (tc, res, val, visit, day) in enumerate(rs, 1):
            rows["rs"].append(
                dict(
                    USUBJID=u,
                    RSSEQ=str(i),
                    RSTESTCD=tc,
                    RSSTRESC=res,
                    RSSTRESN=_f(val, 4),
                    VISIT=visit,
                    RSDTC=iso(day),
                    _D=iso(day),
                )
            )
        ds = [("PROTOCOL MILESTONE", "INFORMED CONSENT", "Informed consent obtained", "", -(s.d0 - s.consent).days)]
        if s.disp is not None:
            dec, term, day = s.disp
            ds.append(("DISPOSITION EVENT", dec, term, s.death_cause if dec == "DEATH" else "", day))
        for i, (cat, dec, term, caus, day) in enumerate(ds, 1):
            rows["ds"].append(
                dict(
                    USUBJID=u,
                    DSSEQ=str(i),
                    DSCAT=cat,
                    DSDECOD=dec,
                    DSTERM=term,
                    DTHCAUS=caus,
                    DSSTDTC=iso(day),
                    _D=iso(day),
                )
            )
        for visit, day in sorted(s.visits.items(), key=lambda v: (v[1], v[0])):
            rows["sv"].append((u, visit, iso(day), iso(day)))  # tuples in column order: the big domains
        ck = sorted(s.ck, key=lambda c: (c[5], c[0], c[1], c[2]))
        for i, (prod, spec, method, val, visit, day) in enumerate(ck, 1):
            nd = 2 if method == "FLOW CYTOMETRY" else 0
            num = _f(val, nd)
            rows["ck"].append(
                (
                    u,
                    str(i),
                    prod,
                    spec,
                    method,
                    num if val is not None else "<LLOQ",
                    num,
                    CK_UNIT[method],
                    lloq[method],
                    visit,
                    iso(day),
                    iso(day),
                )
            )
    out = {}
    for name, dom in sdtm.DOMAINS.items():
        cols = [c.name for c in dom.columns]
        df = pd.DataFrame(rows[name], columns=cols + ["_D"])
        keys: list[str] = ["USUBJID", "SVSTDTC", "VISIT"] if name == "sv" else list(dom.key)  # visits in time order
        out[name] = df.sort_values(keys, key=_sort_key).reset_index(drop=True)
    return out


def _sort_key(col: pd.Series) -> pd.Series:
    return col.astype(int) if col.name.endswith("SEQ") else col


def cut_records(full: dict[str, pd.DataFrame], cut_date: dt.date) -> dict[str, pd.DataFrame]:
    """What is known at ``cut_date``: records dated <= the cut; ends after it become ongoing."""
    c = cut_date.isoformat()
    out = {}
    for name, df in full.items():
        df = df[df["_D"] <= c].copy()
        if name == "dm":
            df.loc[df["RFSTDTC"] > c, "RFSTDTC"] = ""
        for col in ("PRENDTC", "AEENDTC", "CMENDTC"):
            if col in df:
                late = df[col] > c
                df.loc[late, col] = ""
                if col == "AEENDTC":  # outcome not known yet; a later death is not known either
                    df.loc[late, "AEOUT"] = "NOT RECOVERED/NOT RESOLVED"
                    df.loc[late & (df["AETOXGR"] == "5"), "AETOXGR"] = "4"
        out[name] = df.drop(columns="_D").reset_index(drop=True)
    return out


def _write(tables: dict[str, pd.DataFrame], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(df.columns)
            w.writerows(df.itertuples(index=False, name=None))


def generate(
    out_dir: Path, n_subjects: int = N_SUBJECTS, seed: int = SEED, root: Path | None = None
) -> dict[str, Path]:
    """Simulate one trial and write ``out_dir/<cut>/<domain>.csv`` for every cut declared in params.

    Cut dates of the three standard cuts (escalation, interim, final) are derived from the simulated
    enrolment (so they also fit ``n_subjects != 48``); any other declared cut uses its params date.
    """
    study = config.load_study(root)
    trial = simulate(n_subjects, seed, root)
    full = _records(trial, study)
    written = {}
    for cut_id in config.list_cuts(root):
        date = trial.cut_dates.get(cut_id) or config.load_cut(cut_id, root).cut_date
        folder = Path(out_dir) / cut_id
        _write(cut_records(full, date), folder)
        written[cut_id] = folder
    return written


def cut_params(n_subjects: int = N_SUBJECTS, seed: int = SEED, root: Path | None = None) -> dict[str, dict]:
    """The ``params/<cut>.yml`` contents for the simulated trial (used to write the committed files)."""
    dates = simulate(n_subjects, seed, root).cut_dates
    ids = list(dates)
    return {
        cid: {
            "id": cid,
            "label": CUT_LABELS[cid],
            "cut_date": dates[cid].isoformat(),
            "data_dir": f"synthetic_data/{cid}",
            "kind": "final" if cid == "final" else "interim",
            "previous": ids[i - 1] if i else None,
        }
        for i, cid in enumerate(ids)
    }


# ================================================================================================
# calibration summary (a simple check straight from the SDTM-like files)
# ================================================================================================
def calibration(data_dir: Path) -> dict[str, float]:
    """Headline numbers of a cut (percentages) straight from its SDTM-like files, to check calibration.

    Denominators: safety population (CD19 CAR-T given); acute GVHD: transplanted patients; chronic
    GVHD: transplanted patients alive 100 days after the transplant. 2-year OS: Kaplan-Meier with
    the last visit as censoring date.
    """
    r = {
        n: pd.read_csv(Path(data_dir) / f"{n}.csv", dtype=str, keep_default_na=False)
        for n in ("dm", "ae", "rs", "ds", "pr", "sv")
    }
    saf = r["dm"][r["dm"]["RFSTDTC"] != ""]
    n = len(saf)
    d0 = pd.to_datetime(saf.set_index("USUBJID")["RFSTDTC"])

    def day(frame, col):
        return (pd.to_datetime(frame.set_index("USUBJID")[col]) - d0).dropna().dt.days

    ae = r["ae"][r["ae"]["USUBJID"].isin(d0.index)]
    grade = ae["AETOXGR"].astype(int)

    def subjects(decod, min_grade=1, among=None):
        hit = ae.loc[(ae["AEDECOD"] == decod) & (grade >= min_grade), "USUBJID"]
        return hit[hit.isin(among)].nunique() if among is not None else hit.nunique()

    def pct(num, den):
        return round(100.0 * num / den, 1) if den else math.nan

    pr = r["pr"]
    hsct_day = day(pr[pr["PRCAT"] == "ALLO-HSCT"], "PRSTDTC")
    ds = r["ds"]
    death_day = day(ds[ds["DSDECOD"] == "DEATH"], "DSSTDTC")
    alive100 = hsct_day[(hsct_day + 100) < death_day.reindex(hsct_day.index).fillna(math.inf)].index
    rs = r["rs"][r["rs"]["USUBJID"].isin(d0.index) & (r["rs"]["VISIT"] == "DAY 30")]
    cr30 = rs[(rs["RSTESTCD"] == "OVRLRESP") & rs["RSSTRESC"].isin(["CR", "CRI"])]["USUBJID"]
    mrdneg30 = rs[(rs["RSTESTCD"] == "MRD") & (rs["RSSTRESC"] == "NEGATIVE")]["USUBJID"]
    last_day = day(r["sv"], "SVSTDTC").groupby(level=0).max().reindex(d0.index).fillna(0)
    time = death_day.reindex(d0.index).fillna(last_day)
    event = d0.index.isin(death_day.index)
    surv = 1.0
    for t in sorted(time[event & (time <= 730)].unique()):
        surv *= 1 - ((time == t) & event).sum() / (time >= t).sum()
    cr_ae = r["ae"]
    return {
        "safety_n": n,
        "hsct_n": len(hsct_day),
        "crs_any": pct(subjects("Cytokine release syndrome"), n),
        "crs_ge3": pct(subjects("Cytokine release syndrome", 3), n),
        "icans_any": pct(subjects("Immune effector cell-associated neurotoxicity syndrome"), n),
        "icans_ge3": pct(subjects("Immune effector cell-associated neurotoxicity syndrome", 3), n),
        "agvhd_2_4": pct(subjects("Acute graft versus host disease", 2, hsct_day.index), len(hsct_day)),
        "agvhd_3_4": pct(subjects("Acute graft versus host disease", 3, hsct_day.index), len(hsct_day)),
        "cgvhd": pct(subjects("Chronic graft versus host disease", 1, alive100), len(alive100)),
        "cr_d30": pct(cr30.nunique(), n),
        "mrdneg_d30": pct(mrdneg30.nunique(), n),
        "os_2y": round(100.0 * float(surv), 1),
        "dlt_subjects": int(cr_ae.loc[cr_ae["AEDLT"] == "Y", "USUBJID"].nunique()),
    }
