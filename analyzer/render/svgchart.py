"""An inline SVG chart: activation bytes per layer as bars, and a memory curve over the
execution order as a line on its own axis. No script: hovering a bar shows its <title>.

The curve is the memory model's live bytes while each layer runs (``live_bytes_peak`` on the
rows: its inputs, outputs and everything still held), so its highest point is the activation
peak, marked with its value and layer; failing that, live bytes after each layer; otherwise the running sum of the bars, labelled as what it
is (the feature-map sum so far, an upper bound that frees nothing), never as live memory.
"""
from __future__ import annotations

import math
from html import escape
from typing import Optional, Sequence

from ..report import Report
from .units import MIB

BAR, CURVE, UNKNOWN = "#4e79a7", "#e15759", "#bab0ac"
W, H = 1000, 420
LEFT, RIGHT, TOP, BOTTOM = 84, 92, 44, 64


def curve_of(report: Report) -> tuple[list[Optional[int]], str, bool]:
    """(values, legend, is_live): live bytes per row if present, else the running sum."""
    during = [r.live_bytes_peak for r in report.layers]
    if any(v is not None for v in during):
        return during, "live memory during each layer (memory model)", True
    live = [r.live_bytes_after for r in report.layers]
    if any(v is not None for v in live):
        return live, "live memory after each layer (memory model)", True
    running, acc = [], 0
    for r in report.layers:  # a display aid only: its last point is totals.feature_map_bytes
        acc += r.activation_bytes or 0
        running.append(acc)
    return (running, "cumulative feature maps (sum of outputs so far; not live memory)", False)


def chart(report: Report, chart_id: str = "chart") -> str:
    rows = report.layers
    bars = [r.activation_bytes for r in rows]
    curve, legend, live = curve_of(report)
    n = max(1, len(rows))
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    bmax = _nice_max(max((b for b in bars if b), default=0) / MIB)
    cmax = _nice_max(max((c for c in curve if c), default=0) / MIB)
    step = pw / n
    out = [f'<svg class="chart" id="{escape(chart_id)}" data-curve="{"live" if live else "cumulative"}"'
           f' viewBox="0 0 {W} {H}" width="100%" '
           f'role="img" aria-labelledby="{escape(chart_id)}-title">',
           f'<title id="{escape(chart_id)}-title">Activation MiB per layer (bars) and '
           f'{escape(legend)} (line), {len(rows)} layers in execution order</title>',
           f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="#fafafa" '
           'stroke="#ccc"/>']
    # axes, gridlines and tick labels
    for i, v in enumerate(_ticks(bmax)):
        y = TOP + ph - (v / bmax * ph if bmax else 0)
        out.append(f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{y:.1f}" y2="{y:.1f}" '
                   'stroke="#e4e4e4"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick" '
                   f'fill="{BAR}">{_num(v)}</text>')
    for v in _ticks(cmax):
        y = TOP + ph - (v / cmax * ph if cmax else 0)
        out.append(f'<text x="{LEFT + pw + 6}" y="{y + 4:.1f}" class="tick" '
                   f'fill="{CURVE}">{_num(v)}</text>')
    for i in _index_ticks(len(rows)):
        x = LEFT + (i - 0.5) * step
        out.append(f'<text x="{x:.1f}" y="{TOP + ph + 16}" text-anchor="middle" '
                   f'class="tick">{i}</text>')
    out.append(f'<text x="{LEFT + pw / 2}" y="{H - 22}" text-anchor="middle" class="axis">'
               'layer, in execution order</text>')
    out.append(f'<text transform="translate(18 {TOP + ph / 2}) rotate(-90)" text-anchor="middle"'
               f' class="axis" fill="{BAR}">activation MiB per layer</text>')
    out.append(f'<text transform="translate({W - 16} {TOP + ph / 2}) rotate(90)" '
               f'text-anchor="middle" class="axis" fill="{CURVE}">'
               f'{"live MiB" if live else "cumulative MiB"}</text>')
    # bars
    out.append('<g class="bars">')
    for i, (r, b) in enumerate(zip(rows, bars)):
        x = LEFT + i * step + step * 0.1
        w = max(step * 0.8, 0.5)
        if b is None:
            out.append(f'<rect x="{x:.2f}" y="{TOP + ph - 4}" width="{w:.2f}" height="4" '
                       f'fill="{UNKNOWN}"><title>{escape(r.name)} ({escape(r.type)}): '
                       'activation bytes unknown</title></rect>')
            continue
        h = b / MIB / bmax * ph if bmax else 0
        out.append(f'<rect x="{x:.2f}" y="{TOP + ph - h:.2f}" width="{w:.2f}" height="{h:.2f}" '
                   f'fill="{BAR}"><title>{i + 1}. {escape(r.name)} ({escape(r.type)}): '
                   f'{b / MIB:,.2f} MiB</title></rect>')
    out.append('</g>')
    # the curve, broken where a value is unknown
    segments: list[list[str]] = [[]]
    for i, c in enumerate(curve):
        if c is None:
            segments.append([])
            continue
        x = LEFT + (i + 0.5) * step
        y = TOP + ph - (c / MIB / cmax * ph if cmax else 0)
        segments[-1].append(f"{x:.2f},{y:.2f}")
    out.append('<g class="curve">')
    for seg in segments:
        if len(seg) == 1:
            x, y = seg[0].split(",")
            out.append(f'<circle cx="{x}" cy="{y}" r="2.5" fill="{CURVE}"/>')
        elif seg:
            out.append(f'<polyline points="{" ".join(seg)}" fill="none" stroke="{CURVE}" '
                       'stroke-width="2"/>')
    out.append('</g>')
    out += _peak_marker(report, curve, step, ph, cmax) if live else []
    # legend
    out.append(f'<rect x="{LEFT}" y="12" width="12" height="12" fill="{BAR}"/>'
               f'<text x="{LEFT + 18}" y="22" class="legend">activation MiB of each layer\'s '
               'output (left axis)</text>')
    out.append(f'<line x1="{LEFT + 380}" x2="{LEFT + 400}" y1="18" y2="18" stroke="{CURVE}" '
               f'stroke-width="2"/><text x="{LEFT + 406}" y="22" class="legend">'
               f'{escape(legend)} (right axis)</text>')
    out.append("</svg>")
    return "\n".join(out)


