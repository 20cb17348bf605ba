"""ONNX models (``.onnx``), read without their weights.

The file is walked at the wire level (``onnx_wire.strip``): large tensor payloads are stepped
over, never read, and the rest (a few hundred KiB even for a multi-GB model) is parsed with
the ``onnx`` package. One Node per top-level ONNX node; a node's weights are the initializers
and weight-carrying Constant nodes it consumes (each counted once, at its first consumer),
including everything its If/Loop/Scan subgraphs hold or reach.

Weight-carrying Constant: a ``Constant`` whose value is a tensor (or ``value_floats``) of a
non-index dtype (anything but int32/int64/bool/string). Those are not report rows (their
bytes are params, not activations); index-typed Constants (shape targets) stay rows.

Shapes come from the ONNX dialect's shape engine (``shapes/engines/onnx_engine.py``): onnx's
shape inference and onnxruntime's symbolic one, run on the weight-free copy of the model the
reader stores as plain data (``engine_inputs.OnnxModel``).
"""
from __future__ import annotations

import os
from typing import Any, Optional

from .. import sources
from ..engine_inputs import OnnxModel
from ..errors import UnreadableArtifact, typed_first_line
from ..findings import Code, Severity
from ..ir import (INDEX_DTYPES, ONNX, UNKNOWN_DTYPE, Graph, Node, ReaderFinding, Shape,
                  TensorSpec, WeightSpec, num_elements)
from . import onnx_wire

#: Classic-ML ops (ai.onnx.ml) hold their learned values in attributes, not in tensors:
#: these attributes are params (thresholds, leaf values, coefficients, support vectors).
ML_PARAM_ATTRIBUTES = {
    "LinearClassifier": ("coefficients", "intercepts"),
    "LinearRegressor": ("coefficients", "intercepts"),
    "Scaler": ("offset", "scale"),
    "SVMClassifier": ("coefficients", "support_vectors", "rho", "prob_a", "prob_b"),
    "SVMRegressor": ("coefficients", "support_vectors", "rho"),
    "TreeEnsembleClassifier": ("nodes_values", "nodes_hitrates", "class_weights",
                               "base_values"),
    "TreeEnsembleRegressor": ("nodes_values", "nodes_hitrates", "target_weights",
                              "base_values"),
    "TreeEnsemble": ("nodes_splits", "leaf_weights", "nodes_hitrates"),
}
#: Small integer constants a node consumes are copied into its config (Reshape targets...).
MAX_CONST_VALUES = 64


#: What reading needs imported: a process that forks isolated readers imports it once first.
PRELOAD = ("onnx", "onnx.shape_inference", "onnx.numpy_helper")


def _import_onnx():
    try:
        import onnx  # noqa: F401  (heavy; only for ONNX files)
    except ImportError:  # pragma: no cover - declared dependency
        raise UnreadableArtifact("reading ONNX needs the 'onnx' package (pip install onnx)")
    return onnx


def read(path: str) -> Graph:
    onnx = _import_onnx()
    stripped = onnx_wire.strip(path)
    model = onnx.ModelProto()
    try:
        model.ParseFromString(stripped.data)
    except Exception as exc:  # google.protobuf.message.DecodeError and friends
        raise UnreadableArtifact(f"malformed ONNX file ({typed_first_line(exc)})",
                                 path) from None
    if not model.HasField("graph"):
        raise UnreadableArtifact("ONNX file holds no graph", path)
    _check_text(model.graph, path)
    return _ModelReader(onnx, model, path, stripped).graph()


