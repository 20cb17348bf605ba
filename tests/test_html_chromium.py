"""The HTML report opens in a real browser: headless Chromium loads VGG16's page at
1024x1024x3 with no console error, no exception, no request beyond the file itself, and
paints the chart (its tallest bar is what the browser finds at that point on screen)."""
from __future__ import annotations

from pathlib import Path

import pytest

from chromium import find_chromium, open_page
from ci import missing
from conftest import FIXTURES, run_cli

CHROMIUM = find_chromium()


@pytest.fixture(autouse=True)
def _chromium_present() -> None:
    """CI installs Chromium (.ci/install-chromium): there its absence is a failure, not a skip;
    elsewhere the test skips with the command that installs it."""
    if CHROMIUM is not None:
        return
    missing("Chromium is not installed (Debian: bash .ci/install-chromium, "
            "or apt-get install chromium)")

CHART_CHECK = """(() => {
  const svg = document.querySelector("svg.chart");
  if (!svg) return {found: false};
  svg.scrollIntoView();
  const box = svg.getBoundingClientRect();
  const bars = [...svg.querySelectorAll("g.bars rect")];
  const tallest = bars.reduce((a, b) => +b.getAttribute("height") > +a.getAttribute("height") ? b : a);
  const t = tallest.getBoundingClientRect();
  const hit = document.elementFromPoint(t.x + t.width / 2, t.y + t.height / 2);
  const line = svg.querySelector("g.curve polyline");
  return {found: true, width: box.width, height: box.height, bars: bars.length,
          tallestPainted: hit === tallest, tallestHeight: t.height,
          linePoints: line ? line.points.numberOfItems : 0,
          lineLength: line ? line.getTotalLength() : 0,
          title: document.title};
})()"""


def test_vgg16_page_opens_without_errors_and_shows_the_chart(tmp_path: Path) -> None:
    page = tmp_path / "vgg16.html"
    proc = run_cli(str(FIXTURES / "keras3" / "vgg16.h5"), "--input", "1024,1024,3",
                   "--format", "html", "-o", str(page))
    assert proc.returncode == 0, proc.stderr
    result = open_page(CHROMIUM, page, CHART_CHECK)
    assert result.console_errors == [] and result.exceptions == []
    assert result.requests == [page.resolve().as_uri()]
    v = result.value
    assert v["found"] and v["title"].endswith("vgg16.h5")
    assert v["width"] > 600 and v["height"] > 250
    assert v["bars"] == 23 and v["tallestPainted"] and v["tallestHeight"] > 100
    assert v["linePoints"] == 23 and v["lineLength"] > 300


def test_the_browser_check_sees_errors_and_requests(tmp_path: Path) -> None:
    """The harness is not blind: a page with a console error, a throw and a remote image."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><head><title>x</title></head><body>'
                    '<script>console.error("boom"); setTimeout(() => { throw new Error("late") });'
                    '</script><img src="http://example.invalid/x.png"></body></html>')
    result = open_page(CHROMIUM, page, "new Promise(r => setTimeout(() => r(1), 200))")
    assert result.value == 1
    assert any("boom" in e for e in result.console_errors)
    assert any("late" in e for e in result.exceptions)
    assert "http://example.invalid/x.png" in result.requests
