"""Open a page in headless Chromium and ask it what it did, over the DevTools protocol on a
pipe (``--remote-debugging-pipe``: no port, no websocket library).

``open_page(path)`` loads a local file in a fresh profile with networking off and returns the
console errors, uncaught exceptions, every URL the page requested, and the value of a
JavaScript expression evaluated after the load event.
"""
from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> Optional[str]:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageResult:
    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    value: Any = None


class _Pipe:
    def __init__(self, write_fd: int, read_fd: int) -> None:
        self.w, self.r = write_fd, read_fd
        self.buf = b""
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: Optional[dict] = None, session: Optional[str] = None,
             timeout: float = 30) -> dict:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        want = self.next_id
        deadline = time.monotonic() + timeout
        while True:
            for m in self._read(deadline):
                if m.get("id") == want:
                    if "error" in m:
                        raise RuntimeError(f"{method}: {m['error']}")
                    return m.get("result", {})
                self.events.append(m)

    def wait_event(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for e in self.events:
                if e.get("method") == method:
                    return e
            self.events += self._read(deadline)

    def _read(self, deadline: float) -> list[dict]:
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.r], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self.r, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the pipe")
            self.buf += chunk
        *msgs, self.buf = self.buf.split(b"\0")
        return [json.loads(m) for m in msgs if m]


def open_page(chromium: str, page: Path, expression: str, timeout: float = 60,
              window: str = "1200,900", screenshot: Optional[Path] = None) -> PageResult:
    """Load ``page`` and evaluate ``expression`` (returning a JSON-able value) once loaded;
    then, if asked, save what the window shows as a PNG at ``screenshot``."""
    to_chrome_r, to_chrome_w = os.pipe()
    from_chrome_r, from_chrome_w = os.pipe()
    profile = tempfile.mkdtemp(prefix="memscan-chromium-")
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--disable-background-networking", "--disable-extensions", "--disable-sync",
            "--no-first-run", "--no-default-browser-check", "--disable-component-update",
            "--disable-default-apps", "--mute-audio", f"--user-data-dir={profile}",
            f"--window-size={window}", "--remote-debugging-pipe", "about:blank"]
    # Chromium reads commands on fd 3 and answers on fd 4.
    shell = f'exec "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}'
    proc = subprocess.Popen(["bash", "-c", shell, "chromium", *args],
                            pass_fds=(to_chrome_r, from_chrome_w), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(to_chrome_r)
    os.close(from_chrome_w)
    pipe = _Pipe(to_chrome_w, from_chrome_r)
    result = PageResult()
    try:
        target = pipe.send("Target.createTarget", {"url": "about:blank"}, timeout=timeout)
        session = pipe.send("Target.attachToTarget", {"targetId": target["targetId"],
                                                      "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            pipe.send(f"{domain}.enable", session=session)
        pipe.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
        pipe.wait_event("Page.loadEventFired", timeout=timeout)
        value = pipe.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                               "awaitPromise": True}, session=session)
        if "exceptionDetails" in value:
            raise RuntimeError(f"evaluating the check failed: {value['exceptionDetails']}")
        result.value = value["result"].get("value")
        if screenshot is not None:
            shot = pipe.send("Page.captureScreenshot", {"format": "png"}, session=session,
                             timeout=timeout)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        for e in pipe.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                result.console_errors.append(json.dumps(params.get("args")))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                result.console_errors.append(params["entry"].get("text", ""))
            elif method == "Runtime.exceptionThrown":
                result.exceptions.append(json.dumps(params.get("exceptionDetails")))
            elif method == "Network.requestWillBeSent":
                result.requests.append(params.get("request", {}).get("url", ""))
        try:
            pipe.send("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError):
            pass
    finally:
        for fd in (to_chrome_w, from_chrome_r):
            os.close(fd)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
    return result
