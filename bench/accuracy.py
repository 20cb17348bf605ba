"""How close is memscan's activation peak to what onnxruntime really uses, on models it was
not tuned on?

    python bench/accuracy.py                       # the whole corpus, both sizes
    python bench/accuracy.py tf-transformer ts-fpn # some entries
    python bench/accuracy.py --split held-out --json out.json --markdown table.md

The corpus (bench/accuracy_models.py) is split into "tuning" and "held-out" entries, fixed
before tuning; files are made on the fly into .cache/accuracy/. Per entry and size, each in a
fresh subprocess (the registered allocator is process-wide):

- measured ("exact"): onnxruntime with graph optimizations off (ORT_DISABLE_ALL), memory
  pattern off, profiling on, one intra-op thread, and the CPU arena registered through
  ``create_and_register_allocator`` with ``OrtArenaCfg(0, 1, 1 << 20, 256)`` (grow by the
  size requested, 1 MiB first chunk, at most 256 dead bytes per chunk, so a free chunk is
  split rather than handed out whole) and ``session.use_env_allocators=1``. Node events then
  carry the arena's ``mem_in_use_peak``; measured = its maximum over the run's nodes minus
  the bytes in use before the first node (weights). The caller's input tensors are not in
  the arena, so the estimate is compared without them.
- "arena": the same session options, but onnxruntime's default CPU arena (nothing
  registered: the session's own BFC arena, default OrtArenaCfg): the bytes it grows by
  during the run, the largest ``mem_arena_held`` minus what it held before the first node
  (``mem_arena_held - mem_arena_held_delta`` of that node's event: reserved weights and
  pre-packed filters), against ``totals.onnxruntime_arena_held_bytes``
  (``--arena-markdown``: that table, with the "optimized" columns).
- "optimized": the exact arena with ORT_ENABLE_ALL (onnxruntime's default optimization
  level), memory pattern off: its peak against memscan's (no target; published).
- estimate: memscan's public analysis, ``totals.activation_peak_bytes - totals.input_bytes``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "accuracy"
sys.path.insert(0, str(ROOT))
if os.environ.get("MEMSCAN_BASELINE"):  # --estimate for --baseline: that checkout's analyzer
    sys.path.insert(0, os.environ["MEMSCAN_BASELINE"])
sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy_models import CORPUS, ENTRIES, Entry  # noqa: E402

MIB = 1024**2
#: Targets of issue 13: the peak with optimizations off, the default arena's held bytes.
LOW, HIGH = 0.90, 1.10
ARENA_LOW, ARENA_HIGH = 0.85, 1.15
MODES = ("exact", "arena", "optimized")
#: Modes measured by their own module against their own models (issue 13 items 6, 7).
OTHER_MODES = {"keras": "accuracy_keras", "training": "accuracy_training"}


# --------------------------------------------------------------------------- export

def onnx_path(name: str, size: tuple[int, ...]) -> Path:
    return CACHE / f"{name}_{'x'.join(map(str, size))}.onnx"


def ensure_exported(entry: Entry, size: tuple[int, ...]) -> Path:
    path = onnx_path(entry.name, size)
    if path.exists():
        return path
    source = (str(ensure_exported(ENTRIES[entry.source], size))
              if entry.exporter in ("qdq", "qoperator") else "")
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.onnx")
    env = dict(os.environ, KERAS_BACKEND="torch", TF_CPP_MIN_LOG_LEVEL="3",
               CUDA_VISIBLE_DEVICES="")
    with tempfile.TemporaryDirectory(prefix="memscan-export-") as tmpdir:
        proc = subprocess.run([sys.executable, str(Path(__file__).parent / "accuracy_models.py"),
                               entry.name, ",".join(map(str, size)), str(tmp), source],
                              capture_output=True, text=True, env=env, cwd=tmpdir)
    if proc.returncode != 0 or not tmp.exists():
        raise RuntimeError(f"export of {entry.name} {size} failed:\n{proc.stderr[-3000:]}")
    tmp.rename(path)
    return path


# --------------------------------------------------------------------------- measure

_NP_TYPES = {"tensor(float)": "float32", "tensor(int64)": "int64", "tensor(int32)": "int32",
             "tensor(uint8)": "uint8", "tensor(int8)": "int8"}


def measure_in_process(path: str, mode: str, shape: Optional[list[int]],
                       named: Optional[dict[str, list[int]]] = None) -> dict[str, Any]:
    """Run the model once and read the arena figures from the profile. ``shape``: the
    input's (one-input models); ``named``: shapes by input name; else the file's dims,
    open ones as 1."""
    import numpy as np
    import onnxruntime as ort

    mode = "exact" if mode == "measured" else mode
    so = ort.SessionOptions()
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(tempfile.mkdtemp(prefix="memscan-ort-"), "profile")
    so.intra_op_num_threads = 1
    so.enable_mem_pattern = False
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                                   if mode == "optimized"
                                   else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    if mode in ("exact", "optimized"):
        info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0,
                                 ort.OrtMemType.DEFAULT)
        ort.create_and_register_allocator(info, ort.OrtArenaCfg(0, 1, 1 << 20, 256))
        so.add_session_config_entry("session.use_env_allocators", "1")
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    feeds = {}
    for i in sess.get_inputs():
        dims = (named or {}).get(i.name) or (
            shape if shape and len(sess.get_inputs()) == 1 else
            [d if isinstance(d, int) else 1 for d in i.shape])
        feeds[i.name] = np.zeros(dims, _NP_TYPES.get(i.type, "float32"))
    sess.run(None, feeds)
    with open(sess.end_profiling()) as fh:
        events = json.load(fh)
    nodes = [e for e in events if e.get("cat") == "Node" and "mem_in_use_peak" in e.get("args", {})]
    if not nodes:
        return {"error": "no node events with arena figures in the profile"}
    before = _in_use_before(nodes[0])
    # held before the first node ran: its event reports the figures after it
    held_before = int(nodes[0]["args"]["mem_arena_held"]) - int(
        nodes[0]["args"].get("mem_arena_held_delta", 0))
    peak = max(int(e["args"]["mem_in_use_peak"]) for e in nodes)
    held = max(int(e["args"]["mem_arena_held"]) for e in nodes)
    peak_node = next(e["name"].removesuffix("_kernel_time") for e in nodes
                     if int(e["args"]["mem_in_use_peak"]) == peak)
    return {"peak_bytes": peak - before, "before_bytes": before,
            "arena_held_bytes": held, "arena_held_before_first_node": held_before,
            "peak_node": peak_node, "nodes": len(nodes),
            "order": [e["name"].removesuffix("_kernel_time") for e in nodes]}


def _in_use_before(event: dict[str, Any]) -> int:
    return int(event["args"]["mem_bytes_in_use"]) - int(event["args"]["mem_in_use_delta"])


def measure(path: Path, mode: str = "exact", shape: Optional[tuple[int, ...]] = None,
            feeds: Optional[list] = None) -> dict[str, Any]:
    """``measure_in_process`` in a fresh interpreter (the registered arena is process-wide).
    ``feeds``: [(name, shape)] for files with named inputs (bench/accuracy_models.Entry)."""
    named = json.dumps({n: list(d) for n, d in feeds or () if n})
    proc = subprocess.run([sys.executable, __file__, "--measure", str(path), mode,
                           ",".join(map(str, shape or ())), named],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout)


# --------------------------------------------------------------------------- estimate

def _input_args(shape: Any) -> list[Any]:
    """memscan's ``--input`` values: one unnamed shape, or [(name, shape), ...]."""
    from analyzer.inputs import InputArg
    if shape and isinstance(shape[0], (list, tuple)):
        return [InputArg(n, tuple(d)) for n, d in shape]
    return [InputArg(None, tuple(shape))]


