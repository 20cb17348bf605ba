"""The human table for a run: each artifact's table as ``table.render`` draws it, then a
summary row per artifact. One artifact named on its own is its table alone, unchanged."""
from __future__ import annotations

from ..audit import Audit
from . import summary_out, table


def render_audit(audit: Audit) -> str:
    if audit.single:
        return table.render(audit.results[0].report)  # type: ignore[arg-type]
    parts = []
    for r in audit.results:
        if r.report is not None:
            parts.append(table.render(r.report))
        else:
            assert r.error is not None
            parts.append(f"memscan: {r.path}\nerror: {r.error.message}\n")
    n_err = len(audit.errors)
    head = (f"summary: {len(audit.results)} artifact{'s' if len(audit.results) != 1 else ''}"
            + (f", {n_err} unusable" if n_err else "")
            + (f", {len(audit.skipped)} entries skipped" if audit.skipped else ""))
    parts.append(head + "\n" + summary_out.render_audit(audit))
    return "\n".join(parts)
