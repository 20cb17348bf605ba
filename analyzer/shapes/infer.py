"""Re-infer every tensor's shape at the input the user states.

Walks the graph once in its (topological) order. A format's own engine (``graph.shape_oracle``)
goes first when there is one; the registry's rules fill in the rest. A node without a rule,
or whose rule rejects its inputs, is recorded, never raised: everything it does not feed is
still analysed, and what it feeds is marked unknown.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

from ..ir import Graph, Node, ReaderFinding, Shape
from .registry import RuleCall, RuleResult, ShapeError, WeightNeed, lookup

#: What a rule may raise on a config no Keras wrote (zero strides, a string for units...):
#: the node is rejected, the run goes on.
MALFORMED_CONFIG = (ZeroDivisionError, TypeError, ValueError, KeyError, IndexError,
                    AttributeError, OverflowError)

#: Node status values.
OK, FROM_ORACLE, NO_RULE, UNKNOWN_INPUT, REJECTED = (
    "ok", "oracle", "no-rule", "unknown-input", "rejected")
#: The format's own engine (ONNX) could not shape the node's outputs; its oracle lists them.
UNSHAPED = "unshaped"


@dataclass
class NodeInference:
    node: Node
    outputs: list[Optional[Shape]]
    #: Weights the node needs at this input; None when unknown (no rule, unknown input).
    needed: Optional[list[WeightNeed]]
    status: str = OK
    message: str = ""
    #: The nested model's own inference, for a node with a subgraph.
    inner: Optional["GraphInference"] = None
    #: Outputs where the format's engine and the node's rule gave different shapes (the
    #: engine's kept): (tensor id, engine's shape, rule's shape).
    disagreements: tuple = ()


@dataclass
class GraphInference:
    graph: Graph
    input_shapes: Mapping[str, Shape]
    tensors: dict[str, Optional[Shape]]
    nodes: list[NodeInference]
    findings: list[ReaderFinding] = field(default_factory=list)


def infer(graph: Graph, input_shapes: Mapping[str, Shape]) -> GraphInference:
    tensors: dict[str, Optional[Shape]] = {}
    findings: list[ReaderFinding] = []
    if graph.shape_oracle is not None:
        known, oracle_findings = graph.shape_oracle(input_shapes)
        tensors.update(known)
        findings.extend(oracle_findings)
    for spec in graph.inputs:
        tensors[spec.name] = input_shapes.get(spec.name, spec.shape)
    results = []
    for node in graph.nodes:
        result = _infer_node(node, tensors, input_shapes, graph.rule_prefix)
        for tid, shape in zip(node.outputs, result.outputs):
            if tensors.get(tid) is None:
                tensors[tid] = shape
        results.append(result)
    findings.extend(_disagreement_finding(results))
    return GraphInference(graph=graph, input_shapes=input_shapes, tensors=tensors,
                          nodes=results, findings=findings)


#: How many disagreeing tensors the finding lists (its count says how many there are).
LISTED = 20


def _disagreement_finding(results: list[NodeInference]) -> list[ReaderFinding]:
    """One ``rule-engine-disagree`` finding for every output whose engine shape overrode a
    different rule shape: silent before, yet one of the two is wrong."""
    rows = [(r.node.layer, tid, e, o) for r in results for tid, e, o in r.disagreements]
    if not rows:
        return []
    listed = "; ".join(f"{layer} {tid}: engine {list(e)}, rule {list(o)}"
                       for layer, tid, e, o in rows[:LISTED])
    return [ReaderFinding(
        "rule-engine-disagree", "warning", rows[0][0],
        f"the shape engine and memscan's rules disagree on {len(rows)} tensors (the engine's "
        f"shape is used): {listed}{' ...' if len(rows) > LISTED else ''}",
        {"tensors": [{"layer": layer, "tensor": tid, "engine": list(e), "rule": list(o)}
                     for layer, tid, e, o in rows[:LISTED]], "count": len(rows)})]


def _infer_node(node: Node, tensors: Mapping[str, Optional[Shape]],
                input_shapes: Mapping[str, Shape], prefix: str = "") -> NodeInference:
    if node.op == "InputLayer" and not node.inputs:
        shape = input_shapes.get(node.outputs[0], tensors.get(node.outputs[0]))
        return NodeInference(node, [shape], [], OK)
    ins = [tensors.get(t) for t in node.inputs]
    known_outs = [tensors.get(t) for t in node.outputs]
    if node.subgraph is not None:
        return _infer_nested(node, ins)
    rule = lookup(prefix + node.op)
    if rule is None:
        if node.outputs and all(s is not None for s in known_outs):
            return NodeInference(node, known_outs, None, FROM_ORACLE)
        if prefix:
            return NodeInference(node, known_outs, None, UNSHAPED,
                                 "the shape engines left an output unshaped")
        return NodeInference(node, [None] * len(node.outputs), None, NO_RULE,
                             f"no shape rule for {node.op}")
    if any(s is None for s in ins):
        if node.outputs and all(s is not None for s in known_outs):
            return NodeInference(node, known_outs, None, FROM_ORACLE)
        if prefix:
            return NodeInference(node, known_outs, None, UNSHAPED,
                                 "the shape engines left an input or output unshaped")
        return NodeInference(node, [None] * len(node.outputs), None, UNKNOWN_INPUT,
                             "an input's shape is unknown")
    try:
        result: RuleResult = rule(RuleCall(node, ins))  # type: ignore[arg-type]
        outputs = [_checked(s) for s in result.outputs]
    except ShapeError as exc:
        return NodeInference(node, [None] * len(node.outputs), None, REJECTED, str(exc))
    except MALFORMED_CONFIG as exc:  # a hostile or broken config (strides 0, units "x")
        return NodeInference(node, [None] * len(node.outputs), None, REJECTED,
                             f"its config is malformed ({type(exc).__name__}: "
                             f"{str(exc)[:120]})")
    needed = None if result.weights_unknown else list(result.weights)
    # The oracle's answer wins for a tensor it shaped; the rule fills the rest.
    merged = [k if k is not None else o for k, o in zip(known_outs, outputs)]
    merged += outputs[len(merged):]
    differ = tuple((tid, k, o) for tid, k, o in zip(node.outputs, known_outs, outputs)
                   if k is not None and o is not None and not _compatible(k, o))
    return NodeInference(node, merged, needed, OK, disagreements=differ)


def _infer_nested(node: Node, ins: list[Optional[Shape]]) -> NodeInference:
    sub = node.subgraph
    assert sub is not None
    if len(ins) != len(sub.inputs):
        return NodeInference(node, [None] * len(node.outputs), None, REJECTED,
                             f"nested model takes {len(sub.inputs)} inputs, called with {len(ins)}")
    if any(s is None for s in ins):
        return NodeInference(node, [None] * len(node.outputs), None, UNKNOWN_INPUT,
                             "an input's shape is unknown")
    inner = infer(sub, {spec.name: s for spec, s in zip(sub.inputs, ins)})  # type: ignore[misc]
    outputs = [inner.tensors.get(t) for t in sub.outputs]
    status = OK if all(s is not None for s in outputs) else UNKNOWN_INPUT
    return NodeInference(node, outputs, None, status, inner=inner)


def _compatible(a: Shape, b: Shape) -> bool:
    """Same rank and no dim where both are known and differ."""
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


def _checked(shape: Optional[Shape]) -> Optional[Shape]:
    if shape is None:
        return None
    for d in shape:
        if d is not None and (not isinstance(d, int) or d < 0):
            raise ShapeError(f"dimension {d} in output shape {shape} is not valid")
    return tuple(shape)
