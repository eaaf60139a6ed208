"""Benchmark of ``csr report`` (issue 6): run it with ``.venv/bin/python benchmarks/run_benchmark.py``.

In one run, on a scratch copy of the project (the checkout's ``_output/`` is never touched):

(a) cold ``csr report`` for the default cut, seconds per step;
(b) the same command again with nothing changed;
(c) the plain baseline: validate + derive, each chapter executed one after the other by papermill,
    then one book build (the same ``render.render_cut``), and the ratio baseline / cold;
(d) scale: synthetic trials of 48, 480 and 4,800 patients through generate + validate + derive + the
    chapters with ``CSR_RENDER_TLFS=0`` (every ARD and TLF body is computed; no RTF, figure file,
    notebook display or book rendering), each size in its own process, with wall time, the slowest chapters,
    and peak memory
    (``resource.getrusage`` max RSS of the process and of its largest kernel).

Writes ``benchmarks/results/benchmark.json`` and ``benchmarks/results/benchmark.md``. Parts that
cannot run yet (no chapters, no renderer) are recorded as skipped with the reason, not faked.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
SIZES = (48, 480, 4800)
#: What a scratch project needs from the checkout (the library itself is the installed package).
PROJECT_FILES = (
    "params",
    "chapters",
    "synthetic_data",
    "_quarto.yml",
    "requirements.lock",
    "book",
    "templates",
    "_templates",
    "_static",
    "references.bib",
)


def _copy_project(src: Path, dst: Path, with_data: bool = True) -> Path:
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    for name in PROJECT_FILES:
        if name == "synthetic_data" and not with_data:
            continue
        p = src / name
        if p.is_dir():
            shutil.copytree(p, dst / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        elif p.is_file():
            shutil.copy2(p, dst / name)
    return dst


def _csr(args: list[str], root: Path) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("csr")), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "CSR_ROOT": str(root)},
    )
    return time.perf_counter() - t0, proc


def _missing_parts(root: Path) -> list[str]:
    """Reasons the full report cannot be benchmarked yet (empty list: it can)."""
    sys.path.insert(0, str(REPO))
    from analysis_lib.pipeline import runner as pipeline

    reasons = []
    try:
        if not pipeline.chapter_notebooks(root):
            reasons.append("no chapter notebooks in chapters/")
    except Exception as exc:  # a book listing chapters that are not there yet
        reasons.append(str(exc))
    for mod in ("validate", "derive", "render"):
        try:
            pipeline._module(mod)
        except pipeline.PipelineError as exc:
            reasons.append(str(exc))
    return reasons


# ------------------------------------------------------------------------------------ (a) (b) (c)
def bench_report(cut: str, scratch: Path, source: Path = REPO) -> dict:
    root = _copy_project(source, scratch / "report")
    if not (root / "synthetic_data" / cut).is_dir():
        _csr(["generate"], root)
    reasons = _missing_parts(root)
    if reasons:
        return {"skipped": "; ".join(reasons)}
    wall, proc = _csr(["report", "--cut", cut], root)
    if proc.returncode:
        return {"skipped": f"csr report failed (exit {proc.returncode}): {proc.stderr.strip()}"}
    cache = json.loads((root / "_output" / cut / ".cache.json").read_text())
    cold = {"wall_s": round(wall, 2), "steps_s": cache["last_run"]}
    wall2, proc2 = _csr(["report", "--cut", cut], root)
    rerun = {"wall_s": round(wall2, 2), "all_cached": "nothing changed" in proc2.stdout, "exit": proc2.returncode}
    base = subprocess.run(
        [sys.executable, __file__, "--baseline-one", cut, "--root", str(root), "--build", str(scratch / "baseline")],
        capture_output=True,
        text=True,
        env={**os.environ, "CSR_ROOT": str(root)},
    )
    if base.returncode:
        baseline = {"skipped": f"baseline failed: {base.stderr.strip()[-2000:]}"}
    else:
        baseline = json.loads(base.stdout.strip().splitlines()[-1])
    out = {"cut": cut, "cold": cold, "rerun": rerun, "baseline": baseline}
    if "total_s" in baseline:
        out["ratio_baseline_over_cold"] = round(baseline["total_s"] / wall, 2)
    out["profiles"] = bench_profiles(cut, scratch, source)
    return out


#: The book entry of the subject-profile chapter (issue 13: its cost in a cold report is measured).
PROFILES_CHAPTER = "chapters/profiles.ipynb"


def bench_profiles(cut: str, scratch: Path, source: Path = REPO) -> dict:
    """Cold ``csr report`` with and without the subject-profile chapter, in the same run, on two
    scratch copies (the second drops the chapter from ``_quarto.yml``); runs alternate
    with, without, with, without and the faster of each pair counts (other load on the machine)."""
    roots = {
        "with": _copy_project(source, scratch / "prof-with"),
        "without": _copy_project(source, scratch / "prof-without"),
    }
    book = roots["without"] / "_quarto.yml"
    lines = book.read_text(encoding="utf-8").splitlines(keepends=True)
    if not any(PROFILES_CHAPTER in ln for ln in lines):
        return {"skipped": f"{PROFILES_CHAPTER} is not a chapter of the book"}
    book.write_text("".join(ln for ln in lines if PROFILES_CHAPTER not in ln), encoding="utf-8")
    import resource

    times: dict[str, list[float]] = {"with": [], "without": []}
    cpu: dict[str, list[float]] = {"with": [], "without": []}
    for _ in range(2):
        for which, root in roots.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            wall, proc = _csr(["report", "--cut", cut, "--force"], root)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if proc.returncode:
                return {"skipped": f"csr report ({which} profiles) failed: {proc.stderr.strip()[-500:]}"}
            times[which].append(round(wall, 2))
            # CPU seconds of csr and every process it waited for (kernels, their drawing workers, LaTeX)
            cpu[which].append(round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2))
    best = {k: min(v) for k, v in times.items()}
    return {"runs_s": times, "with_s": best["with"], "without_s": best["without"],
            "added_s": round(best["with"] - best["without"], 2), "cpu_s": cpu,
            "added_cpu_s": round(min(cpu["with"]) - min(cpu["without"]), 2)}  # fmt: skip


def baseline_one(cut_id: str, root: Path, build: Path) -> dict:
    """The plain way, in this process: validate, derive, papermill each chapter in turn, one book build."""
    import papermill

    from analysis_lib.pipeline import render
    from analysis_lib.pipeline import runner as pipeline
    from analysis_lib.trial import config, derive, validate

    if build.exists():
        shutil.rmtree(build)
    for sub in ("adam", "notebooks", "ard", "rtf", "figures"):
        (build / sub).mkdir(parents=True)
    cut = config.load_cut(cut_id, root)
    steps = {}
    t_all = t0 = time.perf_counter()
    problems = validate.validate_cut(cut)
    if problems:
        raise SystemExit(validate.format_problems(problems))
    steps["validate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    derive.derive_cut(cut, out_dir=build / "adam")
    steps["derive"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for nb in pipeline.chapter_notebooks(root):
        papermill.execute_notebook(
            str(nb),
            str(build / "notebooks" / nb.name),
            kernel_name="python3",
            parameters={"cut": cut.id, "output_dir": str(build)},
            cwd=str(nb.parent),
            progress_bar=False,
        )
    steps["execute"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    render.render_cut(cut, build, engine="jupyter-book")
    steps["render"] = time.perf_counter() - t0
    return {"steps_s": {k: round(v, 2) for k, v in steps.items()}, "total_s": round(time.perf_counter() - t_all, 2)}


# -------------------------------------------------------------------------------------------- (d)
def scale_one(n: int, workdir: Path, source: Path = REPO) -> dict:
    """One trial size in this process: generate + validate + derive + chapters (ARDs), no rendering."""
    import yaml

    from analysis_lib.pipeline import runner as pipeline
    from analysis_lib.synthetic import generator as synth
    from analysis_lib.trial import config

    root = _copy_project(source, workdir, with_data=False)
    cut = config.default_cut(source)
    for old in (root / "params").glob("*.yml"):
        if old.name != "study.yml":
            old.unlink()
    for cid, params in synth.cut_params(n, root=root).items():  # cut dates fitted to this enrolment
        (root / "params" / f"{cid}.yml").write_text(yaml.safe_dump(params, sort_keys=False))
    res: dict = {"subjects": n, "cut": cut}
    t0 = time.perf_counter()
    synth.generate(root / "synthetic_data", n_subjects=n, root=root)
    res["generate_s"] = round(time.perf_counter() - t0, 2)
    try:
        has_chapters, why = bool(pipeline.chapter_notebooks(root)), "no chapter notebooks in chapters/"
    except config.ConfigError as exc:
        has_chapters, why = False, str(exc)
    os.environ["CSR_RENDER_TLFS"] = "0"  # ARDs and TLF bodies only: no RTF, figure files or display
    run = pipeline.run(cut, until="execute" if has_chapters else "derive", root=root)
    for step in ("validate", "derive", "execute"):
        if step in run.seconds:
            res[f"{step}_s"] = round(run.seconds[step], 2)
    if run.chapter_seconds:
        res["slowest_chapters_s"] = {
            n: round(t, 2) for n, t in sorted(run.chapter_seconds.items(), key=lambda kv: -kv[1])[:3]
        }
    if not has_chapters:
        res["execute_s"] = None
        res["note"] = f"ARDs not computed (chapters not runnable yet: {why})"
    res["derive_and_ards_s"] = round(sum(run.seconds.get(s, 0.0) for s in ("validate", "derive", "execute")), 2)
    res["adam_mb"] = round(
        sum(p.stat().st_size for p in (root / "_output" / cut / "adam").rglob("*") if p.is_file()) / 1e6, 2
    )
    res["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    res["peak_kernel_rss_mb"] = round(kids / 1024, 1) if has_chapters else None
    return res


def bench_scale(sizes, scratch: Path, source: Path = REPO) -> list[dict]:
    rows = []
    for n in sizes:
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--scale-one",
                str(n),
                "--workdir",
                str(scratch / f"n{n}"),
                "--project",
                str(source),
            ],
            capture_output=True,
            text=True,
        )
        if proc.returncode:
            rows.append({"subjects": n, "error": proc.stderr.strip()[-2000:]})
        else:
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    base = next((r for r in rows if "derive_and_ards_s" in r), None)
    for r in rows:
        if base and "derive_and_ards_s" in r and base["derive_and_ards_s"] > 0:
            r["time_per_patient_vs_smallest"] = round(
                (r["derive_and_ards_s"] / r["subjects"]) / (base["derive_and_ards_s"] / base["subjects"]), 3
            )
    return rows


# ------------------------------------------------------------------------------------------ output
def _fmt(v) -> str:
    return "–" if v is None else f"{v:,}" if isinstance(v, int) else f"{v:.2f}" if isinstance(v, float) else str(v)


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = [f"# csr benchmark ({m['cpus']} CPUs, Python {m['python']}, {m['platform']})", ""]
    rep = res.get("report", {})
    if "skipped" in rep:
        lines += [f"Full report: skipped — {rep['skipped']}", ""]
    elif rep:
        steps = ("validate", "derive", "execute", "render")
        lines += ["| run | " + " | ".join(steps) + " | total (s) |", "|---|" + "---:|" * (len(steps) + 1)]
        cold = rep["cold"]["steps_s"]
        lines.append(
            "| (a) cold `csr report` | "
            + " | ".join(_fmt(cold.get(s)) for s in steps)
            + f" | {_fmt(rep['cold']['wall_s'])} |"
        )
        lines.append(
            "| (b) no-change re-run | " + " | ".join("cached" for _ in steps) + f" | {_fmt(rep['rerun']['wall_s'])} |"
        )
        b = rep["baseline"]
        if "steps_s" in b:
            lines.append(
                "| (c) plain baseline | "
                + " | ".join(_fmt(b["steps_s"].get(s)) for s in steps)
                + f" | {_fmt(b['total_s'])} |"
            )
            lines += ["", f"Baseline / cold = **{rep['ratio_baseline_over_cold']}×**"]
        else:
            lines += ["", f"(c) baseline: {b.get('skipped')}"]
        prof = rep.get("profiles") or {}
        if "added_s" in prof:
            lines += ["", f"Subject profiles: cold report {_fmt(prof['with_s'])} s with, {_fmt(prof['without_s'])} s "
                      f"without the profile chapter (best of two each): **+{_fmt(prof['added_s'])} s** wall, "
                      f"+{_fmt(prof.get('added_cpu_s'))} s CPU."]  # fmt: skip
        elif prof:
            lines += ["", f"Subject profiles: {prof.get('skipped')}"]
        lines.append("")
    lines += [
        "| patients | generate (s) | validate (s) | derive (s) | chapters/ARDs (s) | derive + ARDs (s) "
        "| per-patient time vs 48 | peak RSS (MB) | peak kernel RSS (MB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in res.get("scale", []):
        if "error" in r:
            lines.append(f"| {r['subjects']:,} | failed: {r['error'].splitlines()[-1]} |||||||| ")
            continue
        lines.append(
            "| "
            + " | ".join(
                _fmt(r.get(k))
                for k in (
                    "subjects",
                    "generate_s",
                    "validate_s",
                    "derive_s",
                    "execute_s",
                    "derive_and_ards_s",
                    "time_per_patient_vs_smallest",
                    "peak_rss_mb",
                    "peak_kernel_rss_mb",
                )
            )
            + " |"
        )
    slow = [
        f"{r['subjects']:,}: " + ", ".join(f"{n} {t:.1f} s" for n, t in r["slowest_chapters_s"].items())
        for r in res.get("scale", [])
        if r.get("slowest_chapters_s")
    ]
    if slow:
        lines += ["", "Slowest chapters (2 kernels in parallel): " + "; ".join(slow) + "."]
    notes = [r["note"] for r in res.get("scale", []) if r.get("note")]
    if notes:
        lines += ["", f"Note: {notes[0]}."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cut", default=None, help="cut for (a)-(c) (default: the study's default cut)")
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    ap.add_argument("--only", choices=("report", "scale"), default=None)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--project", type=Path, default=REPO, help="project to copy (default: this checkout)")
    ap.add_argument("--scale-one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--baseline-one", help=argparse.SUPPRESS)
    ap.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.scale_one:
        print(json.dumps(scale_one(args.scale_one, args.workdir, args.project)))
        return 0
    if args.baseline_one:
        print(json.dumps(baseline_one(args.baseline_one, args.root, args.build)))
        return 0

    from analysis_lib.trial import config

    scratch = args.out / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    res = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}}
    if args.only in (None, "report"):
        res["report"] = bench_report(args.cut or config.default_cut(args.project), scratch, args.project)
    if args.only in (None, "scale"):
        res["scale"] = bench_scale(args.sizes, scratch, args.project)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmark.json").write_text(json.dumps(res, indent=2) + "\n")
    md = markdown(res)
    (args.out / "benchmark.md").write_text(md)
    shutil.rmtree(scratch, ignore_errors=True)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
