"""A sponsor's own ADaM (``adam_dir:``): the contract, reading and checking it, TLFs switched off."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis_lib.pipeline import adam_scan
from analysis_lib.pipeline import runner as pipeline
from analysis_lib.trial import adam_contract, config
from analysis_lib.trial.config import ConfigError, load_cut, project_root

ROOT = project_root()
DROPPED = ("adlb", "CONDDY0", "t-lab-shift-cart")  # a variable only that TLF reads (docs/adam.md)


def _copy_project(dest: Path) -> Path:
    for name in ("chapters", "params", "synthetic_data"):
        shutil.copytree(ROOT / name, dest / name)
    for name in ("_quarto.yml", "requirements.lock"):
        shutil.copyfile(ROOT / name, dest / name)
    return dest


def _sponsor_cut(root: Path, cut_id: str, folder: str, extra: str = "") -> None:
    final = load_cut("final", root)
    (root / "params" / f"{cut_id}.yml").write_text(
        f"id: {cut_id}\nlabel: Sponsor ADaM\ncut_date: {final.cut_date}\nadam_dir: {folder}\nkind: final\n"
        f"previous: interim\n{extra}",
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the project whose final cut was derived; its ADaM copied to ``sponsor/adam`` as a sponsor's."""
    root = _copy_project(tmp_path_factory.mktemp("sponsor-project"))
    pipeline.run("final", until="derive", root=root)
    (root / "sponsor" / "adam").mkdir(parents=True)
    for p in (root / "_output" / "final" / "adam").glob("*.parquet"):
        if p.stem not in adam_contract.PIPELINE_ONLY:
            shutil.copyfile(p, root / "sponsor" / "adam" / p.name)
    _sponsor_cut(root, "sponsor", "sponsor/adam")
    return root


def _derived(root: Path) -> dict[str, pd.DataFrame]:
    return {
        p.stem: pd.read_parquet(p)
        for p in sorted((root / "_output" / "final" / "adam").glob("*.parquet"))
        if p.stem not in adam_contract.PIPELINE_ONLY
    }


# ----------------------------------------------------------------------------------- parameters
def _cut_file(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "p"
    (root / "params").mkdir(parents=True)
    (root / "chapters").mkdir()
    shutil.copyfile(ROOT / "params" / "study.yml", root / "params" / "study.yml")
    shutil.copyfile(ROOT / "chapters" / "tlf_catalogue.yml", root / "chapters" / "tlf_catalogue.yml")
    (root / "params" / "c.yml").write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("folders", "word"),
    [("data_dir: d\nadam_dir: a\n", "both"), ("", "neither")],
)
def test_exactly_one_of_data_dir_and_adam_dir(tmp_path, folders, word):
    root = _cut_file(tmp_path, f"id: c\ncut_date: 2026-01-01\nkind: final\n{folders}")
    with pytest.raises(
        ConfigError, match=rf"exactly one of data_dir \(SDTM\) and adam_dir \(sponsor ADaM\), not {word}"
    ):
        load_cut("c", root)


def test_tlfs_off_is_checked_against_the_catalogue_and_needs_a_reason(tmp_path):
    root = _cut_file(tmp_path, "id: c\ncut_date: 2026-01-01\nkind: final\nadam_dir: a\ntlfs_off:\n  t-nope: absent\n")
    with pytest.raises(ConfigError, match=r"tlfs_off: t-nope: not a TLF of chapters/tlf_catalogue.yml"):
        load_cut("c", root)
    (root / "params" / "c.yml").write_text(
        "id: c\ncut_date: 2026-01-01\nkind: final\nadam_dir: a\ntlfs_off:\n  t-dlt: ' '\n"
    )
    with pytest.raises(ConfigError, match=r"t-dlt: give the reason"):
        load_cut("c", root)
    (root / "params" / "c.yml").write_text(
        "id: c\ncut_date: 2026-01-01\nkind: final\nadam_dir: a\ntlfs_off:\n  t-dlt: no DLTs\n"
    )
    cut = load_cut("c", root)
    assert cut.sponsor_adam and cut.data_dir == root / "a" and cut.off_reason("t-dlt") == "no DLTs"
    assert cut.off_reason("t-orr") is None


