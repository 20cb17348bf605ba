"""What a training step keeps for its backward pass, per op, as autograd keeps it.

Each Keras layer family has one small function saying which forward tensors its gradient
reads (its inputs, its outputs) and which hidden tensors of its own it saves (a max-pool's
indices, a dropout mask, a recurrent layer's per-step gates). Each entry cites the PyTorch
autograd formula it follows: ``tools/autograd/derivatives.yaml`` (pytorch/pytorch), where a
backward formula that names ``self`` reads the op's input and one that names ``result``
reads its output. A tensor read by several backward formulas is kept once; a graph input
(the batch) is always held. Weights are not counted here (they are param memory).

An op with no entry keeps its outputs (memscan's earlier rule: every forward buffer once).

The backward pass's transient is, at the layer whose backward runs with the most
activation-gradient bytes alive, the gradient of its outputs plus the gradients of its
inputs (graph inputs get none): what the backward allocates on top of the kept tensors.

Runtime copies that one backend makes (Keras 3's torch backend keeps a channels-first copy
of every convolution's input and kernel) are not modelled: they belong to one backend.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Sequence

from .ir import dtype_bytes
from .runtime_model import Step


@dataclass(frozen=True)
class Saved:
    """What one step's gradient reads: tensor ids (kept once across the graph) and the bytes
    of hidden tensors only this step has (indices, masks, gates, pre-activations)."""

    tensors: tuple[str, ...] = ()
    extra_bytes: int = 0


Keep = Callable[[Step], Saved]


# --------------------------------------------------------------------------- helpers

def _elements(shape: Optional[tuple]) -> int:
    if shape is None or any(not isinstance(d, int) for d in shape):
        return 0
    return math.prod(shape)


def _out_elements(step: Step) -> int:
    return _elements(step.output_shapes[0]) if step.output_shapes else 0


def _itemsize(step: Step) -> int:
    return dtype_bytes(step.output_dtypes[0]) if step.output_dtypes else 4


def _cfg(step: Step, key: str, default=None):
    return step.config.get(key, default) if isinstance(step.config, dict) else default


def _count(step: Step, key: str, default: int) -> int:
    """A size from the layer's config (units, heads, ...): a non-negative int, or ``default``
    when the file states anything else (the config is untrusted)."""
    v = _cfg(step, key)
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else default


def _rate(step: Step, key: str) -> float:
    """A probability from the layer's config (a dropout rate); 0 for anything not a number."""
    v = _cfg(step, key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0.0


def nothing(step: Step) -> Saved:
    """add/sub: ``grad`` only; cat: ``cat_tensors_backward(grad, sizes)``; view/reshape,
    constant_pad_nd, mean (``mean_backward(grad, self.sym_sizes())``): sizes only."""
    return Saved()


def inputs(step: Step) -> Saved:
    """mul.Tensor: ``mul_tensor_backward(grad, other)`` and ``(grad, self)``: both inputs;
    avg_pool2d: ``avg_pool2d_backward(grad, self, ...)``."""
    return Saved(tensors=step.inputs)


def outputs(step: Step) -> Saved:
    """The fallback for an op without an entry: its outputs, once."""
    return Saved(tensors=step.outputs)


#: Activation name -> what its backward reads: "result" (its output) or "self" (its input).
#: relu: ``threshold_backward(grad, result, 0)``; sigmoid: ``sigmoid_backward(grad, result)``;
#: tanh: ``tanh_backward(grad, result)``; softmax: ``_softmax_backward_data(grad, result)``;
#: elu: ``elu_backward(grad, ..., is_result=true, result)``; gelu:
#: ``gelu_backward(grad, self)``; silu/swish: ``silu_backward(grad, self)``; hardswish /
#: hard_silu: ``hardswish_backward(grad, self)``; hardsigmoid: ``hardsigmoid_backward(grad,
#: self)``; relu6 (hardtanh): ``hardtanh_backward(grad, self, 0, 6)``; leaky_relu:
#: ``leaky_relu_backward(grad, self)``; softplus: ``softplus_backward(grad, self)``.
ACTIVATION_READS: dict[str, str] = {
    "relu": "result", "sigmoid": "result", "tanh": "result", "softmax": "result",
    "elu": "result", "gelu": "self", "silu": "self", "swish": "self", "hard_silu": "self",
    "hard_swish": "self", "hard_sigmoid": "self", "relu6": "self", "leaky_relu": "self",
    "softplus": "self", "selu": "result", "exponential": "result", "linear": "none",
}


def _activation_name(step: Step) -> str:
    name = _cfg(step, "activation", "linear")
    return name if isinstance(name, str) else "linear"


def activation(step: Step) -> Saved:
    """An Activation layer: its input or its output, as its formula reads (unknown
    activations: both, the most a pointwise formula can read)."""
    reads = ACTIVATION_READS.get(_activation_name(step), "both")
    return Saved(tensors={"result": step.outputs, "self": step.inputs[:1], "none": (),
                          "both": step.inputs[:1] + step.outputs}[reads])


def relu_layer(step: Step) -> Saved:
    """ReLU: ``threshold_backward(grad, result, 0)``; capped (ReLU(6.)): hardtanh, which
    reads ``self``."""
    capped = _cfg(step, "max_value") is not None
    return Saved(tensors=step.inputs[:1] if capped else step.outputs)


def _fused_activation(step: Step) -> Saved:
    """The activation a Dense/Conv applies to its own result: reading ``result`` keeps the
    layer's output; reading ``self`` keeps the pre-activation, a hidden output-sized tensor."""
    reads = ACTIVATION_READS.get(_activation_name(step), "both")
    hidden = _out_elements(step) * _itemsize(step)
    return Saved(tensors=step.outputs if reads in ("result", "both") else (),
                 extra_bytes=hidden if reads in ("self", "both") else 0)


def linear(step: Step) -> Saved:
    """Conv / Dense: ``convolution_backward(grad, input, weight, ...)``, ``mm_mat1_backward(
    grad, mat2)`` / ``mm_mat2_backward(grad, self)``: the input (and the kernel, a weight),
    then what its fused activation reads."""
    act = _fused_activation(step)
    return Saved(tensors=step.inputs[:1] + act.tensors, extra_bytes=act.extra_bytes)


def separable(step: Step) -> Saved:
    """SeparableConv: two convolutions; the second reads the depthwise result (hidden)."""
    base = linear(step)
    shape = step.input_shapes[0] if step.input_shapes else None
    mult = _count(step, "depth_multiplier", 1) or 1
    hidden = _elements(shape) * mult * _itemsize(step)  # stride 1 upper bound
    return Saved(tensors=base.tensors, extra_bytes=base.extra_bytes + hidden)


def batch_norm(step: Step) -> Saved:
    """native_batch_norm: ``native_batch_norm_backward(grad, input, weight, running_mean,
    running_var, result1, result2, training, ...)``: the input and the per-channel batch
    mean and inverse std (result1, result2)."""
    shape = step.output_shapes[0] if step.output_shapes else None
    channels = shape[-1] if shape and isinstance(shape[-1], int) else 0
    return Saved(tensors=step.inputs[:1], extra_bytes=2 * channels * 4)


def layer_norm(step: Step) -> Saved:
    """native_layer_norm: ``native_layer_norm_backward(grad, input, normalized_shape,
    result1, result2, weight, bias, ...)``: the input and a mean and rstd per row."""
    shape = step.output_shapes[0] if step.output_shapes else None
    rows = _elements(shape[:-1]) if shape else 0
    return Saved(tensors=step.inputs[:1], extra_bytes=2 * rows * 4)


def max_pool(step: Step) -> Saved:
    """max_pool2d_with_indices: ``max_pool2d_with_indices_backward(grad, self, ...,
    result1)``: the input and the int64 argmax indices (one per output element)."""
    return Saved(tensors=step.inputs[:1], extra_bytes=_out_elements(step) * 8)


def dropout(step: Step) -> Saved:
    """native_dropout: ``native_dropout_backward(grad, result1, scale)``: the bool mask."""
    rate = _rate(step, "rate")
    return Saved(extra_bytes=_out_elements(step) if rate > 0 else 0)


def _recurrent(per_step_units: int) -> Keep:
    """A recurrence unrolled by autograd keeps, per time step, the tensors its step's
    formulas read: ``per_step_units`` vectors of ``units`` per sample, plus the sequence
    input (read by the input projection's mm)."""
    def keep(step: Step) -> Saved:
        shape = step.input_shapes[0] if step.input_shapes else None
        units = _count(step, "units", 0)
        if not shape or len(shape) < 3 or not all(isinstance(d, int) for d in shape[:2]):
            return Saved(tensors=step.inputs[:1] + step.outputs)
        batch, steps = shape[0], shape[1]
        return Saved(tensors=step.inputs[:1],
                     extra_bytes=per_step_units * batch * steps * units * _itemsize(step))
    return keep


#: LSTM step: i, f, o (``sigmoid_backward(grad, result)``), g and tanh(c_t)
#: (``tanh_backward(grad, result)``), c_{t-1} and h_{t-1} (read by ``mul`` and ``mm``): 7.
lstm = _recurrent(7)
#: GRU step: z, r (sigmoid results), the candidate (tanh result), h_{t-1} and the recurrent
#: projection r multiplies (``mul_tensor_backward`` reads both): 5.
gru = _recurrent(5)
#: SimpleRNN step: the tanh result and h_{t-1}: 2.
simple_rnn = _recurrent(2)


def multi_head_attention(step: Step) -> Saved:
    """Keras MultiHeadAttention, written as einsums (``bmm``: each operand reads the other):
    the query and value inputs (read by their projections), the scaled query, key and
    value heads (read by the two einsums), the softmax probabilities (``result``, also read
    by the second einsum), and the attention context (read by the output projection)."""
    shapes = [s for s in step.input_shapes if s is not None]
    if len(shapes) < 2 or not step.output_shapes:
        return Saved(tensors=step.inputs + step.outputs)
    heads = _count(step, "num_heads", 1) or 1
    key_dim = _count(step, "key_dim", 0)
    value_dim = _count(step, "value_dim", 0) or key_dim
    q, v = shapes[0], shapes[1]
    batch, tq, tk = q[0], _elements(q[1:-1]), _elements(v[1:-1])
    itemsize = _itemsize(step)
    heads_bytes = batch * heads * (tq * key_dim + tk * key_dim + tk * value_dim)
    probs = batch * heads * tq * tk
    context = batch * tq * heads * value_dim
    mask = probs if _rate(step, "dropout") > 0 else 0  # bool, one byte each
    return Saved(tensors=step.inputs[:2],
                 extra_bytes=(heads_bytes + probs + context) * itemsize + mask)


def _family(keep: Keep, *names: str) -> dict[str, Keep]:
    return {n: keep for n in names}


#: Keras layer class -> what its backward keeps. Adding a family: one function, one line.
KEEPS: dict[str, Keep] = {
    **_family(linear, "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose",
              "Conv3DTranspose", "DepthwiseConv1D", "DepthwiseConv2D", "Dense", "EinsumDense"),
    **_family(separable, "SeparableConv1D", "SeparableConv2D"),
    **_family(batch_norm, "BatchNormalization"),
    **_family(layer_norm, "LayerNormalization"),
    **_family(relu_layer, "ReLU"),
    **_family(activation, "Activation"),
    **_family(max_pool, "MaxPooling1D", "MaxPooling2D", "MaxPooling3D"),
    **_family(inputs, "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
              "Multiply"),
    **_family(dropout, "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"),
    **_family(nothing, "InputLayer", "Add", "Subtract", "Average", "Concatenate", "Reshape",
              "Flatten", "Permute", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D",
              "Cropping1D", "Cropping2D", "Cropping3D", "GlobalAveragePooling1D",
              "GlobalAveragePooling2D", "GlobalAveragePooling3D", "Rescaling",
              "Normalization", "Identity"),
    **_family(lstm, "LSTM"),
    **_family(gru, "GRU"),
    **_family(simple_rnn, "SimpleRNN"),
    **_family(multi_head_attention, "MultiHeadAttention"),
}


def keep_of(step: Step) -> Saved:
    return KEEPS.get(step.op, outputs)(step)


# --------------------------------------------------------------------------- totals

def _roots(steps: Sequence[Step]) -> dict[str, str]:
    """Tensor id -> the buffer it lives in (an aliasing op's output is its input's)."""
    root: dict[str, str] = {}
    for st in steps:
        if st.alias and st.inputs and st.outputs:
            root[st.outputs[0]] = root.get(st.inputs[0], st.inputs[0])
    return root


def _saved_map(steps: Sequence[Step], graph_inputs: Sequence[str]
               ) -> tuple[dict[str, str], dict[str, int], list[int]]:
    """Buffer roots; each kept buffer -> the first step whose backward reads it (the
    backward runs in reverse, so it is freed after that step's backward; graph inputs: -1,
    held by the caller); each step's hidden bytes."""
    root = _roots(steps)
    first: dict[str, int] = {root.get(t, t): -1 for t in graph_inputs}
    extra = []
    for i, st in enumerate(steps):
        s = keep_of(st)
        for t in s.tensors:
            if t:
                first.setdefault(root.get(t, t), i)
        extra.append(s.extra_bytes)
    return root, first, extra


def saved_bytes(steps: Sequence[Step], sizes: Mapping[str, int],
                graph_inputs: Sequence[str]) -> int:
    """Bytes kept for the backward pass: every tensor some gradient reads, once, plus each
    step's hidden tensors, plus the graph inputs. ``sizes``: buffer id -> bytes."""
    _, first, extra = _saved_map(steps, graph_inputs)
    return sum(sizes.get(t, 0) for t in first) + sum(extra)


def backward_transient_bytes(steps: Sequence[Step], sizes: Mapping[str, int],
                             graph_inputs: Sequence[str]) -> int:
    """What the backward pass holds above the kept tensors at its highest point.

    The backward runs the steps in reverse. While step k's backward runs, alive are: the
    kept tensors some step at or before k still reads (autograd frees a saved tensor with
    the last backward node holding it), the hidden tensors of steps at or before k, and the
    gradient of every activation t with producer(t) <= k <= last reader(t) (created by its
    last reader's backward, accumulated over its other readers, freed after its producer's).
    Graph inputs get no gradient. Returns that highest total minus the kept bytes (>= 0)."""
    root, first, extra = _saved_map(steps, graph_inputs)
    n = len(steps)
    no_grad = {root.get(t, t) for t in graph_inputs}
    producer: dict[str, int] = {}
    last_reader: dict[str, int] = {}
    for i, st in enumerate(steps):
        if st.alias:
            continue
        for t in st.outputs:
            if t and root.get(t, t) not in no_grad:
                producer.setdefault(root.get(t, t), i)
        for t in st.inputs:
            if t and root.get(t, t) not in no_grad:
                last_reader[root.get(t, t)] = i
    delta = [0] * (n + 2)  # kept bytes that become alive at step k (and stay for k' > k)
    for t, i in first.items():  # alive during the backward of every step k >= i
        delta[max(i, 0)] += sizes.get(t, 0)
    for i, e in enumerate(extra):
        delta[i] += e
    grads = [0] * (n + 2)
    for t, p in producer.items():
        end = max(last_reader.get(t, p), p)  # an output nothing reads: the loss's gradient
        grads[p] += sizes.get(t, 0)
        grads[end + 1] -= sizes.get(t, 0)
    kept_total = sum(sizes.get(t, 0) for t in first) + sum(extra)
    best, kept, grad = 0, 0, 0
    for k in range(n):
        kept += delta[k]
        grad += grads[k]
        best = max(best, kept + grad)
    return max(0, best - kept_total)
