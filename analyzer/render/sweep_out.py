"""Sweeps rendered: one row per swept value, the largest fitting value and where findings
start. Every number comes from the Sweep object; this module only formats."""
from __future__ import annotations

import csv
import io
import json
import math
from html import escape
from typing import Any, Callable, Optional, Sequence

from ..report import SCHEMA
from ..sweep import Sweep, SweepPoint
from . import fit
from .markdown import cell
from .units import AT_LEAST, MIB, at_least, mib

#: (totals key, column title) of the figures every sweep row shows, in order.
FIGURES = (
    ("params", "params"),
    ("param_bytes", "param MiB"),
    ("feature_map_bytes", "feature maps MiB"),
    ("activation_peak_bytes", "activation peak MiB"),
    ("inference_peak_bytes", "inference peak MiB"),
    ("training_bytes", "training MiB"),
    ("macs", "MACs"),
)


def _columns(s: Sweep) -> list[tuple[str, str]]:
    """FIGURES the points carry (MACs only where this build computes them), then the metric
    when it is not among them."""
    have = [(k, t) for k, t in FIGURES
            if any(p.metric(k) is not None for p in s.points)]
    if s.metric_key not in {k for k, _ in have}:
        have.append((s.metric_key, f"{s.metric} MiB"))
    return have


def _cell(key: str, p: SweepPoint) -> str:
    """One figure of one point, marked ≥ where that point's report leaves something out."""
    value = p.metric(key)
    if value is None:
        return "?"
    text = f"{value:,}" if key in ("params", "macs") else mib(value)
    return at_least(text, not p.totals.lower_bound(key))  # type: ignore[union-attr]


def lower_bound_line(s: Sweep) -> str:
    """Why some figures are marked ≥ ('' when every point is complete)."""
    marked = [p.value for p in s.points if p.totals is not None
              and any(p.totals.lower_bound(k) for k, _ in _columns(s))]
    if not marked:
        return ""
    return (f"{AT_LEAST.strip()}: at {s.over} {', '.join(map(str, marked))} some tensors have no "
            "shape or some layers no MAC count; figures marked ≥ leave them out (lower bounds)")


def _status(s: Sweep, p: SweepPoint) -> str:
    if p.error is not None:
        return "cannot run"
    if s.budget_bytes is None:
        return ""
    v = p.metric(s.metric_key)
    if v is None:
        return "unknown"
    return "fits" if v <= s.budget_bytes else "over"


def table_rows(s: Sweep) -> tuple[list[str], list[list[str]]]:
    cols = _columns(s)
    headers = [s.over] + [t for _, t in cols] + (["budget"] if s.budget_bytes else []) + [
        "findings"]
    body = []
    for p in s.points:
        row = [str(p.value)] + [_cell(k, p) for k, _ in cols]
        if s.budget_bytes:
            row.append(_status(s, p))
        row.append(p.error if p.error else (", ".join(p.findings) or "-"))
        body.append(row)
    return headers, body


def conclusion_lines(s: Sweep) -> list[str]:
    """The answers in words: the largest fitting value, where each finding starts."""
    out = []
    if s.budget_bytes is not None:
        budget = s.budget_label or f"{s.budget_bytes:,} bytes"
        if s.max_fitting is None:
            out.append(f"no {s.over} from {s.points[0].value if s.points else '?'} on fits: "
                       f"{s.metric} exceeds {budget} at every value analysed")
        else:
            p = next(p for p in s.points if p.value == s.max_fitting)
            out.append(f"largest {s.over} within {budget} ({s.metric}): {s.max_fitting} "
                       f"({mib(p.metric(s.metric_key))} MiB)")
    for code, value in s.first_finding.items():
        out.append(f"{code}: from {s.over} {value} on")
    return out


def _header(s: Sweep) -> str:
    m = s.model
    what = f"  [{m.get('format', '?')}, {m.get('producer', '?')}]" if m else ""
    return f"memscan sweep: {s.path}{what}  over {s.over}"


