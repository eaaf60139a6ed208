"""HTML drill-down from subject counts to subjects (docs/design.md §7): in the AE overview, DLT,
CRS/ICANS, GVHD and deaths tables of the reference (final) cut, every count cell opens a list of
exactly that many subjects, and those subjects are the ones the row's rule selects — the rule
re-derived here from ADaM with pandas, not through the library's masks. The subject companion
ARD (``ard.subjects``) agrees with the counts, and the drill-down leaves LaTeX, Markdown and RTF
byte-unchanged."""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest

from analysis_lib.pipeline import reference_outputs
from analysis_lib.toolkit import ard, formats
from analysis_lib.toolkit.tlf import Table, TLFError
from analysis_lib.trial import config, profiles, safety

ID = "USUBJID"


@pytest.fixture(scope="module")
def adam(tmp_path_factory) -> dict[str, pd.DataFrame]:
    out = reference_outputs.derive_reference(tmp_path_factory.mktemp("drill"))
    return {n: pd.read_parquet(out / "adam" / f"{n}.parquet") for n in ("adsl", "adae")}


def parse(table_html: str) -> tuple[list[str], list[tuple[str, list[tuple[str, list[str] | None]]]]]:
    """(group headers, [(row label, [(cell text, listed subject labels or None)])]) of a rendered table."""
    heads = [html.unescape(h.split("<br/>")[0]) for h in re.findall(r"<th>(.*?)</th>", table_html)]
    rows = []
    for tr in re.findall(r'<tr class="csr-indent-\d">(.*?)</tr>', table_html, flags=re.S):
        cells = []
        for td in re.findall(r"<td[^>]*>(.*?)</td>", tr, flags=re.S):
            m = re.match(r'<details class="csr-drill"><summary>(.*?)</summary><ul>(.*)</ul></details>$', td)
            if m:
                items = [html.unescape(re.sub(r"<[^>]+>", "", li)) for li in re.findall(r"<li>(.*?)</li>", m.group(2))]
                cells.append((html.unescape(m.group(1)), items))
            else:
                cells.append((html.unescape(re.sub(r"<[^>]+>", "", td)), None))
        rows.append((cells[0][0], cells[1:]))
    return heads[1:], rows


def check_table(t: Table, adsl: pd.DataFrame, pop_flag: str, expected) -> int:
    """Every count cell of ``t``: its list has as many subjects as the count and they are
    ``expected(row index, label, population of the column)``; returns the cells checked."""
    label_of = {r[ID]: profiles.subject_label(r) for r in adsl.to_dict("records")}
    pop = adsl[adsl[pop_flag] == "Y"]
    groups, rows = parse(t._repr_html_())
    checked = 0
    for i, (label, cells) in enumerate(rows):
        for g, (text, listed) in zip(groups, cells, strict=True):
            want = expected(i, label, pop if g == "Total" else pop[pop["TRT01A"] == g])
            if want is None:  # not a subject count (events, median, CI)
                assert listed is None, (t.number, label, g)
                continue
            n = int(re.match(r"\d+", text).group())
            got = listed or []
            assert n == len(got), (t.number, label, g, text, got)
            assert sorted(got) == sorted(label_of[u] for u in want), (t.number, label, g)
            checked += 1
    return checked


def drilled(number: str, a: pd.DataFrame, body: pd.DataFrame, keys, adsl: pd.DataFrame) -> Table:
    """The table as a chapter emits it: ``body`` with the drill-down read from its ARD ``a``."""
    return Table(
        number=number, title=number, body=body, drilldown=profiles.drilldown(formats.drilldown_cells(a, keys), adsl)
    )


def _teae(adae, pop):
    return adae[(adae["TRTEMFL"] == "Y") & adae[ID].isin(pop[ID])]


