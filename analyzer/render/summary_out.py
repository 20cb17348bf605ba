"""``--format summary``: the summary table alone, one line per artifact (for build logs; the
full report can go to a file from a second run or another format)."""
from __future__ import annotations

from ..audit import Audit
from . import fit
from .options import Options
from .summary import text_columns


def render_audit(audit: Audit, options: Options = Options()) -> str:
    return fit.table(text_columns(audit), options.width) + "\n"
