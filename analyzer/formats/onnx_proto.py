"""ONNX ModelProto helpers the reader needs (with the ``onnx`` package): a weight-free copy
of the model, value types, and the shapes a model states. Pure functions of the proto: the
shape engines themselves live in ``shapes/engines/onnx_engine.py``.

``weight_free`` turns every initializer (and Constant) whose payload was stripped into a typed
graph input with its dims, so neither engine needs weight bytes; small tensors kept by the
wire walker (Reshape targets, Slice bounds, Resize scales) stay, so data propagation works.
Stated value_info and output dims are dropped: they describe the export resolution and would
contradict the new one under strict mode.
"""
from __future__ import annotations

from typing import Any

from ..ir import Shape
from . import onnx_wire


def _has_values(t: Any) -> bool:
    if t.data_location == 1:
        return False
    n = 1
    for d in t.dims:
        n *= d
    if n == 0:
        return True
    return bool(t.raw_data or len(t.float_data) or len(t.int32_data) or len(t.int64_data)
                or len(t.double_data) or len(t.uint64_data) or len(t.string_data))


def weight_free(onnx: Any, model: Any) -> Any:
    """A copy of ``model`` whose weights without values are typed graph inputs instead."""
    helper = onnx.helper
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    have = {vi.name for vi in g.input}
    new_inputs = []
    keep = [t for t in g.initializer if _has_values(t)]
    for t in g.initializer:
        if not _has_values(t) and t.name not in have:
            new_inputs.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    del g.initializer[:]
    g.initializer.extend(keep)
    for s in g.sparse_initializer:
        if s.values.name not in have:
            new_inputs.append(helper.make_tensor_value_info(s.values.name, s.values.data_type,
                                                            list(s.dims)))
    del g.sparse_initializer[:]
    nodes = []
    for n in g.node:
        t = next((a.t for a in n.attribute if a.name == "value" and a.HasField("t")), None)
        if n.op_type == "Constant" and n.domain in ("", "ai.onnx") and t is not None \
                and not _has_values(t) and n.output:
            new_inputs.append(helper.make_tensor_value_info(n.output[0], t.data_type,
                                                            list(t.dims)))
        else:
            nodes.append(n)
    del g.node[:]
    g.node.extend(nodes)
    g.input.extend(new_inputs)
    del g.value_info[:]
    for o in g.output:
        if o.type.HasField("tensor_type"):
            o.type.tensor_type.ClearField("shape")
    return m


def infer_types(onnx: Any, base: Any) -> list:
    """value_info of a type-only inference (no strictness): dtypes do not depend on shapes."""
    out = onnx.shape_inference.infer_shapes(base, check_type=False, strict_mode=False)
    return list(out.graph.value_info) + list(out.graph.output)


def type_label(tt: Any) -> str:
    """``sequence<float32>``, ``map<int64,float32>``, ``optional<...>`` for non-tensor types."""
    kind = tt.WhichOneof("value")
    if kind == "tensor_type":
        return onnx_wire.dtype_name(tt.tensor_type.elem_type)
    if kind == "sequence_type":
        return f"sequence<{type_label(tt.sequence_type.elem_type)}>"
    if kind == "optional_type":
        return f"optional<{type_label(tt.optional_type.elem_type)}>"
    if kind == "map_type":
        return (f"map<{onnx_wire.dtype_name(tt.map_type.key_type)},"
                f"{type_label(tt.map_type.value_type)}>")
    if kind == "sparse_tensor_type":
        return f"sparse<{onnx_wire.dtype_name(tt.sparse_tensor_type.elem_type)}>"
    return "unknown"


def collect(model: Any) -> tuple[dict[str, Shape], dict[str, str]]:
    """Fully known tensor shapes by name, and labels of non-tensor values."""
    shapes: dict[str, Shape] = {}
    others: dict[str, str] = {}
    g = model.graph
    for t in g.initializer:
        shapes[t.name] = tuple(int(d) for d in t.dims)
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        tt = vi.type
        if tt.HasField("tensor_type"):
            t = tt.tensor_type
            if not t.HasField("shape"):
                continue
            dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
            if all(d is not None and d >= 0 for d in dims):
                shapes[vi.name] = tuple(int(d) for d in dims)  # type: ignore[arg-type]
        elif tt.WhichOneof("value"):
            others[vi.name] = type_label(tt)
    return shapes, others


def symbolic_shapes(model: Any) -> dict[str, tuple]:
    """Shapes with symbolic dims kept: a number, a dim_param name, or None (unknown)."""
    out: dict[str, tuple] = {}
    g = model.graph
    for t in g.initializer:
        out[t.name] = tuple(int(d) for d in t.dims)
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        t = vi.type.tensor_type if vi.type.HasField("tensor_type") else None
        if t is None or not t.HasField("shape"):
            continue
        out.setdefault(vi.name, tuple(
            int(d.dim_value) if d.HasField("dim_value") else (d.dim_param or None)
            for d in t.shape.dim))
    return out
