"""Crash isolation: analyse one artifact in a child process with a memory and a time limit.

libhdf5 and protobuf are C code fed untrusted bytes; a crafted file can crash them (a
segfault, an abort) or make them spin or allocate without end. ``analyse_isolated`` runs the
whole analysis of one artifact in a fresh Python child (``subprocess``, not a fork, so no
state is shared) under ``RLIMIT_AS`` and a wall-clock timeout, and turns whatever happens to
it into either the Report or a MemscanError naming the file. A multi-artifact run calls it
once per artifact, so one hostile file costs only its own row.

The child gets the request on stdin and sends its answer through a dedicated pipe (fd), so a
library writing to stdout cannot corrupt it; the child's stdout/stderr are discarded (the
parent prints the one line). Test hook: ``MEMSCAN_TEST_CRASH_IN_CHILD=abort|hang|oom[:TEXT]``
makes the child crash / hang / allocate for ever (only for paths containing TEXT, if given).
"""
from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
from typing import Any, Mapping, Optional, Sequence, Union

from .errors import BadArguments, MemscanError, UnreadableArtifact

#: Defaults: generous for real models (an .h5 analysis peaks near 150 MiB of address space),
#: far below what would hurt the machine.
DEFAULT_MEMORY_LIMIT = 4 * 2**30
DEFAULT_TIMEOUT_S = 120.0
CRASH_HOOK_ENV = "MEMSCAN_TEST_CRASH_IN_CHILD"
_ERRORS = {"UnreadableArtifact": UnreadableArtifact, "BadArguments": BadArguments,
           "MemscanError": MemscanError}


def isolate_by_default(n_artifacts: int) -> bool:
    """``--isolate`` is on by default when a run reads more than one artifact."""
    return n_artifacts > 1


def analyse_isolated(path: str, inputs: Sequence[Any] = (), batch: Optional[int] = None,
                     dims: Optional[Mapping[str, int]] = None, *,
                     timeout: float = DEFAULT_TIMEOUT_S,
                     memory_limit: int = DEFAULT_MEMORY_LIMIT) -> Union[Any, MemscanError]:
    """The Report of ``analyse(path, inputs, batch, dims)`` run in a child process, or the
    MemscanError (returned, not raised) saying why there is none: the file is unusable, or
    the child crashed, ran out of time, or ran out of memory."""
    path = str(path)
    request = pickle.dumps({"path": path, "inputs": list(inputs), "batch": batch,
                            "dims": dict(dims) if dims else None,
                            "memory_limit": memory_limit})
    read_fd, write_fd = os.pipe()
    env = dict(os.environ)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = package_parent + os.pathsep + env.get("PYTHONPATH", "")
    env["MEMSCAN_RESULT_FD"] = str(write_fd)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from analyzer.isolate import _child_main; _child_main()"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(write_fd,), env=env, close_fds=True)
    except OSError as exc:
        os.close(read_fd)
        os.close(write_fd)
        return UnreadableArtifact(f"could not start the isolated reader ({exc.strerror})", path)
    os.close(write_fd)
    chunks: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(read_fd, chunks), daemon=True)
    reader.start()
    try:
        proc.stdin.write(request)  # type: ignore[union-attr]
        proc.stdin.close()  # type: ignore[union-attr]
    except OSError:
        pass  # the child died at once; its exit status says why
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        reader.join(5)
        return UnreadableArtifact(f"analysis stopped after {timeout:g} s (time limit)", path)
    reader.join(5)
    data = b"".join(chunks)
    if proc.returncode < 0:
        name = _signal_name(-proc.returncode)
        return UnreadableArtifact(f"the reader crashed ({name}); the file is malformed or "
                                  "hostile", path)
    if not data:
        return UnreadableArtifact(f"the isolated reader exited with status {proc.returncode} "
                                  "and no answer", path)
    try:
        kind, payload = pickle.loads(data)
    except Exception:  # a half-written answer: the child died while writing it
        return UnreadableArtifact("the isolated reader's answer was cut short", path)
    if kind == "report":
        return payload
    cls_name, message, err_path = payload
    return _ERRORS.get(cls_name, UnreadableArtifact)(message, err_path)


def _drain(fd: int, chunks: list[bytes]) -> None:
    with os.fdopen(fd, "rb") as fh:
        while True:
            chunk = fh.read(1 << 16)
            if not chunk:
                return
            chunks.append(chunk)


def _signal_name(num: int) -> str:
    try:
        return f"killed by {signal.Signals(num).name}"
    except ValueError:
        return f"killed by signal {num}"


# --------------------------------------------------------------------------- the child

def _child_main() -> None:
    """Entry point of the child: read the request, analyse, write the answer, exit."""
    out_fd = int(os.environ["MEMSCAN_RESULT_FD"])
    request = pickle.loads(sys.stdin.buffer.read())
    path = request["path"]
    _limit_memory(request["memory_limit"])
    try:
        _test_hook(path)
        from .analysis import analyse

        answer: tuple = ("report", analyse(path, request["inputs"], request["batch"],
                                           request["dims"]))
    except MemscanError as exc:
        answer = ("error", (type(exc).__name__, exc.message, exc.path))
    except MemoryError:
        answer = ("error", ("UnreadableArtifact", "analysis needed more memory than its "
                            f"limit ({request['memory_limit'] / 2**30:g} GiB)", path))
    except RecursionError:
        answer = ("error", ("UnreadableArtifact", "the file is nested too deeply to analyse",
                            path))
    except Exception as exc:  # a bug or a file we did not foresee: still an answer
        text = str(exc).splitlines()[0][:200] if str(exc) else ""
        answer = ("error", ("UnreadableArtifact",
                            f"could not be analysed ({type(exc).__name__}: {text})", path))
    data = pickle.dumps(answer)
    with os.fdopen(out_fd, "wb") as fh:
        fh.write(data)
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown: C libraries' atexit handlers add nothing here


def _limit_memory(limit: int) -> None:
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError):
        pass  # not on this platform: the timeout still bounds the child


def _test_hook(path: str) -> None:
    """MEMSCAN_TEST_CRASH_IN_CHILD=abort|hang|oom[:TEXT]: how the tests simulate a reader
    crashing inside C code, spinning, or allocating without end."""
    hook = os.environ.get(CRASH_HOOK_ENV, "")
    if not hook:
        return
    action, _, only = hook.partition(":")
    if only and only not in path:
        return
    if action == "abort":
        os.abort()
    elif action == "hang":
        while True:
            pass
    elif action == "oom":
        hog = []
        while True:
            hog.append(bytearray(64 * 2**20))
