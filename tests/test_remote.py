"""URLs as paths (analyzer/sources.py) against real servers on 127.0.0.1 started here: a
range-capable threaded HTTP server (tests/remote_servers.py) and moto's S3 server.

Every fixture format must give the same JSON report remotely as locally (the path and the
additive ``bytes_read`` aside), and a misbehaving server must end in one line, exit 2, within
the timeout, with nothing written.
"""
from __future__ import annotations

import importlib.util
import json
import os
import time
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from remote_servers import Server, free_port, s3_env, upload_tree

pytest.importorskip("fsspec")
pytest.importorskip("aiohttp")

#: One artifact of each kind memscan reads (relative to fixtures/).
CASES = {
    "keras-h5": "keras3/multi_io.h5",
    "keras-h5-weights-only": "keras_zip/keras3_seq_mix.weights.h5",
    "keras-zip": "keras_zip/multi_io.keras",
    "onnx": "onnx/keras_export.onnx",
    "savedmodel": "savedmodel/multi_io_tfk",
    "tflite": "tflite/cnn_float.tflite",
}
FIXTURES = ROOT / "fixtures"


@pytest.fixture(scope="module")
def http() -> Server:
    server = Server(str(FIXTURES))
    yield server
    server.close()


def _report(target: str, env: dict | None = None) -> dict:
    proc = run_cli(target, "--format", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _same(local: dict, remote: dict, url: str) -> None:
    """Remote equals local once the path is normalised; bytes_read is remote-only (and in
    the published schema)."""
    from test_schema import VALIDATOR

    VALIDATOR.validate(remote)
    assert remote["model"].pop("path") == url
    local["model"].pop("path")
    assert isinstance(remote["model"].pop("bytes_read"), int)
    assert "bytes_read" not in local["model"]
    assert remote == local


def _local_and_url(base: str, rel: str) -> tuple[str, str]:
    local = FIXTURES / rel
    url = f"{base}/{rel}"
    if local.is_dir():
        url += "/"
    return str(local), url


@pytest.mark.parametrize("kind", sorted(CASES))
def test_http_report_equals_local(http: Server, kind: str) -> None:
    local, url = _local_and_url(http.url, CASES[kind])
    _same(_report(local), _report(url), url)


def test_http_savedmodel_by_its_pb(http: Server) -> None:
    local = FIXTURES / "savedmodel/multi_io_tfk"
    url = f"{http.url}/savedmodel/multi_io_tfk/saved_model.pb"
    _same(_report(str(local / "saved_model.pb")), _report(url), url)


def test_http_transfers_a_fraction_of_the_file(http: Server, tmp_path: Path) -> None:
    """A stored 64 MiB payload beside the config is skipped: the transfer is bounded by the
    metadata, and bytes_read is what the server really sent."""
    import numpy as np
    import h5py

    src = FIXTURES / CASES["keras-h5"]
    big = tmp_path / "big.h5"
    big.write_bytes(src.read_bytes())
    with h5py.File(big, "a") as f:
        f.create_dataset("padding", data=np.zeros(16 * 1024 * 1024, dtype="float32"))
    server = Server(str(tmp_path))
    try:
        before = server.sent
        report = _report(f"{server.url}/big.h5")
        sent = server.sent - before
    finally:
        server.close()
    size = big.stat().st_size
    assert size > 64 * 1024 * 1024
    read = report["model"]["bytes_read"]
    assert 0 < read <= sent <= size // 100, (read, sent, size)


def test_http_onnx_external_data(tmp_path: Path) -> None:
    """External data beside a remote ONNX file is stated by URL, never read."""
    from onnx_models import big_matmuls

    elements = big_matmuls(tmp_path / "big.onnx", 4, external="weights.bin")
    server = Server(str(tmp_path))
    try:
        url = f"{server.url}/big.onnx"
        remote = _report(url)
        sent = server.sent
    finally:
        server.close()
    assert remote["totals"]["params"] == elements
    _same(_report(str(tmp_path / "big.onnx")), remote, url)
    assert sent < (tmp_path / "weights.bin").stat().st_size // 100


def test_verbose_prints_bytes_read(http: Server) -> None:
    _, url = _local_and_url(http.url, CASES["onnx"])
    proc = run_cli(url, "-v")
    assert proc.returncode == 0, proc.stderr
    assert "transferred" in proc.stderr + proc.stdout


# --------------------------------------------------------------------------- failures

@pytest.mark.parametrize("mode,words", [
    ("norange", "ignores range requests"),
    ("short", "short read"),
    ("stall", "timed out"),
    ("loop", "redirect"),
    ("grow", "changed"),
    ("etag", "changed on the server while being read"),
])
def test_misbehaving_server_is_one_line_exit_2(http: Server, tmp_path: Path, mode: str,
                                               words: str) -> None:
    url = f"{http.url}/{mode}/keras3/vgg16.h5"  # more than one block
    started = time.monotonic()
    proc = run_cli(url, env={"MEMSCAN_REMOTE_TIMEOUT": "2"}, cwd=tmp_path, timeout=60)
    took = time.monotonic() - started
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"memscan: error: {url}: "), proc.stderr
    assert words in lines[0].lower(), lines[0]
    assert "Traceback" not in proc.stderr
    assert took < 30
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_missing_url_is_one_line(http: Server) -> None:
    url = f"{http.url}/nothing/here.h5"
    proc = run_cli(url)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"memscan: error: {url}: no such file or folder"]


