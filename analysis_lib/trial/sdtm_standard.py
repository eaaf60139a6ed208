"""The delivery contract: standard SDTMIG 3.4 domains, and the analysis view the trial rules read.

A study delivers standard SDTM (``<domain>.xpt|.csv|.parquet``, lower-case domain name; a split
dataset such as pharmaverse's ``rs_onco`` counts as its domain): standard domains and variables,
trial-specific facts in SUPPQUAL, links in RELREC, the cause of death in DD, cellular kinetics in PC.
:mod:`analysis_lib.trial.sdtm` keeps the **analysis view**: one frame per analysis domain with the
columns derive, the data cut and the trial's validation rules consume (the view is what this project
read before SDTM became the contract, so the derivations did not change).

Two pure functions connect them (``docs/sdtm-mapping.md`` gives each choice and its SDTMIG reason):

* :func:`to_view` — delivery frames -> view frames (SUPPQUAL merged generically by
  RDOMAIN/USUBJID/IDVAR/IDVARVAL/QNAM, RELREC links resolved, DD, VS, MH and FA pivoted, datetimes
  cut to their date, BLQ spellings unified); :func:`build_view` also returns where every view value
  came from (:class:`Origin`), so a problem found in the view names the **delivered** file, column
  and rows.
* :func:`from_view` — view frames -> delivery frames (the synthetic generator and the tests write a
  delivery with it; ``to_view(from_view(v)) == v``).

:func:`delivery_issues` checks the standard structure (required variables, DOMAIN value, ISO 8601,
SUPPQUAL and RELREC integrity) and :func:`content_issues` what a CAR-T report needs beyond standard
SDTM (the products in EX, the HSCT in PR, CAR-T kinetics in PC, the DLT flag, ...). Both return
:class:`Problem` tuples that :mod:`analysis_lib.trial.validate` turns into its problems. All frames
hold strings as delivered ("" for empty), like :mod:`analysis_lib.trial.io` reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis_lib.trial.problems import Problem
from analysis_lib.trial.problems import more as _more
from analysis_lib.trial.problems import rows as _rows
from analysis_lib.trial.sdtm import DOMAINS as VIEW_DOMAINS
from analysis_lib.trial.sdtm import PRODUCTS


@dataclass(frozen=True)
class Origin:
    """Where the values of one view column came from: the delivered ``file`` and ``column`` (for a
    SUPPQUAL value ``QVAL where QNAM=AEDLT``) and, per view row, the 1-based delivered row (0: no
    record delivered). ``rows`` None: view row i is delivered row i + 1."""

    file: str
    column: str
    rows: tuple[int, ...] | None = None

    def row(self, view_row: int) -> int:
        """The delivered 1-based row of 1-based ``view_row`` (0 if none)."""
        if self.rows is None:
            return view_row
        return self.rows[view_row - 1] if 0 < view_row <= len(self.rows) else 0


# --------------------------------------------------------------------------------- the contract
@dataclass(frozen=True)
class Delivered:
    """One standard dataset of the delivery: its required variables (SDTMIG "Req"/"Exp" ones the
    trial reads), the numeric variables (SAS numeric in XPT), the variables it reads if present."""

    name: str
    label: str
    required: tuple[str, ...]
    numeric: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    needed: bool = True  # the file must be delivered (a missing one is a content problem)
    trial: tuple[str, ...] = ()  # permissible in SDTMIG but needed by the report (a content problem)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + tuple(c for c in self.optional + self.trial if c not in self.required)


SUPP_VARS = ("STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM", "QLABEL", "QVAL", "QORIG")
RELREC_VARS = ("STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "RELTYPE", "RELID")
_STD = ("STUDYID", "DOMAIN", "USUBJID")

DELIVERY: dict[str, Delivered] = {
    d.name: d
    for d in (
        Delivered(
            "dm",
            "Demographics",
            (*_STD, "SUBJID", "RFSTDTC", "RFICDTC", "SITEID", "AGE", "AGEU", "SEX", "RACE", "ARMCD", "ARM"),
            ("AGE",),
            (
                "RFXSTDTC",
                "DTHDTC",
                "DTHFL",
                "BRTHDTC",
                "ETHNIC",
                "ACTARMCD",
                "ACTARM",
                "ARMNRS",
                "COUNTRY",
            ),
        ),
        Delivered(
            "vs",
            "Vital Signs: baseline weight",
            (*_STD, "VSSEQ", "VSTESTCD", "VSTEST", "VSORRES", "VSORRESU", "VSSTRESC", "VSSTRESN", "VSSTRESU"),
            ("VSSEQ", "VSSTRESN"),
            ("VSBLFL", "VISIT", "VSDTC"),
        ),
        Delivered(
            "mh",
            "Medical History: primary diagnosis",
            (*_STD, "MHSEQ", "MHTERM", "MHCAT", "MHSTDTC"),
            ("MHSEQ",),
            ("MHDECOD",),
        ),
        Delivered(
            "fa",
            "Findings About: disease at screening",
            (*_STD, "FASEQ", "FATESTCD", "FATEST", "FAOBJ", "FAORRES", "FASTRESC"),
            ("FASEQ", "FASTRESN"),
            ("FACAT", "FAORRESU", "FASTRESN", "FASTRESU", "VISIT", "FADTC"),
        ),
        Delivered(
            "ex",
            "Exposure: CAR-T infusions",
            (*_STD, "EXSEQ", "EXTRT", "EXDOSE", "EXDOSU", "EXROUTE", "EXSTDTC"),
            ("EXSEQ", "EXDOSE"),
            ("EXDOSFRM", "EXENDTC"),
        ),
        Delivered(
            "pr",
            "Procedures: lymphodepletion, allogeneic HSCT",
            (*_STD, "PRSEQ", "PRTRT", "PRCAT", "PRSTDTC"),
            ("PRSEQ",),
            ("PRENDTC",),
        ),
        Delivered(
            "ae",
            "Adverse Events",
            (*_STD, "AESEQ", "AETERM", "AEDECOD", "AEBODSYS", "AESER", "AEREL", "AEOUT", "AESTDTC"),
            ("AESEQ",),
            ("AEENDTC",),
            trial=("AETOXGR",),
        ),
        Delivered(
            "cm",
            "Concomitant Medications",
            (*_STD, "CMSEQ", "CMTRT", "CMCLAS", "CMINDC", "CMSTDTC"),
            ("CMSEQ",),
            ("CMENDTC",),
        ),
        Delivered(
            "rs",
            "Disease Response (NCCN ALL) and MRD",
            (*_STD, "RSSEQ", "RSTESTCD", "RSTEST", "RSORRES", "RSSTRESC", "VISIT", "RSDTC"),
            ("RSSEQ", "RSSTRESN"),
            ("RSCAT", "RSSTRESN", "RSEVAL"),
        ),
        Delivered(
            "ds",
            "Disposition",
            (*_STD, "DSSEQ", "DSTERM", "DSDECOD", "DSCAT", "DSSTDTC"),
            ("DSSEQ",),
        ),
        Delivered(
            "dd",
            "Death Details: cause of death",
            (*_STD, "DDSEQ", "DDTESTCD", "DDTEST", "DDORRES", "DDSTRESC"),
            ("DDSEQ",),
            ("DDDTC",),
            needed=False,
        ),
        Delivered(
            "sv",
            "Subject Visits",
            (*_STD, "VISITNUM", "VISIT", "SVSTDTC"),
            ("VISITNUM",),
            ("SVENDTC",),
        ),
        Delivered(
            "pc",
            "Pharmacokinetics Concentrations: CAR-T cellular kinetics",
            (
                *_STD,
                "PCSEQ",
                "PCTESTCD",
                "PCTEST",
                "PCORRES",
                "PCSTRESN",
                "PCSTRESU",
                "PCSPEC",
                "PCLLOQ",
                "VISIT",
                "PCDTC",
            ),
            ("PCSEQ", "PCSTRESN", "PCLLOQ", "PCTPTNUM"),
            ("PCORRESU", "PCSTRESC", "PCMETHOD", "PCTPT", "PCTPTNUM", "PCTPTREF"),
        ),
        Delivered(
            "lb",
            "Laboratory Test Results",
            (
                *_STD,
                "LBSEQ",
                "LBTESTCD",
                "LBTEST",
                "LBCAT",
                "LBORRES",
                "LBSTRESN",
                "LBSTRESU",
                "VISIT",
                "LBDTC",
            ),
            ("LBSEQ", "LBSTRESN", "LBSTNRLO", "LBSTNRHI"),
            ("LBORRESU", "LBSTRESC", "LBSTNRLO", "LBSTNRHI"),
        ),
        Delivered(
            "xt",
            "Transfusions: custom domain, SDTMIG 3.4 2.6",
            (*_STD, "XTSEQ", "XTTRT", "XTSTDTC"),
            ("XTSEQ",),
        ),
        Delivered("relrec", "Related Records: medication to AE", RELREC_VARS, needed=False),
    )
}
#: The SUPPQUAL datasets the trial reads (any other ``supp--`` file is read and checked too).
SUPP_OF: dict[str, str] = {"suppdm": "dm", "suppae": "ae", "supppr": "pr"}
#: Parent domain -> the QNAMs the analysis view takes from its SUPPQUAL, with their QLABELs.
QNAMS: dict[str, dict[str, str]] = {
    "dm": {"PHASE": "Study Phase", "COHORT": "Cohort", "DONORTYP": "Donor Type"},
    "ae": {"AEGRSCL": "Grading Scale", "AEDLT": "Dose-Limiting Toxicity (SRC)"},
    "pr": {"PRREF": "Product Prepared For"},
}
#: View columns that need not be delivered (empty when absent): the optional QNAMs.
OPTIONAL_QNAMS = {("pr", "PRREF")}
#: Supplemental QORIG of each QNAM (SDTMIG 8.4: the origin of the value).
QORIG = {"PHASE": "ASSIGNED", "COHORT": "ASSIGNED", "DONORTYP": "CRF", "AEGRSCL": "CRF", "AEDLT": "ASSIGNED"}

#: PC test codes of the CAR-T products (PCTESTCD <= 8 characters) and the product each measures.
PC_TESTS: dict[str, str] = {"CD19CART": "CD19 CAR-T", "CD22CART": "CD22 CAR-T"}
#: Analysis-view specimen -> PCSPEC (CDISC SPECTYPE terms).
PC_SPEC: dict[str, str] = {"PERIPHERAL BLOOD": "BLOOD", "CSF": "CEREBROSPINAL FLUID"}
#: Original results that mean "below the lower limit of quantification" (with PCSTRESN empty).
BLQ_PATTERN = r"\s*(<.*|BLQ|BQL|BLOQ|NQ)\s*"
#: DD test code of the primary cause of death (CDISC DDTESTCD term).
DEATH_CAUSE = ("PRCDTH", "Primary Cause of Death")
#: VS test code of the baseline weight.
WEIGHT = ("WEIGHT", "Weight", "kg")
#: MH category of the disease under study.
PRIMARY_DIAGNOSIS = "PRIMARY DIAGNOSIS"
DIAGNOSIS = ("B-cell acute lymphoblastic leukaemia", "B precursor type acute leukaemia")
#: FA object and category of the baseline disease characteristics.
FA_OBJECT = "B-CELL ACUTE LYMPHOBLASTIC LEUKEMIA"
FA_CATEGORY = "BASELINE DISEASE CHARACTERISTICS"
#: View ``bl`` columns held in FA (FATESTCD = the view column name; all are <= 8 characters).
FA_TESTS = tuple(c.name for c in VIEW_DOMAINS["bl"].columns if c.name not in ("USUBJID", "DIAGDTC"))
FA_UNITS = {"BMBLAST": "%", "MRDBL": "%"}
#: ARMCD of a dose level: ``DL<level>``.
ARMCD_PATTERN = r"DL(\d+)"
NOT_TREATED = "ASSIGNED, NOT TREATED"  # SDTMIG 3.4 DM ARMNRS term

# ISO 8601 as SDTM allows it: complete or right-truncated dates and datetimes, and dates with
# missing middle components written as hyphens (``2003---15``).
_ISO = (
    r"(\d{4}|-)(-(\d{2}|-)(-(\d{2}|-)(T(\d{2}|-)(:(\d{2}|-)(:\d{2}(\.\d+)?)?)?)?)?)?"
    r"|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?"
)


def sdtm_date(values: pd.Series) -> pd.Series:
    """The date part of ISO 8601 SDTM dates/datetimes, right-truncated where a component is unknown:
    ``2014-01-01T23:30:00`` -> ``2014-01-01``; ``2003---15`` -> ``2003``; other text unchanged."""
    s = values.astype(str)
    date = s.str.split("T", n=1).str[0]
    trunc = date.str.replace(r"^(\d{4})--.*$", r"\1", regex=True).str.replace(r"^(\d{4}-\d{2})--?$", r"\1", regex=True)
    return trunc.where(s.str.fullmatch(_ISO).fillna(False).astype(bool), s)


# --------------------------------------------------------------------------------- helpers
def _file(frames: dict[str, pd.DataFrame], name: str) -> str:
    df = frames.get(name)
    return (df.attrs.get("file") if df is not None else None) or f"{name}.xpt"


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name].astype(str) if name in df else pd.Series("", index=df.index, dtype=object)


def _in_sentence(label: str) -> str:
    """A QLABEL inside a sentence: title-case words lower-cased, acronyms kept ("Dose-Limiting
    Toxicity (SRC)" -> "dose-limiting toxicity (SRC)")."""
    return " ".join(w if w.strip("()").isupper() else w.lower() for w in label.split())


def _blank(s: pd.Series) -> pd.Series:
    return s.astype(str).str.strip() == ""


def _empty(columns) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


# --------------------------------------------------------------------------------- SUPPQUAL
def supp_frames(frames: dict[str, pd.DataFrame]) -> list[tuple[str, pd.DataFrame]]:
    """Every SUPPQUAL dataset delivered: ``supp--`` files and a combined ``suppqual``."""
    return [(n, df) for n, df in frames.items() if n.startswith("supp")]


def _parent_key(parent: pd.DataFrame, idvar: str) -> pd.Series:
    """USUBJID + the IDVAR value of each parent record ('' IDVAR: the subject)."""
    u = _col(parent, "USUBJID").str.strip()
    return u if idvar == "" else u + "\x1f" + _col(parent, idvar).str.strip()


def merge_supp(
    frames: dict[str, pd.DataFrame], parent_name: str
) -> tuple[dict[str, tuple[pd.Series, tuple[int, ...], str]], list[Problem]]:
    """The SUPPQUAL values of ``parent_name`` as parent-aligned columns: QNAM -> (values, 1-based
    supp row per parent row or 0, supp file), and the integrity issues (IDVAR not a variable of the
    parent, IDVARVAL matching no parent record, a QNAM twice for one record)."""
    parent = frames.get(parent_name)
    out: dict[str, tuple[pd.Series, tuple[int, ...], str]] = {}
    issues: list[Problem] = []
    if parent is None:
        return out, issues
    for name, supp in supp_frames(frames):
        if not set(SUPP_VARS) - {"QORIG", "QLABEL", "STUDYID"} <= set(supp):
            continue  # reported by delivery_issues
        file = _file(frames, name)
        mine = supp[_col(supp, "RDOMAIN").str.strip().str.lower() == parent_name]
        if mine.empty:
            continue
        pfile = _file(frames, parent_name)
        for idvar, grp in mine.groupby(_col(mine, "IDVAR").str.strip(), sort=False):
            if idvar and idvar not in parent:
                issues.append(
                    Problem(
                        file,
                        "IDVAR",
                        _rows(grp.index),
                        "IDVAR is a parent variable",
                        f"IDVAR {idvar} is not a variable of {pfile}{_more(len(grp))}",
                    )
                )
                continue
            pkey = _parent_key(parent, str(idvar))
            skey = _col(grp, "USUBJID").str.strip()
            if idvar:
                skey = skey + "\x1f" + _col(grp, "IDVARVAL").str.strip()
            orphan = ~skey.isin(set(pkey))
            if orphan.any():
                first = grp.index[orphan.to_numpy()][0]
                what = f"{idvar}={grp.at[first, 'IDVARVAL']}" if idvar else "the subject"
                issues.append(
                    Problem(
                        file,
                        "IDVARVAL",
                        _rows(grp.index[orphan.to_numpy()]),
                        "SUPPQUAL has a parent record",
                        f"no record in {pfile} for {grp.at[first, 'USUBJID']} {what}{_more(int(orphan.sum()))}",
                    )
                )
            qnam = _col(grp, "QNAM").str.strip()
            # a parent record delivered twice is the parent's unique-key problem, not SUPPQUAL's
            dup = (skey + "\x1f" + qnam).duplicated(keep=False) & ~skey.isin(set(pkey[pkey.duplicated()]))
            if dup.any():
                first = grp.index[dup.to_numpy()][0]
                record = f"{idvar}={grp.at[first, 'IDVARVAL']}" if idvar else ""
                issues.append(
                    Problem(
                        file,
                        "QNAM",
                        _rows(grp.index[dup.to_numpy()]),
                        "one QNAM per record",
                        f"QNAM {grp.at[first, 'QNAM']} given more than once for {grp.at[first, 'USUBJID']}"
                        f"{' ' + record if record else ''}{_more(int(dup.sum()))}",
                    )
                )
            keep = ~orphan.to_numpy() & ~dup.to_numpy()
            ok, okkey = grp[keep], skey[keep]
            for q, g in ok.groupby(_col(ok, "QNAM").str.strip(), sort=False):
                first = g[~okkey[g.index].duplicated()]
                value = pd.Series(_col(first, "QVAL").to_numpy(), index=okkey[first.index].to_numpy())
                row = pd.Series(first.index.to_numpy() + 1, index=okkey[first.index].to_numpy())
                hit = pkey.isin(value.index).to_numpy()
                values, rows = (
                    (out[q][0].copy(), np.array(out[q][1]))
                    if q in out  # the same QNAM under another IDVAR or file: fill the gaps
                    else (pd.Series("", index=parent.index, dtype=object), np.zeros(len(parent), dtype=int))
                )
                values[hit] = value.reindex(pkey[hit].to_numpy()).to_numpy()
                rows[hit] = row.reindex(pkey[hit].to_numpy()).to_numpy()
                out[str(q)] = (values, tuple(int(r) for r in rows), file)
    return out, issues


# --------------------------------------------------------------------------------- delivery checks
def delivery_issues(frames: dict[str, pd.DataFrame]) -> list[Problem]:
    """Standard-structure problems of a delivery: required variables, the DOMAIN value, ISO 8601
    dates and datetimes, SUPPQUAL variables and RDOMAIN, RELREC records that exist."""
    issues: list[Problem] = []
    for name, df in frames.items():
        file = _file(frames, name)
        spec = DELIVERY.get(name)
        need = spec.required if spec else SUPP_VARS if name.startswith("supp") else ()
        issues += [
            Problem(file, c, (), "required variable", "required variable is missing") for c in need if c not in df
        ]
        if spec and name != "relrec" and "DOMAIN" in df:
            bad = _col(df, "DOMAIN").str.strip().str.upper() != name.upper()
            if bad.any():
                issues.append(
                    Problem(
                        file,
                        "DOMAIN",
                        _rows(df.index[bad]),
                        "DOMAIN value",
                        f"DOMAIN is not {name.upper()}{_more(int(bad.sum()))}",
                    )
                )
        if name.startswith("supp") and name != "suppqual" and "RDOMAIN" in df:
            bad = _col(df, "RDOMAIN").str.strip().str.lower() != name[4:]
            if bad.any():
                issues.append(
                    Problem(
                        file,
                        "RDOMAIN",
                        _rows(df.index[bad]),
                        "RDOMAIN matches the file",
                        f"RDOMAIN is not {name[4:].upper()} ({file} holds the supplemental qualifiers of "
                        f"{name[4:].upper()}){_more(int(bad.sum()))}",
                    )
                )
        if name.startswith("supp") and "RDOMAIN" in df:
            for rd, g in df.groupby(_col(df, "RDOMAIN").str.strip().str.lower(), sort=False):
                if rd and rd not in frames:
                    issues.append(
                        Problem(
                            file,
                            "RDOMAIN",
                            _rows(g.index),
                            "parent domain delivered",
                            f"RDOMAIN {str(rd).upper()} is not delivered{_more(len(g))}",
                        )
                    )
        for col in df.columns:
            if str(col).endswith("DTC"):
                s = _col(df, str(col)).str.strip()
                bad = ~_blank(s) & ~s.str.fullmatch(_ISO).fillna(False).astype(bool)
                if bad.any():
                    shown = ", ".join(dict.fromkeys(s[bad].head(5)))
                    issues.append(
                        Problem(
                            file,
                            str(col),
                            _rows(df.index[bad]),
                            "ISO 8601",
                            f"value {shown} is not an ISO 8601 date or datetime{_more(int(bad.sum()))}",
                        )
                    )
    issues += _relrec_issues(frames)
    for parent in sorted({str(v).strip().lower() for _, s in supp_frames(frames) for v in _col(s, "RDOMAIN")}):
        if parent in frames:
            issues += merge_supp(frames, parent)[1]
    return issues


def _relrec_issues(frames: dict[str, pd.DataFrame]) -> list[Problem]:
    rel = frames.get("relrec")
    if rel is None or not set(RELREC_VARS) - {"STUDYID", "RELTYPE"} <= set(rel):
        return []
    file = _file(frames, "relrec")
    out: list[Problem] = []
    rec = rel[~_blank(_col(rel, "USUBJID"))]
    for (rd, idvar), g in rec.groupby([_col(rec, "RDOMAIN").str.strip().str.lower(), _col(rec, "IDVAR")], sort=False):
        parent = frames.get(rd)
        if parent is None:
            out.append(
                Problem(
                    file, "RDOMAIN", _rows(g.index), "parent domain delivered", f"RDOMAIN {rd.upper()} is not delivered"
                )
            )
            continue
        if idvar not in parent:
            out.append(
                Problem(
                    file,
                    "IDVAR",
                    _rows(g.index),
                    "IDVAR is a parent variable",
                    f"IDVAR {idvar} is not a variable of {_file(frames, rd)}",
                )
            )
            continue
        pkey = set(_parent_key(parent, idvar))
        orphan = ~(_col(g, "USUBJID").str.strip() + "\x1f" + _col(g, "IDVARVAL").str.strip()).isin(pkey)
        if orphan.any():
            first = g.index[orphan.to_numpy()][0]
            out.append(
                Problem(
                    file,
                    "IDVARVAL",
                    _rows(g.index[orphan.to_numpy()]),
                    "RELREC has a parent record",
                    f"no record in {_file(frames, rd)} for {g.at[first, 'USUBJID']} {idvar}="
                    f"{g.at[first, 'IDVARVAL']}{_more(int(orphan.sum()))}",
                )
            )
    return out


#: The rules of :func:`content_issues` (a delivery failing only these is standard SDTM).
CONTENT_RULES = frozenset(
    {
        "file present and readable",
        "variable the report needs",
        "ARMCD is the dose level",
        "CAR-T product in EX",
        "lymphodepletion in PR",
        "CAR-T kinetics in PC",
        "supplemental qualifier delivered",
        "baseline weight in VS",
        "diagnosis in MH",
        "disease characteristics in FA",
    }
)


def content_issues(frames: dict[str, pd.DataFrame]) -> list[Problem]:
    """What a CAR-T report needs beyond standard SDTM, one issue per need not met: the datasets it
    reads, the dose level in ARMCD, the products in EX, the procedures in PR, CAR-T kinetics in PC,
    the supplemental qualifiers (phase, cohort, donor type, grading scale, DLT flag), the baseline
    weight in VS and the disease characteristics in MH/FA. Empty: a view can be built."""
    out: list[Problem] = []
    suffixes = [str(df.attrs.get("file", "")).rpartition(".")[2] for df in frames.values()]
    ext = max(sorted(set(suffixes)), key=suffixes.count) if suffixes else "xpt"
    for name, spec in DELIVERY.items():
        if spec.needed and name not in frames:
            out.append(
                Problem(
                    f"{name}.{ext}",
                    "",
                    (),
                    "file present and readable",
                    f"file not found: no {name.upper()} dataset ({spec.label}); expected {name}.xpt, {name}.csv "
                    f"or {name}.parquet",
                )
            )

    for name, spec in DELIVERY.items():
        if name in frames:
            out += [
                Problem(_file(frames, name), c, (), "variable the report needs", f"no {c} (needed by the CAR-T report)")
                for c in spec.trial
                if c not in frames[name]
            ]

    def need(name: str, col: str, ok: bool, message: str, rule: str) -> None:
        if name in frames and col in frames[name] and not ok:
            out.append(Problem(_file(frames, name), col, (), rule, message))

    if "dm" in frames and "ARMCD" in frames["dm"]:
        armcd = _col(frames["dm"], "ARMCD").str.strip()
        bad = ~armcd.str.fullmatch(ARMCD_PATTERN).fillna(False).astype(bool)
        if bad.any():
            out.append(
                Problem(
                    _file(frames, "dm"),
                    "ARMCD",
                    _rows(frames["dm"].index[bad]),
                    "ARMCD is the dose level",
                    f"ARMCD {', '.join(dict.fromkeys(armcd[bad].head(5)))} is not a CAR-T dose level "
                    f"(DL<level>, as in params/study.yml dose_levels){_more(int(bad.sum()))}",
                )
            )
    if "ex" in frames:
        need(
            "ex",
            "EXTRT",
            bool(_col(frames["ex"], "EXTRT").isin([PRODUCTS[0]]).any()),
            f"no {PRODUCTS[0]} infusion (EXTRT is one of {', '.join(PRODUCTS)})",
            "CAR-T product in EX",
        )
    if "pr" in frames:
        need(
            "pr",
            "PRCAT",
            bool(_col(frames["pr"], "PRCAT").isin(["LYMPHODEPLETION"]).any()),
            "no lymphodepletion (PRCAT LYMPHODEPLETION) before the CAR-T infusion",
            "lymphodepletion in PR",
        )
    if "pc" in frames:
        need(
            "pc",
            "PCTESTCD",
            bool(_col(frames["pc"], "PCTESTCD").isin(list(PC_TESTS)).any()),
            f"no CAR-T cellular kinetics (PCTESTCD {', '.join(PC_TESTS)})",
            "CAR-T kinetics in PC",
        )
    for parent, qnams in QNAMS.items():
        if parent not in frames:
            continue
        merged, _ = merge_supp(frames, parent)
        for q, label in qnams.items():
            if (parent, q) not in OPTIONAL_QNAMS and q not in merged:
                out.append(
                    Problem(
                        f"supp{parent}.{ext}",
                        f"QNAM={q}",
                        (),
                        "supplemental qualifier delivered",
                        f"no {_in_sentence(label)} (SUPP{parent.upper()} QNAM {q})",
                    )
                )
    if "vs" in frames:
        vs = frames["vs"]
        need(
            "vs",
            "VSTESTCD",
            bool(((_col(vs, "VSTESTCD") == WEIGHT[0]) & (_col(vs, "VSBLFL") == "Y")).any()),
            f"no baseline weight (VSTESTCD {WEIGHT[0]} with VSBLFL Y)",
            "baseline weight in VS",
        )
    if "mh" in frames:
        need(
            "mh",
            "MHCAT",
            bool((_col(frames["mh"], "MHCAT") == PRIMARY_DIAGNOSIS).any()),
            f"no primary diagnosis (MHCAT {PRIMARY_DIAGNOSIS})",
            "diagnosis in MH",
        )
    if "fa" in frames:
        got = set(_col(frames["fa"], "FATESTCD"))
        required = [c.name for c in VIEW_DOMAINS["bl"].columns if c.name in FA_TESTS and not c.nullable]
        missing = [t for t in required if t not in got]
        need(
            "fa",
            "FATESTCD",
            not missing,
            f"no baseline disease characteristic {', '.join(missing)} (FATESTCD)",
            "disease characteristics in FA",
        )
    return out


# --------------------------------------------------------------------------------- to the view
def _one_to_one(d: pd.DataFrame, file: str, columns: dict[str, str]) -> tuple[pd.DataFrame, dict[str, Origin]]:
    """View columns taken record for record from a delivered dataset (view -> delivered column)."""
    view = pd.DataFrame({v: _col(d, c).to_numpy() for v, c in columns.items()}, index=pd.RangeIndex(len(d)))
    return view, {v: Origin(file, c) for v, c in columns.items()}


def _dated(view: pd.DataFrame, name: str) -> pd.DataFrame:
    """The view's date columns as dates (datetimes cut to their date part)."""
    for c in VIEW_DOMAINS[name].columns:
        if c.kind in ("date", "pdate") and c.name in view:
            view[c.name] = sdtm_date(view[c.name])
    return view


def _columns(name: str, view: pd.DataFrame) -> pd.DataFrame:
    """The view frame in the view contract's column order (optional columns only when present)."""
    cols = [c.name for c in VIEW_DOMAINS[name].columns if c.name in view]
    return view[cols]


def _supp_columns(frames: dict[str, pd.DataFrame], parent: str, view: pd.DataFrame, origins: dict[str, Origin]) -> None:
    merged, _ = merge_supp(frames, parent)
    for q in QNAMS[parent]:
        if q in merged:
            values, rows, file = merged[q]
            view[q] = values.to_numpy()
            origins[q] = Origin(file, f"QVAL where QNAM={q}", rows)
        elif (parent, q) in OPTIONAL_QNAMS:
            continue
        else:
            view[q] = ""
            origins[q] = Origin(f"supp{parent}.xpt", f"QVAL where QNAM={q}", tuple([0] * len(view)))


def _by_subject(
    d: pd.DataFrame, mask: pd.Series, value: str, subjects: pd.Series
) -> tuple[np.ndarray, tuple[int, ...]]:
    """``value`` of the first record in ``mask`` per subject, aligned to ``subjects``, with its row."""
    sel = d[mask]
    first = sel[~_col(sel, "USUBJID").duplicated()]
    pos = pd.Series(first.index.to_numpy(), index=_col(first, "USUBJID").to_numpy())
    idx = pos.reindex(subjects.to_numpy())
    values = np.array([str(first.at[i, value]) if i == i else "" for i in idx], dtype=object)
    rows = tuple(int(i) + 1 if i == i else 0 for i in idx)
    return values, rows


def build_view(frames: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, Origin]]]:
    """The analysis view of a delivery (see :func:`to_view`) and, per view domain and column, where
    its values came from. The delivery must meet :func:`content_issues` (else views lack columns)."""
    view: dict[str, pd.DataFrame] = {}
    origins: dict[str, dict[str, Origin]] = {}
    f = {n: _file(frames, n) for n in (*DELIVERY, *SUPP_OF)}

    def simple(name: str, src: str, columns: dict[str, str]) -> tuple[pd.DataFrame, dict[str, Origin]]:
        d = frames.get(src, _empty(columns.values()))
        v, o = _one_to_one(d, f[src], columns)
        v.attrs["file"] = f[src]
        return v, o

    # DM + SUPPDM + VS
    dm = frames.get("dm", _empty(DELIVERY["dm"].columns))
    cols = {c: c for c in ("STUDYID", "USUBJID", "SUBJID", "SITEID", "RFICDTC", "RFSTDTC")}
    cols.update({c: c for c in ("BRTHDTC",) if c in dm})
    cols.update({c: c for c in ("AGE", "AGEU", "SEX", "RACE")})
    cols.update({c: c for c in ("ETHNIC",) if c in dm})
    cols["COUNTRY"] = "COUNTRY"
    v, o = _one_to_one(dm, f["dm"], cols)
    vs = frames.get("vs", _empty(DELIVERY["vs"].columns))
    weight = (_col(vs, "VSTESTCD") == WEIGHT[0]) & (_col(vs, "VSBLFL") == "Y")
    values, rows = _by_subject(vs, weight, "VSSTRESN", v["USUBJID"]) if "VSSTRESN" in vs else ([""] * len(v), None)
    v["WEIGHTBL"] = values
    o["WEIGHTBL"] = Origin(f["vs"], f"VSSTRESN where VSTESTCD={WEIGHT[0]} and VSBLFL=Y", rows or (0,) * len(v))
    _supp_columns(frames, "dm", v, o)
    armcd = _col(dm, "ARMCD").str.strip()
    v["DOSELVL"] = armcd.str.extract(f"^{ARMCD_PATTERN}$")[0].fillna(armcd).to_numpy()
    o["DOSELVL"] = Origin(f["dm"], "ARMCD")
    v = _dated(_columns("dm", v), "dm")
    v.attrs["file"] = f["dm"]
    view["dm"], origins["dm"] = v, o

    # MH + FA -> bl (one row per subject with a diagnosis or a finding, in DM order)
    mh = frames.get("mh", _empty(DELIVERY["mh"].columns))
    fa = frames.get("fa", _empty(DELIVERY["fa"].columns))
    diag = _col(mh, "MHCAT") == PRIMARY_DIAGNOSIS
    have = set(_col(mh[diag], "USUBJID")) | set(_col(fa, "USUBJID"))
    order = list(dict.fromkeys([u for u in _col(dm, "USUBJID") if u in have]))
    order += sorted(have - set(order))
    subjects = pd.Series(order, dtype=object)
    bl = pd.DataFrame({"USUBJID": subjects.to_numpy()}, index=pd.RangeIndex(len(subjects)))
    o = {"USUBJID": Origin(f["fa"], "USUBJID", (0,) * len(bl))}
    values, rows = _by_subject(mh, diag, "MHSTDTC", subjects)
    bl["DIAGDTC"] = values
    o["DIAGDTC"] = Origin(f["mh"], f"MHSTDTC where MHCAT={PRIMARY_DIAGNOSIS}", rows)
    for test in FA_TESTS:
        values, rows = _by_subject(fa, _col(fa, "FATESTCD") == test, "FASTRESC", subjects)
        bl[test] = values
        o[test] = Origin(f["fa"], f"FASTRESC where FATESTCD={test}", rows)
    bl = _dated(bl, "bl")
    bl.attrs["file"] = f["fa"]
    view["bl"], origins["bl"] = bl, o

    v, o = simple("ex", "ex", {c: c for c in ("USUBJID", "EXSEQ", "EXTRT", "EXDOSE", "EXDOSU", "EXROUTE", "EXSTDTC")})
    view["ex"], origins["ex"] = _dated(v, "ex"), o

    v, o = simple("pr", "pr", {c: c for c in ("USUBJID", "PRSEQ", "PRCAT", "PRTRT", "PRSTDTC", "PRENDTC")})
    _supp_columns(frames, "pr", v, o)
    view["pr"], origins["pr"] = _dated(_columns("pr", v).copy(), "pr"), o
    view["pr"].attrs["file"] = f["pr"]

    ae_cols = ("USUBJID", "AESEQ", "AETERM", "AEDECOD", "AEBODSYS", "AESTDTC", "AEENDTC", "AETOXGR")
    v, o = simple("ae", "ae", {c: c for c in ae_cols + ("AESER", "AEREL", "AEOUT")})
    _supp_columns(frames, "ae", v, o)
    view["ae"], origins["ae"] = _dated(_columns("ae", v).copy(), "ae"), o
    view["ae"].attrs["file"] = f["ae"]

    v, o = simple("cm", "cm", {c: c for c in ("USUBJID", "CMSEQ", "CMTRT", "CMCLAS", "CMINDC", "CMSTDTC", "CMENDTC")})
    links, rows = _cm_links(frames, v)
    v["CMAESEQ"] = links
    o["CMAESEQ"] = Origin(f["relrec"], "IDVARVAL where RDOMAIN=AE", rows)
    view["cm"], origins["cm"] = _dated(_columns("cm", v).copy(), "cm"), o
    view["cm"].attrs["file"] = f["cm"]

    v, o = simple(
        "rs", "rs", {c: c for c in ("USUBJID", "RSSEQ", "RSTESTCD", "RSSTRESC", "RSSTRESN", "VISIT", "RSDTC")}
    )
    view["rs"], origins["rs"] = _dated(v, "rs"), o

    v, o = simple("ds", "ds", {c: c for c in ("USUBJID", "DSSEQ", "DSCAT", "DSDECOD", "DSTERM", "DSSTDTC")})
    dd = frames.get("dd", _empty(DELIVERY["dd"].columns))
    values, rows = _by_subject(dd, _col(dd, "DDTESTCD") == DEATH_CAUSE[0], "DDSTRESC", v["USUBJID"])
    death = (v["DSDECOD"] == "DEATH").to_numpy()
    v["DTHCAUS"] = np.where(death, values, "")
    o["DTHCAUS"] = Origin(f["dd"], f"DDSTRESC where DDTESTCD={DEATH_CAUSE[0]}", tuple(np.where(death, rows, 0)))
    view["ds"], origins["ds"] = _dated(_columns("ds", v).copy(), "ds"), o
    view["ds"].attrs["file"] = f["ds"]

    v, o = simple("sv", "sv", {c: c for c in ("USUBJID", "VISIT", "SVSTDTC")})
    view["sv"], origins["sv"] = _dated(v, "sv"), o

    pc = frames.get("pc", _empty(DELIVERY["pc"].columns))
    v, o = _one_to_one(
        pc,
        f["pc"],
        {
            "USUBJID": "USUBJID",
            "CKSEQ": "PCSEQ",
            "CKTRT": "PCTESTCD",
            "CKSPEC": "PCSPEC",
            "CKMETHOD": "PCMETHOD",
            "CKORRES": "PCORRES",
            "CKSTRESN": "PCSTRESN",
            "CKSTRESU": "PCSTRESU",
            "CKLLOQ": "PCLLOQ",
            "VISIT": "VISIT",
            "CKDTC": "PCDTC",
        },
    )
    v["CKTRT"] = v["CKTRT"].map(lambda t: PC_TESTS.get(t.strip(), t))
    spec = {s: k for k, s in PC_SPEC.items()}
    v["CKSPEC"] = v["CKSPEC"].map(lambda t: spec.get(t.strip(), t))
    blq = v["CKORRES"].str.fullmatch(BLQ_PATTERN).fillna(False) & _blank(v["CKSTRESN"]) & ~_blank(v["CKLLOQ"])
    v.loc[blq.astype(bool), "CKORRES"] = "<LLOQ"
    v = _dated(v, "ck")
    v.attrs["file"] = f["pc"]
    view["ck"], origins["ck"] = v, o

    lb_cols = ("USUBJID", "LBSEQ", "LBTESTCD", "LBTEST", "LBCAT", "LBORRES", "LBSTRESN", "LBSTRESU")
    v, o = simple("lb", "lb", {c: c for c in lb_cols + ("LBSTNRLO", "LBSTNRHI", "VISIT", "LBDTC")})
    view["lb"], origins["lb"] = _dated(v, "lb"), o

    v, o = simple("xt", "xt", {c: c for c in ("USUBJID", "XTSEQ", "XTTRT", "XTSTDTC")})
    view["xt"], origins["xt"] = _dated(v, "xt"), o
    for name in view:
        view[name] = view[name].reset_index(drop=True)
        view[name].attrs["file"] = f["fa" if name == "bl" else "pc" if name == "ck" else name]
    return view, origins


