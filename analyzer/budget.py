"""Budgets and gates: ``--budget 8GiB`` against a ``--metric``, ``--fail-on CODE,...``.

A gate reads a finished Report and says whether it trips, and by how much, in one line per
artifact. It computes nothing about the model: the figures come from ``report.totals``.
Sizes are exact: ``1.5GB`` is 1,500,000,000 bytes, ``1.5GiB`` 1,610,612,736 (no floats).
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Optional, Sequence

from .errors import BadArguments
from .findings import ANY_ERROR, CATALOGUE, Code, Severity, did_you_mean
from .report import Finding, Report, Totals

#: Units --budget understands (case-insensitive), bytes per unit. Decimal and binary.
UNITS: dict[str, int] = {
    "B": 1,
    "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
    "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
}
#: Units of a count budget (``--metric macs --budget 10G``): decimal and binary.
COUNT_UNITS: dict[str, int] = {
    "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
}
_UNITS_LOWER = {k.lower(): k for k in (*UNITS, *COUNT_UNITS)}
_ALL_UNITS = {**UNITS, **COUNT_UNITS}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*$")

#: --metric name -> the key of ``report.totals`` it reads. ``inference`` and ``training`` come
#: from the memory model; a Totals without those keys gives a clear error, never a guess.
METRICS: dict[str, str] = {
    "total": "total_bytes",            # param bytes + feature-map sum (the classic figure)
    "inference": "inference_peak_bytes",
    "training": "training_bytes",
    "params": "param_bytes",
    "macs": "macs",                    # multiply-accumulates (a count, not bytes)
}
#: Metrics that are counts: their budgets take K/M/G/T (and Ki...) units, not bytes.
COUNT_METRICS = frozenset({"macs"})

OVER_BUDGET = Code.OVER_BUDGET


@dataclass(frozen=True)
class Budget:
    """A byte budget as the user wrote it: exact bytes, and the unit to report overages in."""

    nbytes: int
    unit: str = "B"
    text: str = ""
    #: True for a count budget (MACs): ``nbytes`` is then the count.
    counts: bool = False

    @property
    def noun(self) -> str:
        return "MACs" if self.counts else "bytes"

    def show(self, nbytes: int) -> str:
        """``nbytes`` in the budget's unit, with the exact byte (or MAC) count beside it."""
        if self.unit == "B":
            if self.counts:
                return f"{nbytes:,} MACs"
            return f"{nbytes:,} byte{'s' if nbytes != 1 else ''}"
        return f"{nbytes / _ALL_UNITS[self.unit]:,.2f} {self.unit} ({nbytes:,} {self.noun})"

    @property
    def label(self) -> str:
        """The budget as written (``8GiB``), or its bytes when given as a plain number."""
        return self.show(self.nbytes) if self.unit == "B" else self.text

    def short(self, nbytes: int) -> str:
        """``nbytes`` in the budget's unit only (summary tables)."""
        if self.unit == "B":
            return f"{nbytes:,} {'MACs' if self.counts else 'B'}"
        return f"{nbytes / _ALL_UNITS[self.unit]:,.2f} {self.unit}"


def parse_size(text: str) -> Budget:
    """``8GiB``, ``1.5 GB``, ``512MiB``, ``1000000`` (bytes), ``10G`` / ``2Gi`` (a count, for
    --metric macs) -> Budget. BadArguments otherwise."""
    m = _SIZE.match(str(text))
    if not m:
        raise BadArguments(f"--budget {text!r}: expected a number and a unit "
                           f"({', '.join(UNITS)}), e.g. 8GiB")
    unit = _UNITS_LOWER.get((m.group(2) or "B").lower())
    if unit is None:
        raise BadArguments(f"--budget {text!r}: unknown unit {m.group(2)!r}; use one of "
                           f"{', '.join(UNITS)} (or {', '.join(COUNT_UNITS)} for --metric macs)")
    exact = Fraction(m.group(1)) * _ALL_UNITS[unit]
    if exact.denominator != 1:
        raise BadArguments(f"--budget {text!r} is not a whole number of bytes")
    if exact <= 0:
        raise BadArguments(f"--budget {text!r} must be more than 0 bytes")
    return Budget(int(exact), unit, str(text).strip(), counts=unit in COUNT_UNITS)


def check_units(metric: str, budget: Budget) -> Budget:
    """The budget as the metric reads it: a count metric takes a plain number or K/M/G/T
    units, a byte metric byte units; a mix is refused rather than guessed."""
    if metric in COUNT_METRICS:
        if budget.unit in UNITS and budget.unit != "B":
            raise BadArguments(f"--budget {budget.text!r} is bytes but --metric {metric} is a "
                               f"count; use {', '.join(COUNT_UNITS)}, e.g. 10G")
        return dataclasses.replace(budget, counts=True)
    if budget.counts:
        raise BadArguments(f"--budget {budget.text!r} is a count; --metric {metric} is bytes "
                           f"(use {', '.join(UNITS)}, e.g. 8GiB)")
    return budget


