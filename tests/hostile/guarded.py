"""Run the real memscan CLI under a Python audit hook that records what it must never do.

``python tests/hostile/guarded.py MODEL_FOLDER LOG -- ARGS...`` installs a ``sys.addaudithook``
hook, then runs ``analyzer`` exactly as ``python -m analyzer ARGS`` does. The hook appends
one JSON line to LOG for each violation:

- opening any file for writing, or for reading outside MODEL_FOLDER and Python's own
  install/the analyzer package/system folders (/proc, /sys, /dev, /etc, /usr);
- unmarshalling, compiling or executing anything that carries the corpus MARKER (the Lambda's
  bytecode, an eval string), running a shell (``os.system``) or spawning a process other
  than this Python.

Audit hooks only see Python-level events; C-level reads (libhdf5, protobuf) are caught by the
corpus's FIFOs instead (opening one blocks, so the test sees a timeout).

``python tests/hostile/guarded.py --serve N`` is the same run, many times over, without
paying Python's start-up and memscan's imports per case (about 1 s of CPU each, most of the
corpus test's cost): tests/forkserver.py's server, which imports once and forks one child
per job (JSON lines on stdin: argv, cwd, env, stdout/stderr/log files, the model folder),
with RLIMIT_AS set and this audit hook installed in the child, after the fork, so every
event of the run itself is seen.
"""
from __future__ import annotations

import json
import os
import runpy
import sys

MARKER = "MEMSCAN_HOSTILE_MARKER"
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _real(p: object) -> str:
    if isinstance(p, bytes):
        p = os.fsdecode(p)
    return os.path.realpath(str(p))


def install(model_folder: str, log_fd: int) -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    allowed = {_real(model_folder), _real(os.path.join(repo, "analyzer")),
               _real(sys.prefix), _real(sys.base_prefix), _real(sys.exec_prefix),
               "/proc", "/sys", "/dev", "/etc", "/usr"}
    allowed |= {_real(p) for p in sys.path if p and "site-packages" in p}
    allowed_roots = tuple(a.rstrip("/") + "/" for a in allowed)
    allowed_exact = set(allowed)
    marker_b = MARKER.encode()

    def record(event: str, detail: str) -> None:
        os.write(log_fd, (json.dumps({"event": event, "detail": detail[:300]}) + "\n").encode())

    def carries_marker(value: object) -> bool:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return marker_b in bytes(value)
        if isinstance(value, str):
            return MARKER in value
        consts = getattr(value, "co_consts", None)
        if consts is not None:
            return (getattr(value, "co_filename", "") == "<hostile-lambda>"
                    or any(carries_marker(c) for c in consts))
        if isinstance(value, (list, tuple)):
            return any(carries_marker(v) for v in value)
        return False

    def hook(event: str, args: tuple) -> None:
        try:
            if event == "open":
                path, mode, flags = (list(args) + [None, None])[:3]
                if isinstance(path, int) or path is None:
                    return
                real = _real(path)
                writing = (isinstance(mode, str) and any(ch in mode for ch in "wax+")) or (
                    isinstance(flags, int) and flags & WRITE_FLAGS)
                if writing and real != "/dev/null":
                    record("write", real)
                elif not (real in allowed_exact or real.startswith(allowed_roots)):
                    record("read-outside", real)
            elif event in ("marshal.loads", "marshal.load", "compile", "exec"):
                if carries_marker(args[0] if args else None):
                    record(event, repr(args)[:200])
            elif event in ("os.system", "os.exec", "os.posix_spawn", "os.spawn", "pty.spawn"):
                record(event, repr(args)[:200])
            elif event == "subprocess.Popen":
                exe = args[0] if args else None
                argv = args[1] if len(args) > 1 else None
                benign = exe in ("uname", b"uname")  # platform.processor(), via numpy/h5py
                if carries_marker(repr(argv)) or not benign and (
                        exe and _real(exe) != _real(sys.executable)):
                    record(event, repr(args)[:200])
        except Exception as exc:  # the hook must never change what memscan does
            record("hook-error", repr(exc))

    sys.addaudithook(hook)


def _checkout_first() -> None:
    """As `python -m analyzer`: sys.path[0] is this script's folder; put the checkout first."""
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main() -> None:
    folder, log = sys.argv[1], sys.argv[2]
    assert sys.argv[3] == "--"
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    sys.argv = ["memscan", *sys.argv[4:]]
    _checkout_first()
    install(folder, fd)
    runpy.run_module("analyzer", run_name="__main__", alter_sys=True)


def _audit(job: dict) -> None:
    """In each forked child of the server: the hook, as ``main`` installs it."""
    install(job["folder"], os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))


def serve(at_once: int) -> None:
    """``--serve N``: tests/forkserver.py's server, the audit hook installed in every child."""
    _checkout_first()
    sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import forkserver

    forkserver.serve(at_once, _audit)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]))
    else:
        main()
