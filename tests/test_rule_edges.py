"""Single shape rules called through RuleCall on edge cases: odd sizes with same/valid padding,
strides, dilation, channels_first, negative axes, unknown dims, bad configs.

Every expected value was worked out by hand from Keras's formulas (conv_output_length,
deconv_output_length, pooling) and is checked against Keras 3's own ``compute_output_shape``
and ``build`` by test_expected_values_match_keras (one documented, deliberate difference:
KERAS_STATIC_SHAPE). Shapes include the batch dim.
"""
from __future__ import annotations

from typing import Any, Optional

import pytest

from analyzer.ir import Node
from analyzer.shapes.ops import lookup
from analyzer.shapes.registry import RuleCall, RuleResult, ShapeError

Shape = tuple[Optional[int], ...]


def call(op: str, inputs: list[Shape], **config: Any) -> RuleResult:
    rule = lookup(op)
    assert rule is not None, op
    node = Node(name="x", op=op, layer="x", inputs=tuple(f"in{i}" for i in range(len(inputs))),
                outputs=("out",), config=config)
    return rule(RuleCall(node, inputs))


def weights(result: RuleResult) -> dict[str, tuple[int, ...]]:
    return {w.name: w.shape for w in result.weights}


#: (op, input shapes, config, expected output shape, expected weights {name: shape}).
#: Hand arithmetic beside each: n input length, k kernel, s stride, d dilation.
CASES: list[tuple[str, list[Shape], dict, Shape, Optional[dict]]] = [
    # same: ceil(n / s) = ceil(7 / 2) = 4
    ("Conv2D", [(1, 7, 7, 3)], dict(filters=8, kernel_size=3, strides=2, padding="same"),
     (1, 4, 4, 8), {"kernel": (3, 3, 3, 8), "bias": (8,)}),
    # valid: ceil((n - k + 1) / s) = ceil(5 / 2) = 3
    ("Conv2D", [(1, 7, 7, 3)], dict(filters=8, kernel_size=3, strides=2, padding="valid"),
     (1, 3, 3, 8), {"kernel": (3, 3, 3, 8), "bias": (8,)}),
    # non-square kernel and strides, odd sizes: H ceil((9-3+1)/2)=4, W ceil((8-2+1)/3)=3
    ("Conv2D", [(2, 9, 8, 5)], dict(filters=4, kernel_size=[3, 2], strides=[2, 3],
                                    padding="valid", use_bias=False),
     (2, 4, 3, 4), {"kernel": (3, 2, 5, 4)}),
    # dilation 2: effective kernel (3-1)*2+1 = 5, valid: 11 - 5 + 1 = 7
    ("Conv2D", [(1, 11, 11, 2)], dict(filters=3, kernel_size=3, dilation_rate=2),
     (1, 7, 7, 3), {"kernel": (3, 3, 2, 3), "bias": (3,)}),
    # channels_first: channels at axis 1; valid 7 - 3 + 1 = 5
    ("Conv2D", [(1, 3, 7, 7)], dict(filters=8, kernel_size=3, data_format="channels_first"),
     (1, 8, 5, 5), {"kernel": (3, 3, 3, 8), "bias": (8,)}),
    # groups: kernel's input channels are cin / groups = 6 / 3 = 2
    ("Conv2D", [(1, 5, 5, 6)], dict(filters=9, kernel_size=1, groups=3),
     (1, 5, 5, 9), {"kernel": (1, 1, 2, 9), "bias": (9,)}),
    # unknown spatial dims stay unknown; weights need only the channels
    ("Conv2D", [(None, None, None, 3)], dict(filters=8, kernel_size=3, strides=2, padding="same"),
     (None, None, None, 8), {"kernel": (3, 3, 3, 8), "bias": (8,)}),
    # causal: output length = n; dilation does not change it
    ("Conv1D", [(1, 7, 4)], dict(filters=2, kernel_size=3, padding="causal", dilation_rate=2),
     (1, 7, 2), {"kernel": (3, 4, 2), "bias": (2,)}),
    # 3D odd sizes, same, stride 2: ceil(5/2), ceil(6/2), ceil(7/2)
    ("Conv3D", [(1, 5, 6, 7, 1)], dict(filters=2, kernel_size=3, strides=2, padding="same"),
     (1, 3, 3, 4, 2), {"kernel": (3, 3, 3, 1, 2), "bias": (2,)}),
    # transpose valid: n*s + max(k - s, 0) = 5*2 + 1 = 11; same: n*s = 10
    ("Conv2DTranspose", [(1, 5, 5, 4)], dict(filters=6, kernel_size=3, strides=2, padding="valid"),
     (1, 11, 11, 6), {"kernel": (3, 3, 6, 4), "bias": (6,)}),
    ("Conv2DTranspose", [(1, 5, 5, 4)], dict(filters=6, kernel_size=3, strides=2, padding="same"),
     (1, 10, 10, 6), {"kernel": (3, 3, 6, 4), "bias": (6,)}),
    # output_padding 1, same: (n-1)*s + k - 2*(k//2) + 1 = 8 + 3 - 2 + 1 = 10
    ("Conv2DTranspose", [(1, 5, 5, 4)], dict(filters=6, kernel_size=3, strides=2, padding="same",
                                             output_padding=1),
     (1, 10, 10, 6), {"kernel": (3, 3, 6, 4), "bias": (6,)}),
    # depthwise, multiplier 2, same stride 2 on 7: ceil(7/2) = 4; 3 * 2 = 6 channels
    ("DepthwiseConv2D", [(1, 7, 7, 3)], dict(kernel_size=3, strides=2, padding="same",
                                             depth_multiplier=2),
     (1, 4, 4, 6), {"depthwise_kernel": (3, 3, 3, 2), "bias": (6,)}),
    ("SeparableConv2D", [(1, 7, 7, 3)], dict(filters=5, kernel_size=3, depth_multiplier=2),
     (1, 5, 5, 5), {"depthwise_kernel": (3, 3, 3, 2), "pointwise_kernel": (1, 1, 6, 5),
                    "bias": (5,)}),
    # pooling: strides default to the pool size; valid floor((8-3)/3)+1 = 2, same ceil(8/3) = 3
    ("MaxPooling2D", [(1, 8, 8, 2)], dict(pool_size=3, padding="valid"), (1, 2, 2, 2), {}),
    ("MaxPooling2D", [(1, 8, 8, 2)], dict(pool_size=3, padding="same"), (1, 3, 3, 2), {}),
    # pool 3 stride 2 valid on 7: floor((7-3)/2)+1 = 3
    ("AveragePooling2D", [(1, 7, 7, 2)], dict(pool_size=3, strides=2), (1, 3, 3, 2), {}),
    ("MaxPooling2D", [(1, 2, 7, 7)], dict(pool_size=2, data_format="channels_first"),
     (1, 2, 3, 3), {}),
    ("GlobalAveragePooling2D", [(1, 7, 5, 3)], dict(keepdims=True), (1, 1, 1, 3), {}),
    ("GlobalMaxPooling2D", [(1, 3, 7, 5)], dict(data_format="channels_first"), (1, 3), {}),
    # padding ((top, bottom), (left, right)): 5+1+2 = 8, 5+3+4 = 12
    ("ZeroPadding2D", [(1, 5, 5, 3)], dict(padding=[[1, 2], [3, 4]]), (1, 8, 12, 3), {}),
    ("ZeroPadding2D", [(1, 3, 5, None)], dict(padding=1, data_format="channels_first"),
     (1, 3, 7, None), {}),
    ("Cropping2D", [(1, 9, 8, 3)], dict(cropping=[[1, 2], [0, 3]]), (1, 6, 5, 3), {}),
    ("UpSampling2D", [(1, 3, 5, 2)], dict(size=[2, 3]), (1, 6, 15, 2), {}),
    ("UpSampling1D", [(1, None, 4)], dict(size=3), (1, None, 4), {}),
    # negative axes: -1 of rank 4 is axis 3; axis 1 for channels_first
    ("BatchNormalization", [(1, 5, 5, 7)], dict(axis=-1),
     (1, 5, 5, 7), {"gamma": (7,), "beta": (7,), "moving_mean": (7,), "moving_variance": (7,)}),
    ("BatchNormalization", [(1, 7, 5, 5)], dict(axis=1, scale=False),
     (1, 7, 5, 5), {"beta": (7,), "moving_mean": (7,), "moving_variance": (7,)}),
    ("LayerNormalization", [(2, 6, 4)], dict(axis=[-2, -1]), (2, 6, 4),
     {"gamma": (6, 4), "beta": (6, 4)}),
    ("Concatenate", [(1, 4, 4, 3), (1, 4, 4, 5)], dict(axis=-1), (1, 4, 4, 8), None),
    ("Concatenate", [(1, 4, 4, 3), (1, 2, 4, 3)], dict(axis=-3), (1, 6, 4, 3), None),
    # an unknown dim on the axis makes the sum unknown; off the axis a known dim wins
    ("Concatenate", [(1, None, 4), (None, 2, 4)], dict(axis=1), (1, None, 4), None),
    ("Dense", [(1, 5, 10)], dict(units=3), (1, 5, 3), {"kernel": (10, 3), "bias": (3,)}),
    ("Reshape", [(1, 2, 6)], dict(target_shape=[-1, 4]), (1, 3, 4), {}),
    ("Reshape", [(1, None, 6)], dict(target_shape=[-1, 3]), (1, None, 3), {}),
    ("Flatten", [(1, 3, None, 2)], {}, (1, None), {}),
    ("Permute", [(1, 2, 3, 4)], dict(dims=[3, 1, 2]), (1, 4, 2, 3), {}),
    # broadcasting merge: right-aligned, 1 stretches, None stays unknown
    ("Add", [(1, 4, 1, 3), (1, 1, 5, 3)], {}, (1, 4, 5, 3), {}),
    ("Multiply", [(1, None, 3), (1, 4, 3)], {}, (1, 4, 3), {}),
    ("Dot", [(2, 3, 4), (2, 5, 4)], dict(axes=[2, 2]), (2, 3, 5), {}),
    ("PReLU", [(1, 5, 6, 3)], dict(shared_axes=[1, 2]), (1, 5, 6, 3), {"alpha": (1, 1, 3)}),
]


