"""ONNX shape engines as memscan's shape oracle, run on a weight-free copy of the model.

``weight_free`` turns every initializer (and Constant) whose payload was stripped into a typed
graph input with its dims, so neither engine needs weight bytes; small tensors kept by the
wire walker (Reshape targets, Slice bounds, Resize scales) stay, so data propagation works.
Stated value_info and output dims are dropped: they describe the export resolution and would
contradict the new one under strict mode.

``ShapeOracle(input_shapes)`` runs ``onnx.shape_inference.infer_shapes(strict_mode=True,
data_prop=True)`` (non-strict again if strict mode rejects the model) and onnxruntime's
``SymbolicShapeInference``, takes the shapes of whichever engine shaped more tensors, fills
its gaps from the other, and reports tensors left unshaped (never guessed) and non-tensor
values (sequences, maps, optionals). Neither engine writes files: onnxruntime's runs its
steps directly (its wrapper saves a temp model into the cwd on failure), inside a temporary
working folder as a second guard.
"""
from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from typing import Any, Mapping, Optional

from ..ir import ReaderFinding, Shape
from ..shapes.onnx_values import with_shape_values
from . import onnx_wire

MAX_LISTED = 50


def _has_values(t: Any) -> bool:
    if t.data_location == 1:
        return False
    n = 1
    for d in t.dims:
        n *= d
    if n == 0:
        return True
    return bool(t.raw_data or len(t.float_data) or len(t.int32_data) or len(t.int64_data)
                or len(t.double_data) or len(t.uint64_data) or len(t.string_data))


def weight_free(onnx: Any, model: Any) -> Any:
    """A copy of ``model`` whose weights without values are typed graph inputs instead."""
    helper = onnx.helper
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    have = {vi.name for vi in g.input}
    new_inputs = []
    keep = [t for t in g.initializer if _has_values(t)]
    for t in g.initializer:
        if not _has_values(t) and t.name not in have:
            new_inputs.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    del g.initializer[:]
    g.initializer.extend(keep)
    for s in g.sparse_initializer:
        if s.values.name not in have:
            new_inputs.append(helper.make_tensor_value_info(s.values.name, s.values.data_type,
                                                            list(s.dims)))
    del g.sparse_initializer[:]
    nodes = []
    for n in g.node:
        t = next((a.t for a in n.attribute if a.name == "value" and a.HasField("t")), None)
        if n.op_type == "Constant" and n.domain in ("", "ai.onnx") and t is not None \
                and not _has_values(t) and n.output:
            new_inputs.append(helper.make_tensor_value_info(n.output[0], t.data_type,
                                                            list(t.dims)))
        else:
            nodes.append(n)
    del g.node[:]
    g.node.extend(nodes)
    g.input.extend(new_inputs)
    del g.value_info[:]
    for o in g.output:
        if o.type.HasField("tensor_type"):
            o.type.tensor_type.ClearField("shape")
    return m


def with_inputs(onnx: Any, base: Any, shapes: Mapping[str, Shape]) -> Any:
    m = onnx.ModelProto()
    m.CopyFrom(base)
    for vi in m.graph.input:
        shape = shapes.get(vi.name)
        if shape is None or not vi.type.HasField("tensor_type"):
            continue
        tshape = vi.type.tensor_type.shape
        tshape.ClearField("dim")
        for d in shape:
            dim = tshape.dim.add()
            if d is not None:
                dim.dim_value = int(d)
    return m


def infer_types(onnx: Any, base: Any) -> list:
    """value_info of a type-only inference (no strictness): dtypes do not depend on shapes."""
    out = onnx.shape_inference.infer_shapes(base, check_type=False, strict_mode=False)
    return list(out.graph.value_info) + list(out.graph.output)


def type_label(tt: Any) -> str:
    """``sequence<float32>``, ``map<int64,float32>``, ``optional<...>`` for non-tensor types."""
    kind = tt.WhichOneof("value")
    if kind == "tensor_type":
        return onnx_wire.dtype_name(tt.tensor_type.elem_type)
    if kind == "sequence_type":
        return f"sequence<{type_label(tt.sequence_type.elem_type)}>"
    if kind == "optional_type":
        return f"optional<{type_label(tt.optional_type.elem_type)}>"
    if kind == "map_type":
        return (f"map<{onnx_wire.dtype_name(tt.map_type.key_type)},"
                f"{type_label(tt.map_type.value_type)}>")
    if kind == "sparse_tensor_type":
        return f"sparse<{onnx_wire.dtype_name(tt.sparse_tensor_type.elem_type)}>"
    return "unknown"


def collect(model: Any) -> tuple[dict[str, Shape], dict[str, str]]:
    """Fully known tensor shapes by name, and labels of non-tensor values."""
    shapes: dict[str, Shape] = {}
    others: dict[str, str] = {}
    g = model.graph
    for t in g.initializer:
        shapes[t.name] = tuple(int(d) for d in t.dims)
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        tt = vi.type
        if tt.HasField("tensor_type"):
            t = tt.tensor_type
            if not t.HasField("shape"):
                continue
            dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
            if all(d is not None and d >= 0 for d in dims):
                shapes[vi.name] = tuple(int(d) for d in dims)  # type: ignore[arg-type]
        elif tt.WhichOneof("value"):
            others[vi.name] = type_label(tt)
    return shapes, others


