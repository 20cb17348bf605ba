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
order, or the order of the runtime the format is usually run with (``ORDERS``). The arena
figure places the same buffers into one block, largest first, each at the lowest-offset gap
that fits beside the buffers whose lifetimes overlap it (TFLite's greedy-by-size planner);
at any step the buffers alive are disjoint in it, so it is never below the peak.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from .dtypes import DtypePlan
from .ir import Graph, Node, dtype_bytes
from .shapes.infer import GraphInference, NodeInference

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
    graph = inference.graph
    steps, outputs = steps_of(inference, plan)
    order = ORDERS.get(graph.format)
    if order is not None:
        steps = order(steps, outputs)
    planner = PLANNERS.get(graph.format)
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
        row_peak=row_peak)


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


@order("onnx")
def onnxruntime_order(steps: list[Step], outputs: Sequence[str]) -> list[Step]:
    """The order onnxruntime's sequential executor runs an ONNX graph in (default order).

    onnxruntime turns Constant nodes into initializers when it loads a model, so they never
    run and their outputs are weights, not activations; nodes that feed no graph output
    (dead Cast chains in Keras/torch exports) never run either. It then orders the remaining nodes
    by a depth-first walk *backwards* from the leaves (nodes whose outputs no node reads),
    emitting a node once all its producers are emitted: leaves are pushed on a stack in
    file order (so the last leaf is walked first), and a node's producers are pushed in
    ascending file order (so its highest-numbered producer is walked first). This is not
    file order: e.g. a Shape→Gather→Concat chain feeding a Reshape runs before the data
    input's producer when that producer comes earlier in the file.
    """
    steps = _needed(_without_cast_pairs([s for s in steps if s.op != "Constant"], outputs),
                    outputs)
    producer: dict[str, int] = {}
    for k, s in enumerate(steps):
        for t in s.outputs:
            producer[t] = k
    producers = [sorted({producer[t] for t in s.inputs if t in producer},
                        key=lambda k: steps[k].index) for s in steps]
    consumed = {k for ps in producers for k in ps}
    leaves = [k for k in range(len(steps)) if k not in consumed]
    stack: list[tuple[int, bool]] = [(k, False) for k in leaves]
    visited = [False] * len(steps)
    out: list[Step] = []
    while stack:
        k, leave = stack.pop()
        if leave:
            out.append(steps[k])
            continue
        if visited[k]:
            continue
        visited[k] = True
        stack.append((k, True))
        stack.extend((p, False) for p in producers[k] if not visited[p])
    return out


def _needed(steps: list[Step], outputs: Sequence[str]) -> list[Step]:
    """Only the steps some graph output depends on."""
    producer = {t: k for k, s in enumerate(steps) for t in s.outputs}
    keep: set[int] = set()
    todo = [producer[t] for t in outputs if t in producer]
    while todo:
        k = todo.pop()
        if k in keep:
            continue
        keep.add(k)
        todo.extend(producer[t] for t in steps[k].inputs if t in producer)
    return [s for k, s in enumerate(steps) if k in keep]


def _without_cast_pairs(steps: list[Step], outputs: Sequence[str]) -> list[Step]:
    """onnxruntime's duplicate-Cast removal, which runs even with optimizations off.

    For a Cast A->B (B at least as wide as A) every child Cast B->A is removed, its readers
    reading the first Cast's input instead; the first Cast goes too once nothing reads it.
    Torch-exported Keras models are full of float32->float32 Cast pairs this removes.
    """
    dtype_of = {t: d for s in steps for t, d in zip(s.outputs, s.output_dtypes)}
    held = set(outputs)
    rename: dict[str, str] = {}
    removed: set[int] = set()
    readers: dict[str, list[int]] = {}
    for k, s in enumerate(steps):
        for t in s.inputs:
            readers.setdefault(t, []).append(k)
    for k, s in enumerate(steps):
        if s.op != "Cast" or k in removed or not s.inputs or not s.output_dtypes:
            continue
        src = rename.get(s.inputs[0], s.inputs[0])
        b = s.output_dtypes[0]
        a = dtype_of.get(src, b)  # a graph input: taken as already of the target type
        if dtype_bytes(b) < dtype_bytes(a):
            continue
        children = readers.get(s.outputs[0], [])
        pairs = [c for c in children if steps[c].op == "Cast" and steps[c].output_dtypes
                 and steps[c].output_dtypes[0] == a and steps[c].outputs[0] not in held]
        for c in pairs:
            removed.add(c)
            rename[steps[c].outputs[0]] = src
        if pairs and len(pairs) == len(children) and s.outputs[0] not in held:
            removed.add(k)
    if not removed:
        return steps

    def follow(t: str) -> str:
        while t in rename:
            t = rename[t]
        return t

    return [replace(s, inputs=tuple(follow(t) for t in s.inputs))
            for k, s in enumerate(steps) if k not in removed]


