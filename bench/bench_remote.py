"""Bytes memscan transfers to audit a ~500 MB model over HTTP range requests.

Makes two full-size artifacts in .cache/bench_remote/ (never committed): VGG16's .h5 with
every weight written (the committed hollow fixture's structure, 138M float32 params), and an
ONNX MLP of eight 4096x4096 float32 initializers. Serves them from a range-capable HTTP
server on 127.0.0.1 (tests/remote_servers.py), runs the real CLI on each URL and reports the
file size, memscan's own count (JSON model.bytes_read), what the server actually sent, and
the ratio; fails (exit 1) when a transfer is above 1% of the file.

    .venv/bin/python bench/bench_remote.py
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench_remote"
sys.path.insert(0, str(ROOT / "tests"))
from remote_servers import Server  # noqa: E402

BOUND = 0.01


def make_h5(dst: Path) -> None:
    """fixtures/keras3/vgg16.h5 with every weight dataset filled (random float32)."""
    import h5py

    rng = np.random.default_rng(0)

    def copy(gin, gout) -> None:
        for k, v in gin.attrs.items():
            gout.attrs[k] = v
        for name, obj in gin.items():
            if isinstance(obj, h5py.Group):
                copy(obj, gout.create_group(name))
                continue
            data = rng.standard_normal(obj.shape, dtype=np.float32).astype(obj.dtype)
            ds = gout.create_dataset(name, data=data)
            for k, v in obj.attrs.items():
                ds.attrs[k] = v

    tmp = dst.with_suffix(".tmp")
    with h5py.File(ROOT / "fixtures/keras3/vgg16.h5", "r") as fin, h5py.File(tmp, "w") as fout:
        copy(fin, fout)
    tmp.rename(dst)


def make_onnx(dst: Path, layers: int = 8, width: int = 4096) -> None:
    """An MLP whose initializers hold layers x width x width float32 (512 MiB at the default)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits, x = [], [], "x"
    for i in range(layers):
        w = rng.standard_normal((width, width), dtype=np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"),
                  numpy_helper.from_array(np.zeros(width, np.float32), f"b{i}")]
        nodes += [helper.make_node("MatMul", [x, f"w{i}"], [f"m{i}"]),
                  helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"]),
                  helper.make_node("Relu", [f"a{i}"], [f"y{i}"])]
        x = f"y{i}"
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, ["N", width])], [helper.make_tensor_value_info(
            x, TensorProto.FLOAT, ["N", width])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    tmp = dst.with_suffix(".tmp")
    onnx.save(model, str(tmp))
    tmp.rename(dst)


ARTIFACTS = {"vgg16_full.h5": make_h5, "mlp_512mib.onnx": make_onnx}


def main() -> int:
    CACHE.mkdir(parents=True, exist_ok=True)
    for name, make in ARTIFACTS.items():
        if not (CACHE / name).exists():
            print(f"making {name} ...", file=sys.stderr)
            make(CACHE / name)
    server = Server(str(CACHE))
    worst = 0.0
    print("| file | size (bytes) | bytes_read (memscan) | sent by the server | share | time |")
    print("|---|---|---|---|---|---|")
    try:
        for name in ARTIFACTS:
            size = (CACHE / name).stat().st_size
            before = server.sent
            started = time.monotonic()
            proc = subprocess.run([sys.executable, "-m", "analyzer", f"{server.url}/{name}",
                                   "--format", "json", "--batch", "1"], capture_output=True,
                                  text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
            took = time.monotonic() - started
            sent = server.sent - before
            if proc.returncode not in (0, 1):
                print(proc.stderr, file=sys.stderr)
                return 2
            read = json.loads(proc.stdout)["model"]["bytes_read"]
            share = sent / size
            worst = max(worst, share)
            print(f"| {name} | {size:,} | {read:,} | {sent:,} | {share:.3%} | {took:.1f} s |")
    finally:
        server.close()
    print(f"\nlargest share {worst:.3%} (bound {BOUND:.0%}): {'OK' if worst <= BOUND else 'OVER'}")
    return 0 if worst <= BOUND else 1


if __name__ == "__main__":
    sys.exit(main())
