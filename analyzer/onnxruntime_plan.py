"""How onnxruntime runs an ONNX graph and hands out memory, replayed for the liveness model.

Measured against onnxruntime 1.32's own arena (bench/accuracy.py, docs/accuracy.md): with
graph optimizations off and the memory pattern off, the numbers below reproduce its peak
to the byte on ten of the benchmark's twelve runs and within 512 bytes on the other two.
The op facts it reads (in place, scratch, value-shaped inputs...) are the ONNX dialect's op
records (``shapes/onnx_rules.py``), carried by each step. ``liveness.RUNTIME_MODELS`` uses
``ONNXRUNTIME`` for graphs of dialect "onnx".
"""
from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Mapping, Optional, Sequence

from .ir import dtype_bytes
from .runtime_model import Buffer, RuntimeModel, Step
from .shapes.engines.onnx_engine import planning_shapes
from .shapes.registry import AFTER_FIRST, ALL_INPUTS


def onnxruntime_order(steps: list[Step], outputs: Sequence[str]) -> list[Step]:
    """The order onnxruntime's sequential executor runs an ONNX graph in (default order).

    onnxruntime turns Constant nodes into initializers when it loads a model (graph.cc,
    ``Graph::Graph`` converting Constant nodes), so they never
    run and their outputs are weights, not activations; nodes that feed no graph output
    (dead Cast chains in Keras/torch exports) never run either. It then orders the remaining nodes
    by a depth-first walk *backwards* from the leaves (nodes whose outputs no node reads),
    emitting a node once all its producers are emitted: leaves are pushed on a stack in
    file order (so the last leaf is walked first), and a node's producers are pushed in
    ascending file order (so its highest-numbered producer is walked first) (source:
    onnxruntime/core/graph/graph_viewer.cc, ``GraphViewer::GraphViewer`` default order via
    ``Graph::ReverseDFSFrom`` over the leaf nodes). This is not
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
    """onnxruntime's duplicate-Cast removal, which runs even with optimizations off
    (onnxruntime/core/optimizer/insert_cast_transformer.cc, ``RemoveDuplicateCastTransformer``,
    applied during partitioning whatever the optimization level).

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


#: onnxruntime's BFC arena hands out every request rounded up to a multiple of 256 bytes
#: (onnxruntime/core/framework/bfc_arena.h ``kMinAllocationBits`` = 8, applied by
#: bfc_arena.cc ``BFCArena::RoundedBytes``): a 64-byte int64 tensor occupies 256 bytes.
ORT_ARENA_ALIGNMENT = 256