# --------------------------------------------------------------------------- planners

#: Graph format -> how its usual runtime assigns buffers (default: ``lifetimes``).
PLANNERS: dict[str, Planner] = {}

#: onnxruntime CPU kernels that declare MayInplace(0, 0): their output takes their first
#: input's buffer when that input has no other reader left and the same shape and type.
ORT_MAY_INPLACE = frozenset({
    "Cast", "Relu", "LeakyRelu", "Elu", "Selu", "Celu", "Sigmoid", "HardSigmoid", "Tanh",
    "Softplus", "Softsign", "ThresholdedRelu", "Clip", "Softmax",
})
def _conv_working_buffer(st: Step, ins: int, out: int) -> int:
    """MLAS convolutions other than a plain 1x1 take one 16384-float working buffer per
    thread (64 KiB; the benchmark runs one intra-op thread)."""
    kernel = None
    if isinstance(st.config, Mapping) and isinstance(st.config.get("kernel_shape"), (list, tuple)):
        kernel = tuple(st.config["kernel_shape"])
    elif st.weight_shapes and len(st.weight_shapes[0]) > 2:
        kernel = tuple(st.weight_shapes[0][2:])
    strides = st.config.get("strides") if isinstance(st.config, Mapping) else None
    pointwise = kernel is not None and all(k == 1 for k in kernel) and \
        (not strides or all(x == 1 for x in strides))
    return 0 if pointwise else 16384 * 4


#: Working memory onnxruntime CPU kernels take from the arena while they run, from
#: (step, activation input bytes, output bytes).
ORT_SCRATCH: dict[str, Callable[[Step, int, int], int]] = {
    # Einsum copies its operands into permuted layouts and computes into a temporary before
    # writing the output (measured on 'abc,cde->abde' and 'abcd,cde->abe' contractions:
    # inputs + weights + 2 x output).
    "Einsum": lambda st, ins, out: ins + st.weight_bytes + 2 * out,
    "Conv": _conv_working_buffer,
}

#: onnxruntime CPU kernels whose output always aliases their first input.
ORT_ALIAS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"})


def onnxruntime_buffers(steps: Sequence[Step], inputs: dict[str, Optional[int]],
                        outputs: Sequence[str]) -> list[Buffer]:
    """onnxruntime's allocation planner (sequential, memory pattern off), replayed.

    Per node in execution order, each output (a) aliases its first input for Reshape-like
    kernels, (b) takes over its first input's buffer for in-place kernels when that was the
    input's last reader and shape and element size agree, (c) else takes the most recently
    freed buffer of exactly the same shape and element size, (d) else gets a new buffer.
    A buffer goes back to the free list when every value sharing it has been read for the
    last time, and is only released for real if nothing takes it afterwards: between its
    first and its final release it stays in use, which is what the arena reports.
    Graph inputs and outputs are never reused.
    """
    n = len(steps)
    held = set(outputs)
    uses: dict[str, int] = {}
    for st in steps:
        for t in st.inputs:
            uses[t] = uses.get(t, 0) + 1
    buffers: dict[str, Buffer] = {}
    buffer_of: dict[str, str] = {}
    count: dict[str, int] = {}
    sig: dict[str, tuple] = {}  # buffer -> (shape, element size)
    for tid, nbytes in inputs.items():
        buffers[tid] = Buffer(tid, nbytes or 0, 0, n)
        buffer_of[tid] = tid
        count[tid] = 1 << 60  # the caller's: never freed
    value_sig: dict[str, tuple] = {}
    freelist: list[str] = []  # most recently freed first
    static = ort_static_shapes(steps, inputs)

    def release(buf: str, i: int) -> None:
        count[buf] -= 1
        if count[buf] == 0:
            buffers[buf].end = i
            freelist.insert(0, buf)

    for i, st in enumerate(steps):
        for k, tid in enumerate(st.outputs):
            shape = st.output_shapes[k] if k < len(st.output_shapes) else None
            dtype = st.output_dtypes[k] if k < len(st.output_dtypes) else "float32"
            value_sig[tid] = (shape, dtype_bytes(dtype))
            buf = None
            if tid not in static:  # never the "same size" as anything: no in-place, no reuse
                value_sig[tid] = (object(), 0)
            if tid not in held:
                src = st.inputs[0] if st.inputs and k == 0 else None
                origin = buffer_of.get(src) if src is not None else None
                if origin is not None and st.op in ORT_ALIAS:
                    buf = origin
                elif (origin is not None and st.op in ORT_MAY_INPLACE and count[origin] == 1
                      and shape is not None and value_sig.get(src) == value_sig[tid]):
                    buf = origin
                elif shape:  # rank 0 values are never reused
                    buf = next((b for b in freelist if sig[b] == value_sig[tid]), None)
                    if buf is not None:
                        freelist.remove(buf)
            if buf is None:
                buf = tid
                nbytes = st.output_bytes[k] or 0
                if st.op in ORT_ALIAS and st.inputs and st.inputs[0] not in buffer_of:
                    nbytes = 0  # a view of a weight
                buffers[tid] = Buffer(tid, nbytes, i, n if tid in held else i)
                sig[tid] = value_sig[tid]
                count[tid] = 0
            buffer_of[tid] = buf
            count[buf] += uses.get(tid, 0) + (1 if tid in held else 0)
        scratch = ORT_SCRATCH.get(st.op)
        if scratch is not None:
            in_bytes = sum(buffers[buffer_of[t]].nbytes for t in st.inputs if t in buffer_of)
            extra = scratch(st, in_bytes, sum(b or 0 for b in st.output_bytes))
            if extra:
                buffers[f"{st.row}#scratch"] = Buffer(f"{st.row}#scratch", extra, i, i)
        for t in st.inputs:
            if t in buffer_of:
                release(buffer_of[t], i)
        for tid in st.outputs:
            buf = buffer_of[tid]
            if count[buf] == 0 and buf not in freelist:
                buffers[buf].end = i
                freelist.insert(0, buf)
    return list(buffers.values())


