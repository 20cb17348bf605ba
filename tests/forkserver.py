"""`python -m analyzer` runs for the tests without a Python start-up and memscan's imports
each: about 1 s of CPU per run, most of the suite's time when hundreds of tests run the CLI.

``python tests/forkserver.py N`` imports what every CLI run imports anyway (the CLI, the
pipeline, each reader's libraries, as the CLI's own ``isolate.preload`` does; never
TensorFlow), then reads jobs, one JSON line each, on stdin, and forks one child per job, at
most N at a time. The child becomes the run: the job's working folder and environment
(replaced whole), stdin from /dev/null, stdout/stderr into the job's files, optionally
``RLIMIT_AS``, then ``python -m analyzer ARGS`` through runpy, exactly as the interpreter
runs it (an uncaught exception prints its traceback and exits 1). Every finished job is
answered with one JSON line on stdout: its id, exit code (negative: killed by that signal),
wall seconds, CPU seconds and max RSS of the child and what it waited for (memscan's own
isolated child), and whether it was killed for running past the job's wall limit.

A child starts from the server as it was after the imports: no run sees another's state.
What a fork cannot give is a different interpreter start-up (PYTHONPATH, -X options): the
callers run those as real subprocesses (conftest.run_cli). tests/hostile/guarded.py serves
the hostile corpus through ``serve`` with its audit hook installed in each child.
"""
from __future__ import annotations

import json
import os
import runpy
import select
import sys
import time
from typing import Any, Callable, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
Prepare = Callable[[dict], None]


def warm() -> None:
    """Import what every CLI run imports (the CLI's own warm-up, isolate.preload)."""
    if sys.path[0] != ROOT:
        sys.path.insert(0, ROOT)
    import analyzer.cli  # noqa: F401
    import analyzer.orchestrate  # noqa: F401
    from analyzer import formats, isolate

    isolate.preload([f"model{s}" for f in formats.FORMATS.values() for s in f.suffixes])


def _child(job: dict, prepare: Optional[Prepare]) -> None:
    """In the forked child: become ``python -m analyzer ARGS`` for ``job``; never returns."""
    import tempfile
    import traceback

    code = 1
    try:
        if job.get("address_space"):
            import resource

            limit = job["address_space"]
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        os.chdir(job["cwd"])
        os.environ.clear()
        os.environ.update(job["env"])
        tempfile.tempdir = None  # TMPDIR is read again
        sys.dont_write_bytecode = bool(job["env"].get("PYTHONDONTWRITEBYTECODE"))
        for fd, (name, flags) in enumerate(((os.devnull, os.O_RDONLY),
                                            (job["stdout"], os.O_WRONLY | os.O_CREAT),
                                            (job["stderr"], os.O_WRONLY | os.O_CREAT))):
            os.dup2(os.open(name, flags, 0o600), fd)
        sys.argv = ["memscan", *job["args"]]
        if prepare is not None:
            prepare(job)
        try:
            runpy.run_module("analyzer", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:  # as the interpreter does: the message on stderr, exit 1
                print(exc.code, file=sys.stderr)
        except BaseException:
            traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)


def serve(at_once: int, prepare: Optional[Prepare] = None) -> None:
    """Run jobs from stdin until it closes and every child has finished (module docstring)."""
    warm()
    out, fd = sys.stdout, sys.stdin.fileno()
    queued: list[dict] = []
    running: dict[int, tuple[dict, float]] = {}
    pending = b""
    open_input = True
    while open_input or queued or running:
        wait = None if not (queued or running) else (0 if queued else 0.002)
        if open_input and select.select([fd], [], [], wait)[0]:
            chunk = os.read(fd, 1 << 16)
            open_input = bool(chunk)
            *lines, pending = (pending + chunk).split(b"\n")
            queued += [json.loads(line) for line in lines if line.strip()]
        elif not open_input and not running and not queued:
            break
        while queued and len(running) < at_once:
            job = queued.pop(0)
            out.flush(), sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(job, prepare)
            running[pid] = (job, time.monotonic())
        if running:
            _reap(out, running)


def _reap(out: Any, running: dict[int, tuple[dict, float]]) -> None:
    """Answer every finished child; kill those past their wall limit."""
    while running:
        pid, status, usage = os.wait4(-1, os.WNOHANG)
        if not pid:
            break
        _answer(out, running.pop(pid), status, usage, timed_out=False)
    now = time.monotonic()
    for pid in [p for p, (job, start) in running.items() if now - start > job["wall_limit"]]:
        os.kill(pid, 9)
        _, status, usage = os.wait4(pid, 0)
        _answer(out, running.pop(pid), status, usage, timed_out=True)


def _answer(out: Any, entry: tuple[dict, float], status: int, usage: Any,
            timed_out: bool) -> None:
    job, start = entry
    out.write(json.dumps({"id": job["id"], "returncode": os.waitstatus_to_exitcode(status),
                          "wall": time.monotonic() - start, "max_rss_kib": usage.ru_maxrss,
                          "cpu": usage.ru_utime + usage.ru_stime,
                          "timed_out": timed_out}) + "\n")
    out.flush()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