def render_table(sweeps: Sequence[Sweep]) -> str:
    parts = []
    for s in sweeps:
        headers, body = table_rows(s)
        lines = [_header(s), f"method: {s.method}: {s.note}", "",
                 fit.table([fit.Col(h, [row[i] for row in body], numeric=i < len(headers) - 1)
                            for i, h in enumerate(headers)]), ""]
        lines += conclusion_lines(s) or ["no budget given and no findings"]
        lines += [line for line in (lower_bound_line(s),) if line]
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def to_dict(s: Sweep) -> dict[str, Any]:
    return {"schema": SCHEMA, "path": s.path, "model": s.model, "sweep": s.to_dict()}


def render_json(sweeps: Sequence[Sweep]) -> str:
    if len(sweeps) == 1:
        return json.dumps(to_dict(sweeps[0]), indent=2) + "\n"
    return json.dumps({"schema": SCHEMA, "sweeps": [to_dict(s) for s in sweeps]},
                      indent=2) + "\n"


def render_markdown(sweeps: Sequence[Sweep]) -> str:
    out = ["## memscan sweep", ""]
    for s in sweeps:
        headers, body = table_rows(s)
        out += [f"### `{cell(s.path)}` over {cell(s.over)}", ""]
        out += [f"- {cell(line)}" for line in conclusion_lines(s) + [lower_bound_line(s)] if line]
        out += [f"- method: {cell(s.method)}: {cell(s.note)}", "",
                "| " + " | ".join(cell(h) for h in headers) + " |",
                "|" + "|".join(["---:"] * (len(headers) - 1) + ["---"]) + "|"]
        out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in body]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def render_csv(sweeps: Sequence[Sweep]) -> str:
    """One row per artifact and value: exact integers (bytes, not MiB)."""
    keys: list[str] = []
    for s in sweeps:
        for p in s.points:
            if p.totals is not None:
                keys += [k for k, v in vars(p.totals).items()
                         if k not in keys and (isinstance(v, int) or v is None)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", "over", "value", "fits", "findings", "error", *keys])
    for s in sweeps:
        for p in s.points:
            fits = _status(s, p)
            w.writerow([s.path, s.over, p.value, fits, " ".join(p.findings), p.error or "",
                        *("" if p.totals is None or getattr(p.totals, k, None) is None
                          else getattr(p.totals, k) for k in keys)])
    return buf.getvalue()


def render_html(sweeps: Sequence[Sweep]) -> str:
    from .html_out import CSS

    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<link rel="icon" href="data:,">', "<title>memscan sweep</title>",
           f"<style>{CSS}</style>", "</head>", "<body>", "<h1>memscan sweep</h1>"]
    for i, s in enumerate(sweeps, 1):
        headers, body = table_rows(s)
        out += [f'<section class="artifact" id="sweep-{i}">', f"<h2>{escape(s.path)}</h2>",
                f'<p class="meta">over {escape(s.over)} · method {escape(s.method)}: '
                f"{escape(s.note)}</p>", "<ul>"]
        out += [f"<li>{escape(line)}</li>" for line in conclusion_lines(s) + [lower_bound_line(s)]
                if line]
        out += ["</ul>", "<figure>", line_chart(s, f"sweep-chart-{i}"),
                f"<figcaption>{escape(s.metric)} against {escape(s.over)}"
                + (" with the budget as a dashed line" if s.budget_bytes else "")
                + "</figcaption>", "</figure>", "<table><thead><tr>"]
        out += [f'<th class="{"num" if j < len(headers) - 1 else ""}">{escape(h)}</th>'
                for j, h in enumerate(headers)]
        out.append("</tr></thead><tbody>")
        for row in body:
            out.append("<tr>" + "".join(
                f'<td class="{"num" if j < len(row) - 1 else ""}">{escape(c)}</td>'
                for j, c in enumerate(row)) + "</tr>")
        out += ["</tbody></table>", "</section>"]
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


W, H, LEFT, RIGHT, TOP, BOTTOM = 900, 360, 84, 24, 30, 56
LINE, BUDGET, BEST = "#4e79a7", "#e15759", "#59a14f"


