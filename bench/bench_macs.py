"""memscan's MACs beside onnx-tool's (an independent counter) on the same ONNX files.

The files are tests/onnx_models.py's ``mac_models`` (every MAC-bearing op memscan counts:
Conv plain/grouped/depthwise, ConvTranspose, Gemm, MatMul, Einsum, LSTM, GRU) and the
committed Keras export fixtures/onnx/keras_export.onnx. Per op type it prints both counts and
their ratio, so every difference can be explained (docs/macs.md).

    python bench/bench_macs.py        # needs the bench extra (onnx-tool==1.0.1)
"""
from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def onnx_tool_macs(path: str, inputs: dict[str, list[int]]) -> dict[str, tuple[str, int]]:
    """onnx-tool's per-node MACs, its graph shaped at the inputs memscan used."""
    import numpy as np
    import onnx_tool

    with contextlib.redirect_stdout(io.StringIO()):
        m = onnx_tool.Model(path)
        m.graph.shape_infer({k: np.zeros(v, dtype=np.float32) for k, v in inputs.items()})
        m.graph.profile()
    return {name: (n.op_type, int(sum(n.macs))) for name, n in m.graph.nodemap.items()}


def memscan_macs(path: str) -> tuple[dict[str, int], dict[str, list[int]]]:
    """memscan's MACs per row, and the input shapes it analysed at (batch 1)."""
    out = subprocess.run([sys.executable, "-m", "analyzer", path, "--format", "json"],
                         capture_output=True, text=True, cwd=ROOT, check=True).stdout
    data = json.loads(out)
    return ({r["name"]: r["macs"] for r in data["layers"]},
            {i["name"]: i["shape"] for i in data["inputs"]})


def main() -> None:
    from onnx_models import mac_models

    with tempfile.TemporaryDirectory() as tmp:
        paths = list(mac_models(tmp)) + [str(ROOT / "fixtures/onnx/keras_export.onnx")]
        print("| file | op | memscan MACs | onnx-tool MACs | ratio memscan/onnx-tool |")
        print("|---|---|---:|---:|---:|")
        for path in paths:
            ours, inputs = memscan_macs(path)
            tool = onnx_tool_macs(path, inputs)
            by_op: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            for name, (op, n) in tool.items():
                by_op[op][0] += ours.get(name, 0) or 0
                by_op[op][1] += n
            total = [sum(v[0] for v in by_op.values()), sum(v[1] for v in by_op.values())]
            for op, (a, b) in sorted(by_op.items()) + [("**total**", total)]:
                ratio = f"{a / b:.4f}" if b else ("=" if a == b else "-")
                print(f"| {Path(path).name} | {op} | {a:,} | {b:,} | {ratio} |")


if __name__ == "__main__":
    main()
