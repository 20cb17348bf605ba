"""How a run asks to be drawn: the terminal width and which per-layer rows to show.

Options change the layout only; every figure is the same whatever they say.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Optional, TextIO

from ..errors import BadArguments

#: ``--layers`` default ("auto"): every row up to this many layers...
AUTO_ALL_UP_TO = 60
#: ...else this many, the largest by activation bytes.
AUTO_TOP = 20


@dataclass(frozen=True)
class LayerSelection:
    """``--layers all|top:N|none`` ("auto": all up to AUTO_ALL_UP_TO layers, else top AUTO_TOP)."""

    mode: str = "auto"
    n: int = 0

    def top_n(self, rows: int) -> Optional[int]:
        """How many rows to keep (the largest by activation bytes), None for every row."""
        if self.mode == "all" or (self.mode == "auto" and rows <= AUTO_ALL_UP_TO):
            return None
        if self.mode == "none":
            return 0
        return min(rows, self.n if self.mode == "top" else AUTO_TOP)


def parse_layers(text: str) -> LayerSelection:
    """``all``, ``none``, ``auto`` or ``top:N`` (N ≥ 1)."""
    t = text.strip().lower()
    if t in ("all", "none", "auto"):
        return LayerSelection(t)
    if t.startswith("top:"):
        try:
            n = int(t[4:])
        except ValueError:
            n = 0
        if n >= 1:
            return LayerSelection("top", n)
    raise BadArguments(f"--layers {text!r}: expected all, none or top:N (e.g. top:20)")


@dataclass(frozen=True)
class Options:
    """``width``: columns the text formats must fit (None: no limit)."""

    width: Optional[int] = None
    layers: LayerSelection = LayerSelection()


def terminal_width(stream: Optional[TextIO] = sys.stdout) -> Optional[int]:
    """``COLUMNS`` when set, else the width of ``stream`` when it is a terminal; None when
    the output goes to a pipe or a file (nothing to fit, so the full table)."""
    env = os.environ.get("COLUMNS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        if stream is not None and stream.isatty():
            return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        pass
    return None
