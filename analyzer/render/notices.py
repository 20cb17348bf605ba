"""The lines memscan writes on stderr after a run: what was skipped, what failed, what tripped.

Order: skipped entries, then unusable artifacts (``memscan: error: ...``), then one line per
artifact that tripped a gate (``memscan: PATH: over budget: ...; fail-on: ...``), each in the
artifacts' order.
"""
from __future__ import annotations

from ..audit import Audit

#: Above this many skipped entries, only counts per reason are shown unless --verbose.
LIST_SKIPPED_UP_TO = 5


def notices(audit: Audit, verbose: bool = False) -> list[str]:
    lines = _skipped(audit, verbose)
    if verbose:
        lines += [f"memscan: {r.path}: {r.report.model.bytes_read:,} bytes transferred"
                  for r in audit.results
                  if r.report is not None and r.report.model.bytes_read is not None]
    lines += [f"memscan: error: {r.error.message}" for r in audit.errors if r.error]
    if not audit.results:
        lines.append("memscan: error: found no model memscan can read"
                     + (f" ({len(audit.skipped)} entries skipped)" if audit.skipped else ""))
    for r in audit.tripped:
        assert r.gate is not None
        lines.append(f"memscan: {r.gate.line}")
    return lines


def _skipped(audit: Audit, verbose: bool) -> list[str]:
    if verbose or len(audit.skipped) <= LIST_SKIPPED_UP_TO:
        return [f"memscan: skipped {s.path}: {s.reason}" for s in audit.skipped]
    by_reason: dict[str, list[str]] = {}
    for s in audit.skipped:
        by_reason.setdefault(s.reason, []).append(s.path)
    lines = []
    for reason, paths in by_reason.items():
        more = f" and {len(paths) - 2} more" if len(paths) > 2 else ""
        lines.append(f"memscan: skipped {len(paths)} entries, {reason}: "
                     f"{', '.join(paths[:2])}{more} (-v names them all)")
    return lines
