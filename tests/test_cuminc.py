"""stats.cumulative_incidence against R cmprsk::cuminc / timepoints (tests/reference/cuminc_reference.R).

Each case is named after the R call it matches: ``timepoints(cuminc(time, status), times)`` for
estimate and variance, and the log(-log) CI tidycmprsk documents, at every distinct time, half-way
between them, before 0 and after the largest time (NA in R, nan here).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis_lib.toolkit import stats

REF = Path(__file__).resolve().parent / "reference"
TOL = 1e-6


@pytest.fixture(scope="module")
def inputs() -> pd.DataFrame:
    return pd.read_csv(REF / "cuminc_inputs.csv")


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    return pd.read_csv(REF / "cuminc_ref.csv")


def _same(actual, expected, what):
    a, e = np.asarray(actual, float), np.asarray(expected, float)
    assert a.shape == e.shape, what
    bad = [i for i in range(a.size) if not ((math.isnan(a[i]) and math.isnan(e[i])) or abs(a[i] - e[i]) <= TOL)]
    assert not bad, f"{what}: positions {bad[:5]} got {a[bad[:5]]} expected {e[bad[:5]]}"


CASES = [
    ("mgus2", "all"),
    ("mgus2_sex", "F"),
    ("mgus2_sex", "M"),
    ("no_competing", "all"),
    ("only_competing", "all"),
    ("ties_causes", "all"),
    ("censor_tied", "all"),
    ("n6", "all"),
    ("all_cause1", "all"),
    ("event_at_zero", "all"),
    ("last_competing", "all"),
    ("censored_only", "all"),
]


@pytest.mark.parametrize("cause", [1, 2])
@pytest.mark.parametrize("dataset,group", CASES)
def test_matches_cmprsk_timepoints(inputs, ref, dataset, group, cause):
    d = inputs[(inputs.dataset == dataset) & (inputs.group == group)]
    r = ref[(ref.dataset == dataset) & (ref.group == group) & (ref.cause == cause)]
    assert len(r) > 0
    cif = stats.cumulative_incidence(d.time, d.status, cause=cause)
    times = r.time.tolist()
    what = f"{dataset}/{group} cause {cause}"
    _same(cif.estimate(times), r.est, f"{what} estimate")
    _same(cif.variance(times), r["var"], f"{what} variance")
    ci = np.array(cif.ci(times), float).reshape(-1, 2)
    _same(ci[:, 0], r.lower, f"{what} lower")
    _same(ci[:, 1], r.upper, f"{what} upper")


def test_causes_and_survival_add_to_one(inputs):
    """CIF(cause 1) + CIF(cause 2) = 1 - KM of any event (Aalen-Johansen identity)."""
    d = inputs[inputs.dataset == "mgus2"]
    times = [6, 60, 120, 240, 400]
    c1 = stats.cumulative_incidence(d.time, d.status, 1).estimate(times)
    c2 = stats.cumulative_incidence(d.time, d.status, 2).estimate(times)
    km = stats.kaplan_meier(d.time, (d.status > 0).astype(int)).survival(times)
    assert np.allclose(np.add(c1, c2), 1 - np.asarray(km), atol=1e-12)


def test_table_and_counts():
    cif = stats.cumulative_incidence([3, 10, 10, 21, 30, 44], [1, 2, 0, 1, 0, 2], cause=1)
    assert (cif.n, cif.n_events, cif.n_competing) == (6, 2, 2)
    assert cif.table["time"].tolist() == [3, 10, 21, 30, 44]
    assert cif.table["n_risk"].tolist() == [6, 5, 3, 2, 1]
    assert cif.table["n_censor"].tolist() == [0, 1, 0, 1, 0]
    assert cif.n_at_risk([0, 10, 11, 44, 45]) == [6, 5, 3, 1, 0]
    assert cif.max_time == 44


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="status must be 0"):
        stats.cumulative_incidence([1, 2], [1, -1])
    with pytest.raises(ValueError, match="negative"):
        stats.cumulative_incidence([-1, 2], [1, 0])
    with pytest.raises(ValueError, match="2 values but status has 1"):
        stats.cumulative_incidence([1, 2], [1])
    with pytest.raises(ValueError, match="cause"):
        stats.cumulative_incidence([1, 2], [1, 0], cause=0)
    with pytest.raises(ValueError, match="not numeric"):
        stats.cumulative_incidence([1, "x"], [1, 0])
