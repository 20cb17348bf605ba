"""memscan: how much memory a saved model needs at the input you plan, from the file alone."""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "analyse"]


def analyse(*args, **kwargs):  # noqa: ANN002, ANN003 - thin lazy re-export
    """See :func:`analyzer.analysis.analyse`."""
    from .analysis import analyse as _analyse

    return _analyse(*args, **kwargs)
