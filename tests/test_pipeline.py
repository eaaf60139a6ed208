"""The report pipeline on a tiny project (CSR_ROOT): caching, atomic outputs, lock, failures.

The project has two dummy chapters run by real papermill kernels; validate/derive/render are cheap
stand-ins (monkeypatched), so these tests check the pipeline's own behaviour, not the analyses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import pytest
from helpers import (  # shared test helpers (tests/helpers.py)
    fake_modules,
    install_fakes,
    leftovers,
    tree_hashes,
    write_chapter,
)

from analysis_lib.pipeline import runner as pipeline
from analysis_lib.trial.config import ConfigError


@pytest.mark.slow
def test_report_builds_everything_then_a_no_change_rerun_skips_all_work(project):
    root, calls = project
    cwd = os.getcwd()
    first = pipeline.run("c1")
    assert os.getcwd() == cwd  # chapters run in chapters/ without changing this process's folder
    out = root / "_output" / "c1"
    assert first.steps == dict.fromkeys(pipeline.STEPS, "done")
    assert first.chapters == {"01-alpha": "done", "02-beta": "done"}
    assert (out / "ard" / "01-alpha.csv").read_text() == "cut,stat_name,stat_value\nc1,N,3\n"
    assert (out / "html" / "index.html").is_file() and (out / "manifest.json").is_file()
    # executed notebooks: the kernel got the fixed hash seed; no staging path or wall-clock time remains
    nb_text = (out / "notebooks" / "01-alpha.ipynb").read_text()
    assert "hashseed 0 in chapters" in nb_text and ".staging-" not in nb_text and str(root) not in nb_text
    assert '"output_dir": "_output/c1"' in nb_text  # relative to the project: the same bytes wherever it lives
    assert '"start_time": "' not in nb_text and '"end_time": "' not in nb_text
    before = tree_hashes(out)
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    calls.clear()

    second = pipeline.run("c1")
    assert second.all_cached and set(second.chapters.values()) == {"cached"}
    assert calls == []  # no step function was even called
    assert tree_hashes(out) == before
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == mtimes  # not rewritten either
    assert leftovers(root) == []


@pytest.mark.slow
def test_only_the_changed_chapter_reruns_and_force_reruns_everything(project):
    root, calls = project
    pipeline.run("c1")
    write_chapter(root, "02-beta", extra="print('edited')\n")
    calls.clear()
    r = pipeline.run("c1")
    assert r.chapters == {"01-alpha": "cached", "02-beta": "done"}
    assert r.steps == {"validate": "cached", "derive": "cached", "execute": "done", "render": "done"}
    assert calls == ["render:c1:jupyter-book"]
    assert "edited" in (root / "_output" / "c1" / "notebooks" / "02-beta.ipynb").read_text()

    # the executed notebooks are byte-identical when re-run (determinism), whatever the cache says
    before = tree_hashes(root / "_output" / "c1" / "notebooks")
    calls.clear()
    forced = pipeline.run("c1", force=True)
    assert forced.steps == dict.fromkeys(pipeline.STEPS, "done")
    assert forced.chapters == {"01-alpha": "done", "02-beta": "done"}
    assert calls == ["validate:c1", "derive:c1", "render:c1:jupyter-book"]
    assert tree_hashes(root / "_output" / "c1" / "notebooks") == before


@pytest.mark.slow
def test_changed_input_data_or_library_code_reruns_every_step(project):
    root, calls = project
    pipeline.run("c1")
    with (root / "synthetic_data" / "c1" / "dm.csv").open("a") as fh:
        fh.write("S9\n")
    r = pipeline.run("c1")
    assert r.steps == dict.fromkeys(pipeline.STEPS, "done") and set(r.chapters.values()) == {"done"}
    assert (root / "_output" / "c1" / "ard" / "02-beta.csv").read_text().endswith("c1,N,4\n")
    with (pipeline.LIB_DIR / "toolkit" / "stats.py").open("a") as fh:
        fh.write("# a library change\n")
    calls.clear()
    r = pipeline.run("c1")
    assert r.steps == dict.fromkeys(pipeline.STEPS, "done") and set(r.chapters.values()) == {"done"}
    assert calls == ["validate:c1", "derive:c1", "render:c1:jupyter-book"]


@pytest.mark.slow
def test_a_chapter_failing_mid_run_leaves_previous_outputs_byte_identical(project):
    root, _ = project
    pipeline.run("c1")
    out = root / "_output" / "c1"
    before = tree_hashes(out)
    with (root / "synthetic_data" / "c1" / "dm.csv").open("a") as fh:
        fh.write("FAIL_02-beta\n")
    with pytest.raises(pipeline.ChapterFailed) as info:
        pipeline.run("c1")
    assert info.value.chapter == "02-beta"
    assert "Chapter 02-beta failed for data cut 'c1'" in str(info.value)
    assert "ValueError: planted failure in 02-beta" in str(info.value)
    assert tree_hashes(out) == before
    assert leftovers(root) == []


def test_bad_input_is_reported_and_changes_nothing(project):
    root, calls = project
    out = root / "_output" / "c1"
    out.mkdir(parents=True)
    (out / "previous.txt").write_text("an earlier good run\n")
    before = tree_hashes(out)
    with (root / "synthetic_data" / "c1" / "dm.csv").open("a") as fh:
        fh.write("BAD\n")
    with pytest.raises(pipeline.PipelineError) as info:
        pipeline.run("c1")
    msg = str(info.value)
    assert msg.startswith("Data cut 'c1'") and "dm.csv, column USUBJID, row 4: value BAD is not allowed" in msg
    assert calls == ["validate:c1"]  # derive never ran
    assert tree_hashes(out) == before and leftovers(root) == []


def test_an_interrupted_run_leaves_previous_outputs_and_no_staging(project, monkeypatch):
    root, _ = project
    out = root / "_output" / "c1"
    out.mkdir(parents=True)
    (out / "previous.txt").write_text("an earlier good run\n")
    before = tree_hashes(out)

    def interrupted(cut, out_dir=None):
        (out_dir / "adsl.csv").write_text("half written")
        raise KeyboardInterrupt

    install_fakes(monkeypatch, {**fake_modules([]), "derive": types.SimpleNamespace(derive_cut=interrupted)})
    with pytest.raises(KeyboardInterrupt):
        pipeline.run("c1")
    assert tree_hashes(out) == before and leftovers(root) == []


def test_an_unexpected_error_in_a_step_names_the_step(project, monkeypatch):
    root, _ = project

    def broken(cut, out_dir=None):
        raise KeyError("AVAL")

    install_fakes(monkeypatch, {**fake_modules([]), "derive": types.SimpleNamespace(derive_cut=broken)})
    with pytest.raises(pipeline.PipelineError, match=r"Step 'derive' failed for data cut 'c1': KeyError: 'AVAL'"):
        pipeline.run("c1")
    assert not (root / "_output" / "c1").exists()


def test_a_concurrent_second_run_of_the_same_cut_is_refused(project, cut_lock_holder):
    root, calls = project
    with cut_lock_holder(root, "c1") as holder:
        with pytest.raises(
            pipeline.LockHeld,
            match=rf"Another csr run is already building data cut 'c1' "
            rf"\(lock .*\.c1\.lock held by process {holder.pid}\)",
        ):
            pipeline.run("c1")
        assert calls == []


def test_unknown_cut_and_engine_are_config_errors(project):
    with pytest.raises(ConfigError, match="no such data cut 'nope'"):
        pipeline.run("nope")
    with pytest.raises(ConfigError, match="unknown engine 'latex'"):
        pipeline.run("c1", engine="latex")


def test_missing_data_folder_is_named(project):
    root, _ = project
    (root / "synthetic_data" / "c1" / "dm.csv").unlink()
    (root / "synthetic_data" / "c1").rmdir()
    with pytest.raises(
        pipeline.PipelineError, match=r"Input data folder .*synthetic_data/c1 \(data_dir in .*c1\.yml\)"
    ):
        pipeline.run("c1")


def test_derive_only_runs_validate_and_derive(project):
    root, calls = project
    r = pipeline.run("c1", until="derive")
    assert r.steps == {"validate": "done", "derive": "done"} and calls == ["validate:c1", "derive:c1"]
    assert (root / "_output" / "c1" / "adam" / "adsl.csv").is_file()
    assert not (root / "_output" / "c1" / "notebooks").exists()
    assert pipeline.run("c1", until="derive").all_cached


def test_a_swap_interrupted_between_its_renames_is_recovered(project):
    root, calls = project
    aside = root / "_output" / ".old-c1-deadbeef"
    aside.mkdir(parents=True)
    (aside / "kept.txt").write_text("x")
    stale = root / "_output" / ".staging-c1-0badcafe"
    stale.mkdir()
    with pipeline.cut_lock(pipeline.load_cut("c1")):
        pass
    pipeline._recover_interrupted_swap(pipeline.load_cut("c1"))
    assert (root / "_output" / "c1" / "kept.txt").read_text() == "x" and leftovers(root) == []


def test_hash_paths_depends_on_content_and_names_not_times(tmp_path):
    a = tmp_path / "a.txt"
    a.write_text("1")
    h = pipeline.hash_paths([tmp_path], tmp_path)
    os.utime(a, (0, 0))
    assert pipeline.hash_paths([tmp_path], tmp_path) == h
    a.write_text("2")
    assert pipeline.hash_paths([tmp_path], tmp_path) != h
    a.write_text("1")
    a.rename(tmp_path / "b.txt")
    assert pipeline.hash_paths([tmp_path], tmp_path) != h


@pytest.mark.slow
def test_all_cuts_run_side_by_side_and_report_each(project):
    root, calls = project
    results, errors = pipeline.run_many(["c1", "c2"])
    assert errors == {} and [r.cut for r in results] == ["c1", "c2"]
    assert (root / "_output" / "c2" / "ard" / "01-alpha.csv").read_text().endswith("c2,N,4\n")
    results, errors = pipeline.run_many(["c1", "c2"])
    assert all(r.all_cached for r in results)
    # c2's "changes since the previous cut" compares with c1's inputs: they are part of c2's chapter keys
    with (root / "synthetic_data" / "c1" / "dm.csv").open("a") as fh:
        fh.write("S7\n")
    r2 = pipeline.run("c2")
    assert r2.steps["derive"] == "cached" and set(r2.chapters.values()) == {"done"}


@pytest.mark.slow
def test_book_order_from_quarto_yml_and_run_last_chapters_see_the_others_ards(project):
    root, _ = project
    write_chapter(
        root,
        "changes",
        run_last=True,
        extra=textwrap.dedent("""
        seen = sorted(p.name for p in (out / "ard").glob("*.csv"))
        assert seen == ["01-alpha.csv", "02-beta.csv", "changes.csv"], seen
    """),
    )
    (root / "_quarto.yml").write_text(
        "book:\n  chapters: [index.md, chapters/changes.ipynb, chapters/02-beta.ipynb, chapters/01-alpha.ipynb]\n"
    )
    assert [p.stem for p in pipeline.chapter_notebooks(root)] == ["changes", "02-beta", "01-alpha"]
    r = pipeline.run("c1", until="execute")
    assert list(r.chapters) == ["changes", "02-beta", "01-alpha"] and set(r.chapters.values()) == {"done"}
    write_chapter(root, "01-alpha", extra="print('edited')\n")
    r = pipeline.run("c1", until="execute")
    assert r.chapters == {"changes": "done", "02-beta": "cached", "01-alpha": "done"}
    assert set(r.chapter_seconds) == {"changes", "01-alpha"} and min(r.chapter_seconds.values()) > 0


def test_a_chapter_listed_in_quarto_yml_but_missing_is_a_config_error(project):
    root, _ = project
    (root / "_quarto.yml").write_text(
        "book:\n  chapters: [index.md, chapters/01-alpha.ipynb, chapters/03-gone.ipynb]\n"
    )
    with pytest.raises(
        ConfigError,
        match=r"_quarto.yml: book.chapters lists notebook\(s\) that do not exist: "
        r"chapters/03-gone.ipynb",
    ):
        pipeline.run("c1")


@pytest.mark.slow
def test_benchmark_scale_part_writes_json_and_markdown(tmp_path):
    """The scale part of benchmarks/run_benchmark.py on the real generator and derivations (48 patients)."""
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "run_benchmark.py"
    env = {k: v for k, v in os.environ.items() if k != "CSR_ROOT"}
    proc = subprocess.run(
        [sys.executable, str(script), "--only", "scale", "--sizes", "48", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads((tmp_path / "benchmark.json").read_text())["scale"]
    assert "error" not in row, row["error"]
    assert row["subjects"] == 48 and row["cut"] and row["generate_s"] > 0 and row["derive_s"] > 0
    assert row["adam_mb"] > 0 and row["peak_rss_mb"] > 50
    assert row["time_per_patient_vs_smallest"] == 1.0
    md = (tmp_path / "benchmark.md").read_text()
    assert md.startswith("# csr benchmark (") and "\n| 48 | " in md
    assert not (tmp_path / "tmp").exists()  # scratch projects removed


@pytest.mark.slow
def test_the_first_failure_stops_the_other_running_chapters(project):
    root, _ = project
    write_chapter(root, "01-alpha", extra="import time\ntime.sleep(120)\n")
    with (root / "synthetic_data" / "c1" / "dm.csv").open("a") as fh:
        fh.write("FAIL_02-beta\n")
    t0 = time.perf_counter()
    with pytest.raises(pipeline.ChapterFailed, match="Chapter 02-beta failed"):
        pipeline.run("c1", jobs=2)
    assert time.perf_counter() - t0 < 60  # the sleeping kernel was killed, not waited for
    assert not (root / "_output" / "c1").exists() and leftovers(root) == []


# ---------------------------------------------------------------- trustworthy outputs (issue 14)


class Notes(pipeline.Reporter):
    """Collects the runner's one-line messages."""

    def __init__(self):
        self.lines: list[str] = []

    def message(self, cut, text):
        self.lines.append(text)


