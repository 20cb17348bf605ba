"""Renderers: Report → text. No figure is computed here, only formatted."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Callable

from ..report import Report

if TYPE_CHECKING:
    from ..audit import Audit

#: format name -> module with ``render(report) -> str``.
RENDERERS: dict[str, str] = {
    "table": "analyzer.render.table",
    "json": "analyzer.render.json_out",
    "markdown": "analyzer.render.markdown",
    "csv": "analyzer.render.csv_out",
    "html": "analyzer.render.html_out",
    "summary": "analyzer.render.summary_out",
}

#: format name -> module with ``render_audit(audit) -> str``: one or many artifacts.
FORMATS: dict[str, str] = {
    "table": "analyzer.render.table_audit",
    "json": "analyzer.render.json_out",
    "markdown": "analyzer.render.markdown",
    "csv": "analyzer.render.csv_out",
    "html": "analyzer.render.html_out",
    "summary": "analyzer.render.summary_out",
}


def render(report: Report, fmt: str) -> str:
    module = importlib.import_module(RENDERERS[fmt])
    fn: Callable[[Report], str] = module.render
    return fn(report)


def render_audit(audit: "Audit", fmt: str) -> str:
    """The run's output in ``fmt``; empty when a single named artifact could not be used
    (its one-line error on stderr is the whole answer)."""
    if audit.single and audit.results[0].report is None:
        return ""
    module = importlib.import_module(FORMATS[fmt])
    fn: Callable[["Audit"], str] = module.render_audit
    return fn(audit)
