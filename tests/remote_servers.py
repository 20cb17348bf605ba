"""Servers on the loopback interface for the remote tests and bench/bench_remote.py.

``serve_http(root)``: a threaded HTTP server with Range support over a folder, counting the
body bytes it sends. Paths under a mode prefix misbehave on purpose:

- ``/norange/...``  ignores Range and sends the whole file (200)
- ``/short/...``    answers a range with fewer bytes than asked (206, honest length)
- ``/stall/...``    answers HEAD, then never answers a range request
- ``/loop/...``     redirects to itself forever
- ``/grow/...``     states a size one byte larger at every request
- ``/etag/...``     same size and bytes, but a new ETag at every request (a replaced file)
"""
from __future__ import annotations

import os
import posixpath
import re
import socket
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

MODES = ("norange", "short", "stall", "loop", "grow", "etag")
_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


class RangeHandler(SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler plus single byte ranges and the misbehaving modes."""

    protocol_version = "HTTP/1.1"
    etag = ""

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _split_mode(self) -> tuple[str, str]:
        parts = self.path.split("/", 2)
        if len(parts) > 2 and parts[1] in MODES:
            return parts[1], "/" + parts[2]
        return "", self.path

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        mode, path = self._split_mode()
        if mode == "loop":
            self.send_response(302)
            self.send_header("Location", self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        local = self.translate_path(path)
        if os.path.isdir(local):
            self.path = path
            return super().do_HEAD() if head else super().do_GET()
        if not os.path.isfile(local):
            self.send_error(404)
            return
        size = os.path.getsize(local)
        if mode in ("grow", "etag"):
            self.server.requests += 1  # type: ignore[attr-defined]
        if mode == "grow":
            size += self.server.requests  # type: ignore[attr-defined]
        n = self.server.requests  # type: ignore[attr-defined]
        self.etag = f'"{n}"' if mode == "etag" else ""
        match = _RANGE.match(self.headers.get("Range", ""))
        if head or not match or mode == "norange":
            self._send(local, 200, 0, size, size, head)
            return
        if mode == "stall":
            time.sleep(3600)
            return
        start = int(match.group(1))
        end = min(int(match.group(2)) + 1 if match.group(2) else size, size)
        if start >= size:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode == "short":
            end = start + max(0, (end - start) // 2)
        if mode == "grow":  # the bytes actually there, honestly labelled
            end = min(end, size - self.server.requests)  # type: ignore[attr-defined]
        self._send(local, 206, start, end, size, head)

    def _send(self, local: str, status: int, start: int, end: int, size: int,
              head: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        if self.etag:
            self.send_header("ETag", self.etag)
        self.send_header("Content-Length", str(end - start))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        self.end_headers()
        if head:
            return
        with open(local, "rb") as fh:
            fh.seek(start)
            left = min(end, os.path.getsize(local)) - start
            while left > 0:
                chunk = fh.read(min(left, 1 << 20))
                if not chunk:
                    break
                try:
                    self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    return
                self.server.sent += len(chunk)  # type: ignore[attr-defined]
                left -= len(chunk)


class Server:
    """A running HTTP server: ``url``, bytes ``sent`` so far, ``close()``."""

    def __init__(self, root: str, handler: type = RangeHandler) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=root))
        self.httpd.daemon_threads = True
        self.httpd.sent = 0  # type: ignore[attr-defined]
        self.httpd.requests = 0  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def sent(self) -> int:
        return self.httpd.sent  # type: ignore[attr-defined]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def s3_env(endpoint: str) -> dict[str, str]:
    """What s3fs needs to talk to moto (fake credentials, the loopback endpoint)."""
    return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint,
            "AWS_ENDPOINT_URL_S3": endpoint}


def upload_tree(client: object, bucket: str, local: str, prefix: str) -> Iterator[str]:
    """Upload a file or folder to ``bucket`` under ``prefix``; yield the keys written."""
    if os.path.isfile(local):
        key = posixpath.join(prefix, os.path.basename(local))
        client.upload_file(local, bucket, key)  # type: ignore[attr-defined]
        yield key
        return
    for folder, _dirs, files in os.walk(local):
        for f in files:
            path = os.path.join(folder, f)
            key = posixpath.join(prefix, os.path.relpath(path, os.path.dirname(local)))
            client.upload_file(path, bucket, key)  # type: ignore[attr-defined]
            yield key


__all__ = ["Server", "free_port", "s3_env", "upload_tree"]
