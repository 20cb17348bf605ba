"""Text tables and paragraphs that fit a width: columns are abbreviated, names shortened and
whole columns dropped, by priority; a number is never cut. Without a width, nothing changes.

A table is drawn in tabulate's "simple" style (two spaces between columns, a dashed rule
under the headers), numbers right-aligned.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass, replace
from typing import Optional, Sequence

ELLIPSIS = "…"
GAP = 2


@dataclass(frozen=True)
class Col:
    title: str
    cells: Sequence[str]
    numeric: bool = False
    #: Header used when the table must narrow.
    short: str = ""
    #: Dropped when the table must narrow, lowest first; None: never dropped.
    drop: Optional[int] = None
    #: Text that may be shortened with an ellipsis: (width it is cut to first, width it may
    #: go down to last); None: never cut (numbers, shapes).
    cut: Optional[tuple[int, int]] = None
    #: Cut the front of the text instead of its end (paths: keep the file name).
    cut_front: bool = False

    @property
    def natural(self) -> int:
        return max([len(self.title), *(len(c) for c in self.cells)])


def table(cols: Sequence[Col], width: Optional[int] = None) -> str:
    """The columns as one text table, narrowed to ``width`` when given."""
    cols = list(cols)
    widths = [c.natural for c in cols]
    if width is not None and _total(widths) > width:
        cols, widths = _narrow(cols, width)
    header = "  ".join(_align(_clip(c.title, w, False), w, c.numeric) for c, w in zip(cols, widths))
    lines = [header.rstrip(), "  ".join("-" * w for w in widths)]
    for i in range(len(cols[0].cells) if cols else 0):
        cells = [_align(_clip(c.cells[i], w, c.cut_front), w, c.numeric)
                 for c, w in zip(cols, widths)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _narrow(cols: list[Col], width: int) -> tuple[list[Col], list[int]]:
    # 1. short headers; 2. text cut to its first width; 3. columns dropped by priority;
    # 4. text cut down to its last width.
    cols = [replace(c, title=c.short) if c.short else c for c in cols]
    widths = [c.natural for c in cols]
    widths = [min(w, c.cut[0]) if c.cut else w for c, w in zip(cols, widths)]
    widths = [max(w, len(c.title)) if not c.cut else w for c, w in zip(cols, widths)]
    for c in sorted((c for c in cols if c.drop is not None), key=lambda c: c.drop or 0):
        if _total(widths) <= width:
            break
        i = cols.index(c)
        del cols[i], widths[i]
    for i, c in enumerate(cols):
        excess = _total(widths) - width
        if excess <= 0:
            break
        if c.cut:
            widths[i] = max(c.cut[1], widths[i] - excess)
    return cols, widths


def _total(widths: Sequence[int]) -> int:
    return sum(widths) + GAP * max(0, len(widths) - 1)


def _clip(text: str, width: int, front: bool) -> str:
    if len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    return ELLIPSIS + text[-(width - 1):] if front else text[:width - 1] + ELLIPSIS


def _align(text: str, width: int, right: bool) -> str:
    return text.rjust(width) if right else text.ljust(width)


def wrap(text: str, width: Optional[int], indent: str = "", first: str = "") -> list[str]:
    """``first`` + ``text`` wrapped at word boundaries to ``width`` (later lines start with
    ``indent``); one line when there is no width. A word longer than a line is kept whole."""
    if width is None:
        return [first + text]
    return textwrap.wrap(text, width=width, initial_indent=first, subsequent_indent=indent,
                         break_long_words=False, break_on_hyphens=False) or [first.rstrip()]


def labelled(rows: Sequence[Sequence[str]], width: Optional[int]) -> list[str]:
    """``label  value  description`` lines (label left, value right-aligned), the description
    wrapped under itself; when that leaves it under 24 columns, on its own indented lines."""
    lw = max((len(r[0]) for r in rows), default=0)
    vw = max((len(r[1]) for r in rows), default=0)
    lead = lw + GAP + vw + GAP
    out = []
    for label, value, desc in rows:
        head = f"{label:<{lw}}  {value:>{vw}}  "
        if width is None or width - lead >= 24:
            out += wrap(desc, width, " " * lead, head) if desc else [head.rstrip()]
        else:
            out.append(head.rstrip())
            out += wrap(desc, width, "    ", "    ") if desc else []
    return out
