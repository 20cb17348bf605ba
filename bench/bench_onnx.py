"""Time and peak RSS of memscan vs onnx.load + shape inference vs onnx-tool's profile, on one
large ONNX model made on the fly (a chain of 2048×2048 float32 MatMuls, ~550 MB by default).

Each tool runs in a fresh subprocess; wall time is measured from outside (interpreter start and
imports included), peak RSS is the child's own VmHWM (not ru_maxrss, which Linux carries over
fork+exec from the parent that built the model).

    python bench/bench_onnx.py [--mb 550] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

HWM = ("print('HWM', [l.split()[1] for l in open('/proc/self/status') "
       "if l.startswith('VmHWM')][0])")

JOBS = {
    "memscan": ("import sys; from analyzer.cli import main; "
                "rc = main([sys.argv[1], '--format', 'json', '-o', os.devnull]); "
                "assert rc == 0; "),
    "onnx.load + infer_shapes": (
        "import sys, onnx; m = onnx.load(sys.argv[1]); "
        "m = onnx.shape_inference.infer_shapes(m, strict_mode=True, data_prop=True); "
        "assert len(m.graph.value_info) > 0; "),
    "onnx-tool model_profile": (
        "import sys, contextlib, io, onnx_tool; "
        "buf = io.StringIO(); "
        "ctx = contextlib.redirect_stdout(buf); ctx.__enter__(); "
        "from onnx_tool.tensor import create_ndarray_f32; "
        "onnx_tool.model_profile(sys.argv[1], dynamic_shapes={'x': create_ndarray_f32((1, 2048))}); "
        "ctx.__exit__(None, None, None); "),
}


def run(job: str, path: str) -> tuple[float, int]:
    code = "import os; " + JOBS[job] + HWM
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True,
                          env=env, timeout=900)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{job} failed:\n{proc.stderr[-2000:]}")
    kb = int(next(l for l in proc.stdout.splitlines() if l.startswith("HWM")).split()[1])
    return wall, kb * 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=550, help="model size in MB (default 550)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per tool (median reported)")
    args = ap.parse_args()
    from onnx_models import big_matmuls

    with tempfile.TemporaryDirectory(prefix="memscan-bench-") as tmp:
        path = os.path.join(tmp, "big.onnx")
        # Build in a child so this process stays small.
        subprocess.run([sys.executable, "-c",
                        "import sys; sys.path.insert(0, sys.argv[3]); "
                        "from onnx_models import big_matmuls; "
                        "big_matmuls(sys.argv[1], int(sys.argv[2]))",
                        path, str(args.mb), str(ROOT / "tests")], check=True)
        del big_matmuls
        size = os.path.getsize(path)
        print(f"model: {size / 2**20:.0f} MiB ({size:,} bytes), MatMul chain of 2048×2048 "
              f"float32 weights; median of {args.repeat} runs, each in a fresh subprocess")
        print(f"{'tool':28s} {'wall s':>8s} {'peak RSS MiB':>13s}")
        for job in JOBS:
            runs = [run(job, path) for _ in range(args.repeat)]
            wall = statistics.median(r[0] for r in runs)
            rss = statistics.median(r[1] for r in runs)
            print(f"{job:28s} {wall:8.2f} {rss / 2**20:13.1f}")


if __name__ == "__main__":
    main()
