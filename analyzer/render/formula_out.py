"""Closed forms rendered: one line per figure, the lattice they hold on, where they were
checked. Formatting only: the polynomials come from analyzer/formula.py."""
from __future__ import annotations

import json
from typing import Callable, Sequence

from ..formula import Formula
from ..report import SCHEMA
from .markdown import cell

UNITS = {"params": "params", "macs": "MACs"}


def lines(f: Formula) -> list[str]:
    m = f.model
    out = [f"memscan formula: {f.path}" + (f"  [{m.get('format')}, {m.get('producer')}]"
                                           if m else "")]
    if not f.holds:
        return out + [f"no exact polynomial: {f.note}"]
    out.append(f"s = the square spatial side; {f.note}")
    out.append(f"fitted at s = {', '.join(map(str, f.fitted_at))}; checked at s = "
               f"{', '.join(map(str, f.checked_at))}")
    width = max(len(k) for k in f.polynomials)
    for key, p in f.polynomials.items():
        out.append(f"  {key:<{width}} = {p.text()} {UNITS.get(key, 'bytes')}")
    if f.unknown:
        out.append(f"not fitted (unknown at some side): {', '.join(f.unknown)}")
    out += [f"not fitted, lower bounds: {key} ({why})" for key, why in f.lower_bounds.items()]
    return out


def render_table(formulas: Sequence[Formula]) -> str:
    return "\n".join("\n".join(lines(f)) + "\n" for f in formulas)


def render_json(formulas: Sequence[Formula]) -> str:
    items = [{"schema": SCHEMA, "path": f.path, "model": f.model, "formula": f.to_dict()}
             for f in formulas]
    doc = items[0] if len(items) == 1 else {"schema": SCHEMA, "formulas": items}
    return json.dumps(doc, indent=2) + "\n"


def render_markdown(formulas: Sequence[Formula]) -> str:
    out = ["## memscan formula", ""]
    for f in formulas:
        out += [f"### `{cell(f.path)}`", ""]
        if not f.holds:
            out += [f"No exact polynomial: {cell(f.note)}", ""]
            continue
        out += [cell(f.note), "", "| figure | polynomial in s |", "|---|---|"]
        out += [f"| {k} | `{cell(p.text())}` {UNITS.get(k, 'bytes')} |"
                for k, p in f.polynomials.items()]
        out += [f"| {k} | not fitted, a lower bound: {cell(why)} |"
                for k, why in f.lower_bounds.items()]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


RENDER: dict[str, Callable[[Sequence[Formula]], str]] = {
    "table": render_table, "summary": render_table, "json": render_json,
    "markdown": render_markdown,
}
