"""Diffs rendered: a short summary first (the metric's change, layer and finding counts),
then totals side by side, then the layers and findings that changed. Formatting only."""
from __future__ import annotations

import json
from typing import Any, Callable, Optional

from ..diff import Diff, LayerChange, TotalDelta
from ..report import SCHEMA
from . import fit
from .markdown import cell
from .units import mib, shapes_text

#: Totals shown in the side-by-side table (all are in the JSON), with their titles.
SHOWN_TOTALS = {
    "params": "params",
    "param_bytes": "param memory",
    "feature_map_bytes": "feature maps",
    "total_bytes": "total",
    "activation_peak_bytes": "activation peak",
    "inference_peak_bytes": "inference peak",
    "arena_bytes": "arena",
    "training_bytes": "training",
    "macs": "MACs",
}
_COUNTS = {"params", "stored_params", "macs", "layers_with_unknown_shapes"}


def _value(key: str, v: Optional[int]) -> str:
    if v is None:
        return "?"
    return f"{v:,}" if key in _COUNTS else f"{mib(v)} MiB"


def _delta(t: TotalDelta) -> str:
    if t.delta is None:
        return "?"
    sign = "+" if t.delta > 0 else ""
    text = f"{sign}{t.delta:,}" if t.key in _COUNTS else f"{sign}{mib(t.delta)} MiB"
    return text


def _pct(t: TotalDelta) -> str:
    return "-" if t.pct is None else f"{t.pct:+.2f}%"


def summary_line(d: Diff) -> str:
    t = d.total(d.metric_key)
    head = (f"{d.metric}: {_value(d.metric_key, t.old)} -> {_value(d.metric_key, t.new)} "
            f"({_delta(t)}, {_pct(t)})" if t else f"{d.metric}: not in both reports")
    if d.compared == "totals":
        layers = "layers not compared (names do not match across formats)"
    else:
        layers = (f"{len(d.added)} layers added, {len(d.removed)} removed, "
                  f"{len(d.changed)} changed")
    findings = f"{len(d.findings_new)} findings new, {len(d.findings_gone)} gone"
    gate = ""
    if d.max_growth_pct is not None:
        gate = (f"; FAILED: grew more than {float(d.max_growth_pct):g}%" if d.tripped
                else f"; within the {float(d.max_growth_pct):g}% growth limit")
    return f"{head}; {layers}; {findings}{gate}"


def totals_rows(d: Diff) -> list[list[str]]:
    return [[SHOWN_TOTALS[t.key], _value(t.key, t.old), _value(t.key, t.new), _delta(t),
             _pct(t)] for t in d.totals if t.key in SHOWN_TOTALS]


def _change_text(c: LayerChange) -> str:
    parts = []
    for k in c.fields:
        a, b = c.old[k], c.new[k]
        if k == "output_shapes":
            a, b = shapes_text(a), shapes_text(b)
        elif k in ("param_bytes", "activation_bytes"):
            a, b = f"{mib(a)} MiB", f"{mib(b)} MiB"
        elif isinstance(a, int) and isinstance(b, int):
            a, b = f"{a:,}", f"{b:,}"
        parts.append(f"{k} {a} -> {b}")
    return "; ".join(parts)


def layer_lines(d: Diff) -> list[tuple[str, str, str]]:
    """(mark, layer, what) rows: + added, - removed, ~ changed, = renamed only."""
    rows = [("+", r["name"], f"{r['type']} {shapes_text(r['output_shapes'])}, "
             f"{r['params']:,} params") for r in d.added]
    rows += [("-", r["name"], f"{r['type']} {shapes_text(r['output_shapes'])}, "
              f"{r['params']:,} params") for r in d.removed]
    changed_names = {c.name for c in d.changed}
    for c in d.changed:
        label = c.name if c.old_name == c.name else f"{c.old_name} -> {c.name}"
        rows.append(("~", label, _change_text(c)))
    rows += [("=", f"{o} -> {n}", "renamed (matched by position and type), unchanged")
             for o, n in d.renamed if n not in changed_names]
    return rows


def render_table(d: Diff) -> str:
    lines = [f"memscan diff: {d.old['path']} -> {d.new['path']}", summary_line(d), ""]
    rows = totals_rows(d)
    lines.append(fit.table([fit.Col(title, [r[i] for r in rows], numeric=i > 0)
                            for i, title in enumerate(["total", "old", "new", "delta", "%"])]))
    lines += ["", f"layers: {d.note}"]
    lines += [f"  {m} {name}: {what}" for m, name, what in layer_lines(d)]
    lines += ["", "findings:"]
    lines += [f"  new  {f.severity:<7} {f.code} ({f.layer or 'model'}): {f.message}"
              for f in d.findings_new]
    lines += [f"  gone {f.severity:<7} {f.code} ({f.layer or 'model'}): {f.message}"
              for f in d.findings_gone]
    if not d.findings_new and not d.findings_gone:
        lines.append("  none new, none gone")
    return "\n".join(lines) + "\n"


def render_json(d: Diff) -> str:
    out: dict[str, Any] = {"schema": SCHEMA, "diff": d.to_dict()}
    return json.dumps(out, indent=2) + "\n"


def render_markdown(d: Diff) -> str:
    out = ["## memscan diff", "", f"`{cell(d.old['path'])}` → `{cell(d.new['path'])}`", "",
           f"**{cell(summary_line(d))}**", "",
           "| total | old | new | delta | % |", "|---|---:|---:|---:|---:|"]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in totals_rows(d)]
    rows = layer_lines(d)
    out += ["", f"<details><summary>Layers: {cell(d.note)} ({len(rows)} differences)</summary>",
            ""]
    if rows:
        out += ["| | layer | change |", "|---|---|---|"]
        out += [f"| {m} | `{cell(name)}` | {cell(what)} |" for m, name, what in rows]
    else:
        out.append("No layer differences.")
    out += ["", "</details>", ""]
    if d.findings_new or d.findings_gone:
        out += [f"- new **{f.severity}** `{f.code}` ({cell(f.layer or 'model')}): "
                f"{cell(f.message)}" for f in d.findings_new]
        out += [f"- gone **{f.severity}** `{f.code}` ({cell(f.layer or 'model')}): "
                f"{cell(f.message)}" for f in d.findings_gone]
    else:
        out.append("No findings new or gone.")
    return "\n".join(out) + "\n"


RENDER: dict[str, Callable[[Diff], str]] = {
    "table": render_table, "json": render_json, "markdown": render_markdown,
}
