"""One summary row per artifact, shared by the table, Markdown and HTML renderers.

Cells are formatted strings; every number comes from the report or the gate result.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from ..audit import Audit, ArtifactResult
from ..report import Report
from .fit import Col
from .units import at_least, macs, mib

#: Totals from the memory model: key -> (column title, short title, drop priority).
OPTIONAL_TOTALS = {
    "activation_peak_bytes": ("activation peak MiB", "peak MiB", None),
    "arena_bytes": ("arena MiB", "arena", 4),
    "inference_peak_bytes": ("inference peak MiB", "infer MiB", 3),
    "training_bytes": ("training MiB", "train MiB", 2),
}


@dataclass(frozen=True)
class Column:
    title: str
    cell: Callable[[ArtifactResult], str]
    numeric: bool = False
    #: Narrow text tables: the short title, the drop priority (lowest first, None: kept),
    #: and whether long text may be cut (keeping its end).
    short: str = ""
    drop: Optional[int] = None
    cut: bool = False


def columns(audit: Audit) -> list[Column]:
    cols = [
        Column("artifact", lambda r: r.path, cut=True),
        Column("format", lambda r: r.report.model.format if r.report else "-", drop=1),
        Column("params", _rep(lambda rep: f"{rep.totals.params:,}"), True, drop=6),
        Column("param MiB", _rep(lambda rep: mib(rep.totals.param_bytes)), True, "par MiB", 5),
        Column("feature maps MiB", _rep(lambda rep: _floor(rep, rep.totals.feature_map_bytes)),
               True, "fmaps MiB", 0),
        Column("total MiB", _rep(lambda rep: _floor(rep, rep.totals.total_bytes)), True),
    ]
    for key, (title, short, drop) in OPTIONAL_TOTALS.items():
        if any(getattr(rep.totals, key, None) is not None for rep in audit.reports):
            cols.append(Column(title, _rep(lambda rep, k=key: _floor(rep, getattr(rep.totals, k,
                                                                                    None))),
                               True, short, drop))
    cols.append(Column("MACs", _rep(macs_cell), True, drop=0))
    if audit.gate.budget is not None:
        cols.append(Column(f"budget ({audit.gate.metric} ≤ {audit.gate.budget.label})",
                           lambda r: budget_cell(r, audit), short="budget"))
    cols += [Column("findings", lambda r: findings_cell(r.report) if r.report else "-",
                    drop=7),
             Column("status", status_cell)]
    return cols


def text_columns(audit: Audit) -> list[Col]:
    """The summary as columns a text table can narrow."""
    return [Col(c.title, [c.cell(r) for r in audit.results], c.numeric, c.short, c.drop,
                (40, 16) if c.cut else None, cut_front=c.cut) for c in columns(audit)]


def rows(audit: Audit) -> tuple[list[str], list[list[str]], list[bool]]:
    cols = columns(audit)
    return ([c.title for c in cols], [[c.cell(r) for c in cols] for r in audit.results],
            [c.numeric for c in cols])


def _floor(rep: Report, nbytes) -> str:
    """MiB, marked ≥ when the report leaves tensors of unknown size out."""
    return at_least(mib(nbytes), rep.totals.complete) if nbytes is not None else mib(nbytes)


def _rep(fn: Callable[[Report], str]) -> Callable[[ArtifactResult], str]:
    return lambda r: fn(r.report) if r.report is not None else "-"


def macs_cell(rep: Report) -> str:
    """Total MACs; ``≥`` when some layer's count is unknown."""
    return ("≥ " if rep.totals.layers_with_unknown_macs else "") + macs(rep.totals.macs)


def budget_cell(r: ArtifactResult, audit: Audit) -> str:
    b = audit.gate.budget
    if r.report is None or r.gate is None or b is None:
        return "-"
    if r.gate.value is None:
        return "unknown"
    return f"over by {b.short(r.gate.over)}" if r.gate.over else "within"


def findings_cell(report: Report) -> str:
    counts: dict[str, int] = {}
    for f in report.findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    if not counts:
        return "none"
    return ", ".join(f"{n} {sev}{'s' if n != 1 else ''}" for sev, n in
                     sorted(counts.items(), key=lambda kv: _SEVERITY_ORDER.get(kv[0], 9)))


_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def status_cell(r: ArtifactResult) -> str:
    if r.error is not None:
        return "unusable"
    if r.tripped:
        assert r.gate is not None
        causes = []
        if r.gate.over:
            causes.append("over budget")
        if r.gate.findings:
            causes.append("fail-on")
        if r.gate.value is None and r.gate.budget is not None:
            causes.append("budget unknown")
        return "FAILED: " + ", ".join(causes)
    return "passes" if r.gate is not None else "analysed"
