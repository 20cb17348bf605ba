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


# --------------------------------------------------------------------------- Loop


def _symbolic(inferred: Any) -> dict[str, tuple[list, int]]:
    """(dims, elem type) per value the engine typed: a dim an int, or None when unknown."""
    out = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        t = vi.type.tensor_type if vi.type.HasField("tensor_type") else None
        if t is not None and t.HasField("shape"):
            out[vi.name] = ([int(d.dim_value) if d.HasField("dim_value") else None
                             for d in t.shape.dim], t.elem_type)
    return out


def _is_true(values: Mapping[str, np.ndarray], name: str) -> bool:
    v = values.get(name)
    return v is not None and v.size == 1 and bool(v.reshape(-1)[0])


def _runs_every_trip(node: Any, values: Mapping[str, np.ndarray]) -> bool:
    """A Loop that cannot stop early: its start condition is absent or a known true, and its
    body hands the condition on unchanged (Identity, as PyTorch writes a for-loop) or sets
    it to a true constant. A while-loop that computes its condition is not."""
    body = _branch(node, "body")
    if body is None or len(body.input) < 2 or not body.output:
        return False
    start = node.input[1] if len(node.input) > 1 else ""
    if start and not _is_true(values, start):
        return False
    cond_in, cond_out = body.input[1].name, body.output[0].name
    if cond_out == cond_in:
        return True
    producer = next((n for n in body.node if cond_out in n.output), None)
    if producer is None:
        return False
    if producer.op_type == "Identity":
        return list(producer.input) == [cond_in]
    if producer.op_type == "Constant":
        t = next((a.t for a in producer.attribute if a.name == "value" and a.HasField("t")),
                 None)
        from onnx import numpy_helper
        return t is not None and bool(numpy_helper.to_array(t).reshape(-1)[0])
    return False


def state_loop_scans(model: Any, inferred: Any, values: Mapping[str, np.ndarray]) -> int:
    """Write, as value_info of ``model`` (in place), the shape of each scan output of a
    top-level Loop that runs exactly its trip count M (a known value): ``[M, *one
    iteration's shape]``, the iteration's shape from the engine. Neither engine sets M
    itself. Returns how many were written."""
    typed = _symbolic(inferred)
    stated = {vi.name for vi in model.graph.value_info}
    written = 0
    for node in model.graph.node:
        if node.op_type != "Loop" or node.domain not in ("", "ai.onnx") or not node.input:
            continue
        trips = values.get(node.input[0]) if node.input[0] else None
        if trips is None or trips.size != 1 or not _runs_every_trip(node, values):
            continue
        carried = max(len(node.input) - 2, 0)
        for name in node.output[carried:]:
            dims, elem = typed.get(name, (None, 0))
            if not name or name in stated or not dims or not elem or \
                    any(d is None for d in dims[1:]):
                continue
            vi = model.graph.value_info.add()
            vi.name = name
            vi.type.tensor_type.elem_type = elem
            for d in [int(trips.reshape(-1)[0]), *dims[1:]]:
                vi.type.tensor_type.shape.dim.add().dim_value = d
            written += 1
    return written
