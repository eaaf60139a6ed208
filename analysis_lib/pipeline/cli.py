"""``csr``: the command line of the CSR pipeline (docs/design.md §6).

Subcommands import their modules lazily so ``csr --help`` is fast. Every failure the user can act on
(configuration, data, a failing chapter, a held lock) ends with one readable paragraph on stderr and a
non-zero exit status, never a traceback (``--debug`` shows it).

Exit status: 0 success; 1 data, configuration or chapter failure (``verify``: the package differs from
its manifest); 2 usage error (argparse);
3 another run holds the cut's lock; 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

EXIT_FAILED, EXIT_LOCKED, EXIT_INTERRUPTED = 1, 3, 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="csr", description="Reproducible clinical study report, one data cut at a time.")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks on failure")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    g = sub.add_parser("generate", help="synthetic SDTM (XPT) for every cut")
    g.add_argument("--subjects", type=int, default=48, metavar="N", help="number of patients (default 48)")
    g.add_argument("--seed", type=int, default=None, metavar="S", help="random seed (default: the study's)")
    g.add_argument("--out", type=Path, default=None, metavar="DIR", help="output folder (default synthetic_data/)")

    v = sub.add_parser("validate", help="read + validate the cut's inputs, report all problems")
    v.add_argument("--cut", required=True, metavar="CUT")

    c = sub.add_parser(
        "verify",
        help="check a delivered package against its manifest.json",
        description="Check every deliverable of a cut's output folder (or a copy of it that was "
        "sent out, --dir) against the sha256 in its manifest.json; name what differs.",
    )
    c.add_argument("--cut", required=True, metavar="CUT")
    c.add_argument("--dir", type=Path, default=None, metavar="DIR", help="the package folder (default _output/CUT)")

    for name, text in (
        ("derive", "data cut + ADaM datasets -> _output/CUT/adam/"),
        ("execute", "run every chapter notebook for the cut -> _output/CUT/notebooks/, ard/"),
        ("render", "HTML book, PDF, RTF package and manifest"),
        ("report", "validate, derive, execute, render: cached and atomic"),
    ):
        s = sub.add_parser(name, help=text, description=text + ". Earlier steps run first when their inputs changed.")
        if name == "report":
            which = s.add_mutually_exclusive_group(required=True)
            which.add_argument("--cut", metavar="CUT")
            which.add_argument("--all-cuts", action="store_true", help="every cut in params/, side by side")
        else:
            s.add_argument("--cut", required=True, metavar="CUT")
        if name in ("render", "report"):
            s.add_argument("--engine", choices=("jupyter-book", "quarto"), default="jupyter-book")
            s.add_argument(
                "--profiles",
                choices=("narrated", "all"),
                default=None,
                help="subject profiles in the PDF: narrated subjects (default) or all",
            )
        s.add_argument("--force", action="store_true", help="re-run every step, ignoring the cache")
        s.add_argument("--jobs", type=int, default=None, metavar="N", help="parallel kernels (default: cores)")
    return p


class RichReporter:
    """Progress per step and per chapter: a live display on a terminal, plain lines otherwise (CI logs)."""

    def __init__(self, console):
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = console
        self.live = console.is_terminal
        self.lock = threading.Lock()
        self.tasks: dict[tuple[str, str], Any] = {}  # rich TaskIDs
        self.progress = (
            Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TextColumn("{task.fields[state]}"),
                TimeElapsedColumn(),
                console=console,
                transient=False,
            )
            if self.live
            else None
        )

    def __enter__(self):
        if self.progress:
            self.progress.start()
        return self

    def __exit__(self, *exc):
        if self.progress:
            self.progress.stop()

    def _show(self, key: tuple[str, str], label: str, status: str, seconds: float | None) -> None:
        state = status if seconds is None or status == "running" else f"{status} {seconds:.1f} s"
        with self.lock:
            if not self.live:
                if status != "running":
                    self.console.print(f"{label}: {state}", highlight=False, markup=False)
                return
            assert self.progress is not None  # live display
            if key not in self.tasks:
                self.tasks[key] = self.progress.add_task(label, total=1, state=state)
            self.progress.update(self.tasks[key], state=state, completed=0 if status == "running" else 1)

    def step(self, cut, step, status, seconds=None):
        self._show((cut, step), f"{cut}: {step}", status, seconds)

    def chapter(self, cut, chapter, status, seconds=None):
        self._show((cut, "chapter " + chapter), f"{cut}:   {chapter}", status, seconds)

    def message(self, cut, text):
        with self.lock:
            self.console.print(f"{cut}: {text}", highlight=False, markup=False, soft_wrap=True)


def _summary(console, results) -> None:
    from rich.table import Table

    from analysis_lib.pipeline.runner import STEPS

    table = Table(title="csr summary (seconds per step)")
    table.add_column("cut")
    for s in STEPS:
        table.add_column(s, justify="right")
    table.add_column("chapters run", justify="right")
    table.add_column("total s", justify="right")
    for r in results:
        cells = [
            ("cached" if r.steps[s] == "cached" else f"{r.seconds[s]:.1f}") if s in r.steps else "-" for s in STEPS
        ]
        ran = sum(v == "done" for v in r.chapters.values())
        table.add_row(r.cut, *cells, f"{ran}/{len(r.chapters)}" if r.chapters else "-", f"{r.total_seconds:.1f}")
    console.print(table)
    for r in results:
        console.print(f"{r.cut}: outputs in {r.output_dir}", highlight=False, markup=False, soft_wrap=True)


def _cmd_generate(args) -> int:
    from analysis_lib.synthetic import generator as synth
    from analysis_lib.trial import config

    if args.out is None and (args.subjects != 48 or args.seed is not None):
        raise config.ConfigError(
            "csr generate with --subjects/--seed needs --out DIR: synthetic_data/ is the committed trial whose "
            "cut dates params/<cut>.yml fix; another trial there would be cut at dates that are not its own"
        )
    out = args.out or config.project_root() / "synthetic_data"
    kwargs = {"n_subjects": args.subjects}
    if args.seed is not None:
        kwargs["seed"] = args.seed
    paths = synth.generate(Path(out), **kwargs)
    for cut_id, path in paths.items():
        print(f"{cut_id}: {path}")
    return 0


def _cmd_validate(args) -> int:
    from analysis_lib.pipeline import runner
    from analysis_lib.trial import config

    cut = config.load_cut(args.cut)
    config.load_study(cut.root)  # the study parameters first: a schema problem is a ConfigError

    class Warnings(runner.Reporter):
        def message(self, cut: str, text: str) -> None:
            print(f"{cut}: {text}", file=sys.stderr)

    runner.validate_inputs(cut, Warnings())  # raises PipelineError naming every problem
    print(f"Data cut '{cut.id}' ({cut.data_dir}): no problems found.")
    return 0


def _cmd_verify(args) -> int:
    from analysis_lib.pipeline import provenance
    from analysis_lib.trial import config

    folder = args.dir or config.load_cut(args.cut).output_dir
    try:
        diffs = provenance.verify(folder)
    except provenance.VerifyError as exc:
        print(f"csr verify failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if diffs:
        print(
            f"csr verify: {folder} does not match its manifest.json ({len(diffs)} difference"
            f"{'s' if len(diffs) != 1 else ''}):",
            file=sys.stderr,
        )
        for line in diffs:
            print(f"  - {line}", file=sys.stderr)
        return EXIT_FAILED
    n = len(provenance.deliverables(folder))
    print(f"csr verify: {folder}: all {n} deliverables match manifest.json")
    return 0


def _cmd_pipeline(args) -> int:
    from rich.console import Console

    from analysis_lib.pipeline import runner as pipeline
    from analysis_lib.trial import config

    console = Console(stderr=False)
    until = "render" if args.command == "report" else args.command
    engine = getattr(args, "engine", "jupyter-book")
    if getattr(args, "profiles", None):
        os.environ["CSR_PROFILES"] = args.profiles  # read by the renderer; part of the render cache key
    cuts = config.list_cuts() if getattr(args, "all_cuts", False) else [args.cut]
    if not cuts:
        raise config.ConfigError(f"{config.project_root() / 'params'}: no data cuts declared")
    with RichReporter(console) as reporter:
        if len(cuts) == 1:
            results = [
                pipeline.run(cuts[0], until=until, engine=engine, force=args.force, reporter=reporter, jobs=args.jobs)
            ]
            errors: dict[str, BaseException] = {}
        else:
            results, errors = pipeline.run_many(
                cuts, until=until, engine=engine, force=args.force, reporter=reporter, jobs=args.jobs
            )
    if results:
        _summary(console, results)
    for cut_id, exc in errors.items():
        print(f"csr: data cut '{cut_id}' failed: {exc}", file=sys.stderr)
    if any(isinstance(e, pipeline.LockHeld) for e in errors.values()):
        return EXIT_LOCKED
    return EXIT_FAILED if errors else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``csr`` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    from analysis_lib.pipeline.runner import LockHeld, PipelineError
    from analysis_lib.trial.config import ConfigError

    handlers = {"generate": _cmd_generate, "validate": _cmd_validate, "verify": _cmd_verify}
    started = time.perf_counter()
    try:
        return handlers.get(args.command, _cmd_pipeline)(args)
    except LockHeld as exc:
        print(f"csr: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    except (ConfigError, PipelineError) as exc:
        if args.debug:
            raise
        print(f"csr {args.command} failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(
            f"csr {args.command}: interrupted after {time.perf_counter() - started:.0f} s; "
            f"the previous outputs are unchanged.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug or an unexpected data condition: still one paragraph, no traceback
        if args.debug:
            raise
        print(
            f"csr {args.command} failed unexpectedly: {type(exc).__name__}: {exc} "
            f"(run `csr --debug {args.command} ...` for the traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
