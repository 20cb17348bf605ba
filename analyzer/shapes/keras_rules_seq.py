"""Shape rules for Keras sequence layers: recurrent layers (Keras 2.0 to Keras 3 spellings,
CuDNN variants), Bidirectional and TimeDistributed wrappers, attention layers.

Wrappers call the wrapped layer's own rule on a derived node, so TimeDistributed(Conv2D) or
Bidirectional(GRU) work for any layer the registry knows.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional

from ..ir import Node, Shape
from .registry import RuleCall, RuleResult, ShapeError, WeightNeed, lookup, rule

Dim = Optional[int]

#: gates per cell: kernel and recurrent kernel are (in, gates·units), (units, gates·units).
_GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3, "CuDNNLSTM": 4, "CuDNNGRU": 3,
          "LSTMV1": 4, "GRUV1": 3, "UnifiedLSTM": 4, "UnifiedGRU": 3}
#: number of state tensors a return_state call adds.
_STATES = {"SimpleRNN": 1, "LSTM": 2, "GRU": 1, "CuDNNLSTM": 2, "CuDNNGRU": 1,
           "LSTMV1": 2, "GRUV1": 1, "UnifiedLSTM": 2, "UnifiedGRU": 1}


def _units(cfg: Mapping[str, Any]) -> int:
    units = cfg.get("units", cfg.get("output_dim"))  # Keras 1/2.0 spelled it output_dim
    if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
        raise ShapeError(f"recurrent units {units!r} is not a positive integer")
    return units


def _rnn_weights(op: str, cfg: Mapping[str, Any], features: int, units: int) -> list[WeightNeed]:
    gates = _GATES[op]
    weights = [WeightNeed("kernel", (features, gates * units)),
               WeightNeed("recurrent_kernel", (units, gates * units))]
    if op.startswith("CuDNN"):  # cuDNN keeps separate input and recurrent biases
        return weights + [WeightNeed("bias", (2 * gates * units,))]
    if not cfg.get("use_bias", True):
        return weights
    if gates == 3 and cfg.get("reset_after", False):  # absent before Keras 2.1.5: False
        return weights + [WeightNeed("bias", (2, gates * units))]
    return weights + [WeightNeed("bias", (gates * units,))]


@rule("SimpleRNN", "LSTM", "GRU", "CuDNNLSTM", "CuDNNGRU", "LSTMV1", "GRUV1", "UnifiedLSTM",
      "UnifiedGRU")
def recurrent(call: RuleCall) -> RuleResult:
    x = call.x
    cfg = call.cfg
    if len(x) != 3:
        raise ShapeError(f"{call.node.op} expects an input of rank 3 (batch, steps, features), "
                         f"got {x}")
    units = _units(cfg)
    time_major = bool(cfg.get("time_major", False))  # Keras 2 only
    steps, batch = (x[0], x[1]) if time_major else (x[1], x[0])
    features = x[2]
    if features is None:
        raise ShapeError(f"{call.node.op} needs its input's feature dim known")
    if cfg.get("return_sequences", False):
        out: Shape = (steps, batch, units) if time_major else (batch, steps, units)
    else:
        out = (batch, units)
    outputs: list[Optional[Shape]] = [out]
    if cfg.get("return_state", False):
        outputs += [(batch, units)] * _STATES[call.node.op]
    return RuleResult(outputs, _rnn_weights(call.node.op, cfg, features, units))


# --------------------------------------------------------------------------- wrappers

def _inner_node(call: RuleCall, spec: Any, suffix: str) -> Node:
    if not isinstance(spec, Mapping) or not isinstance(spec.get("class_name"), str):
        raise ShapeError(f"{call.node.op} wraps no layer config")
    cfg = spec.get("config", {})
    if not isinstance(cfg, Mapping):
        raise ShapeError(f"{call.node.op}'s wrapped layer config is not an object")
    return dataclasses.replace(call.node, name=f"{call.node.name}/{suffix}",
                               op=spec["class_name"], config=cfg, weights=(), subgraph=None)


def _run(node: Node, inputs: list[Shape]) -> RuleResult:
    fn = lookup(node.op)
    if fn is None:
        raise ShapeError(f"no shape rule for the wrapped layer {node.op}")
    result = fn(RuleCall(node, inputs))
    if result.weights_unknown:
        raise ShapeError(f"the wrapped layer {node.op}'s weights are unknown")
    return result


@rule("Bidirectional")
def bidirectional(call: RuleCall) -> RuleResult:
    cfg = call.cfg
    fwd = _inner_node(call, cfg.get("layer"), "forward")
    bwd_spec = cfg.get("backward_layer")
    bwd = _inner_node(call, bwd_spec, "backward") if bwd_spec else fwd
    f = _run(fwd, [call.x])
    b = _run(bwd, [call.x])
    mode = cfg.get("merge_mode", "concat")
    fo, bo = f.outputs[0], b.outputs[0]
    if fo is None or bo is None:
        raise ShapeError("Bidirectional: the wrapped layer's output is unknown")
    if mode == "concat":
        last = None if fo[-1] is None or bo[-1] is None else fo[-1] + bo[-1]
        merged: list[Optional[Shape]] = [(*fo[:-1], last)]
    elif mode in ("sum", "mul", "ave"):
        merged = [fo]
    elif mode is None:
        merged = [fo, bo]
    else:
        raise ShapeError(f"Bidirectional merge_mode {mode!r} is not concat, sum, mul, ave or None")
    states = f.outputs[1:] + b.outputs[1:]
    return RuleResult(merged + states, list(f.weights) + list(b.weights))


@rule("TimeDistributed")
def time_distributed(call: RuleCall) -> RuleResult:
    x = call.x
    if len(x) < 3:
        raise ShapeError(f"TimeDistributed expects an input of rank 3 or more, got {x}")
    inner = _inner_node(call, call.cfg.get("layer"), "inner")
    result = _run(inner, [(x[0], *x[2:])])
    outs = [None if s is None else (s[0], x[1], *s[1:]) for s in result.outputs]
    return RuleResult(outs, list(result.weights))


# --------------------------------------------------------------------------- attention

def _int_or_none(value: Any, what: str) -> Optional[int]:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ShapeError(f"{what} {value!r} is not a positive integer")
    return value


@rule("MultiHeadAttention")
def multi_head_attention(call: RuleCall) -> RuleResult:
    cfg = call.cfg
    ins = call.inputs
    if len(ins) < 2:
        raise ShapeError("MultiHeadAttention needs query and value inputs")
    query, value = ins[0], ins[1]
    key = ins[2] if len(ins) > 2 and len(ins[2]) == len(value) else value
    heads = _int_or_none(cfg.get("num_heads"), "num_heads")
    key_dim = _int_or_none(cfg.get("key_dim"), "key_dim")
    if heads is None or key_dim is None:
        raise ShapeError("MultiHeadAttention needs num_heads and key_dim")
    value_dim = _int_or_none(cfg.get("value_dim"), "value_dim") or key_dim
    qd, kd, vd = query[-1], key[-1], value[-1]
    if qd is None or kd is None or vd is None:
        raise ShapeError("MultiHeadAttention needs the inputs' last dims known")
    raw_out = cfg.get("output_shape")
    if raw_out is None:
        out_dims: tuple[int, ...] = (qd,)
    elif isinstance(raw_out, int):
        out_dims = (raw_out,)
    elif isinstance(raw_out, (list, tuple)) and all(isinstance(d, int) for d in raw_out):
        out_dims = tuple(raw_out)
    else:
        raise ShapeError(f"MultiHeadAttention output_shape {raw_out!r} is not valid")
    bias = cfg.get("use_bias", True)

    def proj(name: str, din: int, dout: int) -> list[WeightNeed]:
        w = [WeightNeed(f"{name}/kernel", (din, heads, dout))]
        return w + ([WeightNeed(f"{name}/bias", (heads, dout))] if bias else [])

    weights = (proj("query", qd, key_dim) + proj("key", kd, key_dim) + proj("value", vd, value_dim)
               + [WeightNeed("attention_output/kernel", (heads, value_dim, *out_dims))]
               + ([WeightNeed("attention_output/bias", out_dims)] if bias else []))
    outputs: list[Optional[Shape]] = [(*query[:-1], *out_dims)]
    if len(call.node.outputs) > 1:  # return_attention_scores=True (a call argument)
        outputs.append((query[0], heads, *query[1:-1], *value[1:-1]))
    return RuleResult(outputs, weights)


@rule("Attention", "AdditiveAttention")
def attention(call: RuleCall) -> RuleResult:
    ins = call.inputs
    if len(ins) < 2:
        raise ShapeError(f"{call.node.op} needs query and value inputs")
    query, value = ins[0], ins[1]
    weights: list[WeightNeed] = []
    if call.node.op == "AdditiveAttention":
        if call.cfg.get("use_scale", True):
            weights.append(WeightNeed("scale", (query[-1],)))  # type: ignore[arg-type]
    else:
        if call.cfg.get("use_scale", False):
            weights.append(WeightNeed("scale", ()))
        if call.cfg.get("score_mode", "dot") == "concat":
            weights.append(WeightNeed("concat_score_weight", ()))
    outputs: list[Optional[Shape]] = [(*query[:-1], value[-1])]
    if len(call.node.outputs) > 1:
        outputs.append((query[0], query[1], value[1]))
    return RuleResult(outputs, weights)
