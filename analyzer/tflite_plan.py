"""TFLite's memory planner, replayed: the arena its interpreter allocates for a .tflite graph.

Follows tensorflow/lite/arena_planner.cc (ArenaPlanner::PlanAllocations,
CreateTensorAllocationVector, CalculateAllocations) and simple_memory_arena.cc
(SimpleMemoryArena::Allocate), TF 2.21:

- every non-constant tensor is planned in one non-persistent arena (kTfLiteArenaRw), each at
  an offset aligned to 64 bytes (kDefaultTensorAlignment); variable tensors and the outputs
  of DEQUANTIZE/DENSIFY on a constant go to the persistent arena instead (not in this
  figure);
- a tensor lives from the node that first writes it to the node that drops its last
  reference (inclusive). Graph inputs are allocated at node 0 and never released; graph
  outputs are never released; a tensor that nothing reads is never released either (its
  reference count never reaches 0);
- tensors that live the whole run go first, in index order; the rest by size, largest first,
  ties by the node that allocates them;
- each takes the smallest gap between the already placed tensors whose lifetimes overlap
  its own (scanning them by offset, stopping at a gap of zero), else the end; the arena is
  the highest end reached.

Kernel temporaries (scratch tensors a kernel adds in Prepare, alive during its node only) are
replayed for the kernels in ``SCRATCH``: CONV_2D's im2col (tensorflow/lite/kernels/conv.cc,
needed unless the filter is 1×1 with stride and dilation 1) and MEAN's index/axis/sum
buffers (reduce.cc). Outputs that take over an input's buffer (IdentifyInPlaceTensors) are replayed for the ops in
``_sharing`` (from the op facts the tflite rule module declares). Not replayed (docs/accuracy.md says what each costs): other kernels'
temporaries (the LSTM's scratch), and the re-planning in segments when a tensor's shape is
only known while the graph runs (dynamic tensors are placed outside the arena).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from .ir import dtype_bytes
from .registries import registrar
from .runtime_model import Buffer, Placement, RuntimeModel, Step

#: kDefaultTensorAlignment (tensorflow/lite/core/c/common.h).
ALIGNMENT = 64
#: Ops whose output is computed once, in the persistent arena, when their input is a constant
#: (dequantize.cc, densify.cc: float16/sparse weights expanded at load time).
PERSISTENT_WHEN_CONSTANT = frozenset({"DEQUANTIZE", "DENSIFY"})
#: kNodeNotAssigned: a tensor never released.
NEVER = 2**31 - 1


def align(offset: int, alignment: int = ALIGNMENT) -> int:
    return -(-offset // alignment) * alignment


@dataclass
class Planned:
    """One tensor's plan: [first, last] nodes (inclusive, NEVER for never released)."""

    index: int
    id: str
    nbytes: int
    first: int
    last: int
    offset: int = 0

    @property
    def whole_run(self) -> bool:
        return self.first == 0 and self.last == NEVER


#: kScalarTensorBytes: a modified input this small is never shared.
SCALAR_BYTES = 4


def _sharing(step: Step) -> Optional[tuple[tuple[int, ...], bool]]:
    """Which inputs the step's output may take over, and whether it modifies the data, from
    its op facts: ``may_run_in_place`` (ADD, MUL: either input, modified) and
    ``aliases_input`` (RESHAPE, SQUEEZE, EXPAND_DIMS: input 0, unmodified)."""
    if step.facts.may_run_in_place:
        return (0, 1), True
    if step.facts.aliases_input:
        return (0,), False
    return None


