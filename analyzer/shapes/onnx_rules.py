"""Rules for ONNX ops, for what the shape engines miss (registered as ``onnx:<op_type>``).

ONNX shapes come from onnx's and onnxruntime's engines (the graph's shape oracle); these rules
return no output shape of their own (the oracle's stands) and only check what both engines
accept silently but a runtime rejects:

- Reshape to a constant shape whose element count no longer matches the input's;
- Gemm/MatMul whose stored weight no longer fits the input's inner dim (``weights-mismatch``
  through the weight needs they return).
"""
from __future__ import annotations

import math
from typing import Optional

from ..ir import WeightSpec
from .registry import RuleCall, RuleResult, ShapeError, WeightNeed, rule


def _leaf(name: str) -> str:
    """The name memory.pair_weights matches needs by."""
    return name.rsplit("/", 1)[-1].split(":", 1)[0]


def _stored_needs(weights: tuple[WeightSpec, ...], override: Optional[WeightSpec] = None,
                  shape: Optional[tuple[int, ...]] = None) -> list[WeightNeed]:
    return [WeightNeed(_leaf(w.name), tuple(shape) if w is override and shape is not None
                       else tuple(w.shape)) for w in weights]


@rule("onnx:Reshape")
def reshape(call: RuleCall) -> RuleResult:
    target = call.cfg.get("const_inputs", {}).get("1")
    x = call.inputs[0] if call.inputs else None
    if target is None or x is None or any(d is None for d in x):
        return RuleResult([None], weights_unknown=True)
    allowzero = int(call.cfg.get("allowzero", 0) or 0)
    dims = []
    for i, d in enumerate(target):
        if d == 0 and not allowzero:
            if i >= len(x):
                raise ShapeError(f"Reshape target {target} copies dim {i}, the input {list(x)} "
                                 "has no such dim")
            d = x[i]
        dims.append(d)
    total = math.prod(x)  # type: ignore[arg-type]
    if dims.count(-1) > 1 or any(d < -1 for d in dims):
        raise ShapeError(f"Reshape target {target} is not valid")
    known = math.prod(d for d in dims if d != -1)
    if -1 in dims:
        if known == 0 or total % known:
            raise ShapeError(f"cannot reshape {list(x)} ({total:,} elements) to the stored "
                             f"target {target}: {total:,} is not a multiple of {known:,}")
    elif known != total:
        raise ShapeError(f"cannot reshape {list(x)} ({total:,} elements) to the stored target "
                         f"{target} ({known:,} elements)")
    return RuleResult([None], weights_unknown=True)


def _weight(call: RuleCall, index: int) -> Optional[WeightSpec]:
    if index >= len(call.node.inputs):
        return None
    name = call.node.inputs[index]
    return next((w for w in call.node.weights if w.name == name), None)


def _is_weight_name(call: RuleCall, index: int) -> bool:
    return index < len(call.node.inputs) and any(
        w.name == call.node.inputs[index] for w in call.node.weights)


@rule("onnx:MatMul")
def matmul(call: RuleCall) -> RuleResult:
    b = _weight(call, 1)
    a = call.inputs[0] if call.inputs else None
    if b is None or a is None or _is_weight_name(call, 0) or len(b.shape) != 2 or not a \
            or a[-1] is None:
        return RuleResult([None], weights_unknown=True)
    need = (a[-1], b.shape[1])
    return RuleResult([None], weights=_stored_needs(call.node.weights, b, need))


@rule("onnx:Gemm")
def gemm(call: RuleCall) -> RuleResult:
    b = _weight(call, 1)
    a = call.inputs[0] if call.inputs else None
    if b is None or a is None or _is_weight_name(call, 0) or len(b.shape) != 2 or len(a) != 2:
        return RuleResult([None], weights_unknown=True)
    k = a[0] if call.cfg.get("transA") else a[1]
    if k is None:
        return RuleResult([None], weights_unknown=True)
    need = (b.shape[0], k) if call.cfg.get("transB") else (k, b.shape[1])
    return RuleResult([None], weights=_stored_needs(call.node.weights, b, need))
