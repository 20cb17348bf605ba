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
    """Run ``python -m analyzer ARGS`` exactly as a user would, from this checkout."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.pop("MEMSCAN_DEBUG", None)
    full_env.pop("COLUMNS", None)  # output as to a pipe (xdist workers set COLUMNS)
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-m", "analyzer", *args], capture_output=True,
                          text=True, cwd=cwd or ROOT, timeout=timeout, env=full_env)


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