def estimate_from(root: str, path: Path, shape: tuple[int, ...]) -> dict[str, Any]:
    """``estimate`` by the memscan checkout at ``root`` (the "before" figures of a change),
    in a subprocess that imports that checkout's analyzer."""
    proc = subprocess.run([sys.executable, __file__, "--estimate", str(path), json.dumps(shape)],
                          capture_output=True, text=True,
                          env=dict(os.environ, MEMSCAN_BASELINE=root))
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def estimate(path: Path, shape: Any) -> dict[str, Any]:
    """memscan's own figure: its public analysis of the file at the stated input(s)
    (``shape``: one unnamed shape, or [(name, shape), ...])."""
    from analyzer.analysis import analyse
    from analyzer.errors import MemscanError

    try:
        report = analyse(str(path), inputs=_input_args(shape))
    except MemscanError as exc:
        return {"error": str(exc)}
    t = report.totals
    return {"peak_bytes": t.activation_peak_bytes - t.input_bytes,
            "with_inputs_bytes": t.activation_peak_bytes, "input_bytes": t.input_bytes,
            "arena_held_bytes": getattr(t, "onnxruntime_arena_held_bytes", None),
            "feature_map_bytes": t.feature_map_bytes, "peak_layer": t.peak_layer,
            "complete": getattr(t, "complete", None),  # None: a checkout before issue 13
            "unshaped_tensors": getattr(t, "unshaped_tensors", None)}


