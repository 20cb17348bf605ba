"""Crash isolation: analyse one artifact in a child process with memory and time limits.

libhdf5 and protobuf are C code fed untrusted bytes; a crafted file can crash them (a
segfault, an abort) or make them spin holding the GIL (the fuzz test found a bit-flipped .h5
on which reading an attribute never returns), where no Python-level timeout can interrupt
them. ``analyse_isolated`` runs the whole analysis of one artifact in a child process under
``RLIMIT_AS``, ``RLIMIT_CPU`` and a wall-clock timeout, and turns whatever happens to it into
either the Report or a MemscanError naming the file. On Linux the child is a fork of the
CLI taken before any artifact is opened (a few ms); elsewhere a fresh Python
(``subprocess``). A multi-artifact run calls it once per artifact, so one hostile file costs
only its own row.

The child sends its answer through a dedicated pipe; its stdout/stderr go to /dev/null (the
parent prints the one line).

Warm children: a child's answer also names the modules it had to import (h5py, onnx, the
readers...). The forking process then imports them itself, once (importing a library reads
no artifact), so every later child is forked with them loaded and pays only its own
analysis: the parent, or each ``--jobs`` worker, acts as a fork server that warms up on its
first artifact. Only packages in ``WARM_PACKAGES`` are imported (never a name an artifact
could choose), and never TensorFlow (4 s and 540 MiB, and not safe to fork once started).

Tests simulate a crashing, spinning or hoarding reader by monkeypatching
``analysis.analyse`` (looked up at call time in the child), never through the shipped code.
"""
from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Mapping, Optional, Sequence, Union

from .errors import BadArguments, MemscanError, UnreadableArtifact, typed_first_line

#: Defaults: generous for real models (an .h5 analysis takes well under a second and peaks
#: near 150 MiB of address space), tight enough that a hostile file costs little.
DEFAULT_MEMORY_LIMIT = 4 * 2**30
DEFAULT_CPU_LIMIT_S = 60
DEFAULT_TIMEOUT_S = 130.0
#: Top-level packages a parent may import after a child did (see the module docstring).
#: The standard library is allowed as well.
WARM_PACKAGES = frozenset({__package__.split(".")[0], "numpy", "h5py", "onnx", "onnxruntime", "google",
                           "ml_dtypes", "sympy", "mpmath", "packaging", "typing_extensions"})
_ERRORS = {"UnreadableArtifact": UnreadableArtifact, "BadArguments": BadArguments,
           "MemscanError": MemscanError}


class IsolatedFailure(UnreadableArtifact):
    """The child gave no answer of the reader's own: ``reason`` is "crash" (killed by a
    signal), "timeout" (CPU or wall clock), "memory" or "bug" (an unexpected exception)."""

    def __init__(self, message: str, path: object = None, reason: str = "crash") -> None:
        super().__init__(message, path)
        self.reason = reason


def isolate_by_default(n_artifacts: int) -> bool:
    """Isolation is on by default, for one artifact as for many (a hang inside libhdf5
    cannot be stopped any other way); MEMSCAN_DEBUG=1 turns it off so tracebacks show."""
    return n_artifacts >= 1 and not os.environ.get("MEMSCAN_DEBUG")


def limits(cpu_seconds: Optional[int]) -> dict[str, float]:
    """``cpu_limit`` and ``timeout`` for a CPU budget (``--time-limit``): the wall clock
    allows twice the CPU time plus 10 s (a child blocked on I/O uses no CPU)."""
    cpu = cpu_seconds or DEFAULT_CPU_LIMIT_S
    return {"cpu_limit": cpu, "timeout": 2.0 * cpu + 10}


#: What an isolated child may run on one artifact: name -> (module, function), each called
#: as ``function(path, **kwargs)``. A single analysis, or a sweep / closed form that reads
#: the file once and analyses it many times (the whole of it under the same limits).
TASKS = {"analyse": ("analysis", "analyse"), "sweep": ("sweep", "sweep_artifact"),
         "formula": ("formula", "formula_artifact")}


