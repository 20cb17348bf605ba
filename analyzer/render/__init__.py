"""Renderers: Report → text. No figure is computed here, only formatted."""
from __future__ import annotations

import importlib
from typing import Callable

from ..report import Report

#: format name -> module with ``render(report) -> str``.
RENDERERS: dict[str, str] = {
    "table": "analyzer.render.table",
    "json": "analyzer.render.json_out",
}


def render(report: Report, fmt: str) -> str:
    module = importlib.import_module(RENDERERS[fmt])
    fn: Callable[[Report], str] = module.render
    return fn(report)
