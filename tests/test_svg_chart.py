"""The HTML report's chart tells the truth: every bar stands on the zero line and reaches the
height its activation bytes have on the chart's own left axis (read back from the tick
labels), for VGG16 at 1024x1024x3. Python only; the browser test checks painting."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from analyzer.analysis import analyse
from analyzer.inputs import InputArg
from analyzer.render.svgchart import chart
from analyzer.render.units import MIB

from conftest import FIXTURES

SVG = "{http://www.w3.org/2000/svg}"


def _left_axis(root: ET.Element) -> list[tuple[float, float]]:
    """(value in MiB, y) of each left-axis tick label (the label sits 4 px below its line)."""
    ticks = []
    for t in root.iter("text"):
        if t.get("class") == "tick" and t.get("text-anchor") == "end":
            ticks.append((float(t.text.replace(",", "")), float(t.get("y")) - 4))
    return ticks


def test_bars_match_the_left_axis() -> None:
    report = analyse(str(FIXTURES / "keras3" / "vgg16.h5"),
                     inputs=[InputArg(None, (1024, 1024, 3))])
    root = ET.fromstring(chart(report))
    ticks = _left_axis(root)
    assert len(ticks) >= 3
    (v0, y0), (v1, y1) = ticks[0], ticks[-1]
    assert v0 == 0

    def y_of(mib: float) -> float:
        return y0 + (y1 - y0) * mib / v1

    bars = root.find("g[@class='bars']")
    rects = list(bars.iter("rect"))
    assert len(rects) == len(report.layers) == 23
    for rect, row in zip(rects, report.layers):
        y, h = float(rect.get("y")), float(rect.get("height"))
        assert abs(y + h - y0) < 0.02, row.name  # stands on the zero line
        assert abs(y - y_of(row.activation_bytes / MIB)) < 0.02, (row.name, y)
        title = rect.find("title").text
        assert re.search(rf"{re.escape(row.name)} .*: ([\d,.]+) MiB", title)
    tallest = max(report.layers, key=lambda r: r.activation_bytes)
    assert tallest.activation_bytes / MIB <= v1 < 2 * tallest.activation_bytes / MIB