class _ModelReader:
    def __init__(self, onnx: Any, model: Any, path: str, stripped: onnx_wire.Stripped) -> None:
        self.onnx = onnx
        self.model = model
        self.path = path
        self.stripped = stripped
        self.findings: list[ReaderFinding] = []
        #: Index data (int64 shape vectors, axes...) that If/Loop/Scan subgraphs store.
        self.subgraph_index: dict[str, WeightSpec] = {}
        self.folder = (sources.dirname(path) if sources.is_url(path)
                       else os.path.dirname(os.path.abspath(path)))

    # -- weights ---------------------------------------------------------------------------
    def _spec(self, t: Any, name: Optional[str] = None) -> WeightSpec:
        dims = tuple(int(d) for d in t.dims)
        spec = WeightSpec(name or t.name, dims, onnx_wire.dtype_name(t.data_type), True)
        if t.data_location == 1:
            self._check_external(spec, t)
        return spec

    def _check_external(self, spec: WeightSpec, t: Any) -> None:
        entries = {e.key: e.value for e in t.external_data}
        location = entries.get("location", "")
        parts = location.replace("\\", "/").split("/")
        target = sources.join(self.folder, location)
        inside = (location and not os.path.isabs(location) and not location.startswith("/")
                  and ".." not in parts and (":" not in location)
                  and (sources.is_url(target) or os.path.commonpath(
                      [os.path.realpath(target), os.path.realpath(self.folder)])
                      == os.path.realpath(self.folder)))
        if not inside:
            self.findings.append(ReaderFinding(
                Code.EXTERNAL_DATA_OUTSIDE, Severity.ERROR, spec.name,
                f"weight {spec.name} names external data {location!r}, which is not inside the "
                "model's folder; it was never opened (its size comes from the tensor's dims)",
                {"location": location}))
            return
        try:
            offset = int(entries.get("offset", "0") or 0)
            length = int(entries["length"]) if entries.get("length") else None
        except ValueError:
            raise UnreadableArtifact(f"weight {spec.name}: external data offset/length are not "
                                     "integers", self.path) from None
        width = onnx_wire.ONNX_DTYPES.get(t.data_type, ("", None))[1]
        if length is None and width is not None:
            length = spec.size * width
        try:
            size = sources.getsize(target)  # stat only: the data itself is never read
        except OSError:
            raise UnreadableArtifact(f"weight {spec.name}: external data file {location!r} is "
                                     "missing", self.path) from None
        if offset < 0 or (length is not None and offset + length > size):
            raise UnreadableArtifact(
                f"weight {spec.name}: external data {location!r} holds {size:,} bytes, the "
                f"tensor needs offset {offset:,} + {length:,}", self.path)
        if length is not None and width is not None and length != spec.size * width:
            self.findings.append(ReaderFinding(
                Code.WEIGHT_SIZE_MISMATCH, Severity.ERROR, spec.name,
                f"weight {spec.name} declares {list(spec.shape)} {spec.dtype} "
                f"({spec.size * width:,} bytes) but its external data holds {length:,}",
                {"expected_bytes": spec.size * width, "stored_bytes": length}))

    def _constant_weight(self, node: Any) -> Optional[WeightSpec]:
        """The weight a Constant node carries, or None for an index-typed (shape) constant."""
        if node.op_type != "Constant" or node.domain not in ("", "ai.onnx"):
            return None
        out = node.output[0] if node.output else ""
        for a in node.attribute:
            if a.name == "value" and a.HasField("t"):
                spec = self._spec(a.t, out)
            elif a.name == "sparse_value" and a.HasField("sparse_tensor"):
                spec = WeightSpec(out, tuple(int(d) for d in a.sparse_tensor.dims),
                                  onnx_wire.dtype_name(a.sparse_tensor.values.data_type))
            elif a.name == "value_floats":
                spec = WeightSpec(out, (len(a.floats),), "float32")
            else:
                continue
            return None if spec.dtype in INDEX_DTYPES else spec
        return None

    def _index_constant(self, node: Any) -> Optional[WeightSpec]:
        """The index data an index-typed Constant node holds (None for any other node)."""
        if node.op_type != "Constant" or node.domain not in ("", "ai.onnx") or not node.output:
            return None
        for a in node.attribute:
            if a.name == "value" and a.HasField("t"):
                spec = self._spec(a.t, node.output[0])
                return spec if spec.dtype in INDEX_DTYPES else None
            if a.name == "value_int":
                return WeightSpec(node.output[0], (), "int64")
            if a.name == "value_ints":
                return WeightSpec(node.output[0], (len(a.ints),), "int64")
        return None

    def _attribute_weights(self, node: Any) -> list[WeightSpec]:
        """The params an ai.onnx.ml node holds in its attributes (float lists or tensors,
        ``<attr>_as_tensor`` too), named ``<node output>/<attribute>``."""
        names = ML_PARAM_ATTRIBUTES.get(node.op_type, ())
        if node.domain != "ai.onnx.ml" or not names:
            return []
        owner = node.output[0] if node.output else node.name
        specs = []
        for a in node.attribute:
            base = a.name.removesuffix("_as_tensor")
            if base not in names:
                continue
            if a.name.endswith("_as_tensor") and a.HasField("t"):
                specs.append(self._spec(a.t, f"{owner}/{a.name}"))
            elif len(a.floats):
                specs.append(WeightSpec(f"{owner}/{a.name}", (len(a.floats),), "float32"))
        return specs

    def _graph_weights(self, g: Any) -> dict[str, WeightSpec]:
        weights = {t.name: self._spec(t) for t in g.initializer}
        for s in g.sparse_initializer:
            weights[s.values.name] = WeightSpec(s.values.name, tuple(int(d) for d in s.dims),
                                                onnx_wire.dtype_name(s.values.data_type))
        for n in g.node:
            w = self._constant_weight(n)
            if w is not None:
                weights[w.name] = w
        return weights

    def _subgraph_weights(self, node: Any, outer: dict[str, WeightSpec], depth: int = 0
                          ) -> list[WeightSpec]:
        """Weights an If/Loop/Scan node's subgraphs hold, and outer weights they read."""
        found: list[WeightSpec] = []
        for a in node.attribute:
            graphs = ([a.g] if a.HasField("g") else []) + list(a.graphs)
            for sg in graphs:
                local = self._graph_weights(sg)
                index = index_initializers(local, sg)
                index.update((w.name, w) for w in map(self._index_constant, sg.node) if w)
                for name, w in index.items():
                    local.pop(name, None)
                    self.subgraph_index.setdefault(name, w)
                found.extend(local.values())
                for n in sg.node:
                    found.extend(outer[i] for i in n.input if i in outer and i not in local)
                    if depth < onnx_wire.MAX_DEPTH:
                        found.extend(self._subgraph_weights(n, {**outer, **local}, depth + 1))
        return found

    # -- values ----------------------------------------------------------------------------
    def _const_values(self, g: Any) -> dict[str, list]:
        """Values of small integer initializers / Constants (shape targets), by tensor name."""
        numpy_helper = self.onnx.numpy_helper
        tensors = {t.name: t for t in g.initializer}
        for n in g.node:
            if n.op_type == "Constant" and n.output:
                for a in n.attribute:
                    if a.name == "value" and a.HasField("t"):
                        tensors[n.output[0]] = a.t
                    elif a.name == "value_ints":
                        tensors[n.output[0]] = list(a.ints)
        values: dict[str, list] = {}
        for name, t in tensors.items():
            if isinstance(t, list):
                values[name] = [int(v) for v in t][:MAX_CONST_VALUES]
                continue
            if t.data_type not in (6, 7) or t.data_location == 1 or len(t.dims) > 1:
                continue
            n = num_elements(tuple(t.dims))
            if n is None or n > MAX_CONST_VALUES:
                continue
            try:
                values[name] = [int(v) for v in numpy_helper.to_array(t).reshape(-1)]
            except Exception:  # no values kept or malformed: shapes will just not use them
                continue
        return values

    def _value_types(self, base: Any) -> dict[str, str]:
        """Element dtype per tensor name (stated value_info plus a type-only inference)."""
        from . import onnx_proto

        types: dict[str, str] = {}
        g = self.model.graph
        stated = list(g.input) + list(g.output) + list(g.value_info)
        try:
            inferred = onnx_proto.infer_types(self.onnx, base)
        except Exception:  # types are a nicety; figures fall back to float32
            inferred = []
        for vi in stated + inferred:
            tt = vi.type
            if tt.HasField("tensor_type") and tt.tensor_type.elem_type:
                types.setdefault(vi.name, onnx_wire.dtype_name(tt.tensor_type.elem_type))
            elif tt.WhichOneof("value"):
                types.setdefault(vi.name, onnx_proto.type_label(tt))
        return types

    # -- the graph -------------------------------------------------------------------------
    def graph(self) -> Graph:
        from . import onnx_proto

        m, g = self.model, self.model.graph
        for p in self.stripped.problems:
            self.findings.append(ReaderFinding(
                Code.WEIGHT_SIZE_MISMATCH, Severity.ERROR, p.name,
                f"tensor {p.name} declares {list(p.dims)} {p.dtype} ({p.expected_bytes:,} bytes) "
                f"but stores {p.stored_bytes:,} bytes (truncated or hollow file?)",
                {"expected_bytes": p.expected_bytes, "stored_bytes": p.stored_bytes}))
        weights = self._graph_weights(g)
        index_data = index_initializers(weights, g)
        for name in index_data:
            del weights[name]
        const_values = self._const_values(g)
        base = onnx_proto.weight_free(self.onnx, m)
        types = self._value_types(base)
        init_names = {t.name for t in g.initializer} | {s.values.name for s in g.sparse_initializer}
        inputs = tuple(self._input_spec(vi) for vi in g.input if vi.name not in init_names)
        counted: set[str] = set()
        nodes: list[Node] = [Node(name=s.name, op="Input", layer=s.name, inputs=(),
                                  outputs=(s.name,), dtype=s.dtype, origin="graph input")
                             for s in inputs]
        used_names = {s.name for s in inputs}
        for i, n in enumerate(g.node):
            if n.output and n.output[0] in weights and self._constant_weight(n) is not None:
                continue  # a weight, attached to its consumers
            mine: list[WeightSpec] = []
            for w in [weights[x] for x in n.input if x in weights] + \
                    self._subgraph_weights(n, weights) + self._attribute_weights(n):
                if w.name not in counted:
                    counted.add(w.name)
                    mine.append(w)
            name = n.name or f"{n.op_type}_{i}"
            if name in used_names:
                name = f"{name}#{i}"
            used_names.add(name)
            config = _attributes(n)
            if n.domain == "ai.onnx.ml":  # class counts for the shape rules (lists trimmed)
                config["list_lengths"] = {a.name: len(a.ints) + len(a.floats) + len(a.strings)
                                          for a in n.attribute if a.type in (6, 7, 8)}
            consts = {str(k): const_values[x] for k, x in enumerate(n.input) if x in const_values}
            if consts:
                config["const_inputs"] = consts
            nodes.append(Node(
                name=name, op=n.op_type, layer=name, inputs=_trim(n.input),
                outputs=tuple(n.output), config=config, weights=tuple(mine),
                origin=n.domain or "ai.onnx",
                dtype=types.get(n.output[0], UNKNOWN_DTYPE) if n.output else "float32"))
        stuck = cycle_nodes(nodes)
        if stuck:
            raise UnreadableArtifact(
                f"the graph has a cycle (nodes {', '.join(stuck[:4])}"
                f"{' ...' if len(stuck) > 4 else ''} wait on each other's outputs)", self.path)
        loose = tuple(w for name, w in weights.items() if name not in counted)
        producer = " ".join(x for x in (m.producer_name, m.producer_version) if x) or "unknown"
        return Graph(
            format="onnx", producer=producer, name=g.name or os.path.basename(self.path),
            inputs=inputs, outputs=tuple(o.name for o in g.output), nodes=tuple(nodes),
            findings=tuple(self.findings),
            dialect=ONNX, engine_input=self._engine_input(base),
            known_dtypes=types, loose_weights=loose, batch_first=False,
            index_data=tuple(index_data.values()) + tuple(
                w for name, w in self.subgraph_index.items() if name not in index_data),
        )

    def _engine_input(self, base: Any) -> OnnxModel:
        """The weight-free model and the shapes the file states, for the shape engine."""
        from . import onnx_proto

        stated, _ = onnx_proto.collect(self.model)
        inits = {t.name for t in self.model.graph.initializer}
        stored: dict[str, Shape] = {vi.name: stated.get(vi.name, (None,))
                                    for vi in self.model.graph.input if vi.name not in inits}
        return OnnxModel(weight_free=base.SerializeToString(), stated=stated,
                         stored_inputs=stored,
                         stated_symbolic=onnx_proto.symbolic_shapes(self.model))

    def _input_spec(self, vi: Any) -> TensorSpec:
        tt = vi.type
        if not tt.HasField("tensor_type"):
            return TensorSpec(vi.name, (), "float32")
        t = tt.tensor_type
        if not t.HasField("shape"):
            return TensorSpec(vi.name, (), onnx_wire.dtype_name(t.elem_type), (), False)
        dims, names = [], []
        for d in t.shape.dim:
            if d.HasField("dim_value") and d.dim_value > 0:
                dims.append(int(d.dim_value))
                names.append(None)
            else:
                dims.append(None)
                names.append(d.dim_param or None)
        return TensorSpec(vi.name, tuple(dims), onnx_wire.dtype_name(t.elem_type),
                          tuple(names))


