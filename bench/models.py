"""The models of the accuracy benchmark, built with Keras (weights=None) and exported to ONNX.

Run by bench/accuracy.py in a subprocess with KERAS_BACKEND=torch: Keras 3 exports ONNX
through torch.onnx (TorchScript exporter), which needs no extra package. Channels-last Keras
models export with a Transpose around every convolution, as real Keras-exported files have.
"""
from __future__ import annotations

import os
import sys


def resnet50(h, w):
    import keras
    return keras.applications.ResNet50(weights=None, input_shape=(h, w, 3))


def densenet121(h, w):
    import keras
    return keras.applications.DenseNet121(weights=None, input_shape=(h, w, 3))


def mobilenetv2(h, w):
    import keras
    return keras.applications.MobileNetV2(weights=None, input_shape=(h, w, 3))


def efficientnetb0(h, w):
    import keras
    return keras.applications.EfficientNetB0(weights=None, input_shape=(h, w, 3))


def _keras(module):
    """Keras 3 by default; tf-keras when bench/accuracy_models.py builds for tf2onnx."""
    if module is not None:
        return module
    import keras
    return keras


def unet(h, w, keras=None):
    """A small U-Net: three down steps, three up steps, skip connections by concatenation."""
    keras = _keras(keras)
    layers = keras.layers
    inp = keras.Input((h, w, 3))
    x, skips = inp, []
    for f in (16, 32, 64):
        x = layers.Conv2D(f, 3, padding="same", activation="relu")(x)
        x = layers.Conv2D(f, 3, padding="same", activation="relu")(x)
        skips.append(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(128, 3, padding="same", activation="relu")(x)
    for f, skip in zip((64, 32, 16), reversed(skips)):
        x = layers.Conv2DTranspose(f, 2, strides=2)(x)
        x = layers.Concatenate()([x, skip])
        x = layers.Conv2D(f, 3, padding="same", activation="relu")(x)
    out = layers.Conv2D(1, 1, activation="sigmoid")(x)
    return keras.Model(inp, out, name="unet")


def transformer(seq, dim, keras=None, symbolic=False, act="gelu"):
    """A small transformer encoder: 2 blocks of multi-head attention + MLP, pre-norm
    (``symbolic``: the sequence dim left open in the file)."""
    keras = _keras(keras)
    layers = keras.layers
    inp = keras.Input((None if symbolic else seq, dim))
    x = inp
    for _ in range(2):
        h = layers.LayerNormalization()(x)
        h = layers.MultiHeadAttention(num_heads=4, key_dim=dim // 4)(h, h)
        x = layers.Add()([x, h])
        h = layers.LayerNormalization()(x)
        h = layers.Dense(4 * dim, activation=act)(h)
        h = layers.Dense(dim)(h)
        x = layers.Add()([x, h])
    return keras.Model(inp, x, name="transformer")


#: name -> (builder, the two input shapes without the batch)
MODELS = {
    "resnet50": (resnet50, [(224, 224, 3), (320, 320, 3)]),
    "densenet121": (densenet121, [(224, 224, 3), (320, 320, 3)]),
    "mobilenetv2": (mobilenetv2, [(224, 224, 3), (320, 320, 3)]),
    "efficientnetb0": (efficientnetb0, [(224, 224, 3), (320, 320, 3)]),
    "unet": (unet, [(128, 128, 3), (256, 256, 3)]),
    "transformer": (transformer, [(128, 128), (512, 128)]),
}


def export(name: str, shape: tuple[int, ...], path: str) -> None:
    import keras
    builder, _ = MODELS[name]
    model = builder(*shape[:2])
    model.export(path, format="onnx", verbose=False,
                 input_signature=[keras.InputSpec(shape=(1, *shape), dtype="float32")])


if __name__ == "__main__":  # python bench/models.py NAME DIMS PATH
    # Set here, not at import: importing this module (bench/accuracy.py, its tests) must not
    # switch the Keras backend of the importing process and its children.
    os.environ.setdefault("KERAS_BACKEND", "torch")
    export(sys.argv[1], tuple(int(d) for d in sys.argv[2].split(",")), sys.argv[3])
