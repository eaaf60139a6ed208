"""The input contract: SDTM-like domains this project reads, one file per domain per data cut.

This module is the single machine-readable definition of the inputs. The synthetic generator writes
exactly these columns; validation (`csr validate`) checks them; a real study delivers the same
domains as CSV, Parquet or SAS XPT (`<domain>.csv|.parquet|.xpt`, lower-case domain name).

Column kinds:
  ``str``   free text;  ``int`` / ``float`` numbers;  ``date`` ISO 8601 date (YYYY-MM-DD);
  ``pdate`` ISO 8601 date that may be partial (YYYY or YYYY-MM) — imputed by the rule in
  ``params/study.yml`` (``partial_dates``);  ``cat`` a controlled term (``terms``).
A column with ``required=False`` may be absent or empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # str | int | float | date | pdate | cat
    label: str
    terms: tuple[str, ...] = ()
    required: bool = True  # column must exist and every value must be non-empty
    nullable: bool = False  # column must exist but values may be empty


@dataclass(frozen=True)
class Domain:
    name: str
    label: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # unique key
    dates: tuple[tuple[str, str], ...] = field(default=())  # (start, end) pairs: end >= start

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


C = Column
Y_N = ("Y", "N")
PRODUCTS = ("CD19 CAR-T", "CD22 CAR-T")


@dataclass(frozen=True)
class LabTest:
    """One laboratory test of the LB contract: its name, category, standard unit and the normal
    range the synthetic delivery uses (a real delivery sends its own ranges in LBSTNRLO/HI)."""

    name: str
    category: str
    unit: str
    low: float | None
    high: float | None


# LBTESTCD -> test (CDISC controlled terminology codes where one exists; CHIMER is sponsor-defined)
LB_TESTS: dict[str, LabTest] = {
    "NEUT": LabTest("Neutrophils", "HEMATOLOGY", "10^9/L", 1.8, 7.5),
    "PLAT": LabTest("Platelets", "HEMATOLOGY", "10^9/L", 150.0, 400.0),
    "HGB": LabTest("Hemoglobin", "HEMATOLOGY", "g/L", 120.0, 160.0),
    "LYM": LabTest("Lymphocytes", "HEMATOLOGY", "10^9/L", 1.0, 4.0),
    "CRP": LabTest("C Reactive Protein", "CHEMISTRY", "mg/L", 0.0, 10.0),
    "FERRITIN": LabTest("Ferritin", "CHEMISTRY", "ug/L", 30.0, 400.0),
    "IL6": LabTest("Interleukin 6", "CYTOKINES", "pg/mL", 0.0, 7.0),
    "IGG": LabTest("Immunoglobulin G", "IMMUNOLOGY", "g/L", 7.0, 16.0),
    "CD19": LabTest("CD19+ B Lymphocytes", "IMMUNOPHENOTYPING", "cells/uL", 100.0, 500.0),
    "CHIMER": LabTest("Donor Chimerism, Peripheral Blood", "CHIMERISM", "%", None, None),
}

DOMAINS: dict[str, Domain] = {
    "dm": Domain(
        "dm",
        "Demographics (one row per enrolled subject)",
        (
            C("STUDYID", "str", "Study identifier"),
            C("USUBJID", "str", "Unique subject identifier"),
            C("SUBJID", "str", "Subject identifier within study"),
            C("SITEID", "str", "Site identifier"),
            C("RFICDTC", "date", "Date of informed consent"),
            C("RFSTDTC", "date", "Date of CD19 CAR-T infusion (Day 0); empty if never infused", nullable=True),
            C("BRTHDTC", "pdate", "Birth date (may be partial)", required=False),
            C("AGE", "int", "Age at consent (years)"),
            C("AGEU", "cat", "Age unit", ("YEARS",)),
            C("SEX", "cat", "Sex", ("M", "F")),
            C("RACE", "str", "Race"),
            C("ETHNIC", "str", "Ethnicity", required=False),
            C("COUNTRY", "str", "Country"),
            C("WEIGHTBL", "float", "Baseline weight (kg)"),
            C("PHASE", "cat", "Study phase", ("DOSE ESCALATION", "DOSE EXPANSION")),
            C("COHORT", "str", "Cohort (escalation: E1, E2, ...; expansion: X)"),
            C("DOSELVL", "int", "Assigned CD19 CAR-T dose level (1, 2, 3, as in params/study.yml)"),
            C("DONORTYP", "cat", "Donor type", ("MATCHED SIBLING", "MATCHED UNRELATED", "HAPLOIDENTICAL")),
        ),
        key=("USUBJID",),
    ),
    "bl": Domain(
        "bl",
        "Baseline disease characteristics (one row per enrolled subject)",
        (
            C("USUBJID", "str", "Unique subject identifier"),
            C("DIAGDTC", "pdate", "Date of initial B-ALL diagnosis (may be partial)"),
            C(
                "DISSTAT",
                "cat",
                "Disease status at enrolment",
                ("PRIMARY REFRACTORY", "FIRST RELAPSE", "SECOND OR LATER RELAPSE", "RELAPSE AFTER HSCT"),
            ),
            C("PRLINES", "int", "Number of prior lines of therapy"),
            C("PRHSCT", "cat", "Prior allogeneic HSCT", Y_N),
            C("PRBLIN", "cat", "Prior blinatumomab", Y_N),
            C("PRINO", "cat", "Prior inotuzumab ozogamicin", Y_N),
            C("PRTKI", "cat", "Prior tyrosine kinase inhibitor", Y_N),
            C("BMBLAST", "float", "Bone marrow blasts at screening (%)"),
            C("MRDBL", "float", "MRD at screening by flow cytometry (% of nucleated cells)", nullable=True),
            C("CNSSTAT", "cat", "CNS status", ("CNS1", "CNS2", "CNS3")),
            C("EMDFL", "cat", "Extramedullary disease", Y_N),
            C("CYTORISK", "cat", "Cytogenetic risk", ("STANDARD", "HIGH", "UNKNOWN")),
            C("PHSTAT", "cat", "Philadelphia chromosome", ("POSITIVE", "NEGATIVE", "UNKNOWN")),
        ),
        key=("USUBJID",),
    ),
    "ex": Domain(
        "ex",
        "Exposure: CAR-T infusions (one row per infusion)",
        (
            C("USUBJID", "str", "Unique subject identifier"),
            C("EXSEQ", "int", "Sequence number"),
            C("EXTRT", "cat", "Product", PRODUCTS),
            C("EXDOSE", "float", "Dose (CAR+ cells/kg)"),
            C("EXDOSU", "cat", "Dose unit", ("CAR+ cells/kg",)),
            C("EXROUTE", "cat", "Route", ("INTRAVENOUS",)),
            C("EXSTDTC", "date", "Infusion date"),
        ),
        key=("USUBJID", "EXSEQ"),
    ),
    "pr": Domain(
        "pr",
        "Procedures: lymphodepletion and allogeneic HSCT",
        (
            C("USUBJID", "str", "Unique subject identifier"),
            C("PRSEQ", "int", "Sequence number"),
            C("PRCAT", "cat", "Category", ("LYMPHODEPLETION", "CONDITIONING", "ALLO-HSCT")),
            C("PRTRT", "str", "Procedure or regimen (e.g. Fludarabine/Cyclophosphamide)"),
            C(
                "PRREF",
                "cat",
                "Product the procedure prepares for (lymphodepletion only)",
                PRODUCTS + ("",),
                required=False,
            ),
            C("PRSTDTC", "date", "Start date"),
            C("PRENDTC", "date", "End date", nullable=True),
        ),
        key=("USUBJID", "PRSEQ"),
        dates=(("PRSTDTC", "PRENDTC"),),
    ),
    "ae": Domain(
        "ae",
        "Adverse events (one row per event)",
        (
            C("USUBJID", "str", "Unique subject identifier"),
            C("AESEQ", "int", "Sequence number"),
            C("AETERM", "str", "Reported term"),
            C("AEDECOD", "str", "MedDRA preferred term"),
            C("AEBODSYS", "str", "MedDRA system organ class"),
            C("AESTDTC", "pdate", "Start date (may be partial)"),
            C("AEENDTC", "pdate", "End date; empty if ongoing", nullable=True),
            C("AETOXGR", "int", "Toxicity grade 1-5 (on the scale in AEGRSCL)"),
            C("AEGRSCL", "cat", "Grading scale", ("CTCAE v5.0", "ASTCT 2019", "MAGIC", "NIH 2014")),
            C("AESER", "cat", "Serious", Y_N),
            C("AEREL", "cat", "Related to study treatment (investigator)", ("RELATED", "NOT RELATED")),
            C(
                "AEOUT",
                "cat",
                "Outcome",
                (
                    "RECOVERED/RESOLVED",
                    "RECOVERING/RESOLVING",
                    "NOT RECOVERED/NOT RESOLVED",
                    "RECOVERED/RESOLVED WITH SEQUELAE",
                    "FATAL",
                ),
            ),
            C("AEDLT", "cat", "Dose-limiting toxicity as adjudicated by the SRC", Y_N),
        ),
        key=("USUBJID", "AESEQ"),
        dates=(("AESTDTC", "AEENDTC"),),
    ),
    "cm": Domain(
        "cm",
        "Concomitant medications of interest (tocilizumab, corticosteroids, ...)",
        (
            C("USUBJID", "str", "Unique subject identifier"),
            C("CMSEQ", "int", "Sequence number"),
            C("CMTRT", "str", "Medication"),
            C("CMCLAS", "cat", "Class", ("IL-6 RECEPTOR ANTAGONIST", "CORTICOSTEROID", "OTHER")),
            C("CMINDC", "str", "Indication (e.g. Cytokine release syndrome)"),
            C("CMAESEQ", "int", "AESEQ of the event treated", nullable=True),
            C("CMSTDTC", "pdate", "Start date"),
            C("CMENDTC", "pdate", "End date", nullable=True),
        ),
        key=("USUBJID", "CMSEQ"),
        dates=(("CMSTDTC", "CMENDTC"),),
    ),
    "rs": Domain(
        "rs",
        "Disease response (NCCN ALL) and MRD by visit",
        (
            C("USUBJID", "str", "Unique subject identifier"),
            C("RSSEQ", "int", "Sequence number"),
            C("RSTESTCD", "cat", "Test", ("OVRLRESP", "MRD")),
            C("RSSTRESC", "cat", "Result", ("CR", "CRI", "NR", "RELAPSE", "PD", "NE", "NEGATIVE", "POSITIVE")),
            C("RSSTRESN", "float", "MRD level (% of nucleated cells), MRD rows only", nullable=True),
            C("VISIT", "str", "Nominal visit (e.g. DAY 30)"),
            C("RSDTC", "date", "Assessment date"),
        ),
        key=("USUBJID", "RSSEQ"),
    ),
    "ds": Domain(
        "ds",
        "Disposition, milestones and deaths",
        (
            C("USUBJID", "str", "Unique subject identifier"),
            C("DSSEQ", "int", "Sequence number"),
            C("DSCAT", "cat", "Category", ("PROTOCOL MILESTONE", "DISPOSITION EVENT")),
            C(
                "DSDECOD",
                "cat",
                "Standardised term",
                (
                    "INFORMED CONSENT",
                    "COMPLETED",
                    "DEATH",
                    "PROGRESSIVE DISEASE",
                    "WITHDRAWAL BY SUBJECT",
                    "PHYSICIAN DECISION",
                    "LOST TO FOLLOW-UP",
                    "ADVERSE EVENT",
                    "SCREEN FAILURE",
                ),
            ),
            C("DSTERM", "str", "Reported term"),
            C(
                "DTHCAUS",
                "cat",
                "Cause of death category (DEATH rows only)",
                (
                    "",
                    "RELAPSE/PROGRESSION OF ALL",
                    "INFECTION",
                    "GVHD",
                    "CRS",
                    "ICANS",
                    "OTHER TREATMENT-RELATED",
                    "OTHER",
                ),
                nullable=True,
            ),
            C("DSSTDTC", "date", "Date of the event"),
        ),
        key=("USUBJID", "DSSEQ"),
    ),
    "sv": Domain(
        "sv",
        "Subject visits (contacts; used for last known alive date)",
        (
            C("USUBJID", "str", "Unique subject identifier"),
            C("VISIT", "str", "Visit name"),
            C("SVSTDTC", "date", "Visit date"),
        ),
        key=("USUBJID", "VISIT"),
    ),
    "ck": Domain(
        "ck",
        "CAR-T cellular kinetics (flow cytometry and qPCR; blood and CSF)",
        (
            C("USUBJID", "str", "Unique subject identifier"),
            C("CKSEQ", "int", "Sequence number"),
            C("CKTRT", "cat", "CAR-T product measured", PRODUCTS),
            C("CKSPEC", "cat", "Specimen", ("PERIPHERAL BLOOD", "CSF")),
            C("CKMETHOD", "cat", "Method", ("FLOW CYTOMETRY", "QPCR")),
            C("CKORRES", "str", "Result as collected (numeric, or '<LLOQ')"),
            C("CKSTRESN", "float", "Numeric result; empty when below LLOQ", nullable=True),
            C("CKSTRESU", "cat", "Unit", ("cells/uL", "copies/ug gDNA")),
            C("CKLLOQ", "float", "Lower limit of quantification (same unit)"),
            C("VISIT", "str", "Nominal time point (e.g. DAY 7)"),
            C("CKDTC", "date", "Sample date"),
        ),
        key=("USUBJID", "CKSEQ"),
    ),
    "lb": Domain(
        "lb",
        "Laboratory test results: haematology, chemistry, cytokines, immunoglobulins, B cells, chimerism",
        (
            C("USUBJID", "str", "Unique subject identifier"),
            C("LBSEQ", "int", "Sequence number"),
            C("LBTESTCD", "str", "Test short name (one of sdtm.LB_TESTS)"),
            C("LBTEST", "str", "Test name"),
            C("LBCAT", "cat", "Category of the test", tuple(dict.fromkeys(t.category for t in LB_TESTS.values()))),
            C("LBORRES", "str", "Result as collected (a number in LBSTRESU; no '<x' strings)"),
            C("LBSTRESN", "float", "Numeric result in standard units"),
            C("LBSTRESU", "str", "Standard unit (the test's unit in sdtm.LB_TESTS)"),
            C("LBSTNRLO", "float", "Normal range, lower limit (standard units); empty if none", nullable=True),
            C("LBSTNRHI", "float", "Normal range, upper limit (standard units); empty if none", nullable=True),
            C("VISIT", "str", "Nominal visit or study day (e.g. DAY 7, SCREENING)"),
            C("LBDTC", "date", "Specimen collection date"),
        ),
        key=("USUBJID", "LBSEQ"),
    ),
    "xt": Domain(
        "xt",
        "Transfusions of blood products (custom interventions domain XT, SDTMIG 3.4 section 2.6)",
        (
            C("USUBJID", "str", "Unique subject identifier"),
            C("XTSEQ", "int", "Sequence number"),
            C("XTTRT", "cat", "Blood product", ("PLATELETS", "RED BLOOD CELLS")),
            C("XTSTDTC", "date", "Transfusion date"),
        ),
        key=("USUBJID", "XTSEQ"),
    ),
}

# The dates of each domain the data cut compares with the cut date (trial/datacut.py: start or only
# dates remove a record, end dates set it ongoing); the last known alive date reads them too.
CUT_DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "dm": ("RFICDTC", "RFSTDTC"),
    "ex": ("EXSTDTC",),
    "pr": ("PRSTDTC", "PRENDTC"),
    "ae": ("AESTDTC", "AEENDTC"),
    "cm": ("CMSTDTC", "CMENDTC"),
    "rs": ("RSDTC",),
    "ds": ("DSSTDTC",),
    "sv": ("SVSTDTC",),
    "ck": ("CKDTC",),
    "lb": ("LBDTC",),
    "xt": ("XTSTDTC",),
}
