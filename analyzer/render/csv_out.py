"""CSV: one row per layer, with the artifact's path first. Columns are the report rows' keys
(so keys added to rows later appear as columns); lists are written as JSON, unknown as empty.
Artifacts that could not be analysed have no rows (their error is on stderr)."""
from __future__ import annotations

import csv
import dataclasses
import io
import json
from typing import Any

from ..audit import Audit
from ..report import LayerRow
from .options import Options


def render_audit(audit: Audit, options: Options = Options()) -> str:
    """Every row whatever the options say: CSV is data, not a view."""
    keys = [f.name for f in dataclasses.fields(LayerRow)]
    for rep in audit.reports:  # keys a row subclass or a later version adds
        for r in rep.layers:
            keys += [k for k in dataclasses.asdict(r) if k not in keys]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["path", *keys])
    for rep in audit.reports:
        for r in rep.layers:
            d = dataclasses.asdict(r)
            writer.writerow([rep.model.path, *(_value(d.get(k)) for k in keys)])
    return buf.getvalue()


def _value(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (list, dict, tuple)):
        return json.dumps(v)
    return str(v)
