"""The schema of ``params/study.yml`` and ``params/<cut>.yml`` (pydantic v2), and the cross-checks.

Why: a missing section or a typo used to surface as a bare ``KeyError: 'ae_periods'`` mid-report.
Both files are now checked before anything runs; every unknown, missing or mistyped key is named
with its path and the expected type, all at once::

    study.yml: time_to_event.efs.primary: missing (expected a mapping with keys ...)

The models are **strict** (no silent coercion: ``"7"`` is not the integer 7), so the validated YAML
mapping is exactly what the model accepts; :mod:`analysis_lib.trial.config` hands that original
mapping on unchanged and every consumer keeps reading plain nested dicts (outputs stay
byte-identical). Each field's ``description`` is the parameter's meaning — the one place it is stated.
"""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from analysis_lib.toolkit import stats


class _Strict(BaseModel):
    """Unknown keys are errors; values are not coerced (YAML already gives ints, floats, dates)."""

    model_config = ConfigDict(extra="forbid", strict=True)


DayRange = Annotated[list[int], Field(min_length=2, max_length=2)]


# ------------------------------------------------------------------------------------ study.yml
class StudyInfo(_Strict):
    id: str = Field(description="Study identifier (STUDYID), printed on the title page and in the manifest")
    title: str = Field(description="Full study title (title page, methods chapter)")
    short_title: str = Field(description="Short title for running heads")
    phase: str = Field(description="Trial phase as printed (e.g. 'Phase I')")
    sponsor: str = Field(description="Sponsor as printed on the title page")


class DoseLevel(_Strict):
    level: int = Field(description="Dose level number (DM.DOSELVL in the data)")
    dose: float = Field(gt=0, description="CD19 CAR-T dose of the level, CAR+ cells/kg")
    label: str = Field(description="Label of the level in every table (ADSL TRT01A)")


class Timeline(_Strict):
    lymphodepletion: DayRange = Field(description="First and last study day of lymphodepletion [start, end]")
    hsct: int = Field(description="Nominal study day of the allogeneic HSCT")
    cd22: int = Field(description="Nominal study day of the CD22 CAR-T infusion")
    end_of_follow_up: int = Field(
        gt=0, description="Last study day of protocol follow-up (administrative censoring of every endpoint)"
    )


class Escalation(_Strict):
    design: str = Field(description="Dose-escalation design as stated in the methods (e.g. '3+3')")
    max_per_level: int = Field(gt=0, description="Most subjects treated at one dose level during escalation")


class Dlt(_Strict):
    window: DayRange = Field(description="DLT assessment window, first and last study day [start, end]")
    criteria: list[str] = Field(min_length=1, description="The protocol's DLT criteria, as listed in the methods")
    escalation: Escalation = Field(description="Dose-escalation rules")


class AePeriod(_Strict):
    period: int = Field(description="Period number (ADaM APxx)")
    label: str = Field(description="Label of the period in the AE tables")
    start: int | None = Field(default=None, description="First study day of the period (period 1)")
    cd22_offset: int | None = Field(
        default=None, description="Period 1 ends this many days after the CD22 CAR-T infusion (period 1)"
    )
    max_end: int | None = Field(default=None, description="Period 1 ends at the latest on this study day (period 1)")
    end: int | None = Field(default=None, description="Last study day of the period (the last period)")


class AesiRule(_Strict):
    decod: list[str] | None = Field(default=None, description="MedDRA preferred terms (AEDECOD) of the category")
    bodsys: list[str] | None = Field(default=None, description="MedDRA system organ classes (AEBODSYS) of the category")
    min_duration_days: int | None = Field(
        default=None, gt=0, description="The event counts only when it lasts at least this many days (ADURN)"
    )

    @model_validator(mode="after")
    def _has_terms(self) -> AesiRule:
        if not self.decod and not self.bodsys:
            raise ValueError("an AESI category needs decod (preferred terms) or bodsys (system organ classes)")
        return self


class Response(_Strict):
    visits: list[int] = Field(min_length=1, description="Nominal study days of the ORR assessments (after CD19 CAR-T)")
    window: int = Field(ge=0, description="+/- days around each nominal day an assessment may fall")
    responder: list[str] = Field(min_length=1, description="Overall responses (RSSTRESC) that count as response")
    later_visits: list[int] = Field(description="Nominal study days of the later disease assessments")


class Landmark(_Strict):
    day: int = Field(description="Landmark day (from the endpoint's origin)")
    label: str = Field(description="Label of the landmark in tables (e.g. '12 months')")


