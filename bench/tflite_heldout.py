"""Held-out check of the TFLite planner: models never looked at while the planner was built
(named before running: keras.applications MobileNetV2 alpha 0.35 at 96×96 and EfficientNetB0
at 128×128, weights=None, float32 and full-int8), converted into .cache/tflite-heldout/,
measured like fixtures/tflite/record_tflite_oracles.py, and compared with memscan.

    python bench/tflite_heldout.py
"""
from __future__ import annotations

import os
import subprocess
import sys
import json
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / ".cache" / "tflite-heldout"
sys.path.insert(0, str(ROOT / "fixtures" / "tflite"))


def build() -> dict[str, Path]:
    import keras
    import tensorflow as tf
    from make_tflite import convert

    OUT.mkdir(parents=True, exist_ok=True)
    models = {
        "mobilenetv2_035_96": lambda: keras.applications.MobileNetV2(
            input_shape=(96, 96, 3), alpha=0.35, weights=None),
        "efficientnetb0_128": lambda: keras.applications.EfficientNetB0(
            input_shape=(128, 128, 3), weights=None),
    }
    paths = {}
    for name, make in models.items():
        keras.utils.set_random_seed(0)
        model = make()
        for int8 in (False, True):
            path = OUT / f"{name}_{'int8' if int8 else 'float'}.tflite"
            if not path.exists():
                path.write_bytes(convert(keras, tf, model, int8))
            paths[path.stem] = path
        keras.backend.clear_session()
    return paths


def main() -> None:
    from record_tflite_oracles import record

    print("| file | input | memscan arena | TFLite arena | ratio | tensors equal |")
    print("|---|---|---:|---:|---:|---:|")
    for name, path in build().items():
        oracle = record(path, None)
        shape = ",".join(map(str, oracle["inputs"][0]))
        out = subprocess.run([sys.executable, "-m", "analyzer", str(path), "--input", shape,
                              "--format", "json"], capture_output=True, text=True, cwd=ROOT)
        rep = json.loads(out.stdout)
        ours = rep["totals"]["arena_bytes"]
        print(f"| {name} | {shape} | {ours:,} | {oracle['arena_bytes']:,} | "
              f"{ours / oracle['arena_bytes']:.3f} | "
              f"{rep['totals']['layers_with_unknown_shapes'] == 0} |")


if __name__ == "__main__":
    main()