@pytest.mark.parametrize("op,inputs,config,out,want",
                         CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_rule_edge_case(op: str, inputs: list[Shape], config: dict, out: Shape,
                        want: Optional[dict]) -> None:
    result = call(op, inputs, **config)
    assert result.outputs == [out]
    if want is not None:
        assert weights(result) == want
    assert all(type(d) is int for w in result.weights for d in w.shape)


#: (op, input shapes, config, words the ShapeError message must contain).
REJECTED: list[tuple[str, list[Shape], dict, str]] = [
    ("Conv2D", [(1, 2, 2, 3)], dict(filters=4, kernel_size=3), "too small"),
    ("Conv2D", [(1, 5, 5, None)], dict(filters=4, kernel_size=3), "must be known"),
    ("Conv2D", [(1, 5, 5)], dict(filters=4, kernel_size=3), "rank 4"),
    ("Conv2D", [(1, 5, 5, 3)], dict(filters=4, kernel_size=3, padding="reflect"),
     "not valid, same"),
    ("Conv2D", [(1, 5, 5, 3)], dict(filters=4, kernel_size=3, data_format="NHWC"),
     "channels_last or channels_first"),
    ("Conv2D", [(1, 5, 5, 4)], dict(filters=4, kernel_size=1, groups=3), "divisible"),
    ("Cropping2D", [(1, 3, 3, 1)], dict(cropping=2), "more than the dim"),
    ("BatchNormalization", [(1, 5, 5, 7)], dict(axis=4), "out of range"),
    ("Concatenate", [(1, 4, 3), (1, 5, 3)], dict(axis=-1), "differ off the axis"),
    ("Reshape", [(1, 2, 6)], dict(target_shape=[5, -1]), "cannot reshape"),
    ("Add", [(1, 4, 3), (1, 5, 3)], {}, "do not broadcast"),
    ("Dense", [(1, None)], dict(units=3), "must be known"),
]


@pytest.mark.parametrize("op,inputs,config,words", REJECTED,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(REJECTED)])
def test_rule_rejects(op: str, inputs: list[Shape], config: dict, words: str) -> None:
    with pytest.raises(ShapeError, match=words):
        call(op, inputs, **config)


#: Cases where Keras's static shape differs from memscan's, on purpose: Keras 3's merge layers
#: give None where either input's dim is None; memscan takes the known dim, which is the only
#: one the layer can run with (the inputs must match there).
KERAS_STATIC_SHAPE: dict[int, Shape] = {
    next(i for i, c in enumerate(CASES) if c[0] == "Multiply"): (1, None, 3),
}


@pytest.mark.parametrize("index", range(len(CASES)),
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_expected_values_match_keras(index: int) -> None:
    """The hand-worked values above are Keras 3's own: compute_output_shape, and the
    weights ``build`` creates, in order (Keras 3 names a depthwise kernel just "kernel", so
    shapes are compared in order, not names)."""
    keras = pytest.importorskip("keras")
    op, inputs, config, out, want = CASES[index]
    layer = getattr(keras.layers, op)(**config)
    shape = [list(s) for s in inputs] if len(inputs) > 1 else tuple(inputs[0])
    assert tuple(layer.compute_output_shape(shape)) == KERAS_STATIC_SHAPE.get(index, out)
    if want is not None:
        layer.build(shape)
        assert [tuple(w.shape) for w in layer.weights] == list(want.values())
