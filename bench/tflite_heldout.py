"""Held-out check of the TFLite planner: models never looked at while the planner was built
(named before running: keras.applications MobileNetV2 alpha 0.35 at 96×96 and EfficientNetB0
at 128×128, weights=None, float32 and full-int8), converted into .cache/tflite-heldout/,
measured like fixtures/tflite/record_tflite_oracles.py, and compared with memscan.

    python bench/tflite_heldout.py
"""
from __future__ import annotations

import os
import sys
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

    from analyzer import formats
    from analyzer.analysis import analyse_graph
    from analyzer.inputs import InputArg, resolve_inputs
    from analyzer.shapes.infer import infer

    print("| file | input | memscan arena | TFLite arena | ratio | tensors equal to TFLite's |")
    print("|---|---|---:|---:|---:|---:|")
    for name, path in build().items():
        for shape in (None, (2, 128, 112, 3)):
            oracle = record(path, shape)
            if "tflite_error" in oracle:
                print(f"| {name} | {shape} | TFLite refuses: {oracle['tflite_error'][:60]} |")
                continue
            graph = formats.load(str(path))
            inputs = [InputArg(None, tuple(oracle["inputs"][0]))]
            tensors = infer(graph, resolve_inputs(graph, inputs, None)).tensors
            equal = sum(1 for k, v in oracle["tensors"].items()
                        if list(tensors.get(k) or ()) == v)
            ours = analyse_graph(graph, str(path), inputs=inputs).totals.arena_bytes
            print(f"| {name} | {'x'.join(map(str, oracle['inputs'][0]))} | {ours:,} | "
                  f"{oracle['arena_bytes']:,} | {ours / oracle['arena_bytes']:.3f} | "
                  f"{equal}/{len(oracle['tensors'])} |", flush=True)


if __name__ == "__main__":
    main()
