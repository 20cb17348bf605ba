"""Which node outputs are not feature maps: data computed from the file's stored tensors alone.

The definition of a param (README "What counts as a param", docs/corpus.md) needs it:
- a node whose every input is stored data (a weight, index data, a Constant node's value)
  or the output of such a node computes **generated weights** at run time, never from the
  model's inputs: a DequantizeLinear (or a Cast, Mul... chain) of a stored int8 weight, a
  ConstantOfShape/Range from constants. Its outputs are not feature maps;
- of those, the ones computed from a quantized (small-integer) stored weight are
  **dequantized weights**: the float weights the runtime materializes;
- a constant-producing node with no input (ONNX ``Constant`` left in the graph because its
  value is index data: shape vectors, axes) holds **index data**;
- a DequantizeLinear of a QuantizeLinear's output (the QDQ pair a quantizer puts around an
  activation) **restates** the activation the pair quantized: runtimes fuse the pair into
  the quantized op, so it is not a feature map of its own (the quantized copy is).
Graph inputs are never stored data, so no Keras layer is ever any of these.
"""
from __future__ import annotations

from dataclasses import dataclass

from .ir import Graph, Node

#: Ops that produce a stored value and take no input (ONNX's Constant kept as a node).
CONSTANT_OPS = frozenset({"Constant"})
#: Stored dtypes of quantized weights.
QUANTIZED_DTYPES = frozenset({"int8", "uint8", "int16", "uint16", "int4", "uint4"})
#: (quantize op, dequantize op) pairs around an activation in QDQ models.
QDQ_PAIRS = {"DequantizeLinear": "QuantizeLinear"}


@dataclass(frozen=True)
class StoredData:
    """Tensor ids by kind; a node output in none of them is a feature map."""

    generated: frozenset[str] = frozenset()
    dequantized: frozenset[str] = frozenset()
    index: frozenset[str] = frozenset()
    restated: frozenset[str] = frozenset()

    def kind(self, node: Node) -> str:
        """"index", "dequantized", "generated", "restated" or "activation" for a node's
        outputs."""
        outs = [o for o in node.outputs if o]
        if not outs:
            return "activation"
        for kind, tensors in (("index", self.index), ("dequantized", self.dequantized),
                              ("generated", self.generated), ("restated", self.restated)):
            if all(o in tensors for o in outs):
                return kind
        return "activation"


def stored_data(graph: Graph) -> StoredData:
    """Walk the nodes once, in order: outputs computed only from stored data."""
    weights = {w.name: w for n in graph.nodes for w in n.weights}
    weights.update({w.name: w for w in graph.index_data})
    inputs = {s.name for s in graph.inputs}
    index: set[str] = set()
    generated: set[str] = set()
    dequantized: set[str] = set()
    restated: set[str] = set()
    quantized_by: dict[str, str] = {}  # tensor -> op that produced it
    for node in graph.nodes:
        for o in node.outputs:
            quantized_by[o] = node.op
        pair = QDQ_PAIRS.get(node.op)
        if pair and node.inputs and quantized_by.get(node.inputs[0]) == pair:
            restated.update(o for o in node.outputs if o)
            continue
        ins = [i for i in node.inputs if i]
        if node.subgraph is not None or any(i in inputs for i in ins):
            continue
        outs = [o for o in node.outputs if o]
        if not ins:
            if node.op in CONSTANT_OPS:
                index.update(outs)
            continue
        if not all(i in weights or i in index or i in generated for i in ins):
            continue
        generated.update(outs)
        if node.op in QDQ_PAIRS or any(
                i in dequantized or (i in weights and weights[i].dtype in QUANTIZED_DTYPES)
                for i in ins):
            dequantized.update(outs)
    return StoredData(frozenset(generated - dequantized), frozenset(dequantized),
                      frozenset(index), frozenset(restated))