# --------------------------------------------------------------------------- main

def _ratio(a: Optional[int], b: Optional[int]) -> Optional[float]:
    return a / b if a is not None and b else None


def run_entry(entry: Entry, size: tuple[int, ...], modes: tuple[str, ...],
              baseline: Optional[str] = None) -> dict[str, Any]:
    shape = entry.input_shape(size)
    feeds = entry.feeds(size)
    asked: Any = shape if feeds[0][0] is None else [[n, list(d)] for n, d in feeds]
    t0 = time.time()
    try:
        path = ensure_exported(entry, size)
    except RuntimeError as exc:
        return {"model": entry.name, "exporter": entry.exporter, "split": entry.split,
                "input": list(shape), "error": str(exc).splitlines()[0]}
    meas = {m: measure(path, m, shape, feeds) for m in modes}
    est = estimate(path, asked)
    before = estimate_from(baseline, path, asked) if baseline else None
    exact = meas.get("exact", {})
    arena = meas.get("arena", {})
    held = None
    if "arena_held_bytes" in arena:
        held = arena["arena_held_bytes"] - arena["arena_held_before_first_node"]
    return {
        "model": entry.name, "exporter": entry.exporter, "split": entry.split,
        "input": list(shape), "asked": asked, "estimate": est,
        "measured": {m: {k: v for k, v in r.items() if k != "order"} for m, r in meas.items()},
        "ratio": _ratio(est.get("peak_bytes"), exact.get("peak_bytes")),
        "arena_held_measured": held,
        "arena_ratio": _ratio(est.get("arena_held_bytes"), held),
        "optimized_ratio": _ratio(est.get("peak_bytes"),
                                  meas.get("optimized", {}).get("peak_bytes")),
        "seconds": round(time.time() - t0, 1),
        **({"before": before, "before_ratio": _ratio(before.get("peak_bytes"),
                                                     exact.get("peak_bytes"))}
           if before is not None else {}),
    }


def _mib(n: Optional[int]) -> str:
    return "-" if n is None else f"{n / MIB:.2f}"


def _r(x: Optional[float]) -> str:
    return "-" if x is None else f"{x:.3f}"


