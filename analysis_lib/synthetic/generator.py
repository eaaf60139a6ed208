"""Seeded synthetic trial: one simulated CD19 CAR-T -> allo-HSCT -> CD22 CAR-T study, cut at several dates.

``generate()`` simulates ONE underlying trial (3+3 dose escalation driven by the simulated DLTs, then
expansion at the recommended dose) and writes, for every data cut declared in ``params/``, the SDTM-like
domains of ``analysis_lib.trial.sdtm`` as ``<out>/<cut>/<domain>.csv``. A cut keeps only what is known at
its date, so a later cut only adds information. Output is byte-identical for the same seed.

All calibration of the simulation (rates, durations, kinetics) lives in the named constants below;
protocol parameters (dose levels, timeline, visits) come from ``params/study.yml``.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis_lib.trial import config, io, sdtm, sdtm_standard

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

# --- laboratory (LB) and transfusions (XT) -------------------------------------------------------
# Drawn per subject from its own stream, default_rng([seed, idx, LB_STREAM]), after the clinical
# simulation: the other domains do not depend on it. Consistency with the course: the worst CTCAE
# grade of a count inside a Neutropenia/Thrombocytopenia/Anaemia AE (before any transplant
# conditioning) is the AE's grade, and outside such AEs no worse than at baseline; CRS grade sets
# the cytokine peaks; B-cell aplasia lasts while CAR-T cells are detectable by flow cytometry in
# blood, then recovers (not before donor B-cell reconstitution after HSCT); chimerism rises after
# HSCT and falls at relapse; counts fall at relapse.
LB_STREAM = 12
LB_ORDER = {tc: i for i, tc in enumerate(sdtm.LB_TESTS)}
LB_DIGITS = {
    "NEUT": 2,
    "PLAT": 0,
    "HGB": 0,
    "LYM": 2,
    "CRP": 1,
    "FERRITIN": 0,
    "IL6": 1,
    "IGG": 2,
    "CD19": 1,
    "CHIMER": 1,
}
LB_DAILY_NO_HSCT = 28  # daily counts to Day 28 without a transplant
LB_DAILY_AFTER_HSCT = 35  # ... to 35 days after HSCT (longer until platelet engraftment)
LB_MARKER_DAILY = 14  # CRP, ferritin, IL-6 daily to Day 14 (and CD22 Day 0-10 at its visits)
LB_BASELINE = {  # median, log-SD, clip range of the baseline value (standard units)
    "NEUT": (2.6, 0.45, (1.2, 8.0)),
    "PLAT": (150.0, 0.5, (30.0, 400.0)),
    "HGB": (112.0, 0.12, (78.0, 160.0)),
    "LYM": (1.3, 0.5, (0.4, 5.0)),
    "IGG": (7.5, 0.35, (2.5, 16.0)),
    "CD19": (120.0, 0.9, (15.0, 800.0)),
}
LB_TARGET = {"NEUT": (3.2, 0.3), "PLAT": (200.0, 0.3), "HGB": (128.0, 0.08)}  # recovered level after CAR-T
LB_RECOVERY_DAYS = 21  # baseline -> recovered level (CAR-T phase, outside cytopenia AEs)
ANC_ENGRAFT = (10.0, 2.0, 2.0)  # days after HSCT: offset + gamma(shape, scale) (median ~13)
PLT_AFTER_ANC = (0.0, 2.0, 1.5)  # platelet after neutrophil engraftment: offset + gamma (median ~2.5)
PLT_POOR_GRAFT_P = 0.05  # no platelet engraftment within the daily sampling
ANC_FALSE_START_P = 0.15  # one day >= threshold a few days before the sustained rise
PLT_TRANSFUSE_BELOW = 15.0  # prophylactic platelet transfusion below this count (10^9/L)
RBC_TRANSFUSE_BELOW = 70.0  # red cells below this haemoglobin (g/L)
MARKER_BASE = {"IL6": (4.0, 0.5), "CRP": (5.0, 0.8), "FERRITIN": (700.0, 0.6)}
MARKER_PEAK = {  # median peak by CRS grade 0..5 (donor-derived CD19 CAR-T; rises with grade)
    "IL6": (15.0, 60.0, 250.0, 1200.0, 3000.0, 5000.0),
    "CRP": (20.0, 60.0, 110.0, 180.0, 240.0, 280.0),
    "FERRITIN": (900.0, 1800.0, 4000.0, 12000.0, 30000.0, 50000.0),
}
MARKER_PEAK_SD = 0.5
MARKER_LAG = {"IL6": 1, "CRP": 2, "FERRITIN": 3}  # peak day after CRS onset
MARKER_HALF_LIFE = {"IL6": 1.0, "CRP": 2.0, "FERRITIN": 4.0}  # days
IGG_HALF_LIFE, IGG_RECOVERY_HALF_TIME = 25.0, 60.0
B_APLASIA_NR_P = 0.6  # B-cell aplasia in a non-responder
B_RECOVERY_LAG = (14, 60)  # days after the last detectable CAR-T sample
B_HSCT_RECONSTITUTION = (60, 150)  # donor B cells not before this many days after HSCT
CD19_POS_RELAPSE_P = 0.6
MIXED_CHIMERISM_P = 0.10

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
    lb: list[tuple] = field(default_factory=list)  # (testcd, value, visit, day)
    xt: list[tuple] = field(default_factory=list)  # (blood product, day)


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
    if not s.responder:  # assessed up to the induction assessment (its visit date: _visit_schedule)
        c.end_of_tx = int(c.study["time_to_event"]["efs"]["induction_assessment_day"])
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

    def in_order(prefix: str, day0: int, drawn: dict[int, int]) -> None:
        # windows of neighbouring nominal days overlap (Day 28 +/- 1, Day 30 +/- 3): a visit is never
        # on or before the visit of an earlier nominal day (moved to the day after it, still in window)
        prev = -math.inf
        for d in sorted(drawn):
            day = max(drawn[d], prev + 1)
            s.visits[f"{prefix}{d}"] = day0 + int(day)
            prev = day

    drawn = {d: jit(d) for d in CK_DAYS}
    for d in study["response"]["visits"] + study["response"]["later_visits"]:
        x = jit(d)  # drawn for every day (the draws of the rest of the course do not depend on CK_DAYS)
        drawn.setdefault(d, x)
    in_order("DAY ", 0, drawn)
    if c.cd22 is not None:
        in_order("CD22 DAY ", c.cd22, {d: jit(d) for d in CK_DAYS})
    if not s.responder and c.end_of_tx is not None and f"DAY {c.end_of_tx}" in s.visits:
        c.end_of_tx = s.visits[f"DAY {c.end_of_tx}"]  # the induction assessment's visit, within its window
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


# ================================================================================================
# laboratory values and transfusions (own random stream, after the clinical course)
# ================================================================================================
def _grade_limits(study: dict, testcd: str) -> list[float]:
    """CTCAE limits of a graded count (params ``laboratory.ctcae``), grade 1 at the LLN."""
    lln = sdtm.LB_TESTS[testcd].low or 0.0
    return [float(lln if x == "LLN" else x) for x in study["laboratory"]["ctcae"][testcd]["limits"]]


LB_LOWEST = {"NEUT": 0.02, "PLAT": 5.0, "HGB": 62.0}  # lower end of the most severe graded band


def _band(limits: list[float], grade: int, lowest: float = 0.0) -> tuple[float, float]:
    """Values of CTCAE ``grade`` (>= 1): [lower, upper) with a margin inside the band."""
    hi = limits[grade - 1]
    lo = limits[grade] if grade < len(limits) else lowest
    return lo * 1.03, hi * 0.97


def _impose(v: dict[int, float], rng, st: int, en: int, g: int, limits: list[float], lowest: float) -> None:
    """A cytopenia AE of grade ``g`` on [st, en): values fall to the grade's band, never below it,
    with the nadir on the day after onset -- or on the onset day when that is the last sample of
    the series (``v`` ends where transplant conditioning starts), so the grade is always sampled."""
    lo, hi = _band(limits, g, lowest)
    nadir = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    end = max(en, st + 1)
    nadir_day = max((d for d in v if st <= d <= min(st + 1, end - 1)), default=None)
    for d in sorted(v):
        if st <= d < end:
            depth = min(1.0, (d - st + 1) / 2) * min(1.0, (end - d) / 3)
            w = math.exp(math.log(v[d]) + depth * (math.log(nadir) - math.log(v[d])))
            w *= math.exp(0.05 * rng.standard_normal())
            v[d] = min(v[d], max(w, lo))
            if d == nadir_day:
                v[d] = min(v[d], nadir)


def _lognorm(rng, median: float, sd: float) -> float:
    return float(median * math.exp(sd * rng.standard_normal()))


def _lab_calendar(s: _Subject, hsct: int | None, daily_end: int, lab_end: int) -> dict[int, str]:
    """Study day -> VISIT of every possible laboratory sample (named visits first, then daily days)."""
    cal: dict[int, str] = {}
    for name, day in sorted(s.visits.items(), key=lambda v: (v[1], v[0])):
        if name.startswith("SURVIVAL") or day > lab_end:
            continue
        cal.setdefault(day, name)
    for d in range(1, min(daily_end, lab_end) + 1):
        cal.setdefault(d, f"DAY {d}")
    return cal


def _cytopenia_windows(s: _Subject, key: str, end: int) -> list[tuple[int, int, int]]:
    """(start, end, grade) of the subject's cytopenia AEs of ``key`` (ongoing: to ``end``)."""
    return [(ae.st, ae.en if ae.en is not None else end, ae.grade) for ae in s.aes if ae.key == key]