# ----------------------------------------------------------------------------------- converting
def test_convert_gives_derive_types_and_names_bad_rows():
    dates = pd.Series(pd.to_datetime(["2026-01-02", None, "2026-03-04"]))
    out, problem = adam_contract.convert(dates, "date")
    assert problem is None and str(out.dtype) == "datetime64[ns]" and out.isna().tolist() == [False, True, False]
    _, problem = adam_contract.convert(pd.Series(pd.to_datetime(["2026-01-02T10:30"])), "date")
    assert problem == "holds a time of day at row 1; expected dates (the ADaM date variables are dates)"
    out, problem = adam_contract.convert(pd.Series(["3", "", "5"]), "integer")
    assert problem is None and str(out.dtype) == "Int64" and out.tolist()[0] == 3 and out.isna().tolist()[1]
    _, problem = adam_contract.convert(pd.Series([1.0, 2.5, 3.5]), "integer")
    assert problem == "holds non-whole numbers at rows 2, 3; expected integers"
    _, problem = adam_contract.convert(pd.Series(["1", "x"]), "number")
    assert problem == "holds values that are not numbers at row 2; expected number values"
    out, problem = adam_contract.convert(pd.Series(["a", None]), "text")
    assert problem is None and out.tolist() == ["a", ""]
    _, problem = adam_contract.convert(pd.Series([1.0, 2.0]), "text")
    assert problem == "is float64; expected text"


# ----------------------------------------------------------------------------------- the contract
def test_docs_adam_md_holds_the_current_contract():
    contract = adam_contract.CONTRACT_FILE.read_text(encoding="utf-8")
    section = adam_scan.docs_section(json.loads(contract))
    assert section in (ROOT / "docs" / "adam.md").read_text(encoding="utf-8"), (
        "docs/adam.md is not current: run python -m analysis_lib.pipeline.adam_scan"
    )


def test_contract_names_every_catalogue_tlf_and_derive_types(project):
    contract = adam_contract.load()
    assert set(contract.tlfs) == set(config.catalogue_ids(ROOT))
    for name, df in _derived(project).items():
        assert contract.datasets[name] == {c: adam_contract.type_of(df[c]) for c in df.columns}, name
    assert contract.needed()[DROPPED[0]][DROPPED[1]] == [DROPPED[2]]
    assert adam_contract.needs_pipeline_only("t-datacut") and not adam_contract.needs_pipeline_only("t-dlt")


def _ards(build: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((build / "ard").glob("*.csv"))}


@pytest.mark.slow
def test_each_chapter_on_only_the_contract_variables_gives_identical_ards(project, tmp_path):
    """The contract is sufficient: every chapter run on an ADaM holding only the variables the
    contract lists for it (set-up and TLFs) writes byte-identical ARDs."""
    contract = adam_contract.load()
    adam = project / "_output" / "final" / "adam"
    for name in [nb.stem for nb in pipeline.chapter_notebooks(project)]:
        keep: dict[str, set[str]] = {}
        reads = [contract.chapters.get(name, {})] + [
            r for t, r in contract.tlfs.items() if contract.tlf_chapter[t] == name
        ]
        for r in reads:
            for ds, vs in r.items():
                keep.setdefault(ds, set()).update(vs)
        full, cut_down = tmp_path / name / "full", tmp_path / name / "cut"
        for build in (full, cut_down):
            shutil.copytree(adam, build / "adam")
        adam_scan.run_chapter("final", name, full, root=project)
        adam_scan.run_chapter("final", name, cut_down, keep=keep, root=project)
        assert _ards(full) == _ards(cut_down), name