class EfsRule(_Strict):
    induction_failure_event: bool = Field(
        description="No CR/CRi by the induction assessment is an EFS event at Day 0 (else censored at Day 0)"
    )
    withdrawal_event: bool = Field(description="Study withdrawal (other than death or completion) is an EFS event")


class Efs(_Strict):
    induction_assessment_day: int = Field(
        description="Nominal study day of the induction assessment (plus response.window) for induction failure"
    )
    primary: EfsRule = Field(description="Rules of the primary EFS analysis")
    sensitivity: EfsRule = Field(description="Rules of the EFS sensitivity analysis")


class TimeToEvent(_Strict):
    days_per_month: float = Field(gt=0, description="Months = days / days_per_month (medians and axes in months)")
    conf_type: Literal["log", "log-log", "plain"] = Field(
        description="Pointwise CI transformation of Kaplan-Meier rates (R survival conf.type)"
    )
    final_visit_window: int = Field(
        ge=0, description="A completer whose last contact is this close to end of follow-up is censored there (days)"
    )
    landmarks: list[Landmark] = Field(description="Landmarks of OS/EFS rates, study days after CD19 CAR-T")
    dor_landmarks: list[Landmark] = Field(description="Landmarks of duration-of-response rates, days from first CR/CRi")
    efs: Efs = Field(description="Event-free survival rules")


class CirNrm(_Strict):
    landmarks: list[Landmark] = Field(description="Landmarks of CIR/NRM, days after CD19 CAR-T")


class Agvhd(_Strict):
    by_day: int = Field(gt=0, description="Acute GVHD counts when its onset is on or before this day after HSCT")
    grades: dict[str, int] = Field(min_length=1, description="Acute GVHD grade groups: label -> minimum MAGIC grade")


class Cgvhd(_Strict):
    landmarks: list[Landmark] = Field(description="Landmarks of chronic GVHD cumulative incidence, days after HSCT")


class Grfs(_Strict):
    agvhd_min_grade: int = Field(description="Acute GVHD of at least this grade is a GRFS event")
    cgvhd: Literal["systemic therapy", "moderate or severe"] = Field(
        description="Which chronic GVHD is a GRFS event: treated with systemic corticosteroids, or NIH moderate/severe"
    )
    landmarks: list[Landmark] = Field(description="Landmarks of GRFS, days after HSCT")


class Transplant(_Strict):
    min_group_n: int = Field(ge=0, description="A dose level with fewer subjects is shown only within 'All subjects'")
    cir_nrm: CirNrm = Field(description="Cumulative incidence of relapse and non-relapse mortality")
    agvhd: Agvhd = Field(description="Acute GVHD (MAGIC) from the allo-HSCT date")
    cgvhd: Cgvhd = Field(description="Chronic GVHD (NIH 2014) from the allo-HSCT date")
    grfs: Grfs = Field(description="GVHD-free relapse-free survival from the allo-HSCT date")


class Kinetics(_Strict):
    auc_window_days: int = Field(gt=0, description="Partial AUC from Day 0 to this day (AUC0-<window>)")
    auc_needs_sample_in_window: bool = Field(
        description="AUC0-<window> is not calculable when no sample lies inside [0, window]"
    )
    auc_method: Literal["lin-up/log-down", "lin up/log down", "linear"] = Field(description="AUC trapezoidal rule")
    blq_rule: str = Field(description="How values below LLOQ enter NCA (one of analysis_lib.toolkit.stats.BLQ_RULES)")
    persistence_days: list[int] = Field(description="Study days at which CAR-T persistence is summarised")

    @field_validator("blq_rule")
    @classmethod
    def _known_rule(cls, v: str) -> str:
        if v not in stats.BLQ_RULES:
            raise ValueError(f"'{v}' is not a BLQ rule (one of {', '.join(stats.BLQ_RULES)})")
        return v


class CtcaeGrading(_Strict):
    term: str = Field(description="CTCAE v5.0 term the grades belong to")
    limits: list[float | Literal["LLN"]] = Field(
        min_length=1,
        description="Grade g when the value is below the g-th limit ('LLN': the record's lower limit of normal)",
    )


class CountRule(_Strict):
    test: str = Field(description="LBTESTCD of the count")
    threshold: float = Field(gt=0, description="Count at or above which a sample counts (standard units)")
    consecutive: int = Field(ge=1, description="Successive samples, on different days, at or above the threshold")
    transfusion_free_days: int | None = Field(
        default=None, ge=0, description="Days before the run (and during it) without a platelet transfusion"
    )


