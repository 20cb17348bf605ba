"""Markdown for pull-request comments: a summary row per artifact, then per artifact its
findings and its per-layer table folded in a ``<details>`` block."""
from __future__ import annotations

from ..audit import ArtifactResult, Audit
from ..report import Report
from . import layers
from .summary import rows
from .units import unshaped_line


def render(report: Report) -> str:
    from ..audit import single

    return render_audit(single(report))


def render_audit(audit: Audit) -> str:
    headers, body, numeric = rows(audit)
    out = ["## memscan report", "", _table(headers, body, numeric), ""]
    if audit.skipped:
        out += [f"{len(audit.skipped)} entries skipped (not models memscan can read).", ""]
    for r in audit.results:
        out += _artifact(r)
    return "\n".join(out).rstrip("\n") + "\n"


def _artifact(r: ArtifactResult) -> list[str]:
    out = [f"### {_code(r.path)}", ""]
    if r.report is None:
        assert r.error is not None
        return out + [f"**unusable** ({r.error.kind}): {cell(r.error.message)}", ""]
    rep = r.report
    out += ["inputs: " + ", ".join(f"{_code(i.name)} {cell(layers.shape(i.shape))} {i.dtype}"
                                   for i in rep.inputs) + f" · batch {rep.batch}", ""]
    if unshaped_line(rep.totals):
        out += [f"**{cell(unshaped_line(rep.totals))}**", ""]
    if r.gate is not None and r.gate.tripped:
        out += [f"- **FAILED**: {cell(line)}" for line in r.gate.causes] + [""]
    if rep.findings:
        out += [f"- **{f.severity}** `{f.code}`: {cell(f.message)}" for f in rep.findings]
    else:
        out.append("No findings.")
    headers, body, numeric = layers.table(rep)
    out += ["", f"<details><summary>Per-layer table ({len(rep.layers)} rows)</summary>", "",
            _table(headers, body, numeric), "", "</details>", ""]
    return out


def _table(headers: list[str], body: list[list[str]], numeric: list[bool]) -> str:
    lines = ["| " + " | ".join(cell(h) for h in headers) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def cell(text: str) -> str:
    """Text safe in a Markdown table cell: no pipes, newlines or raw HTML."""
    return (str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
            .replace("<", "&lt;").replace(">", "&gt;"))


def _code(text: str) -> str:
    text = cell(text).replace("`", "'")
    return f"`{text}`"