@pytest.mark.slow
def test_missing_or_edited_outputs_are_rebuilt_and_named(project):
    from analysis_lib.pipeline import provenance

    root, _ = project
    pipeline.run("c1")
    out = root / "_output" / "c1"
    good = tree_hashes(out)
    assert provenance.verify(out) == []
    (out / "ard" / "01-alpha.csv").unlink()
    with (out / "html" / "index.html").open("a") as fh:
        fh.write("edited\n")
    (out / "notebooks" / "02-beta.ipynb").unlink()
    notes = Notes()
    again = pipeline.run("c1", reporter=notes)
    assert any(
        "3 output(s) missing or edited" in n
        and "ard/01-alpha.csv (missing)" in n
        and "html/index.html (edited)" in n
        and "notebooks/02-beta.ipynb (missing)" in n
        for n in notes.lines
    ), notes.lines
    assert again.steps["render"] == "done" and set(again.chapters.values()) == {"done"}
    assert {k: v for k, v in tree_hashes(out).items() if k != "manifest.json" and k != ".cache.json"} == {
        k: v for k, v in good.items() if k != "manifest.json" and k != ".cache.json"
    }
    assert provenance.verify(out) == [] and pipeline.run("c1").all_cached


@pytest.mark.slow
def test_only_the_chapter_that_wrote_a_missing_notebook_reruns(project):
    root, _ = project
    pipeline.run("c1")
    (root / "_output" / "c1" / "notebooks" / "02-beta.ipynb").unlink()
    again = pipeline.run("c1")
    assert again.chapters == {"01-alpha": "cached", "02-beta": "done"}


