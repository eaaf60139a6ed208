"""The report pipeline behind ``csr``: validate -> derive -> execute -> render (+ manifest) for one data cut.

Why it is built this way (docs/design.md §2, issue 6):

* **Cached by content.** Every step has a key, a SHA-256 over everything it depends on (input data files,
  ``params/study.yml`` + ``params/<cut>.yml``, the ``analysis_lib`` sources, ``requirements.lock``, the
  chapter notebooks and their support files, ``_quarto.yml`` and book templates, the engine). The keys
  of the last good run live in ``_output/<cut>/.cache.json``; a step whose key is unchanged is skipped,
  and so is each chapter whose own key (notebook + ADaM content + library + params) is unchanged.
  When nothing changed, nothing is written at all.
* **Atomic.** Work happens in ``_output/.staging-<cut>-<random>/`` (a copy of the previous outputs, so
  cached pieces carry over); ``_output/<cut>/`` is replaced only after every requested step succeeded
  (old renamed aside, new renamed in, old deleted). Any failure, ``KeyboardInterrupt`` included,
  deletes the staging folder and leaves the previous outputs byte-identical.
* **Locked.** ``fcntl.flock`` on ``_output/.<cut>.lock`` refuses a second concurrent run of the same cut.
* **Parallel and deterministic.** Chapters run concurrently under papermill, at most ``os.cpu_count()``
  kernels in the whole process (shared by cuts running side by side), each kernel being this
  interpreter's ipykernel with ``PYTHONHASHSEED=0`` and ``MPLBACKEND=Agg``. Executed notebooks are
  stripped of papermill's wall-clock metadata and of the staging path, so they are identical run to run.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from analysis_lib.trial.config import ConfigError, Cut, load_cut, load_study, project_root

STEPS = ("validate", "derive", "execute", "render")
ENGINES = ("jupyter-book", "quarto")
CACHE_FILE = ".cache.json"
CACHE_VERSION = 1
#: Files and folders of the book definition (render-step inputs), relative to the project root;
#: the templates in ``analysis_lib/book/`` count too.
BOOK_PATHS = ("_quarto.yml",)  # the book definition; the book templates live in analysis_lib/pipeline/book/
#: Environment every chapter kernel gets, for reproducible hashing, plotting and no debugger noise.
KERNEL_ENV = {"PYTHONHASHSEED": "0", "MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
#: Folders the chapters write into (``tlf/``: TLF metadata for the renderer's lists of tables);
#: emptied when every chapter re-runs, so nothing stale survives a full re-execution.
CHAPTER_OUTPUT_DIRS = ("notebooks", "ard", "rtf", "figures", "tlf")

LIB_DIR = Path(__file__).resolve().parents[1]  # analysis_lib/
_KERNEL_SLOTS = threading.BoundedSemaphore(os.cpu_count() or 1)


class PipelineError(Exception):
    """A step failed for a reason the user can act on; the message is one readable paragraph."""


class LockHeld(PipelineError):
    """Another ``csr`` run holds the lock of this data cut."""


class ChapterFailed(PipelineError):
    """A chapter notebook raised; carries the chapter's name and the failing cell's error."""

    def __init__(self, chapter: str, message: str):
        self.chapter = chapter
        super().__init__(message)


# ----------------------------------------------------------------------------------------- hashing
def _files_under(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts
        )
    return []


def hash_paths(paths: Iterable[Path], base: Path | None = None) -> str:
    """SHA-256 over the relative names and bytes of all files in ``paths`` (files or folders, sorted)."""
    h = hashlib.sha256()
    files = sorted({f for p in paths for f in _files_under(Path(p))})
    for f in files:
        name = f.relative_to(base).as_posix() if base and f.is_relative_to(base) else f.name
        h.update(name.encode() + b"\0")
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")
    return h.hexdigest()


def hash_values(*parts: object) -> str:
    """SHA-256 of a canonical JSON of ``parts`` (keys of the combined step keys)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def chapter_notebooks(root: Path) -> list[Path]:
    """The chapter notebooks in report order: the ``.ipynb`` entries of ``book.chapters`` in
    ``_quarto.yml`` (the one book definition) when it lists any, else ``chapters/*.ipynb`` by name."""
    book = root / "_quarto.yml"
    listed: list = []
    if book.is_file():
        try:
            data = yaml.safe_load(book.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{book}: not valid YAML: {exc}") from None
        listed = [c for c in ((data.get("book") or {}).get("chapters") or []) if str(c).endswith(".ipynb")]
    if not listed:
        return sorted((root / "chapters").glob("*.ipynb"))
    paths = [root / c for c in listed]
    outside = [c for c, p in zip(listed, paths) if p.parent != root / "chapters"]
    if outside:
        raise ConfigError(f"{book}: book.chapters must be notebooks in chapters/, not {', '.join(outside)}")
    missing = [c for c, p in zip(listed, paths) if not p.is_file()]
    if missing:
        raise ConfigError(f"{book}: book.chapters lists notebook(s) that do not exist: {', '.join(missing)}")
    return paths


def runs_last(notebook: Path) -> bool:
    """True when the notebook's metadata says ``"csr": {"run_last": true}``: it reads the ARDs the other
    chapters of the same cut write (e.g. "changes since the previous cut"), so it runs after them."""
    try:
        meta = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        raise ConfigError(f"{notebook}: not a readable notebook (JSON)") from None
    return bool((meta.get("csr") or {}).get("run_last"))


def starts_first(notebook: Path) -> bool:
    """True when the notebook's metadata says ``"csr": {"start_first": true}``: a long chapter (the
    subject profiles) that should start before the short ones so the kernels stay busy to the end."""
    try:
        meta = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return False
    return bool((meta.get("csr") or {}).get("start_first"))


@dataclass(frozen=True)
class Inputs:
    """Content hashes of everything a run depends on, computed once per run."""

    data: str
    params: str
    lib: str
    lock: str
    chapters: dict[str, str]  # chapter stem -> notebook hash, in report order
    last: tuple[str, ...]  # chapters that run after the others (see runs_last)
    chapter_support: str  # chapters/ files other than notebooks (index.md, TLF catalogue, ...)
    book: str
    previous: str  # input data + params of the previous cut (the "changes since" chapter)
    runtime: str

    @classmethod
    def of(cls, cut: Cut, need_chapters: bool = True) -> Inputs:
        """Hash everything now; without ``need_chapters`` (validate/derive only) an unfinished book is fine."""
        root = cut.root
        if not cut.data_dir.is_dir():
            what = "the sponsor's ADaM datasets" if cut.sponsor_adam else "the cut's SDTM-like files"
            raise PipelineError(
                f"Input data folder {cut.data_dir} ({cut.input_key} in {cut.params_file}) does not exist; "
                + ("" if cut.sponsor_adam else "run `csr generate` or ")
                + f"point {cut.input_key} at {what}."
            )
        try:
            notebooks = chapter_notebooks(root)
        except ConfigError:
            if need_chapters:
                raise
            notebooks = []
        support = [p for p in _files_under(root / "chapters") if p.suffix != ".ipynb"]
        return cls(
            data=hash_paths([cut.data_dir], cut.data_dir),
            params=hash_paths([root / "params" / "study.yml", cut.params_file], root),
            lib=hash_paths(sorted(LIB_DIR.rglob("*.py")), LIB_DIR),
            lock=hash_paths([root / "requirements.lock"], root),
            chapters={nb.stem: hash_paths([nb], root) for nb in notebooks},
            last=tuple(nb.stem for nb in notebooks if runs_last(nb)),
            chapter_support=hash_paths(support, root),
            book=hash_paths([root / p for p in BOOK_PATHS] + [LIB_DIR / "pipeline" / "book"], root),
            previous=_previous_inputs_hash(cut),
            runtime=f"{sys.version.split()[0]} {sys.executable} render_tlfs={os.environ.get('CSR_RENDER_TLFS', '1')}",
        )

    def step_key(self, step: str) -> str:
        return hash_values(CACHE_VERSION, step, self.data, self.params, self.lib, self.lock, self.runtime)

    def chapter_key(self, chapter: str, adam: str) -> str:
        others = sorted((n, h) for n, h in self.chapters.items() if n not in self.last) if chapter in self.last else []
        return hash_values(
            CACHE_VERSION,
            "chapter",
            chapter,
            self.chapters[chapter],
            self.chapter_support,
            adam,
            self.params,
            self.lib,
            self.lock,
            self.previous,
            self.runtime,
            others,
        )

    def render_key(self, engine: str, chapter_keys: dict[str, str]) -> str:
        return hash_values(
            CACHE_VERSION,
            "render",
            engine,
            os.environ.get("CSR_PROFILES", "narrated"),  # csr render/report --profiles
            self.book,
            self.chapter_support,
            chapter_keys,
            self.params,
            self.lib,
            self.lock,
            self.runtime,
        )


def _previous_inputs_hash(cut: Cut) -> str:
    """Hash of the previous cut's input data and parameters: the "changes since the previous cut"
    chapter derives that cut in memory (``changes.derive_previous``) to compare with this one."""
    if not cut.previous:
        return ""
    prev = load_cut(cut.previous, cut.root)
    return hash_paths([prev.data_dir, prev.params_file], cut.root)


# ------------------------------------------------------------------------------------- progress
class Reporter:
    """Receives progress events; the CLI shows them with rich, tests and the benchmark ignore them."""

    def step(self, cut: str, step: str, status: str, seconds: float | None = None) -> None:
        """``status``: "running", "done", "cached" or "failed"."""

    def chapter(self, cut: str, chapter: str, status: str, seconds: float | None = None) -> None:
        """Same statuses, per chapter notebook."""

    def message(self, cut: str, text: str) -> None:
        """A one-line note (e.g. "nothing changed")."""


@dataclass
class RunResult:
    """What a run did: seconds per step ("cached" steps have 0), chapters run, where the outputs are."""

    cut: str
    output_dir: Path
    steps: dict[str, str] = field(default_factory=dict)  # step -> "done" | "cached"
    seconds: dict[str, float] = field(default_factory=dict)  # step -> wall seconds
    chapters: dict[str, str] = field(default_factory=dict)  # chapter -> "done" | "cached"
    chapter_seconds: dict[str, float] = field(default_factory=dict)  # chapters executed -> wall seconds
    total_seconds: float = 0.0

    @property
    def all_cached(self) -> bool:
        return all(s == "cached" for s in self.steps.values())


# ----------------------------------------------------------------------------- lock and staging
@contextlib.contextmanager
def cut_lock(cut: Cut) -> Iterator[Path]:
    """Hold ``_output/.<cut>.lock`` for the duration; raise :class:`LockHeld` if another run has it."""
    out = cut.root / "_output"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f".{cut.id}.lock"
    fh = path.open("a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            raise LockHeld(
                f"Another csr run is already building data cut '{cut.id}' (lock {path} held by "
                f"process {holder}). Wait for it to finish, or run a different cut."
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        yield path
    finally:
        fh.close()  # closing releases the flock


def _recover_interrupted_swap(cut: Cut) -> None:
    """If a previous run died between its two renames, put the set-aside outputs back."""
    final = cut.output_dir
    asides = sorted(final.parent.glob(f".old-{cut.id}-*"))
    if not final.exists() and asides:
        asides[-1].rename(final)
        asides = asides[:-1]
    for old in asides:
        remove_tree(old)
    for stale in final.parent.glob(f".staging-{cut.id}-*"):
        remove_tree(stale)


def _swap_in(staging: Path, final: Path) -> None:
    """Replace ``final`` by ``staging``: rename old aside, rename new in, delete old."""
    aside = None
    if final.exists():
        aside = final.with_name(f".old-{final.name}-{secrets.token_hex(4)}")
        final.rename(aside)
    staging.rename(final)
    if aside is not None:
        remove_tree(aside)  # a leftover is removed by the next run (_recover_interrupted_swap)


_CACHE_SHAPE: dict[str, type | tuple[type, ...]] = {
    "version": int,
    "validate": str,
    "derive": str,
    "adam": str,
    "chapters": dict,
    "render": str,
    "engine": str,
    "produced": list,
    "last_run": dict,
}


def read_cache(output_dir: Path, reporter: Reporter | None = None, cut_id: str = "") -> dict:
    """The step keys of the last good run; empty (everything re-runs) when absent, unreadable, of
    another version or of the wrong shape — the last two said in one sentence to ``reporter``."""
    path = output_dir / CACHE_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        data = None
    wrong = [k for k, t in _CACHE_SHAPE.items() if isinstance(data, dict) and k in data and not isinstance(data[k], t)]
    if (
        isinstance(data, dict)
        and isinstance(data.get("chapters"), dict)
        and not all(isinstance(v, str) for v in data["chapters"].values())
    ):
        wrong.append("chapters")
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION or wrong:
        if reporter is not None:
            reporter.message(
                cut_id,
                f"the cache file {path} is not one this version wrote"
                f"{' (wrong type of ' + ', '.join(wrong) + ')' if wrong else ''}; "
                "ignoring it, so every step runs",
            )
        return {}
    return data


def remove_tree(path: Path) -> str | None:
    """Delete ``path`` (a folder or file), making read-only folders writable first; ``None`` when it
    is gone, else one sentence saying what could not be removed and why."""

    def writable(func, target, _exc):
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(target), 0o700)
            os.chmod(target, 0o700)
        func(target)

    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, onerror=writable)
        elif path.exists() or path.is_symlink():
            path.unlink()
    except OSError as exc:
        return f"could not remove {path} ({exc.strerror or exc}); remove it by hand"
    return None


