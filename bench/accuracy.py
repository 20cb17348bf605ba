"""How close is memscan's activation peak to what onnxruntime really uses?

    python bench/accuracy.py                 # every model at both sizes
    python bench/accuracy.py resnet50 unet   # some of them
    python bench/accuracy.py --json out.json

For each model (bench/models.py, exported to ONNX once and cached in .cache/accuracy/):

- measured: onnxruntime with graph optimizations off (ORT_DISABLE_ALL), memory pattern off,
  profiling on, and the CPU arena registered through ``create_and_register_allocator`` with
  ``OrtArenaCfg(0, 1, 1 << 20, 256)`` (grow by the size requested, 1 MiB first chunk, at most
  256 dead bytes per chunk, so free chunks are split rather than handed out whole) and
  ``session.use_env_allocators=1``. Node events then carry the arena's ``mem_in_use_peak``;
  measured = its maximum over the run's nodes minus the bytes in use before the first node
  (weights). The caller's input tensors are not in the arena, so the estimate is compared
  without them.
- defaults: the same model under onnxruntime's defaults (all graph optimizations, memory
  pattern on, default arena), second run, for context.
- estimate: memscan's public analysis, ``totals.activation_peak_bytes - totals.input_bytes``.

Each measurement runs in a fresh subprocess: the registered allocator is process-wide.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "accuracy"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from models import MODELS  # noqa: E402

MIB = 1024**2
LOW, HIGH = 0.85, 1.15


# --------------------------------------------------------------------------- export

def onnx_path(name: str, shape: tuple[int, ...]) -> Path:
    return CACHE / f"{name}_{'x'.join(map(str, shape))}.onnx"


def ensure_exported(name: str, shape: tuple[int, ...]) -> Path:
    path = onnx_path(name, shape)
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.onnx")
        env = dict(os.environ, KERAS_BACKEND="torch")
        proc = subprocess.run([sys.executable, str(Path(__file__).parent / "models.py"), name,
                               ",".join(map(str, shape)), str(tmp)],
                              capture_output=True, text=True, env=env)
        if proc.returncode != 0 or not tmp.exists():
            raise RuntimeError(f"export of {name} failed:\n{proc.stderr[-3000:]}")
        tmp.rename(path)
    return path


# --------------------------------------------------------------------------- measure

def measure_in_process(path: str, mode: str) -> dict[str, Any]:
    """Run the model once (twice for defaults) and read the arena figures from the profile."""
    import numpy as np
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(tempfile.mkdtemp(prefix="memscan-ort-"), "profile")
    so.intra_op_num_threads = 1
    runs = 1
    if mode == "measured":
        info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0,
                                 ort.OrtMemType.DEFAULT)
        ort.create_and_register_allocator(info, ort.OrtArenaCfg(0, 1, 1 << 20, 256))
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        so.enable_mem_pattern = False
        so.add_session_config_entry("session.use_env_allocators", "1")
    else:  # onnxruntime's defaults; the second run uses the memory pattern of the first
        runs = 2
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    feeds = {i.name: np.zeros([d if isinstance(d, int) else 1 for d in i.shape], np.float32)
             for i in sess.get_inputs()}
    for _ in range(runs):
        sess.run(None, feeds)
    with open(sess.end_profiling()) as fh:
        events = json.load(fh)
    nodes = [e for e in events if e.get("cat") == "Node" and "mem_in_use_peak" in e.get("args", {})]
    if not nodes:
        return {"error": "no node events with arena figures in the profile"}
    per_run = len(nodes) // runs
    first_run, last_run = nodes[:per_run], nodes[-per_run:]
    before = _in_use_before(first_run[0])
    peak = max(int(e["args"]["mem_in_use_peak"]) for e in first_run)
    held = max(int(e["args"]["mem_arena_held"]) for e in first_run)
    peak_node = next(e["name"].removesuffix("_kernel_time") for e in first_run
                     if int(e["args"]["mem_in_use_peak"]) == peak)
    result = {"peak_bytes": peak - before, "before_bytes": before,
              "arena_held_bytes": held - before, "peak_node": peak_node,
              "nodes": per_run,
              "order": [e["name"].removesuffix("_kernel_time") for e in first_run],
              "in_use_after": [int(e["args"]["mem_bytes_in_use"]) - before for e in first_run]}
    if runs > 1:  # with the memory pattern, the second run takes one block up front
        result["pattern_block_bytes"] = _in_use_before(last_run[0]) - before
    return result


def _in_use_before(event: dict[str, Any]) -> int:
    return int(event["args"]["mem_bytes_in_use"]) - int(event["args"]["mem_in_use_delta"])


def measure(path: Path, mode: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--measure", str(path), mode],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout)


# --------------------------------------------------------------------------- estimate

def estimate(path: Path, shape: tuple[int, ...]) -> dict[str, Any]:
    """memscan's own figure: its public analysis of the exported file, at batch 1."""
    from analyzer.analysis import analyse
    from analyzer.errors import MemscanError
    from analyzer.inputs import InputArg

    try:
        report = analyse(str(path), inputs=[InputArg(None, (1, *shape))])
    except MemscanError as exc:
        return {"error": str(exc)}
    t = report.totals
    return {"peak_bytes": t.activation_peak_bytes - t.input_bytes,
            "with_inputs_bytes": t.activation_peak_bytes, "input_bytes": t.input_bytes,
            "arena_bytes": t.arena_bytes, "feature_map_bytes": t.feature_map_bytes,
            "peak_layer": t.peak_layer}


