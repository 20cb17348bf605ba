"""errors.first_line: the one way memscan quotes an exception inside a one-line message."""
from __future__ import annotations

from analyzer.errors import FIRST_LINE_LIMIT, UnreadableArtifact, first_line, typed_first_line


def test_first_non_blank_line_bounded() -> None:
    assert first_line(ValueError("\n  bad dims\nTraceback...\n")) == "bad dims"
    assert first_line(ValueError("x" * 1000)) == "x" * FIRST_LINE_LIMIT
    assert first_line(ValueError("abcdef"), limit=3) == "abc"


def test_empty_message_gives_the_type_name() -> None:
    assert first_line(RuntimeError()) == "RuntimeError"
    assert typed_first_line(RuntimeError()) == "RuntimeError"
    assert typed_first_line(KeyError("w")) == "KeyError: 'w'"


def test_memscan_errors_are_quoted_without_their_path() -> None:
    exc = UnreadableArtifact("malformed saved_model.pb", "/some/model")
    assert str(exc) == "/some/model: malformed saved_model.pb"
    assert first_line(exc) == "malformed saved_model.pb"
