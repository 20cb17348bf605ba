"""Under CI=true nothing a test needs may be missing silently: a failed download fails (not
skips), and so does a missing Chromium; outside CI both skip with the reason."""
from __future__ import annotations

import pytest

import artifacts
import ci

NO_SUCH = ("memscan-no-such-package", "0.0.1", "x.onnx", None)


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """An index that answers nothing, and an empty cache."""
    monkeypatch.setattr(artifacts, "CACHE", tmp_path / "cache")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)


def _outcome(call) -> BaseException:
    """The skip/fail outcome ``call`` raises, caught whatever it is (a skip caught by a
    pytest.raises(Failed) would skip this test instead of failing it)."""
    with pytest.raises(BaseException) as info:
        call()
    return info.value


def test_failed_download_fails_under_ci(offline, monkeypatch):
    monkeypatch.setenv("CI", "true")
    out = _outcome(lambda: artifacts.fetch(*NO_SUCH))
    assert type(out) is pytest.fail.Exception, repr(out)
    assert "CI=true: cannot fetch memscan-no-such-package==0.0.1" in str(out)


def test_failed_download_skips_outside_ci(offline, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    out = _outcome(lambda: artifacts.fetch(*NO_SUCH))
    assert type(out) is pytest.skip.Exception, repr(out)
    assert "cannot fetch memscan-no-such-package==0.0.1" in str(out)


@pytest.mark.parametrize("value, strict", [("true", True), ("TRUE", True), ("", False),
                                           ("false", False)])
def test_missing_follows_ci(monkeypatch, value, strict):
    monkeypatch.setenv("CI", value)
    expected = pytest.fail.Exception if strict else pytest.skip.Exception
    assert type(_outcome(lambda: ci.missing("Chromium is not installed"))) is expected
