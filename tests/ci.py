"""What a test does when something it needs is missing: outside CI it skips with the reason;
under ``CI=true`` (the CI run, .ci/run) it fails, so a missing browser or an unreachable
package index can never turn a check into a silent pass."""
from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def missing(reason: str) -> NoReturn:
    """Skip (outside CI) or fail (under CI=true) with ``reason``."""
    if in_ci():
        pytest.fail(f"CI=true: {reason}", pytrace=False)
    pytest.skip(reason)