def _peak_marker(report: Report, curve: list[Optional[int]], step: float, ph: float,
                 cmax: float) -> list[str]:
    """A dot and a label on the curve's highest point: the activation peak and its layer."""
    known = [(c, i) for i, c in enumerate(curve) if c is not None]
    if not known or not cmax:
        return []
    value, i = max(known, key=lambda ci: (ci[0], -ci[1]))
    x = LEFT + (i + 0.5) * step
    y = TOP + ph - value / MIB / cmax * ph
    label = f"peak {value / MIB:,.2f} MiB during {report.layers[i].name}"
    anchor = "start" if x < LEFT + (W - LEFT - RIGHT) / 2 else "end"
    dx = 8 if anchor == "start" else -8
    name = escape(report.layers[i].name)
    return [f'<g class="peak" data-peak-bytes="{value}" data-peak-layer="{name}">',
            f'<circle cx="{x:.2f}" cy="{y:.2f}" r="4.5" fill="none" stroke="{CURVE}" '
            'stroke-width="2"/>',
            f'<text x="{x + dx:.2f}" y="{max(y - 8, TOP + 12):.2f}" text-anchor="{anchor}" '
            f'class="legend" fill="{CURVE}">{escape(label)}</text>', "</g>"]


def _nice_max(v: float) -> float:
    if v <= 0:
        return 0.0
    mag = 10 ** math.floor(math.log10(v))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if v <= m * mag:
            return m * mag
    return 10 * mag


def _ticks(vmax: float) -> Sequence[float]:
    if vmax <= 0:
        return [0.0]
    raw = vmax / 5
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    k = int(math.floor(vmax / step + 1e-9))
    return [i * step for i in range(k + 1)]


def _index_ticks(n: int) -> list[int]:
    if n <= 0:
        return []
    raw = max(1, n / 10)
    mag = 10 ** math.floor(math.log10(raw))
    step = int(next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw))
    return [1] + [i for i in range(step, n + 1, step) if i != 1]


def _num(v: float) -> str:
    return f"{v:,.0f}" if v >= 10 or v == int(v) else f"{v:,.2g}"
