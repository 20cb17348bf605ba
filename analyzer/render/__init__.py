"""Renderers: a run (Audit) → text. No figure is computed here, only formatted.

One table: format name -> module (relative to this package) with
``render_audit(audit, options) -> str`` for one or many artifacts. Adding a format is one
module and one line here (docs/design.md).
"""
from __future__ import annotations

import importlib
import os
import re
from typing import TYPE_CHECKING, Callable

from ..report import Report
from .options import Options

if TYPE_CHECKING:
    from ..audit import Audit

FORMATS: dict[str, str] = {
    "table": ".table",
    "json": ".json_out",
    "markdown": ".markdown",
    "csv": ".csv_out",
    "html": ".html_out",
    "summary": ".summary_out",
}


#: File extension of each format, for ``--split`` (one file per artifact).
EXTENSIONS: dict[str, str] = {"table": ".txt", "json": ".json", "markdown": ".md",
                              "csv": ".csv", "html": ".html", "summary": ".txt"}


def render(report: Report, fmt: str, options: Options = Options()) -> str:
    """One report in ``fmt``, as if its file had been named on its own."""
    from ..audit import single

    return render_audit(single(report), fmt, options)


def render_audit(audit: "Audit", fmt: str, options: Options = Options()) -> str:
    """The run's output in ``fmt``; empty when a single named artifact could not be used
    (its one-line error on stderr is the whole answer)."""
    if audit.single and audit.results[0].report is None:
        return ""
    module = importlib.import_module(FORMATS[fmt], __name__)
    fn: Callable[["Audit", Options], str] = module.render_audit
    return fn(audit, options)


def split(audit: "Audit", fmt: str, options: Options = Options()) -> list[tuple[str, str]]:
    """(file name, text) per analysed artifact, each drawn as if named on its own (one
    Markdown file is one pull-request comment); ``NNN-name.ext`` keeps the run's order."""
    from ..audit import Audit

    out = []
    for i, r in enumerate(audit.results, 1):
        text = render_audit(Audit(results=[r], single=True, gate=audit.gate), fmt, options)
        if text:
            stem = re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.basename(os.path.normpath(r.path)))
            out.append((f"{i:03d}-{stem}{EXTENSIONS[fmt]}", text))
    return out
