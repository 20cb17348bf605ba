"""The TensorFlow-graph shape engine: TensorFlow's own op shape functions, at the stated input.

The reader stored the signature's graph as plain data (``engine_inputs.TfGraph``); this
engine re-traces it (``formats.savedmodel_graph.Trace``: ops re-created in a fresh
``tf.Graph``, nothing executed, no variable read) with the placeholders at the stated shapes,
and reports where TensorFlow loses a shape. Imports TensorFlow, as the reader did.
"""
from __future__ import annotations

from typing import Any, Mapping

from ...engine_inputs import TfGraph
from ...errors import first_line
from ...findings import Code, Severity
from ...formats.savedmodel_graph import Trace, import_tensorflow, rename_input
from ...ir import Graph, ReaderFinding, Shape

MAX_OP_FINDINGS = 20
#: Every TF row has a rule (``tf_graph_rules``), so the rules' statuses stand.
SHAPES_EVERY_OP = False


def shape(graph: Graph, input_shapes: Mapping[str, Shape]
          ) -> tuple[dict[str, Shape], list[ReaderFinding]]:
    """Shapes by tensor id at ``input_shapes`` (by signature input key), and findings."""
    data = graph.engine_input
    if not isinstance(data, TfGraph):  # a hand-built graph: its given shapes only
        return {}, []
    tf = import_tensorflow(data.path)
    mg = _meta_graph(data)
    sig = mg.signature_def[data.signature]
    t = Trace(tf, mg, data.path)
    t.fallback_dtypes = dict(data.dtypes)
    feed = {sig.inputs[k].name: (sig.inputs[k].dtype, input_shapes[k]) for k in data.input_keys}
    try:
        t.run(feed, list(data.output_names))
    except (ValueError, tf.errors.OpError) as exc:
        return {}, [ReaderFinding(Code.TF_UNSHAPED_OP, Severity.ERROR, None,
                                  f"TensorFlow cannot shape the graph at this input: "
                                  f"{first_line(exc)}")]
    shapes: dict[str, Shape] = {}
    found: list[ReaderFinding] = []
    used = {tid for r in t.ops for tid in r.inputs} | set(data.output_ids)
    produced = {tid: shp for r in t.ops for tid, shp, _ in r.outputs}

    def known(tid: str) -> bool:
        shp = produced.get(tid, ())
        return shp is not None and all(d is not None for d in shp)

    for r in t.ops:
        for tid, shp, _ in r.outputs:
            if shp is not None and all(d is not None for d in shp):
                shapes[rename_input(tid, data.input_ids)] = shp
        # Only outputs something reads count (FusedBatchNorm's reserve spaces do not).
        # Report where shapes are lost (known inputs, unknown used output), not the ops
        # downstream of it.
        if r.error or (all(known(i) for i in r.inputs) and any(
                s is None or any(d is None for d in s)
                for tid, s, _ in r.outputs if tid in used)):
            if len(found) == MAX_OP_FINDINGS:
                found.append(ReaderFinding(
                    Code.TF_UNSHAPED_OP, Severity.WARNING, None,
                    "more ops TensorFlow cannot shape at this input are not listed"))
            if len(found) >= MAX_OP_FINDINGS:
                continue
            found.append(ReaderFinding(
                Code.TF_UNSHAPED_OP, Severity.ERROR if r.error else Severity.WARNING,
                data.row_of.get(r.name, r.local),
                f"TensorFlow cannot shape op {r.name} ({r.type}) at this input"
                + (f": {r.error}" if r.error else " (its output dims stay unknown)"),
                {"op": r.type}))
    found += _signature_fill(shapes, produced, sig, data, input_shapes)
    return shapes, found


def _stated(info: Any) -> Shape | None:
    if info.tensor_shape.unknown_rank:
        return None
    return tuple(None if d.size < 0 else int(d.size) for d in info.tensor_shape.dim)


def _signature_fill(shapes: dict[str, Shape], produced: Mapping[str, Any], sig: Any,
                    data: TfGraph, input_shapes: Mapping[str, Shape]) -> list[ReaderFinding]:
    """Signature outputs TensorFlow leaves (partly) unknown take the shape the signature
    states, dim by dim. A stated unknown first dim is the batch when every signature input's
    first dim is unknown too and the stated inputs agree on it. A concrete engine dim is
    never overridden: a stated dim that differs from it is a ``signature-disagree``."""
    by_name = {info.name: key for key, info in sig.outputs.items()}
    batches = {s[0] for s in input_shapes.values() if s}
    batch_first = len(batches) == 1 and all(
        _stated(sig.inputs[k]) and _stated(sig.inputs[k])[0] is None for k in data.input_keys)
    filled, differ = [], []
    for name, tid in zip(data.output_names, data.output_ids):
        key = by_name.get(name)
        stated = _stated(sig.outputs[key]) if key is not None else None
        got = produced.get(tid)
        if stated is None:
            continue
        if got is not None and len(got) == len(stated):
            bad = [i for i, (a, b) in enumerate(zip(got, stated))
                   if a is not None and b is not None and a != b]
            if bad:
                differ.append(f"{key}: TensorFlow {list(got)}, signature {list(stated)}")
                continue
        if tid in shapes:
            continue
        if got is not None and len(got) != len(stated):
            differ.append(f"{key}: TensorFlow {list(got)}, signature {list(stated)}")
            continue
        dims = list(got) if got is not None else [None] * len(stated)
        dims = [a if a is not None else b for a, b in zip(dims, stated)]
        if dims and dims[0] is None and stated[0] is None and batch_first:
            dims[0] = next(iter(batches))
        if all(d is not None for d in dims):
            shapes[tid] = tuple(int(d) for d in dims)  # type: ignore[arg-type]
            filled.append(f"{key} {list(dims)}")
    out = []
    if filled:
        out.append(ReaderFinding(
            Code.SIGNATURE_SHAPES, Severity.INFO, None,
            f"TensorFlow cannot shape {len(filled)} signature output(s) at this input; they take "
            f"the shapes the signature states (unknown batch = the input's): "
            + ", ".join(filled[:5]), {"outputs": filled[:20]}))
    if differ:
        out.append(ReaderFinding(
            Code.SIGNATURE_DISAGREE, Severity.WARNING, None,
            f"TensorFlow's shapes of {len(differ)} signature output(s) differ from what the "
            "signature states; TensorFlow's stand: " + "; ".join(differ[:5]),
            {"outputs": differ[:20]}))
    return out


def _meta_graph(data: TfGraph) -> Any:
    from tensorflow.core.protobuf import saved_model_pb2

    sm = saved_model_pb2.SavedModel()
    sm.ParseFromString(data.saved_model)
    return sm.meta_graphs[data.meta_graph]