# ----------------------------------------------------------------------------------- reading
def test_a_parquet_sponsor_adam_reads_back_as_derive_wrote_it(project):
    read = adam_contract.read_sponsor_adam(project / "sponsor" / "adam")
    for name, df in _derived(project).items():
        pd.testing.assert_frame_equal(read[name], df, check_dtype=True, obj=name)


def test_an_xpt_sponsor_adam_reads_back_as_derive_wrote_it(project, tmp_path):
    """SAS XPT v5 (pyreadstat): numbers come back as floats, dates as datetimes — converted back."""
    import pyreadstat

    folder = tmp_path / "xpt"
    folder.mkdir()
    derived = _derived(project)
    for name, df in derived.items():
        out = df.copy()
        for c in out.columns:
            if str(out[c].dtype) == "Int64":
                out[c] = out[c].astype("float64")
        pyreadstat.write_xport(out, str(folder / f"{name}.xpt"), table_name=name.upper(), file_format_version=5)
    read = adam_contract.read_sponsor_adam(folder)
    for name, df in derived.items():
        pd.testing.assert_frame_equal(read[name], df, check_dtype=True, obj=name)


def test_a_csv_sponsor_adam_reads_back_as_derive_wrote_it(project, tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    derived = _derived(project)
    for name, df in derived.items():
        out = df.copy()
        for c in out.columns:
            if str(out[c].dtype).startswith("datetime"):
                out[c] = out[c].dt.strftime("%Y-%m-%d")
        out.to_csv(folder / f"{name.upper()}.csv", index=False, float_format="%.17g")
    read = adam_contract.read_sponsor_adam(folder)
    for name, df in derived.items():
        pd.testing.assert_frame_equal(read[name], df, check_dtype=True, obj=name)


def test_missing_and_mistyped_variables_are_named_with_the_tlfs_that_need_them(project, tmp_path):
    folder = tmp_path / "bad"
    shutil.copytree(project / "sponsor" / "adam", folder)
    adsl = pd.read_parquet(folder / "adsl.parquet").drop(columns=["DLTFL"])
    adsl["AGE"] = adsl["AGE"].astype("float64") + 0.5
    adsl.to_parquet(folder / "adsl.parquet", index=False)
    adlb = pd.read_parquet(folder / "adlb.parquet").drop(columns=[DROPPED[1]])
    adlb.to_parquet(folder / "adlb.parquet", index=False)
    (folder / "adpp.parquet").unlink()
    with pytest.raises(adam_contract.AdamContractError) as err:
        adam_contract.read_sponsor_adam(folder)
    problems = err.value.problems
    dltfl = next(p for p in problems if p.startswith("ADSL (adsl.parquet): variable DLTFL (text) missing; needed by "))
    assert "t-dlt" in dltfl and "the set-up of chapter narratives" in dltfl
    assert any(p.startswith("ADSL (adsl.parquet): variable AGE holds non-whole numbers at rows 1, 2") for p in problems)
    assert any(p.startswith("ADPP: dataset not found in") and "t-nca" in p for p in problems)
    assert f"ADLB (adlb.parquet): variable {DROPPED[1]} (number) missing; needed by {DROPPED[2]}" in problems
    # switched off, a TLF no longer needs what it alone reads; what a chapter's set-up reads stays needed
    off = {DROPPED[2], "t-nca"}
    with pytest.raises(adam_contract.AdamContractError) as err:
        adam_contract.read_sponsor_adam(folder, off=off)
    problems = err.value.problems
    assert not any(DROPPED[1] in p for p in problems)
    adpp = next(p for p in problems if p.startswith("ADPP: dataset not found"))
    assert "t-nca" not in adpp and "the set-up of chapter provenance" in adpp


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CSR_ROOT": str(root)}
    return subprocess.run([str(Path(sys.executable).with_name("csr")), *args], env=env, capture_output=True, text=True)


def test_a_sponsor_adam_missing_a_variable_fails_before_any_chapter(project):
    """Exit 1, a message naming dataset, variable and TLFs, no traceback, earlier outputs untouched."""
    folder = project / "sponsor" / "missing"
    shutil.copytree(project / "sponsor" / "adam", folder)
    adlb = pd.read_parquet(folder / "adlb.parquet").drop(columns=[DROPPED[1]])
    adlb.to_parquet(folder / "adlb.parquet", index=False)
    _sponsor_cut(project, "sponsor-missing", "sponsor/missing")
    before = {p: p.read_bytes() for p in (project / "_output" / "final").rglob("*") if p.is_file()}
    result = _cli(project, "report", "--cut", "sponsor-missing")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert f"ADLB (adlb.parquet): variable {DROPPED[1]} (number) missing; needed by {DROPPED[2]}" in result.stderr
    assert not (project / "_output" / "sponsor-missing").exists()  # no chapter ran, nothing written
    assert before == {p: p.read_bytes() for p in (project / "_output" / "final").rglob("*") if p.is_file()}


# ----------------------------------------------------------------------------------- end to end
@pytest.mark.slow
def test_sponsor_adam_report_gives_the_sdtm_ards_and_states_the_tlf_switched_off(project):
    """The final cut's derived ADaM given as a sponsor's (one variable dropped, its TLF switched off):
    every other ARD is byte-identical to the SDTM path; the book says the TLF is not produced and why."""
    folder = project / "sponsor" / "off"
    shutil.copytree(project / "sponsor" / "adam", folder)
    adlb = pd.read_parquet(folder / "adlb.parquet").drop(columns=[DROPPED[1]])
    adlb.to_parquet(folder / "adlb.parquet", index=False)
    reason = "the sponsor's ADLB has no conditioning start day"
    _sponsor_cut(project, "sponsor-off", "sponsor/off", f'tlfs_off:\n  {DROPPED[2]}: "{reason}"\n')
    sdtm = pipeline.run("final", until="execute", root=project)
    adam = pipeline.run("sponsor-off", until="execute", root=project)
    a, b = _ards(sdtm.output_dir), _ards(adam.output_dir)
    assert set(a) - set(b) == {f"{DROPPED[2]}.csv", "t-datacut.csv"} and set(b) <= set(a)
    assert {k: a[k] for k in b} == b  # every ARD produced in both is byte-identical
    meta = json.loads((adam.output_dir / "tlf" / f"{DROPPED[2]}.json").read_text(encoding="utf-8"))
    assert meta["produced"] is False and meta["reason"].startswith(reason) and meta["files"] == {}
    datacut_meta = json.loads((adam.output_dir / "tlf" / "t-datacut.json").read_text(encoding="utf-8"))
    assert datacut_meta["reason"] == adam_contract.SPONSOR_ADAM_NO_CUT
    lab = _outputs_text(adam.output_dir / "notebooks" / "laboratory.ipynb")
    number = load_catalogue_number(DROPPED[2])
    assert (
        f"{number} (" in lab
        and f"is not produced for this data cut: {reason} (tlfs_off in params/sponsor-off.yml)" in lab
    )
    assert "t-lab-shift.csv" in b  # the chapter's other TLFs still appear
    prov = _outputs_text(adam.output_dir / "notebooks" / "provenance.ipynb")
    assert "sponsor's own ADaM" in prov and "did not validate SDTM, apply the data cut or derive" in prov
    assert not (adam.output_dir / "adam" / "dcutlog.parquet").exists()


def _outputs_text(notebook: Path) -> str:
    """All text/plain outputs of an executed notebook, joined."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    return "\n".join(
        "".join(o.get("data", {}).get("text/plain", "")) for c in nb["cells"] for o in c.get("outputs", [])
    )


def load_catalogue_number(tlf_id: str) -> str:
    from analysis_lib.trial import catalogue

    return catalogue.load()[tlf_id].number
