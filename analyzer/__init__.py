"""memscan: how much memory a saved model needs at the input you plan, from the file alone.

The public API (``import memscan``; this folder is installed under that name)::

    analyse(path, input=None, *, batch, dims, dtype, weights_dtype, optimizer, signature)
        -> Report
    audit(paths, input=None, *, ..., budget, metric, fail_on, exclude, jobs, client) -> Audit

Errors are :class:`MemscanError` (one line naming the file): :class:`BadArguments`,
:class:`UnreadableArtifact`, :class:`MissingExtra`. Importing is cheap: the readers, numpy
and the rest load when a model is analysed.
"""
from __future__ import annotations

from ._version import __version__
from .errors import BadArguments, MemscanError, MissingExtra, UnreadableArtifact
from .audit import ArtifactResult, Audit
# Last: ``audit`` the function replaces ``audit`` the submodule as this package's attribute.
from .api import Report, analyse, audit

__all__ = ["__version__", "analyse", "audit", "Report", "Audit", "ArtifactResult",
           "MemscanError", "BadArguments", "UnreadableArtifact", "MissingExtra"]
