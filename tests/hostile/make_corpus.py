"""Generate the corpus of hostile and broken artifacts memscan must survive (issue 8).

``build(root) -> list[Case]`` writes every file into ``root`` (a temp folder), each case in a
folder of its own (the "model's folder"), and returns what memscan must do with each. Nothing
here is a hand-edited binary: HDF5 files are written with h5py, ONNX files with the onnx
helper API, zips with zipfile, and the two bases that need Keras/TensorFlow (a ``.keras`` and
a SavedModel) come from ``fixtures/hostile/`` (built by make_bases.py).

Payloads are real: the Lambda holds marshalled bytecode that creates ``root/outside/PWNED``
when run, configs name ``os.system`` / ``subprocess.Popen`` / ``builtins.eval`` with arguments
that would create it too, and files outside a case's folder that memscan must not read are
FIFOs (opening one blocks, so a read turns into a timeout the test sees).

Run directly to look at the corpus: ``python tests/hostile/make_corpus.py /tmp/corpus``.
"""
from __future__ import annotations

import base64
import io
import json
import marshal
import os
import random
import shutil
import struct
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
BASES = FIXTURES / "hostile"
#: Substring every code payload carries: an audit hook flags any unmarshal/compile/exec/spawn
#: whose arguments contain it.
MARKER = "MEMSCAN_HOSTILE_MARKER"

# Expectations (see Case.expect).
ERROR, FINDING, OK, ANY = "error", "finding", "ok", "any"


@dataclass(frozen=True)
class Case:
    """One corpus entry and what memscan must do with it.

    ``kind`` is the reader that must handle it ("keras-h5", "keras-zip", "onnx",
    "savedmodel", or "none" for files no reader claims). Until that reader exists (its
    ``control`` case does not analyse), the only acceptable answer is exit 2 with one line.
    ``expect``: ERROR = exit 2, one stderr line naming the file, containing one of
    ``fragments`` (lower-cased); FINDING = exit 0/1 with one of ``findings`` in the JSON
    report; OK = exit 0, ``format`` as stated; ANY = exit 0/1 (a report) or 2 (one line).
    """

    name: str
    path: str  # relative to root: the artifact given to the CLI
    kind: str
    expect: str
    fragments: tuple[str, ...] = ()
    findings: tuple[str, ...] = ()
    format: Optional[str] = None
    args: tuple[str, ...] = ()
    #: Paths (relative to root) outside the case folder that must not be read (FIFOs).
    outside: tuple[str, ...] = ()

    @property
    def folder(self) -> str:
        return self.path.split("/", 1)[0]


@dataclass
class _Corpus:
    root: Path
    cases: list[Case] = field(default_factory=list)

    @property
    def sentinel(self) -> Path:
        return self.root / "outside" / "PWNED"

    def folder(self, name: str) -> Path:
        d = self.root / name
        d.mkdir(parents=True, exist_ok=False)
        return d

    def add(self, name: str, filename: str, kind: str, expect: str, **kw: Any) -> Path:
        """Register a case whose artifact is ``root/name/filename``; returns that path."""
        path = self.folder(name) / filename if filename else self.root / name
        if not filename:
            path.mkdir(exist_ok=True)
        rel = f"{name}/{filename}" if filename else name
        self.cases.append(Case(name=name, path=rel, kind=kind, expect=expect, **kw))
        return path

    def fifo(self, name: str) -> Path:
        """A FIFO outside every case folder: opening it for reading blocks."""
        p = self.root / "outside" / name
        os.mkfifo(p)
        return p


# ----------------------------------------------------------------------------- payloads

def lambda_code_b64(sentinel: Path) -> str:
    """What Keras 2 writes for a Lambda: base64 of marshal of the function's code object."""
    src = (f"lambda x: (open({str(sentinel)!r}, 'w').write({MARKER!r}), x)[1]")
    code = compile(src, "<hostile-lambda>", "eval").co_consts[0]
    return base64.b64encode(marshal.dumps(code)).decode("ascii")


def shell_command(sentinel: Path) -> str:
    return f"echo {MARKER} > {sentinel}"


def eval_expression(sentinel: Path) -> str:
    return f"open({str(sentinel)!r}, 'w').write({MARKER!r})"


# ----------------------------------------------------------------------------- Keras configs

def _dense_cfg(name: str, units: Any, **extra: Any) -> dict:
    cfg = {"name": name, "trainable": True, "dtype": "float32", "units": units,
           "activation": "linear", "use_bias": True}
    cfg.update(extra)
    return cfg


def k2_layer(class_name: str, name: str, config: dict, inbound: Any, **top: Any) -> dict:
    spec = {"class_name": class_name, "config": config, "name": name, "inbound_nodes": inbound}
    spec.update(top)
    return spec


