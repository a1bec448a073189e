"""Lint (and fix) a list of files: reading, the engine, writing. No click, no printing."""
from __future__ import annotations

import gc
import os
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Optional, Sequence

from sqlalint.cache import LazyIndex
from sqlalint.config import Settings
from sqlalint.diagnostics import Diagnostic, InternalError, parse_error
from sqlalint.files import SourceError, SourceFile, WriteError, decode, module_name, read_source, write_atomic

# The engine (libcst, the rules) is imported only when a file is actually linted: a fully
# cached run never pays for it.
if TYPE_CHECKING:
    from sqlalint.cache import ResultCache
    from sqlalint.index import ProjectIndex


class Mode(Enum):
    CHECK = "check"
    FIX = "fix"  # write the fixed files
    DIFF = "diff"  # compute the fixed text, write nothing


@dataclass
class FileReport:
    path: str  # as displayed
    diagnostics: list[Diagnostic] = field(default_factory=list)
    errors: list[InternalError] = field(default_factory=list)
    text: Optional[str] = None  # the text the diagnostics refer to
    fixed: int = 0  # fixes applied
    diff: str = ""  # unified diff of the fixes (DIFF mode), or of what was written (FIX mode)
    fixed_text: Optional[str] = None
    fixed_bytes: Optional[bytes] = None  # fixed_text in the file's encoding (stdin --fix)
    messages: list[str] = field(default_factory=list)  # fixes rejected, write failures


def display_path(path: Path) -> str:
    text = str(path)
    if not os.path.isabs(text) and ".." not in text:
        return text  # already what relpath gives (discovery's paths are normalised)
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if relative.startswith("..") else relative


def process_source(source: SourceFile | None, display: str, settings: Settings, mode: Mode, unsafe: bool,
                   index: Optional["ProjectIndex"], path: Optional[Path] = None) -> FileReport:
    """Lint or fix one decoded file. ``source.path`` is only used for writing; ``path`` names
    the module (for relative imports)."""
    report = FileReport(display)
    # Most files cannot match: decide that before importing the engine, the rules and
    # libcst (0.2 s), so a pre-commit run over files that cannot matter starts fast. (The
    # prefilter's regexes are compiled here, not at start-up: a cached run never needs them.)
    from sqlalint import prefilter

    codes = sorted(settings.selected(prefilter.TRIGGERS, display))
    found = prefilter.passing(source.raw, codes, settings, index) if source is not None else []
    if source is None or not found:
        return report
    from sqlalint.engine import fix_source, lint_source, selected_rules

    report.text = source.text
    module = module_name(path, settings.root) if path is not None else ("", False)
    if mode is Mode.CHECK:
        rules = [rule for rule in selected_rules(settings, display) if rule.code in found]
        result = lint_source(source.text, display, settings, index, module[0], module[1], rules,
                             screened=True, prune=True)
        report.diagnostics, report.errors = result.diagnostics, result.errors
        return report
    outcome = fix_source(source.text, display, settings, unsafe=unsafe, index=index,
                         module_name=module[0], is_package=module[1])
    report.diagnostics, report.errors = outcome.result.diagnostics, outcome.result.errors
    report.messages.extend(outcome.rejected)
    if outcome.applied and outcome.source != source.text:
        report.fixed = outcome.applied
        report.fixed_text = outcome.source
        report.text = outcome.source
        report.diff = unified_diff(source.text, outcome.source, display)
    return report


def process_file(path: Path, settings: Settings, mode: Mode, unsafe: bool,
                 index: Optional["ProjectIndex"] = None) -> FileReport:
    display = display_path(path)
    try:
        source = read_source(path)
    except SourceError as error:
        return FileReport(display, [parse_error(display, error.line, error.column, str(error))])
    report = process_source(source, display, settings, mode, unsafe, index, path)
    if mode is Mode.FIX and report.fixed_text is not None:
        try:
            write_atomic(source, report.fixed_text)
        except WriteError as error:
            report.messages.append(f"{display}: {error}")
            report.fixed = 0
            report.diff = ""
            report.fixed_text = None
            report.text = source.text
            # What is on disk is the original: report what it holds.
            from sqlalint.engine import lint_source

            result = lint_source(source.text, display, settings, index, *module_name(path, settings.root))
            report.diagnostics, report.errors = result.diagnostics, result.errors
    return report


def process_stdin(raw: bytes, display: str, settings: Settings, mode: Mode, unsafe: bool,
                  index: Optional["ProjectIndex"] = None) -> FileReport:
    try:
        source = decode(raw, Path(display))
    except SourceError as error:
        return FileReport(display, [parse_error(display, error.line, error.column, str(error))])
    report = process_source(source, display, settings, mode, unsafe, index, Path(display))
    if report.fixed_text is not None:
        report.fixed_bytes = source.encode(report.fixed_text)
    return report


# Below this many files to lint (after cache hits), one process: forking costs more.
POOL_MIN_FILES = 32


