"""Where an artifact's bytes come from: a local path, or a URL read by range requests.

Readers ask this module (never ``os``/``open`` directly) whether a path is a file or a
folder, its size, its folder listing, and for a seekable binary file object. Local paths go
to the operating system unchanged. URLs (``http(s)://``, ``s3://``, and whatever else fsspec
knows: ``gs://``, ``hf://``...) go through fsspec, installed by the optional extra
``memscan[remote]``: a file object fetches aligned blocks by range request, keeps them in a
bounded cache and counts every byte transferred (``bytes_read``), so a reader that skips
weight payloads skips their transfer too.

The server is untrusted: every request has a timeout, a response whose length differs from
the range asked for (a server ignoring ranges, a short read) is refused, and ``verify_unchanged``
re-states every file read to catch one that changed size while being read. Transport failures
are kept (``failure``) because libraries between us and the reader (h5py, zipfile) turn the
exception into their own; ``formats.load`` reports the kept one. Credentials come from each
fsspec implementation's usual environment and config and are never printed.
"""
from __future__ import annotations

import io
import os
import posixpath
import re
from collections import OrderedDict
from typing import Any, BinaryIO, Iterator, Optional

from .errors import UnreadableArtifact

INSTALL_HINT = "pip install 'memscan[remote]'"
#: fsspec implementations memscan[remote] does not install (untested: docs/remote.md).
OTHER_PACKAGES = {"gs": "gcsfs", "gcs": "gcsfs", "hf": "huggingface_hub"}
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
#: Bytes fetched per range request (aligned), and how many blocks one file keeps.
BLOCK = 64 * 1024
MAX_CACHED_BLOCKS = 512
#: Seconds any one request may take (connect, each read, the whole request);
#: MEMSCAN_REMOTE_TIMEOUT overrides it.
DEFAULT_TIMEOUT = 30.0

_bytes_read = 0
_failure: Optional[str] = None
_opened: dict[str, tuple[int, Any]] = {}
_instances: dict[str, Any] = {}
_blocks: dict[str, OrderedDict[int, bytes]] = {}
if hasattr(os, "register_at_fork"):  # a filesystem's session belongs to its process's loop
    os.register_at_fork(after_in_child=_instances.clear)


def is_url(path: str) -> bool:
    return bool(_URL.match(str(path)))


def preload(url: str) -> None:
    """Import fsspec and the implementation ``url`` needs (aiohttp for HTTP), requesting
    nothing, so that the isolated children a process forks start with them (see
    isolate.preload); silently nothing when they are not installed (the child says so)."""
    try:
        import fsspec

        fsspec.get_filesystem_class(url.split("://", 1)[0].lower())
    except (ImportError, ValueError):
        pass


class RemoteFailure(UnreadableArtifact):
    """A transport failure: the server refused, stalled, lied about ranges or changed the
    file. Remembered so that it wins over whatever the library in between made of it."""

    def __init__(self, message: str, path: str) -> None:
        global _failure
        if _failure is None:
            _failure = message
        super().__init__(message, path)


def _replace_failure(exc: RemoteFailure) -> RemoteFailure:
    """``exc``, made the remembered failure in place of a vaguer one it explains."""
    global _failure
    _failure = exc.message
    return exc


# --------------------------------------------------------------------------- accounting

def reset(count: bool = True) -> None:
    """Start a new artifact (``count``: zero the byte count too), forget the last failure,
    the opened files and their cached blocks."""
    global _bytes_read, _failure
    if count:
        _bytes_read = 0
    _failure = None
    _opened.clear()
    _blocks.clear()


def bytes_read() -> int:
    """Bytes transferred from remote sources since ``reset``."""
    return _bytes_read


def failure() -> Optional[str]:
    """The first transport failure since ``reset``, if any."""
    return _failure


# --------------------------------------------------------------------------- the fsspec side

