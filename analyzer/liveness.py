"""Which activation tensors are alive at once: the inference peak and an arena size.

The classic feature-map sum assumes nothing is ever freed. A runtime frees a tensor after its
last reader, so the memory inference needs is the largest total of tensors alive at the same
time while the layers run one after another:

- graph inputs are alive for the whole run (the caller holds them);
- graph outputs live from their producer to the end (the caller receives them);
- every other tensor lives from the step that makes it to the last step that reads it;
  one that nothing reads lives only during its own step;
- ops that only reinterpret their input (Reshape, Flatten, Squeeze, Identity, Dropout at
  inference...) reuse its buffer instead of allocating one;
- a nested Keras model is expanded: its layers are steps of the outer run, its inputs are
  the outer tensors it is called with.

The walk is over a flat list of steps (format-neutral); the runtime model of the graph's
dialect (``RUNTIME_MODELS``, a ``runtime_model.RuntimeModel``) orders them, turns them into
buffers and places the buffers in one arena: file order and one buffer per tensor for Keras
and TF graphs, onnxruntime's replay (``onnxruntime_plan``) for ONNX. The arena figure is the
highest byte placed: largest first, each buffer in the tightest gap that fits beside the
buffers whose lifetimes overlap it (TFLite's greedy-by-size planner); at any step the buffers
alive are disjoint in it, so it is never below the peak.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace
from typing import Iterable, Optional, Sequence

from . import onnxruntime_plan, ort_arena, tflite_plan
from .dtypes import DtypePlan
from .ir import KERAS, ONNX, TF_GRAPH, TFLITE, Graph, Node, dtype_bytes
from .runtime_model import (FILE_ORDER, Buffer, Placement, Planner, RuntimeModel, Step,
                            arena_top, greedy_placements, lifetimes)
from .shapes.infer import GraphInference
from .shapes.ops import facts

#: Graph dialect -> the runtime model of the runtime it is usually run with. Adding a runtime
#: model: one module exposing a ``RuntimeModel``, one line here.
RUNTIME_MODELS: dict[str, RuntimeModel] = {
    KERAS: FILE_ORDER,
    TF_GRAPH: FILE_ORDER,
    ONNX: replace(onnxruntime_plan.ONNXRUNTIME, held=ort_arena.run_held_bytes),
    TFLITE: tflite_plan.TFLITE,
}


def runtime_model_for(dialect: str) -> RuntimeModel:
    """The runtime model of ``dialect`` (file order for a dialect without one)."""
    return RUNTIME_MODELS.get(dialect, FILE_ORDER)


@dataclass
class Liveness:
    steps: list[Step]
    buffers: list[Buffer]
    #: Bytes alive during each step (its inputs, its outputs and everything still needed).
    during: list[int]
    #: Bytes alive after each step has run and freed what it was the last reader of.
    after: list[int]
    peak_bytes: int
    peak_row: Optional[str]
    #: Bytes of the graph inputs (held by the caller for the whole run).
    input_bytes: int
    arena_bytes: int
    #: Per report row: bytes alive after its last step, and the most alive during its steps.
    row_after: dict[str, int] = field(default_factory=dict)
    row_peak: dict[str, int] = field(default_factory=dict)
    #: Tensors whose bytes are unknown (no shape at this input): every figure above leaves
    #: them out, so each is only a lower bound while this is not empty.
    unshaped: list[str] = field(default_factory=list)
    #: Where each non-empty buffer sits in the arena (``arena_bytes`` is the highest byte).
    placements: list[Placement] = field(default_factory=list)
    #: What the runtime's allocator holds after the run (``RuntimeModel.held``); None when
    #: the runtime model has none.
    held_bytes: Optional[int] = None

    @property
    def distinct_bytes(self) -> int:
        """Every buffer once: the forward activations a backward pass would keep."""
        return sum(b.nbytes for b in self.buffers)


# --------------------------------------------------------------------------- steps

def steps_of(inference: GraphInference, plan: DtypePlan = DtypePlan()
             ) -> tuple[list[Step], list[str]]:
    """The graph as a flat list of steps, nested models expanded, in the graph's order,
    and the buffer ids of the graph's outputs."""
    steps: list[Step] = []
    scope: dict[str, str] = {}  # outer output id -> the nested tensor it is
    _flatten(inference, scope, "", None, plan, steps)
    return steps, [scope.get(t, t) for t in inference.graph.outputs]


def _flatten(inf: GraphInference, scope: dict[str, str], prefix: str, row: Optional[str],
             plan: DtypePlan, steps: list[Step]) -> None:
    def gid(tensor: str) -> str:
        return scope.get(tensor, prefix + tensor)

    for res in inf.nodes:
        node = res.node
        name = row if row is not None else node.layer
        if node.op == "InputLayer" and not node.inputs:
            if prefix:  # a nested model's input is the outer tensor it is called with
                continue
        if node.subgraph is not None and res.inner is not None:
            sub = node.subgraph
            inner_scope = {spec.name: gid(t) for spec, t in zip(sub.inputs, node.inputs)}
            inner_prefix = f"{prefix}{node.name}/"
            _flatten(res.inner, inner_scope, inner_prefix, name, plan, steps)
            for out, sub_out in zip(node.outputs, sub.outputs):
                scope[out] = inner_scope.get(sub_out, inner_prefix + sub_out)
            continue
        record = facts(inf.graph.dialect, node.op)
        dtypes = tuple(plan.activation(_dtype(inf.graph, node, t)) for t in node.outputs)
        sizes = tuple(tensor_bytes(shape, dtype) for shape, dtype in zip(res.outputs, dtypes))
        steps.append(Step(row=name, op=node.op, inputs=tuple(gid(t) for t in node.inputs),
                          outputs=tuple(gid(t) for t in node.outputs), output_bytes=sizes,
                          alias=record.aliases_input, index=len(steps), output_dtypes=dtypes,
                          output_shapes=tuple(None if x is None else tuple(x)
                                              for x in res.outputs),
                          weight_bytes=sum(w.nbytes for w in node.weights),
                          weight_shapes=tuple(w.shape for w in node.weights),
                          input_shapes=_input_shapes(inf, node),
                          config=node.config, facts=record))


