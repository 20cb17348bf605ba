"""A stand-in ONNX → Graph conversion for the benchmark, until memscan's ONNX reader lands.

Not part of memscan: it builds the format-neutral Graph the reader is specified to produce
(format "onnx", one Node per ONNX node in file order, node.op = op_type, shapes from
onnx.shape_inference, value types in known_dtypes) so that the liveness model can be checked
against onnxruntime now. bench/accuracy.py labels every figure made with it "preview".
"""
from __future__ import annotations

from typing import Any

_ONNX_DTYPES = {1: "float32", 2: "uint8", 3: "int8", 5: "int16", 6: "int32", 7: "int64",
                9: "bool", 10: "float16", 11: "float64", 16: "bfloat16"}


def graph_from_onnx(path: str):
    import onnx
    from onnx import shape_inference

    from analyzer.ir import Graph, Node, TensorSpec, WeightSpec

    model = onnx.load(path)
    try:  # onnxruntime's symbolic shape inference follows computed Pad/Reshape shapes
        from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference
        model = SymbolicShapeInference.infer_shapes(model, auto_merge=True)
    except Exception:  # noqa: BLE001 - fall back to onnx's own
        model = shape_inference.infer_shapes(model, data_prop=True)
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    shapes: dict[str, Any] = {}
    dtypes: dict[str, str] = {}
    for vi in list(g.value_info) + list(g.input) + list(g.output):
        tt = vi.type.tensor_type
        shapes[vi.name] = tuple(d.dim_value if d.HasField("dim_value") else None
                                for d in tt.shape.dim)
        dtypes[vi.name] = _ONNX_DTYPES.get(tt.elem_type, "float32")
    for n in g.node:  # Identity of a weight: shape inference leaves it unshaped
        if n.op_type == "Identity" and n.input[0] in inits and n.output[0] not in shapes:
            shapes[n.output[0]] = tuple(inits[n.input[0]].dims)
            dtypes[n.output[0]] = _ONNX_DTYPES.get(inits[n.input[0]].data_type, "float32")
    inputs = tuple(TensorSpec(i.name, shapes[i.name], dtypes[i.name])
                   for i in g.input if i.name not in inits)
    seen: set[str] = set()
    nodes = []
    for k, n in enumerate(g.node):
        weights = tuple(WeightSpec(t, tuple(inits[t].dims), _ONNX_DTYPES.get(
            inits[t].data_type, "float32")) for t in n.input if t in inits and t not in seen)
        seen.update(w.name for w in weights)
        nodes.append(Node(name=n.name or f"node{k}", op=n.op_type, layer=n.name or f"node{k}",
                          inputs=tuple(t for t in n.input if t),
                          outputs=tuple(t for t in n.output if t), weights=weights,
                          dtype=dtypes.get(n.output[0], "float32") if n.output else "float32"))
    known = {t: s for t, s in shapes.items()}

    def oracle(_input_shapes):
        return dict(known), []

    return Graph(format="onnx", producer=f"{model.producer_name} {model.producer_version}",
                 name=g.name, inputs=inputs, outputs=tuple(o.name for o in g.output),
                 nodes=tuple(nodes), shape_oracle=oracle, known_dtypes=dtypes,
                 batch_first=False)
