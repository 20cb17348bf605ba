"""Unit formatting shared by the text renderers. Bytes in, labelled strings out."""
from __future__ import annotations

from typing import Optional, Sequence

MIB = 1024**2


def mib(nbytes: Optional[int], digits: int = 2) -> str:
    if nbytes is None:
        return "?"
    return f"{nbytes / MIB:,.{digits}f}"


def shape_text(shape: Optional[Sequence[Optional[int]]]) -> str:
    if shape is None:
        return "?"
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"


def shapes_text(shapes: Sequence[Optional[Sequence[Optional[int]]]]) -> str:
    return " ".join(shape_text(s) for s in shapes) if shapes else "-"


def macs(count: Optional[int]) -> str:
    """A MAC count in decimal units (``15.47 G``); ``?`` when unknown."""
    if count is None:
        return "?"
    for unit, size in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if count >= size:
            return f"{count / size:,.2f} {unit}"
    return str(count)


#: The mark before a figure that leaves out tensors of unknown size (a lower bound).
AT_LEAST = "≥ "


def at_least(text: str, complete: bool) -> str:
    """``text`` marked as a lower bound when the report is not complete."""
    return text if complete else AT_LEAST + text


def unshaped_line(totals) -> str:
    """The one line that says why figures are marked ≥ ('' when nothing is left out)."""
    if totals.complete:
        return ""
    return (f"≥: {totals.unshaped_tensors} tensors have no shape at this input; figures "
            "marked ≥ leave their bytes out (lower bounds)")
