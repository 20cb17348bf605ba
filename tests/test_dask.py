"""Audits on a real Dask cluster (``--dask-scheduler``, ``audit(client=)``): a scheduler and two
worker processes on 127.0.0.1, 50 artifacts local and over HTTP, the output byte for byte the
local run's; a worker killed mid-task is retried, twice is the artifact's one-line error; an
unreachable scheduler and a missing extra are one line, exit 2.

Killing a worker "during a task" is done by the HTTP server itself: a request for an artifact
under ``/kill/`` made by a worker's isolated child (its grandparent is this test process, which
hosts the cluster's nannies) SIGKILLs that worker and the child, ``kills`` times.
"""
from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from remote_servers import RangeHandler, Server, free_port

sys.path.insert(0, str(ROOT / "bench"))
from bench_dask import KINDS  # noqa: E402  (small artifacts of every kind memscan reads)

distributed = pytest.importorskip("distributed")
pytest.importorskip("fsspec")
pytest.importorskip("aiohttp")
psutil = pytest.importorskip("psutil")

FIXTURES = ROOT / "fixtures"
#: Folder 0 holds every kind; folders 1..COPIES the three quickest to analyse (the suite
#: runs on 2 shared cores): 6 + 3 x 10 + 1 broken file = 37 local; + 13 URLs = 50 artifacts.
COPIES = 10
CHEAP = ("m.h5", "z.keras", "o.onnx")
URLS = 13
#: Kinds read over HTTP: every kind.
URL_KINDS = ("m.h5", "w.weights.h5", "z.keras", "o.onnx", "c.tflite", "s_tfk")


class KillingHandler(RangeHandler):
    """RangeHandler that, for ``/kill/...`` while ``server.kills`` > 0, kills the Dask worker
    whose isolated child asked (never anything else) and answers nothing."""

    def _serve(self, head: bool) -> None:
        if self.path.startswith("/kill/"):
            if self.server.kills > 0 and _kill_worker_of(self.client_address[1]):
                self.server.kills -= 1
                self.close_connection = True
                return
            self.path = self.path[len("/kill"):]
        super()._serve(head)


def _kill_worker_of(peer_port: int) -> bool:
    """SIGKILL the worker process whose child holds the connection from ``peer_port``."""
    for conn in psutil.net_connections("tcp"):
        if conn.laddr and conn.laddr.port == peer_port and conn.pid:
            child = psutil.Process(conn.pid)
            worker = child.parent()
            if worker is None or worker.ppid() != os.getpid():
                return False  # the CLI itself (discovery) or a local run's child
            worker.send_signal(signal.SIGKILL)
            child.send_signal(signal.SIGKILL)
            return True
    return False