class Engraftment(_Strict):
    neutrophil: CountRule = Field(description="Neutrophil engraftment after allo-HSCT (CIBMTR)")
    platelet: CountRule = Field(description="Platelet engraftment after allo-HSCT (CIBMTR)")
    landmarks: list[int] = Field(description="Days after HSCT of the cumulative incidence table")


class Recovery(_Strict):
    neutrophil: CountRule = Field(description="Neutrophil recovery after CD19 CAR-T")
    platelet: CountRule = Field(description="Platelet recovery after CD19 CAR-T")
    landmarks: list[int] = Field(description="Days after CD19 CAR-T of the recovery table")


class ProlongedCytopenia(_Strict):
    day: int = Field(gt=0, description="Study day of the assessment (sample nearest this day)")
    window: int = Field(ge=0, description="Days either side of `day` a sample may lie")
    min_grade: int = Field(ge=1, le=4, description="CTCAE grade of neutropenia or thrombocytopenia that counts")


class CrsMarkers(_Strict):
    tests: list[str] = Field(min_length=1, description="LBTESTCDs whose peak is summarised by worst CRS grade")
    window: list[int] = Field(min_length=2, max_length=2, description="Study days [from, to] of the peak")


class Laboratory(_Strict):
    ctcae: dict[str, CtcaeGrading] = Field(description="LBTESTCD -> its CTCAE v5.0 grading ('decreased' terms)")
    baseline: str = Field(description="Baseline rule, as the methods state it")
    engraftment: Engraftment = Field(description="Engraftment after allo-HSCT; death competes")
    recovery: Recovery = Field(description="Count recovery after CD19 CAR-T, before conditioning")
    prolonged_cytopenia: ProlongedCytopenia = Field(description="Prolonged cytopenia at a study day")
    crs_markers: CrsMarkers = Field(description="CRS biomarker peaks by worst CRS grade")
    b_cell_aplasia_below: float = Field(gt=0, description="CD19+ B cells/uL below which a sample is aplastic")
    b_cell_landmarks: list[int] = Field(description="Days of the B-cell aplasia and CAR-T persistence landmarks")
    hypogammaglobulinaemia_below: float = Field(gt=0, description="IgG (g/L) below which hypogammaglobulinaemia")
    igg_days: list[int] = Field(description="Nominal days of the hypogammaglobulinaemia table")
    grade3_listing_min_grade: int = Field(ge=1, le=5, description="Lowest CTCAE grade in the abnormalities listing")
    figure_days: list[int] = Field(min_length=1, description="Nominal days of the over-time figures")


class PartialDates(_Strict):
    start: str = Field(description="Imputation rule of partial start dates (AE, CM), as stated in the methods")
    end: str = Field(description="Imputation rule of partial end dates, as stated in the methods")


class StudyParams(_Strict):
    """``params/study.yml``: every protocol value the pipeline uses (docs/design.md §4)."""

    study: StudyInfo = Field(description="Study identification")
    dose_levels: list[DoseLevel] = Field(min_length=1, description="CD19 CAR-T dose levels")
    cd22_dose: float = Field(gt=0, description="CD22 CAR-T dose, CAR+ cells/kg")
    timeline: Timeline = Field(description="Protocol timeline, study days relative to CD19 CAR-T (Day 0)")
    dlt: Dlt = Field(description="Dose-limiting toxicity window, criteria and escalation")
    ae_periods: list[AePeriod] = Field(
        min_length=2, max_length=2, description="The two AE reporting periods (period 1, then period 2)"
    )
    grading: dict[str, str] = Field(description="Grading scale per AE category; 'default' for all others")
    aesi: dict[str, AesiRule] = Field(description="AESI category -> its MedDRA terms")
    response: Response = Field(description="Response assessment schedule and responder definition")
    time_to_event: TimeToEvent = Field(description="Rules of every time-to-event analysis")
    transplant: Transplant = Field(description="Transplant outcomes (CIBMTR conventions)")
    kinetics: Kinetics = Field(description="Cellular kinetics (NCA) rules")
    laboratory: Laboratory = Field(description="Laboratory evaluations (ICH E3 12.4)")
    partial_dates: PartialDates = Field(description="Imputation rules of partial dates")
    populations: dict[str, str] = Field(min_length=1, description="Analysis population flag -> its definition")
    default_cut: str | None = Field(default=None, description="The data cut `make report` reports (params/<cut>.yml)")

    @model_validator(mode="after")
    def _shape(self) -> StudyParams:
        p1, last = self.ae_periods[0], self.ae_periods[-1]
        if p1.cd22_offset is None or p1.max_end is None:
            raise ValueError("ae_periods: the first period needs cd22_offset and max_end")
        if last.end is None:
            raise ValueError("ae_periods: the last period needs end")
        if "default" not in self.grading:
            raise ValueError("grading: needs a 'default' scale (for all other AEs)")
        return self


