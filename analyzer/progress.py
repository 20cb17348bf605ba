"""A one-line progress bar on stderr, shown only when stderr is a terminal and there is more
than one artifact: pipelines and logs never see it."""
from __future__ import annotations

import os
import shutil
from typing import Optional, TextIO


class Progress:
    def __init__(self, total: int, stream: Optional[TextIO]) -> None:
        self.total = total
        self.done = 0
        self.stream = stream
        self.enabled = bool(stream is not None and total > 1 and _isatty(stream))

    def advance(self, label: str = "") -> None:
        self.done += 1
        if not self.enabled:
            return
        width = shutil.get_terminal_size((80, 20)).columns
        bar_w = 24
        filled = bar_w * self.done // self.total
        head = f"memscan [{'#' * filled}{'.' * (bar_w - filled)}] {self.done}/{self.total} "
        room = max(0, width - len(head) - 1)
        name = os.path.basename(label)
        text = head + (name if len(name) <= room else "…" + name[-room + 1:] if room > 1 else "")
        self.stream.write("\r" + text.ljust(width - 1))
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            width = shutil.get_terminal_size((80, 20)).columns
            self.stream.write("\r" + " " * (width - 1) + "\r")
            self.stream.flush()
            self.enabled = False


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