def k2_functional(layers: list, inputs: Any = None, outputs: Any = None, name: str = "m") -> dict:
    """A Keras 2 (tf-keras) Functional config around ``layers``."""
    return {"class_name": "Functional", "config": {
        "name": name, "trainable": True, "layers": layers,
        "input_layers": inputs if inputs is not None else [["x", 0, 0]],
        "output_layers": outputs if outputs is not None else [[layers[-1]["name"], 0, 0]]}}


def k2_input(shape: Any, name: str = "x") -> dict:
    return k2_layer("InputLayer", name, {"batch_input_shape": shape, "dtype": "float32",
                                         "sparse": False, "ragged": False, "name": name}, [])


def k2_chain(middle: list[tuple[str, str, dict, dict]], shape: Any = (None, 8)) -> dict:
    """Input -> each (class, name, config, top-level extras) in order, Keras 2 dialect."""
    layers = [k2_input(list(shape))]
    prev = "x"
    for class_name, name, cfg, top in middle:
        layers.append(k2_layer(class_name, name, cfg, [[[prev, 0, 0, {}]]], **top))
        prev = name
    return k2_functional(layers)


def k3_sequential(layers: list[dict], shape: Any = (None, 8)) -> dict:
    """A Keras 3 Sequential config (the h5 and .keras dialect)."""
    first = {"class_name": "InputLayer", "config": {"batch_shape": list(shape),
                                                    "dtype": "float32", "name": "input_layer"}}
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": "seq", "trainable": True, "layers": [first, *layers]}}


def k3_layer(class_name: str, name: str, config: dict, module: str = "keras.layers",
             registered_name: Any = None) -> dict:
    return {"module": module, "class_name": class_name, "registered_name": registered_name,
            "config": {"name": name, **config}}


def lambda_k2_config(code: str) -> dict:
    return {"name": "evil", "trainable": True, "dtype": "float32",
            "function": [code, None, None], "function_type": "lambda", "module": "__main__",
            "output_shape": None, "output_shape_type": "raw", "output_shape_module": None,
            "arguments": {}}


def lambda_k3_config(code: str) -> dict:
    fn = {"class_name": "__lambda__", "config": {"code": code, "defaults": None,
                                                 "closure": None}}
    return {"trainable": True, "dtype": "float32", "function": fn, "arguments": {},
            "output_shape": fn, "mask": None}


# ----------------------------------------------------------------------------- HDF5 writing

def write_keras_h5(path: Path, model_config: Any,
                   weights: Optional[dict[str, dict[str, tuple]]] = None,
                   keras_version: str = "2.15.0", hook: Optional[Callable] = None) -> None:
    """A Keras-layout HDF5 file; weights are hollow (declared, never written).

    ``model_config``: a dict (dumped to JSON), a str/bytes stored as is, or anything h5py
    can store as an attribute (to test wrong types). ``hook(f)`` edits the open file last.
    """
    import h5py
    import numpy as np

    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = keras_version
        f.attrs["backend"] = "tensorflow"
        if model_config is not None:
            f.attrs["model_config"] = (json.dumps(model_config)
                                       if isinstance(model_config, (dict, list)) else
                                       model_config)
        mw = f.create_group("model_weights")
        weights = weights or {}
        if model_config is None and not weights:
            return
        mw.attrs["layer_names"] = np.array([n.encode() for n in weights] or [b""][:0],
                                           dtype="S" if weights else "f8")
        for layer, ws in weights.items():
            g = mw.create_group(layer)
            g.attrs["weight_names"] = np.array([f"{layer}/{w}".encode() for w in ws]
                                               or [0.0][:0], dtype="S" if ws else "f8")
            for w, shape in ws.items():
                chunks = tuple(1 for _ in shape) if shape else None
                g.create_dataset(f"{layer}/{w}", shape=shape, dtype="f4", chunks=chunks)
        if hook:
            hook(f)


def np_bytes(raw: bytes) -> Any:
    """A fixed-length byte-string attribute (not valid UTF-8), as old h5py wrote them."""
    import numpy as np
    return np.bytes_(raw)


DENSE_WEIGHTS = {"d1": {"kernel:0": (8, 4), "bias:0": (4,)}}


def dense_model() -> dict:
    return k2_chain([("Dense", "d1", _dense_cfg("d1", 4), {})])


# ----------------------------------------------------------------------------- byte mutations

