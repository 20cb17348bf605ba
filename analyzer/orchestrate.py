"""Analyse many artifacts: discover them, run them in worker processes, gate the reports.

Processes, not threads: shape inference is pure Python and holds the GIL. Results keep the
discovery order whatever order workers finish in. An artifact that fails becomes an error
entry; one that kills its worker (a crash in a native reader) is retried alone in a fresh
process, so it cannot take the others down with it.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Mapping, Optional, Sequence, TextIO

from .audit import BAD_ARGUMENTS, INTERNAL, UNREADABLE, ArtifactError, ArtifactResult, Audit
from .budget import Gate, evaluate
from .discover import discover
from .errors import BadArguments, MemscanError, typed_first_line
from .progress import Progress


def default_jobs() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def run_audit(paths: Sequence[str], analyse_kwargs: Mapping[str, Any], gate: Gate = Gate(),
              jobs: Optional[int] = None, exclude: Sequence[str] = (),
              progress_stream: Optional[TextIO] = None, isolate: Optional[bool] = None,
              time_limit: Optional[int] = None, per_path: Optional[Any] = None,
              runner: Optional[Runner] = None) -> Audit:
    """Discover, analyse (in ``jobs`` processes) and gate every artifact under ``paths``.

    ``isolate`` (None: isolate.isolate_by_default) reads each artifact in a child process
    limited to ``time_limit`` CPU seconds (analyzer/isolate.py). ``per_path`` (a
    config.PerPath) adjusts the analysis options of the artifacts its globs match.
    ``runner`` maps ``analyse_one`` over the artifacts elsewhere (a Dask cluster:
    analyzer/distributed.py) instead of the local processes; ``jobs`` is then unused."""
    from .isolate import isolate_by_default, preload

    found = discover(paths, exclude)
    kwargs: dict[str, Any] = dict(analyse_kwargs)
    if isolate if isolate is not None else isolate_by_default(len(found.artifacts)):
        kwargs[ISOLATE] = time_limit
        if runner is None:  # children (and --jobs workers) fork with the readers loaded
            preload(found.artifacts)
    each = [per_path.options(p, kwargs) if per_path else kwargs for p in found.artifacts]
    jobs = min(jobs or default_jobs(), max(1, len(found.artifacts)))
    progress = Progress(len(found.artifacts), progress_stream)
    try:
        if runner is not None:
            results = runner(found.artifacts, each, progress)
        elif jobs == 1:
            results = []
            for path, options in zip(found.artifacts, each):
                results.append(analyse_one(path, options))
                progress.advance(path)
        else:
            results = _parallel(found.artifacts, each, jobs, progress)
    finally:
        progress.close()
    for r in results:
        if r.report is not None and gate.active:
            r.gate = evaluate(r.report, gate)
    return Audit(results=results, skipped=found.skipped, single=found.single, gate=gate)


#: Key of analyse_one's kwargs that asks for isolation (its value: the CPU limit or None).
ISOLATE = "__isolate__"
#: Key of analyse_one's kwargs naming the folder relative paths are relative to (the
#: client's working folder, on a Dask worker); the isolated child changes into it.
CWD = "__cwd__"
#: What run_audit's ``runner`` is: (artifacts, analyse_one kwargs of each, progress) ->
#: the ArtifactResult of each, in the artifacts' order.
Runner = Callable[[Sequence[str], Sequence[Mapping[str, Any]], Progress], list[ArtifactResult]]


def analyse_one(path: str, kwargs: Mapping[str, Any]) -> ArtifactResult:
    """One artifact, never raising: a report, or the one-line error naming the file."""
    try:
        return ArtifactResult(path, report=_analyse(path, kwargs))
    except BadArguments as exc:
        return ArtifactResult(path, error=ArtifactError(BAD_ARGUMENTS, _named(exc, path)))
    except MemscanError as exc:
        return ArtifactResult(path, error=ArtifactError(UNREADABLE, _named(exc, path)))
    except Exception as exc:  # a bug or a file we did not foresee: still one line
        if os.environ.get("MEMSCAN_DEBUG"):
            raise
        return ArtifactResult(path, error=ArtifactError(
            INTERNAL, f"{path}: could not be analysed ({typed_first_line(exc)}); rerun "
                      "with MEMSCAN_DEBUG=1 for details"))


def _analyse(path: str, kwargs: Mapping[str, Any]):
    """The Report, in this process or (ISOLATE given) in a limited child process."""
    options = {k: v for k, v in kwargs.items() if k not in (ISOLATE, CWD)}
    if ISOLATE not in kwargs:
        from .analysis import analyse

        return analyse(path, **options)
    from .isolate import analyse_isolated, limits

    result = analyse_isolated(path, options=options, cwd=kwargs.get(CWD),
                              **limits(kwargs[ISOLATE]))
    if isinstance(result, MemscanError):
        raise result
    return result


def _named(exc: MemscanError, path: str) -> str:
    """The error's line, naming the file even when the raiser did not (argument errors)."""
    return str(exc) if exc.path else f"{path}: {exc}"


def _parallel(paths: Sequence[str], kwargs: Sequence[Mapping[str, Any]], jobs: int,
              progress: Progress) -> list[ArtifactResult]:
    results: list[Optional[ArtifactResult]] = [None] * len(paths)
    crashed = _pool(list(range(len(paths))), paths, kwargs, jobs, results, progress)
    for i in crashed:  # alone this time: whichever artifact kills its process is named
        if _pool([i], paths, kwargs, 1, results, progress):
            results[i] = ArtifactResult(paths[i], error=ArtifactError(
                INTERNAL, f"{paths[i]}: the process analysing it died (a crash in a native "
                          "reader or out of memory)"))
            progress.advance(paths[i])
    return [r for r in results if r is not None]


def _pool(indices: list[int], paths: Sequence[str], kwargs: Sequence[Mapping[str, Any]],
          jobs: int,
          results: list[Optional[ArtifactResult]], progress: Progress) -> list[int]:
    """Run ``indices`` in a pool of ``jobs`` processes; return those whose worker died."""
    crashed: list[int] = []
    with ProcessPoolExecutor(max_workers=jobs, mp_context=_context()) as pool:
        futures = {}
        for i in indices:
            try:
                futures[pool.submit(analyse_one, paths[i], kwargs[i])] = i
            except BrokenProcessPool:  # a worker died while we were still submitting
                crashed.append(i)
        for fut in as_completed(futures):
            i = futures[fut]
            try:
                results[i] = fut.result()
            except BrokenProcessPool:
                crashed.append(i)
                continue
            progress.advance(paths[i])
    return sorted(crashed)


def _context():
    """fork where there is one: workers start in milliseconds and memscan has imported nothing
    heavy by then; elsewhere the platform's default."""
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return None