# --------------------------------------------------------------------------- main

def _mib(n: Optional[int]) -> str:
    return "-" if n is None else f"{n / MIB:8.2f}"


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("models", nargs="*", help=f"some of: {', '.join(MODELS)}")
    p.add_argument("--json", metavar="FILE", help="write every figure to FILE")
    p.add_argument("--no-defaults", action="store_true",
                   help="skip the run under onnxruntime's defaults")
    p.add_argument("--measure", nargs=2, metavar=("PATH", "MODE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.measure:
        print(json.dumps(measure_in_process(*args.measure)))
        return 0
    names = args.models or list(MODELS)
    results = []
    print(f"{'model':<15} {'input':<12} {'estimate MiB':>12} {'measured MiB':>12} "
          f"{'ratio':>6} {'defaults: peak':>14} {'held':>8} {'pattern':>8}  note")
    ok = True
    for name in names:
        for shape in MODELS[name][1]:
            path = ensure_exported(name, shape)
            meas = measure(path, "measured")
            dflt = {} if args.no_defaults else measure(path, "defaults")
            est = estimate(path, shape)
            ratio = None
            if "peak_bytes" in est and meas.get("peak_bytes"):
                ratio = est["peak_bytes"] / meas["peak_bytes"]
                ok &= LOW <= ratio <= HIGH
            else:
                ok = False
            note = est.get("error") or meas.get("error") or ""
            print(f"{name:<15} {'x'.join(map(str, shape)):<12} {_mib(est.get('peak_bytes')):>12} "
                  f"{_mib(meas.get('peak_bytes')):>12} "
                  f"{'-' if ratio is None else f'{ratio:.3f}':>6} "
                  f"{_mib(dflt.get('peak_bytes')):>14} {_mib(dflt.get('arena_held_bytes')):>8} "
                  f"{_mib(dflt.get('pattern_block_bytes')):>8}  {note}")
            meas.pop("in_use_after", None)
            results.append({"model": name, "input": list(shape), "estimate": est,
                            "measured": {k: v for k, v in meas.items() if k != "order"},
                            "defaults": {k: v for k, v in dflt.items()
                                         if k not in ("order", "in_use_after")},
                            "ratio": ratio})
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    print(f"\nall ratios within {LOW}-{HIGH}: {'yes' if ok else 'no'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