def _clear(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


# ----------------------------------------------------------------------------------- the steps
def validate_inputs(cut: Cut, reporter: Reporter | None = None) -> dict:
    """Read and validate the cut's inputs; return the domains read (so derive need not read them again).

    Warnings (text the PDF cannot set, in the data or the cut's label) go to ``reporter.message``,
    each naming its record; they do not stop the run."""
    from analysis_lib.toolkit import escape
    from analysis_lib.trial import validate

    reporter = reporter or Reporter()
    if cut.sponsor_adam:  # a sponsor's ADaM: checked against the ADaM contract instead of SDTM rules
        domains = read_sponsor_adam(cut)
    else:
        domains, problems = validate.read_and_validate(cut.data_dir, load_study(cut.root))
        if problems:
            raise PipelineError(f"Data cut '{cut.id}' ({cut.data_dir}): " + validate.format_problems(problems))
        for warning in validate.font_warnings(domains):
            reporter.message(cut.id, f"warning: {warning}")
    odd = escape.unsettable(cut.label)
    if odd:
        reporter.message(
            cut.id,
            f"warning: {cut.params_file.name}, key label: "
            f"{', '.join(escape.marker(c) for c in odd)} cannot be set in the PDF's fonts; "
            "the PDF shows the marker instead",
        )
    return domains


def read_sponsor_adam(cut: Cut) -> dict:
    """The sponsor's ADaM of a cut with ``adam_dir:``, checked against the ADaM contract for the TLFs
    produced at this cut and converted to derive's types; a :class:`PipelineError` names every
    missing dataset, missing or mistyped variable and the TLFs that need it (before any chapter runs)."""
    from analysis_lib.trial import adam_contract

    try:
        return adam_contract.read_sponsor_adam(cut.data_dir, off=[t for t, _ in cut.tlfs_off])
    except adam_contract.AdamContractError as exc:
        raise PipelineError(
            f"Data cut '{cut.id}' ({cut.input_key} {cut.data_dir}): "
            + adam_contract.format_problems(cut.data_dir, exc.problems)
        ) from None


def _run_derive(cut: Cut, build: Path, domains: dict | None) -> None:
    """The data cut applied, then the ADaM datasets and the cut log into ``build/adam``; from the domains
    validated in this run when there are any. For a sponsor's ADaM (``adam_dir:``) the checked and
    converted datasets are written as they are (no data cut, no derivation, no cut log)."""
    from analysis_lib.trial import derive, validate

    _clear(build / "adam")
    if cut.sponsor_adam:
        derive.write_datasets(domains if domains is not None else read_sponsor_adam(cut), build / "adam")
        return
    try:
        if domains is None:
            domains = validate_inputs(cut)
        datasets, log = derive.derive_at_cut(domains, load_study(cut.root), cut.cut_date)  # the data cut, then ADaM
        derive.write_datasets(derive.with_cut_log(datasets, log), build / "adam")
    except validate.ValidationFailed as exc:
        raise PipelineError(
            f"Data cut '{cut.id}' ({cut.data_dir}): " + validate.format_problems(exc.problems)
        ) from None


def kernel_manager_class(env: dict[str, str], cwd: Path | None = None):
    """A kernel manager that always starts this interpreter's ipykernel with ``env`` added.

    Why: a user-level ``python3`` kernelspec may point at another Python; the report must run in the
    project's environment. Instances are recorded so a failing run can stop the other kernels at once.
    """
    from ipykernel.kernelspec import RESOURCES
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpec

    spec = KernelSpec(
        argv=[
            sys.executable,
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
            "--IPKernelApp.log_level=ERROR",
        ],  # no start-up chatter on the console
        display_name="Python 3 (ipykernel)",
        language="python",
        resource_dir=RESOURCES,
    )

    class CsrKernelManager(AsyncKernelManager):
        instances: ClassVar[list[Any]] = []
        #: thread id -> the file that kernel's stderr goes to (silent on success; see kernel_log)
        stderr_files: ClassVar[dict[int, Any]] = {}

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self._kernel_spec = spec
            CsrKernelManager.instances.append(self)

        @property
        def kernel_spec(self):
            return spec

        async def _async_pre_start_kernel(self, **kw):
            kw["env"] = {**os.environ, **kw.get("env", {}), **env}
            # the kernel's own log (e.g. "KeyboardInterrupt caught in kernel" at shutdown) is not the
            # user's business on success; on failure it follows the chapter's real error
            log = tempfile.TemporaryFile(prefix="csr-kernel-")  # noqa: SIM115 (closed by kernel_log)
            CsrKernelManager.stderr_files[threading.get_ident()] = log
            kw["stderr"] = log
            if cwd is not None:  # per kernel, not papermill's process-wide chdir (unsafe across threads)
                kw["cwd"] = str(cwd)
            return await super()._async_pre_start_kernel(**kw)

    return CsrKernelManager


def kernel_log(km_class, keep: bool) -> str:
    """Close this thread's kernel stderr file; its last lines when ``keep`` (a failure), else ""."""
    log = km_class.stderr_files.pop(threading.get_ident(), None)
    if log is None:
        return ""
    try:
        log.seek(0)
        lines = log.read().decode("utf-8", "replace").strip().splitlines() if keep else []
    finally:
        log.close()
    return "\n".join(lines[-8:])


def _kill_kernels(km_class) -> None:
    for km in list(km_class.instances):
        with contextlib.suppress(Exception):
            km.provisioner.process.kill()


_VOLATILE_META = ("start_time", "end_time", "duration")


def _has_cell_ids(notebook: Path) -> bool:
    """True when every cell of the source notebook has an id (nbformat >= 4.5)."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return False
    return all("id" in c for c in cells)


def _sanitise_notebook(
    path: Path, staging: Path, final: Path, root: Path | None = None, source_ids: bool = True
) -> None:
    """Drop papermill's timestamps and random cell ids, and put the output folder relative to the project
    (``_output/<cut>``) for the staging path.

    Why: executed notebooks are outputs and must be identical run to run and wherever the project lives
    (docs/design.md §2); a source notebook without cell ids (nbformat 4.4) gets random ones when
    upgraded, so its cells are numbered instead.
    """
    import nbformat

    shown = final.relative_to(root).as_posix() if root is not None and final.is_relative_to(root) else str(final)
    text = path.read_text(encoding="utf-8").replace(str(staging), shown).replace(str(final), shown)
    nb = nbformat.reads(text, as_version=4)
    if not source_ids:
        for i, cell in enumerate(nb.cells):
            cell.id = f"cell-{i}"
    pm = nb.metadata.get("papermill", {})
    for key in _VOLATILE_META:
        pm.pop(key, None)
    pm.pop("input_path", None)
    pm.pop("output_path", None)
    for cell in nb.cells:
        cell.metadata.get("papermill", {}).update(dict.fromkeys(_VOLATILE_META))
        cell.metadata.pop("execution", None)
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.id = "injected-parameters"  # papermill gives it a random id
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")


def _error_text(exc: BaseException) -> str:
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:
        cell = getattr(exc, "exec_count", None)
        where = f"cell [{cell}]" if cell is not None else f"cell #{getattr(exc, 'cell_index', '?')}"
        return f"{where} raised {ename}: {evalue}"
    return f"{type(exc).__name__}: {exc}"


def execute_chapters(
    cut: Cut,
    build: Path,
    names: list[str],
    *,
    final_dir: Path | None = None,
    jobs: int | None = None,
    reporter: Reporter | None = None,
) -> dict[str, float]:
    """Run ``chapters/<name>.ipynb`` with papermill into ``build/notebooks/`` concurrently.

    Each notebook gets ``cut`` and ``output_dir=build``; stops at the first failure (other kernels are
    killed) and raises :class:`ChapterFailed` naming the chapter and the failing cell's error.
    Returns seconds per chapter. ``jobs=1`` runs them one after the other (the benchmark baseline).
    """
    import papermill

    reporter = reporter or Reporter()
    final_dir = final_dir or cut.output_dir
    (build / "notebooks").mkdir(parents=True, exist_ok=True)
    for sub in CHAPTER_OUTPUT_DIRS:
        (build / sub).mkdir(parents=True, exist_ok=True)
    km_class = kernel_manager_class({**KERNEL_ENV, "CSR_ROOT": str(cut.root)}, cwd=cut.root / "chapters")
    stop = threading.Event()
    seconds: dict[str, float] = {}

    def run_one(name: str) -> None:
        with _KERNEL_SLOTS:
            if stop.is_set():
                return
            reporter.chapter(cut.id, name, "running")
            t0 = time.perf_counter()
            out = build / "notebooks" / f"{name}.ipynb"
            try:
                papermill.execute_notebook(
                    str(cut.root / "chapters" / f"{name}.ipynb"),
                    str(out),
                    parameters={"cut": cut.id, "output_dir": str(build)},
                    kernel_name="python3",
                    kernel_manager_class=km_class,
                    progress_bar=False,
                    log_output=False,
                    report_mode=False,
                )
            except BaseException as exc:
                log = kernel_log(km_class, keep=True)
                if stop.is_set():  # killed because another chapter failed first
                    return
                stop.set()
                reporter.chapter(cut.id, name, "failed", time.perf_counter() - t0)
                tail = f"\nKernel log (after the error above):\n{log}" if log else ""
                raise ChapterFailed(
                    name,
                    f"Chapter {name} failed for data cut '{cut.id}': {_error_text(exc)}. "
                    f"The previous outputs in {final_dir} are unchanged.{tail}",
                ) from None
            kernel_log(km_class, keep=False)
            _sanitise_notebook(out, build, final_dir, cut.root, _has_cell_ids(cut.root / "chapters" / f"{name}.ipynb"))
            seconds[name] = time.perf_counter() - t0
            reporter.chapter(cut.id, name, "done", seconds[name])

    workers = max(1, min(len(names), jobs or os.cpu_count() or 1))
    if workers > 1:  # long chapters first (stable: report order otherwise)
        names = sorted(names, key=lambda n: not starts_first(cut.root / "chapters" / f"{n}.ipynb"))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"csr-{cut.id}")
    futures = [pool.submit(run_one, n) for n in names]
    try:
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for f in futures:
            exc = f.exception() if f.done() else None
            if exc is not None:
                raise exc
    except BaseException:
        stop.set()
        for f in futures:
            f.cancel()
        _kill_kernels(km_class)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return seconds


def _run_render(cut: Cut, build: Path, engine: str, seconds: dict[str, float], t0: float) -> dict:
    """Render the book, then (re)write the manifest with the seconds of every step of this run."""
    from analysis_lib.pipeline import render

    _clear(build / "html")
    for old in [*build.glob("csr-*.pdf"), *build.glob("tlfs-*.rtf")]:  # the PDF and the TLF volume
        old.unlink()
    produced = dict(render.render_cut(cut, build, engine=engine) or {})
    timings = {s: round(seconds.get(s, 0.0), 3) for s in STEPS[:3]}
    timings["render"] = round(time.perf_counter() - t0, 3)
    produced["manifest"] = render.write_manifest(cut, build, engine, timings)
    return produced


# ------------------------------------------------------------------------------------ the runner
def run(
    cut_id: str,
    *,
    until: str = "render",
    engine: str = "jupyter-book",
    force: bool = False,
    root: Path | None = None,
    reporter: Reporter | None = None,
    jobs: int | None = None,
) -> RunResult:
    """Bring ``_output/<cut_id>/`` up to date through step ``until`` (one of :data:`STEPS`).

    Steps before ``until`` run first when their inputs changed; steps and chapters whose keys match the
    last good run are skipped (all of them with ``force=True`` re-run). Raises :class:`PipelineError`
    (or :class:`ConfigError`) with a readable message; the previous outputs are then untouched.
    """
    if until not in STEPS:
        raise ValueError(f"until must be one of {STEPS}, not {until!r}")
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine '{engine}' (choose from {', '.join(ENGINES)})")
    t_start = time.perf_counter()
    reporter = reporter or Reporter()
    cut = load_cut(cut_id, root or project_root())
    load_study(cut.root)  # both parameter files are checked against their schema before anything runs
    wanted = STEPS[: STEPS.index(until) + 1]
    result = RunResult(cut.id, cut.output_dir)

    with cut_lock(cut):
        _recover_interrupted_swap(cut)
        final = cut.output_dir
        old = {} if force else read_cache(final, reporter, cut.id)
        if old:
            old = _invalidate_damaged(old, final, cut.id, reporter)
        inputs = Inputs.of(cut, need_chapters="execute" in wanted)
        names = list(inputs.chapters)
        if "execute" in wanted and not names:
            raise PipelineError(f"No chapter notebooks found in {cut.root / 'chapters'}.")

        keys = {s: inputs.step_key(s) for s in ("validate", "derive")}
        stale, chapter_keys = _plan(old, inputs, keys, final, names, wanted, engine)

        if not stale:
            for s in wanted:
                result.steps[s], result.seconds[s] = "cached", 0.0
                reporter.step(cut.id, s, "cached", 0.0)
            result.chapters = dict.fromkeys(names, "cached") if "execute" in wanted else {}
            result.total_seconds = time.perf_counter() - t_start
            reporter.message(cut.id, f"nothing changed; {final} left as it is")
            return result

        _check_writable(final)
        staging = final.parent / f".staging-{cut.id}-{secrets.token_hex(4)}"
        try:
            if final.exists():
                shutil.copytree(final, staging, symlinks=True)
                _make_writable(staging)  # a read-only copy could be neither built in nor removed
            else:
                staging.mkdir(parents=True)
            cache = {k: v for k, v in old.items() if k not in ("version",)}
            cache.update(version=CACHE_VERSION)
            domains = None
            for step in wanted:
                if step not in stale:
                    result.steps[step], result.seconds[step] = "cached", 0.0
                    reporter.step(cut.id, step, "cached", 0.0)
                    continue
                reporter.step(cut.id, step, "running")
                t0 = time.perf_counter()
                try:
                    if step == "validate":
                        domains = validate_inputs(cut, reporter)
                        cache["validate"] = keys["validate"]
                    elif step == "derive":
                        _run_derive(cut, staging, domains)
                        cache["derive"] = keys["derive"]
                        cache["adam"] = hash_paths([staging / "adam"], staging / "adam")
                        chapter_keys = {n: inputs.chapter_key(n, cache["adam"]) for n in names}
                        # the ADaM changed: chapters must be judged against it afresh
                        cache["chapters"] = {
                            n: k for n, k in cache.get("chapters", {}).items() if k == chapter_keys.get(n)
                        }
                    elif step == "execute":
                        old_ch = cache.get("chapters", {})
                        todo = [
                            n
                            for n in names
                            if force
                            or old_ch.get(n) != chapter_keys[n]
                            or not (staging / "notebooks" / f"{n}.ipynb").is_file()
                        ]
                        if len(todo) == len(names):
                            for sub in CHAPTER_OUTPUT_DIRS:
                                _clear(staging / sub)
                        for nb in (staging / "notebooks").glob("*.ipynb"):
                            if nb.stem not in names:
                                nb.unlink()
                        for n in names:
                            if n not in todo:
                                result.chapters[n] = "cached"
                                reporter.chapter(cut.id, n, "cached", 0.0)
                        # chapters flagged run_last read the others' ARDs (their keys include the others')
                        for batch in ([n for n in todo if n not in inputs.last], [n for n in todo if n in inputs.last]):
                            if batch:
                                result.chapter_seconds.update(
                                    execute_chapters(cut, staging, batch, final_dir=final, jobs=jobs, reporter=reporter)
                                )
                        result.chapters.update(dict.fromkeys(todo, "done"))
                        cache["chapters"] = dict(chapter_keys)
                    elif step == "render":
                        produced = _run_render(cut, staging, engine, result.seconds, t0)
                        cache["render"] = inputs.render_key(engine, chapter_keys)
                        cache["engine"] = engine
                        cache["produced"] = sorted(_relative_outputs(produced, staging, final))
                except PipelineError:
                    reporter.step(cut.id, step, "failed", time.perf_counter() - t0)
                    raise
                except Exception as exc:
                    reporter.step(cut.id, step, "failed", time.perf_counter() - t0)
                    raise PipelineError(
                        f"Step '{step}' failed for data cut '{cut.id}': {type(exc).__name__}: "
                        f"{exc}. The previous outputs in {final} are unchanged."
                    ) from exc
                result.steps[step] = "done"
                result.seconds[step] = time.perf_counter() - t0
                reporter.step(cut.id, step, "done", result.seconds[step])
            cache["last_run"] = {s: round(v, 3) for s, v in result.seconds.items()}
            _mark_stale(cut, staging, result, wanted, reporter)
            (staging / CACHE_FILE).write_text(json.dumps(cache, indent=1, sort_keys=True) + "\n")
            _swap_in(staging, final)
        except BaseException as exc:
            left = remove_tree(staging)
            if left and isinstance(exc, PipelineError):
                raise type(exc)(f"{exc} Also: {left}.") from None
            if left:
                reporter.message(cut.id, left)
            raise
    result.total_seconds = time.perf_counter() - t_start
    return result


def _check_writable(final: Path) -> None:
    """Refuse at once (before copying anything) when the outputs cannot be replaced."""
    for folder in (final.parent, final):
        if folder.exists() and not os.access(folder, os.W_OK | os.X_OK):
            raise PipelineError(
                f"{folder} is not writable, so the outputs cannot be replaced; make it writable "
                f"(chmod -R u+w {folder}) or remove it. Nothing was written."
            )


def _make_writable(tree: Path) -> None:
    """Give the owner write permission on every folder and file of ``tree`` (a copied read-only output)."""
    for path in [tree, *tree.rglob("*")]:
        if not path.is_symlink():
            mode = path.stat().st_mode
            if not mode & 0o200:
                os.chmod(path, mode | 0o200 | (0o100 if path.is_dir() else 0))


def _owner(rel: str, tlf_chapters: dict[str, str]) -> tuple[str, str | None]:
    """Which step (and chapter) writes the output file ``rel`` (a path relative to the cut's folder)."""
    top = rel.split("/", 1)[0]
    if top == "adam":
        return "derive", None
    if top == "notebooks":
        return "execute", Path(rel).stem
    if top in CHAPTER_OUTPUT_DIRS:
        return "execute", tlf_chapters.get(rel)  # None: not known, every chapter re-runs
    return "render", None


def _tlf_chapters(final: Path) -> dict[str, str]:
    """``{output file: chapter}`` from the TLF metadata the chapters wrote (``tlf/<id>.json``)."""
    out: dict[str, str] = {}
    for meta_file in sorted((final / "tlf").glob("*.json")):
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            chapter = str(meta["chapter"])
            files = [str(f) for f in (meta.get("files") or {}).values()]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        for rel in [f"tlf/{meta_file.name}", *files]:
            out[rel] = chapter
    return out


def _invalidate_damaged(old: dict, final: Path, cut_id: str, reporter: Reporter) -> dict:
    """Outputs missing or edited since the last good run (against the manifest's sha256 of every
    deliverable): drop the cache entries of the steps (chapters) that write them, so they are rebuilt,
    and say which. After a partial step (``STALE.txt``) the manifest is known to be behind: the step
    keys decide alone."""
    from analysis_lib.pipeline import provenance

    if (final / provenance.STALE_MARKER).is_file():
        return old
    try:
        recorded = json.loads((final / provenance.MANIFEST).read_text(encoding="utf-8")).get("outputs")
    except (OSError, ValueError, AttributeError):
        recorded = None
    if not isinstance(recorded, dict):
        return old
    damaged = [(p, what) for p, what in provenance.compare(final, recorded) if what != "not in the manifest"]
    if not damaged:
        return old
    old = {**old, "chapters": dict(old.get("chapters", {}))}
    owners = _tlf_chapters(final)
    for rel, _ in damaged:
        step, chapter = _owner(rel, owners)
        if step == "execute" and chapter is None:
            old["chapters"] = {}
        elif step == "execute":
            old["chapters"].pop(chapter, None)
        old.pop(step, None)  # derive -> everything after it; render -> the book again
    shown = ", ".join(f"{p} ({what})" for p, what in damaged[:8]) + (" ..." if len(damaged) > 8 else "")
    reporter.message(cut_id, f"{len(damaged)} output(s) missing or edited since the last run: {shown}; rebuilding them")
    return old


def _mark_stale(cut: Cut, staging: Path, result: RunResult, wanted: tuple[str, ...], reporter: Reporter) -> None:
    """A partial step (``csr derive`` / ``csr execute``) after a report changes what the book, PDF, RTFs,
    ARDs and manifest were made from: put ``STALE.txt`` beside them until ``csr report`` runs again."""
    from analysis_lib.pipeline import provenance

    marker = staging / provenance.STALE_MARKER
    if "render" in wanted:
        marker.unlink(missing_ok=True)
        return
    ran = [s for s in ("derive", "execute") if result.steps.get(s) == "done"]
    if ran and (staging / provenance.MANIFEST).is_file():
        text = (
            f"csr {' and '.join(ran)} re-ran after the report: the HTML book, PDF, RTF package, ARDs and "
            f"manifest.json in this folder are stale until `csr report --cut {cut.id}` runs again.\n"
        )
        marker.write_text(text, encoding="utf-8")
        reporter.message(cut.id, text.strip())


def _plan(
    old: dict, inputs: Inputs, keys: dict[str, str], final: Path, names: list[str], wanted: tuple[str, ...], engine: str
) -> tuple[set[str], dict[str, str]]:
    """Which of the ``wanted`` steps must run (their keys differ or their outputs are missing)."""
    stale = {s for s in ("validate", "derive") if old.get(s) != keys[s]}
    if not ((final / "adam").is_dir() and any((final / "adam").iterdir())):
        stale.add("derive")
    if "derive" in stale:
        return (stale | {"execute", "render"}) & set(wanted), {}
    chapter_keys = {n: inputs.chapter_key(n, old["adam"]) for n in names}
    old_ch = old.get("chapters", {})
    if "execute" in wanted and (
        set(old_ch) != set(names)
        or any(old_ch[n] != chapter_keys[n] or not (final / "notebooks" / f"{n}.ipynb").is_file() for n in names)
    ):
        stale.add("execute")
    if "render" in wanted and (
        old.get("render") != inputs.render_key(engine, chapter_keys)
        or "execute" in stale
        or not all((final / p).exists() for p in old.get("produced", []))
    ):
        stale.add("render")
    return stale & set(wanted), chapter_keys


def _relative_outputs(produced: dict, staging: Path, final: Path) -> list[str]:
    """Paths returned by render, relative to the build folder (to check they still exist next time)."""
    out = []
    for value in produced.values():
        for p in value if isinstance(value, (list, tuple)) else [value]:
            p = Path(p)
            for base in (staging, final):
                if p.is_absolute() and p.is_relative_to(base):
                    out.append(p.relative_to(base).as_posix())
                    break
            else:
                if not p.is_absolute():
                    out.append(p.as_posix())
    return out


def run_many(
    cut_ids: list[str],
    *,
    until: str = "render",
    engine: str = "jupyter-book",
    force: bool = False,
    root: Path | None = None,
    reporter: Reporter | None = None,
    jobs: int | None = None,
) -> tuple[list[RunResult], dict[str, BaseException]]:
    """Run several cuts side by side (at most ``os.cpu_count()`` at once; kernels are shared, so at most
    ``os.cpu_count()`` chapters run in all). Cuts are independent: each chapter reads only its own
    cut's outputs (the "changes" chapter derives the previous cut in memory). Returns results and
    errors per cut; one cut failing does not stop the others.
    """
    root = root or project_root()
    results: list[RunResult] = []
    errors: dict[str, BaseException] = {}

    def one(c: str) -> None:
        try:
            results.append(run(c, until=until, engine=engine, force=force, root=root, reporter=reporter, jobs=jobs))
        except (PipelineError, ConfigError) as exc:
            errors[c] = exc

    workers = max(1, min(len(cut_ids), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="csr-cut") as pool:
        for f in [pool.submit(one, c) for c in cut_ids]:
            f.result()
    order = {c: i for i, c in enumerate(cut_ids)}
    results.sort(key=lambda r: order[r.cut])
    return results, errors
