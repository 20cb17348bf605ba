"""Re-infer every tensor's shape at the input the user states.

Walks the graph in its (topological) order. The dialect's shape engine
(``engines.run_engine``: ONNX, TF graphs) goes first when there is one; the rules of the
graph's dialect (``ops``) fill in the rest. When the rules shaped an op the engine does not
know (a com.microsoft DynamicQuantizeLSTM) while tensors are still unshaped, the engine
runs again with those shapes stated, and the rules walk again, until nothing new is shaped
(a fixpoint; a model the engine shapes whole runs it once). A node without a rule,
or whose rule rejects its inputs, is recorded, never raised: everything it does not feed is
still analysed, and what it feeds is marked unknown.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

from ..findings import Code, ShapeStatus
from ..ir import Graph, Node, ReaderFinding, Shape
from .engines import run_engine, shapes_every_op, takes_stated
from .ops import lookup
from .registry import RuleCall, RuleResult, ShapeError, WeightNeed

#: What a rule may raise on a config no Keras wrote (zero strides, a string for units...):
#: the node is rejected, the run goes on.
MALFORMED_CONFIG = (ZeroDivisionError, TypeError, ValueError, KeyError, IndexError,
                    AttributeError, OverflowError)

#: Node status values (analyzer/findings.py ShapeStatus). UNSHAPED: the format's own engine
#: (ONNX) could not shape the node's outputs; its oracle lists them.
OK, FROM_ORACLE, NO_RULE, UNKNOWN_INPUT, REJECTED, UNSHAPED = (
    ShapeStatus.OK, ShapeStatus.FROM_ENGINE, ShapeStatus.NO_RULE, ShapeStatus.UNKNOWN_INPUT,
    ShapeStatus.REJECTED, ShapeStatus.UNSHAPED)


@dataclass
class NodeInference:
    node: Node
    outputs: list[Optional[Shape]]
    #: Weights the node needs at this input; None when unknown (no rule, unknown input).
    needed: Optional[list[WeightNeed]]
    status: ShapeStatus = OK
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


#: Engine reruns at most with the shapes the rules found: each one follows at least one more
#: rule-shaped op of a chain (voicefilter-lite's 3 stacked DynamicQuantizeLSTMs take 3).
MAX_ENGINE_ROUNDS = 8


def infer(graph: Graph, input_shapes: Mapping[str, Shape]) -> GraphInference:
    known, findings = run_engine(graph, input_shapes)
    tensors, results = _walk(graph, input_shapes, known)
    stated: dict[str, Shape] = {}
    for _ in range(MAX_ENGINE_ROUNDS if takes_stated(graph.dialect) else 0):
        ruled = _ruled(results, known)
        if not ruled or not _unshaped_left(results):
            break
        stated.update(ruled)
        again, again_findings = run_engine(graph, input_shapes, stated)
        if not [t for t in again if t not in known and t not in stated]:
            break
        known, findings = again, again_findings
        tensors, results = _walk(graph, input_shapes, known)
    findings = [_still_unshaped(f, tensors) for f in findings]
    findings.extend(_disagreement_finding(results))
    return GraphInference(graph=graph, input_shapes=input_shapes, tensors=tensors,
                          nodes=results, findings=[f for f in findings if f])


def _walk(graph: Graph, input_shapes: Mapping[str, Shape], known: Mapping[str, Shape]
          ) -> tuple[dict[str, Optional[Shape]], list[NodeInference]]:
    """One pass of the rules over the nodes, on top of the engine's shapes ``known``."""
    tensors: dict[str, Optional[Shape]] = dict(graph.given_shapes)
    tensors.update(known)
    for spec in graph.inputs:
        tensors[spec.name] = input_shapes.get(spec.name, spec.shape)
    results = []
    engine_only = shapes_every_op(graph.dialect)
    for node in graph.nodes:
        result = _infer_node(node, tensors, input_shapes, graph.dialect, engine_only)
        for tid, shape in zip(node.outputs, result.outputs):
            if tensors.get(tid) is None:
                tensors[tid] = shape
        results.append(result)
    return tensors, results


def _ruled(results: list[NodeInference], known: Mapping[str, Shape]) -> dict[str, Shape]:
    """Fully known shapes the rules gave to tensors the engine left unshaped."""
    return {t: s for r in results for t, s in zip(r.node.outputs, r.outputs)
            if t and t not in known and s is not None and all(d is not None for d in s)}


def _unshaped_left(results: list[NodeInference]) -> bool:
    return any(t and s is None for r in results for t, s in zip(r.node.outputs, r.outputs))


def _still_unshaped(finding: ReaderFinding, tensors: Mapping[str, Optional[Shape]]
                    ) -> Optional[ReaderFinding]:
    """The engines' "unshaped-tensors" finding, less the tensors a rule shaped since (None
    when no tensor is left)."""
    if finding.code != "unshaped-tensors":
        return finding
    left = [t for t in finding.extra.get("tensors", []) if tensors.get(t) is None]
    if not left:
        return None
    before = finding.extra.get("count", len(left))
    count = before - (len(finding.extra.get("tensors", [])) - len(left))
    return ReaderFinding(finding.code, finding.severity, finding.layer,
                         f"{count} tensors could not be shaped by either engine at this input "
                         f"(their bytes are left out, never guessed): {', '.join(left)}"
                         + (" ..." if count > len(left) else ""),
                         {**finding.extra, "count": count, "tensors": left})


def _activation_unknown(node: Node, ins: list[Optional[Shape]]) -> bool:
    """An input the rule needs is unshaped. Weights and omitted optional inputs (ONNX's ""
    names) have no activation shape; a rule reads weights from ``node.weights``."""
    held = {w.name for w in node.weights}
    return any(s is None for t, s in zip(node.inputs, ins) if t and t not in held)


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
        Code.RULE_ENGINE_DISAGREE, Code.RULE_ENGINE_DISAGREE.severity, rows[0][0],
        f"the shape engine and memscan's rules disagree on {len(rows)} tensors (the engine's "
        f"shape is used): {listed}{' ...' if len(rows) > LISTED else ''}",
        {"tensors": [{"layer": layer, "tensor": tid, "engine": list(e), "rule": list(o)}
                     for layer, tid, e, o in rows[:LISTED]], "count": len(rows)})]


def _infer_node(node: Node, tensors: Mapping[str, Optional[Shape]],
                input_shapes: Mapping[str, Shape], dialect: str = "keras",
                engine_only: bool = False) -> NodeInference:
    if node.op == "InputLayer" and not node.inputs:
        shape = input_shapes.get(node.outputs[0], tensors.get(node.outputs[0]))
        return NodeInference(node, [shape], [], OK)
    ins = [tensors.get(t) for t in node.inputs]
    known_outs = [tensors.get(t) for t in node.outputs]
    if node.subgraph is not None:
        return _infer_nested(node, ins)
    rule = lookup(node.op, dialect)
    if rule is None:
        if node.outputs and all(s is not None for s in known_outs):
            return NodeInference(node, known_outs, None, FROM_ORACLE)
        if engine_only:
            return NodeInference(node, known_outs, None, UNSHAPED,
                                 "the shape engines left an output unshaped")
        return NodeInference(node, [None] * len(node.outputs), None, NO_RULE,
                             f"no shape rule for {node.op}")
    if _activation_unknown(node, ins):
        if node.outputs and all(s is not None for s in known_outs):
            return NodeInference(node, known_outs, None, FROM_ORACLE)
        if engine_only:
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