# ------------------------------------------------------------------------------------ <cut>.yml
class CutParams(_Strict):
    """``params/<cut>.yml``: one data cut."""

    id: str = Field(description="Cut id; must equal the file name (params/<id>.yml)")
    label: str | None = Field(default=None, description="Label of the cut on the title page (default: the id)")
    cut_date: dt.date = Field(description="Data cut-off date (YYYY-MM-DD): nothing after it is analysed")
    data_dir: str | None = Field(
        default=None,
        description="Folder of the cut's SDTM delivery, relative to the project root or absolute "
        "(exactly one of data_dir and adam_dir)",
    )
    adam_dir: str | None = Field(
        default=None,
        description="Folder of the sponsor's own ADaM datasets (Parquet, SAS XPT or CSV), already cut at "
        "cut_date: SDTM validation, the data cut and derive are skipped; checked against the ADaM "
        "contract (docs/adam.md) instead (exactly one of data_dir and adam_dir)",
    )
    kind: Literal["interim", "final"] = Field(description="Interim or final analysis")
    previous: str | None = Field(default=None, description="Id of the previous cut (the 'changes since' chapter)")
    tlfs_off: dict[str, str] = Field(
        default_factory=dict,
        description="TLFs not produced for this cut, by catalogue id, each with the reason the book "
        "prints in its place (e.g. inputs the delivery lacks)",
    )

    @model_validator(mode="after")
    def _one_input(self) -> CutParams:
        """Exactly one input folder: an SDTM delivery or a sponsor's ADaM."""
        if (self.data_dir is None) == (self.adam_dir is None):
            both = "both" if self.data_dir is not None else "neither"
            raise ValueError(f"name exactly one of data_dir (SDTM) and adam_dir (sponsor ADaM), not {both}")
        blank = [k for k, v in self.tlfs_off.items() if not v.strip()]
        if blank:
            raise ValueError(f"tlfs_off: {', '.join(blank)}: give the reason the book prints (not empty)")
        return self

    @field_validator("cut_date", mode="before")
    @classmethod
    def _iso_date(cls, v: Any) -> Any:
        """A YAML date, or a quoted ISO 8601 date string."""
        if isinstance(v, str):
            try:
                return dt.date.fromisoformat(v)
            except ValueError:
                raise ValueError(f"'{v}' is not an ISO 8601 date (YYYY-MM-DD)") from None
        return v


# ------------------------------------------------------------------------------------ messages
def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated`` and ``X | None`` down to the type a value must have."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            rest = [a for a in get_args(tp) if a is not type(None)]
            if len(rest) != 1:
                return tp
            tp = rest[0]
        else:
            return tp


def _type_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> Any:
    """The annotation of the value at ``loc`` inside ``model`` (None when the path leaves the schema)."""
    tp: Any = model
    for part in loc:
        tp = _unwrap(tp)
        origin = get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            if field is None:
                return None
            tp = field.annotation
        elif origin is list and isinstance(part, int):
            tp = get_args(tp)[0]
        elif origin is dict:
            tp = get_args(tp)[1]
        else:
            return None
    return tp


def _field_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> Any:
    parent = _unwrap(_type_at(model, loc[:-1]))
    if loc and isinstance(parent, type) and issubclass(parent, BaseModel):
        return parent.model_fields.get(str(loc[-1]))
    return None


def describe(tp: Any) -> str:
    """A type in plain words: 'an integer', 'a list of integers', 'a mapping with keys a, b'."""
    tp = _unwrap(tp)
    origin = get_origin(tp)
    simple = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    if tp in simple:
        return simple[tp]
    if tp is dt.date:
        return "a date (YYYY-MM-DD)"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin is list:
        inner = describe(get_args(tp)[0]).removeprefix("an ").removeprefix("a ")
        first, _, rest = inner.partition(" ")
        return f"a list of {first}s" + (f" {rest}" if rest else "")
    if origin is dict:
        return "a mapping of name -> " + describe(get_args(tp)[1])
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "a mapping with keys " + ", ".join(tp.model_fields)
    return str(tp)