def analyse_isolated(path: str, inputs: Sequence[Any] = (), batch: Optional[int] = None,
                     dims: Optional[Mapping[str, int]] = None, *,
                     options: Optional[Mapping[str, Any]] = None,
                     timeout: float = DEFAULT_TIMEOUT_S,
                     cpu_limit: int = DEFAULT_CPU_LIMIT_S,
                     memory_limit: int = DEFAULT_MEMORY_LIMIT,
                     cwd: Optional[str] = None) -> Union[Any, MemscanError]:
    """The Report of ``analyse(path, inputs, batch, dims)`` run in a child process, or the
    MemscanError (returned, not raised) saying why there is none: the file is unusable
    (the reader's own error), or the child crashed, ran out of time or of memory
    (IsolatedFailure)."""
    kwargs = {"inputs": list(inputs), "batch": batch, "dims": dict(dims) if dims else None}
    kwargs.update(options or {})
    return run_isolated("analyse", path, kwargs, timeout=timeout, cpu_limit=cpu_limit,
                        memory_limit=memory_limit, cwd=cwd)


def run_task(task: str, path: str, kwargs: Mapping[str, Any]) -> Any:
    """``TASKS[task](path, **kwargs)`` in this process (looked up when called, so tests can
    monkeypatch ``analysis.analyse``)."""
    import importlib

    module, function = TASKS[task]
    return getattr(importlib.import_module(f".{module}", __package__), function)(path, **kwargs)


def run_isolated(task: str, path: str, kwargs: Mapping[str, Any], *,
                 timeout: float = DEFAULT_TIMEOUT_S, cpu_limit: int = DEFAULT_CPU_LIMIT_S,
                 memory_limit: int = DEFAULT_MEMORY_LIMIT,
                 cwd: Optional[str] = None) -> Union[Any, MemscanError]:
    """``TASKS[task](path, **kwargs)`` in a limited child process: its result, or the
    MemscanError (returned, not raised) saying why there is none. ``cwd``: the folder a
    relative ``path`` is relative to, when not this process's (a Dask worker's child
    changes into the client's working folder; a process-wide chdir is safe only there)."""
    request = {"path": str(path), "task": task, "kwargs": dict(kwargs),
               "memory_limit": memory_limit, "cpu_limit": cpu_limit, "cwd": cwd}
    if hasattr(os, "fork") and sys.platform.startswith("linux"):
        return _run_forked(request, timeout)
    return _run_spawned(request, timeout)


def _run_forked(request: dict, timeout: float) -> Union[Any, MemscanError]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            os.close(read_fd)
            import faulthandler
            faulthandler.disable()  # it may hold its own copy of stderr: the parent reports
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            before = set(sys.modules)
            _limit(request["memory_limit"], request["cpu_limit"])
            data = pickle.dumps((*_answer(request), sorted(set(sys.modules) - before)))
            with os.fdopen(write_fd, "wb") as fh:
                fh.write(data)
        finally:
            os._exit(0)
    os.close(write_fd)
    chunks: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(read_fd, chunks), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    # The pipe closes when the child exits (it holds the only write end): wait on that rather
    # than polling waitpid, so a fast analysis costs no polling delay.
    reader.join(timeout)
    delay = 0.0005
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            reader.join(5)
            return IsolatedFailure(f"analysis stopped after {timeout:g} s (time limit)",
                                   request["path"], "timeout")
        time.sleep(delay)
        delay = min(delay * 2, 0.02)
    reader.join(5)
    return _interpret(request, os.waitstatus_to_exitcode(status), b"".join(chunks))


def _run_spawned(request: dict, timeout: float) -> Union[Any, MemscanError]:
    read_fd, write_fd = os.pipe()
    env = dict(os.environ)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = package_parent + os.pathsep + env.get("PYTHONPATH", "")
    env["MEMSCAN_RESULT_FD"] = str(write_fd)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c",
             f"from {__package__}.isolate import _child_main; _child_main()"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(write_fd,), env=env, close_fds=True)
    except OSError as exc:
        os.close(read_fd)
        os.close(write_fd)
        return IsolatedFailure(f"could not start the isolated reader ({exc.strerror})",
                               request["path"], "crash")
    os.close(write_fd)
    chunks: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(read_fd, chunks), daemon=True)
    reader.start()
    try:
        proc.stdin.write(pickle.dumps(request))  # type: ignore[union-attr]
        proc.stdin.close()  # type: ignore[union-attr]
    except OSError:
        pass  # the child died at once; its exit status says why
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        reader.join(5)
        return IsolatedFailure(f"analysis stopped after {timeout:g} s (time limit)",
                               request["path"], "timeout")
    reader.join(5)
    return _interpret(request, proc.returncode, b"".join(chunks))