def _input_shapes(inf: GraphInference, node: Node) -> tuple[Optional[tuple], ...]:
    """Each input's shape at the stated input, by position (weights by their stored shape;
    None for an absent optional input or an unknown shape)."""
    stored = {w.name: tuple(w.shape) for w in node.weights}
    out = []
    for t in node.inputs:
        shape = stored.get(t) if t in stored else inf.tensors.get(t) if t else None
        out.append(None if shape is None or any(d is None for d in shape) else tuple(shape))
    return tuple(out)


def _dtype(graph: Graph, node: Node, tensor: str) -> str:
    return graph.known_dtypes.get(tensor, node.dtype)


def tensor_bytes(shape, dtype: str) -> Optional[int]:
    if shape is None or any(d is None for d in shape):
        return None
    return math.prod(shape) * dtype_bytes(dtype)


# --------------------------------------------------------------------------- liveness

def liveness(inference: GraphInference, plan: DtypePlan = DtypePlan()) -> Liveness:
    """Liveness of ``inference``'s graph under the runtime model of its dialect."""
    graph = inference.graph
    model = runtime_model_for(graph.dialect)
    steps, outputs = steps_of(inference, plan)
    steps = model.order(steps, outputs)
    planned = model.planning_shapes(graph) if model.planning_shapes is not None else None
    if planned is not None:
        model = replace(model, planner=functools.partial(model.planner,
                                                         planning_shapes=planned))
    inputs = {spec.name: tensor_bytes(inference.tensors.get(spec.name),
                                      plan.activation(graph.known_dtypes.get(spec.name,
                                                                             spec.dtype)))
              for spec in graph.inputs}
    return plan_steps(steps, inputs, outputs, model)


def plan_steps(steps: Sequence[Step], inputs: dict[str, Optional[int]],
               outputs: Iterable[str], model: RuntimeModel = FILE_ORDER) -> Liveness:
    """Buffer lifetimes of ``steps`` run in the order given, and the figures that follow.

    ``inputs``: graph input id -> bytes (alive the whole run). ``outputs``: graph output ids
    (alive from their producer to the end). ``model`` turns steps into buffers and places
    them in the arena.
    """
    n = len(steps)
    buffers = {b.id: b for b in model.planner(steps, inputs, list(outputs))}
    during, after = _sweep(list(buffers.values()), n)
    peak = max(during, default=sum(b.nbytes for b in buffers.values()))
    peak_step = during.index(peak) if during else None
    row_after: dict[str, int] = {}
    row_peak: dict[str, int] = {}
    for i, step in enumerate(steps):
        row_after[step.row] = after[i]
        row_peak[step.row] = max(row_peak.get(step.row, 0), during[i])
    placements = model.place(list(buffers.values()))
    held = (None if model.held is None
            else model.held(list(steps), list(buffers.values()), list(inputs)))
    return Liveness(
        steps=list(steps), buffers=list(buffers.values()), during=during, after=after,
        peak_bytes=peak, peak_row=None if peak_step is None else steps[peak_step].row,
        input_bytes=sum(v or 0 for v in inputs.values()),
        arena_bytes=arena_top(placements), row_after=row_after,
        row_peak=row_peak, placements=placements, unshaped=unshaped_tensors(steps, inputs),
        held_bytes=held)


def unshaped_tensors(steps: Sequence[Step], inputs: dict[str, Optional[int]]) -> list[str]:
    """Graph inputs and step outputs whose byte size is unknown, each once, in run order."""
    seen = {t: None for t, nbytes in inputs.items() if nbytes is None}
    for st in steps:
        for t, nbytes in zip(st.outputs, st.output_bytes):
            if nbytes is None and t not in inputs:
                seen.setdefault(t, None)
    return list(seen)


def _sweep(buffers: list[Buffer], n: int) -> tuple[list[int], list[int]]:
    """Bytes alive during and after each step, by a difference array (linear time)."""
    delta = [0] * (n + 2)
    for b in buffers:
        delta[b.start] += b.nbytes
        delta[min(b.end, n) + 1] -= b.nbytes
    during, running = [], 0
    for i in range(n):
        running += delta[i]
        during.append(running)
    ends_here = [0] * (n + 1)
    for b in buffers:
        if b.end < n:
            ends_here[b.end] += b.nbytes
    after = [during[i] - ends_here[i] for i in range(n)]
    return during, after


def greedy_arena(buffers: list[Buffer]) -> int:
    """The arena size of ``buffers`` placed greedily (largest first, tightest gap)."""
    return arena_top(greedy_placements(buffers))


__all__ = ["Buffer", "Liveness", "Placement", "Planner", "RuntimeModel", "Step", "liveness",
           "lifetimes", "plan_steps", "runtime_model_for", "steps_of", "tensor_bytes"]
