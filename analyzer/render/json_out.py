"""JSON: the Report object as is (schema ``memscan/1``); several artifacts as
``{"schema": "memscan/1", "reports": [...], "skipped": [...]}`` (schema/memscan-1.schema.json)."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..report import Report

if TYPE_CHECKING:
    from ..audit import Audit


def render(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2) + "\n"


def render_audit(audit: "Audit") -> str:
    if audit.single:
        return render(audit.results[0].report)  # type: ignore[arg-type]
    return json.dumps(audit.to_dict(), indent=2) + "\n"