def test_ae_overview_counts_open_their_subjects(adam):
    adsl, adae = adam["adsl"], adam["adae"]
    o = safety.overview_ard(adsl, adae, period=1, total=True)
    rows = safety.overview_rows()
    body = safety.summary_table(o, rows, label_col="Subjects")
    t = drilled("Table 1", o, body, safety.drilldown_keys(rows), adsl)
    grade = lambda d: pd.to_numeric(d["AETOXGR"])
    rule = {
        "Any adverse event": lambda d: d.index == d.index,
        "Grade ≥3 adverse event": lambda d: grade(d) >= 3,
        "Serious adverse event": lambda d: d["AESER"] == "Y",
        "Treatment-related adverse event": lambda d: d["AEREL"] == "RELATED",
        "Treatment-related grade ≥3 adverse event": lambda d: (d["AEREL"] == "RELATED") & (grade(d) >= 3),
        "Treatment-related serious adverse event": lambda d: (d["AEREL"] == "RELATED") & (d["AESER"] == "Y"),
        "Dose-limiting toxicity": lambda d: d["AEDLT"] == "Y",
        "Grade 5 adverse event": lambda d: grade(d) == 5,
        "Adverse event with fatal outcome": lambda d: d["AEOUT"] == "FATAL",
    }

    def expected(i, label, pop):
        if label not in rule:
            return None
        d = _teae(adae, pop)
        d = d[pd.to_numeric(d["APERIOD"]) == 1]
        return set(d.loc[rule[label](d), ID])

    assert check_table(t, adsl, "SAFFL", expected) >= len(rule)