def symbolic_shapes(model: Any) -> dict[str, tuple]:
    """Shapes with symbolic dims kept: a number, a dim_param name, or None (unknown)."""
    out: dict[str, tuple] = {}
    g = model.graph
    for t in g.initializer:
        out[t.name] = tuple(int(d) for d in t.dims)
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        t = vi.type.tensor_type if vi.type.HasField("tensor_type") else None
        if t is None or not t.HasField("shape"):
            continue
        out.setdefault(vi.name, tuple(
            int(d.dim_value) if d.HasField("dim_value") else (d.dim_param or None)
            for d in t.shape.dim))
    return out


@contextlib.contextmanager
def _scratch_cwd():
    """Run inside an empty temporary folder, so nothing an engine writes is left behind."""
    old = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="memscan-ort-") as tmp:
        os.chdir(tmp)
        try:
            yield
        finally:
            os.chdir(old)


def run_onnx(onnx: Any, model: Any) -> tuple[Optional[Any], str]:
    try:
        return onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True,
                                                 data_prop=True), ""
    except Exception as exc:
        strict_error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}" \
            if str(exc).strip() else type(exc).__name__
    try:
        return onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True), \
            strict_error
    except Exception:
        return None, strict_error


_ORT_MODULE = "memscan_ort_symbolic_shape_infer"


def _ort_symbolic() -> Any:
    """onnxruntime's symbolic_shape_infer module, loaded from its file on its own.

    ``import onnxruntime.tools.symbolic_shape_infer`` runs ``onnxruntime/tools/__init__.py``,
    which imports torch when it is installed (seconds and ~300 MB); the module itself needs
    only onnx, numpy, sympy and packaging, and not onnxruntime's native library.
    """
    import importlib.util
    import sys

    if _ORT_MODULE in sys.modules:
        return sys.modules[_ORT_MODULE]
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("onnxruntime is not installed")
    path = os.path.join(list(spec.submodule_search_locations)[0], "tools",
                        "symbolic_shape_infer.py")
    file_spec = importlib.util.spec_from_file_location(_ORT_MODULE, path)
    if file_spec is None or file_spec.loader is None:
        raise ImportError(f"{path} not found")
    module = importlib.util.module_from_spec(file_spec)
    sys.modules[_ORT_MODULE] = module
    try:
        file_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_ORT_MODULE]
        raise
    return module


def run_ort(model: Any) -> tuple[Optional[Any], str]:
    try:
        ort = _ort_symbolic()
        SymbolicShapeInference, get_opset = ort.SymbolicShapeInference, ort.get_opset
    except Exception as exc:  # onnxruntime missing or broken: onnx's engine alone
        return None, f"onnxruntime unavailable ({type(exc).__name__})"
    ort_logger = logging.getLogger(_ORT_MODULE)
    level = ort_logger.level
    ort_logger.setLevel(logging.ERROR)
    try:
        opset = get_opset(model)
        if not opset or opset < 7:
            return None, "opset below 7"
        sym = SymbolicShapeInference(2**31 - 1, False, False, 0)
        steps = ("_preprocess", "_infer_impl", "_update_output_from_vi")
        if not all(hasattr(sym, n) for n in steps):
            # Another onnxruntime: its public wrapper, which saves a temp model into the cwd
            # when it fails; run it in a scratch folder deleted afterwards.
            with _scratch_cwd():
                return SymbolicShapeInference.infer_shapes(model, 2**31 - 1), ""
        # Its steps driven one by one write nothing (only infer_shapes saves on failure).
        sym._preprocess(model)
        complete = False
        while sym.run_:
            complete = sym._infer_impl()
        sym._update_output_from_vi()
        return sym.out_mp_, "" if complete else "incomplete"
    except Exception as exc:
        text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        return None, f"{type(exc).__name__}: {text}"
    finally:
        ort_logger.setLevel(level)


