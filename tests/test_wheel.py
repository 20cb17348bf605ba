"""The wheel a user installs: built with ``python -m build``, installed with pip into a fresh
venv (no system site-packages, nothing from this checkout on its path), then used as the
README says. Dependencies come through pip as for any user; pip's cache, filled when this
test venv was made, serves them, so the install costs seconds rather than downloads. The
venv is made without a pip of its own (this venv's pip installs into it with ``--python``)
and pip compiles no bytecode: both cost CPU and neither is what is tested.

Run from a temporary folder so that ``import memscan`` can only find the installed copy.
"""
from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from conftest import NO_COMPILE, ROOT

DONE_WHEN = ("import memscan; r = memscan.analyse({path!r}, input={input}); "
             "print(r.totals.params)")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out),
                           str(ROOT)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (whl,) = out.glob("memscan-*.whl")
    return whl


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    env_dir = tmp_path_factory.mktemp("fresh") / "venv"
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(env_dir)
    py = env_dir / "bin" / "python"
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q",
                           str(wheel)], capture_output=True, text=True, timeout=900,
                          env={**_clean_env(), **NO_COMPILE})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return py


def _clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def _run(py: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(py), *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300, env=_clean_env())


def test_wheel_ships_every_module_as_memscan_and_no_analyzer(wheel) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    source = {"memscan/" + p.relative_to(ROOT / "analyzer").as_posix()
              for p in (ROOT / "analyzer").rglob("*.py")}
    assert source <= names, sorted(source - names)
    assert "memscan/py.typed" in names
    assert not any(n.startswith("analyzer/") for n in names)
    meta = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "memscan = memscan.cli:main" in zipfile.ZipFile(wheel).read(meta).decode()


@pytest.mark.parametrize("given", ["(1024, 1024, 3)", "'1024,1024,3'"])
def test_done_when_command_in_a_fresh_venv(installed, tmp_path, given) -> None:
    code = DONE_WHEN.format(path=str(ROOT / "fixtures" / "keras3" / "vgg16.h5"), input=given)
    proc = _run(installed, "-c", code, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "2183080744"


def test_installed_command_and_module(installed, tmp_path) -> None:
    site = _run(installed, "-c", "import memscan, os; print(os.path.dirname(memscan.__file__))",
                cwd=tmp_path).stdout.strip()
    assert site.endswith("site-packages/memscan") and str(ROOT) not in site
    assert _run(installed, "-c", "import analyzer", cwd=tmp_path).returncode != 0
    version = _run(installed, "-m", "memscan", "--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("memscan ")
    cli = installed.parent / "memscan"
    proc = subprocess.run([str(cli), str(ROOT / "fixtures" / "keras3" / "vgg16.h5"),
                           "--input", "1024,1024,3", "--format", "json"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=300, env=_clean_env())
    assert proc.returncode == 0, proc.stderr
    assert '"params": 2183080744' in proc.stdout
