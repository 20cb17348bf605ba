"""If nodes, resolved for the shape engines on their private copy of the model.

Neither engine shapes what an If yields when the branches' shapes are not known in advance:
onnx merges the two branches' output types, and a branch that itself holds shape tests
(``If(Equal(Shape(x)[1], 512))``, as PyTorch exports write them) stays unshaped. Once the input
shapes are stated, two cases are decidable:

- the condition's *value* is computable from constants and shapes (``onnx_values.propagate``):
  only one branch can run, so the If is replaced by that branch's nodes, inlined, and the
  engine runs again (nested Ifs follow, round after round);
- the condition depends on an input's *value* (silero-vad's ``sr``): each branch is inlined
  on its own copy and shaped; a tensor both give the same shape has that shape whichever
  branch runs. Where they differ (or one cannot be shaped) it is left unshaped, and the If is
  reported with the reason (``UNDECIDED``), never guessed.

This is what onnxruntime does at run time (it evaluates the condition and runs one branch);
memscan only ever reads the file. memscan's Graph is never changed.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

import numpy as np

from ..formats.onnx_proto import _has_values
from ..ir import Shape

#: Branch copies shaped at most per model (each undecided If doubles them).
MAX_BRANCH_RUNS = 4

Run = Callable[[Any, Any], tuple[Any, str]]


def _branch(node: Any, name: str) -> Optional[Any]:
    return next((a.g for a in node.attribute if a.name == name and a.HasField("g")), None)


def inline_if(onnx: Any, model: Any, index: int, taken: bool) -> bool:
    """Replace ``model.graph.node[index]`` (an If) by its then (``taken``) or else branch, in
    place: the branch's nodes, its stored tensors (as typed inputs when their payload was
    stripped) and an Identity from each branch output to the If's. False (nothing changed)
    when a branch name clashes with the outer graph's, or the branch is missing."""
    g = model.graph
    node = g.node[index]
    sub = _branch(node, "then_branch" if taken else "else_branch")
    if sub is None or len(sub.output) < len([o for o in node.output if o]) \
            or len(sub.sparse_initializer):
        return False
    outer = {o for n in g.node for o in n.output} | {v.name for v in g.input} \
        | {t.name for t in g.initializer}
    inner = {o for n in sub.node for o in n.output} | {t.name for t in sub.initializer}
    if inner & outer:
        return False
    helper = onnx.helper
    nodes = []
    for n in sub.node:
        t = next((a.t for a in n.attribute if a.name == "value" and a.HasField("t")), None)
        if n.op_type == "Constant" and n.domain in ("", "ai.onnx") and t is not None \
                and not _has_values(t) and n.output:
            g.input.append(helper.make_tensor_value_info(n.output[0], t.data_type,
                                                         list(t.dims)))
        else:
            nodes.append(n)
    for t in sub.initializer:
        if _has_values(t):
            g.initializer.append(t)
        else:
            g.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    for out, inner_out in zip(node.output, sub.output):
        if out:
            nodes.append(helper.make_node("Identity", [inner_out.name], [out]))
    rest = list(g.node[index + 1:])
    del g.node[index:]
    g.node.extend(nodes)
    g.node.extend(rest)
    return True


def fold_ifs(onnx: Any, model: Any, values: Mapping[str, np.ndarray]) -> int:
    """Inline every top-level If whose condition's value is known (in place); how many."""
    folded = 0
    index = 0
    while index < len(model.graph.node):
        node = model.graph.node[index]
        cond = values.get(node.input[0]) if node.op_type == "If" and node.input else None
        if cond is not None and cond.size == 1 and node.domain in ("", "ai.onnx") and \
                inline_if(onnx, model, index, bool(cond.reshape(-1)[0])):
            folded += 1
            continue  # the branch's first node now sits at ``index``
        index += 1
    return folded


def undecided_ifs(model: Any) -> list[int]:
    """Positions of the top-level If nodes left (their conditions are not computable)."""
    return [i for i, n in enumerate(model.graph.node)
            if n.op_type == "If" and n.domain in ("", "ai.onnx")]


def agreeing(onnx: Any, model: Any, shaped: Callable[[Any], tuple[dict, dict]],
             budget: int = MAX_BRANCH_RUNS
             ) -> Optional[tuple[dict[str, Shape], dict[str, str], dict[str, str]]]:
    """Shapes both branches of the first undecided If agree on (each branch shaped by
    ``shaped``, which may split again within ``budget``), the non-tensor labels, and the
    If nodes whose outputs the branches disagree on, with the reason. None: no such If."""
    ifs = undecided_ifs(model)
    if not ifs or budget < 2:
        return None
    node = model.graph.node[ifs[0]]
    results = []
    for taken in (True, False):
        copy = onnx.ModelProto()
        copy.CopyFrom(model)
        if not inline_if(onnx, copy, ifs[0], taken):
            return None
        results.append(shaped(copy, budget // 2))
    (a, a_other, a_why), (b, b_other, b_why) = results
    shapes = {t: s for t, s in a.items() if b.get(t) == s}
    differ = [o for o in node.output if o and a.get(o) != b.get(o)]
    why = {**a_why, **b_why}
    if differ:
        cond = node.input[0]
        why[node.name or node.output[0]] = (
            f"its condition {cond} depends on an input's value (not a shape), and its "
            f"branches give {', '.join(differ[:4])} different shapes (then "
            f"{[_label(a.get(o)) for o in differ[:4]]}, else "
            f"{[_label(b.get(o)) for o in differ[:4]]})")
    return shapes, {**b_other, **a_other}, why


def _label(shape: Optional[Shape]) -> str:
    return "no shape at these inputs" if shape is None else str(list(shape))
