"""Shapes to figures: params, param bytes and activation bytes per layer, and the totals.

Definitions (docs/design.md, "The figures"): params are exact Python ints; param bytes are
params × bytes of the stored dtype; a tensor's activation bytes are the product of its dims
(batch included) × bytes of its dtype; the feature-map sum adds every layer's output bytes,
the model's input included, each counted once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Optional

from .dtypes import DtypePlan
from .findings import ShapeStatus
from .ir import Graph, Shape, WeightSpec, dtype_bytes
from .report import LayerRow, Totals
from .shapes.infer import GraphInference, NodeInference
from .shapes.registry import WeightNeed, weight_leaf
from .stored_data import stored_data


@dataclass
class WeightPair:
    """A weight the layer needs at this input beside the stored one it corresponds to."""

    need: Optional[WeightNeed]
    stored: Optional[WeightSpec]

    @property
    def mismatched(self) -> bool:
        if self.need is None or self.stored is None:
            return True
        return tuple(self.need.shape) != tuple(self.stored.shape)


@dataclass
class LayerFigures:
    """Everything memory knows about one report row; checks read it, the report copies it."""

    row: LayerRow
    path: str  # "outer/inner" for layers inside nested models
    nodes: list[NodeInference]
    pairs: list[WeightPair] = field(default_factory=list)
    #: Rows of a nested model's own layers.
    inner: list["LayerFigures"] = field(default_factory=list)
    output_shapes: list[Optional[Shape]] = field(default_factory=list)
    #: What the row's outputs are (stored_data.StoredData.kind): "activation" (feature
    #: maps), "generated" or "dequantized" weights, or "index" data.
    kind: str = "activation"


def layer_figures(inference: GraphInference, prefix: str = "",
                  plan: DtypePlan = DtypePlan()) -> list[LayerFigures]:
    groups: dict[str, list[NodeInference]] = {}
    for result in inference.nodes:
        groups.setdefault(result.node.layer, []).append(result)
    data = stored_data(inference.graph)
    figures = [_figures(name, results, prefix, plan, inference.graph)
               for name, results in groups.items()]
    for f in figures:
        kinds = {data.kind(r.node) for r in f.nodes}
        f.kind = kinds.pop() if len(kinds) == 1 else "activation"
        f.row.output_kind = f.kind
    return figures


def _figures(layer: str, results: list[NodeInference], prefix: str, plan: DtypePlan,
             graph: Graph) -> LayerFigures:
    first = results[0].node
    path = f"{prefix}{layer}"
    outputs = [s for r in results for s in r.outputs]
    # Each output at its own dtype: the format's value type where it states one (ONNX),
    # else the layer's (Keras dtype policy), re-typed by --dtype.
    act: Optional[int] = 0
    for r in results:
        for tid, shape in zip(r.node.outputs, r.outputs):
            dtype = plan.activation(graph.known_dtypes.get(tid, r.node.dtype))
            one = activation_bytes([shape], dtype)
            act = None if act is None or one is None else act + one
    inner: list[LayerFigures] = []
    pairs: list[WeightPair] = []
    frozen = first.config.get("trainable") is False if hasattr(first.config, "get") else False
    if first.subgraph is not None:
        inner_inf = next((r.inner for r in results if r.inner is not None), None)
        if inner_inf is not None:
            inner = layer_figures(inner_inf, prefix=path + "/", plan=plan)
        params = sum(f.row.params for f in inner)
        stored = sum(f.row.stored_params for f in inner)
        pbytes = sum(f.row.param_bytes for f in inner)
        tbytes = 0 if frozen else sum(f.row.trainable_param_bytes for f in inner)
    else:
        stored_ws = [w for r in results for w in r.node.weights]
        stored = sum(w.size for w in stored_ws)
        needed = next((r.needed for r in results if r.needed is not None), None)
        if needed is None:
            params = stored
            pbytes = sum(w.size * dtype_bytes(plan.weight(w.dtype)) for w in stored_ws)
            tbytes = sum(w.size * dtype_bytes(plan.weight(w.dtype)) for w in stored_ws
                         if w.trainable)
        else:
            pairs = pair_weights(needed, stored_ws)
            pbytes = tbytes = 0
            params = 0
            for p in pairs:
                if p.need is None:
                    continue
                n = math.prod(p.need.shape)
                nbytes = n * dtype_bytes(plan.weight(p.stored.dtype if p.stored
                                                     else _weight_dtype(stored_ws)))
                params += n
                pbytes += nbytes
                if p.need.trainable and (p.stored is None or p.stored.trainable):
                    tbytes += nbytes
        if frozen:
            tbytes = 0
    status = next((r.status for r in results
                   if r.status not in (ShapeStatus.OK, ShapeStatus.FROM_ENGINE)), ShapeStatus.OK)
    row = LayerRow(
        name=layer, type=first.op,
        output_shapes=[None if s is None else list(s) for s in outputs],
        params=params, stored_params=stored, param_bytes=pbytes, activation_bytes=act,
        dtype=plan.activation(first.dtype), shape_status=status, trainable_param_bytes=tbytes,
    )
    return LayerFigures(row=row, path=path, nodes=results, pairs=pairs, inner=inner,
                        output_shapes=outputs)


def _weight_dtype(stored: list[WeightSpec]) -> str:
    return stored[0].dtype if stored else "float32"


def activation_bytes(shapes: list[Optional[Shape]], dtype: str) -> Optional[int]:
    """Bytes of all ``shapes`` at ``dtype``; None if any is unknown."""
    total = 0
    for s in shapes:
        if s is None or any(d is None for d in s):
            return None
        total += math.prod(s) * dtype_bytes(dtype)  # type: ignore[arg-type]
    return total


def pair_weights(needed: list[WeightNeed], stored: list[WeightSpec]) -> list[WeightPair]:
    """Match needed weights to stored ones by name (``.../kernel``), else by position."""
    remaining = list(stored)
    pairs: list[WeightPair] = []
    unmatched: list[WeightNeed] = []
    for need in needed:
        hit = next((w for w in remaining if weight_leaf(w.name) == need.name), None)
        if hit is not None:
            remaining.remove(hit)
            pairs.append(WeightPair(need, hit))
        else:
            unmatched.append(need)
            pairs.append(WeightPair(need, None))
    # A sublayer's weight ("query/kernel") matches a stored one under that sublayer's
    # group ("mha/query/kernel" in .h5, "query_dense/0" in a .keras zip), in order.
    for i, p in enumerate(pairs):
        if p.stored is None and p.need is not None and "/" in p.need.name:
            sub = p.need.name.rsplit("/", 1)[0]
            hit = next((w for w in remaining if _parent(w.name).startswith(sub)), None)
            if hit is not None:
                remaining.remove(hit)
                pairs[i] = WeightPair(p.need, _named(hit, p.need))
    # Names that do not match (Keras 3 ``vars/0`` style): fall back to order.
    for i, p in enumerate(pairs):
        if p.stored is None and remaining:
            pairs[i] = WeightPair(p.need, _named(remaining.pop(0), p.need))
    pairs += [WeightPair(None, w) for w in remaining]
    return pairs


def _parent(name: str) -> str:
    return name.rsplit("/", 2)[-2] if name.count("/") >= 1 else ""


def _named(stored: WeightSpec, need: Optional[WeightNeed]) -> WeightSpec:
    """A positionally stored weight (a .keras zip's ``fc/0``) under the name Keras gives it
    (``fc/kernel``), so findings read the same whatever the container."""
    head, _, leaf = stored.name.rpartition("/")
    if need is None or not leaf.isdigit():
        return stored
    new = need.name.rsplit("/", 1)[-1]
    return replace(stored, name=f"{head}/{new}" if head else new)


def totals(figures: list[LayerFigures]) -> Totals:
    rows = [f.row for f in figures]
    params = sum(r.params for r in rows)
    pbytes = sum(r.param_bytes for r in rows)
    by_kind: dict[str, int] = {}
    for f in figures:
        by_kind[f.kind] = by_kind.get(f.kind, 0) + (f.row.activation_bytes or 0)
    fmap = by_kind.get("activation", 0)
    return Totals(
        params=params, stored_params=sum(r.stored_params for r in rows), param_bytes=pbytes,
        feature_map_bytes=fmap, total_bytes=pbytes + fmap,
        layers_with_unknown_shapes=sum(1 for r in rows if r.activation_bytes is None),
        generated_weight_bytes=by_kind.get("generated", 0) + by_kind.get("dequantized", 0),
        dequantized_weight_bytes=by_kind.get("dequantized", 0),
        index_data_bytes=by_kind.get("index", 0),
    )


def walk(figures: list[LayerFigures]):
    """Every LayerFigures, nested ones included, depth first (iterative)."""
    stack = list(reversed(figures))
    while stack:
        f = stack.pop()
        yield f
        stack.extend(reversed(f.inner))