def arena_bytes(nbytes: int) -> int:
    """Bytes onnxruntime's arena takes for a request of ``nbytes`` (0 stays 0)."""
    return -(-nbytes // ORT_ARENA_ALIGNMENT) * ORT_ARENA_ALIGNMENT


def onnxruntime_buffers(steps: Sequence[Step], inputs: dict[str, Optional[int]],
                        outputs: Sequence[str],
                        planning_shapes: Optional[Mapping[str, tuple]] = None) -> list[Buffer]:
    """onnxruntime's allocation planner (sequential, memory pattern off), replayed.

    Per node in execution order, each output (a) aliases its first input for Reshape-like
    kernels, (b) takes over its first input's buffer for in-place kernels when that was the
    input's last reader and shape and element size agree, (c) else takes the most recently
    freed buffer of exactly the same shape and element size, (d) else gets a new buffer.
    A buffer goes back to the free list when every value sharing it has been read for the
    last time, and is only released for real if nothing takes it afterwards: between its
    first and its final release it stays in use, which is what the arena reports.
    Graph inputs and outputs are never reused.

    "Same shape" is decided as onnxruntime's planner decides it, on the shapes it knows
    when it loads the file (``planning_shapes``: numbers or symbols such as "batch", from
    ``engines/onnx_engine.planning_shapes``), not on the shapes at the stated input:
    allocation_planner.cc ``PlannerImpl::FindReusableTensor`` / ``SameSize`` / ``SameShape``
    compare dim_values and non-empty dim_params, and an unknown dim matches nothing. Without
    them (a hand-made Graph), the stated shapes of the values ``ort_static_shapes`` finds.
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
            if tid in inputs:  # a reader's Input row re-emitting a graph input: the caller's
                continue
            shape = st.output_shapes[k] if k < len(st.output_shapes) else None
            dtype = st.output_dtypes[k] if k < len(st.output_dtypes) else "float32"
            value_sig[tid] = (shape, dtype_bytes(dtype))
            buf = None
            if planning_shapes is not None:
                planned = planning_shapes.get(tid)
                value_sig[tid] = (planned, dtype_bytes(dtype)) if planned is not None and \
                    all(d is not None for d in planned) else (object(), 0)
            elif tid not in static:  # never the "same size" as anything: no in-place, no reuse
                value_sig[tid] = (object(), 0)
            if tid not in held:
                src = st.inputs[0] if st.inputs and k == 0 else None
                origin = buffer_of.get(src) if src is not None else None
                if origin is not None and st.alias:
                    buf = origin
                elif (origin is not None and st.facts.may_run_in_place and count[origin] == 1
                      and shape is not None and value_sig.get(src) == value_sig[tid]):
                    buf = origin
                elif shape:  # rank 0 values are never reused
                    buf = next((b for b in freelist if sig[b] == value_sig[tid]), None)
                    if buf is not None:
                        freelist.remove(buf)
            if buf is None:
                buf = tid
                nbytes = st.output_bytes[k] or 0
                if st.alias and st.inputs and st.inputs[0] not in buffer_of:
                    nbytes = 0  # a view of a weight
                buffers[tid] = Buffer(tid, arena_bytes(nbytes), i, n if tid in held else i)
                sig[tid] = value_sig[tid]
                count[tid] = 0
            buffer_of[tid] = buf
            count[buf] += uses.get(tid, 0) + (1 if tid in held else 0)
        scratch = st.facts.scratch
        if scratch is not None:
            in_bytes = sum(buffers[buffer_of[t]].nbytes for t in st.inputs if t in buffer_of)
            extra = scratch(st, in_bytes, sum(b or 0 for b in st.output_bytes))
            if isinstance(extra, int):
                extra = [extra]
            # Separate requests stay separate buffers, in the kernel's order: the arena rounds
            # each, and places each in a chunk of its own, so one large request may take a
            # whole free chunk (split only when it is at least twice the request,
            # bfc_arena.cc ``SplitFreeChunkFromBin``) and push the next into a new region
            # (the RNN kernels' IAllocatorUniquePtr buffers, deep_cpu_gru.cc /
            # uni_directional_lstm.cc ``AllocateBuffers``: one ``Allocate`` call each).
            for j, nbytes in enumerate(r for r in extra if r):
                sid = f"{st.row}#scratch" + (f"{j}" if j else "")
                buffers[sid] = Buffer(sid, arena_bytes(nbytes), i, i)
        for t in st.inputs:
            if t in buffer_of:
                release(buffer_of[t], i)
        for tid in st.outputs:
            buf = buffer_of[tid]
            if count[buf] == 0 and buf not in freelist:
                buffers[buf].end = i
                freelist.insert(0, buf)
    return list(buffers.values())


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
        f = st.facts
        value_ins = (st.inputs if f.value_inputs == ALL_INPUTS
                     else st.inputs[1:] if f.value_inputs == AFTER_FIRST else ())
        ok = (not f.shape_only_at_run_time and all(static(t) for t in st.inputs[:1] or ())
              and all(t not in produced or t in shape_values for t in value_ins)
              and all(static(t) for t in st.inputs))
        if f.makes_shape_value and st.inputs and static(st.inputs[0]):
            shape_values.update(st.outputs)
        elif f.passes_shape_values and all(t not in produced or t in shape_values
                                           for t in st.inputs):
            shape_values.update(st.outputs)
        if ok and all(sh is not None for sh in st.output_shapes):
            known.update(st.outputs)
    return known


#: onnxruntime's sequential executor and allocation planner (memory pattern off).
#: Reuse is decided on the load-time shapes the ONNX engine finds (``planning_shapes``).
ONNXRUNTIME = RuntimeModel("onnxruntime", order=onnxruntime_order, planner=onnxruntime_buffers,
                           planning_shapes=planning_shapes)
