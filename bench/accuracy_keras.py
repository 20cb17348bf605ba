"""Keras-side activation peak against a runtime (issue 13 item 6).

    python bench/accuracy.py --modes keras [MODEL ...] [--json F] [--markdown F]
    python bench/accuracy_keras.py [MODEL ...] [--json F] [--markdown F]   # the same

Per keras.applications model (``weights=None``, ``include_top=False, pooling="avg"``) and
input size, in a fresh subprocess each:

1. build it eagerly in tf-keras, save the ``.h5`` (what memscan reads) and export the same
   in-memory model with ``tf2onnx.convert.from_keras`` (opset 17, batch dim open);
2. measure the ONNX file in onnxruntime exactly as bench/accuracy.py does ("exact":
   ORT_DISABLE_ALL, memory pattern off, one thread, the CPU arena extended by exactly the
   request; peak = max in use minus what was in use before the first node);
3. memscan's activation peak of the ``.h5`` at that input, minus the input (the caller's
   input is not in onnxruntime's arena), and the same for memscan on the ``.onnx`` file.

Why onnxruntime and not TensorFlow's allocator: ``tf.config.experimental.get_memory_info``
raises on CPU devices, and TF's eager executor holds Python-owned tensors per op, so its
peak depends on Python's reference lifetimes rather than on the graph. onnxruntime runs one
static graph with an allocator that reports exact bytes in use per node.

The two figures follow different runtime models on purpose: memscan's Keras figure is a
layer-level liveness walk (one buffer per layer output, file order, only reinterpreting
layers alias), onnxruntime runs tf2onnx's graph (BatchNorm kept or folded by tf2onnx, NHWC
↔ NCHW Transposes around every Conv, Pad nodes for "same" padding, in-place reuse of
elementwise inputs). The ``onnx`` column separates the two: memscan on the exported file
against the same measurement.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "accuracy_keras"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import _mib, _r, _ratio  # noqa: E402  (one formatting for every table)

#: keras.applications model -> extra constructor arguments. Every one: weights=None,
#: include_top=False, pooling="avg" (no classifier: the same for every size).
MODELS: dict[str, dict[str, Any]] = {
    "MobileNetV2": {}, "MobileNetV3Small": {}, "EfficientNetB0": {}, "ResNet50": {},
    "DenseNet121": {}, "InceptionV3": {}, "Xception": {}, "NASNetMobile": {}, "VGG16": {},
    "ConvNeXtTiny": {}, "MobileNet": {}, "ResNet50V2": {},
}
SIZES = (96, 160)


def paths(name: str, size: int) -> tuple[Path, Path]:
    stem = CACHE / f"{name}_{size}"
    return stem.with_suffix(".h5"), stem.with_suffix(".onnx")


def export_in_process(name: str, size: int, h5: str, onnx_out: str) -> None:
    """Build, save the .h5, export the same model to ONNX (runs in a subprocess)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    import tf2onnx
    import tf_keras as keras

    build = getattr(keras.applications, name)
    model = build(weights=None, include_top=False, pooling="avg",
                  input_shape=(size, size, 3), **MODELS[name])
    model.save(h5)
    spec = [tf.TensorSpec([None, size, size, 3], tf.float32, name="x")]
    tf2onnx.convert.from_keras(model, input_signature=spec, opset=17, output_path=onnx_out)


def ensure_exported(name: str, size: int) -> tuple[Path, Path]:
    h5, onnx_path = paths(name, size)
    if h5.exists() and onnx_path.exists():
        return h5, onnx_path
    CACHE.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    with tempfile.TemporaryDirectory(prefix="memscan-kexport-") as tmpdir:
        tmp_h5, tmp_onnx = Path(tmpdir) / "m.h5", Path(tmpdir) / "m.onnx"
        proc = subprocess.run([sys.executable, __file__, "--export", name, str(size),
                               str(tmp_h5), str(tmp_onnx)], capture_output=True, text=True,
                              env=env, cwd=tmpdir)
        if proc.returncode != 0 or not tmp_onnx.exists():
            raise RuntimeError(f"export of {name} {size} failed:\n{proc.stderr[-3000:]}")
        os.replace(tmp_h5, h5)
        os.replace(tmp_onnx, onnx_path)
    return h5, onnx_path


def onnx_ops(path: Path) -> dict[str, int]:
    """Node count per op type of the exported file (what onnxruntime runs)."""
    import onnx

    return dict(Counter(n.op_type for n in onnx.load(str(path), load_external_data=False)
                        .graph.node).most_common())


def keras_layers(path: Path) -> dict[str, int]:
    """Layer count per class in the .h5 (what memscan's Keras walk steps over)."""
    from analyzer.analysis import analyse

    report = analyse(str(path))
    return dict(Counter(r.type for r in report.layers).most_common())


