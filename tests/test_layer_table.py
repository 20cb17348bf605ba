"""The table of supported layer classes in docs/layers.md matches the rule registry."""
from __future__ import annotations

from analyzer.shapes.ops import rules_of
from analyzer.shapes.table import END, START, markdown

from conftest import ROOT


def test_readme_table_is_in_sync() -> None:
    text = (ROOT / "docs" / "layers.md").read_text()
    block = text[text.index(START):text.index(END) + len(END)]
    assert block == markdown(), "run: python -m analyzer.shapes.table --write docs/layers.md"


def test_table_lists_every_rule() -> None:
    block = markdown()
    for name in rules_of("keras"):  # Keras classes; other dialects' ops are not listed
        assert f" {name}," in block or f" {name} |" in block, name
