"""The suite's own time rules (docs/testing.md, "Suite time"): no module imports a heavy
framework at collection, and the list of long modules that conftest schedules first names
modules that exist."""
from __future__ import annotations

import conftest
from conftest import ROOT


def test_collecting_imports_no_heavy_framework() -> None:
    """A module-level ``import keras`` (or ``pytest.importorskip("keras")``) loads TensorFlow
    into every xdist worker before any test runs; import it inside the test or a child."""
    assert conftest.HEAVY_AT_COLLECTION == [], (
        f"imported while collecting: {conftest.HEAVY_AT_COLLECTION}; check with "
        "importlib.util.find_spec, import inside the test or run it in a child process")


def test_slow_modules_exist() -> None:
    missing = [m for m in conftest.SLOW_MODULES if not (ROOT / m).is_file()]
    assert not missing, f"conftest.SLOW_MODULES names modules that are gone: {missing}"
