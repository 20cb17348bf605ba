"""Markdown for pull-request comments: a summary row per artifact, then per artifact its
findings and its per-layer table folded in a ``<details>`` block."""
from __future__ import annotations

from typing import Optional, Sequence

from ..audit import ArtifactResult, Audit
from . import layers
from .options import LayerSelection, Options
from .summary import rows
from .units import unshaped_line

#: GitHub's limit on a comment's (and a job summary's) characters: one artifact's Markdown
#: (its document on its own) never exceeds it; the per-layer table loses rows instead.
MAX_CHARS = 65_536


def render_audit(audit: Audit, options: Options = Options()) -> str:
    out = _head(audit)
    for r in audit.results:
        room = MAX_CHARS - len(_join(_head(_alone(r, audit)))) - 1
        out += _artifact(r, options.layers, room)
    return _join(out)


def _join(lines: list[str]) -> str:
    return "\n".join(lines).rstrip("\n") + "\n"


def _alone(r: ArtifactResult, audit: Audit) -> Audit:
    return Audit(results=[r], single=True, gate=audit.gate)


def _head(audit: Audit) -> list[str]:
    headers, body, numeric = rows(audit)
    out = ["## memscan report", "", _table(headers, body, numeric), ""]
    if audit.skipped:
        out += [f"{len(audit.skipped)} entries skipped (not models memscan can read).", ""]
    return out


def _artifact(r: ArtifactResult, selection: LayerSelection, room: int) -> list[str]:
    """The artifact's section in at most ``room`` characters (rows dropped to fit)."""
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
    n = selection.top_n(len(rep.layers)) if selection.mode != "auto" else None
    shown = layers.largest(rep, n) if n is not None else list(range(len(rep.layers)))
    table = _layer_table(rep, shown, layers.hidden_note(rep, shown))
    if len(_join(out + table)) > room:
        shown = _fitting(rep, shown, room - len(_join(out)) - len(_join(table[:2])) - 400)
        table = _layer_table(rep, shown, layers.hidden_note(
            rep, shown, " to stay under GitHub's 65,536-character comment limit",
            "--format csv, json or html has every row"))
    return out + table


def _layer_table(rep, shown: Sequence[int], note: Optional[str]) -> list[str]:
    if not shown:
        return ["", f"_{cell(note)}_", ""] if note else [""]
    headers, body, numeric = layers.table(rep, shown)
    return (["", f"<details><summary>Per-layer table ({len(shown)} of {len(rep.layers)} rows)"
             "</summary>", ""] + ([f"_{cell(note)}_", ""] if note else [])
            + [_table(headers, body, numeric), "", "</details>", ""])


def _fitting(rep, shown: Sequence[int], room: int) -> list[int]:
    """The rows of ``shown`` with the most activation bytes whose lines fit in ``room``."""
    headers, body, numeric = layers.table(rep, shown)
    size = {i: len(_table(headers, [row], numeric).splitlines()[-1]) + 1
            for i, row in zip(shown, body)}
    fixed = len(_table(headers, [], numeric)) + 1
    kept, used = [], fixed
    for i in sorted(shown, key=lambda i: (-(rep.layers[i].activation_bytes or 0), i)):
        if used + size[i] > room:
            break
        kept.append(i)
        used += size[i]
    return sorted(kept)


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