@pytest.fixture(scope="module")
def cluster():
    """A scheduler and two single-threaded worker processes on loopback. The CLI under test
    is ``python -m analyzer`` (conftest.run_cli), so its tasks name ``analyzer.distributed``:
    the workers, spawned with this process's sys.path, must find this checkout."""
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))
    cl = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None)
    client = distributed.Client(cl, set_as_default=False)
    yield cl, client
    client.close()
    cl.close()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dask")
    models = root / "models"
    for i in range(COPIES + 1):
        for name, rel in KINDS.items():
            if i and name not in CHEAP:
                continue
            target = models / f"{i}" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            source = FIXTURES / rel
            if source.is_dir():  # copies: discovery counts a file and its symlinks once
                shutil.copytree(source, target)
            else:
                shutil.copyfile(source, target)
    (models / "broken.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    return models


@pytest.fixture(scope="module")
def http(corpus: Path):
    server = Server(str(corpus), KillingHandler)
    server.httpd.kills = 0  # type: ignore[attr-defined]
    yield server
    server.close()


def _paths(corpus: Path, http: Server, local: str) -> list[str]:
    """``local`` (the folder of copies, as typed) and URLS URLs of the same files."""
    names = sorted((p.relative_to(corpus).as_posix() for p in corpus.glob("*/*")
                    if p.name in URL_KINDS), key=lambda n: (n.split("/")[0].zfill(3), n))
    urls = [f"{http.url}/{n}" + ("/" if (corpus / n).is_dir() else "") for n in names[:URLS]]
    return [local] + urls


def test_cli_output_equals_the_local_run(cluster, corpus: Path, http: Server) -> None:
    """50 artifacts (one broken) local, by a relative path the workers resolve from the
    client's folder, and over HTTP: stdout, stderr and exit code equal."""
    paths = _paths(corpus, http, corpus.name)
    local = run_cli(*paths, "--format", "json", "--jobs", "1", cwd=corpus.parent)
    remote = run_cli(*paths, "--format", "json", "--dask-scheduler",
                     cluster[0].scheduler_address, cwd=corpus.parent)
    assert local.stdout.count('"path"') == 50
    assert local.returncode == 2 and local.stderr.count("\n") == 1  # the broken file's line
    assert (remote.returncode, remote.stdout, remote.stderr) == (
        local.returncode, local.stdout, local.stderr)


def test_api_every_format_equals_the_local_run(cluster, corpus: Path, http: Server) -> None:
    """audit(client=) renders byte for byte as audit() in every format."""
    import memscan
    from memscan.render import FORMATS, render_audit

    paths = [str(corpus / "0"), str(corpus / "broken.h5")] + _paths(corpus, http, "")[1:6]
    local = memscan.audit(paths)
    remote = memscan.audit(paths, client=cluster[1])
    assert [r.path for r in remote.results] == [r.path for r in local.results]
    assert len(local.results) == 12 and len(local.errors) == 1
    for fmt in FORMATS:
        assert render_audit(remote, fmt) == render_audit(local, fmt), fmt


def test_unreachable_scheduler_is_one_line_exit_2() -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    start = time.monotonic()
    proc = run_cli(str(FIXTURES / "keras3/flatten_dense.h5"), "--dask-scheduler", address,
                   env={"MEMSCAN_DASK_TIMEOUT": "2"}, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"memscan: error: {address}: the Dask scheduler cannot be reached within 2 s"), lines
    assert proc.stdout == ""
    assert time.monotonic() - start < 30


def test_without_the_extra_names_it(tmp_path: Path) -> None:
    (tmp_path / "distributed.py").write_text("raise ImportError('hidden for this test')\n")
    proc = run_cli(str(FIXTURES / "keras3/flatten_dense.h5"), "--dask-scheduler",
                   "tcp://127.0.0.1:9", env={"PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"})
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "memscan: error: --dask-scheduler needs the dask extra (the distributed package): "
        "pip install 'memscan[dask]'"]


def _victim_run(cluster, corpus: Path, http: Server, kills: int):
    """Three artifacts, the middle one served under /kill/ (killing ``kills`` workers); the
    local run's output (only when a retry is to equal it)."""
    paths = [str(corpus / "0" / "m.h5"), f"{http.url}/kill/1/o.onnx",
             str(corpus / "2" / "z.keras")]
    http.httpd.kills = 0
    local = run_cli(*paths, "--format", "json") if kills < 2 else None
    http.httpd.kills = kills
    try:
        remote = run_cli(*paths, "--format", "json", "--dask-scheduler",
                         cluster[0].scheduler_address, timeout=120)
    finally:
        left, http.httpd.kills = http.httpd.kills, 0
    if kills < 2:
        cluster[1].wait_for_workers(2, timeout=60)  # the nannies restart the killed worker
    return local, remote, left


def test_killed_worker_is_retried_and_output_equal(cluster, corpus: Path,
                                                     http: Server) -> None:
    local, remote, left = _victim_run(cluster, corpus, http, kills=1)
    assert left == 0  # a worker was killed mid-task
    assert local.returncode == 0, local.stderr
    assert (remote.returncode, remote.stdout, remote.stderr) == (0, local.stdout, local.stderr)


def test_second_death_is_the_artifacts_one_line_error(cluster, corpus: Path,
                                                      http: Server) -> None:
    _, remote, left = _victim_run(cluster, corpus, http, kills=2)
    assert left == 0
    url = f"{http.url}/kill/1/o.onnx"
    assert remote.returncode == 2
    assert remote.stderr.strip().splitlines() == [
        f"memscan: error: {url}: the Dask worker analysing it died on each of 2 tries "
        "(killed, out of memory, or its machine lost)"]
    assert remote.stdout.count('"path"') == 3  # the other two still reported


@pytest.mark.parametrize("flags, message", [
    (("--sweep", "batch=1:2"), "--dask-scheduler runs audits, not --sweep or --formula "
                               "(one model: run it locally)"),
    (("--no-isolate",), "--no-isolate cannot be used with --dask-scheduler (workers always "
                        "isolate each artifact)")])
def test_what_the_cluster_does_not_run_is_one_line(flags: tuple, message: str) -> None:
    proc = run_cli(str(FIXTURES / "keras3/flatten_dense.h5"), *flags, "--dask-scheduler",
                   "tcp://127.0.0.1:9")
    assert (proc.returncode, proc.stderr.splitlines()) == (2, [f"memscan: error: {message}"])