def _interpret(request: dict, returncode: int, data: bytes) -> Union[Any, MemscanError]:
    path = request["path"]
    if returncode < 0:
        if -returncode in (signal.SIGXCPU, signal.SIGKILL):
            return IsolatedFailure(f"analysis stopped after {request['cpu_limit']} s of CPU "
                                   "(time limit)", path, "timeout")
        return IsolatedFailure(f"the reader crashed ({_signal_name(-returncode)}); the file "
                               "is malformed or hostile", path, "crash")
    if not data:
        return IsolatedFailure(f"the isolated reader exited with status {returncode} and no "
                               "answer", path, "crash")
    try:
        kind, payload, modules = pickle.loads(data)
    except Exception:  # a half-written answer: the child died while writing it
        return IsolatedFailure("the isolated reader's answer was cut short", path, "crash")
    warm(modules)
    if kind == "report":
        return payload
    if kind == "failure":
        reason, message = payload
        return IsolatedFailure(message, path, reason)
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
    """Entry point of a spawned child: read the request, answer through the pipe, exit."""
    out_fd = int(os.environ["MEMSCAN_RESULT_FD"])
    request = pickle.loads(sys.stdin.buffer.read())
    _limit(request["memory_limit"], request["cpu_limit"])
    data = pickle.dumps((*_answer(request), []))  # a fresh interpreter: nothing to warm
    with os.fdopen(out_fd, "wb") as fh:
        fh.write(data)
    os._exit(0)  # skip interpreter teardown: C libraries' atexit handlers add nothing here


def _answer(request: dict) -> tuple:
    """Run the analysis; every outcome becomes a picklable answer."""
    path = request["path"]
    try:
        if request.get("cwd"):
            _enter(request["cwd"])
        return ("report", run_task(request.get("task", "analyse"), path, request["kwargs"]))
    except MemscanError as exc:
        return ("error", (type(exc).__name__, exc.message, exc.path))
    except MemoryError:
        return ("failure", ("memory", "analysis needed more memory than its limit "
                            f"({request['memory_limit'] / 2**30:g} GiB)"))
    except Exception as exc:  # a bug or a file we did not foresee: still an answer
        return ("failure", ("bug", f"could not be analysed ({typed_first_line(exc)}); "
                            "rerun with MEMSCAN_DEBUG=1 for details"))


def _enter(folder: str) -> None:
    """Change into ``folder`` if it exists here; else stay (a relative path then fails as
    "not found", naming the file as the user typed it)."""
    try:
        os.chdir(folder)
    except OSError:
        pass


def _limit(memory: int, cpu_seconds: int) -> None:
    try:
        import resource
    except ImportError:
        return  # not on this platform: the wall-clock timeout still bounds the child
    # No core files (a crash must not write into the working folder); SIGXCPU at the CPU
    # limit, SIGKILL two seconds later should the child ignore it.
    for which, soft_value, hard_value in ((resource.RLIMIT_CORE, 0, 0),
                                          (resource.RLIMIT_AS, memory, None),
                                          (resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 2)):
        try:
            soft, hard = resource.getrlimit(which)
            new_hard = hard if hard_value is None else (
                hard_value if hard == resource.RLIM_INFINITY else min(hard_value, hard))
            new_soft = soft_value if new_hard == resource.RLIM_INFINITY else min(soft_value,
                                                                                  new_hard)
            resource.setrlimit(which, (new_soft, new_hard))
        except (ValueError, OSError):
            pass


def preload(paths: Sequence[str]) -> None:
    """Import, before the first child is forked, the pipeline and the readers the artifacts'
    suffixes call for (each reader's ``PRELOAD``), so no child pays the imports. Nothing is
    read from the artifacts."""
    import importlib

    from . import analysis, formats  # noqa: F401  (the pipeline every child runs)

    suffixes = {os.path.splitext(p)[1].lower() for p in paths}
    for fmt in formats.FORMATS.values():
        if not suffixes & set(fmt.suffixes):
            continue
        try:
            module = importlib.import_module(fmt.reader, formats.__name__)
        except ImportError:
            continue
        warm(getattr(module, "PRELOAD", ()))


def warm(modules: Sequence[str]) -> None:
    """Import, in this process, the modules a child imported (those of WARM_PACKAGES only), so
    the next child forked from here starts with them loaded."""
    import importlib

    for name in modules:
        top = name.split(".", 1)[0]
        if name in sys.modules or not (top in WARM_PACKAGES or top in sys.stdlib_module_names):
            continue
        try:
            importlib.import_module(name)
        except Exception:  # a module made on the fly, or one that needs its parent's state
            continue