@pytest.mark.slow
def test_derive_after_a_report_marks_the_deliverables_stale_until_the_next_report(project):
    from analysis_lib.pipeline import provenance

    root, _ = project
    pipeline.run("c1")
    out = root / "_output" / "c1"
    with (root / "synthetic_data" / "c1" / "dm.csv").open("a") as fh:
        fh.write("S99\n")
    notes = Notes()
    pipeline.run("c1", until="derive", reporter=notes)
    marker = out / provenance.STALE_MARKER
    assert marker.is_file() and "stale until `csr report --cut c1`" in marker.read_text()
    assert any("stale" in n for n in notes.lines)
    problems = provenance.verify(out)
    assert problems[0].startswith("STALE.txt: csr derive re-ran") and "adam/adsl.csv: edited" in " ".join(problems)
    pipeline.run("c1")
    assert not marker.exists() and provenance.verify(out) == []


@pytest.mark.parametrize(
    "cache",
    [
        '{"version": 1, "chapters": []}',
        '{"version": 1, "chapters": {"a": 1}}',
        "[1, 2]",
        '{"version": 1, "produced": "x", "derive": 5}',
        "not json",
    ],
)
def test_a_wrong_shaped_cache_is_ignored_with_one_sentence(project, cache):
    root, _ = project
    out = root / "_output" / "c1"
    out.mkdir(parents=True)
    (out / pipeline.CACHE_FILE).write_text(cache)
    notes = Notes()
    assert pipeline.read_cache(out, notes, "c1") == {}
    assert len(notes.lines) == 1 and "is not one this version wrote" in notes.lines[0]
    assert "ignoring it, so every step runs" in notes.lines[0]


