"""Defaults from the project: the ``[tool.memscan]`` table of the nearest ``pyproject.toml``.

Looked for from the working folder upward; the closest pyproject.toml that has the table
wins (as ruff does). Every key is a long option's name (``budget = "8GiB"``,
``fail-on = ["int32-param-overflow"]``, ``jobs = 4``), plus ``inputs``: the paths to analyse,
relative to that pyproject.toml. Values go through the command line's own parser, so they
are checked exactly like flags, and a flag given on the command line wins over its key.

``per-path``: a table from glob to analysis options for the artifacts it matches, e.g.
``[tool.memscan.per-path."models/*.onnx"] input = "1,3,512,512"``. Globs are fnmatch patterns
(``*`` crosses folders) matched against the artifact's path relative to the pyproject.toml,
or against its file name when the glob has no ``/``; the first match wins. An entry that
sets an input-shape option (input, size, dim, batch) replaces all four table-wide ones for
that artifact; input-shape flags typed on the command line replace the table's (table-wide
and per-path) input-shape keys.
"""
from __future__ import annotations

import argparse
import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from .errors import BadArguments

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

TABLE = "tool.memscan"
#: The key holding the paths to analyse (the command line's positional arguments).
PATHS_KEY = "inputs"
#: The key holding per-path analysis options (a table from glob to options).
PER_PATH_KEY = "per-path"
_NOT_FROM_CONFIG = {"help", "version"}
#: The analysis options that together state an input shape: an entry setting one replaces all.
SHAPE_DESTS = ("inputs", "size", "dims", "batch")


