"""Huge-but-valid artifacts made on the fly, fast: an ONNX chain of N Relu nodes written as raw
protobuf (onnx.helper takes minutes at 10^6 nodes), and a Keras .h5 whose model_config is a
valid JSON document of a given size. Shared by bench/bench_nodes.py and the tests."""
from __future__ import annotations

import json
from pathlib import Path


def _varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b, v = v & 0x7F, v >> 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def _field(num: int, payload: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def _value_info(name: str, dims: tuple[int, ...]) -> bytes:
    shape = b"".join(_field(1, _varint(1 << 3) + _varint(d)) for d in dims)
    tensor = _varint(1 << 3) + _varint(1) + _field(2, shape)  # elem_type FLOAT, shape
    return _field(1, name.encode()) + _field(2, _field(1, tensor))


def onnx_chain(path: Path, nodes: int, width: int = 8) -> Path:
    """x[1, width] -> Relu -> Relu ... (``nodes`` of them) -> y; about 24 bytes a node."""
    parts = []
    for i in range(nodes):  # every length is under 128: one-byte varints, one format a node
        src = b"x" if i == 0 else b"t%d" % i
        dst = b"y" if i == nodes - 1 else b"t%d" % (i + 1)
        name = b"n%d" % i
        body = b"\x0a%c%s\x12%c%s\x1a%c%s\x22\x04Relu" % (len(src), src, len(dst), dst,
                                                            len(name), name)
        parts.append(b"\x0a%c%s" % (len(body), body))
    graph = b"".join(parts) + _field(2, b"chain") + _field(11, _value_info("x", (1, width))) \
        + _field(12, _value_info("y", (1, width)))
    opset = _field(1, b"") + _varint(2 << 3) + _varint(17)
    model = (_varint(1 << 3) + _varint(8) + _field(2, b"memscan-bench") + _field(8, opset)
             + _field(7, graph))
    path.write_bytes(model)
    return path


def h5_with_config(path: Path, megabytes: float) -> Path:
    """A Keras .h5 holding one Dense model whose model_config is padded to ``megabytes`` MB of
    valid JSON (a long layer name list in the config's own name field)."""
    import h5py

    config = {"class_name": "Sequential", "config": {"name": "big", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4],
                                                 "dtype": "float32", "name": "in"}},
        {"class_name": "Dense", "config": {"name": "fc", "units": 2, "dtype": "float32"}}]}}
    pad = max(0, int(megabytes * 1_000_000) - len(json.dumps(config)))
    config["config"]["padding"] = ["x" * 1000] * (pad // 1004)
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
    return path
