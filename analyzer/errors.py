"""The one error type that may escape memscan's readers: the CLI turns it into one line, exit 2."""
from __future__ import annotations


class MemscanError(Exception):
    """An artifact or an argument that cannot be used. ``str()`` is the one line users see."""

    def __init__(self, message: str, path: object = None) -> None:
        self.path = None if path is None else str(path)
        self.message = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class UnreadableArtifact(MemscanError):
    """The file is not a model memscan can read, or it is malformed."""


class BadArguments(MemscanError):
    """The command line does not fit the artifact (an unknown input name, a wrong rank...)."""


#: Longest exception text quoted inside one of memscan's one-line messages.
FIRST_LINE_LIMIT = 240


def first_line(exc: BaseException, limit: int = FIRST_LINE_LIMIT) -> str:
    """The first non-blank line of an exception's message, at most ``limit`` characters (the
    exception's type name when it has no message), for quoting in a one-line error."""
    message = getattr(exc, "message", None)  # MemscanError, TensorFlow's OpError: no path
    text = message if isinstance(message, str) and message else str(exc)
    lines = text.strip().splitlines()
    return lines[0][:limit] if lines else type(exc).__name__


def typed_first_line(exc: BaseException, limit: int = FIRST_LINE_LIMIT) -> str:
    """``KeyError: 'x'``: the type name and the first line, or the type name alone."""
    text = first_line(exc, limit)
    name = type(exc).__name__
    return name if text == name else f"{name}: {text}"


class MissingExtra(MemscanError):
    """The artifact needs an optional dependency that is not installed (TensorFlow for a
    graph-only SavedModel); the message names the pip command that installs it."""