def plan_tensors(steps: Sequence[Step], inputs: dict[str, Optional[int]],
                 outputs: Sequence[str]) -> list[Planned]:
    """ArenaPlanner::PlanAllocations: first and last node of every arena tensor, outputs
    that share an input's buffer (IdentifyInPlaceTensors) left out."""
    sizes: dict[str, int] = {t: n or 0 for t, n in inputs.items()}
    shapes: dict[str, tuple] = {}
    for st in steps:
        sizes.update((t, n or 0) for t, n in zip(st.outputs, st.output_bytes))
        shapes.update((t, s) for t, s in zip(st.outputs, st.output_shapes) if s is not None)
    base: dict[str, int] = {}
    for tid in list(outputs) + list(inputs):
        base[tid] = base.get(tid, 0) + 1
    uses = dict(base)
    for st in steps:
        for tid in st.inputs:
            if tid:
                uses[tid] = uses.get(tid, 0) + 1
    shared = _in_place(steps, sizes, uses, set(inputs), set(outputs))

    def find(tid: str) -> str:
        return shared.get(tid, tid)

    refs = dict(base)
    for st in steps:
        for tid in st.inputs:
            if tid:
                refs[find(tid)] = refs.get(find(tid), 0) + 1
    planned: dict[str, Planned] = {}
    order: list[str] = []

    def allocate(tid: str, node: int, nbytes: Optional[int]) -> None:
        if tid not in planned:
            planned[tid] = Planned(len(order), tid, nbytes or 0, node, NEVER)
            order.append(tid)

    for tid, nbytes in inputs.items():
        allocate(tid, 0, nbytes)
    for i, st in enumerate(steps):
        if st.op in PERSISTENT_WHEN_CONSTANT and st.weight_shapes:
            continue  # computed once in Prepare into the persistent arena
        for tid, nbytes in zip(st.outputs, st.output_bytes):
            allocate(tid, i, nbytes)
        for k, nbytes in enumerate(scratch(st, shapes)):
            tid = f"{st.outputs[0] if st.outputs else i}#temporary{k}"
            allocate(tid, i, nbytes)
            planned[tid].last = i
        for tid in st.inputs:
            t = find(tid)
            if t in refs:
                refs[t] -= 1
                if refs[t] == 0 and t in planned and planned[t].last == NEVER:
                    planned[t].last = i
    return [planned[t] for t in order
            if not (t in shared and sizes.get(shared[t]) == planned[t].nbytes)]


def _in_place(steps: Sequence[Step], sizes: dict[str, int], uses: dict[str, int],
              graph_inputs: set[str], graph_outputs: set[str]) -> dict[str, str]:
    """IdentifyInPlaceTensors: output id -> the tensor whose buffer it takes."""
    shared: dict[str, str] = {}
    for st in steps:
        rule = _sharing(st)
        if rule is None or not st.outputs:
            continue
        positions, changed = rule
        out = st.outputs[0]
        if out in graph_outputs:
            continue
        chosen = None
        for k in positions:
            if k >= len(st.inputs) or not st.inputs[k]:
                continue
            tid = st.inputs[k]
            if tid not in sizes or tid in graph_inputs:
                continue  # a constant (read-only) or a graph input is never taken over
            if changed and (sizes[tid] != sizes.get(out) or sizes[tid] <= SCALAR_BYTES
                            or uses.get(tid, 0) > 1):
                continue
            chosen = tid
            break
        if chosen is None:
            continue
        actual = shared.get(chosen, chosen)
        if changed and uses.get(actual, 0) > 1:
            continue
        shared[out] = actual
    return shared


#: A kernel's temporaries from its step and the shapes of the graph's computed tensors (a
#: filter may be one: DEQUANTIZE of float16 weights).
Scratch = Callable[[Step, dict[str, tuple]], list[int]]
#: TFLite op -> bytes of each temporary its kernel adds (float and int8 kernels alike).
SCRATCH: dict[str, Scratch] = {}


scratch_of = registrar(SCRATCH)


def scratch(step: Step, shapes: dict[str, tuple]) -> list[int]:
    fn = SCRATCH.get(step.op)
    if fn is None or not step.output_shapes or step.output_shapes[0] is None:
        return []
    try:
        return fn(step, shapes)
    except (TypeError, ValueError, IndexError, KeyError, AttributeError):
        return []