def markdown(results: list[dict[str, Any]]) -> str:
    """The table docs/accuracy.md shows, one row per entry and size."""
    head = ("| split | model | exporter | input | estimate MiB | measured MiB | ratio | "
            "shaped | before: estimate MiB | ratio | ORT_ENABLE_ALL peak MiB | ratio |")
    lines = [head, "|---|---|---|---|---:|---:|---:|---|---:|---:|---:|---:|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['split']} | {r['model']} | {r['exporter']} | "
                         f"{'×'.join(map(str, r['input']))} | export failed: {r['error'][:60]} "
                         "| | | | | | | |")
            continue
        est, meas = r["estimate"], r["measured"]
        shaped = ("error" if "error" in est else "100%" if est.get("complete")
                  else f"{est.get('unshaped_tensors')} unshaped")
        mark = "" if est.get("complete", True) else "≥ "
        old = r.get("before") or {}
        lines.append(
            f"| {r['split']} | {r['model']} | {r['exporter']} | "
            f"{'×'.join(map(str, r['input']))} | {mark}{_mib(est.get('peak_bytes'))} | "
            f"{_mib(meas.get('exact', {}).get('peak_bytes'))} | {_r(r['ratio'])} | {shaped} | "
            f"{_mib(old.get('peak_bytes'))} | {_r(r.get('before_ratio'))} | "
            f"{_mib(meas.get('optimized', {}).get('peak_bytes'))} | "
            f"{_r(r.get('optimized_ratio'))} |")
    return "\n".join(lines) + "\n"


def arena_markdown(results: list[dict[str, Any]]) -> str:
    """The default-arena table (docs/accuracy.md, onnxruntime's default CPU arena): memscan's
    ``onnxruntime_arena_held_bytes`` against the bytes the default arena grew by, and
    memscan's peak against the ORT_ENABLE_ALL peak with what differs in the optimized run
    (nodes run, peak node)."""
    head = ("| split | model | input | held: estimate MiB | measured MiB | ratio | "
            "ORT_ENABLE_ALL peak MiB | peak ratio | nodes run: file → optimized | "
            "peak node: file / optimized |")
    lines = [head, "|---|---|---|---:|---:|---:|---:|---:|---|---|"]
    for r in results:
        if "error" in r:
            continue
        est, meas = r["estimate"], r["measured"]
        exact, opt = meas.get("exact", {}), meas.get("optimized", {})
        mark = "" if est.get("complete", True) else "≥ "
        peaks = (f"{exact.get('peak_node', '-')} / {opt.get('peak_node', '-')}"
                 if exact.get("peak_node") != opt.get("peak_node") else "same")
        lines.append(
            f"| {r['split']} | {r['model']} | {'×'.join(map(str, r['input']))} | "
            f"{mark}{_mib(est.get('arena_held_bytes'))} | {_mib(r.get('arena_held_measured'))} | "
            f"{_r(r.get('arena_ratio'))} | {_mib(opt.get('peak_bytes'))} | "
            f"{_r(r.get('optimized_ratio'))} | {exact.get('nodes', '-')} → "
            f"{opt.get('nodes', '-')} | {peaks} |")
    return "\n".join(lines) + "\n"


