"""Turn the paths a user names into the artifacts to analyse, and say what was skipped and why.

A path named on the command line is always analysed (if it is unusable, that is an error the
user must see). Folders are walked recursively in sorted order: a folder that ``formats.detect``
recognises (a SavedModel) is one artifact and is not entered; a file it recognises is an
artifact; a file with a model's extension that it does not recognise is analysed anyway so
its error is reported (a broken ``model.h5`` must fail an audit, not vanish; each format
declares its suffixes in analyzer/formats/__init__.py); anything else is
skipped with the reason ``detect`` gives. Hidden folders and folder symlinks are not entered.
"""
from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from typing import Sequence

from . import formats, sources
from .errors import MemscanError


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass
class Discovery:
    artifacts: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    #: True when exactly one path was named and it is an artifact, not a folder to walk.
    single: bool = False


def discover(paths: Sequence[str], exclude: Sequence[str] = ()) -> Discovery:
    """Artifacts under ``paths`` in a stable order, each once, and the entries skipped."""
    found = Discovery()
    seen: set[str] = set()

    def add(path: str) -> None:
        key = path if sources.is_url(path) else os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            found.artifacts.append(path)

    for top in paths:
        if not sources.isdir(top) or _detect(top) or known_folder(top):
            add(top)
            continue
        for path, reason in _walk(top, exclude):
            if reason is None:
                add(path)
            else:
                found.skipped.append(Skipped(path, reason))
    found.single = (len(paths) == 1 and len(found.artifacts) == 1
                    and found.artifacts[0] == paths[0])
    return found


def _walk(top: str, exclude: Sequence[str]):
    """(path, None) for an artifact, (path, reason) for a skipped entry, in sorted order."""
    unlisted: list[OSError] = []
    walker = (sources.walk(top) if sources.is_url(top)
              else os.walk(top, onerror=unlisted.append, followlinks=False))
    for folder, dirs, files in walker:
        while unlisted:
            err = unlisted.pop(0)
            yield str(err.filename), f"folder cannot be listed ({err.strerror})"
        dirs.sort()
        files.sort()
        keep = []
        for d in dirs:
            path = sources.join(folder, d)
            why = _excluded(path, top, exclude)
            if why:
                yield path, why
            elif not sources.is_url(path) and os.path.islink(path):
                yield path, "symbolic link to a folder, not followed"
            elif d.startswith("."):
                yield path, "hidden folder, not entered"
            elif _detect(path):
                yield path, None
            elif known_folder(path):  # a Core ML package: said once, not walked
                yield path, known_folder_reason(path)
            else:
                keep.append(d)
        dirs[:] = keep
        for f in files:
            path = sources.join(folder, f)
            why = _excluded(path, top, exclude)
            if why:
                yield path, why
                continue
            try:
                formats.detect(path)
            except MemscanError as exc:
                if f.lower().endswith(formats.model_suffixes()):
                    yield path, None  # analysed, so its error is reported
                else:
                    yield path, getattr(exc, "message", str(exc))
                continue
            yield path, None
    for err in unlisted:
        yield str(err.filename), f"folder cannot be listed ({err.strerror})"


def known_folder(path: str) -> bool:
    """A folder that is a model of a format memscan knows but does not read."""
    from .formats.unsupported import identify

    return identify(path, b"") is not None


def known_folder_reason(path: str) -> str:
    from .formats.unsupported import reason

    return reason(path, b"")


def _detect(path: str) -> bool:
    try:
        return bool(formats.detect(path))
    except MemscanError:
        return False


def _excluded(path: str, top: str, patterns: Sequence[str]) -> str:
    rel = (path[len(top):].lstrip("/") if sources.is_url(path)
           else os.path.relpath(path, top))
    for pattern in patterns:
        if (fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(os.path.basename(path), pattern)
                or fnmatch.fnmatch(path, pattern)):
            return f"excluded by --exclude {pattern}"
    return ""