#: Quantized ops whose int32 input at this index is a learned bias (a param, not index data):
#: QOperator models feed it to the op, QDQ models dequantize it first.
QUANTIZED_BIAS_INPUT = {"QLinearConv": 8, "QGemm": 6, "DequantizeLinear": 0}


def index_initializers(weights: dict[str, WeightSpec], g: Any) -> dict[str, WeightSpec]:
    """Initializers of an index dtype (int64/int32/bool/string: shape vectors, indices, axes):
    index data, not params, as index-typed Constant nodes are. An int32 quantized bias is
    a param."""
    biases = {n.input[QUANTIZED_BIAS_INPUT[n.op_type]] for n in g.node
              if QUANTIZED_BIAS_INPUT.get(n.op_type, -1) >= 0
              and len(n.input) > QUANTIZED_BIAS_INPUT[n.op_type]}
    return {name: w for name, w in weights.items()
            if w.dtype in INDEX_DTYPES and name not in biases}


def _attributes(node: Any) -> dict[str, Any]:
    """A node's attributes as plain data (tensors and graphs summarised, never their values)."""
    out: dict[str, Any] = {}
    for a in node.attribute:
        kind = a.type
        if kind == 1:
            out[a.name] = a.f
        elif kind == 2:
            out[a.name] = int(a.i)
        elif kind == 3:
            out[a.name] = a.s.decode("utf-8", "replace")
        elif kind == 4:
            out[a.name] = {"dims": list(a.t.dims), "dtype": onnx_wire.dtype_name(a.t.data_type)}
        elif kind == 5:
            out[a.name] = f"<graph {a.g.name}>"
        elif kind == 6:
            out[a.name] = list(a.floats)[:MAX_CONST_VALUES]
        elif kind == 7:
            out[a.name] = [int(v) for v in a.ints][:MAX_CONST_VALUES]
        elif kind == 8:
            out[a.name] = [s.decode("utf-8", "replace") for s in a.strings][:MAX_CONST_VALUES]
    return out


