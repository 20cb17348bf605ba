"""Record the corpus's ground truth from the frameworks themselves (never from memscan).

    python tests/corpus/record.py            # every file of the manifest
    python tests/corpus/record.py ppocr-det  # some

For each file, at its stored input and at the manifest's second input:
- Keras (.h5, .keras): the model rebuilt from the file's own config at that input, without
  allocating weights; per layer output shapes and count_params() (fixtures/record_oracles.py).
  Keras 2 files go through tf-keras, Keras 3 files through Keras 3. Stored tensors (h5py)
  for weights-only files; the optimizer's stored variables for files saved after training.
- ONNX: onnxruntime (optimizations off) on a copy whose every node output is a graph output,
  fed ones (floats) or zeros (integers); the shape of every tensor. Weight facts from
  ``onnx.load``: elements of initializers and Constant nodes by dtype, and of the float-list
  attributes of ai.onnx.ml nodes.
- SavedModel: the serving signature called on concrete zeros; output shapes, variables.
- TFLite: the interpreter's shapes of every tensor (for the TFLite work, issue #16).

Writes tests/corpus/golden/<id>.json. This script must never import memscan (``analyzer``):
the test checks it.
"""
from __future__ import annotations

import json
import math
import os
import sys
import zipfile
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent / "fixtures"))

from fetch import fetch, manifest  # noqa: E402

GOLDEN = HERE / "golden"


# ---- Keras -------------------------------------------------------------------------------

def keras_config(path: Path) -> tuple[dict, int]:
    """(model config, Keras major version) of a .h5 or .keras file."""
    if path.suffix == ".keras":
        with zipfile.ZipFile(path) as zf:
            return json.loads(zf.read("config.json")), 3
    import h5py
    with h5py.File(path, "r") as f:
        raw = f.attrs["model_config"]
        version = f.attrs.get("keras_version", "2")
    version = version.decode() if isinstance(version, bytes) else str(version)
    return json.loads(raw.decode() if isinstance(raw, bytes) else raw), int(version[0])


def keras_truth(path: Path, point: Any) -> dict:
    from record_oracles import rebuild, with_inputs
    config, major = keras_config(path)
    framework = "keras3" if major >= 3 else "tf_keras"
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "0")
    shapes = point if isinstance(point, list) else None
    result = rebuild(framework, with_inputs(config, shapes))
    result["framework"] = framework
    result["batch"] = point.get("batch", 1) if isinstance(point, dict) else 1
    return result


def stored_tensors(path: Path) -> dict:
    """Every dataset of a weights file (or of a .keras's model.weights.h5): name -> shape."""
    import h5py
    if path.suffix == ".keras":
        import io
        with zipfile.ZipFile(path) as zf:
            f = h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r")
    else:
        f = h5py.File(path, "r")
    out: dict[str, list[int]] = {}
    f.visititems(lambda n, o: out.__setitem__(n, list(o.shape))
                 if isinstance(o, h5py.Dataset) else None)
    f.close()
    return out


def keras_weights_facts(path: Path) -> dict:
    tensors = stored_tensors(path)
    optimizer = {n: s for n, s in tensors.items() if n.startswith("optimizer/")}
    return {"stored_elements": sum(math.prod(s) for s in tensors.values()),
            "optimizer_tensors": len(optimizer),
            "optimizer_elements": sum(math.prod(s) for s in optimizer.values()),
            "tensors": len(tensors)}


# ---- ONNX --------------------------------------------------------------------------------

INDEX_TYPES = {"int64", "int32", "bool", "string", "int16", "uint8", "int8"}


def onnx_weight_facts(path: Path) -> dict:
    """Elements of initializers and of Constant node values, by ONNX dtype name."""
    import onnx
    m = onnx.load(str(path))
    name = onnx.helper.tensor_dtype_to_np_dtype
    init: dict[str, int] = {}
    const: dict[str, int] = {}
    for t in m.graph.initializer:
        key = str(name(t.data_type))
        init[key] = init.get(key, 0) + math.prod(t.dims)
    for n in m.graph.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    key = str(name(a.t.data_type))
                    const[key] = const.get(key, 0) + math.prod(a.t.dims)
    attributes: dict[str, int] = {}
    for n in m.graph.node:
        if n.domain == "ai.onnx.ml":
            for a in n.attribute:
                if len(a.floats):
                    key = f"{n.op_type}.{a.name}"
                    attributes[key] = attributes.get(key, 0) + len(a.floats)
    return {"initializer_elements": init, "constant_elements": const,
            "ml_float_attribute_elements": attributes, "nodes": len(m.graph.node)}


def exposed(path: Path) -> bytes:
    """The model with every top-level node output (but Constants') a graph output."""
    import onnx
    m = onnx.load(str(path))
    have = {o.name for o in m.graph.output}
    for n in m.graph.node:
        if n.op_type == "Constant":
            continue
        for o in n.output:
            if o and o not in have:
                m.graph.output.append(onnx.ValueInfoProto(name=o))
                have.add(o)
    return m.SerializeToString()


ORT_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
             "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(int8)": "int8",
             "tensor(uint8)": "uint8", "tensor(bool)": "bool"}