def truncations(data: bytes) -> list[tuple[str, bytes]]:
    n = len(data)
    return [("8", data[:8]), ("half", data[: n // 2]), ("minus1", data[: n - 1])]


def bitflips(data: bytes, seed: int, count: int = 3, flips: int = 8) -> list[tuple[str, bytes]]:
    """``count`` copies of ``data``, each with ``flips`` random bits flipped (seeded)."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        b = bytearray(data)
        for _ in range(flips):
            pos = rng.randrange(len(b))
            b[pos] ^= 1 << rng.randrange(8)
        out.append((str(i), bytes(b)))
    return out


# ----------------------------------------------------------------------------- ONNX

def onnx_model(*, initializer_location: Optional[str] = None, cycle: bool = False,
               dims: Optional[list] = None, nested_if: int = 0) -> Any:
    """A small ONNX model (MatMul + Relu); options make it hostile."""
    import numpy as np
    from onnx import AttributeProto, TensorProto, helper, numpy_helper

    dims = dims if dims is not None else [1, 8]
    w = numpy_helper.from_array(np.ones((8, 4), dtype=np.float32), name="W")
    if initializer_location is not None:
        w = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[8, 4])
        w.data_location = TensorProto.EXTERNAL
        for k, v in (("location", initializer_location), ("offset", "0"), ("length", "128")):
            e = w.external_data.add()
            e.key, e.value = k, v
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    if cycle:
        nodes = [helper.make_node("Add", ["x", "c"], ["a"], name="n_a"),
                 helper.make_node("Relu", ["a"], ["c"], name="n_c"),
                 helper.make_node("MatMul", ["a", "W"], ["y"], name="n_y")]
    else:
        nodes = [helper.make_node("MatMul", ["x", "W"], ["h"], name="mm"),
                 helper.make_node("Relu", ["h"], ["y"], name="relu")]
    outputs = [y]
    inits = [w]
    if nested_if:
        outputs = [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)]
        inits.append(helper.make_tensor("cond", TensorProto.BOOL, [], [True]))
    model = helper.make_model(helper.make_graph(nodes, "g", [x], outputs, initializer=inits),
                              opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="memscan-hostile")
    if nested_if:
        # If nodes nested in then_branch, built in place outermost first: helper's CopyFrom
        # re-parses and would hit protobuf's own depth limit, as a reader will.
        node = model.graph.node.add()
        node.op_type, node.name = "If", "deep_if"
        node.input.append("cond")
        node.output.append("out")
        for i in range(nested_if):
            nxt = None
            for branch in ("then_branch", "else_branch"):
                attr = node.attribute.add()
                attr.name, attr.type = branch, AttributeProto.GRAPH
                attr.g.name = f"{branch}{i}"
                attr.g.output.add().name = f"z{i}"
                leaf = attr.g.node.add()
                leaf.output.append(f"z{i}")
                if branch == "then_branch" and i < nested_if - 1:
                    leaf.op_type, leaf.name = "If", f"if{i}"
                    leaf.input.append("cond")
                    nxt = leaf
                else:
                    leaf.op_type = "Identity"
                    leaf.input.append("y")
            if nxt is None:
                break
            node = nxt
    return model


def onnx_bytes(model: Any) -> bytes:
    return model.SerializeToString()


# ----------------------------------------------------------------------------- zip

def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buf.getvalue()


def claim_size(data: bytes, member: str, size: int) -> bytes:
    """Rewrite a zip so ``member``'s headers claim ``size`` uncompressed bytes (zip64)."""
    b = bytearray(data)
    name = member.encode()
    # Local header: uncompressed size at +22; central directory entry: at +24.
    for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while True:
            i = b.find(sig, start)
            if i < 0:
                break
            start = i + 4
            name_off = 30 if sig == b"PK\x03\x04" else 46
            nlen = struct.unpack_from("<H", b, i + (26 if sig == b"PK\x03\x04" else 28))[0]
            if bytes(b[i + name_off:i + name_off + nlen]) == name:
                struct.pack_into("<I", b, i + off, min(size, 0xFFFFFFFF))
    return bytes(b)


def keras_zip_members(config: Optional[dict] = None) -> dict[str, bytes]:
    """The members of the base .keras (fixtures/hostile/base.keras), config replaced if given."""
    with zipfile.ZipFile(BASES / "base.keras") as z:
        members = {n: z.read(n) for n in z.namelist()}
    if config is not None:
        members["config.json"] = json.dumps(config).encode()
    return members


def base_keras_config() -> dict:
    return json.loads(keras_zip_members()["config.json"])


# ----------------------------------------------------------------------------- the corpus

def build(root: Path) -> list[Case]:
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "outside").mkdir()
    c = _Corpus(root)
    _controls(c)
    _keras_h5_code(c)
    _keras_h5_configs(c)
    _keras_h5_dims(c)
    _keras_h5_bytes(c)
    _keras_zip(c)
    _onnx(c)
    _savedmodel(c)
    _misc(c)
    return c.cases


def _controls(c: _Corpus) -> None:
    """One well-formed artifact per kind: its reader must analyse it."""
    write_keras_h5(c.add("control-keras-h5", "model.h5", "keras-h5", OK, format="keras-h5"),
                   dense_model(), DENSE_WEIGHTS)
    shutil.copy(BASES / "base.keras", c.add("control-keras-zip", "model.keras", "keras-zip",
                                              OK))
    c.add("control-onnx", "model.onnx", "onnx", OK).write_bytes(onnx_bytes(onnx_model()))
    shutil.copytree(BASES / "base_savedmodel", c.root / "control-savedmodel")
    c.cases.append(Case("control-savedmodel", "control-savedmodel", "savedmodel", OK))


def _keras_h5_code(c: _Corpus) -> None:
    """Configs that would run code if a loader trusted them: readable, flagged, never run."""
    code = lambda_code_b64(c.sentinel)
    lam = ("Lambda", "evil", lambda_k2_config(code), {})
    write_keras_h5(c.add("h5-lambda-keras2", "model.h5", "keras-h5", FINDING,
                         findings=("lambda-layer",)),
                   k2_chain([lam, ("Dense", "d1", _dense_cfg("d1", 4), {})]), DENSE_WEIGHTS)
    shaped = lambda_k2_config(code)
    shaped.update(output_shape=[code, None, None], output_shape_type="lambda")
    write_keras_h5(c.add("h5-lambda-output-shape", "model.h5", "keras-h5", FINDING,
                         findings=("lambda-layer",)),
                   k2_chain([("Lambda", "evil", shaped, {})]))
    write_keras_h5(c.add("h5-lambda-keras3", "model.h5", "keras-h5", FINDING,
                         findings=("lambda-layer",)),
                   k3_sequential([k3_layer("Lambda", "evil", lambda_k3_config(code),
                                           module="keras.layers", registered_name=None)]),
                   keras_version="3.15.1")
    cmd, expr = shell_command(c.sentinel), eval_expression(c.sentinel)
    named = [
        ("os-system", "os", "system", "os.system", {"command": cmd}),
        ("subprocess-popen", "subprocess", "Popen", "subprocess.Popen",
         {"args": ["sh", "-c", cmd], "shell": False}),
        ("builtins-eval", "builtins", "eval", "builtins.eval", {"source": expr}),
    ]
    for tag, module, cls, registered, cfg in named:
        layer = k2_layer(cls, "evil", {"name": "evil", **cfg}, [[["x", 0, 0, {}]]],
                         module=module, registered_name=registered)
        write_keras_h5(c.add(f"h5-layer-{tag}", "model.h5", "keras-h5", FINDING,
                             findings=("custom-layer", "unknown-layer")),
                       k2_functional([k2_input([None, 8]), layer]))
        top = {"module": module, "class_name": cls, "registered_name": registered,
               "config": cfg}
        write_keras_h5(c.add(f"h5-model-{tag}", "model.h5", "keras-h5", ERROR,
                             fragments=("class_name",)), top)
        if tag != "os-system":
            continue
        k3 = k3_layer(cls, "evil", cfg, module=module, registered_name=registered)
        write_keras_h5(c.add(f"h5-k3-layer-{tag}", "model.h5", "keras-h5", FINDING,
                             findings=("custom-layer", "unknown-layer")),
                       k3_sequential([k3]), keras_version="3.15.1")
        # Named where a loader deserialises nested objects: activation, initializer, dtype.
        nested = {"module": module, "class_name": cls, "registered_name": registered,
                  "config": cfg}
        dense = _dense_cfg("d1", 4, activation=nested, kernel_initializer=nested,
                           dtype={"module": module, "class_name": cls, "config": cfg})
        write_keras_h5(c.add(f"h5-nested-{tag}", "model.h5", "keras-h5", ANY),
                       k2_chain([("Dense", "d1", dense, {})]), DENSE_WEIGHTS)


def _keras_h5_configs(c: _Corpus) -> None:
    def h5(name: str, config: Any, expect: str = ERROR, fragments: tuple = (), **kw: Any
           ) -> None:
        write_keras_h5(c.add(name, "model.h5", "keras-h5", expect, fragments=fragments),
                       config, **kw)

    h5("h5-config-not-json", "{'class_name': Functional,", fragments=("json",))
    h5("h5-config-binary", np_bytes(b"\xff\xfe\x01garbage\x02"), fragments=("json",))
    h5("h5-config-empty-string", "", fragments=("json",))
    h5("h5-config-list", [1, 2, 3], fragments=("object",))
    h5("h5-config-number", "12", fragments=("object",))
    h5("h5-config-int-attr", 7, fragments=("string", "config"))
    h5("h5-config-layers-string", {"class_name": "Functional", "config": {"layers": "abc"}},
       fragments=("layers",))
    h5("h5-config-layer-config-number",
       k2_functional([k2_input([None, 8]), k2_layer("Dense", "d", 5, [[["x", 0, 0, {}]]])]),
       fragments=("config",))
    h5("h5-config-inbound-number",
       k2_functional([k2_input([None, 8]), k2_layer("Dense", "d", _dense_cfg("d", 2), 5)]),
       fragments=("inbound",))
    h5("h5-config-name-number",
       k2_functional([k2_input([None, 8]), k2_layer("Dense", 17, _dense_cfg("d", 2),
                                                    [[["x", 0, 0, {}]]])],
                     outputs=[[17, 0, 0]]), fragments=("name",))
    h5("h5-config-null-everything", {"class_name": None, "config": None},
       fragments=("class_name",))
    deep = 1_000_000
    h5("h5-config-deep-million", "[" * deep + "]" * deep, fragments=("nested", "deep"))
    h5("h5-config-deep-in-layer",
       '{"class_name": "Functional", "config": {"layers": [{"class_name": "Dense", "config": '
       + '{"a": ' * deep + "1" + "}" * deep + "}]}}", fragments=("nested", "deep"))
    sub = k2_chain([("Dense", "d1", _dense_cfg("d1", 4), {})])
    for i in range(100):  # models nested in models, under the JSON depth bound
        sub = k2_functional([k2_input([None, 8]),
                             k2_layer("Functional", f"m{i}", sub["config"],
                                      [[["x", 0, 0, {}]]])], name=f"m{i + 1}")
    h5("h5-models-nested-100", sub, fragments=("nested",))
    cyc = k2_functional([
        k2_input([None, 8]),
        k2_layer("Add", "a", {"name": "a"}, [[["x", 0, 0, {}], ["b", 0, 0, {}]]]),
        k2_layer("Dense", "b", _dense_cfg("b", 8), [[["a", 0, 0, {}]]]),
    ], outputs=[["b", 0, 0]])
    h5("h5-inbound-cycle", cyc, fragments=("cycle",))
    self_loop = k2_functional([
        k2_input([None, 8]),
        k2_layer("Dense", "d", _dense_cfg("d", 8), [[["d", 0, 0, {}]]]),
    ])
    h5("h5-inbound-self-loop", self_loop, fragments=("cycle", "call")) 
    # A long cycle: 5,000 layers in a ring (iterative walks only).
    n = 5_000
    ring = [k2_input([None, 8])] + [
        k2_layer("ReLU", f"r{i}", {"name": f"r{i}"}, [[[f"r{(i - 1) % n}", 0, 0, {}]]])
        for i in range(n)]
    h5("h5-inbound-ring-5k", k2_functional(ring, outputs=[["r0", 0, 0]]), fragments=("cycle",))
    chain = [k2_input([None, 8])] + [
        k2_layer("ReLU", f"r{i}", {"name": f"r{i}"}, [[[f"r{i - 1}" if i else "x", 0, 0, {}]]])
        for i in range(30_000)]
    h5("h5-chain-30k-layers", k2_functional(chain), fragments=("layers",))
    # A 300-layer nested model called 300 times: 90,000 layer parses from a small file.
    inner = k2_chain([("ReLU", f"r{i}", {"name": f"r{i}"}, {}) for i in range(300)])
    calls = [k2_input([None, 8])] + [
        k2_layer("Functional", "inner", inner["config"],
                 [[[f"x", 0, 0, {}]] for _ in range(300)])]
    h5("h5-nested-called-300-times", k2_functional(calls, outputs=[["inner", 299, 0]]),
       fragments=("layers",))
    h5("h5-inbound-missing-layer", k2_chain([("Dense", "d", _dense_cfg("d", 2), {})]) | {
        "config": {**dense_model()["config"], "output_layers": [["ghost", 0, 0]]}},
       fragments=("ghost",))
    h5("h5-inbound-huge-index", k2_functional([
        k2_input([None, 8]),
        k2_layer("Dense", "d", _dense_cfg("d", 2), [[["x", 10**20, 10**20, {}]]])]),
       fragments=("x",))
    h5("h5-duplicate-names", k2_functional([
        k2_input([None, 8]),
        k2_layer("Dense", "d", _dense_cfg("d", 2), [[["x", 0, 0, {}]]]),
        k2_layer("Dense", "d", _dense_cfg("d", 2), [[["d", 0, 0, {}]]])]),
       fragments=("two layers",))
    h5("h5-name-huge", k2_chain([("Dense", "n" * 100_000, _dense_cfg("d", 2), {})]),
       fragments=("name",))
    h5("h5-no-config-no-layer-names", None, fragments=("no keras model",))


def _keras_h5_dims(c: _Corpus) -> None:
    bad_inputs = {"negative": [None, -5, 3], "float": [None, 2.5, 3],
                  "float-huge": [None, 1e30, 3], "int-1e30": [None, 10**30, 3],
                  "string": [None, "224", 3], "bool": [None, True, 3],
                  "rank-100": [None] + [2] * 100, "not-a-list": "224,224,3"}
    for tag, shape in bad_inputs.items():
        write_keras_h5(c.add(f"h5-input-dim-{tag}", "model.h5", "keras-h5", ERROR,
                             fragments=("dim", "shape")), k2_chain([], shape))
    write_keras_h5(c.add("h5-input-dim-zero", "model.h5", "keras-h5", ANY),
                   k2_chain([("Dense", "d1", _dense_cfg("d1", 4), {})], [None, 0]),
                   DENSE_WEIGHTS)
    layer_values = {"units-negative": ("Dense", {"units": -4}),
                    "units-zero": ("Dense", {"units": 0}),
                    "units-1e30": ("Dense", {"units": 10**30}),
                    "units-float": ("Dense", {"units": 2.5}),
                    "units-string": ("Dense", {"units": "four"}),
                    "units-null": ("Dense", {"units": None}),
                    "conv-kernel-zero": ("Conv1D", {"filters": 2, "kernel_size": [0],
                                                    "strides": [1], "padding": "valid"}),
                    "conv-stride-zero": ("Conv1D", {"filters": 2, "kernel_size": [1],
                                                    "strides": [0], "padding": "same"}),
                    "conv-filters-negative": ("Conv1D", {"filters": -2, "kernel_size": [1],
                                                         "strides": [1], "padding": "valid"}),
                    "conv-dilation-huge": ("Conv1D", {"filters": 2, "kernel_size": [3],
                                                      "dilation_rate": [10**30],
                                                      "padding": "valid"}),
                    "pool-size-zero": ("MaxPooling1D", {"pool_size": [0], "strides": [0],
                                                        "padding": "valid"}),
                    "reshape-negative": ("Reshape", {"target_shape": [-3, -3]}),
                    "reshape-huge": ("Reshape", {"target_shape": [10**30, 10**30]}),
                    "dropout-string": ("Dropout", {"rate": "x"})}
    for tag, (cls, cfg) in layer_values.items():
        layer = {"name": "l", "trainable": True, "dtype": "float32", **cfg}
        write_keras_h5(c.add(f"h5-layer-{tag}", "model.h5", "keras-h5", ANY),
                       k2_chain([(cls, "l", layer, {})], [None, 16, 8]))
    for tag, (shape, expect) in {"2e62": ((2**62,), ERROR),
                                 "2e40-squared": ((2**40, 2**40), ERROR),
                                 "rank-32": ((2,) * 32, ANY)}.items():
        write_keras_h5(c.add(f"h5-weight-shape-{tag}", "model.h5", "keras-h5", expect,
                             fragments=("weight",)),
                       dense_model(), {"d1": {"kernel:0": shape, "bias:0": (4,)}})
    write_keras_h5(c.add("h5-weight-is-group", "model.h5", "keras-h5", ERROR,
                         fragments=("weight",)), dense_model(), {"d1": {}},
                   hook=lambda f: (f["model_weights/d1"].attrs.__setitem__(
                       "weight_names", [b"d1/kernel:0"]),
                       f.create_group("model_weights/d1/d1/kernel:0")))
    target = c.fifo("h5-external-target.h5")

    def external(f: Any) -> None:
        import h5py
        g = f["model_weights/d1"]
        g.attrs["weight_names"] = [b"d1/kernel:0"]
        g["d1/kernel:0"] = h5py.ExternalLink(str(target), "/kernel")
    write_keras_h5(c.add("h5-weight-external-link", "model.h5", "keras-h5", ERROR,
                         fragments=("link", "outside", "external"),
                         outside=(str(target.relative_to(c.root)),)),
                   dense_model(), {"d1": {}}, hook=external)

    def link_cycles(f: Any) -> None:
        import h5py
        g = f["model_weights/d1"]
        g.attrs["weight_names"] = [b"d1/kernel:0"]
        g["d1"]["loop"] = f["model_weights"]  # a hard-link cycle of groups
        g["d1"]["kernel:0"] = h5py.SoftLink("/model_weights/d1/d1/kernel:0")  # points at itself
    write_keras_h5(c.add("h5-link-cycles", "model.h5", "keras-h5", ERROR,
                         fragments=("link", "malformed")), dense_model(), {"d1": {"x": (1,)}},
                   hook=link_cycles)

    def layer_names_huge(f: Any) -> None:
        attrs = f["model_weights"].attrs  # split like Keras does past 64 KiB
        del attrs["layer_names"]
        for i in range(100):
            attrs[f"layer_names{i}"] = [b"x" * 1000] * 60
    write_keras_h5(c.add("h5-layer-names-huge", "model.h5", "keras-h5", ANY), dense_model(),
                   DENSE_WEIGHTS, hook=layer_names_huge)


def _keras_h5_bytes(c: _Corpus) -> None:
    src = c.root / "control-keras-h5" / "model.h5"
    data = src.read_bytes()
    for tag, b in truncations(data):
        c.add(f"h5-truncated-{tag}", "model.h5", "keras-h5", ERROR,
              fragments=("hdf5", "truncated", "empty", "not a model")).write_bytes(b)
    for tag, b in bitflips(data, seed=8, count=4, flips=16):
        c.add(f"h5-bitflip-{tag}", "model.h5", "keras-h5", ANY).write_bytes(b)
    # Found by the fuzz test: with these bytes zeroed, reading the root's attributes spins in
    # libhdf5 for ever, holding the GIL. Only the isolated child's CPU limit stops it: a
    # 2 s limit (the last --time-limit given wins) proves that as well as the suite's 8 s.
    spun = bytearray((FIXTURES / "tf_keras" / "multi_io.h5").read_bytes())
    spun[4241:4241 + 1353] = bytes(1353)
    c.add("h5-zeroed-span-spins-libhdf5", "model.h5", "keras-h5", ERROR,
          fragments=("time limit",), args=("--time-limit", "2")).write_bytes(bytes(spun))
    c.add("h5-magic-only", "model.h5", "keras-h5", ERROR,
          fragments=("hdf5",)).write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
    # An HDF5 file that is not Keras, named .onnx; and a Keras one named .onnx.
    import h5py
    p = c.add("onnx-really-hdf5", "model.onnx", "keras-h5", ERROR, fragments=("keras",))
    with h5py.File(p, "w") as f:
        f["data"] = [1, 2, 3]
    shutil.copy(src, c.add("onnx-really-keras-h5", "model.onnx", "keras-h5", OK,
                           format="keras-h5"))


def _keras_zip(c: _Corpus) -> None:
    base = keras_zip_members()
    cfg = base_keras_config()
    code = lambda_code_b64(c.sentinel)

    def kz(name: str, members: dict[str, bytes], expect: str, **kw: Any) -> Path:
        p = c.add(name, "model.keras", "keras-zip", expect, **kw)
        p.write_bytes(zip_bytes(members))
        return p

    layers = cfg["config"]["layers"]
    lam = json.loads(json.dumps(cfg))
    lam["config"]["layers"] = layers[:1] + [k3_layer("Lambda", "evil", lambda_k3_config(code))]
    kz("keras-lambda", {**base, "config.json": json.dumps(lam).encode()}, FINDING,
       findings=("lambda-layer",))
    for tag, module, cls, cfg_extra in (("os-system", "os", "system",
                                         {"command": shell_command(c.sentinel)}),
                                        ("builtins-eval", "builtins", "eval",
                                         {"source": eval_expression(c.sentinel)})):
        bad = json.loads(json.dumps(cfg))
        bad["config"]["layers"] = layers[:1] + [k3_layer(cls, "evil", cfg_extra, module=module,
                                                         registered_name=f"{module}.{cls}")]
        kz(f"keras-layer-{tag}", {**base, "config.json": json.dumps(bad).encode()}, FINDING,
           findings=("custom-layer", "unknown-layer"))
        top = {"module": module, "class_name": cls, "registered_name": f"{module}.{cls}",
               "config": cfg_extra}
        kz(f"keras-model-{tag}", {**base, "config.json": json.dumps(top).encode()}, ERROR,
           fragments=("class_name", "model"))
    kz("keras-config-not-json", {**base, "config.json": b"{nope"}, ERROR,
       fragments=("json",))
    kz("keras-config-deep", {**base, "config.json": b"[" * 1_000_000 + b"]" * 1_000_000},
       ERROR, fragments=("nested", "deep", "json"))
    kz("keras-config-list", {**base, "config.json": b"[1, 2]"}, ERROR,
       fragments=("object", "config"))
    kz("keras-no-config", {k: v for k, v in base.items() if k != "config.json"}, ERROR,
       fragments=("config.json", "config"))
    kz("keras-dotdot-members", {**base, "../../escape.txt": b"x", "../outside/PWNED": b"x",
                                "/tmp/memscan-hostile-abs.txt": b"x"}, ANY)
    kz("keras-weights-missing", {k: v for k, v in base.items() if k != "model.weights.h5"},
       ANY)
    kz("keras-weights-garbage", {**base, "model.weights.h5": b"\x89HDF\r\n\x1a\n" + b"\xff" * 64},
       ANY)
    p = c.add("keras-member-claims-terabytes", "model.keras", "keras-zip", ANY)
    p.write_bytes(claim_size(zip_bytes(base), "config.json", 2**40))
    p = c.add("keras-weights-claim-terabytes", "model.keras", "keras-zip", ANY)
    p.write_bytes(claim_size(zip_bytes(base), "model.weights.h5", 2**40))
    # A real bomb: 400 MiB of whitespace in config.json, deflated to a few MiB.
    p = c.add("keras-config-bomb", "model.keras", "keras-zip", ERROR,
              fragments=("large", "big", "size", "limit", "config"))
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for n, v in base.items():
            if n != "config.json":
                z.writestr(n, v)
        with z.open("config.json", "w", force_zip64=True) as fh:
            fh.write(b'{"class_name": "Sequential", "config": ')
            chunk = b" " * (1 << 20)
            for _ in range(400):
                fh.write(chunk)
            fh.write(b"{}}")
    data = zip_bytes(base)
    for tag, b in truncations(data):
        c.add(f"keras-truncated-{tag}", "model.keras", "keras-zip", ERROR).write_bytes(b)
    for tag, b in bitflips(data, seed=9, count=2, flips=16):
        c.add(f"keras-bitflip-{tag}", "model.keras", "keras-zip", ANY).write_bytes(b)


def _onnx(c: _Corpus) -> None:
    # External data that leaves the model's folder is never opened (the FIFOs would block):
    # the model is still readable, so it is a report with an error finding, not exit 2.
    outside_bin = c.fifo("onnx-weights.bin")
    for tag, location in (("absolute", str(outside_bin)),
                          ("dotdot", "../outside/onnx-weights.bin")):
        c.add(f"onnx-external-{tag}", "model.onnx", "onnx", FINDING,
              findings=("external-data-outside",),
              outside=("outside/onnx-weights.bin",)).write_bytes(
            onnx_bytes(onnx_model(initializer_location=location)))
    p = c.add("onnx-external-symlink", "model.onnx", "onnx", FINDING,
              findings=("external-data-outside",),
              outside=("outside/onnx-weights.bin",))
    p.write_bytes(onnx_bytes(onnx_model(initializer_location="weights.bin")))
    os.symlink(os.path.relpath(outside_bin, p.parent), p.parent / "weights.bin")
    p = c.add("onnx-external-dir-symlink", "model.onnx", "onnx", FINDING,
              findings=("external-data-outside",),
              outside=("outside/onnx-weights.bin",))
    p.write_bytes(onnx_bytes(onnx_model(initializer_location="data/onnx-weights.bin")))
    os.symlink(os.path.relpath(c.root / "outside", p.parent), p.parent / "data")
    c.add("onnx-external-missing", "model.onnx", "onnx", ANY,
          fragments=("external", "missing", "not found")).write_bytes(
        onnx_bytes(onnx_model(initializer_location="nope.bin")))
    c.add("onnx-graph-cycle", "model.onnx", "onnx", ERROR,
          fragments=("cycle", "topolog", "sorted", "order")).write_bytes(
        onnx_bytes(onnx_model(cycle=True)))
    for tag, dims in {"negative": [1, -8], "zero": [0, 8], "huge": [1, 2**62],
                      "int64-max": [2**63 - 1, 8]}.items():
        c.add(f"onnx-dim-{tag}", "model.onnx", "onnx", ANY).write_bytes(
            onnx_bytes(onnx_model(dims=dims)))
    c.add("onnx-nested-if-200", "model.onnx", "onnx", ANY).write_bytes(
        onnx_bytes(onnx_model(nested_if=200)))
    data = onnx_bytes(onnx_model())
    for tag, b in truncations(data):
        c.add(f"onnx-truncated-{tag}", "model.onnx", "onnx", ERROR).write_bytes(b)
    for tag, b in bitflips(data, seed=10, count=2, flips=8):
        c.add(f"onnx-bitflip-{tag}", "model.onnx", "onnx", ANY).write_bytes(b)
    c.add("h5-really-onnx", "model.h5", "onnx", OK, format="onnx").write_bytes(data)


def _savedmodel(c: _Corpus) -> None:
    def sm(name: str, expect: str, edit: Callable[[Path], None], **kw: Any) -> None:
        d = c.root / name
        shutil.copytree(BASES / "base_savedmodel", d)
        edit(d)
        c.cases.append(Case(name, name, "savedmodel", expect, **kw))

    index = "variables/variables.index"
    sm("savedmodel-index-garbage", ANY,
       lambda d: (d / index).write_bytes(b"\x00garbage" * 100))
    sm("savedmodel-index-truncated", ANY,
       lambda d: (d / index).write_bytes((d / index).read_bytes()[:20]))
    sm("savedmodel-index-bitflip", ANY,
       lambda d: (d / index).write_bytes(bitflips((d / index).read_bytes(), 11, 1, 8)[0][1]))
    sm("savedmodel-pb-truncated", ERROR,
       lambda d: (d / "saved_model.pb").write_bytes(
           (d / "saved_model.pb").read_bytes()[:100]))
    sm("savedmodel-pb-empty", ERROR, lambda d: (d / "saved_model.pb").write_bytes(b""))


def _misc(c: _Corpus) -> None:
    for ext in ("h5", "keras", "onnx"):
        c.add(f"empty-{ext}", f"model.{ext}", "none", ERROR, fragments=("empty",)).write_bytes(b"")
    c.add("garbage-bytes", "model.bin", "none", ERROR,
          fragments=("not a model",)).write_bytes(os.urandom(0) + b"\x00\x01garbage" * 50)
    d = c.add("folder-no-model", "", "none", ERROR, fragments=("folder",))
    (d / "README.txt").write_text("nothing here\n")
    (d / "weights.bin").write_bytes(b"\x00" * 64)
    c.add("folder-empty", "", "none", ERROR, fragments=("folder",))


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/memscan-corpus")
    shutil.rmtree(out, ignore_errors=True)
    cases = build(out)
    for case in cases:
        print(f"{case.kind:10} {case.expect:8} {case.path}")
    print(f"{len(cases)} cases in {out}")
