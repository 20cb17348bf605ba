"""Diffs: what changed between two versions of a model, from their two reports.

``memscan diff OLD NEW`` analyses both artifacts at the same stated input and compares the
reports: totals side by side with their deltas, layers added, removed and changed (matched
by name first, then the rest by position and type), findings new and gone. Two artifacts of
different formats whose layer names mostly differ (an ``.h5`` and its ONNX export) are
compared on their totals only, and the result says so. Plain data, numbers only.
"""
from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Optional

from .report import Finding, LayerRow, Report

#: Row fields a layer is compared on.
LAYER_FIELDS = ("type", "output_shapes", "params", "param_bytes", "activation_bytes")
#: Below this share of layer names in common (of the smaller model), two artifacts of
#: different formats are compared on their totals only.
MIN_SHARED_NAMES = Fraction(1, 2)


@dataclass(frozen=True)
class TotalDelta:
    key: str
    old: Optional[int]
    new: Optional[int]

    @property
    def delta(self) -> Optional[int]:
        return None if self.old is None or self.new is None else self.new - self.old

    @property
    def pct(self) -> Optional[float]:
        """Growth in percent of the old value; None when either is unknown or old is 0."""
        if self.delta is None or not self.old:
            return None
        return self.delta * 100 / self.old

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "old": self.old, "new": self.new, "delta": self.delta,
                "pct": self.pct}


@dataclass(frozen=True)
class LayerChange:
    """One layer present in both (``old_name`` differs from ``name`` when it was matched by
    position and type), with the fields whose values differ."""

    name: str
    old_name: str
    type: str
    fields: tuple[str, ...]
    old: dict[str, Any]
    new: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "old_name": self.old_name, "type": self.type,
                "fields": list(self.fields), "old": self.old, "new": self.new}


@dataclass
class Diff:
    old: dict[str, Any]
    new: dict[str, Any]
    #: "layers" (rows matched and compared) or "totals" (names do not match across formats).
    compared: str
    note: str
    totals: list[TotalDelta]
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[LayerChange] = field(default_factory=list)
    #: Matched by position and type rather than name: (old name, new name).
    renamed: list[tuple[str, str]] = field(default_factory=list)
    findings_new: list[Finding] = field(default_factory=list)
    findings_gone: list[Finding] = field(default_factory=list)
    metric: str = "total"
    metric_key: str = "total_bytes"
    max_growth_pct: Optional[Fraction] = None

    def total(self, key: str) -> Optional[TotalDelta]:
        return next((t for t in self.totals if t.key == key), None)

    @property
    def tripped(self) -> bool:
        """NEW grew by more than ``max_growth_pct`` percent on the metric (exact)."""
        if self.max_growth_pct is None:
            return False
        t = self.total(self.metric_key)
        if t is None or t.old is None or t.new is None:
            return False
        return t.new * 100 > t.old * (100 + self.max_growth_pct)

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": self.old, "new": self.new, "compared": self.compared, "note": self.note,
            "metric": self.metric, "metric_key": self.metric_key,
            "max_growth_pct": None if self.max_growth_pct is None else float(self.max_growth_pct),
            "tripped": self.tripped,
            "totals": [t.to_dict() for t in self.totals],
            "layers": {"added": self.added, "removed": self.removed,
                       "changed": [c.to_dict() for c in self.changed],
                       "renamed": [{"old": o, "new": n} for o, n in self.renamed]},
            "findings": {"new": [f.to_dict() for f in self.findings_new],
                         "gone": [f.to_dict() for f in self.findings_gone]},
        }


def diff_reports(old: Report, new: Report, metric: str = "total",
                 metric_key: str = "total_bytes",
                 max_growth_pct: Optional[Fraction] = None) -> Diff:
    totals = _totals(old, new)
    names_old = [r.name for r in old.layers]
    names_new = {r.name for r in new.layers}
    shared = sum(1 for n in names_old if n in names_new)
    smaller = max(1, min(len(old.layers), len(new.layers)))
    result = Diff(old=dataclasses.asdict(old.model), new=dataclasses.asdict(new.model),
                  compared="layers", note="", totals=totals, metric=metric,
                  metric_key=metric_key, max_growth_pct=max_growth_pct)
    result.findings_new, result.findings_gone = _findings(old.findings, new.findings)
    if old.model.format != new.model.format and Fraction(shared, smaller) < MIN_SHARED_NAMES:
        result.compared = "totals"
        result.note = (f"{old.model.format} and {new.model.format} name their layers "
                       f"differently ({shared} of {smaller} names shared): totals only")
        return result
    _layers(old.layers, new.layers, result)
    result.note = (f"{len(old.layers)} layers before, {len(new.layers)} after; matched by name"
                   + (f", {len(result.renamed)} more by position and type" if result.renamed
                      else ""))
    return result


def _totals(old: Report, new: Report) -> list[TotalDelta]:
    """Every integer total either report has, in the Totals' own order."""
    out = []
    for f in dataclasses.fields(old.totals):
        a, b = getattr(old.totals, f.name, None), getattr(new.totals, f.name, None)
        if isinstance(a, bool) or isinstance(b, bool):
            continue
        if isinstance(a, int) or isinstance(b, int):
            out.append(TotalDelta(f.name, a if isinstance(a, int) else None,
                                  b if isinstance(b, int) else None))
    return out


def _row(r: LayerRow) -> dict[str, Any]:
    d = dataclasses.asdict(r)
    return {"name": r.name, **{k: d[k] for k in LAYER_FIELDS}}


def _layers(old: list[LayerRow], new: list[LayerRow], out: Diff) -> None:
    new_by_name = {r.name: r for r in new}
    old_names = {r.name for r in old}
    pairs: list[tuple[LayerRow, LayerRow]] = [(r, new_by_name[r.name]) for r in old
                                              if r.name in new_by_name]
    rest_old = [r for r in old if r.name not in new_by_name]
    rest_new = [r for r in new if r.name not in old_names]
    matcher = difflib.SequenceMatcher(a=[r.type for r in rest_old], b=[r.type for r in rest_new],
                                      autojunk=False)
    matched_old, matched_new = set(), set()
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            a, b = rest_old[block.a + k], rest_new[block.b + k]
            pairs.append((a, b))
            out.renamed.append((a.name, b.name))
            matched_old.add(id(a))
            matched_new.add(id(b))
    out.removed = [_row(r) for r in rest_old if id(r) not in matched_old]
    out.added = [_row(r) for r in rest_new if id(r) not in matched_new]
    order = {r.name: i for i, r in enumerate(new)}
    for a, b in sorted(pairs, key=lambda p: order[p[1].name]):
        ra, rb = _row(a), _row(b)
        changed = tuple(k for k in LAYER_FIELDS if ra[k] != rb[k])
        if changed:
            out.changed.append(LayerChange(b.name, a.name, b.type, changed, ra, rb))


def _findings(old: list[Finding], new: list[Finding]) -> tuple[list[Finding], list[Finding]]:
    """Findings whose (code, layer) appears only in NEW, and only in OLD."""
    key = lambda f: (f.code, f.layer)  # noqa: E731
    old_keys, new_keys = {key(f) for f in old}, {key(f) for f in new}
    return ([f for f in new if key(f) not in old_keys],
            [f for f in old if key(f) not in new_keys])
