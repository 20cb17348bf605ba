"""The table of supported layer classes in docs/layers.md matches the rule registry."""
from __future__ import annotations

from analyzer.shapes.registry import RULES, _load_rule_modules
from analyzer.shapes.table import END, START, markdown

from conftest import ROOT


def test_readme_table_is_in_sync() -> None:
    text = (ROOT / "docs" / "layers.md").read_text()
    block = text[text.index(START):text.index(END) + len(END)]
    assert block == markdown(), "run: python -m analyzer.shapes.table --write docs/layers.md"


def test_table_lists_every_rule() -> None:
    _load_rule_modules()
    block = markdown()
    for name in (n for n in RULES if ":" not in n):  # Keras classes; "onnx:..." are not
        assert f" {name}," in block or f" {name} |" in block, name