PLANNERS["onnx"] = onnxruntime_buffers

#: Ops whose output shape depends on the *values* of their inputs after the first (all
#: inputs for ConstantOfShape and Range): onnxruntime knows it before running only when
#: those values are weights or come from Shape arithmetic it propagates.
_VALUE_SHAPED = frozenset({"Reshape", "Pad", "Slice", "Expand", "Tile", "Resize", "Upsample",
                           "TopK", "OneHot", "Split", "Squeeze", "Unsqueeze", "ReduceSum",
                           "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd"})
_ALL_VALUE_SHAPED = frozenset({"ConstantOfShape", "Range"})
_ALWAYS_UNKNOWN = frozenset({"NonZero", "Unique", "NonMaxSuppression", "Loop", "If", "Scan",
                             "Compress"})
#: Ops onnxruntime propagates shape *values* through (Shape → Gather → Unsqueeze →
#: Concat → Reshape, as exporters flatten with).
_SHAPE_VALUE_OPS = frozenset({"Gather", "Unsqueeze", "Squeeze", "Concat", "Add", "Sub",
                              "Mul", "Div", "Slice"})


def ort_static_shapes(steps: Sequence[Step], inputs: Iterable[str]) -> set[str]:
    """Values whose shape onnxruntime knows when it plans memory, before running.

    Its planner reuses or shares a buffer only between values of the same known shape, so
    a graph whose shapes depend on computed values (a Pad whose pads are computed, as in
    Keras ZeroPadding2D exports) gets no buffer reuse at all downstream of it.
    """
    known = set(inputs)
    shape_values: set[str] = set()  # values holding shapes onnxruntime can follow
    produced = {t for st in steps for t in st.outputs}

    def static(t: str) -> bool:
        return t not in produced or t in known  # weights are always known

    for st in steps:
        value_ins = (st.inputs if st.op in _ALL_VALUE_SHAPED
                     else st.inputs[1:] if st.op in _VALUE_SHAPED else ())
        ok = (st.op not in _ALWAYS_UNKNOWN and all(static(t) for t in st.inputs[:1] or ())
              and all(t not in produced or t in shape_values for t in value_ins)
              and all(static(t) for t in st.inputs))
        if st.op in ("Shape", "Size") and st.inputs and static(st.inputs[0]):
            shape_values.update(st.outputs)
        elif st.op in _SHAPE_VALUE_OPS and all(t not in produced or t in shape_values
                                               for t in st.inputs):
            shape_values.update(st.outputs)
        if ok and all(sh is not None for sh in st.output_shapes):
            known.update(st.outputs)
    return known