@scratch_of("CONV_2D")
def im2col(step: Step, shapes: dict[str, tuple]) -> list[int]:
    """conv.cc: im2col (batch, out h, out w, kh·kw·in channels) at the input's dtype."""
    filt = shapes.get(step.inputs[1]) if len(step.inputs) > 1 else None
    if filt is None:
        if not step.weight_shapes:
            return []
        filt = step.weight_shapes[0]
    _, kh, kw, cin = filt
    c = step.config
    unit = (kh == kw == 1 and c.get("stride_h", 1) == c.get("stride_w", 1) == 1
            and c.get("dilation_h_factor", 1) == c.get("dilation_w_factor", 1) == 1)
    if unit:
        return []
    out = step.output_shapes[0]
    dtype = step.output_dtypes[0] if step.output_dtypes else "float32"
    return [math.prod(out[:-1]) * kh * kw * cin * dtype_bytes(dtype)]


@scratch_of("MEAN")
def reduce_temporaries(step: Step, shapes: dict[str, tuple]) -> list[int]:
    """reduce.cc: temp index (input rank), resolved axes, temp sum (output elements), int32
    or float32, 4 bytes each."""
    axes = len(step.config.get("const_inputs", {}).get("1", ()))
    out = step.output_shapes[0]
    rank = len(out) if step.config.get("keep_dims") else len(out) + axes
    return [4 * rank, 4 * axes, 4 * math.prod(out)]


def allocation_order(tensors: list[Planned]) -> list[Planned]:
    """CreateTensorAllocationVector: whole-run tensors by index, then largest first."""
    return sorted(tensors, key=lambda t: (0, t.index, 0) if t.whole_run
                  else (1, -t.nbytes, t.first))


def place(tensors: list[Planned], alignment: int = ALIGNMENT) -> int:
    """SimpleMemoryArena::Allocate for each tensor in allocation order; the high-water mark."""
    active: list[Planned] = []  # placed, kept sorted by offset
    high = 0
    for t in allocation_order(tensors):
        if t.nbytes == 0:
            continue
        best: Optional[int] = None
        best_fit: Optional[int] = None
        current = 0
        for other in active:
            if other.last < t.first or other.first > t.last:
                continue
            aligned = align(current, alignment)
            if aligned + t.nbytes <= other.offset and \
                    (best_fit is None or other.offset - aligned < best_fit):
                best = aligned
                best_fit = other.offset - current
            current = max(current, other.offset + other.nbytes)
            if best_fit == 0:
                break
        t.offset = align(current, alignment) if best is None else best
        high = max(high, t.offset + t.nbytes)
        pos = next((k for k, o in enumerate(active) if o.offset > t.offset), len(active))
        active.insert(pos, t)
    return high


def tflite_buffers(steps: Sequence[Step], inputs: dict[str, Optional[int]],
                   outputs: Sequence[str]) -> list[Buffer]:
    """The planned tensors as buffers, in tensor order (never released: to the end, ``n``)."""
    n = len(steps)
    return [Buffer(t.id, t.nbytes, t.first, n if t.last == NEVER else t.last)
            for t in plan_tensors(steps, inputs, outputs)]


def tflite_placements(buffers: list[Buffer]) -> list[Placement]:
    """SimpleMemoryArena's placement of ``tflite_buffers``' output (its order is the index)."""
    n = max((b.end for b in buffers), default=0)
    tensors = [Planned(i, b.id, b.nbytes, b.start, NEVER if b.end >= n else b.end)
               for i, b in enumerate(buffers)]
    place(tensors)
    return [Placement(t.id, t.offset, t.nbytes, b.start, b.end)
            for t, b in zip(tensors, buffers) if t.nbytes]


#: TFLite's interpreter (TF 2.21 / LiteRT): operators in file order, ArenaPlanner's buffers.
TFLITE = RuntimeModel("tflite arena planner", planner=tflite_buffers, place=tflite_placements)