def run(files: Sequence[Path], settings: Settings, mode: Mode = Mode.CHECK, unsafe: bool = False,
        index: Optional["ProjectIndex"] = None, cache: Optional["ResultCache"] = None,
        jobs: Optional[int] = None, on_file_done: Optional[Callable[[FileReport], None]] = None
        ) -> list[FileReport]:
    """Lint or fix ``files``; reports in the order of ``files``. ``cache`` serves and stores
    CHECK results only; ``jobs`` processes (default: the CPUs) share a large run.
    ``on_file_done`` (a progress bar) is called once per file, as each is done."""
    if cache is not None and mode is not Mode.CHECK:
        cache = None
    jobs = jobs or os.cpu_count() or 1
    import_engine_meanwhile(index, len(files), jobs)
    reports: list[Optional[FileReport]] = [None] * len(files)
    tokens: dict[int, tuple[str, str, str]] = {}
    if cache is not None:
        cache.prune()
        for position, path in enumerate(files):
            hit, token = _cached(cache, path, settings)
            if hit is not None:
                reports[position] = hit
                if on_file_done is not None:
                    on_file_done(hit)
            elif token is not None:
                tokens[position] = token
    pending = [position for position, report in enumerate(reports) if report is None]
    todo = [files[position] for position in pending]
    pooled = jobs > 1 and len(todo) >= POOL_MIN_FILES
    if pooled and isinstance(index, LazyIndex):
        index = index.resolve()  # once, before forking, not once per worker
    if len(pending) >= POOL_MIN_FILES:
        # What exists now (the project index, the modules) lives until the end: the cyclic
        # collector need not walk it again after every parse, here or in forked workers.
        gc.freeze()
    if pooled:
        done = _in_pool(todo, settings, mode, unsafe, index, jobs)
    else:
        done = (process_file(path, settings, mode, unsafe, index) for path in todo)
    # Each report as it arrives: its result is stored while the workers go on. (``done``
    # first: zip exhausts it, which shuts the pool down, before it finds ``pending`` done.)
    for report, position in zip(done, pending):
        reports[position] = report
        if on_file_done is not None:
            on_file_done(report)
        if cache is not None and position in tokens and not report.errors and not report.messages:
            from sqlalint.cache import encode_report

            analysed = report.text is not None
            cache.store(tokens[position], encode_report(report.diagnostics, analysed), analysed)
    if cache is not None:
        cache.save()
    return reports  # type: ignore[return-value]


def _cached(cache: "ResultCache", path: Path, settings: Settings
            ) -> tuple[Optional[FileReport], Optional[tuple[str, str, str]]]:
    """The cached report of ``path`` and the token to store its result under; (None,
    token) on a miss, (None, None) when the file cannot be read (process_file reports why)."""
    display = display_path(path)
    entry, token = cache.lookup(path, display, settings.root)
    if entry is None:
        return None, token
    from sqlalint.cache import decode_diagnostics

    report = FileReport(display, decode_diagnostics(entry))
    if entry.get("text") and any(d.fix is not None for d in report.diagnostics):
        # The text only places fixes (json, sarif): not read for files without one.
        try:
            report.text = read_source(path).text
        except SourceError:
            return None, token
    return report, token


def import_engine_meanwhile(index: object, files: int, jobs: Optional[int]) -> None:
    """If ``files`` are enough for a pool and ``index`` is lazy: should its pool build it
    (for this run, or for the result cache's keys), this process imports the engine
    (libcst, the rules: 0.3 s) meanwhile, and the lint workers forked later inherit it
    instead of each importing it."""
    if (jobs or os.cpu_count() or 1) > 1 and files >= POOL_MIN_FILES and isinstance(index, LazyIndex):
        index.meanwhile = _import_engine


def _import_engine() -> None:
    import sqlalint.engine  # noqa: F401


_POOL_ARGS: tuple = ()
# A file's analysis leaves its trees in reference cycles (scopes and their bindings, a
# pruned file's definitions and their parents). The cyclic collector, run while the next
# trees are built, walks them again and again: about a tenth of a worker's time. A worker
# runs without it and collects only when this many objects are left over; what is left at
# the end is never collected (a forked worker exits with os._exit).
GARBAGE_LIMIT = 300_000


def _pool_init(*args: object) -> None:
    global _POOL_ARGS
    _POOL_ARGS = args
    gc.disable()


def _pool_work(path: Path) -> FileReport:
    report = process_file(path, *_POOL_ARGS)
    if gc.get_count()[0] > GARBAGE_LIMIT:
        gc.collect()
    return report


def _in_pool(files: Sequence[Path], settings: Settings, mode: Mode, unsafe: bool,
             index: Optional["ProjectIndex"], jobs: int) -> Iterator[FileReport]:
    """The report of each of ``files``, in order, as each is ready."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    context = multiprocessing.get_context(method)
    workers = min(jobs, len(files))
    chunk = max(1, min(16, len(files) // (workers * 8)))
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_pool_init,
                             initargs=(settings, mode, unsafe, index)) as pool:
        yield from pool.map(_pool_work, files, chunksize=chunk)


def unified_diff(before: str, after: str, path: str) -> str:
    import difflib

    lines = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                 fromfile=f"a/{path}", tofile=f"b/{path}")
    text = ""
    for line in lines:
        text += line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n"
    return text
