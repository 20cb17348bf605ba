"""JSON: the Report object as is (schema ``memscan/1``)."""
from __future__ import annotations

import json

from ..report import Report


def render(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2) + "\n"
