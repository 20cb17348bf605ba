"""A runtime model: the order a runtime runs a graph's steps in, how it hands out buffers, and
where it places them in one arena. Format-neutral: it sees steps, never a file.

``liveness.RUNTIME_MODELS`` chooses one per graph dialect (file order for Keras and TF graphs,
onnxruntime's replay for ONNX); adding a runtime model is one module exposing a
``RuntimeModel`` and one line there.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from .shapes.registry import OpFacts


@dataclass(frozen=True)
class Step:
    """One op run: the report row it belongs to, its tensors as graph-wide buffer ids."""

    row: str
    op: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    #: Bytes of each output (None when its shape is unknown: counted as 0).
    output_bytes: tuple[Optional[int], ...]
    #: Output 0 reinterprets input 0 (the op's ``aliases_input`` fact).
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
    #: Shape of each input by position (stored weights too; None: absent or unknown).
    input_shapes: tuple[Optional[tuple], ...] = ()
    config: Any = None
    #: The op's record in its graph's dialect (in place, scratch, value-shaped...).
    facts: OpFacts = field(default=OpFacts(), compare=False, repr=False)


@dataclass
class Buffer:
    id: str
    nbytes: int
    start: int
    end: int  # last step that needs it; ``len(steps)`` for those held past the run


@dataclass(frozen=True)
class Placement:
    """Where a buffer sits in the arena: bytes ``offset`` to ``offset + nbytes``."""

    buffer: str
    offset: int
    nbytes: int
    start: int
    end: int


#: (steps in the graph's order, graph output ids) -> steps in the order the runtime runs them.
Order = Callable[[list[Step], Sequence[str]], list[Step]]
#: (steps, graph input id -> bytes, graph output ids) -> buffers with lifetimes.
Planner = Callable[[Sequence[Step], dict[str, Optional[int]], Sequence[str]], list[Buffer]]
#: buffers -> their placements in one arena.
Placer = Callable[[list[Buffer]], list[Placement]]


def file_order(steps: list[Step], outputs: Sequence[str]) -> list[Step]:
    """The graph's own (topological) order."""
    return steps


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


def greedy_placements(buffers: list[Buffer]) -> list[Placement]:
    """One block holding every buffer, largest first, each in the tightest gap that fits
    beside the buffers whose lifetimes overlap it (TFLite's greedy-by-size planner). Empty
    buffers take no place."""
    placed: list[Placement] = []
    for b in sorted(buffers, key=lambda b: (-b.nbytes, b.start, b.id)):
        if b.nbytes == 0:
            continue
        overlapping = sorted((p.offset, p.nbytes) for p in placed
                             if p.start <= b.end and b.start <= p.end)
        best: Optional[int] = None
        best_gap = 0
        cursor = 0
        for offset, size in overlapping:
            gap = offset - cursor
            if gap >= b.nbytes and (best is None or gap < best_gap):
                best, best_gap = cursor, gap
            cursor = max(cursor, offset + size)
        placed.append(Placement(b.id, cursor if best is None else best, b.nbytes, b.start,
                                b.end))
    return placed


def arena_top(placements: Sequence[Placement]) -> int:
    """The arena's size: its highest placed byte."""
    return max((p.offset + p.nbytes for p in placements), default=0)


@dataclass(frozen=True)
class RuntimeModel:
    """How one runtime runs a graph: its order, its buffer planner, its arena placement."""

    name: str
    order: Order = file_order
    planner: Planner = lifetimes
    place: Placer = greedy_placements
    #: Shapes the runtime plans on, from the graph, when they differ from the stated ones
    #: (onnxruntime: the load-time shapes); passed to ``planner`` as ``planning_shapes``.
    planning_shapes: Optional[Callable[[Any], Optional[dict]]] = None
    #: What the runtime's allocator grows by during the run, from the planner's buffers in
    #: run order: (steps as run, buffers, caller-owned buffer ids) -> bytes. None: no
    #: allocator model (onnxruntime: ``ort_arena.run_held_bytes``, its default CPU arena).
    held: Optional[Callable[[Sequence["Step"], Sequence[Buffer], Sequence[str]], int]] = None


#: Keras and TF graphs: the file's order, one buffer per tensor, aliases sharing.
FILE_ORDER = RuntimeModel("file order")
