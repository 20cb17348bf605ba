"""The README's picture of the HTML report is made here, by headless Chromium: VGG16 at
1024x1024x3, with the chart's peak marker painted where the peak is. The PNG goes to
.cache/screenshots/report.png; MEMSCAN_UPDATE_SCREENSHOT=1 also replaces docs/img/report.png
(regenerate on purpose, then look at it)."""
from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest

from chromium import find_chromium, open_page
from conftest import ROOT, run_cli

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None and os.environ.get("CI") != "true",
                                reason="Chromium is not installed (Debian: apt-get install "
                                       "chromium)")
WINDOW = (1200, 1750)

PEAK_CHECK = """(() => {
  const svg = document.querySelector("svg.chart");
  const peak = svg.querySelector("g.peak");
  const dot = peak.querySelector("circle").getBoundingClientRect();
  const label = peak.querySelector("text");
  window.scrollTo(0, 0);
  const box = svg.getBoundingClientRect();
  return {bytes: +peak.dataset.peakBytes, layer: peak.dataset.peakLayer,
          label: label.textContent, dotInChart: dot.x > box.x && dot.x < box.right,
          chartBottom: box.bottom};
})()"""


def test_report_screenshot_with_the_peak_marked(tmp_path: Path) -> None:
    page = tmp_path / "vgg16.html"
    proc = run_cli("fixtures/keras3/vgg16.h5", "--input", "1024,1024,3",
                   "--format", "html", "-o", str(page))
    assert proc.returncode == 0, proc.stderr
    out = ROOT / ".cache" / "screenshots" / "report.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    result = open_page(CHROMIUM, page, PEAK_CHECK, window=f"{WINDOW[0]},{WINDOW[1]}",
                       screenshot=out)
    v = result.value
    assert v["bytes"] == 524 * 2**20 and v["layer"] == "block1_conv2"
    assert v["label"] == "peak 524.00 MiB during block1_conv2" and v["dotInChart"]
    assert v["chartBottom"] < WINDOW[1], "the chart is in the picture"
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width == WINDOW[0] and height > 1500 and len(data) > 20_000
    if os.environ.get("MEMSCAN_UPDATE_SCREENSHOT"):
        (ROOT / "docs" / "img").mkdir(exist_ok=True)
        shutil.copy(out, ROOT / "docs" / "img" / "report.png")
