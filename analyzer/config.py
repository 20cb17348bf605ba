"""Defaults from the project: the ``[tool.memscan]`` table of the nearest ``pyproject.toml``.

Looked for from the working folder upward; the closest pyproject.toml that has the table
wins (as ruff does). Every key is a long option's name (``budget = "8GiB"``,
``fail-on = ["int32-param-overflow"]``, ``jobs = 4``), plus ``inputs``: the paths to analyse,
relative to that pyproject.toml. Values go through the command line's own parser, so they
are checked exactly like flags, and a flag given on the command line wins over its key.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from .errors import BadArguments

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

TABLE = "tool.memscan"
#: The key holding the paths to analyse (the command line's positional arguments).
PATHS_KEY = "inputs"
_NOT_FROM_CONFIG = {"help", "version"}


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
    argv = to_argv(parser, defaults.table, defaults.pyproject.parent, where)
    given = set(vars(_parse_only_given(parser, list(cli_argv), None)))
    for dest, value in vars(_parse_only_given(parser, argv, where)).items():
        if dest not in given:
            setattr(args, dest, value)
    return args


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
