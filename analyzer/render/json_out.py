"""JSON: the Report object as is (schema ``memscan/1``); several artifacts as
``{"schema": "memscan/1", "reports": [...], "skipped": [...]}`` (schema/memscan-1.schema.json)."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .options import Options

if TYPE_CHECKING:
    from ..audit import Audit


def render_audit(audit: "Audit", options: Options = Options()) -> str:
    """Every row whatever the options say: JSON is data, not a view."""
    if audit.single:
        return json.dumps(audit.results[0].to_dict(), indent=2) + "\n"
    return json.dumps(audit.to_dict(), indent=2) + "\n"
