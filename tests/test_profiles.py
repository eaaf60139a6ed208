"""analysis_lib.trial.profiles and figures.subject_profile: every plotted record of a subject's
profile equals its ADaM record (re-derived here from the reference cut), the PDF subset is the
narrated subjects, drawing is deterministic and text from the data is escaped."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.figure import Figure

from analysis_lib.pipeline import reference_outputs
from analysis_lib.toolkit import figures
from analysis_lib.trial import narratives, profiles

ID = "USUBJID"


@pytest.fixture(scope="module")
def adam(tmp_path_factory) -> dict[str, pd.DataFrame]:
    out = reference_outputs.derive_reference(tmp_path_factory.mktemp("prof"))
    return {n: pd.read_parquet(out / "adam" / f"{n}.parquet") for n in ("adsl", "adae", "adrs", "adck", "adpr")}


@pytest.fixture(scope="module")
def built(adam):
    return profiles.all_profiles(adam)


def test_one_profile_per_treated_subject_with_its_course(adam, built):
    adsl = adam["adsl"]
    saf = adsl[adsl["SAFFL"] == "Y"].set_index(ID)
    assert [p.usubjid for p in built] == sorted(saf.index)
    for p in built:
        s = saf.loc[p.usubjid]
        marks = p.markers
        treat = dict(zip(marks.loc[marks["lane"] == profiles.TREATMENT, "label"],
                         marks.loc[marks["lane"] == profiles.TREATMENT, "day"], strict=True))  # fmt: skip
        assert treat["CD19 CAR-T"] == 0
        assert treat.get("Allo-HSCT") == (float(s["HSCTDY0"]) if s["HSCTFL"] == "Y" else None)
        assert treat.get("CD22 CAR-T") == (float(s["CD22DY0"]) if s["CD22FL"] == "Y" else None)
        died = s["DTHFL"] == "Y"
        assert p.end_day == float(s["DTHDY0"] if died else s["FUDY0"])
        assert p.end_label.startswith("Death" if died else "Last contact")


def test_every_teae_is_a_bar_on_its_lane_with_its_days_and_grade(adam, built):
    ae = adam["adae"][adam["adae"]["TRTEMFL"] == "Y"]
    for p in built:
        recs = ae[ae[ID] == p.usubjid].sort_values(["ASTDY0", "AESEQ"])
        bars = p.bars[p.bars["lane"] != profiles.TREATMENT].reset_index(drop=True)
        assert len(bars) == len(recs)
        for (_, r), b in zip(recs.iterrows(), bars.itertuples(), strict=True):
            assert (b.start, b.grade) == (float(r["ASTDY0"]), int(r["AETOXGR"]))
            if r["AONGOFL"] != "Y":
                assert b.end == float(r["AENDY0"]) + 1  # a bar covers its end day
            own = profiles.OWN_LANES.get(r["AESICAT"])
            assert b.lane == own if own else b.lane in (r["AEDECOD"], "Other AEs")
        toci = p.markers[p.markers["label"].str.startswith("Tocilizumab")]
        assert sorted(toci["day"]) == sorted(recs.loc[recs["CMTOCIFL"] == "Y", "ASTDY0"].astype(float))


def test_responses_and_kinetics_equal_adrs_and_adck(adam, built):
    rs, ck = adam["adrs"], adam["adck"]
    codes = [c for c, _ in profiles.KINETICS]
    for p in built:
        ovr = rs[(rs[ID] == p.usubjid) & (rs["PARAMCD"] == "OVRLRESP")]
        resp = p.markers[(p.markers["lane"] == profiles.RESPONSE) & (p.markers["label"] != "Death")]
        assert sorted(resp["day"]) == sorted(ovr["ADY0"].astype(float))
        k = ck[(ck[ID] == p.usubjid) & ck["PARAMCD"].isin(codes)]
        assert len(p.kinetics) == len(k)
        assert int(p.kinetics["blq"].sum()) == int((k["BLQFL"] == "Y").sum())


def test_pdf_holds_the_narrated_subjects(adam):
    narrated = {n.usubjid for n in narratives.build(adam["adsl"], adam["adae"], adam["adrs"])}
    assert profiles.pdf_subjects(adam["adsl"], adam["adae"], adam["adrs"]) == narrated
    assert profiles.pdf_subjects(adam["adsl"], adam["adae"], adam["adrs"], "all") == set(
        adam["adsl"].loc[adam["adsl"]["SAFFL"] == "Y", ID]
    )


def test_drawing_is_deterministic_and_a_figure(built):
    p = built[0]
    assert isinstance(profiles.figure(p), Figure)
    assert profiles.render(p) == profiles.render(p)
    assert profiles.render(p)[:8] == b"\x89PNG\r\n\x1a\n"


def test_html_escapes_and_links_the_index(built):
    p = built[0]
    q = profiles.ProfileData(**{**p.__dict__, "title": "Subject <i>x</i> & co", "subject": "01-<b>"})
    html = profiles.profile_html(q, "Figure 16.2.7.7.1", b"png", "", ["a < b"])
    assert "&lt;i&gt;x&lt;/i&gt; &amp; co" in html and "<i>" not in html and "a &lt; b" in html
    assert 'id="profile-01-&lt;b&gt;"' in html
    # a page name is a path: only letters, digits, . _ - reach it; the link text is escaped
    assert profiles.href("01-<b>/../x") == "../profiles/subject-01-_b__.._x.html"
    adsl = pd.DataFrame({ID: ["S1", "S2"], "SITEID": ["01", "01"], "SUBJID": ["<b>", "002"], "SAFFL": ["Y", "N"]})
    body = pd.DataFrame({"Subject": ["01-<b>", "01-002", ""], "Term": ["a", "b", "c"]})
    assert profiles.listing_links(body, adsl) == {(0, 0): "../profiles/subject-01-_b_.html"}  # 01-002: not treated
    cells = profiles.drilldown({(0, 1): ("S1", "S2")}, adsl)
    assert cells == {(0, 1): [("01-<b>", "../profiles/subject-01-_b_.html"), ("01-002", None)]}
    with pytest.raises(ValueError, match="not in ADSL"):
        profiles.drilldown({(0, 1): ("S9",)}, adsl)
    tex = profiles.profile_latex("Figure 16.2.7.7.1", "50% & #1", "profile-01-001.png", "", ["x_y"])
    assert r"50\% \& \#1" in tex and r"x\_y" in tex


def test_subject_profile_rejects_an_unknown_lane():
    bars = pd.DataFrame({"lane": ["CRS"], "start": [1.0], "end": [3.0], "grade": [2], "ongoing": [False]})
    marks = pd.DataFrame(columns=["lane", "day", "label", "marker", "colour", "filled"])
    with pytest.raises(figures.FigureDataError, match="not in lanes"):
        figures.subject_profile(bars, marks, lanes=["ICANS"], end_day=10, end_label="Last contact")
    fig = figures.subject_profile(bars, marks, lanes=["CRS"], end_day=10, end_label="Last contact")
    assert len(fig.axes) == 1  # no kinetics panel without kinetics


def test_pdf_shows_other_subjects_only_with_profiles_all(monkeypatch):
    from analysis_lib.pipeline import render

    tex = "\\clearpage PROFILE\n"
    assert profiles.pdf_conditional(tex, always=True) == tex
    wrapped = profiles.pdf_conditional(tex, always=False)
    assert wrapped.startswith(profiles.PROFILES_SWITCH) and "\\ifcsrallprofiles\n\\clearpage PROFILE\n\\fi" in wrapped
    monkeypatch.delenv("CSR_PROFILES", raising=False)
    assert render.profiles_switch() == ""
    monkeypatch.setenv("CSR_PROFILES", "all")
    assert "\\csrallprofilestrue" in render.profiles_switch()