def test_url_without_the_extra_names_it(tmp_path: Path) -> None:
    """With fsspec hidden, a URL is one line naming the extra to install."""
    (tmp_path / "fsspec.py").write_text("raise ImportError('hidden for this test')\n")
    proc = run_cli("http://127.0.0.1:9/m.h5", env={"PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"})
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "memscan: error: http://127.0.0.1:9/m.h5: is a URL; reading URLs needs "
        "pip install 'memscan[remote]'"]


@pytest.mark.parametrize("url, package", [("gs://bucket/m.h5", "gcsfs"),
                                          ("hf://org/repo/m.onnx", "huggingface_hub")])
def test_untested_scheme_without_its_package_names_it(url: str, package: str) -> None:
    """gs:// and hf:// are untested; without their fsspec implementation, one line naming it."""
    if importlib.util.find_spec(package):
        pytest.skip(f"{package} is installed")
    proc = run_cli(url)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"memscan: error: {url}: cannot read ")
    assert lines[0].endswith(f"pip install {package} beside memscan[remote] (untested)")


# --------------------------------------------------------------------------- S3 (moto)

@pytest.fixture(scope="module")
def s3() -> dict:
    pytest.importorskip("s3fs")
    moto_server = pytest.importorskip("moto.server")
    import boto3

    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = s3_env(endpoint)
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket="models")
    for rel in CASES.values():
        list(upload_tree(client, "models", str(FIXTURES / rel), "zoo/" + os.path.dirname(rel)))
    yield env
    server.stop()


@pytest.mark.parametrize("kind", sorted(CASES))
def test_s3_report_equals_local(s3: dict, kind: str) -> None:
    local, url = _local_and_url("s3://models/zoo", CASES[kind])
    _same(_report(local), _report(url, env=s3), url)


def test_s3_prefix_is_discovered_like_a_folder(s3: dict) -> None:
    """s3://bucket/prefix/ is walked as a local folder is: same artifacts, same order."""
    proc = run_cli("s3://models/zoo/", "--format", "json", env=s3)
    local = run_cli(*[str(FIXTURES / rel) for rel in sorted(CASES.values())], "--format",
                    "json")
    assert proc.returncode == local.returncode, proc.stderr
    remote_paths = [r["model"]["path"] for r in json.loads(proc.stdout)["reports"]]
    assert remote_paths == [f"s3://models/zoo/{rel}" for rel in sorted(CASES.values())]