def test_read_only_output_is_refused_before_any_copy(project, monkeypatch):
    root, calls = project
    pipeline.run("c1", until="derive")
    out = root / "_output" / "c1"
    before = tree_hashes(out)
    real_access = os.access
    monkeypatch.setattr(pipeline.os, "access", lambda p, mode: False if Path(p) == out else real_access(p, mode))
    with pytest.raises(pipeline.PipelineError, match=r"c1 is not writable.*chmod -R u\+w.*Nothing was written"):
        pipeline.run("c1", until="derive", force=True)
    assert leftovers(root) == [] and tree_hashes(out) == before


def test_read_only_copy_is_made_writable_and_removed_on_failure(project, monkeypatch):
    root, calls = project
    pipeline.run("c1", until="derive")
    out = root / "_output" / "c1"
    for path in [out, *out.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        monkeypatch.setattr(pipeline, "_check_writable", lambda final: None)  # as if the parent allowed it

        def fail(cut, build, domains):
            assert os.access(build / "adam", os.W_OK)  # the staging copy is writable
            raise pipeline.PipelineError("planted")

        monkeypatch.setattr(pipeline, "_run_derive", fail)
        with pytest.raises(pipeline.PipelineError, match="planted"):
            pipeline.run("c1", until="derive", force=True)
        assert leftovers(root) == []
    finally:
        for path in [out, *out.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)


def test_a_staging_folder_that_cannot_be_removed_is_named(project, monkeypatch):
    root, _ = project
    monkeypatch.setattr(
        pipeline, "remove_tree", lambda p: f"could not remove {p} (Permission denied); remove it by hand"
    )
    monkeypatch.setattr(pipeline, "_run_derive", lambda *a: (_ for _ in ()).throw(pipeline.PipelineError("planted.")))
    with pytest.raises(pipeline.PipelineError, match=r"planted\. Also: could not remove .*\.staging-c1-.*by hand"):
        pipeline.run("c1", until="derive")


@pytest.mark.slow
def test_notebooks_without_cell_ids_give_identical_outputs_run_to_run(project):
    import nbformat

    root, _ = project
    path = root / "chapters" / "01-alpha.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.nbformat_minor = 4
    for cell in nb.cells:
        cell.pop("id", None)
    path.write_text(json.dumps(nb, indent=1))
    pipeline.run("c1", until="execute")
    first = tree_hashes(root / "_output" / "c1" / "notebooks")
    pipeline.run("c1", until="execute", force=True)
    assert tree_hashes(root / "_output" / "c1" / "notebooks") == first
    ids = [c["id"] for c in json.loads((root / "_output" / "c1" / "notebooks" / "01-alpha.ipynb").read_text())["cells"]]
    assert ids == ["cell-0", "cell-1", "injected-parameters", "cell-3"]