def _count_series(
    rng, days: list[int], base: float, target: float, limits: list[float], phase_end: float, noise: float = 0.12
) -> dict[int, float]:
    """A blood count through the CAR-T phase (days < ``phase_end``): baseline up to Day 0, then a
    drift to ``target``, never worse than the baseline grade (AE windows are imposed after)."""
    base_grade = sum(base < x for x in limits)
    floor = max(limits[base_grade] if base_grade < len(limits) else 0.0, min(base, limits[0] * 1.01))
    out: dict[int, float] = {}
    for d in days:
        if d >= phase_end:
            continue
        if d <= 0:
            out[d] = base * math.exp(0.05 * rng.standard_normal()) if d < 0 else base
            continue
        level = base + (target - base) * min(1.0, d / LB_RECOVERY_DAYS)
        out[d] = max(level * math.exp(noise * rng.standard_normal()), floor)
    return out


def _laboratory(s: _Subject, rng: np.random.Generator, study: dict) -> None:
    """LB records (haematology, CRS markers, IgG, CD19+ B cells, donor chimerism) and platelet/red
    cell transfusions (XT) of one infused subject, consistent with the simulated course."""
    lab = study["laboratory"]
    pr = {p[0]: p for p in s.pr if p[0] != "LYMPHODEPLETION"}
    hsct = pr["ALLO-HSCT"][3] if "ALLO-HSCT" in pr else None
    cond = pr["CONDITIONING"][3] if "CONDITIONING" in pr else None
    cd22 = next((e[2] for e in s.ex if e[0] == "CD22 CAR-T"), None)
    relapse = s.visits.get("RELAPSE")
    gf = next((ae for ae in s.aes if ae.key == "GF"), None)
    lab_end = min(max(s.visits.values()), s.last)
    if s.death is not None:
        lab_end = min(lab_end, s.death - 1)
    # engraftment targets (days after HSCT)
    anc_eng = plt_eng = None
    if hsct is not None:
        anc_eng = hsct + round(ANC_ENGRAFT[0] + rng.gamma(ANC_ENGRAFT[1], ANC_ENGRAFT[2]))
        plt_eng = anc_eng + round(PLT_AFTER_ANC[0] + rng.gamma(PLT_AFTER_ANC[1], PLT_AFTER_ANC[2]))
        if rng.random() < PLT_POOR_GRAFT_P:
            plt_eng = None
        if gf is not None:
            anc_eng = plt_eng = None
    false_start = rng.random() < ANC_FALSE_START_P
    if hsct is None:
        daily_end = LB_DAILY_NO_HSCT
    else:
        daily_end = hsct + LB_DAILY_AFTER_HSCT
        if plt_eng is not None:
            daily_end = max(daily_end, plt_eng + 10)
    cal = _lab_calendar(s, hsct, daily_end, lab_end)
    days = sorted(cal)
    named = {d for d in days if not (1 <= d <= daily_end) or cal[d] != f"DAY {d}"}
    phase_end = cond if cond is not None else math.inf
    values: dict[str, dict[int, float]] = {}

    # --- haematology -----------------------------------------------------------------------
    heme_days = [d for d in days if d >= -30]
    for tc, key in (("NEUT", "NEUT"), ("PLAT", "THROMB"), ("HGB", "ANAEM")):
        med, sd, (lo, hi) = LB_BASELINE[tc]
        base = float(np.clip(_lognorm(rng, med, sd), lo, hi))
        limits = _grade_limits(study, tc)
        windows = _cytopenia_windows(s, key, lab_end)
        early = [w for w in windows if w[0] < phase_end]
        if early:  # an AE is a worsening: the baseline count is of a milder grade than the AE's
            base = max(base, limits[min(g for _, _, g in early) - 1] * 1.03)
        target = max(base, _lognorm(rng, *LB_TARGET[tc]))
        v = _count_series(rng, heme_days, base, target, limits, phase_end, 0.04 if tc == "HGB" else 0.12)
        values[tc] = v
        for st, en, g in early:
            _impose(v, rng, st, en, g, limits, LB_LOWEST[tc])
        if hsct is None:
            continue
        pre = v[max(d for d in v)] if v else base
        post = _lognorm(rng, *LB_TARGET[tc])
        for d in heme_days:
            if d < phase_end:
                continue
            if tc == "NEUT":
                if d <= hsct + 3:
                    f = (d - phase_end) / (hsct + 3 - phase_end)
                    x = math.exp(math.log(pre) + f * (math.log(0.03) - math.log(pre)))
                elif anc_eng is None or d < anc_eng:
                    x = min(0.45, 0.03 * math.exp(0.5 * rng.standard_normal()) * (1 + 0.1 * max(0, d - hsct - 5)))
                    if false_start and anc_eng is not None and d == anc_eng - 3:
                        x = rng.uniform(0.5, 0.7)
                else:
                    x = min(post, 0.55 * 1.35 ** (d - anc_eng)) * math.exp(0.1 * rng.standard_normal())
                    x = max(x, 0.52 if d < anc_eng + 7 else 0.3)
            elif tc == "PLAT":
                if d <= hsct + 5:
                    f = (d - phase_end) / (hsct + 5 - phase_end)
                    x = math.exp(math.log(pre) + f * (math.log(12.0) - math.log(pre)))
                elif plt_eng is not None and plt_eng - 4 <= d < plt_eng:
                    x = rng.uniform(15.5, 19.4)  # rising through the transfusion threshold
                elif plt_eng is None or d < plt_eng:
                    x = min(18.4, 9.0 * math.exp(0.3 * rng.standard_normal()))
                else:
                    x = min(post, 21.0 * 1.08 ** (d - plt_eng)) * math.exp(0.08 * rng.standard_normal())
                    x = max(x, 20.5 if d < plt_eng + 10 else 12.0)
            else:  # haemoglobin: conditioning anaemia, recovery over about two months
                eng = anc_eng if anc_eng is not None else math.inf
                nadir = 85.0 * math.exp(0.06 * rng.standard_normal())
                if d < eng:
                    f = min(1.0, (d - phase_end) / 10)
                    x = pre + f * (nadir - pre)
                else:
                    x = nadir + (post - nadir) * min(1.0, (d - eng) / 60)
                x = max(x * math.exp(0.03 * rng.standard_normal()), 66.0)
            v[d] = x
        recovered = (plt_eng if tc == "PLAT" else anc_eng) or math.inf
        for st, en, g in windows:  # later cytopenia AEs, after the graft has taken
            if st >= phase_end and st > recovered + 10:
                _impose(v, rng, st, en, g, limits, LB_LOWEST[tc])
    # transfusions: platelets below the prophylactic threshold (increment the next two days),
    # red cells below the haemoglobin threshold
    last_tx = -99
    for d in sorted(values["PLAT"]):
        x = values["PLAT"][d]
        if x < PLT_TRANSFUSE_BELOW and d - last_tx >= 2 and d >= 0:
            s.xt.append(("PLATELETS", d))
            last_tx = d
            for k, inc in ((1, 25.0), (2, 12.0)):
                if d + k in values["PLAT"]:
                    values["PLAT"][d + k] += inc * math.exp(0.2 * rng.standard_normal())
    for d in sorted(values["HGB"]):
        if values["HGB"][d] < RBC_TRANSFUSE_BELOW and d >= 0:
            s.xt.append(("RED BLOOD CELLS", d))
            if d + 1 in values["HGB"]:
                values["HGB"][d + 1] += 12.0
    # relapse: marrow infiltration lowers the counts
    if relapse is not None:
        for tc in ("NEUT", "PLAT", "HGB"):
            for d in values[tc]:
                if d >= relapse:
                    values[tc][d] *= max(0.3 if tc != "HGB" else 0.7, math.exp(-0.03 * (d - relapse + 7)))
    # lymphocytes: lymphodepletion, CAR-T expansion, conditioning, slow reconstitution
    med, sd, (lo, hi) = LB_BASELINE["LYM"]
    lym0 = float(np.clip(_lognorm(rng, med, sd), lo, hi))
    car: dict[int, float] = {}
    for _prod, spec, method, val, _, day in s.ck:
        if spec == "PERIPHERAL BLOOD" and method == "FLOW CYTOMETRY" and val is not None:
            car[day] = car.get(day, 0.0) + val
    ld0 = int(study["timeline"]["lymphodepletion"][0])
    lym = {}
    for d in heme_days:
        if d < ld0 + 2:
            x = lym0 * math.exp(0.08 * rng.standard_normal())
        else:
            nad = 0.12
            if hsct is not None and d >= phase_end:
                t = d - phase_end
                x = 0.05 + 1.0 * (1 - math.exp(-max(0, t - 20) / 120))
            else:
                x = nad + (lym0 * 0.8 - nad) * min(1.0, max(0, d - 3) / 40)
            if cd22 is not None and cd22 + ld0 <= d <= cd22 + 30:
                x = min(x, 0.15 + 0.6 * max(0, d - cd22) / 30)
            x = x * math.exp(0.15 * rng.standard_normal()) + car.get(d, 0.0) / 1000.0
        lym[d] = max(x, 0.01)
    values["LYM"] = lym

    # --- CRS markers --------------------------------------------------------------------------
    crs = [ae for ae in s.aes if ae.key == "CRS"]
    crs19 = next((ae for ae in crs if cd22 is None or ae.st < cd22), None)
    episodes = [(crs19.st if crs19 else _u(rng, 3, 6), crs19.grade if crs19 else 0, 1.0)]
    if cd22 is not None:
        c22 = next((ae for ae in crs if ae.st >= cd22), None)
        episodes.append((c22.st if c22 else cd22 + _u(rng, 2, 5), c22.grade if c22 else 0, 0.8))
    infections = [(ae.st, ae.grade) for ae in s.aes if ae.key in INFECTIONS and ae.grade >= 2]
    marker_days = [
        d
        for d in days
        if d >= ld0 - 30
        and (d <= LB_MARKER_DAILY or d in named or (hsct is not None and hsct <= d <= daily_end and d % 3 == 0))
    ]
    for tc in ("IL6", "CRP", "FERRITIN"):
        b = _lognorm(rng, *MARKER_BASE[tc])
        peaks = [
            (st + MARKER_LAG[tc], scale * _lognorm(rng, MARKER_PEAK[tc][g], MARKER_PEAK_SD))
            for st, g, scale in episodes
        ]
        if tc != "FERRITIN":
            peaks += [(st + 1, _lognorm(rng, 60.0 if tc == "CRP" else 30.0, 0.5)) for st, g in infections]
        if hsct is not None:
            peaks.append((hsct + 7, _lognorm(rng, 30.0 if tc == "CRP" else 20.0, 0.4)))
        hl = MARKER_HALF_LIFE[tc]
        vals = {}
        for d in marker_days:
            if tc == "IL6" and not (d <= LB_MARKER_DAILY or (cd22 is not None and cd22 + ld0 <= d <= cd22 + 14)):
                continue
            x = b
            for pd_, pk in peaks:
                dist = d - pd_
                x += pk * math.exp(-math.log(2) / (hl if dist >= 0 else 0.7) * abs(dist))
            vals[d] = x * math.exp(0.1 * rng.standard_normal())
        values[tc] = vals

    # --- B-cell aplasia (CD19+ B cells), IgG, chimerism ---------------------------------------
    thr = float(lab["b_cell_aplasia_below"])
    detectable = [day for (_, spec, method, val, _, day) in s.ck if spec == "PERIPHERAL BLOOD" and val is not None]
    sampled = [day for (_, spec, _, _, _, day) in s.ck if spec == "PERIPHERAL BLOOD"]
    aplasia = s.responder or rng.random() < B_APLASIA_NR_P
    onset = _u(rng, 5, 10)
    last_det = max(detectable) if detectable else onset
    ongoing = bool(sampled) and max(sampled) == last_det and (cd22 is not None or last_det >= 180)
    recover = math.inf if ongoing else last_det + _u(rng, *B_RECOVERY_LAG)
    if not s.responder:
        recover = min(recover, onset + _u(rng, 21, 60))
    if hsct is not None:
        recover = max(recover, hsct + _u(rng, *B_HSCT_RECONSTITUTION))
    cd19_relapse = relapse is not None and rng.random() < CD19_POS_RELAPSE_P
    if cd19_relapse and relapse is not None:
        recover = min(recover, relapse)
    med, sd, (lo, hi) = LB_BASELINE["CD19"]
    b0 = float(np.clip(_lognorm(rng, med, sd), lo, hi))
    b_target = _lognorm(rng, 250.0, 0.4)
    cd19_days = [
        d
        for d in days
        if d <= 0
        or d in (7, 14, 28)
        or (d in named and cal[d].startswith(("DAY", "CD22 DAY 28", "RELAPSE")) and d > 28)
    ]
    bc = {}
    for d in cd19_days:
        if d <= 0 or not aplasia:
            x = b0 * math.exp(0.15 * rng.standard_normal())
            if aplasia is False and d > 0:
                x = max(x, thr * 1.5)
        elif d < onset:
            x = max(thr * 1.2, b0 * 0.5)
        elif d < recover:
            x = float(rng.uniform(0.0, thr * 0.6))
        elif cd19_relapse and relapse is not None and d >= relapse:
            x = _lognorm(rng, 800.0, 0.8) + thr  # CD19+ blasts
        else:
            x = max(
                thr * 1.05, min(b_target, thr * 1.2 * 1.04 ** (d - recover)) * math.exp(0.1 * rng.standard_normal())
            )
        bc[d] = x
    values["CD19"] = bc
    med, sd, (lo, hi) = LB_BASELINE["IGG"]
    g0 = float(np.clip(_lognorm(rng, med, sd), lo, hi))
    floor = rng.uniform(2.5, 4.5)
    hypogam = [(ae.st, ae.en if ae.en is not None else lab_end) for ae in s.aes if ae.key == "HYPOGAM"]
    igg = {}
    for d in cd19_days:
        if d <= 0 or not aplasia or d < onset:
            x = g0 * math.exp(0.05 * rng.standard_normal())
        elif d < recover:
            x = floor + (g0 - floor) * math.exp(-math.log(2) / IGG_HALF_LIFE * (d - onset))
        else:
            at = floor + (g0 - floor) * math.exp(-math.log(2) / IGG_HALF_LIFE * (recover - onset))
            x = at + (8.5 - at) * (1 - math.exp(-math.log(2) / IGG_RECOVERY_HALF_TIME * (d - recover)))
        x *= math.exp(0.06 * rng.standard_normal())
        if any(st <= d <= en for st, en in hypogam):
            x = min(x, rng.uniform(3.0, 5.5))
        igg[d] = x
    values["IGG"] = igg
    if hsct is not None:
        after = [d for d in days if d >= hsct + 12]
        picks = {next((d for d in after if d >= hsct + k), None) for k in (14, 28)}
        picks |= {d for d in after if d in named and d > hsct + 28}
        mixed = rng.random() < MIXED_CHIMERISM_P
        ch = {}
        for d in sorted(x for x in picks if x is not None):
            if gf is not None and d >= gf.st - 7:
                x = rng.uniform(1.0, 10.0)
            elif relapse is not None and d >= relapse:
                x = rng.uniform(30.0, 85.0)
            elif mixed:
                x = min(94.0, 70.0 + 0.1 * (d - hsct) + rng.uniform(-5, 5))
            elif d < hsct + 20:
                x = rng.uniform(88.0, 100.0)
            else:
                x = min(100.0, rng.uniform(96.0, 100.5))
            ch[d] = x
        values["CHIMER"] = ch
    for tc, vals in values.items():
        for d in sorted(vals):
            s.lb.append((tc, float(vals[d]), cal.get(d, f"DAY {d}"), d))


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
    for s in subjects:  # after the whole clinical simulation, from separate streams (other domains unchanged)
        if s.infused:
            _laboratory(s, np.random.default_rng([seed, s.idx, LB_STREAM]), study)
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
    lb_range = {tc: (_f(t.low, LB_DIGITS[tc]), _f(t.high, LB_DIGITS[tc])) for tc, t in sdtm.LB_TESTS.items()}
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
        lb = sorted(s.lb, key=lambda r: (r[3], LB_ORDER[r[0]]))
        for i, (tc, val, visit, day) in enumerate(lb, 1):
            test = sdtm.LB_TESTS[tc]
            num = _f(max(val, 0.0), LB_DIGITS[tc])
            rows["lb"].append(
                (u, str(i), tc, test.name, test.category, num, num, test.unit, lb_range[tc][0], lb_range[tc][1])
                + (visit, iso(day), iso(day))
            )
        for i, (prod, day) in enumerate(sorted(s.xt, key=lambda r: (r[1], r[0])), 1):
            rows["xt"].append((u, str(i), prod, iso(day), iso(day)))
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