def run(name: str, size: int) -> dict[str, Any]:
    from accuracy import estimate, measure

    shape = (1, size, size, 3)
    t0 = time.time()
    row: dict[str, Any] = {"model": name, "input": list(shape)}
    try:
        h5, onnx_path = ensure_exported(name, size)
    except RuntimeError as exc:
        return {**row, "error": str(exc).splitlines()[0]}
    meas = measure(onnx_path, "exact", shape)
    keras_est = keras_estimate(h5, shape)
    onnx_est = estimate(onnx_path, shape)
    peak = meas.get("peak_bytes")
    return {**row, "measured": meas, "keras": keras_est, "onnx": onnx_est,
            "ratio": _ratio(keras_est.get("peak_bytes"), peak),
            "onnx_ratio": _ratio(onnx_est.get("peak_bytes"), peak),
            "onnx_ops": onnx_ops(onnx_path), "keras_layers": keras_layers(h5),
            "seconds": round(time.time() - t0, 1)}


def keras_estimate(path: Path, shape: tuple[int, ...]) -> dict[str, Any]:
    """memscan's activation peak of a Keras file without the input: ``shape`` with its
    batch first (a Keras ``--input`` states the dims after the batch)."""
    from analyzer.analysis import analyse
    from analyzer.errors import MemscanError
    from analyzer.inputs import InputArg

    try:
        t = analyse(str(path), inputs=[InputArg(None, shape[1:])], batch=shape[0]).totals
    except MemscanError as exc:
        return {"error": str(exc)}
    return {"peak_bytes": t.activation_peak_bytes - t.input_bytes,
            "input_bytes": t.input_bytes, "peak_layer": t.peak_layer,
            "feature_map_bytes": t.feature_map_bytes, "complete": t.complete,
            "unshaped_tensors": t.unshaped_tensors}


def markdown(results: list[dict[str, Any]]) -> str:
    lines = ["| model | input | memscan .h5 MiB | measured MiB | ratio | memscan .onnx MiB | "
             "ratio | ONNX nodes (Transpose, BatchNormalization, Pad) | Keras layers |",
             "|---|---|---:|---:|---:|---:|---:|---|---:|"]
    for r in results:
        shape = "×".join(map(str, r["input"]))
        if "error" in r:
            lines.append(f"| {r['model']} | {shape} | failed: {r['error'][:60]} | | | | | | |")
            continue
        ops = r["onnx_ops"]
        mark = "" if r["keras"].get("complete", True) else "≥ "
        lines.append(
            f"| {r['model']} | {shape} | {mark}{_mib(r['keras'].get('peak_bytes'))} | "
            f"{_measured(r['measured'])} | {_r(r['ratio'])} | "
            f"{'' if r['onnx'].get('complete', True) else '≥ '}"
            f"{_mib(r['onnx'].get('peak_bytes'))} | {_r(r['onnx_ratio'])} | "
            f"{sum(ops.values())} ({ops.get('Transpose', 0)}, "
            f"{ops.get('BatchNormalization', 0)}, {ops.get('Pad', 0)}) | "
            f"{sum(r['keras_layers'].values())} |")
    return "\n".join(lines) + "\n"


def _measured(meas: dict[str, Any]) -> str:
    """The measured peak, or why there is none (onnxruntime refused the export)."""
    if "error" in meas:
        return "not run: " + meas["error"].rsplit("Error ", 1)[-1][:70].replace("|", "/")
    return _mib(meas.get("peak_bytes"))


def summary(results: list[dict[str, Any]]) -> str:
    ratios = [r["ratio"] for r in results if r.get("ratio") is not None]
    onnx = [r["onnx_ratio"] for r in results if r.get("onnx_ratio") is not None]
    if not ratios:
        return "no results"
    return (f"keras: {len(results)} runs; .h5 ratio min {min(ratios):.3f} max {max(ratios):.3f}"
            f"; .onnx ratio min {min(onnx):.3f} max {max(onnx):.3f}")


def main(models: Optional[list[str]] = None, json_out: Optional[str] = None,
         markdown_out: Optional[str] = None, from_json: Optional[list[str]] = None) -> int:
    if from_json:
        results = [r for f in from_json for r in json.loads(Path(f).read_text())]
    else:
        results = []
        for name in models or list(MODELS):
            for size in SIZES:
                r = run(name, size)
                results.append(r)
                print(f"{name:<18} {size:>4}  h5 {_mib(r.get('keras', {}).get('peak_bytes')):>8}"
                      f"  meas {_mib(r.get('measured', {}).get('peak_bytes')):>8}"
                      f"  ratio {_r(r.get('ratio')):>6}  onnx {_r(r.get('onnx_ratio')):>6}"
                      f"  {r.get('error', '')}", flush=True)
                if json_out:
                    Path(json_out).write_text(json.dumps(results, indent=1))
    if markdown_out:
        Path(markdown_out).write_text(markdown(results))
    print(summary(results))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--export"]:
        export_in_process(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
        sys.exit(0)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("models", nargs="*", help=f"keras.applications names (default: {list(MODELS)})")
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--markdown", metavar="FILE")
    p.add_argument("--from-json", metavar="FILE", nargs="+")
    a = p.parse_args()
    sys.exit(main(a.models, a.json, a.markdown, a.from_json))
