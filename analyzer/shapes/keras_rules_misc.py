"""Shape rules for the rest of what real Keras configs hold: normalization and preprocessing
layers, keras.applications' own layers (LayerScale, CustomScaleLayer, StochasticDepth),
Keras 3's raw operations that appear in configs (``keras.src.ops.numpy``), tf-keras's
TFOpLambda/SlicingOpLambda, and Lambda layers (shape from the config only: never run).
"""
from __future__ import annotations

from typing import Any, Optional

from ..ir import Shape
from .keras_rules import broadcast, gamma_beta, known_dim, merge, param_axes
from .registry import RuleCall, RuleResult, ShapeError, WeightNeed, rule

Dim = Optional[int]


# --------------------------------------------------------------------------- identity-shaped

@rule("UnitNormalization", "StochasticDepth", "RandomFlip", "RandomRotation", "RandomZoom",
      "RandomTranslation", "RandomContrast", "RandomBrightness")
def identity_misc(call: RuleCall) -> RuleResult:
    return RuleResult([call.x])


# --------------------------------------------------------------------------- normalization

@rule("GroupNormalization")
def group_norm(call: RuleCall) -> RuleResult:
    axes = param_axes(call)
    channels = known_dim(call.x[axes[0]], "the channel dim")
    groups = call.cfg.get("groups", 32)
    if not isinstance(groups, int) or groups <= 0 or channels % groups:
        raise ShapeError(f"GroupNormalization: {channels} channels are not divisible into "
                         f"{groups!r} groups")
    return RuleResult([call.x], gamma_beta(call, (channels,)))


@rule("LayerScale")
def layer_scale(call: RuleCall) -> RuleResult:
    """keras.applications.convnext.LayerScale: x * gamma, gamma of shape (projection_dim,)."""
    dim = call.cfg.get("projection_dim")
    if not isinstance(dim, int) or dim <= 0:
        raise ShapeError(f"LayerScale projection_dim {dim!r} is not a positive integer")
    return RuleResult([broadcast([call.x, (dim,)], "LayerScale")], [WeightNeed("gamma", (dim,))])


@rule("CustomScaleLayer", "Custom>CustomScaleLayer")  # tf-keras registers it as Custom>
def custom_scale(call: RuleCall) -> RuleResult:
    """keras.applications.inception_resnet_v2.CustomScaleLayer: x + y * scale."""
    return RuleResult([broadcast(call.inputs, "CustomScaleLayer")])


# --------------------------------------------------------------------------- resizing

def _hw(call: RuleCall) -> tuple[int, int]:
    h, w = call.cfg.get("height"), call.cfg.get("width")
    if not all(isinstance(v, int) and v > 0 for v in (h, w)):
        raise ShapeError(f"{call.node.op} height/width {h!r}/{w!r} are not positive integers")
    return h, w  # type: ignore[return-value]


@rule("Resizing", "CenterCrop", "RandomCrop")
def resizing(call: RuleCall) -> RuleResult:
    x = call.x
    h, w = _hw(call)
    first = (call.cfg.get("data_format") or "channels_last") == "channels_first"
    if len(x) == 4:
        return RuleResult([(x[0], x[1], h, w) if first else (x[0], h, w, x[3])])
    if len(x) == 3:  # one unbatched image
        return RuleResult([(x[0], h, w) if first else (h, w, x[2])])
    raise ShapeError(f"{call.node.op} expects an image batch of rank 4, got {x}")


# --------------------------------------------------------------------------- raw operations

#: Keras 3 ``keras.src.ops`` classes (serialized when a functional model calls an op on a
#: tensor) and tf-keras TFOpLambda functions whose output is the inputs broadcast together.
_ELEMENTWISE_OPS = ("Divide", "TrueDivide", "Power", "Relu", "Relu6", "Sigmoid",
                    "HardSigmoid", "HardSilu", "HardSwish", "Silu", "Swish", "Tanh", "Gelu",
                    "Negative", "Abs", "Absolute", "Square", "Sqrt", "Exp", "Log", "Clip",
                    "Where")
_ELEMENTWISE_TF = frozenset({
    "__operators__.add", "__operators__.sub", "__operators__.mul", "__operators__.truediv",
    "math.add", "math.subtract", "math.multiply", "math.truediv", "math.divide",
    "math.maximum", "math.minimum", "math.pow", "math.sigmoid", "math.tanh", "math.exp",
    "math.negative", "math.abs", "math.square", "math.sqrt", "math.log", "nn.relu", "nn.relu6",
    "nn.silu", "nn.swish", "nn.gelu", "nn.sigmoid", "nn.softmax", "nn.elu", "nn.selu",
    "identity", "clip_by_value", "math.scalar_mul", "compat.v1.math.scalar_mul",
})


# Keras 3's raw elementwise ops broadcast like the merge layers: the same rule.
rule(*_ELEMENTWISE_OPS)(merge)


@rule("TFOpLambda")
def tf_op_lambda(call: RuleCall) -> RuleResult:
    fn = call.cfg.get("function")
    if fn in _ELEMENTWISE_TF:
        if not call.inputs:
            raise ShapeError(f"tf.{fn} has no tensor input")
        return RuleResult([broadcast(call.inputs, f"tf.{fn}")])
    raise ShapeError(f"no shape rule for the TensorFlow op tf.{fn}")


# --------------------------------------------------------------------------- Lambda

@rule("Lambda")
def lambda_layer(call: RuleCall) -> RuleResult:
    """Never unmarshalled or run: the output shape comes from the config's output_shape."""
    raw: Any = call.cfg.get("output_shape")
    if call.cfg.get("output_shape_type", "raw") != "raw":
        raise ShapeError("its output_shape is code, which memscan never runs")
    if isinstance(raw, dict) and "items" in raw:
        raw = raw["items"]
    if not isinstance(raw, (list, tuple)) or not all(
            d is None or (isinstance(d, int) and not isinstance(d, bool) and d >= 0) for d in raw):
        raise ShapeError("its config states no output_shape and its code is never run")
    shape: Shape = (call.x[0], *raw) if call.inputs else (None, *raw)
    return RuleResult([shape])
