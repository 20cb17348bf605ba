"""Shared test helpers: where fixtures live, and running the real CLI as a subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
ORACLES = FIXTURES / "oracles"


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120,
            env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m analyzer ARGS`` exactly as a user would, from this checkout: in a
    process of its own, forked from this worker's tests/forkserver.py server (no Python
    start-up per run), or a fresh interpreter when ``env`` sets a PYTHON* variable (those
    act at start-up) or MEMSCAN_TEST_FRESH=1 is set (to compare the two)."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.pop("MEMSCAN_DEBUG", None)
    full_env.pop("COLUMNS", None)  # output as to a pipe (xdist workers set COLUMNS)
    if env:
        full_env.update(env)
    argv = [sys.executable, "-m", "analyzer", *args]
    if any(k.startswith("PYTHON") for k in env or ()) or os.environ.get("MEMSCAN_TEST_FRESH"):
        return subprocess.run(argv, capture_output=True, text=True, cwd=cwd or ROOT,
                              timeout=timeout, env=full_env)
    return _FORK_SERVER.run(argv, cwd or ROOT, full_env, timeout)


class _ForkServer:
    """This worker's tests/forkserver.py process, started on first use; it ends when its
    stdin closes (this process exiting)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.count = 0

    def run(self, argv: list[str], cwd: Path, env: dict, timeout: float
            ) -> subprocess.CompletedProcess:
        import tempfile

        if self.proc is None or self.proc.poll() is not None:
            import atexit

            self.proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "forkserver.py"),
                                          "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         text=True, cwd=ROOT)
            atexit.register(self.close)
        self.count += 1
        with tempfile.TemporaryDirectory(prefix="memscan-cli-") as tmp:
            out, err = os.path.join(tmp, "stdout"), os.path.join(tmp, "stderr")
            job = {"id": self.count, "args": argv[3:], "cwd": str(cwd), "env": env,
                   "stdout": out, "stderr": err, "wall_limit": timeout}
            assert self.proc.stdin and self.proc.stdout
            self.proc.stdin.write(json.dumps(job) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
            assert line, f"tests/forkserver.py ended (exit {self.proc.wait()})"
            answer = json.loads(line)
            if answer["timed_out"]:
                raise subprocess.TimeoutExpired(argv, timeout)
            with open(out, encoding="utf-8") as o, open(err, encoding="utf-8") as e:
                return subprocess.CompletedProcess(argv, answer["returncode"], o.read(),
                                                   e.read())


    def close(self) -> None:
        """End the server (its CPU then counts in this process's children, for timing)."""
        if self.proc is not None and self.proc.poll() is None:
            assert self.proc.stdin
            self.proc.stdin.close()
            self.proc.wait(timeout=60)


_FORK_SERVER = _ForkServer()


def cli_json(*args: str) -> dict:
    proc = run_cli(*args, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/* from the current CLI output instead of "
                          "comparing against it (review the diff before committing)")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True only when the run was started with ``--update-golden``."""
    return bool(request.config.getoption("--update-golden"))


#: pip compiles every installed module to bytecode: two thirds of an install's CPU (34 s
#: against 10 s for memscan's dependencies), and nothing a test of the installed package
#: looks at. (PIP_NO_COMPILE=1 would mean the opposite: pip reads it as compile = 1.)
NO_COMPILE = {"PIP_COMPILE": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


#: Long modules with few tests, longest first. Under ``--dist loadscope`` a module is one unit
#: of work; xdist hands the largest modules (by test count) out first, so a long module of one
#: test (the fuzz) ran alone at the end while the other core idled. ``make test`` passes
#: ``--no-loadscope-reorder`` and this order applies instead: these first, then the rest by
#: test count, as xdist would (docs/testing.md).
SLOW_MODULES = ("tests/hostile/test_hostile_fuzz.py", "tests/test_integrations.py",
                "tests/test_wheel.py", "tests/test_first_run.py", "tests/test_live_oracle.py",
                "tests/hostile/test_hostile_corpus.py")
#: Heavy frameworks no test module may import at collection (every xdist worker collects
#: every module: TensorFlow alone is ~4 s of CPU and 540 MiB per worker). Filled by
#: pytest_collection_finish; tests/test_suite_speed.py asserts it stays empty.
HEAVY = ("tensorflow", "keras", "tf_keras", "torch")
HEAVY_AT_COLLECTION: list[str] = []


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    from collections import Counter

    module = {id(item): item.nodeid.split("::", 1)[0] for item in items}
    count = Counter(module.values())
    rank = {m: i for i, m in enumerate(SLOW_MODULES)}
    items.sort(key=lambda item: (rank.get(module[id(item)], len(rank)),
                                 -count[module[id(item)]], module[id(item)]))


def pytest_collection_finish(session: pytest.Session) -> None:
    HEAVY_AT_COLLECTION[:] = [m for m in HEAVY if m in sys.modules]
