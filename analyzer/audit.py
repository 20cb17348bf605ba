"""The result of a run over one or many artifacts: plain data, what every renderer reads.

One artifact named on its own renders exactly as its Report always did; several render as
``{"schema": "memscan/1", "reports": [...], "skipped": [...]}`` where an artifact that could
not be analysed is an entry ``{"path", "error": {"kind", "message"}}`` among the reports.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from .budget import Gate, GateResult
from .discover import Skipped
from .report import SCHEMA, Report

#: error kinds: the artifact is unreadable, the arguments do not fit it, or memscan failed.
UNREADABLE, BAD_ARGUMENTS, INTERNAL = "unreadable", "bad-arguments", "internal"


@dataclass(frozen=True)
class ArtifactError:
    kind: str
    #: The one line users see, naming the file.
    message: str


@dataclass
class ArtifactResult:
    path: str
    report: Optional[Report] = None
    error: Optional[ArtifactError] = None
    gate: Optional[GateResult] = None

    @property
    def tripped(self) -> bool:
        return self.gate is not None and self.gate.tripped

    def to_dict(self) -> dict[str, Any]:
        if self.report is not None:
            return self.report.to_dict()
        assert self.error is not None
        return {"schema": SCHEMA, "path": self.path,
                "error": {"kind": self.error.kind, "message": self.error.message}}


@dataclass
class Audit:
    results: list[ArtifactResult]
    skipped: list[Skipped] = field(default_factory=list)
    #: One artifact named on its own: render its report as is.
    single: bool = False
    gate: Gate = field(default_factory=Gate)

    @property
    def reports(self) -> list[Report]:
        return [r.report for r in self.results if r.report is not None]

    @property
    def errors(self) -> list[ArtifactResult]:
        return [r for r in self.results if r.error is not None]

    @property
    def tripped(self) -> list[ArtifactResult]:
        return [r for r in self.results if r.tripped]

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "reports": [r.to_dict() for r in self.results],
                "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped]}


def single(report: Report) -> Audit:
    """An Audit of one report, as if its file had been named on its own."""
    return Audit(results=[ArtifactResult(report.model.path, report=report)], single=True)
