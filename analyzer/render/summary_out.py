"""``--format summary``: the summary table alone, one line per artifact (for build logs; the
full report can go to a file from a second run or another format)."""
from __future__ import annotations

from tabulate import tabulate

from ..audit import Audit
from ..report import Report
from .summary import rows


def render(report: Report) -> str:
    from ..audit import single

    return render_audit(single(report))


def render_audit(audit: Audit) -> str:
    headers, body, numeric = rows(audit)
    return tabulate(body, headers=headers, disable_numparse=True,
                    colalign=tuple("right" if n else "left" for n in numeric)) + "\n"
