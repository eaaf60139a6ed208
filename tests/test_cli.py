"""The ``csr`` command line: exit codes and messages (no tracebacks), on a tiny project (CSR_ROOT)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import tree_hashes

from analysis_lib.pipeline import cli
from analysis_lib.pipeline import runner as pipeline
from analysis_lib.synthetic import generator as synth

CSR = Path(sys.executable).with_name("csr")


def test_help_is_fast_and_lists_every_subcommand():
    proc = subprocess.run([str(CSR), "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    for sub in ("generate", "validate", "derive", "execute", "render", "report", "verify"):
        assert sub in proc.stdout
    # --help must not import the heavy modules (papermill, pandas, the analysis code)
    probe = (
        "import sys; from analysis_lib.pipeline import cli; cli._parser(); print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('papermill', 'pandas', 'rich') or m.startswith('analysis_lib.')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['analysis_lib.pipeline', 'analysis_lib.pipeline.cli']"


def test_unknown_cut_exits_1_with_one_clear_paragraph(project):
    root, _ = project
    proc = subprocess.run(
        [str(CSR), "report", "--cut", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CSR_ROOT": str(root)},
    )
    assert proc.returncode == 1
    assert (
        proc.stderr.startswith("csr report failed: ") and "no such data cut 'nope' (known cuts: c1, c2)" in proc.stderr
    )
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["report"])  # neither --cut nor --all-cuts
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        cli.main(["report", "--cut", "c1", "--all-cuts"])
    assert info.value.code == 2


def test_validate_reports_all_problems_and_exits_1(project, capsys):
    root, _ = project
    assert cli.main(["validate", "--cut", "c1"]) == 0
    assert "Data cut 'c1'" in capsys.readouterr().out
    with (root / "synthetic_data" / "c1" / "dm.csv").open("a") as fh:
        fh.write("BAD\nBAD\n")
    assert cli.main(["validate", "--cut", "c1"]) == 1
    err = capsys.readouterr().err
    assert "2 problem(s) found" in err and "row 4" in err and "row 5" in err


def test_bad_input_in_report_exits_1_and_changes_nothing(project, capsys):
    root, calls = project
    out = root / "_output" / "c1"
    out.mkdir(parents=True)
    (out / "previous.txt").write_text("earlier run\n")
    before = tree_hashes(out)
    with (root / "synthetic_data" / "c1" / "dm.csv").open("a") as fh:
        fh.write("BAD\n")
    assert cli.main(["report", "--cut", "c1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("csr report failed: Data cut 'c1'") and "value BAD is not allowed" in err
    assert "Traceback" not in err
    assert tree_hashes(out) == before


def test_unexpected_error_is_one_paragraph_and_debug_shows_traceback(project, capsys, monkeypatch):
    def broken(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(pipeline, "run", broken)
    assert cli.main(["derive", "--cut", "c1"]) == 1
    assert "failed unexpectedly: RuntimeError: boom (run `csr --debug derive ...`" in capsys.readouterr().err
    with pytest.raises(RuntimeError):
        cli.main(["--debug", "derive", "--cut", "c1"])


def test_generate_passes_the_options(project, capsys, monkeypatch):
    got = {}

    def generate(out_dir, n_subjects=48, seed=None, root=None):
        got.update(out_dir=out_dir, n_subjects=n_subjects, seed=seed)
        return {"c1": out_dir / "c1"}

    monkeypatch.setattr(synth, "generate", generate)
    assert cli.main(["generate", "--subjects", "480", "--seed", "7", "--out", "x"]) == 0
    assert got == {"out_dir": Path("x"), "n_subjects": 480, "seed": 7}
    assert capsys.readouterr().out == f"c1: {Path('x') / 'c1'}\n"


@pytest.mark.slow
def test_report_then_rerun_prints_summary_and_caches(project, capsys):
    root, calls = project
    assert cli.main(["report", "--cut", "c1"]) == 0
    out = capsys.readouterr().out
    assert "csr summary" in out and "2/2" in out and "c1:   01-alpha: done" in out
    assert f"c1: outputs in {root / '_output' / 'c1'}\n" in out
    assert cli.main(["report", "--cut", "c1"]) == 0
    out = capsys.readouterr().out
    assert "nothing changed" in out and "0/2" in out and "cached" in out


@pytest.mark.slow
def test_failing_chapter_exits_1_naming_chapter_and_cell_error(project, capsys):
    root, _ = project
    with (root / "synthetic_data" / "c1" / "dm.csv").open("a") as fh:
        fh.write("FAIL_01-alpha\n")
    assert cli.main(["execute", "--cut", "c1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("csr execute failed: Chapter 01-alpha failed for data cut 'c1': cell [")
    assert "ValueError: planted failure in 01-alpha" in err and "Traceback" not in err
    assert not (root / "_output" / "c1").exists()


@pytest.mark.slow
def test_all_cuts_report(project, capsys):
    root, _ = project
    assert cli.main(["report", "--all-cuts"]) == 0
    out = capsys.readouterr().out
    assert (root / "_output" / "c1" / "manifest.json").is_file() and (
        root / "_output" / "c2" / "manifest.json"
    ).is_file()
    assert "c1" in out and "c2" in out


def test_concurrent_run_is_refused_with_exit_3(project, capsys, cut_lock_holder):
    root, calls = project
    with cut_lock_holder(root, "c1"):
        assert cli.main(["report", "--cut", "c1"]) == 3
        assert "Another csr run is already building data cut 'c1'" in capsys.readouterr().err
        assert calls == []


def test_generate_refuses_to_overwrite_the_committed_trial_with_another_size(capsys):
    assert cli.main(["generate", "--subjects", "480"]) == 1
    assert "needs --out DIR" in capsys.readouterr().err


# ---------------------------------------------------------------- issue 14


@pytest.mark.parametrize("name", ["../c1", "c1/../c2", "a/b", "..", "c 1", "", "_x", "c1\n"])
def test_bad_cut_names_are_one_sentence(project, capsys, name):
    root, calls = project
    assert cli.main(["report", "--cut", name]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"csr report failed: '{name}' is not a valid data cut name: use letters, digits, '-' and '_' "
        "(it names params/<cut>.yml and _output/<cut>/)\n"
    )
    assert calls == [] and not (root / "_output" / "c1").exists()


def test_an_impossible_cut_date_is_one_sentence(project, capsys):
    root, _ = project
    params = root / "params" / "c1.yml"
    params.write_text(params.read_text().replace("cut_date: ", "cut_date: 2025-02-30 #"))
    assert cli.main(["validate", "--cut", "c1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"csr validate failed: {params}: not valid YAML: ") and "real calendar dates" in err
    assert "unexpectedly" not in err and err.count("\n") == 1


@pytest.mark.slow
def test_verify_a_fresh_report_then_one_edited_ard_byte(project, capfd):
    root, _ = project
    assert cli.main(["report", "--cut", "c1"]) == 0
    captured = capfd.readouterr()
    assert "IPKernelApp" not in captured.out + captured.err and "KeyboardInterrupt" not in captured.out + captured.err
    assert cli.main(["verify", "--cut", "c1"]) == 0
    assert "deliverables match manifest.json" in capfd.readouterr().out
    ard = root / "_output" / "c1" / "ard" / "01-alpha.csv"
    data = bytearray(ard.read_bytes())
    data[-2] ^= 1  # one byte of the ARD
    ard.write_bytes(bytes(data))
    assert cli.main(["verify", "--cut", "c1"]) == 1
    err = capfd.readouterr().err
    assert "does not match its manifest.json (1 difference)" in err
    assert "ard/01-alpha.csv: edited (sha256 differs from manifest.json)" in err
    delivered = root / "sent"
    import shutil

    shutil.copytree(root / "_output" / "c1", delivered)
    (delivered / "ard" / "01-alpha.csv").unlink()
    assert cli.main(["verify", "--cut", "c1", "--dir", str(delivered)]) == 1
    assert "ard/01-alpha.csv: missing" in capfd.readouterr().err


def test_verify_without_a_manifest_is_one_sentence(project, capsys):
    assert cli.main(["verify", "--cut", "c1"]) == 1
    assert "manifest.json: not found; run `csr report` for this cut first" in capsys.readouterr().err
