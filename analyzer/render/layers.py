"""The per-layer table, the one every renderer draws (text, Markdown, HTML): its columns,
which rows a ``--layers`` selection keeps, and the line saying what was left out."""
from __future__ import annotations

from typing import Optional, Sequence

from ..report import LayerRow, Report
from .fit import Col
from .options import LayerSelection
from .units import macs, mib, shape_text, shapes_text


def shape(s: Optional[Sequence[Optional[int]]]) -> str:
    return shape_text(s)


def columns(report: Report, shown: Sequence[int], numbered: bool = True) -> list[Col]:
    """The columns for rows ``shown`` (indexes into report.layers, in execution order).
    ``stored params`` only when it differs from params somewhere; ``live MiB after`` when the
    memory model gives rows ``live_bytes_after``. Drop order when narrowing: MACs, stored
    params, type, live, param MiB, #, output shape, params; layer and activation MiB stay."""
    all_rows = report.layers
    rows: list[LayerRow] = [all_rows[i] for i in shown]
    show_stored = any(r.params != r.stored_params for r in all_rows)
    show_live = any(r.live_bytes_after is not None for r in all_rows)
    cols = []
    if numbered:
        cols.append(Col("#", [str(i + 1) for i in shown], True, drop=5))
    cols += [Col("layer", [r.name for r in rows], cut=(28, 10)),
             Col("type", [r.type for r in rows], cut=(18, 8), drop=2),
             Col("output shape", [shapes_text(r.output_shapes) for r in rows], short="output",
                 drop=6),
             Col("params", [f"{r.params:,}" for r in rows], True, drop=7)]
    if show_stored:
        cols.append(Col("stored params", [f"{r.stored_params:,}" for r in rows], True,
                        short="stored", drop=1))
    cols += [Col("param MiB", [mib(r.param_bytes) for r in rows], True, short="par MiB",
                 drop=4),
             Col("activation MiB", [mib(r.activation_bytes) for r in rows], True,
                 short="act MiB")]
    if show_live:
        cols.append(Col("live MiB after", [mib(r.live_bytes_after) for r in rows], True,
                        short="live MiB", drop=3))
    cols.append(Col("MACs", [macs(r.macs) for r in rows], True, drop=0))
    return cols


def table(report: Report, shown: Optional[Sequence[int]] = None
          ) -> tuple[list[str], list[list[str]], list[bool]]:
    """Headers, rows and which columns are numeric (Markdown and HTML)."""
    cols = columns(report, range(len(report.layers)) if shown is None else shown)
    body = [[c.cells[i] for c in cols] for i in range(len(cols[0].cells))]
    return [c.title for c in cols], body, [c.numeric for c in cols]


def select(report: Report, selection: LayerSelection) -> list[int]:
    """Indexes of the rows to show, in execution order: every row, or the ``n`` with the
    most activation bytes (unknown counts as none)."""
    n = selection.top_n(len(report.layers))
    return largest(report, n) if n is not None else list(range(len(report.layers)))


def largest(report: Report, n: int) -> list[int]:
    """The ``n`` rows with the most activation bytes, in execution order (earlier wins ties)."""
    order = sorted(range(len(report.layers)),
                   key=lambda i: (-(report.layers[i].activation_bytes or 0), i))
    return sorted(order[:n])


def hidden_note(report: Report, shown: Sequence[int], why: str = "",
                more: str = "--layers all shows every layer") -> Optional[str]:
    """The line saying how many rows are not shown, and how to see them; None when none."""
    total, kept = len(report.layers), len(shown)
    if kept == total:
        return None
    if kept == 0:
        return (f"{total} layers not shown{why}; --layers all or top:N shows them, "
                "--format csv or json lists every row.")
    return (f"{total - kept} of {total} layers hidden{why}: shown are the {kept} with the most "
            f"activation bytes, in execution order; {more}.")
