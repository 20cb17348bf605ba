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

The walk is over a flat list of steps (format-neutral); the order is the graph's topological
order, or the order of the runtime the format is usually run with (``ORDERS``), and buffers
are one per tensor unless that runtime shares them otherwise (``PLANNERS``; onnxruntime's
replay for format "onnx" lives in ``onnxruntime_plan``). The arena
figure places the same buffers into one block, largest first, each in the tightest gap
that fits beside the buffers whose lifetimes overlap it (TFLite's greedy-by-size planner);
at any step the buffers alive are disjoint in it, so it is never below the peak.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional, Sequence

from .dtypes import DtypePlan
from .ir import Graph, Node, dtype_bytes
from .shapes.infer import GraphInference

#: Ops (Keras layer classes and ONNX op types) whose first output is their first input,
#: reinterpreted: no new buffer. Only when the byte sizes agree.
ALIAS_OPS = frozenset({
    # Keras
    "Reshape", "Flatten", "Dropout", "SpatialDropout1D", "SpatialDropout2D",
    "SpatialDropout3D", "GaussianDropout", "GaussianNoise", "AlphaDropout",
    "ActivityRegularization", "Identity",
    # ONNX (Reshape, Flatten, Identity, Dropout above)
    "Squeeze", "Unsqueeze",
})


@dataclass(frozen=True)
class Step:
    """One op run: the report row it belongs to, its tensors as graph-wide buffer ids."""

    row: str
    op: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    #: Bytes of each output (None when its shape is unknown: counted as 0).
    output_bytes: tuple[Optional[int], ...]
    alias: bool = False
    #: Position in the graph's own order (ONNX: the node's index in the file).
    index: int = 0
    #: Dtype of each output (after any --dtype re-typing).
    output_dtypes: tuple[str, ...] = ()
    output_shapes: tuple[Optional[tuple], ...] = ()
    #: Bytes of the weights the step reads (stored ones attached to the node).
    weight_bytes: int = 0
    #: Shapes of those weights, and the node's config (ONNX attributes), for kernels whose
    #: working memory depends on them.
    weight_shapes: tuple[tuple[int, ...], ...] = ()
    config: Any = None


@dataclass
class Buffer:
    id: str
    nbytes: int
    start: int
    end: int  # last step that needs it; ``len(steps)`` for those held past the run


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
        dtypes = tuple(plan.activation(_dtype(inf.graph, node, t)) for t in node.outputs)
        sizes = tuple(tensor_bytes(shape, dtype) for shape, dtype in zip(res.outputs, dtypes))
        steps.append(Step(row=name, op=node.op, inputs=tuple(gid(t) for t in node.inputs),
                          outputs=tuple(gid(t) for t in node.outputs), output_bytes=sizes,
                          alias=node.op in ALIAS_OPS, index=len(steps), output_dtypes=dtypes,
                          output_shapes=tuple(None if x is None else tuple(x)
                                              for x in res.outputs),
                          weight_bytes=sum(w.nbytes for w in node.weights),
                          weight_shapes=tuple(w.shape for w in node.weights),
                          config=node.config))


def _dtype(graph: Graph, node: Node, tensor: str) -> str:
    return graph.known_dtypes.get(tensor, node.dtype)


def tensor_bytes(shape, dtype: str) -> Optional[int]:
    if shape is None or any(d is None for d in shape):
        return None
    return math.prod(shape) * dtype_bytes(dtype)


# --------------------------------------------------------------------------- liveness

def liveness(inference: GraphInference, plan: DtypePlan = DtypePlan()) -> Liveness:
    """Liveness of ``inference``'s graph, in the order its format's runtime uses."""
    _load_runtime_models()
    graph = inference.graph
    steps, outputs = steps_of(inference, plan)
    order = ORDERS.get(graph.format)
    if order is not None:
        steps = order(steps, outputs)
    planner = PLANNERS.get(graph.format)
    planning = getattr(graph.shape_oracle, "planning_shapes", None)
    if planner is not None and planning is not None:  # the runtime plans on load-time shapes
        planner = functools.partial(planner, planning_shapes=planning())
    inputs = {spec.name: tensor_bytes(inference.tensors.get(spec.name),
                                      plan.activation(graph.known_dtypes.get(spec.name,
                                                                             spec.dtype)))
              for spec in graph.inputs}
    return plan_steps(steps, inputs, outputs, planner)


def plan_steps(steps: Sequence[Step], inputs: dict[str, Optional[int]],
               outputs: Iterable[str], planner: Optional["Planner"] = None) -> Liveness:
    """Buffer lifetimes of ``steps`` run in the order given, and the figures that follow.

    ``inputs``: graph input id -> bytes (alive the whole run). ``outputs``: graph output ids
    (alive from their producer to the end). ``planner`` turns steps into buffers (default:
    each tensor its own buffer, aliases sharing their input's).
    """
    n = len(steps)
    buffers = {b.id: b for b in (planner or lifetimes)(steps, inputs, list(outputs))}
    during, after = _sweep(list(buffers.values()), n)
    peak = max(during, default=sum(b.nbytes for b in buffers.values()))
    peak_step = during.index(peak) if during else None
    row_after: dict[str, int] = {}
    row_peak: dict[str, int] = {}
    for i, step in enumerate(steps):
        row_after[step.row] = after[i]
        row_peak[step.row] = max(row_peak.get(step.row, 0), during[i])
    return Liveness(
        steps=list(steps), buffers=list(buffers.values()), during=during, after=after,
        peak_bytes=peak, peak_row=None if peak_step is None else steps[peak_step].row,
        input_bytes=sum(v or 0 for v in inputs.values()),
        arena_bytes=greedy_arena(list(buffers.values())), row_after=row_after,
        row_peak=row_peak, unshaped=unshaped_tensors(steps, inputs))


def unshaped_tensors(steps: Sequence[Step], inputs: dict[str, Optional[int]]) -> list[str]:
    """Graph inputs and step outputs whose byte size is unknown, each once, in run order."""
    seen = {t: None for t, nbytes in inputs.items() if nbytes is None}
    for st in steps:
        for t, nbytes in zip(st.outputs, st.output_bytes):
            if nbytes is None and t not in inputs:
                seen.setdefault(t, None)
    return list(seen)


def lifetimes(steps: Sequence[Step], inputs: dict[str, Optional[int]],
              outputs: Sequence[str]) -> list[Buffer]:
    """Each tensor alive from its producer to its last reader; aliases share their input's."""
    n = len(steps)
    buffer_of: dict[str, str] = {}
    buffers: dict[str, Buffer] = {}
    for tid, nbytes in inputs.items():
        buffers[tid] = Buffer(tid, nbytes or 0, 0, n)
        buffer_of[tid] = tid
    for i, step in enumerate(steps):
        for tid in step.inputs:
            buf = buffers.get(buffer_of.get(tid, ""))
            if buf is not None and buf.end < i:
                buf.end = i
        for k, (tid, nbytes) in enumerate(zip(step.outputs, step.output_bytes)):
            if tid in buffer_of:  # produced twice (an InputLayer re-emitting a graph input)
                continue
            src = buffer_of.get(step.inputs[0]) if step.inputs else None
            if step.alias and k == 0 and src is not None and \
                    buffers[src].nbytes == (nbytes or 0):
                buffer_of[tid] = src
                continue
            buffers[tid] = Buffer(tid, nbytes or 0, i, i)
            buffer_of[tid] = tid
    for tid in outputs:
        buf = buffers.get(buffer_of.get(tid, ""))
        if buf is not None:
            buf.end = n
    return list(buffers.values())


Planner = Callable[[Sequence[Step], dict[str, Optional[int]], Sequence[str]], list[Buffer]]


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
    """One block holding every buffer, largest first, each in the tightest gap that fits."""
    placed: list[tuple[int, int, int, int]] = []  # (offset, nbytes, start, end)
    top = 0
    for b in sorted(buffers, key=lambda b: (-b.nbytes, b.start, b.id)):
        if b.nbytes == 0:
            continue
        overlapping = sorted(p for p in placed if p[2] <= b.end and b.start <= p[3])
        best: Optional[int] = None
        best_gap = 0
        cursor = 0
        for offset, size, _, _ in overlapping:
            gap = offset - cursor
            if gap >= b.nbytes and (best is None or gap < best_gap):
                best, best_gap = cursor, gap
            cursor = max(cursor, offset + size)
        offset = cursor if best is None else best
        placed.append((offset, b.nbytes, b.start, b.end))
        top = max(top, offset + b.nbytes)
    return top


# --------------------------------------------------------------------------- orders

#: Graph format -> the order its usual runtime runs the steps in (default: the file's).
#: Called with the steps in the graph's order and the graph's output ids.
Order = Callable[[list[Step], Sequence[str]], list[Step]]
ORDERS: dict[str, Order] = {}


def order(*formats: str):
    def register(fn: Order):
        for f in formats:
            ORDERS[f] = fn
        return fn
    return register


# --------------------------------------------------------------------------- planners

#: Graph format -> how its usual runtime assigns buffers (default: ``lifetimes``).
PLANNERS: dict[str, Planner] = {}


_LOADED = False


def _load_runtime_models() -> None:
    global _LOADED
    if not _LOADED:
        from . import onnxruntime_plan  # noqa: F401  (registers on import)
        _LOADED = True
