"""HTML: one self-contained page (inline CSS and SVG; no script, no network, no external
file) with the summary, then per artifact its totals, findings, chart and per-layer table."""
from __future__ import annotations

from html import escape

from .._version import __version__
from ..audit import ArtifactResult, Audit
from ..report import Report
from . import layers, totals
from .options import LayerSelection, Options
from .summary import rows
from .svgchart import chart

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:1100px;padding:1rem 1.5rem;color:#222}
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid
#ddd;padding-bottom:.2rem;word-break:break-all}h3{font-size:1rem;margin:1.2rem 0 .4rem}
table{border-collapse:collapse;margin:.4rem 0}th,td{border:1px solid #ddd;padding:.2rem .5rem;
text-align:left;vertical-align:top}th{background:#f3f3f3}td.num,th.num{text-align:right;
font-variant-numeric:tabular-nums}tr:nth-child(even) td{background:#fbfbfb}
.meta{color:#555}.error{color:#b00020}.warning{color:#8a5a00}.info{color:#555}
.failed{color:#b00020;font-weight:600}.ok{color:#1b7a1b}
ul.findings{padding-left:1.2rem}ul.findings li{margin:.15rem 0}
code{background:#f3f3f3;padding:0 .2rem;border-radius:3px}
figure{margin:.5rem 0}figcaption{color:#555;font-size:.9em}
svg.chart{max-width:100%;height:auto;font:11px system-ui,sans-serif}
svg .axis,svg .legend{font-size:12px}svg .tick{font-size:10px;fill-opacity:.9}
#summary{overflow-x:auto}
"""


def render_audit(audit: Audit, options: Options = Options()) -> str:
    n = len(audit.results)
    title = ("memscan: " + audit.results[0].path) if n == 1 else f"memscan: {n} artifacts"
    out = ['<!DOCTYPE html>', '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           '<link rel="icon" href="data:,">',
           f"<title>{escape(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
           "<header>", "<h1>memscan report</h1>",
           f'<p class="meta">memscan {escape(__version__)} · {n} artifact{"s" if n != 1 else ""}'
           + (f" · budget: {escape(audit.gate.metric)} ≤ {escape(audit.gate.budget.label)}"
              if audit.gate.budget else "")
           + (f" · fail-on: {escape(', '.join(audit.gate.fail_on))}" if audit.gate.fail_on
              else "") + "</p>", "</header>"]
    out += _summary(audit)
    for i, r in enumerate(audit.results, 1):
        out += _artifact(r, i, open_table=n == 1, selection=options.layers)
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def _summary(audit: Audit) -> list[str]:
    headers, body, numeric = rows(audit)
    out = ['<section id="summary">', "<h2>Summary</h2>", _table(headers, body, numeric,
                                                              link_first=True)]
    if audit.skipped:
        out += [f"<details><summary>{len(audit.skipped)} entries skipped</summary><ul>"]
        out += [f"<li><code>{escape(s.path)}</code>: {escape(s.reason)}</li>"
                for s in audit.skipped]
        out += ["</ul></details>"]
    return out + ["</section>"]


def _artifact(r: ArtifactResult, i: int, open_table: bool,
              selection: LayerSelection = LayerSelection()) -> list[str]:
    out = [f'<section class="artifact" id="artifact-{i}">', f"<h2>{escape(r.path)}</h2>"]
    if r.report is None:
        assert r.error is not None
        return out + [f'<p class="error">unusable ({escape(r.error.kind)}): '
                      f"{escape(r.error.message)}</p>", "</section>"]
    rep = r.report
    m = rep.model
    out.append(f'<p class="meta">{escape(m.format)} · {escape(m.producer)}'
               + (f" · model {escape(m.name)}" if m.name else "") + " · inputs "
               + ", ".join(f"<code>{escape(x.name)}</code> {escape(layers.shape(x.shape))} "
                           f"{escape(x.dtype)}" for x in rep.inputs)
               + f" · batch {rep.batch}</p>")
    if r.gate is not None:
        if r.gate.tripped:
            out += [f'<p class="failed">FAILED: {escape(line)}</p>' for line in r.gate.causes]
        else:
            out.append('<p class="ok">passes the gate</p>')
    out += ["<h3>Totals</h3>", _totals(rep), "<h3>Findings</h3>"]
    if rep.findings:
        out.append('<ul class="findings">')
        out += [f'<li><span class="{escape(f.severity)}">{escape(f.severity)}</span> '
                f"<code>{escape(f.code)}</code> {escape(f.message)}</li>" for f in rep.findings]
        out.append("</ul>")
    else:
        out.append("<p>none</p>")
    out += ["<h3>Activation memory over the execution order</h3>", "<figure>",
            chart(rep, f"chart-{i}"), "<figcaption>Bars: bytes of each layer's outputs (batch "
            "included); hover a bar for its layer. Line: see the legend. Layers in execution "
            "order, as in the table below.</figcaption>", "</figure>"]
    # A page holds every row unless --layers asks for fewer ("auto" is for terminals).
    n = selection.top_n(len(rep.layers)) if selection.mode != "auto" else None
    shown = layers.largest(rep, n) if n is not None else list(range(len(rep.layers)))
    note = layers.hidden_note(rep, shown)
    if shown:
        headers, body, numeric = layers.table(rep, shown)
        out += [f"<details{' open' if open_table else ''}><summary>Per-layer table "
                f"({len(shown)} of {len(rep.layers)} rows)</summary>",
                *([f'<p class="meta">{escape(note)}</p>'] if note else []),
                _table(headers, body, numeric), "</details>"]
    elif note:
        out.append(f'<p class="meta">{escape(note)}</p>')
    return out + ["</section>"]


def _totals(rep: Report) -> str:
    """Every figure the text table's totals show, with what it means."""
    rows = [list(r) for r in totals.rows(rep)]
    if totals.note(rep):
        rows.append(["tensors of unknown size", str(rep.totals.unshaped_tensors),
                     totals.note(rep)])
    return _table(["figure", "value", "what it is"], rows, [False, True, False])


def _table(headers: list[str], body: list[list[str]], numeric: list[bool],
           link_first: bool = False) -> str:
    def cls(i: int) -> str:
        return ' class="num"' if numeric[i] else ""

    out = ["<table>", "<thead><tr>" + "".join(f"<th{cls(i)}>{escape(h)}</th>"
                                             for i, h in enumerate(headers)) + "</tr></thead>",
           "<tbody>"]
    for n, row in enumerate(body, 1):
        cells = []
        for i, c in enumerate(row):
            text = escape(c)
            if link_first and i == 0:
                text = f'<a href="#artifact-{n}">{text}</a>'
            cells.append(f"<td{cls(i)}>{text}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out += ["</tbody>", "</table>"]
    return "\n".join(out)