def summary(results: list[dict[str, Any]]) -> str:
    out = []
    for split in ("tuning", "held-out", "held-out-2"):
        rs = [r for r in results if r["split"] == split]
        ratios = [r["ratio"] for r in rs if r.get("ratio") is not None]
        within = sum(LOW <= x <= HIGH for x in ratios)
        arena = [r["arena_ratio"] for r in rs if r.get("arena_ratio") is not None]
        complete = sum(1 for r in rs if r.get("estimate", {}).get("complete"))
        if not rs:
            continue
        out.append(f"{split}: {len(rs)} runs; peak ratio within {LOW}-{HIGH}: {within}/{len(rs)}"
                   + (f" (min {min(ratios):.3f}, max {max(ratios):.3f})" if ratios else "")
                   + f"; shaped 100%: {complete}/{len(rs)}"
                   + (f"; arena held within {ARENA_LOW}-{ARENA_HIGH}: "
                      f"{sum(ARENA_LOW <= x <= ARENA_HIGH for x in arena)}/{len(rs)}"
                      if arena else ""))
    return "\n".join(out)


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("models", nargs="*", help="corpus entries (default: all measured ones)")
    p.add_argument("--split", choices=("tuning", "held-out", "held-out-2"),
                   help="only this part")
    p.add_argument("--modes", default=",".join(MODES),
                   help=f"measurements to make (default: {','.join(MODES)})")
    p.add_argument("--json", metavar="FILE", help="write every figure to FILE")
    p.add_argument("--markdown", metavar="FILE", help="write the docs table to FILE")
    p.add_argument("--arena-markdown", metavar="FILE",
                   help="write the default-arena and ORT_ENABLE_ALL table to FILE")
    p.add_argument("--from-json", metavar="FILE", nargs="+",
                   help="only re-render saved --json files (tuning first, then held-out)")
    p.add_argument("--reestimate", action="store_true",
                   help="with --from-json: recompute memscan's estimate, keep the measurements")
    p.add_argument("--baseline", metavar="DIR",
                   help="also estimate with the memscan checkout in DIR (before figures; "
                        "with --reestimate too)")
    p.add_argument("--estimate", nargs=2, metavar=("PATH", "SHAPE"), help=argparse.SUPPRESS)
    p.add_argument("--measure", nargs="+", metavar="PATH MODE SHAPE [NAMED]",
                   help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.measure:
        path, mode, shape = args.measure[:3]
        named = json.loads(args.measure[3]) if len(args.measure) > 3 else None
        print(json.dumps(measure_in_process(path, mode, [int(x) for x in shape.split(",") if x],
                                            named)))
        return 0
    if args.estimate:
        print(json.dumps(estimate(Path(args.estimate[0]), json.loads(args.estimate[1]))))
        return 0
    other = [m for m in args.modes.split(",") if m in OTHER_MODES]
    if other:  # their own models, figures and tables: bench/accuracy_keras.py, _training.py
        import importlib
        return importlib.import_module(OTHER_MODES[other[0]]).main(
            args.models or None, args.json, args.markdown, args.from_json)
    if args.from_json:
        results = [r for f in args.from_json for r in json.loads(Path(f).read_text())]
        for r in results if args.reestimate else ():
            if "estimate" in r:
                e = ENTRIES[r["model"]]
                size = e.sizes[[tuple(e.input_shape(z)) for z in e.sizes].index(
                    tuple(r["input"]))]
                r["estimate"] = estimate(onnx_path(r["model"], size), r.get("asked", r["input"]))
                if args.baseline:
                    r["before"] = estimate_from(args.baseline, onnx_path(r["model"], size),
                                                r.get("asked", r["input"]))
                    r["before_ratio"] = _ratio(r["before"].get("peak_bytes"), r["measured"].get(
                        "exact", {}).get("peak_bytes"))
                r["ratio"] = _ratio(r["estimate"].get("peak_bytes"),
                                    r["measured"].get("exact", {}).get("peak_bytes"))
                r["optimized_ratio"] = _ratio(r["estimate"].get("peak_bytes"), r["measured"].get(
                    "optimized", {}).get("peak_bytes"))
                r["arena_ratio"] = _ratio(r["estimate"].get("arena_held_bytes"),
                                          r.get("arena_held_measured"))
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1))
    else:
        entries = [ENTRIES[n] for n in args.models] if args.models else \
            [e for e in CORPUS if e.split in ("tuning", "held-out", "held-out-2")]
        if args.split:
            entries = [e for e in entries if e.split == args.split]
        modes = tuple(m for m in args.modes.split(",") if m)
        results = []
        for e in entries:
            for size in e.sizes:
                r = run_entry(e, size, modes, args.baseline)
                results.append(r)
                est = r.get("estimate", {})
                print(f"{r['split']:<8} {r['model']:<20} {'x'.join(map(str, r['input'])):<14} "
                      f"est {_mib(est.get('peak_bytes')):>8} meas "
                      f"{_mib(r.get('measured', {}).get('exact', {}).get('peak_bytes')):>8} "
                      f"ratio {_r(r.get('ratio')):>6} (before {_r(r.get('before_ratio'))})  "
                      f"{'complete' if est.get('complete') else est.get('unshaped_tensors')}"
                      f"  {r.get('error') or est.get('error') or ''}", flush=True)
                if args.json:  # saved as it goes: a long run can be stopped and re-rendered
                    Path(args.json).write_text(json.dumps(results, indent=1))
    if args.markdown:
        Path(args.markdown).write_text(markdown(results))
    if args.arena_markdown:
        Path(args.arena_markdown).write_text(arena_markdown(results))
    print(summary(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
