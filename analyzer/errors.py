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


class MissingExtra(MemscanError):
    """The artifact needs an optional dependency that is not installed (TensorFlow for a
    graph-only SavedModel); the message names the pip command that installs it."""