def line_chart(s: Sweep, chart_id: str) -> str:
    """An inline SVG: the metric (MiB) at every analysed value, the budget as a dashed line,
    the largest fitting value marked. No script."""
    pts = [(p.value, p.metric(s.metric_key)) for p in s.points]
    known = [(x, y) for x, y in pts if y is not None]
    xs = [x for x, _ in pts] or [0]
    x0, x1 = min(xs), max(xs)
    ymax = max([y for _, y in known] + ([s.budget_bytes] if s.budget_bytes else []) + [1])
    ymax_mib = _nice(ymax / MIB)
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (pw * (x - x0) / (x1 - x0) if x1 > x0 else pw / 2)

    def py(nbytes: float) -> float:
        return TOP + ph - (nbytes / MIB / ymax_mib * ph if ymax_mib else 0)

    out = [f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {W} {H}" width="100%" '
           f'role="img" aria-labelledby="{escape(chart_id)}-title">',
           f'<title id="{escape(chart_id)}-title">{escape(s.metric)} MiB against '
           f'{escape(s.over)}, {len(known)} values</title>',
           f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#ccc"/>']
    for v in _ticks(ymax_mib):
        y = TOP + ph - (v / ymax_mib * ph if ymax_mib else 0)
        out.append(f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{y:.1f}" y2="{y:.1f}" '
                   f'stroke="#e4e4e4"/><text x="{LEFT - 6}" y="{y + 4:.1f}" '
                   f'text-anchor="end" class="tick">{v:,.6g}</text>')
    for x in _x_ticks(xs):
        out.append(f'<text x="{px(x):.1f}" y="{TOP + ph + 16}" text-anchor="middle" '
                   f'class="tick">{x}</text>')
    out.append(f'<text x="{LEFT + pw / 2}" y="{H - 16}" text-anchor="middle" class="axis">'
               f'{escape(s.over)}</text>')
    out.append(f'<text transform="translate(18 {TOP + ph / 2}) rotate(-90)" '
               f'text-anchor="middle" class="axis">{escape(s.metric)} MiB</text>')
    if s.budget_bytes:
        y = py(s.budget_bytes)
        out.append(f'<line class="budget" x1="{LEFT}" x2="{LEFT + pw}" y1="{y:.1f}" '
                   f'y2="{y:.1f}" stroke="{BUDGET}" stroke-dasharray="6 4" stroke-width="1.5">'
                   f'<title>budget {s.budget_bytes:,} bytes</title></line>')
    if known:
        out.append(f'<polyline class="metric" fill="none" stroke="{LINE}" stroke-width="2" '
                   'points="' + " ".join(f"{px(x):.2f},{py(y):.2f}" for x, y in known) + '"/>')
    for x, y in known:
        color = BEST if x == s.max_fitting else LINE
        out.append(f'<circle cx="{px(x):.2f}" cy="{py(y):.2f}" r="{4 if color == BEST else 2.5}"'
                   f' fill="{color}"><title>{escape(s.over)} {x}: {y / MIB:,.2f} MiB'
                   f'{" (largest within the budget)" if color == BEST else ""}</title></circle>')
    out.append("</svg>")
    return "\n".join(out)


def _nice(v: float) -> float:
    if v <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(v))
    return next(m * mag for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if v <= m * mag)


def _ticks(vmax: float) -> list[float]:
    raw = vmax / 5
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return [i * step for i in range(int(vmax / step + 1e-9) + 1)]


def _x_ticks(xs: list[int]) -> list[int]:
    xs = sorted(set(xs))
    if len(xs) <= 10:
        return xs
    every = math.ceil(len(xs) / 10)
    return xs[::every] + ([xs[-1]] if (len(xs) - 1) % every else [])


RENDER: dict[str, Callable[[Sequence[Sweep]], str]] = {
    "table": render_table, "json": render_json, "markdown": render_markdown,
    "csv": render_csv, "html": render_html, "summary": render_table,
}