@dataclass(frozen=True)
class PerPath:
    """Per-artifact analysis options from ``[tool.memscan.per-path]``."""

    base: Path
    entries: tuple[tuple[str, dict[str, Any]], ...] = ()
    #: Input-shape options typed on the command line: no entry overrides them.
    locked: frozenset[str] = field(default_factory=frozenset)

    def options(self, path: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """``kwargs`` (the run's analysis options) as they apply to the artifact at ``path``."""
        out = dict(kwargs)
        rel = os.path.relpath(os.path.abspath(path), self.base).replace(os.sep, "/")
        name = os.path.basename(os.path.normpath(path))
        for glob, entry in self.entries:
            if fnmatch.fnmatchcase(rel, glob) or ("/" not in glob
                                                  and fnmatch.fnmatchcase(name, glob)):
                if any(d in entry for d in SHAPE_DESTS) and not self.locked:
                    for d in SHAPE_DESTS:
                        out.pop(d, None)
                out.update({k: v for k, v in entry.items()
                            if not (k in SHAPE_DESTS and self.locked)})
                break
        return out


@dataclass(frozen=True)
class ProjectDefaults:
    pyproject: Path
    table: dict[str, Any]


def find(start: Path) -> Optional[ProjectDefaults]:
    """The nearest pyproject.toml at or above ``start`` that has a [tool.memscan] table."""
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if not candidate.is_file():
            continue
        try:
            with open(candidate, "rb") as fh:
                data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise BadArguments(f"cannot read it ({exc})", candidate) from None
        table = data.get("tool", {}).get("memscan")
        if table is not None:
            if not isinstance(table, dict):
                raise BadArguments(f"[{TABLE}] must be a table", candidate)
            return ProjectDefaults(candidate, table)
    return None


def apply(parser: argparse.ArgumentParser, args: argparse.Namespace,
          defaults: ProjectDefaults, cli_argv: Sequence[str]) -> argparse.Namespace:
    """``args`` with every option not given on the command line (``cli_argv``) taken from
    ``defaults`` when the table sets it. "Given" is what the user typed, so a flag whose
    parser default is not None still gets its project default."""
    where = f"{defaults.pyproject} [{TABLE}]"
    table = {k: v for k, v in defaults.table.items() if k != PER_PATH_KEY}
    argv = to_argv(parser, table, defaults.pyproject.parent, where)
    given = set(vars(_parse_only_given(parser, list(cli_argv), None)))
    shape_typed = given & set(SHAPE_DESTS)  # a shape typed in full replaces the table's
    for dest, value in vars(_parse_only_given(parser, argv, where)).items():
        if dest not in given and not (shape_typed and dest in SHAPE_DESTS):
            setattr(args, dest, value)
    args.per_path = per_path(parser, defaults, frozenset(shape_typed))
    return args


def known_options(parser: argparse.ArgumentParser, defaults: ProjectDefaults) -> dict[str, Any]:
    """The table's keys that ``parser`` has a long option for, parsed as its command line
    parses them (dest -> value), paths and per-path aside: for a command that takes only
    some of memscan's options (``memscan diff``); the other keys are memscan's own."""
    where = f"{defaults.pyproject} [{TABLE}]"
    longs = {s[2:] for a in parser._actions for s in a.option_strings if s.startswith("--")}
    table = {k: v for k, v in defaults.table.items()
             if k in longs and k not in _NOT_FROM_CONFIG}
    argv = to_argv(parser, table, defaults.pyproject.parent, where)
    return vars(_parse_only_given(parser, argv, where))


def per_path(parser: argparse.ArgumentParser, defaults: ProjectDefaults,
             locked: frozenset[str] = frozenset()) -> Optional[PerPath]:
    """The ``per-path`` table parsed through the analysis options' own parser, or None."""
    table = defaults.table.get(PER_PATH_KEY)
    if table is None:
        return None
    where = f"{defaults.pyproject} [{TABLE}.{PER_PATH_KEY}]"
    if not isinstance(table, dict):
        raise BadArguments(f"{where}: must be a table from glob to options")
    group = {a.dest for a in parser.analysis_group._group_actions}  # type: ignore[attr-defined]
    entries = []
    for glob, options in table.items():
        here = f"{where} {glob!r}"
        if not isinstance(options, dict):
            raise BadArguments(f"{here}: must be a table of options, e.g. size = \"1024\"")
        parsed = vars(_parse_only_given(parser, to_argv(parser, options, defaults.pyproject.parent,
                                                        here), here))
        if PATHS_KEY in options or set(parsed) - group:
            bad = sorted((set(parsed) - group) | ({PATHS_KEY} & set(options)))
            raise BadArguments(f"{here}: only analysis options may be set per path "
                               f"({', '.join(bad)} is not one)")
        entries.append((glob, parsed))
    return PerPath(defaults.pyproject.parent, tuple(entries), locked)


def to_argv(parser: argparse.ArgumentParser, table: dict[str, Any], base: Path,
            where: str) -> list[str]:
    """The table as command-line tokens: ``budget = "8GiB"`` -> ``--budget 8GiB``."""
    options = {s[2:]: a for a in parser._actions for s in a.option_strings if s.startswith("--")}
    argv: list[str] = []
    paths: list[str] = []
    for key, value in table.items():
        if key == PATHS_KEY:
            for p in _strings(value, key, where):
                paths.append(p if os.path.isabs(p) else os.path.relpath(base / p))
            continue
        action = options.get(key)
        if action is None or key in _NOT_FROM_CONFIG:
            known = sorted(k for k in options if k not in _NOT_FROM_CONFIG) + [PATHS_KEY]
            raise BadArguments(f"{where}: unknown key {key!r}; known keys: {', '.join(known)}")
        flag = "--" + key
        if action.nargs == 0:  # a switch
            if not isinstance(value, bool):
                raise BadArguments(f"{where}: {key} must be true or false")
            if value:
                argv.append(flag)
        elif isinstance(action, argparse._AppendAction) or getattr(action, "repeatable", False):
            for v in _strings(value, key, where):
                argv += [flag, v]
        else:
            if isinstance(value, (list, dict, bool)):
                raise BadArguments(f"{where}: {key} must be a string or a number")
            argv += [flag, str(value)]
    return argv + (["--", *paths] if paths else [])


def _strings(value: Any, key: str, where: str) -> list[str]:
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in values):
        raise BadArguments(f"{where}: {key} must be a string or a list of strings")
    return [str(v) for v in values]


def _parse_only_given(parser: argparse.ArgumentParser, argv: list[str],
                      where: Optional[str]) -> argparse.Namespace:
    """Parse ``argv`` keeping only the options it gives (every default suppressed); errors
    raise BadArguments naming ``where``."""
    def error(message: str) -> None:
        raise BadArguments(f"{where}: {message}" if where else message)

    saved = [(a, a.default) for a in parser._actions]
    saved_error = parser.error
    parser.error = error  # type: ignore[method-assign]
    try:
        for a, _ in saved:
            a.default = argparse.SUPPRESS
        return parser.parse_args(argv)
    finally:
        for a, default in saved:
            a.default = default
        parser.error = saved_error  # type: ignore[method-assign]