def _trim(names: Any) -> tuple[str, ...]:
    """Node inputs without trailing empty names (omitted optional inputs)."""
    out = list(names)
    while out and not out[-1]:
        out.pop()
    return tuple(out)


def _check_text(g: Any, path: str, depth: int = 0) -> None:
    """Names must be text: protobuf hands back ``bytes`` for a string field that is not valid
    UTF-8, which nothing downstream expects."""
    names: list[Any] = [g.name]
    names += [t.name for t in g.initializer] + [s.values.name for s in g.sparse_initializer]
    names += [v.name for v in list(g.input) + list(g.output) + list(g.value_info)]
    for n in g.node:
        names += [n.name, n.op_type, n.domain, *n.input, *n.output]
        for a in n.attribute:
            names.append(a.name)
            for sg in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                if depth < onnx_wire.MAX_DEPTH:
                    _check_text(sg, path, depth + 1)
    if any(not isinstance(x, str) for x in names):
        raise UnreadableArtifact("malformed ONNX file (a name is not valid UTF-8)", path)


def cycle_nodes(nodes: list[Node]) -> list[str]:
    """Nodes that can never run because they wait on each other (Kahn's algorithm over the
    tensors they make and read, iterative); empty for an acyclic graph in any order."""
    producer = {t: i for i, n in enumerate(nodes) for t in n.outputs if t}
    waiting = [{producer[t] for t in n.inputs if t in producer and producer[t] != i}
               for i, n in enumerate(nodes)]
    users: dict[int, list[int]] = {}
    for i, deps in enumerate(waiting):
        for d in deps:
            users.setdefault(d, []).append(i)
    ready = [i for i, deps in enumerate(waiting) if not deps]
    done = 0
    while ready:
        i = ready.pop()
        done += 1
        for u in users.get(i, ()):
            waiting[u].discard(i)
            if not waiting[u]:
                ready.append(u)
    return [] if done == len(nodes) else [n.name for i, n in enumerate(nodes) if waiting[i]]
