"""Audits on a Dask cluster: one run's artifacts mapped over an existing dask.distributed
scheduler's workers, instead of local processes (``--dask-scheduler``, ``audit(client=)``).

Only the mapping differs from the local runner (analyzer/orchestrate.py): discovery, per-path
options, gating and rendering stay on the client, and each worker runs the same
``orchestrate.analyse_one`` the local runner does, always isolated (analyzer/isolate.py) under
the run's limits, so a hostile file costs a child process, never the worker. A worker opens
local paths and URLs itself: nothing but the path and the options is shipped, and a relative
path is taken relative to the client's working folder (the isolated child changes into it).

A worker that dies while analysing an artifact (killed, out of memory, its machine lost) makes
the scheduler run the task again on another worker: that is dask's own rescheduling, not
``retries=`` (which re-runs a task that *raised*; ``analyse_one`` never raises). The
scheduler would try up to its ``allowed-failures`` + 1 times (default 4) and we cannot set that
on a scheduler we only connect to, so each task counts its own starts in the scheduler's
metadata: the third start (two deaths) answers at once with the artifact's one-line error
instead of analysing it. A ``KilledWorker`` from a scheduler configured stricter than that is
the same error.
"""
from __future__ import annotations

import os
import uuid
from typing import Any, Mapping, Optional, Sequence

from .audit import INTERNAL, ArtifactError, ArtifactResult
from .errors import BadArguments, MemscanError, MissingExtra, typed_first_line
from .orchestrate import CWD, ISOLATE, Runner, analyse_one
from .progress import Progress

#: How long connecting to a scheduler may take (MEMSCAN_DASK_TIMEOUT overrides it).
CONNECT_TIMEOUT_S = 10.0
#: Starts of one artifact's task: the first and the one retry after a worker died.
MAX_STARTS = 2
#: Top-level key of this run's start counts in the scheduler's metadata.
METADATA_KEY = "memscan-starts"
EXTRA = "pip install 'memscan[dask]'"


def connect(address: str) -> Any:
    """A dask.distributed Client of the scheduler at ``address``; a one-line MemscanError
    when the package is missing or the scheduler does not answer in time."""
    distributed = _import()
    timeout = _connect_timeout()
    import logging

    logging.getLogger("distributed").setLevel(logging.CRITICAL)  # one line is ours to print
    try:
        return distributed.Client(address, timeout=timeout, set_as_default=False)
    except Exception as exc:  # OSError, TimeoutError, ValueError for a malformed address
        raise MemscanError(f"{address}: the Dask scheduler cannot be reached within "
                           f"{timeout:g} s ({typed_first_line(exc)})") from None


def runner(client: Any) -> Runner:
    """orchestrate.run_audit's ``runner``: the artifacts mapped over ``client``'s workers."""
    _import()

    def run(paths: Sequence[str], each: Sequence[Mapping[str, Any]],
            progress: Progress) -> list[ArtifactResult]:
        return map_on_cluster(client, paths, each, progress)
    return run


def map_on_cluster(client: Any, paths: Sequence[str], each: Sequence[Mapping[str, Any]],
                   progress: Progress) -> list[ArtifactResult]:
    """One task per artifact; the results in the artifacts' order whatever order they end in."""
    from distributed import as_completed

    run = uuid.uuid4().hex
    cwd = os.getcwd()
    futures = {}
    for i, (path, options) in enumerate(zip(paths, each)):
        options = {**options, CWD: cwd}
        options.setdefault(ISOLATE, None)  # a worker always isolates: see the module docstring
        fut = client.submit(attempt, run, i, path, options, key=f"memscan-{run}-{i}",
                            pure=False)
        futures[fut] = i
    results: list[Optional[ArtifactResult]] = [None] * len(paths)
    try:
        for fut in as_completed(list(futures), loop=client.loop):
            i = futures[fut]
            results[i] = _collected(fut, paths[i])
            progress.advance(paths[i])
    finally:
        try:
            client.set_metadata([METADATA_KEY, run], None)  # forget this run's counts
        except Exception:
            pass
    return [r for r in results if r is not None]


def attempt(run: str, index: int, path: str, options: Mapping[str, Any]) -> ArtifactResult:
    """On a worker: count this start, then ``analyse_one`` (or, after two deaths, the error)."""
    from distributed import get_client

    client = get_client()
    key = [METADATA_KEY, run, str(index)]
    starts = (client.get_metadata(key, default=0) or 0) + 1
    client.set_metadata(key, starts)
    if starts > MAX_STARTS:
        return died(path)
    _preload(path)
    return analyse_one(path, options)


def _preload(path: str) -> None:
    """What the local runner's parent imports before forking (isolate.preload), here once per
    worker and reader, so each isolated child is forked warm."""
    from . import sources
    from .isolate import preload

    preload([path])
    if sources.is_url(path):
        sources.preload(path)


def died(path: str) -> ArtifactResult:
    """The one line of an artifact whose worker died on each of its tries."""
    return ArtifactResult(path, error=ArtifactError(
        INTERNAL, f"{path}: the Dask worker analysing it died on each of {MAX_STARTS} tries "
                  "(killed, out of memory, or its machine lost)"))


def _collected(fut: Any, path: str) -> ArtifactResult:
    from distributed import KilledWorker

    try:
        return fut.result()
    except KilledWorker:
        return died(path)
    except Exception as exc:  # cancelled, or memscan missing/different on the worker
        return ArtifactResult(path, error=ArtifactError(
            INTERNAL, f"{path}: the Dask cluster gave no result ({typed_first_line(exc)})"))


def _import() -> Any:
    try:
        import distributed
    except ImportError:
        raise MissingExtra("--dask-scheduler needs the dask extra (the distributed package): "
                           f"{EXTRA}") from None
    return distributed


def _connect_timeout() -> float:
    text = os.environ.get("MEMSCAN_DASK_TIMEOUT", "")
    try:
        return float(text) if text else CONNECT_TIMEOUT_S
    except ValueError:
        raise BadArguments(f"MEMSCAN_DASK_TIMEOUT={text!r} is not a number of seconds") from None
