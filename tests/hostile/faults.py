"""Simulated reader faults for the isolation tests, from outside the shipped code.

``crashing(action, only)`` is an ``analysis.analyse`` that aborts, spins or allocates for ever
(only for paths containing ``only``, if given) before analysing: monkeypatch it in, and the
forked isolated child, which looks ``analysis.analyse`` up when it runs, does that.

``python tests/hostile/faults.py ACTION[:TEXT] -- ARGS...`` runs the real CLI (as
``python -m analyzer ARGS``) with the fault planted, for tests of exit codes and messages.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Callable


def crashing(action: str, only: str = "") -> Callable[..., Any]:
    from analyzer import analysis

    real = analysis.analyse

    def analyse(path: str, *args: Any, **kwargs: Any) -> Any:
        if not only or only in str(path):
            if action == "abort":
                os.abort()
            elif action == "hang":
                while True:
                    pass
            elif action == "oom":
                hog = []
                while True:
                    hog.append(bytearray(64 * 2**20))
            else:
                raise ValueError(f"unknown fault {action!r}")
        return real(path, *args, **kwargs)

    return analyse


def main() -> int:
    spec, sep, *args = sys.argv[1:]
    assert sep == "--", "usage: faults.py ACTION[:TEXT] -- ARGS..."
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path[0] = root  # as `python -m analyzer` from the checkout
    from analyzer import analysis
    from analyzer.cli import main as cli_main

    action, _, only = spec.partition(":")
    analysis.analyse = crashing(action, only)  # type: ignore[assignment]
    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