def feed(sess: Any, point: list, fill: dict) -> dict:
    """Ones for float inputs, zeros for integer ones, unless the manifest fills a value."""
    import numpy as np
    shapes = {p[0]: p[1] for p in point}
    fill = {**fill, **{p[0]: p[2] for p in point if len(p) > 2}}  # a point's own value wins
    out = {}
    for i in sess.get_inputs():
        dtype = np.dtype(ORT_TYPES[i.type])
        value = fill.get(i.name, 1 if dtype.kind == "f" else 0)
        out[i.name] = np.full(shapes[i.name], value, dtype=dtype)
    return out


def onnx_truth(path: Path, point: list, fill: dict) -> dict:
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = 3
    sess = ort.InferenceSession(exposed(path), opts, providers=["CPUExecutionProvider"])
    values = sess.run(None, feed(sess, point, fill))
    tensors = {}
    for o, v in zip(sess.get_outputs(), values):
        tensors[o.name] = list(v.shape) if hasattr(v, "shape") else type(v).__name__
    return {"inputs": point, "tensors": tensors,
            "outputs": [o.name for o in sess.get_outputs()][:_n_outputs(path)]}


def _n_outputs(path: Path) -> int:
    import onnx
    return len(onnx.load(str(path), load_external_data=False).graph.output)


# ---- SavedModel and TFLite ---------------------------------------------------------------

def savedmodel_truth(path: Path, point: dict) -> dict:
    import numpy as np
    import tensorflow as tf
    loaded = tf.saved_model.load(str(path))
    fn = loaded.signatures["serving_default"]
    args = {}
    for name, spec in fn.structured_input_signature[1].items():
        shape = [point["batch"] if d is None else d for d in spec.shape]
        args[name] = tf.constant(np.zeros(shape, spec.dtype.as_numpy_dtype))
    outs = fn(**args)
    variables = [v for v in loaded.variables]
    return {"inputs": {k: list(v.shape) for k, v in args.items()},
            "outputs": {k: list(v.shape) for k, v in outs.items()},
            "stated_outputs": {k: [None if d is None else int(d) for d in v.shape]
                               for k, v in fn.structured_outputs.items()},
            "variables": len(variables),
            "variable_elements": sum(math.prod(v.shape) for v in variables)}


def tflite_truth(path: Path, point: Optional[dict]) -> dict:
    import tensorflow as tf
    interp = tf.lite.Interpreter(model_path=str(path))
    if point and point.get("batch", 1) != 1:
        for d in interp.get_input_details():
            interp.resize_tensor_input(d["index"], [point["batch"], *d["shape"][1:]])
    interp.allocate_tensors()
    return {"inputs": [{"name": d["name"], "shape": d["shape"].tolist(),
                        "dtype": d["dtype"].__name__} for d in interp.get_input_details()],
            "outputs": [{"name": d["name"], "shape": d["shape"].tolist()}
                        for d in interp.get_output_details()],
            "tensors": {str(d["index"]): {"name": d["name"], "shape": d["shape"].tolist(),
                                          "dtype": d["dtype"].__name__}
                        for d in interp.get_tensor_details()}}


# ---- driver ------------------------------------------------------------------------------

def record(e: dict) -> dict:
    path = fetch(e)
    fmt = e["format"]
    out: dict[str, Any] = {"id": e["id"], "format": fmt, "points": {}}
    points = {"stored": e.get("stored"), "second": e.get("second")}
    for label, point in points.items():
        if point is None and label == "second":
            continue
        try:
            if fmt in ("keras-h5", "keras-zip"):
                truth = keras_truth(path, point)
            elif fmt == "onnx":
                truth = onnx_truth(path, point, e.get("fill", {}))
            elif fmt == "savedmodel":
                truth = savedmodel_truth(path, point)
            elif fmt == "tflite":
                truth = tflite_truth(path, point)
            else:
                continue
        except Exception as exc:  # the framework's own refusal is ground truth too
            truth = {"refused": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"}
        out["points"][label] = truth
    if fmt in ("keras-weights", "keras-zip"):
        out["weights"] = keras_weights_facts(path)
    if fmt == "onnx":
        out["weights"] = onnx_weight_facts(path)
    out["recorded_with"] = _versions(fmt)
    return out


def _versions(fmt: str) -> dict:
    import importlib.metadata as md
    names = {"onnx": ["onnx", "onnxruntime"], "savedmodel": ["tensorflow"],
             "tflite": ["tensorflow"], "keras-h5": ["tf-keras"], "keras-zip": ["keras"],
             "keras-weights": ["h5py"]}[fmt]
    return {n: md.version(n) for n in names}


def main(ids: list[str]) -> None:
    GOLDEN.mkdir(exist_ok=True)
    for e in manifest():
        if ids and e["id"] not in ids:
            continue
        data = record(e)
        target = GOLDEN / f"{e['id']}.json"
        target.write_text(json.dumps(data, indent=None, separators=(",", ":"),
                                     sort_keys=True) + "\n")
        refused = [k for k, v in data["points"].items() if "refused" in v]
        print(e["id"], target.stat().st_size, "bytes", "refused: " + ",".join(refused)
              if refused else "")
    assert "analyzer" not in sys.modules, "the recorder must not import memscan"


if __name__ == "__main__":
    main(sys.argv[1:])
