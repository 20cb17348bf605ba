"""The human table: per artifact its layers, totals with units written out, then findings;
several artifacts end with a summary row each. Fits ``options.width`` when one is given."""
from __future__ import annotations

from typing import Optional

from ..audit import Audit
from ..report import Report
from . import fit, layers, summary, totals
from .options import Options
from .units import shapes_text


def render_audit(audit: Audit, options: Options = Options()) -> str:
    if audit.single:
        return artifact(audit.results[0].report, options)  # type: ignore[arg-type]
    parts = []
    for r in audit.results:
        if r.report is not None:
            parts.append(artifact(r.report, options))
        else:
            assert r.error is not None
            parts.append("\n".join([f"memscan: {r.path}",
                                    *fit.wrap(r.error.message, options.width, "  ", "error: ")])
                         + "\n")
    n_err = len(audit.errors)
    head = (f"summary: {len(audit.results)} artifact{'s' if len(audit.results) != 1 else ''}"
            + (f", {n_err} unusable" if n_err else "")
            + (f", {len(audit.skipped)} entries skipped" if audit.skipped else ""))
    parts.append(head + "\n" + fit.table(summary.text_columns(audit), options.width) + "\n")
    return "\n".join(parts)


def artifact(report: Report, options: Options = Options()) -> str:
    width = options.width
    m = report.model
    what_if = ", ".join(f"{k} {v}" for k, v in report.settings.items()
                        if k in ("dtype", "weights_dtype") and v)
    lines = fit.wrap(f"memscan: {m.path}  [{m.format}, {m.producer}]"
                     + (f"  (what if: {what_if})" if what_if else ""), width, "  ")
    lines += fit.wrap(", ".join(f"{i.name} {shapes_text([i.shape])} {i.dtype}"
                                for i in report.inputs) + f"   batch {report.batch}",
                      width, "  ", "inputs: ")
    lines.append("")
    shown = layers.select(report, options.layers)
    if shown:
        lines.append(fit.table(layers.columns(report, shown), width))
    note = layers.hidden_note(report, shown)
    if note:
        lines += ([""] if shown else []) + fit.wrap(note, width, "  ")
    lines += ["", "totals:"] + fit.labelled(totals.rows(report), width)
    if totals.note(report):
        lines += fit.wrap(totals.note(report), width, "  ")
    lines += ["", f"findings: {len(report.findings) or 'none'}"]
    for f in report.findings:
        lines += _finding(f.severity, f.code, f.message, width)
    return "\n".join(lines) + "\n"


def _finding(severity: str, code: str, message: str, width: Optional[int]) -> list[str]:
    head = f"  {severity:<7} {code:<22} "
    if width is None or width - len(head) >= 30:
        return fit.wrap(message, width, " " * len(head), head)
    return [head.rstrip()] + fit.wrap(message, width, "    ", "    ")