def parse_codes(text: str) -> list[str]:
    """``int32-param-overflow,weights-mismatch`` -> codes; each must be in the finding
    catalogue (or be ``any-error``), so a misspelt code cannot turn the gate off."""
    codes = [c.strip() for c in str(text).split(",") if c.strip()]
    if not codes:
        raise BadArguments("--fail-on needs at least one finding code, or any-error")
    known = fail_on_codes()
    for c in codes:
        if c == OVER_BUDGET:
            raise BadArguments(f"--fail-on {c}: that finding comes from --budget, which already "
                               "sets the exit code; known codes: " + ", ".join(known))
        if c not in known:
            raise BadArguments(f"--fail-on {c!r} is not a finding code{did_you_mean(c, known)}"
                               f" known codes: {', '.join(known)}")
    return codes


def fail_on_codes() -> list[str]:
    """What --fail-on accepts: every catalogued code but over-budget, and any-error."""
    return [ANY_ERROR] + sorted(c for c in CATALOGUE if c != OVER_BUDGET)


def parse_metric(text: str) -> str:
    """A --metric name; anything else is refused with the known names and a did-you-mean."""
    metric = str(text).strip()
    if metric not in METRICS:
        raise BadArguments(f"invalid choice: {metric!r}{did_you_mean(metric, list(METRICS))}"
                           f" known metrics: {', '.join(METRICS)}")
    return metric


def check_metric(metric: str) -> None:
    """Refuse a metric this build's Totals does not carry, before analysing anything."""
    key = METRICS[metric]
    if key not in {f.name for f in dataclasses.fields(Totals)}:
        raise BadArguments(f"--metric {metric} reads totals.{key}, which this version of "
                           "memscan does not compute; use --metric total or params")


@dataclass(frozen=True)
class Gate:
    """What trips an artifact: a budget on a metric and/or finding codes."""

    budget: Optional[Budget] = None
    metric: str = "total"
    fail_on: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return self.budget is not None or bool(self.fail_on)


@dataclass
class GateResult:
    """How one report fared against the gate. ``causes`` say why it tripped; ``line`` is the
    one line per artifact the CLI prints."""

    path: str
    metric: str
    value: Optional[int]
    budget: Optional[int]
    over: int = 0
    findings: list[Finding] = field(default_factory=list)
    causes: list[str] = field(default_factory=list)

    @property
    def tripped(self) -> bool:
        return bool(self.causes)

    @property
    def line(self) -> str:
        return f"{self.path}: " + "; ".join(self.causes)


def evaluate(report: Report, gate: Gate) -> GateResult:
    """Check ``report`` against ``gate``; an exceeded budget is also added as a finding."""
    path = report.model.path
    value = getattr(report.totals, METRICS[gate.metric], None)
    result = GateResult(path=path, metric=gate.metric, value=value,
                        budget=gate.budget.nbytes if gate.budget else None)
    if gate.budget is not None:
        b = gate.budget
        if value is None:
            result.causes.append(f"budget not checked: the {gate.metric} figure is "
                                "unknown for this artifact")
        elif value > b.nbytes:
            result.over = value - b.nbytes
            text = (f"{gate.metric} {b.show(value)} is {b.show(result.over)} over the "
                    f"{b.label} budget")
            result.causes.append(f"over budget: {text}")
            report.findings.append(Finding(
                Code.OVER_BUDGET, Severity.ERROR, None, text,
                {"metric": gate.metric, f"value_{b.noun.lower()}": value,
                 f"budget_{b.noun.lower()}": b.nbytes, f"over_{b.noun.lower()}": result.over}))
    if gate.fail_on:
        codes = set(gate.fail_on)
        result.findings = [f for f in report.findings if f.code != OVER_BUDGET and (
            f.code in codes or (ANY_ERROR in codes and f.severity == Severity.ERROR))]
        if result.findings:
            result.causes.append(f"fail-on: {_count(result.findings)}")
    return result


def _count(findings: Sequence[Finding]) -> str:
    """``2 findings: int32-param-overflow (fc1, model), weights-mismatch (fc1)``."""
    by_code: dict[str, list[str]] = {}
    for f in findings:
        by_code.setdefault(f.code, []).append(f.layer or "model")
    parts = []
    for code, layers in by_code.items():
        shown = ", ".join(layers[:5]) + (f", +{len(layers) - 5} more" if len(layers) > 5 else "")
        parts.append(f"{code} ({shown})")
    n = len(findings)
    return f"{n} finding{'s' if n != 1 else ''}: " + ", ".join(parts)