def timeout() -> float:
    try:
        return float(os.environ.get("MEMSCAN_REMOTE_TIMEOUT", DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT


def _fs(url: str) -> tuple[Any, str]:
    """(fsspec filesystem, path inside it) for ``url``, with a timeout on every request."""
    try:
        import fsspec
    except ImportError:
        raise UnreadableArtifact(f"is a URL; reading URLs needs {INSTALL_HINT}", url) from None
    protocol = url.split("://", 1)[0].lower()
    try:
        fs_cls = fsspec.get_filesystem_class(protocol)
    except (ImportError, ValueError) as exc:
        package = OTHER_PACKAGES.get(protocol)
        hint = (f"pip install {package} beside memscan[remote] (untested)" if package
                else INSTALL_HINT)
        raise UnreadableArtifact(f"cannot read {protocol}:// URLs ({_first(exc)}); {hint}",
                                 url) from None
    fs = _instances.get(protocol)
    if fs is None:
        options = _OPTIONS.get(protocol, lambda: {})()
        try:
            fs = _instances[protocol] = fs_cls(**options)
        except Exception as exc:  # each implementation raises its own types
            raise UnreadableArtifact(f"cannot open {protocol}:// ({_first(exc)})",
                                     url) from None
    return fs, fs_cls._strip_protocol(url) if protocol not in ("http", "https") else url


def _http_options() -> dict[str, Any]:
    import aiohttp

    t = timeout()
    return {"client_kwargs": {"timeout": aiohttp.ClientTimeout(total=t, sock_connect=t,
                                                               sock_read=t)},
            "skip_instance_cache": True}


def _s3_options() -> dict[str, Any]:
    t = timeout()
    return {"config_kwargs": {"connect_timeout": t, "read_timeout": t,
                              "retries": {"max_attempts": 1}},
            "skip_instance_cache": True}


_OPTIONS = {"http": _http_options, "https": _http_options, "s3": _s3_options,
            "s3a": _s3_options}


def _first(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:160] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _call(url: str, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args)``, any failure of the transport made one RemoteFailure line."""
    try:
        return fn(*args, **kwargs)
    except UnreadableArtifact:
        raise
    except FileNotFoundError:
        raise
    except Exception as exc:  # aiohttp, botocore, asyncio timeouts...
        if isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__:
            raise RemoteFailure(f"{what} timed out (no answer within {timeout():g} s)",
                                url) from None
        raise RemoteFailure(f"{what} failed ({_first(exc)})", url) from None


def _info(url: str) -> Optional[dict[str, Any]]:
    fs, inner = _fs(url)
    try:
        if hasattr(fs, "invalidate_cache"):
            fs.invalidate_cache(inner)
        return _call(url, "stating the URL", fs.info, inner)
    except FileNotFoundError as exc:
        cause = exc.__cause__  # fsspec's HTTP side says "not found" for any failure
        if (cause is not None and not isinstance(cause, FileNotFoundError)
                and getattr(cause, "status", None) not in (404, 410)):
            raise RemoteFailure(f"stating the URL failed ({_first(cause)})", url) from None
        return None


def _is_folder(url: str) -> bool:
    """A folder-like URL: a prefix the store calls a directory; over HTTP, which has no
    folders, a URL ending in ``/`` (its files are then found by name, or by the index page
    a server lists them on)."""
    if url.lower().startswith(("http://", "https://")):
        return url.endswith("/")
    info = _info(url.rstrip("/"))
    return bool(info) and info.get("type") == "directory"


# --------------------------------------------------------------------------- path questions

def exists(path: str) -> bool:
    return os.path.exists(path) if not is_url(path) else _info(path) is not None


def isfile(path: str) -> bool:
    if not is_url(path):
        return os.path.isfile(path)
    if path.endswith("/"):
        return False
    info = _info(path)
    return bool(info) and info.get("type") == "file"


def isdir(path: str) -> bool:
    return os.path.isdir(path) if not is_url(path) else _is_folder(path)


def getsize(path: str) -> int:
    if not is_url(path):
        return os.path.getsize(path)
    info = _info(path)
    if info is None:
        raise FileNotFoundError(2, "no such file", path)
    return _size_of(info, path)


def _size_of(info: dict[str, Any], url: str) -> int:
    size = info.get("size")
    if not isinstance(size, int) or size < 0:
        raise RemoteFailure("server does not state the file's size", url)
    return size


def join(folder: str, *names: str) -> str:
    if not is_url(folder):
        return os.path.join(folder, *names)
    return "/".join([folder.rstrip("/"), *names])


def basename(path: str) -> str:
    return os.path.basename(path) if not is_url(path) else path.rstrip("/").rsplit("/", 1)[-1]


def dirname(path: str) -> str:
    return os.path.dirname(path) if not is_url(path) else path.rstrip("/").rsplit("/", 1)[0]


def listdir(url: str) -> tuple[list[str], list[str]]:
    """(sorted sub-folder names, sorted file names) of a folder-like URL."""
    fs, inner = _fs(url)
    entries = _call(url, "listing the folder", fs.ls, inner.rstrip("/"), detail=True)
    dirs, files = [], []
    for e in entries:
        name = posixpath.basename(str(e.get("name", "")).rstrip("/"))
        if name:
            (dirs if e.get("type") == "directory" else files).append(name)
    return sorted(set(dirs)), sorted(set(files))


def walk(url: str) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk`` for a folder-like URL: (folder, dirs, files); prune ``dirs`` in place."""
    dirs, files = listdir(url)
    yield url, dirs, files
    for d in list(dirs):
        yield from walk(join(url, d))


# --------------------------------------------------------------------------- opening

def open_binary(path: str) -> BinaryIO:
    """A seekable binary file object over ``path`` (local file or URL)."""
    if not is_url(path):
        return open(path, "rb")
    fs, inner = _fs(path)
    if path not in _opened:
        info = _info(path)
        if info is None:
            raise FileNotFoundError(2, "no such file", path)
        _opened[path] = (_size_of(info, path), info.get("ETag") or info.get("etag"))
    size = _opened[path][0]
    return io.BufferedReader(RemoteFile(fs, inner, path, size), buffer_size=BLOCK)


def verify_unchanged() -> None:
    """Raise RemoteFailure if a remote file read since ``reset`` changed size or ETag."""
    for url, (size, etag) in list(_opened.items()):
        info = _info(url)
        now = (_size_of(info, url), info.get("ETag") or info.get("etag")) if info else None
        if now != (size, etag):
            raise RemoteFailure("changed on the server while being read", url)


class SeekableReader(io.RawIOBase):
    """A read-only, seekable raw file of ``size`` bytes: the position bookkeeping that
    ``io.BufferedReader`` and h5py need. Subclasses read the bytes at ``pos`` (``readinto``):
    a remote file by range requests, a stored zip member (keras_zip) from its offset."""

    size = 0
    pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos


class RemoteFile(SeekableReader):
    """Seekable reads of a remote file through aligned BLOCK range requests, cached."""

    def __init__(self, fs: Any, inner: str, url: str, size: int) -> None:
        self.fs, self.inner, self.url, self.size = fs, inner, url, size
        self.pos = 0
        #: HTTP: fsspec's file object, whose range fetch refuses a server ignoring ranges
        #: before reading its body (``cat_file`` would read the whole file first).
        self.http = (_call(url, "opening the URL", fs.open, inner, "rb", block_size=BLOCK,
                           cache_type="none", size=size)
                     if url.lower().startswith(("http://", "https://")) else None)
        #: shared by every file object over this URL until the next ``reset``
        self.blocks = _blocks.setdefault(url, OrderedDict())

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = max(0, min(len(view), self.size - self.pos))
        if n == 0:
            return 0
        first, last = self.pos // BLOCK, (self.pos + n - 1) // BLOCK
        self._fetch(first, last)
        out = 0
        for b in range(first, last + 1):
            block = self.blocks[b]
            lo = max(self.pos + out - b * BLOCK, 0)
            take = min(len(block) - lo, n - out)
            view[out:out + take] = block[lo:lo + take]
            out += take
        self.pos += out
        return out

    def _fetch(self, first: int, last: int) -> None:
        """Make blocks first..last cached, one range request per run of missing blocks."""
        b = first
        while b <= last:
            if b in self.blocks:
                self.blocks.move_to_end(b)
                b += 1
                continue
            run_end = b
            while run_end + 1 <= last and run_end + 1 not in self.blocks:
                run_end += 1
            start, end = b * BLOCK, min((run_end + 1) * BLOCK, self.size)
            data = self._range(start, end)
            for k in range(b, run_end + 1):
                self.blocks[k] = data[(k - b) * BLOCK:(k - b + 1) * BLOCK]
                while len(self.blocks) > max(MAX_CACHED_BLOCKS, last - first + 1):
                    self.blocks.popitem(last=False)
            b = run_end + 1

    def _range(self, start: int, end: int) -> bytes:
        global _bytes_read
        what = f"range request {start}-{end - 1}"
        if self.http is not None:
            try:
                data = _call(self.url, what, self.http._fetch_range, start, end)
            except RemoteFailure as exc:
                if "support range requests" not in exc.message:
                    raise
                raise _replace_failure(RemoteFailure(
                    "server ignores range requests (it answered with the whole file)",
                    self.url)) from None
        else:
            data = _call(self.url, what, self.fs.cat_file, self.inner, start=start, end=end)
        _bytes_read += len(data)
        if len(data) != end - start:
            raise RemoteFailure(
                f"server answered a {end - start:,}-byte range request with {len(data):,} "
                "bytes (a short read, a server ignoring ranges, or a file that changed)",
                self.url)
        return data