def _cm_links(frames: dict[str, pd.DataFrame], cm: pd.DataFrame) -> tuple[np.ndarray, tuple[int, ...]]:
    """CMAESEQ of each CM record from RELREC: the AESEQ of the AE record sharing its RELID (one
    related AE per medication; a second is reported by :func:`link_issues`)."""
    rel = frames.get("relrec")
    links = np.array([""] * len(cm), dtype=object)
    rows = np.zeros(len(cm), dtype=int)
    if rel is None or not {"RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "RELID"} <= set(rel):
        return links, tuple(rows)
    r = rel.assign(_R=np.arange(len(rel)) + 1, _D=_col(rel, "RDOMAIN").str.strip().str.upper())
    cms = r[(r["_D"] == "CM") & (_col(r, "IDVAR") == "CMSEQ")]
    aes = r[(r["_D"] == "AE") & (_col(r, "IDVAR") == "AESEQ")]
    ae_of: dict[tuple[str, str], tuple[str, int]] = {}
    for u, rid, val, row in zip(aes["USUBJID"], aes["RELID"], aes["IDVARVAL"], aes["_R"]):
        ae_of.setdefault((str(u), str(rid)), (str(val).strip(), int(row)))
    pos = {(u, s.strip()): i for i, (u, s) in enumerate(zip(cm["USUBJID"], cm["CMSEQ"]))}
    for u, rid, val in zip(cms["USUBJID"], cms["RELID"], cms["IDVARVAL"]):
        i = pos.get((str(u), str(val).strip()))
        hit = ae_of.get((str(u), str(rid)))
        if i is not None and hit is not None and not links[i]:
            links[i], rows[i] = hit
    return links, tuple(int(x) for x in rows)


def link_issues(frames: dict[str, pd.DataFrame]) -> list[Problem]:
    """RELREC links the view cannot hold: a medication related to more than one adverse event."""
    rel = frames.get("relrec")
    if rel is None or not {"RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "RELID"} <= set(rel):
        return []
    d = _col(rel, "RDOMAIN").str.strip().str.upper()
    aes = rel[d == "AE"].groupby(["USUBJID", "RELID"]).size()
    cms = rel[d == "CM"]
    n = [int(aes.get((u, r), 0)) for u, r in zip(cms["USUBJID"], cms["RELID"])]
    bad = cms.index[np.array(n, dtype=int) > 1] if len(cms) else cms.index
    if len(bad) == 0:
        return []
    return [
        Problem(
            _file(frames, "relrec"),
            "RELID",
            _rows(bad),
            "one adverse event per medication",
            f"a medication is related to more than one adverse event (RELID {rel.at[bad[0], 'RELID']}); "
            f"the report attributes each medication to one event{_more(len(bad))}",
        )
    ]


def to_view(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The analysis view (:data:`analysis_lib.trial.sdtm.DOMAINS`) of a standard SDTM delivery."""
    return build_view(frames)[0]


# --------------------------------------------------------------------------------- from the view
def _visitnum(sv: pd.DataFrame) -> pd.Series:
    """VISITNUM of each visit name: its rank in the planned schedule, read as the median number of
    days from the subject's first visit (ties by name), the same number for every subject."""
    day = pd.to_datetime(sdtm_date(sv["SVSTDTC"]), errors="coerce")
    offset = (day - day.groupby(sv["USUBJID"]).transform("min")).dt.days
    med = offset.groupby(sv["VISIT"]).median().fillna(0)
    ranked = sorted(med.index, key=lambda v: (med[v], v))
    return sv["VISIT"].map({v: str(i) for i, v in enumerate(ranked, 1)})


def _tptnum(visit: pd.Series) -> pd.Series:
    """PCTPTNUM: the nominal day of a ``DAY n`` / ``CD22 DAY n`` time point ('' otherwise)."""
    return visit.str.extract(r"DAY (\d+)$")[0].fillna("")


def from_view(view: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The standard SDTM delivery of an analysis view (strings; see ``docs/sdtm-mapping.md``).

    Inverse of :func:`to_view` on every view this project writes. Numbers stay the view's text (the
    XPT writer stores :attr:`Delivered.numeric` variables as numbers)."""
    dm = view["dm"]
    study = dict(zip(_col(dm, "USUBJID"), _col(dm, "STUDYID")))
    default = next(iter(study.values()), "")
    out: dict[str, pd.DataFrame] = {}

    def frame(name: str, df: pd.DataFrame, columns: dict[str, object]) -> pd.DataFrame:
        u = _col(df, "USUBJID")
        body = {"STUDYID": u.map(lambda x: study.get(x, default)), "DOMAIN": name.upper(), "USUBJID": u}
        for k, val in columns.items():
            body[k] = val if isinstance(val, pd.Series) else pd.Series(val, index=df.index, dtype=object)
        res = pd.DataFrame(body, index=df.index).reset_index(drop=True)
        return res.astype(str) if len(res) else res

    def seq(df: pd.DataFrame) -> pd.Series:
        return (df.groupby(_col(df, "USUBJID"), sort=False).cumcount() + 1).astype(str)

    ds = view["ds"]
    death = ds[_col(ds, "DSDECOD") == "DEATH"]
    dth = dict(zip(_col(death, "USUBJID"), _col(death, "DSSTDTC")))
    infused = ~_blank(_col(dm, "RFSTDTC"))
    armcd = "DL" + _col(dm, "DOSELVL")
    arm = "CD19 CAR-T dose level " + _col(dm, "DOSELVL")
    out["dm"] = frame(
        "dm",
        dm,
        {
            "SUBJID": _col(dm, "SUBJID"),
            "RFSTDTC": _col(dm, "RFSTDTC"),
            "RFXSTDTC": _col(dm, "RFSTDTC"),
            "RFICDTC": _col(dm, "RFICDTC"),
            "DTHDTC": _col(dm, "USUBJID").map(lambda u: dth.get(u, "")),
            "DTHFL": _col(dm, "USUBJID").map(lambda u: "Y" if u in dth else ""),
            "SITEID": _col(dm, "SITEID"),
            "BRTHDTC": _col(dm, "BRTHDTC"),
            "AGE": _col(dm, "AGE"),
            "AGEU": _col(dm, "AGEU"),
            "SEX": _col(dm, "SEX"),
            "RACE": _col(dm, "RACE"),
            "ETHNIC": _col(dm, "ETHNIC"),
            "ARMCD": armcd,
            "ARM": arm,
            "ACTARMCD": armcd.where(infused, ""),
            "ACTARM": arm.where(infused, ""),
            "ARMNRS": pd.Series(np.where(infused, "", NOT_TREATED), index=dm.index),
            "COUNTRY": _col(dm, "COUNTRY"),
        },
    )
    out["suppdm"] = _supp_from_view(dm, "dm", "", study, default)
    w = dm[~_blank(_col(dm, "WEIGHTBL"))]
    out["vs"] = frame(
        "vs",
        w,
        {
            "VSSEQ": "1",
            "VSTESTCD": WEIGHT[0],
            "VSTEST": WEIGHT[1],
            "VSORRES": _col(w, "WEIGHTBL"),
            "VSORRESU": WEIGHT[2],
            "VSSTRESC": _col(w, "WEIGHTBL"),
            "VSSTRESN": _col(w, "WEIGHTBL"),
            "VSSTRESU": WEIGHT[2],
            "VSBLFL": "Y",
            "VISIT": "SCREENING",
            "VSDTC": _col(w, "RFICDTC"),
        },
    )
    bl = view["bl"]
    consent = dict(zip(_col(dm, "USUBJID"), _col(dm, "RFICDTC")))
    mh = bl[~_blank(_col(bl, "DIAGDTC"))]
    out["mh"] = frame(
        "mh",
        mh,
        {
            "MHSEQ": "1",
            "MHTERM": DIAGNOSIS[0],
            "MHDECOD": DIAGNOSIS[1],
            "MHCAT": PRIMARY_DIAGNOSIS,
            "MHSTDTC": _col(mh, "DIAGDTC"),
        },
    )
    labels = {c.name: c.label for c in VIEW_DOMAINS["bl"].columns}
    fa_rows = [
        (u, t, str(r[t]))
        for u, r in zip(_col(bl, "USUBJID"), bl.to_dict("records"))
        for t in FA_TESTS
        if t in r and str(r[t]).strip() != ""
    ]
    fa = pd.DataFrame(fa_rows, columns=["USUBJID", "T", "V"])
    numeric = pd.to_numeric(fa["V"], errors="coerce")
    out["fa"] = frame(
        "fa",
        fa,
        {
            "FASEQ": seq(fa),
            "FATESTCD": fa["T"],
            "FATEST": fa["T"].map(labels),
            "FAOBJ": FA_OBJECT,
            "FACAT": FA_CATEGORY,
            "FAORRES": fa["V"],
            "FAORRESU": fa["T"].map(FA_UNITS).fillna(""),
            "FASTRESC": fa["V"],
            "FASTRESN": fa["V"].where(numeric.notna(), ""),
            "FASTRESU": fa["T"].map(FA_UNITS).fillna(""),
            "VISIT": "SCREENING",
            "FADTC": fa["USUBJID"].map(lambda u: consent.get(u, "")),
        },
    )
    ex = view["ex"]
    out["ex"] = frame(
        "ex",
        ex,
        {
            "EXSEQ": _col(ex, "EXSEQ"),
            "EXTRT": _col(ex, "EXTRT"),
            "EXDOSE": _col(ex, "EXDOSE"),
            "EXDOSU": _col(ex, "EXDOSU"),
            "EXDOSFRM": "SUSPENSION",
            "EXROUTE": _col(ex, "EXROUTE"),
            "EXSTDTC": _col(ex, "EXSTDTC"),
            "EXENDTC": _col(ex, "EXSTDTC"),
        },
    )
    pr = view["pr"]
    out["pr"] = frame(
        "pr",
        pr,
        {
            "PRSEQ": _col(pr, "PRSEQ"),
            "PRTRT": _col(pr, "PRTRT"),
            "PRCAT": _col(pr, "PRCAT"),
            "PRSTDTC": _col(pr, "PRSTDTC"),
            "PRENDTC": _col(pr, "PRENDTC"),
        },
    )
    out["supppr"] = _supp_from_view(pr, "pr", "PRSEQ", study, default)
    ae = view["ae"]
    out["ae"] = frame(
        "ae",
        ae,
        {c: _col(ae, c) for c in DELIVERY["ae"].required[3:] + ("AEENDTC", "AETOXGR")},
    )
    out["suppae"] = _supp_from_view(ae, "ae", "AESEQ", study, default)
    cm = view["cm"]
    out["cm"] = frame("cm", cm, {c: _col(cm, c) for c in DELIVERY["cm"].required[3:] + ("CMENDTC",)})
    linked = cm[~_blank(_col(cm, "CMAESEQ"))]
    rel = []
    for u, cmseq, aeseq in zip(_col(linked, "USUBJID"), _col(linked, "CMSEQ"), _col(linked, "CMAESEQ")):
        rid = f"CM{cmseq}"
        sid = study.get(u, default)
        rel += [(sid, "CM", u, "CMSEQ", cmseq, "", rid), (sid, "AE", u, "AESEQ", aeseq, "", rid)]
    out["relrec"] = pd.DataFrame(rel, columns=list(RELREC_VARS)).astype(str)
    rs = view["rs"]
    mrd = _col(rs, "RSTESTCD") == "MRD"
    out["rs"] = frame(
        "rs",
        rs,
        {
            "RSSEQ": _col(rs, "RSSEQ"),
            "RSTESTCD": _col(rs, "RSTESTCD"),
            "RSTEST": pd.Series(np.where(mrd, "Minimal Residual Disease", "Overall Response"), index=rs.index),
            "RSCAT": pd.Series(np.where(mrd, "MRD BY FLOW CYTOMETRY", "NCCN ALL"), index=rs.index),
            "RSORRES": _col(rs, "RSSTRESC"),
            "RSSTRESC": _col(rs, "RSSTRESC"),
            "RSSTRESN": _col(rs, "RSSTRESN"),
            "RSEVAL": "INVESTIGATOR",
            "VISIT": _col(rs, "VISIT"),
            "RSDTC": _col(rs, "RSDTC"),
        },
    )
    out["ds"] = frame("ds", ds, {c: _col(ds, c) for c in DELIVERY["ds"].required[3:]})
    cause = death[~_blank(_col(death, "DTHCAUS"))]
    out["dd"] = frame(
        "dd",
        cause,
        {
            "DDSEQ": "1",
            "DDTESTCD": DEATH_CAUSE[0],
            "DDTEST": DEATH_CAUSE[1],
            "DDORRES": _col(cause, "DTHCAUS"),
            "DDSTRESC": _col(cause, "DTHCAUS"),
            "DDDTC": _col(cause, "DSSTDTC"),
        },
    )
    sv = view["sv"]
    out["sv"] = frame(
        "sv",
        sv,
        {
            "VISITNUM": _visitnum(sv) if len(sv) else "",
            "VISIT": _col(sv, "VISIT"),
            "SVSTDTC": _col(sv, "SVSTDTC"),
            "SVENDTC": _col(sv, "SVSTDTC"),
        },
    )
    ck = view["ck"]
    code = {p: c for c, p in PC_TESTS.items()}
    blq = _col(ck, "CKORRES") == "<LLOQ"
    orres = _col(ck, "CKORRES").where(~blq, "<" + _col(ck, "CKLLOQ"))
    cd22 = _col(ck, "VISIT").str.startswith("CD22")
    out["pc"] = frame(
        "pc",
        ck,
        {
            "PCSEQ": _col(ck, "CKSEQ"),
            "PCTESTCD": _col(ck, "CKTRT").map(lambda p: code.get(p, p)),
            "PCTEST": _col(ck, "CKTRT"),
            "PCORRES": orres,
            "PCORRESU": _col(ck, "CKSTRESU"),
            "PCSTRESC": orres,
            "PCSTRESN": _col(ck, "CKSTRESN"),
            "PCSTRESU": _col(ck, "CKSTRESU"),
            "PCSPEC": _col(ck, "CKSPEC").map(lambda s: PC_SPEC.get(s, s)),
            "PCMETHOD": _col(ck, "CKMETHOD"),
            "PCLLOQ": _col(ck, "CKLLOQ"),
            "VISIT": _col(ck, "VISIT"),
            "PCTPT": _col(ck, "VISIT"),
            "PCTPTNUM": _tptnum(_col(ck, "VISIT")),
            "PCTPTREF": pd.Series(np.where(cd22, "CD22 CAR-T INFUSION", "CD19 CAR-T INFUSION"), index=ck.index),
            "PCDTC": _col(ck, "CKDTC").where(_blank(_col(ck, "CKDTC")), _col(ck, "CKDTC") + "T09:00"),
        },
    )
    lb = view["lb"]
    lbc = ("LBSEQ", "LBTESTCD", "LBTEST", "LBCAT", "LBORRES", "LBSTRESN", "LBSTRESU", "LBSTNRLO", "LBSTNRHI")
    body = {c: _col(lb, c) for c in lbc}
    body.update(LBORRESU=_col(lb, "LBSTRESU"), LBSTRESC=_col(lb, "LBORRES"), VISIT=_col(lb, "VISIT"))
    body["LBDTC"] = _col(lb, "LBDTC")
    out["lb"] = frame("lb", lb, body)
    xt = view["xt"]
    out["xt"] = frame("xt", xt, {c: _col(xt, c) for c in ("XTSEQ", "XTTRT", "XTSTDTC")})
    return out


def _supp_from_view(df: pd.DataFrame, parent: str, idvar: str, study: dict, default: str) -> pd.DataFrame:
    """The SUPP-- records of the view's QNAM columns (empty values are not delivered, SDTMIG 8.4)."""
    rows = []
    for rec in df.to_dict("records"):
        for q, label in QNAMS[parent].items():
            value = str(rec.get(q, "")).strip()
            if value:
                u = str(rec["USUBJID"])
                rows.append(
                    (
                        study.get(u, default),
                        parent.upper(),
                        u,
                        idvar,
                        str(rec[idvar]) if idvar else "",
                        q,
                        label,
                        str(rec[q]),
                        QORIG.get(q, "CRF"),
                    )
                )
    return pd.DataFrame(rows, columns=list(SUPP_VARS)).astype(str)


#: The order the delivery's datasets are written in (parents before their SUPPQUAL and RELREC).
DELIVERY_ORDER: tuple[str, ...] = ("dm", "suppdm", "vs", "mh", "fa", "ex", "pr", "supppr", "ae", "suppae")
DELIVERY_ORDER += ("cm", "relrec", "rs", "ds", "dd", "sv", "pc", "lb", "xt")
assert set(DELIVERY_ORDER) == set(DELIVERY) | set(SUPP_OF)


def numeric_variables(name: str) -> tuple[str, ...]:
    """The variables of delivered dataset ``name`` stored as SAS numbers."""
    return DELIVERY[name].numeric if name in DELIVERY else ()


def rename_in_message(message: str, origins: dict[str, Origin]) -> str:
    """A view problem's message in the delivery's words: each view column named in it that is a
    plain rename of a delivered variable (CKSTRESN -> PCSTRESN) is replaced by that variable."""
    for view_col, o in origins.items():
        if o.column != view_col and re.fullmatch(r"[A-Z][A-Z0-9]*", o.column):
            message = re.sub(rf"\b{view_col}\b", o.column, message)
    return message


def variable_map() -> list[tuple[str, str, str, str]]:
    """Per analysis-view column, the delivered dataset and variable it is read from:
    ``(view domain, view column, delivered dataset, delivered variable or QVAL where ...)`` — the
    generated table of ``docs/sdtm-mapping.md``."""
    empty = {n: pd.DataFrame({c.name: pd.Series(dtype=object) for c in d.columns}) for n, d in VIEW_DOMAINS.items()}
    delivery = from_view(empty)
    for name, df in delivery.items():
        df.attrs["file"] = f"{name}.xpt"
    _, origins = build_view(delivery)
    return [
        (name, c.name, origins[name][c.name].file.rsplit(".", 1)[0].upper(), origins[name][c.name].column)
        for name, dom in VIEW_DOMAINS.items()
        for c in dom.columns
        if c.name in origins[name]
    ]


def variable_map_markdown() -> str:
    """:func:`variable_map` as the Markdown table committed in ``docs/sdtm-mapping.md``."""
    lines = ["| view domain | view column | SDTM dataset | SDTM variable |", "|---|---|---|---|"]
    lines += [f"| {d} | {c} | {ds} | {v} |" for d, c, ds, v in variable_map()]
    return "\n".join(lines) + "\n"
