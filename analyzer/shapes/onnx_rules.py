"""The ONNX dialect's op records: runtime facts (``ONNX_OPS``) and rules for what the shape
engines miss.

ONNX shapes come from onnx's and onnxruntime's engines (``shapes/engines/onnx.py``); these
rules return no output shape of their own (the engine's stands) and only check what both
engines accept silently but a runtime rejects:

- Reshape to a constant shape whose element count no longer matches the input's;
- Gemm/MatMul whose stored weight no longer fits the input's inner dim (``weights-mismatch``
  through the weight needs they return).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Optional

from ..ir import WeightSpec
from .registry import (AFTER_FIRST, ALL_INPUTS, RuleCall, RuleResult, ShapeError, WeightNeed,
                       declare, rule, weight_leaf)

DIALECT = "onnx"


def _conv_working_buffer(st: Any, ins: int, out: int) -> int:
    """The working buffer onnxruntime's CPU Conv asks the arena for, as MLAS sizes it
    (onnxruntime/core/mlas/lib/convolve.cpp, ``MlasConvPrepare``; one intra-op thread):

    - a pointwise convolution (every kernel dim 1, strides 1, no padding) is a plain GEMM
      on the input: no buffer (``MlasConvAlgorithmGemmDirect``);
    - when the filters of a group outnumber the output positions (``FilterCount >
      OutputSize``: deep layers at small inputs), the whole input is expanded first:
      OutputSize × K floats, K = input channels per group × kernel size
      (``MlasConvAlgorithmExpandThenGemm``);
    - otherwise the expansion runs in segments through one buffer per thread of
      ``MLAS_CONV_WORKING_BUFFER_SIZE_PER_THREAD`` = MLAS_SGEMM_STRIDEN × MLAS_SGEMM_STRIDEK
      = 128 × 128 floats (``MlasConvAlgorithmExpandThenGemmSegmented``).

    The second case is why a detector's deep 3×3 convolutions take ~0.7 MB at 160×160 and
    64 KiB at 320×320. Checked against onnxruntime 1.32 on single Conv nodes (batch 1 and
    2, grouped, depthwise, strided 1×1)."""
    cfg = st.config if isinstance(st.config, Mapping) else {}
    x = st.input_shapes[0] if st.input_shapes else None
    w = st.input_shapes[1] if len(st.input_shapes) > 1 else None
    y = st.output_shapes[0] if st.output_shapes else None
    if w is None and st.weight_shapes and len(st.weight_shapes[0]) > 2:
        w = st.weight_shapes[0]
    kernel = tuple(cfg["kernel_shape"]) if isinstance(cfg.get("kernel_shape"), (list, tuple)) \
        else tuple(w[2:]) if w is not None and len(w) > 2 else None
    ones = lambda key: all(v == 1 for v in cfg.get(key) or ())  # noqa: E731
    zero_pads = not any(cfg.get("pads") or ()) and cfg.get("auto_pad", "NOTSET") in (
        "NOTSET", "VALID", b"NOTSET", b"VALID")
    if kernel is not None and all(k == 1 for k in kernel) and ones("strides") and zero_pads:
        return 0
    group = int(cfg.get("group", 1) or 1)
    if x is None or y is None or w is None or kernel is None or len(y) < 3 or len(x) < 2:
        return MLAS_CONV_WORKING_BUFFER_FLOATS * 4
    output_size = math.prod(y[2:])
    k = (x[1] // group) * math.prod(kernel)
    if w[0] // group > output_size:
        return output_size * k * 4
    return MLAS_CONV_WORKING_BUFFER_FLOATS * 4


#: mlas/lib/convolve.cpp ``MLAS_CONV_WORKING_BUFFER_SIZE_PER_THREAD`` on x86-64.
MLAS_CONV_WORKING_BUFFER_FLOATS = 128 * 128


def _softmax_transposed(st: Any, ins: int, out: int) -> int:
    """Softmax/LogSoftmax over an axis that is not the innermost one (opset 13 semantics)
    transpose that axis last into a temporary, compute into a second temporary and
    transpose back: two output-sized buffers from the kernel's temp-space allocator, the
    same arena (onnxruntime/core/providers/cpu/math/softmax.cc, ``Softmax<T>::Compute``:
    ``transposed_input`` and ``intermediate_output`` when ``is_transpose_required``)."""
    shape = st.output_shapes[0] if st.output_shapes else None
    axis = st.config.get("axis", -1) if isinstance(st.config, Mapping) else -1
    if not shape or not isinstance(axis, int):
        return 0
    return 2 * out if axis % len(shape) != len(shape) - 1 else 0


#: onnxruntime CPU kernels declaring MayInplace(0, 0) (registrations in cpu/activation/
#: activations.cc, tensor/cast_op.cc, math/clip.cc, math/softmax.cc; applied by
#: allocation_planner.cc ``PlannerImpl::FindReusableInput``). Aliases: ``.Alias(0, 0)`` in
#: cpu/tensor/reshape.cc, flatten.cc, squeeze.cc, unsqueeze.cc, identity_op.cc.
_IN_PLACE = dict(may_run_in_place=True)
_VALUES = dict(value_inputs=AFTER_FIRST)  # inputs after the first are shapes/axes/sizes
_PASSES = dict(passes_shape_values=True)  # onnxruntime follows shape values through them

#: Facts of the ONNX ops without a rule of their own (those with one carry theirs in their
#: ``@rule``). Scratch: working memory onnxruntime CPU kernels take from the arena.
ONNX_OPS: dict[str, dict[str, Any]] = {
    "Flatten": dict(aliases_input=True),
    "Identity": dict(aliases_input=True),
    "Dropout": dict(aliases_input=True),
    "Squeeze": dict(aliases_input=True, **_VALUES, **_PASSES),
    "Unsqueeze": dict(aliases_input=True, **_VALUES, **_PASSES),
    **{op: _IN_PLACE for op in ("Cast", "Relu", "LeakyRelu", "Elu", "Selu", "Celu", "Sigmoid",
                                "HardSigmoid", "Tanh", "Softplus", "Softsign",
                                "ThresholdedRelu", "Clip")},
    **{op: dict(may_run_in_place=True, scratch=_softmax_transposed)
       for op in ("Softmax", "LogSoftmax")},
    "Conv": dict(scratch=_conv_working_buffer),
    **{op: _VALUES for op in ("Pad", "Expand", "Tile", "Resize", "Upsample", "TopK",
                              "OneHot", "Split", "ReduceSum", "ReduceMean", "ReduceMax",
                              "ReduceMin", "ReduceProd")},
    "Slice": dict(**_VALUES, **_PASSES),
    **{op: dict(value_inputs=ALL_INPUTS) for op in ("ConstantOfShape", "Range")},
    **{op: dict(shape_only_at_run_time=True) for op in ("NonZero", "Unique",
                                                        "NonMaxSuppression", "Loop", "If",
                                                        "Scan", "Compress")},
    **{op: _PASSES for op in ("Gather", "Concat", "Add", "Sub", "Mul", "Div")},
    **{op: dict(makes_shape_value=True) for op in ("Shape", "Size")},
}
for _op, _facts in ONNX_OPS.items():
    declare(_op, dialect=DIALECT, **_facts)


def _stored_needs(weights: tuple[WeightSpec, ...], override: Optional[WeightSpec] = None,
                  shape: Optional[tuple[int, ...]] = None) -> list[WeightNeed]:
    return [WeightNeed(weight_leaf(w.name), tuple(shape) if w is override and shape is not None
                       else tuple(w.shape)) for w in weights]


@rule("Reshape", dialect=DIALECT, aliases_input=True, value_inputs=AFTER_FIRST)
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


@rule("MatMul", dialect=DIALECT)
def matmul(call: RuleCall) -> RuleResult:
    b = _weight(call, 1)
    a = call.inputs[0] if call.inputs else None
    if b is None or a is None or _is_weight_name(call, 0) or len(b.shape) != 2 or not a \
            or a[-1] is None:
        return RuleResult([None], weights_unknown=True)
    need = (a[-1], b.shape[1])
    return RuleResult([None], weights=_stored_needs(call.node.weights, b, need))


@rule("Gemm", dialect=DIALECT)
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
