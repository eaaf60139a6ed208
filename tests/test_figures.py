"""CSR figures: KM with numbers at risk, swimmer plot, CAR-T kinetics (and PB vs CSF)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from analysis_lib.toolkit import figures, stats, tlf


def _risk_rows(fig) -> dict[str, list[str]]:
    """Numbers-at-risk table of a km_plot: row label -> texts left to right."""
    risk = fig.axes[1]
    labels = [t.get_text() for t in risk.get_yticklabels()]
    rows: dict[str, list[tuple[float, str]]] = {lab: [] for lab in labels}
    for t in risk.texts:
        x, y = t.get_position()
        if t.get_text() != "Number at risk":
            rows[labels[int(y)]].append((x, t.get_text()))
    return {lab: [s for _, s in sorted(v)] for lab, v in rows.items()}


def test_km_plot_small_example():
    # time, event: group A censored at 3 and 6; group B all events
    km_a = stats.kaplan_meier([1, 3, 4, 6], [1, 0, 1, 0])
    fig = figures.km_plot({"A": km_a, "B": ([2, 2, 5], [1, 1, 1])}, [0, 2, 4, 6], ci=True)
    ax, risk = fig.axes
    assert _risk_rows(fig) == {"A": ["4", "3", "2", "1"], "B": ["3", "3", "1", "0"]}
    # risk numbers sit exactly under the x ticks
    assert list(ax.get_xticks()) == [0, 2, 4, 6]
    assert sorted({t.get_position()[0] for t in risk.texts if t.get_text() != "Number at risk"}) == [0, 2, 4, 6]
    # step curve of A: starts at (0, 1), S = 0.75 after t=1, 0.375 after t=4
    step = ax.lines[0]
    np.testing.assert_allclose(step.get_xdata(), [0, 1, 3, 4, 6])
    np.testing.assert_allclose(step.get_ydata(), [1, 0.75, 0.75, 0.375, 0.375])
    # censor marks of A at t = 3 (S = 0.75) and 6 (S = 0.375)
    marks = ax.lines[1]
    assert marks.get_marker() == "+"
    np.testing.assert_allclose(marks.get_xdata(), [3, 6])
    np.testing.assert_allclose(marks.get_ydata(), [0.75, 0.375])
    assert len(ax.collections) == 2  # one CI band per group
    # colour-blind-safe palette, same colour for curve and risk row
    assert to_hex(step.get_color()) == figures.PALETTE[0].lower()
    assert to_hex(risk.get_yticklabels()[1].get_color()) == figures.PALETTE[1].lower()


def test_km_plot_input_errors():
    with pytest.raises(figures.FigureDataError, match="increasing"):
        figures.km_plot({"A": ([1, 2], [1, 0])}, [0, 5, 5])
    with pytest.raises(figures.FigureDataError, match="kaplan_meier result or a \\(time, event\\) pair"):
        figures.km_plot({"A": "x"}, [0, 1])


def test_km_plot_cdisc_pilot_ttde(reference_data):
    pyreadstat = pytest.importorskip("pyreadstat")
    adtte, _ = pyreadstat.read_xport(str(reference_data / "cdiscpilot01" / "adtte.xpt"))
    ttde = adtte[adtte["PARAMCD"] == "TTDE"]
    kms = {g: (d["AVAL"], 1 - d["CNSR"]) for g, d in ttde.groupby("TRTA", sort=True)}
    fig = figures.km_plot(kms, list(range(0, 201, 20)), xlabel="Days")
    rows = _risk_rows(fig)
    assert rows["Placebo"] == ["86", "75", "65", "59", "50", "47", "45", "42", "40", "35", "0"]
    assert rows["Xanomeline High Dose"][0] == "84" and rows["Xanomeline Low Dose"][0] == "84"


def _swimmer_records() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "subject": ["01-001", "01-002", "01-003"],
            "group": ["DL1", "DL2", "DL1"],
            "end": [730, 120, 400],
            "hsct": [15, 16, 15],
            "cd22": [90, np.nan, 91],
            "crcri": [28, 30, 29],
            "relapse": [np.nan, 100, 300],
            "death": [np.nan, 120, np.nan],
            "ongoing": [True, False, False],
        }
    )


def test_swimmer_plot():
    fig = figures.swimmer_plot(_swimmer_records())
    ax = fig.axes[0]
    # ordered by group, then longest first
    assert [t.get_text() for t in ax.get_yticklabels()] == ["01-001", "01-003", "01-002"]
    bars = [p.get_width() for p in ax.patches]
    assert bars == [730, 400, 120]
    assert len([a for a in ax.texts if a.arrow_patch is not None]) == 1  # one ongoing subject
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["DL1", "DL2", "Allo-HSCT", "CD22 CAR-T", "CR/CRi", "Relapse", "Death", "In follow-up"]
    death = [ln for ln in ax.lines if ln.get_marker() == "o"][0]
    np.testing.assert_allclose(death.get_xdata(), [120])
    np.testing.assert_allclose(death.get_ydata(), [2])


def test_dollar_signs_in_subject_ids_are_text_not_mathtext():
    rec = _swimmer_records()
    rec.loc[0, "subject"] = r"01-$\foo{x}$"  # mathtext would raise "Unknown symbol: \foo"
    fig = figures.swimmer_plot(rec)
    import io

    fig.savefig(io.BytesIO(), format="png")
    assert r"01-$\foo{x}$" in [t.get_text() for t in fig.axes[0].get_yticklabels()]


def test_text_the_figure_font_cannot_draw_becomes_a_marker():
    rec = _swimmer_records()
    rec.loc[0, "subject"] = "01-贫血"  # CJK: not in DejaVu Sans
    fig = figures.swimmer_plot(rec)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "01-[U+8D2B][U+8840]" in labels
    assert figures.plain("Ä ≥ µ é") == "Ä ≥ µ é"  # what DejaVu Sans has stays


def test_swimmer_plot_errors():
    rec = _swimmer_records()
    with pytest.raises(figures.FigureDataError, match=r"missing required column\(s\) \[.end.\]"):
        figures.swimmer_plot(rec.drop(columns="end"))
    bad = rec.copy()
    bad.loc[1, "relapse"] = 200
    with pytest.raises(figures.FigureDataError, match="'relapse' after 'end' for subject\\(s\\) 01-002"):
        figures.swimmer_plot(bad)
    bad = rec.copy()
    bad.loc[1, "ongoing"] = True
    with pytest.raises(figures.FigureDataError, match="ongoing with a death day: 01-002"):
        figures.swimmer_plot(bad)
    with pytest.raises(figures.FigureDataError, match="duplicate subject"):
        figures.swimmer_plot(pd.concat([rec, rec.iloc[:1]]))


def _ck() -> pd.DataFrame:
    rows = []
    for subj, scale in [("S1", 1.0), ("S2", 10.0), ("S3", 100.0)]:
        for t, v in [(0, np.nan), (7, 1000.0), (14, 500.0), (28, 20.0)]:
            for spec, f in [("PB", 1.0), ("CSF", 0.1)]:
                val = v * scale * f if not np.isnan(v) else np.nan
                blq = np.isnan(val) or val < 50
                rows.append(dict(subject=subj, time=t, value=val, lloq=50.0, blq=blq, specimen=spec))
    return pd.DataFrame(rows)


def test_kinetics_plot_blq_and_median():
    ck = _ck()
    fig = figures.kinetics_plot(ck[ck["specimen"] == "PB"], blq="blq")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    median = [ln for ln in ax.lines if ln.get_linewidth() == 2.2][0]
    np.testing.assert_allclose(median.get_xdata(), [0, 7, 14, 28])
    # Day 0 all BLQ -> LLOQ/2; Day 28: 20 (BLQ -> 25), 200, 2000 -> median 200
    np.testing.assert_allclose(median.get_ydata(), [25, 10000, 5000, 200])
    blq_marks = [ln for ln in ax.lines if ln.get_marker() == "o" and ln.get_markerfacecolor() == "white"]
    xs = np.concatenate([ln.get_xdata() for ln in blq_marks])
    ys = np.concatenate([ln.get_ydata() for ln in blq_marks])
    assert sorted(xs.tolist()) == [0, 0, 0, 28]
    np.testing.assert_allclose(ys, 25.0)
    lloq = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert len(lloq) == 1 and lloq[0].get_ydata()[0] == 50


def test_kinetics_unflagged_missing_is_an_error():
    ck = _ck()
    ck.loc[3, "blq"] = False
    ck.loc[3, "value"] = np.nan
    with pytest.raises(figures.FigureDataError, match="column 'value' missing at rows \\[3\\] that are not flagged"):
        figures.kinetics_plot(ck, blq="blq")


def test_kinetics_by_specimen():
    fig = figures.kinetics_by_specimen(_ck(), blq="blq")
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["Peripheral blood", "Cerebrospinal fluid"]
    assert fig.axes[0].get_shared_y_axes().joined(fig.axes[0], fig.axes[1])
    with pytest.raises(figures.FigureDataError, match="values BM not in facets"):
        figures.kinetics_by_specimen(_ck().replace({"specimen": {"CSF": "BM"}}), blq="blq")


def test_figure_files_byte_identical(tmp_path):
    def make():
        fig = figures.km_plot({"A": ([1, 3, 4, 6], [1, 0, 1, 0])}, [0, 2, 4, 6], ci=True)
        return tlf.Figure(number="Figure 14.2.1", title="KM", figure=fig, id="f-km")

    a, b = make().save(tmp_path / "a"), make().save(tmp_path / "b")
    for fmt in ("svg", "pdf", "png"):
        assert a[fmt].read_bytes() == b[fmt].read_bytes(), fmt


def test_log_axes_are_labelled_without_mathtext():
    """Mathtext is off (text from the data is text), so log axes carry plain Unicode labels."""
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure()
    ax = fig.add_subplot()
    ax.plot([1, 2, 3], [0.5, 40, 3000])
    figures.log_scale(ax)
    import io

    fig.savefig(io.BytesIO(), format="png")
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels and all("$" not in x and "mathdefault" not in x for x in labels)
    assert "10³" in labels and "10⁻¹" in labels
    assert figures._power_of_ten_label(250) == "250" and figures._power_of_ten_label(1) == "10⁰"