def _write(tables: dict[str, pd.DataFrame], folder: Path, cut_date: dt.date) -> None:
    """Write the analysis view ``tables`` as its standard SDTM delivery, one SAS XPT v5 file per
    dataset (``sdtm_standard.from_view``); the XPT headers carry the cut date as their timestamp so
    a rerun writes the same bytes. Files of an earlier layout (CSV, other datasets) are removed."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.is_file() and old.suffix.lower() in io.EXTENSIONS:
            old.unlink()
    delivery = sdtm_standard.from_view(tables)
    stamp = dt.datetime.combine(cut_date, dt.time(0))
    for name in sdtm_standard.DELIVERY_ORDER:
        label = (
            sdtm_standard.DELIVERY[name].label
            if name in sdtm_standard.DELIVERY
            else f"Supplemental Qualifiers for {name[4:].upper()}"
        )
        io.write_xpt(delivery[name], folder / f"{name}.xpt", label, stamp, sdtm_standard.numeric_variables(name))


def generate(
    out_dir: Path, n_subjects: int = N_SUBJECTS, seed: int = SEED, root: Path | None = None
) -> dict[str, Path]:
    """Simulate one trial and write ``out_dir/<cut>/<dataset>.xpt`` (standard SDTM) for every cut declared in params.

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
        _write(cut_records(full, date), folder, date)
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
    """Headline numbers of a cut (percentages) from its SDTM delivery, through the analysis view, to
    check calibration.

    Denominators: safety population (CD19 CAR-T given); acute GVHD: transplanted patients; chronic
    GVHD: transplanted patients alive 100 days after the transplant. 2-year OS: Kaplan-Meier with
    the last visit as censoring date.
    """
    r = sdtm_standard.to_view(io.read_delivery(data_dir)[0])
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