def test_crs_icans_gvhd_counts_open_their_subjects(adam):
    adsl, adae = adam["adsl"], adam["adae"]
    crs = safety.crs_icans_ard(adsl, adae, total=True)
    rows = safety.crs_icans_rows()
    t = drilled("Table 2", crs, safety.summary_table(crs, rows, label_col="Event"), safety.drilldown_keys(rows), adsl)
    block = [("CRS" if i < len(rows) // 2 else "ICANS") for i in range(len(rows))]
    cd22 = adsl.set_index(ID)["CD22DT"]

    def expected(i, label, pop):
        d = _teae(adae, pop)
        d = d[d["AESICAT"] == block[i]]
        worst = d.groupby(ID)["AETOXGR"].max()
        if label.endswith("any grade"):
            return set(d[ID])
        if m := re.fullmatch(r"Worst grade (\d)", label):
            return set(worst.index[worst == int(m.group(1))])
        if label == "Worst grade ≥3":
            return set(worst.index[worst >= 3])
        if label == "Episode after CD22 CAR-T":
            return set(d.loc[d["ASTDT"] >= d[ID].map(cd22), ID])
        if label == "Tocilizumab given":
            return set(d.loc[d["CMTOCIFL"] == "Y", ID])
        if label == "Corticosteroids given":
            return set(d.loc[d["CMSTERFL"] == "Y", ID])
        return None

    assert check_table(t, adsl, "SAFFL", expected) > 0

    gv = safety.gvhd_ard(adsl, adae, total=True)
    grows = safety.gvhd_rows()
    t = drilled("Table 3", gv, safety.summary_table(gv, grows, label_col="Event"), safety.drilldown_keys(grows), adsl)
    second = next(i for i, r in enumerate(grows) if r[0].startswith("Transplanted subjects ("))

    def expected_gvhd(i, label, pop):
        if i >= second:
            pop = pop[pop["HSCTFL"] == "Y"]
        if label.startswith("Transplanted subjects, n"):
            return set(pop[ID])
        d = _teae(adae, pop)
        cat = "ACUTE GVHD" if label in ("Acute GVHD, any grade", "Grade II-IV", "Grade III-IV") else "CHRONIC GVHD"
        d = d[d["AESICAT"] == cat]
        worst = d.groupby(ID)["AETOXGR"].max()
        sets = {"Acute GVHD, any grade": set(d[ID]), "Grade II-IV": set(worst.index[worst >= 2]),
                "Grade III-IV": set(worst.index[worst >= 3]), "Chronic GVHD, any severity": set(d[ID]),
                "Mild": set(worst.index[worst == 1]), "Moderate": set(worst.index[worst == 2]),
                "Severe": set(worst.index[worst == 3])}  # fmt: skip
        return sets.get(label)

    assert check_table(t, adsl, "SAFFL", expected_gvhd) > 0


def test_deaths_and_dlt_counts_open_their_subjects(adam):
    adsl = adam["adsl"]
    study = config.load_study()
    windows = (study["dlt"]["window"][1], study["ae_periods"][0]["max_end"])
    deaths = safety.deaths_ard(adsl, windows=windows, total=True)
    rows = safety.deaths_rows(deaths, windows)
    body = safety.summary_table(deaths, rows, label_col="Deaths")
    t = drilled("Table 4", deaths, body, safety.drilldown_keys(rows), adsl)
    window = None

    def expected(i, label, pop):
        nonlocal window
        dead = pop[pop["DTHFL"] == "Y"]
        nrm = dead["DTHTRTFL"] == "Y"
        day = pd.to_numeric(dead["DTHDY0"])
        if m := re.fullmatch(r"(On or before|After) Day (\d+)", label):
            window = (m.group(1), int(m.group(2)))  # the timing block the rows below belong to
        if window is None:
            in_w = pd.Series(True, index=dead.index)
        else:
            in_w = day <= window[1] if window[0] == "On or before" else day > window[1]
        if m:
            return set(dead.loc[in_w, ID])
        if label == "Deaths, any cause":
            return set(dead[ID])
        if label == "Relapse/progression of ALL":
            return set(dead.loc[in_w & ~nrm, ID])
        if label == "Non-relapse mortality":
            return set(dead.loc[in_w & nrm, ID])
        if label == "Timing after CD19 CAR-T":
            return None
        cause = dead["DTHCAUS"].map(safety.cause_label) == label  # a cause row (within non-relapse deaths)
        return set(dead.loc[cause & nrm, ID]) if cause.any() else None

    assert check_table(t, adsl, "SAFFL", expected) > 0

    dltpop = adsl[adsl["DLTEVLFL"] == "Y"]
    rate = ard.response_ard(dltpop, "DLTFL", by="TRT01A", total=True)
    body = formats.response_table(rate, labels={"DLTFL": "DLT"})
    t = drilled("Table 5", rate, body, formats.response_row_keys(rate), adsl)
    assert check_table(t, adsl, "DLTEVLFL", lambda i, label, pop: set(pop.loc[pop["DLTFL"] == "Y", ID])
                       if label.endswith("n (%)") else None) > 0  # fmt: skip


def test_subject_companion_equals_the_counts(adam):
    o = safety.overview_ard(adam["adsl"], adam["adae"], period=1, total=True)
    sub = ard.subjects(o)
    n = o[o["stat_name"] == "n"]
    per_row = sub.groupby(["group1_level", "variable_level"]).size()
    for r in n.to_dict("records"):
        assert per_row.get((r["group1_level"], r["variable_level"]), 0) == r["stat_value"]
    bad = o.copy()
    k = bad.index[(bad["stat_name"] == "n") & (bad["stat_value"] > 0)][0]
    bad.at[k, ard.SUBJECTS] = bad.at[k, ard.SUBJECTS][1:]
    with pytest.raises(ValueError, match=r"counts .* subjects but lists"):
        ard.subjects(bad)


def test_drilldown_is_html_only_escaped_and_checked(tmp_path):
    body = pd.DataFrame({"Row": ["Any", "Grade 5"], "Total\n(N=2)": ["2 (100)", "0"]})
    plain = Table(number="Table 9", title="T", body=body)
    evil = "<b>01&02</b>"
    drilled = Table(number="Table 9", title="T", body=body, drilldown={(0, 1): [(evil, "../profiles/x.html"),
                                                                             ("01-003", None)]})  # fmt: skip
    assert drilled.to_latex() == plain.to_latex()
    assert drilled.to_markdown() == plain.to_markdown()
    plain.to_rtf(tmp_path / "a.rtf")
    drilled.to_rtf(tmp_path / "b.rtf")
    assert (tmp_path / "a.rtf").read_bytes() == (tmp_path / "b.rtf").read_bytes()
    out = drilled._repr_html_()
    assert "<summary>2 (100)</summary>" in out and "&lt;b&gt;01&amp;02&lt;/b&gt;" in out and evil not in out
    assert "<script" not in out
    with pytest.raises(TLFError, match="lists 1 subject"):
        Table(number="Table 9", title="T", body=body, drilldown={(0, 1): [("01-001", None)]})
    with pytest.raises(TLFError, match="not a \\(row, column\\)"):
        Table(number="Table 9", title="T", body=body, links={(5, 0): "x.html"})
