"""The per-layer table as strings, shared by Markdown and HTML (the text table keeps its own)."""
from __future__ import annotations

from typing import Optional, Sequence

from ..report import Report
from .units import macs, mib, shapes_text, shape_text


def shape(s: Optional[Sequence[Optional[int]]]) -> str:
    return shape_text(s)


def table(report: Report) -> tuple[list[str], list[list[str]], list[bool]]:
    """Headers, rows and which columns are numeric. ``stored params`` only when it differs;
    ``live MiB after`` when the memory model gives each row ``live_bytes_after``."""
    rows = report.layers
    show_stored = any(r.params != r.stored_params for r in rows)
    show_live = any(getattr(r, "live_bytes_after", None) is not None for r in rows)
    headers = ["#", "layer", "type", "output shape", "params"]
    numeric = [True, False, False, False, True]
    if show_stored:
        headers.append("stored params")
        numeric.append(True)
    headers += ["param MiB", "activation MiB"]
    numeric += [True, True]
    if show_live:
        headers.append("live MiB after")
        numeric.append(True)
    headers.append("MACs")
    numeric.append(True)
    body = []
    for i, r in enumerate(rows, 1):
        row = [str(i), r.name, r.type, shapes_text(r.output_shapes), f"{r.params:,}"]
        if show_stored:
            row.append(f"{r.stored_params:,}")
        row += [mib(r.param_bytes), mib(r.activation_bytes)]
        if show_live:
            row.append(mib(getattr(r, "live_bytes_after", None)))
        row.append(macs(r.macs))
        body.append(row)
    return headers, body, numeric
