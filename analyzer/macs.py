"""Compute beside memory: multiply-accumulates (MACs) per node, from shapes already inferred.

One convention for every format (docs/macs.md):

- a multiply-add is 1 MAC; an op that multiplies without accumulating counts 0;
- convolution: output elements × kernel volume × input channels / groups;
- depthwise convolution: output elements × kernel volume (one input channel per output);
- transposed convolution: input elements × kernel volume × output channels / groups;
- dense / MatMul / Gemm / batched matmul / Einsum: output elements × contracted size
  (for Einsum: the product of every index's size);
- attention: the projections plus Q·Kᵀ (Tq × Tk × key dim) and scores·V (Tq × Tk × value dim)
  per head and batch item;
- recurrent cells: per timestep and batch item, gates × units × (features + units) (the gate
  matmuls), × steps;
- everything else (elementwise, normalization, pooling, resize, softmax...) counts 0.

A registry of small functions keyed by (dialect, op), like the shape rules. A function returns
an exact Python int, or None when a shape it needs is unknown (the total then says "at least").
Formats only reach this module through the IR: a dialect is the vocabulary of op names.
"""
from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence

from .ir import Graph, Node, Shape
from .shapes.infer import GraphInference

Dim = Optional[int]


class Unknown(Exception):
    """A shape or attribute the count needs is not known."""


@dataclass(frozen=True)
class MacCall:
    """One node's op, config, and the shapes of its inputs, outputs and constant tensors."""

    node: Node
    inputs: Sequence[Optional[Shape]]
    outputs: Sequence[Optional[Shape]]
    #: Shape of any tensor id the node may name (activations and weights alike).
    shape_of: Callable[[str], Optional[Shape]]

    @property
    def cfg(self) -> Mapping[str, Any]:
        return self.node.config if isinstance(self.node.config, Mapping) else {}

    def input(self, i: int = 0) -> tuple[int, ...]:
        if i >= len(self.inputs):
            raise Unknown(f"input {i} is missing")
        return known(self.inputs[i])

    def output(self, i: int = 0) -> tuple[int, ...]:
        if i >= len(self.outputs):
            raise Unknown(f"output {i} is missing")
        return known(self.outputs[i])

    def tensor(self, i: int) -> tuple[int, ...]:
        """Shape of the node's ``i``-th input tensor, weight or activation."""
        if i >= len(self.node.inputs):
            raise Unknown(f"input {i} is missing")
        return known(self.shape_of(self.node.inputs[i]))


def known(shape: Optional[Shape]) -> tuple[int, ...]:
    if shape is None or any(not isinstance(d, int) for d in shape):
        raise Unknown("a shape is unknown")
    return tuple(shape)  # type: ignore[arg-type]


def elements(shape: Optional[Shape]) -> int:
    return math.prod(known(shape))


MacFn = Callable[[MacCall], int]
MACS: dict[tuple[str, str], MacFn] = {}


def macs_of(dialect: str, *ops: str) -> Callable[[MacFn], MacFn]:
    """Register ``fn`` as the MAC count of every op in ``ops`` of ``dialect``."""

    def register(fn: MacFn) -> MacFn:
        for op in ops:
            if (dialect, op) in MACS:
                raise ValueError(f"two MAC counts for {dialect} {op}")
            MACS[(dialect, op)] = fn
        return fn

    return register


def dialect_of(graph: Graph) -> str:
    """The graph's op vocabulary (TF graphs: rows of fused "tf." ops, none registered here)."""
    return graph.dialect


def node_macs(dialect: str, call: MacCall) -> Optional[int]:
    """MACs of one node: 0 for ops that count none, None when a needed shape is unknown."""
    _load_modules()
    fn = MACS.get((dialect, call.node.op))
    if fn is None:
        return 0
    try:
        return int(fn(call))
    except Unknown:
        return None
    except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError, AttributeError):
        return None  # a malformed config (the shape rules report it); no guess


def macs_by_layer(inference: GraphInference) -> dict[str, Optional[int]]:
    """MACs per report row (a Keras layer called twice: both calls), nested models summed.
    None for a row where a node that does multiply-adds has an unknown shape."""
    dialect = dialect_of(inference.graph)
    shapes = _shape_table(inference)
    out: dict[str, Optional[int]] = {}
    for res in inference.nodes:
        if res.inner is not None:
            inner = macs_by_layer(res.inner).values()
            n: Optional[int] = None if None in inner else sum(v for v in inner if v is not None)
        else:
            ins = [shapes(t) for t in res.node.inputs]
            n = node_macs(dialect, MacCall(res.node, ins, res.outputs, shapes))
        prev = out.get(res.node.layer, 0)
        out[res.node.layer] = None if prev is None or n is None else prev + n
    return out


def _shape_table(inference: GraphInference) -> Callable[[str], Optional[Shape]]:
    weights: dict[str, Shape] = {w.name: w.shape for n in inference.graph.nodes
                                 for w in n.weights}
    weights.update({w.name: w.shape for w in inference.graph.loose_weights})

    def shape_of(tid: str) -> Optional[Shape]:
        s = inference.tensors.get(tid)
        return s if s is not None else weights.get(tid)

    return shape_of


_LOADED = False


#: The per-dialect count modules, loaded by name (they import this module: no cycle).
MODULES = ("macs_keras", "macs_onnx", "macs_tflite")


def _load_modules() -> None:
    global _LOADED
    if not _LOADED:
        for name in MODULES:
            importlib.import_module(f"{__package__}.{name}")
        _LOADED = True


# ----------------------------------------------------------------- shared counts

def einsum_macs(equation: str, operands: Sequence[tuple[int, ...]],
                output: tuple[int, ...]) -> int:
    """Product of every index's size (each output element sums over the contracted ones)."""
    lhs, _, rhs = equation.replace(" ", "").partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise Unknown("einsum operand count does not match")
    sizes: dict[str, int] = {}
    ellipsis = 1
    for term, shape in list(zip(terms, operands)) + [(rhs, output)]:
        if "..." in term:
            head, tail = term.split("...")
            rest = shape[len(head):len(shape) - len(tail)]
            ellipsis = max(ellipsis, math.prod(rest))
            term = head + tail
            shape = shape[:len(head)] + shape[len(shape) - len(tail):]
        if len(term) != len(shape):
            raise Unknown("einsum term rank does not match")
        for letter, d in zip(term, shape):
            sizes[letter] = max(sizes.get(letter, 1), d)
    return ellipsis * math.prod(sizes.values())


def attention_macs(batch: int, heads: int, tq: int, tk: int, key_dim: int,
                   value_dim: int) -> int:
    """Q·Kᵀ and scores·V for every head and batch item (projections counted apart)."""
    return batch * heads * tq * tk * (key_dim + value_dim)


def recurrent_macs(batch: int, steps: int, gates: int, units: int, features: int) -> int:
    """The gate matmuls of ``steps`` timesteps: input and recurrent kernels."""
    return batch * steps * gates * units * (features + units)