def _shown(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else repr(value)


def _kind_of(value: Any) -> str:
    """What a YAML value is, in plain words."""
    kinds = [(bool, "true/false"), (int, "an integer"), (float, "a number"), (str, "a string")]
    kinds += [(list, "a list"), (dict, "a mapping"), (dt.date, "a date"), (type(None), "empty")]
    return next((word for t, word in kinds if isinstance(value, t)), type(value).__name__)


def _message(model: type[BaseModel], err: ErrorDetails) -> tuple[str, str]:
    """(path, what is wrong) for one pydantic error, in plain words."""
    loc = tuple(err["loc"])
    path = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in loc).replace(".[", "[") or "(top level)"
    kind = err["type"]
    if kind == "missing":
        field = _field_at(model, loc)
        what = f"missing (expected {describe(_type_at(model, loc))}"
        return path, what + (f": {field.description})" if field is not None and field.description else ")")
    if kind == "extra_forbidden":
        parent = _unwrap(_type_at(model, loc[:-1]))
        allowed = ", ".join(parent.model_fields) if isinstance(parent, type) and issubclass(parent, BaseModel) else ""
        return path, "unknown key" + (f" (allowed here: {allowed})" if allowed else "")
    if kind == "value_error":
        return path, str(err.get("ctx", {}).get("error", err["msg"]))
    expected = describe(_type_at(model, loc))
    got = err["input"]
    if kind.endswith("_type") or kind.endswith("_parsing") or kind == "literal_error":
        return path, f"{_shown(got)} is {_kind_of(got)}; expected {expected}"
    return path, f"{_shown(got)}: {err['msg'][:1].lower()}{err['msg'][1:]} (expected {expected})"


def schema_problems(model: type[BaseModel], data: Mapping[str, Any], file: str) -> list[str]:
    """Every schema violation of ``data`` as ``"<file>: <path>: <what is wrong>"`` (empty = valid)."""
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return [f"{file}: {': '.join(_message(model, e))}" for e in exc.errors(include_url=False)]
    return []


# ------------------------------------------------------------------------------------ cross-checks
def _after(file: str, path: str, days: list[int], end: int) -> list[str]:
    late = [d for d in days if d > end]
    if not late:
        return []
    shown = ", ".join(map(str, late))
    return [f"{file}: {path}: day {shown} is after timeline.end_of_follow_up ({end}); it must lie inside follow-up"]


def cross_problems(study: Mapping[str, Any], file: str = "study.yml") -> list[str]:
    """Rules between parameters of a schema-valid ``study.yml``: visit, landmark and window days
    inside follow-up, windows in order, the timeline in order, dose levels unique."""
    s = StudyParams.model_validate(study)
    end = s.timeline.end_of_follow_up
    inside = {
        "response.visits": s.response.visits,
        "response.later_visits": s.response.later_visits,
        "time_to_event.landmarks": [lm.day for lm in s.time_to_event.landmarks],
        "time_to_event.efs.induction_assessment_day": [s.time_to_event.efs.induction_assessment_day],
        "transplant.cir_nrm.landmarks": [lm.day for lm in s.transplant.cir_nrm.landmarks],
        "kinetics.persistence_days": s.kinetics.persistence_days,
        "dlt.window": s.dlt.window[1:],
        "ae_periods[1].end": [s.ae_periods[-1].end or 0],
        "laboratory.prolonged_cytopenia.day": [s.laboratory.prolonged_cytopenia.day],
        "laboratory.recovery.landmarks": s.laboratory.recovery.landmarks,
        "laboratory.b_cell_landmarks": s.laboratory.b_cell_landmarks,
        "laboratory.igg_days": s.laboratory.igg_days,
        "laboratory.figure_days": s.laboratory.figure_days,
        "laboratory.crs_markers.window": s.laboratory.crs_markers.window,
    }
    out = [p for path, days in inside.items() for p in _after(file, path, days, end)]
    for path, (lo, hi) in (("dlt.window", s.dlt.window), ("timeline.lymphodepletion", s.timeline.lymphodepletion)):
        if lo > hi:
            out.append(f"{file}: {path}: start {lo} is after end {hi}")
    if not s.timeline.hsct < s.timeline.cd22 < end:
        tl = s.timeline
        out.append(f"{file}: timeline: expected hsct < cd22 < end_of_follow_up, got {tl.hsct}, {tl.cd22}, {end}")
    levels = [d.level for d in s.dose_levels]
    if len(set(levels)) != len(levels):
        out.append(f"{file}: dose_levels: level numbers {levels} are not unique")
    return out


def study_problems(study: Mapping[str, Any], file: str = "study.yml") -> list[str]:
    """Schema problems of ``study.yml``, else its cross-check problems."""
    return schema_problems(StudyParams, study, file) or cross_problems(study, file)