class ShapeOracle:
    """Callable with the stated input shapes; returns (shapes by tensor name, findings)."""

    def __init__(self, onnx: Any, base: Any, path: str, model: Any = None) -> None:
        self.onnx = onnx
        self.base = base
        self.path = path
        #: Shapes the file itself states (graph inputs, value_info, outputs): valid only at
        #: the stored input shapes, used then for what the engines cannot shape (values that
        #: depend on input data, ops without a schema).
        self.stated: dict[str, Shape] = {}
        self._planning: Optional[dict[str, tuple]] = None
        self.stored_inputs: dict[str, Shape] = {}
        if model is not None:
            self.stated, _ = collect(model)
            inits = {t.name for t in model.graph.initializer}
            for vi in model.graph.input:
                if vi.name not in inits:
                    self.stored_inputs[vi.name] = self.stated.get(vi.name, (None,))

    def __call__(self, input_shapes: Mapping[str, Shape]
                 ) -> tuple[dict[str, Shape], list[ReaderFinding]]:
        model = with_inputs(self.onnx, self.base, input_shapes)
        model, onnx_model, onnx_note = with_shape_values(self.onnx, model, run_onnx, collect)
        a, a_other = collect(onnx_model) if onnx_model is not None else ({}, {})
        wanted = self._wanted()
        count_a = sum(1 for t in wanted if t in a)
        if count_a + sum(1 for t in wanted if t in a_other) < len(wanted):
            ort_model, ort_note = run_ort(model)
        else:  # onnx shaped every value: onnxruntime cannot shape more (and costs ~1 s)
            ort_model, ort_note = None, "not run (onnx shaped every value)"
        b, b_other = collect(ort_model) if ort_model is not None else ({}, {})
        count_b = sum(1 for t in wanted if t in b)
        first, second = (a, b) if count_a >= count_b else (b, a)
        winner = "onnx" if count_a >= count_b else "onnxruntime"
        shapes = dict(first)
        disagree = []
        for name, s in second.items():
            if name not in shapes:
                shapes[name] = s
            elif shapes[name] != s and name in wanted:
                disagree.append(name)
        others = {**b_other, **a_other}
        findings = [ReaderFinding(
            "shape-engine", "info", None,
            f"shapes from {winner}'s shape inference ({max(count_a, count_b)} of {len(wanted)} "
            f"node outputs; onnx shaped {count_a}, onnxruntime {count_b})"
            + (f"; onnx strict mode: {onnx_note}" if onnx_note else "")
            + (f"; onnxruntime: {ort_note}" if ort_note else ""),
            {"engine": winner, "onnx_shaped": count_a, "onnxruntime_shaped": count_b,
             "tensors": len(wanted)})]
        if disagree:
            findings.append(ReaderFinding(
                "shape-engines-disagree", "warning", None,
                f"onnx and onnxruntime infer different shapes for {len(disagree)} tensors "
                f"(kept {winner}'s): {', '.join(disagree[:MAX_LISTED])}",
                {"tensors": disagree[:MAX_LISTED], "count": len(disagree)}))
        non_tensor = {t: others[t] for t in wanted if t in others and t not in shapes}
        if non_tensor:
            findings.append(ReaderFinding(
                "non-tensor-values", "info", None,
                f"{len(non_tensor)} values are not tensors and have no shape: "
                + ", ".join(f"{k} ({v})" for k, v in list(non_tensor.items())[:MAX_LISTED]),
                {"values": non_tensor}))
        unshaped = [t for t in wanted if t not in shapes and t not in non_tensor]
        at_stored = bool(self.stored_inputs) and all(
            tuple(input_shapes.get(n, ())) == s for n, s in self.stored_inputs.items())
        from_file = [t for t in unshaped if at_stored and t in self.stated]
        if from_file:
            for t in from_file:
                shapes[t] = self.stated[t]
            unshaped = [t for t in unshaped if t not in shapes]
            findings.append(ReaderFinding(
                "shapes-from-file", "info", None,
                f"{len(from_file)} tensors the engines could not shape take the shapes the file "
                f"states (valid at the stored input shapes, which are the ones analysed): "
                f"{', '.join(from_file[:MAX_LISTED])}",
                {"count": len(from_file), "tensors": from_file[:MAX_LISTED]}))
        if unshaped:
            findings.append(ReaderFinding(
                "unshaped-tensors", "warning", None,
                f"{len(unshaped)} tensors could not be shaped by either engine at this input "
                f"(their bytes are left out, never guessed): {', '.join(unshaped[:MAX_LISTED])}"
                + (" ..." if len(unshaped) > MAX_LISTED else ""),
                {"count": len(unshaped), "tensors": unshaped[:MAX_LISTED]}))
        return shapes, findings

    def planning_shapes(self) -> dict[str, tuple]:
        """Each value's shape as onnxruntime's planner sees it when it loads the file, before
        any input is given: onnx's inference at the file's own input dims, a dim either a
        number, a symbol (``"batch"``) or None (unknown). Its allocation planner reuses one
        value's buffer for another only when these agree (allocation_planner.cc,
        ``PlannerImpl::SameShape``: equal dim_value, or equal non-empty dim_param)."""
        if self._planning is None:
            try:  # no data propagation: onnxruntime's own at load time covers few ops
                inferred = self.onnx.shape_inference.infer_shapes(self.base, strict_mode=False)
            except Exception:
                inferred = None
            # onnx names the dims it cannot know (unk__N); onnxruntime's graph leaves them
            # empty, so only the file's own symbols count as dims it can compare
            own = {d for s in symbolic_shapes(self.base).values() for d in s
                   if isinstance(d, str)}
            self._planning = {
                t: tuple(d if not isinstance(d, str) or d in own else None for d in s)
                for t, s in (symbolic_shapes(inferred) if inferred is not None else {}).items()}
        return self._planning

    def _wanted(self) -> list[str]:
        seen: dict[str, None] = {}
        for n in self.base.graph.node:
            for o in n.output:
                if o:
                    seen.setdefault(o, None)
        for o in self.base.graph.output:
            seen.setdefault(o.name, None)
        return list(seen)
