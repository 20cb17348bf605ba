"""The ONNX shape engine: onnx's and onnxruntime's shape inference, run on the weight-free
copy of the model the reader stored (``engine_inputs.OnnxModel``).

``shape(graph, input_shapes)`` runs ``onnx.shape_inference.infer_shapes(strict_mode=True,
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

from ...engine_inputs import OnnxModel
from ...errors import typed_first_line
from ...findings import Code, Severity
from ...formats.onnx_proto import collect, symbolic_shapes
from ...ir import Graph, ReaderFinding, Shape
from ..onnx_branches import agreeing, undecided_ifs
from ..onnx_values import with_shape_values

MAX_LISTED = 50
#: Every ONNX shape comes from the engines: an op they leave unshaped is "unshaped", not
#: "no-rule" (the ONNX rules only check what the engines accept silently).
SHAPES_EVERY_OP = True
#: ``shape`` takes the shapes rules found (``stated``) and runs again with them.
TAKES_STATED = True


def _import_onnx() -> Any:
    import onnx  # heavy: only for ONNX graphs

    return onnx


def with_stated(onnx: Any, model: Any, stated: Mapping[str, Shape],
                dtypes: Mapping[str, str]) -> Any:
    """``model`` (in place) with each ``stated`` tensor's shape written as its value_info,
    replacing what the file says of it: shapes memscan's rules found for ops no engine
    knows (a com.microsoft DynamicQuantizeLSTM), so the engines can shape what follows.
    A tensor whose element type is unknown is left out (a value_info needs one)."""
    g = model.graph
    codes = {n: _onnx_dtype(onnx, dtypes.get(n)) for n in stated}
    stated = {n: s for n, s in stated.items() if codes[n]}
    if not stated:
        return model
    kept = [vi for vi in g.value_info if vi.name not in stated]
    del g.value_info[:]
    g.value_info.extend(kept)
    for name, shape in stated.items():
        vi = g.value_info.add()
        vi.name = name
        vi.type.tensor_type.elem_type = codes[name]
        dims = vi.type.tensor_type.shape
        for d in shape:
            dim = dims.dim.add()
            if d is not None:
                dim.dim_value = int(d)
    return model


def _onnx_dtype(onnx: Any, name: Optional[str]) -> int:
    """ONNX's element-type code of a numpy-style dtype name (0 when there is none)."""
    if not name:
        return 0
    try:
        import numpy as np
        return int(onnx.helper.np_dtype_to_tensor_dtype(np.dtype(name)))
    except Exception:  # bfloat16, float8...: numpy has no such dtype here
        return 0


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
        strict_error = typed_first_line(exc)
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
        return None, typed_first_line(exc)
    finally:
        ort_logger.setLevel(level)


def shape(graph: Graph, input_shapes: Mapping[str, Shape],
          stated: Optional[Mapping[str, Shape]] = None
          ) -> tuple[dict[str, Shape], list[ReaderFinding]]:
    """Shapes by tensor name at ``input_shapes``, and findings on what is left unshaped.
    ``stated``: shapes found outside the engines (rules), given to them as value_info."""
    data = graph.engine_input
    if not isinstance(data, OnnxModel):  # a hand-built graph: its given shapes only
        return {}, []
    onnx = _import_onnx()
    base = onnx.ModelProto()
    base.ParseFromString(data.weight_free)
    model = with_stated(onnx, with_inputs(onnx, base, input_shapes), stated or {},
                        graph.known_dtypes)
    model, onnx_model, onnx_note = with_shape_values(onnx, model, run_onnx, collect)
    a, a_other = collect(onnx_model) if onnx_model is not None else ({}, {})
    wanted = _wanted(base)
    undecided: dict[str, str] = {}
    if undecided_ifs(model) and any(t not in a and t not in a_other for t in wanted):
        split = agreeing(onnx, model, lambda m, budget: _shaped_branches(onnx, m, budget))
        if split is not None:
            a = {**split[0], **a}
            a_other = {**split[1], **a_other}
            undecided = split[2]
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
        Code.SHAPE_ENGINE, Severity.INFO, None,
        f"shapes from {winner}'s shape inference ({max(count_a, count_b)} of {len(wanted)} "
        f"node outputs; onnx shaped {count_a}, onnxruntime {count_b})"
        + (f"; onnx strict mode: {onnx_note}" if onnx_note else "")
        + (f"; onnxruntime: {ort_note}" if ort_note else "")
        + (f"; run again with {len(stated)} tensors shaped by memscan's rules for ops the "
           f"engines do not know: {', '.join(list(stated)[:MAX_LISTED])}" if stated else ""),
        {"engine": winner, "onnx_shaped": count_a, "onnxruntime_shaped": count_b,
         "tensors": len(wanted), "stated_by_rules": len(stated or {})})]
    if disagree:
        findings.append(ReaderFinding(
            Code.SHAPE_ENGINES_DISAGREE, Severity.WARNING, None,
            f"onnx and onnxruntime infer different shapes for {len(disagree)} tensors "
            f"(kept {winner}'s): {', '.join(disagree[:MAX_LISTED])}",
            {"tensors": disagree[:MAX_LISTED], "count": len(disagree)}))
    non_tensor = {t: others[t] for t in wanted if t in others and t not in shapes}
    if non_tensor:
        findings.append(ReaderFinding(
            Code.NON_TENSOR_VALUES, Severity.INFO, None,
            f"{len(non_tensor)} values are not tensors and have no shape: "
            + ", ".join(f"{k} ({v})" for k, v in list(non_tensor.items())[:MAX_LISTED]),
            {"values": non_tensor}))
    unshaped = [t for t in wanted if t not in shapes and t not in non_tensor]
    at_stored = bool(data.stored_inputs) and all(
        tuple(input_shapes.get(n, ())) == s for n, s in data.stored_inputs.items())
    from_file = [t for t in unshaped if at_stored and t in data.stated]
    if from_file:
        for t in from_file:
            shapes[t] = data.stated[t]
        unshaped = [t for t in unshaped if t not in shapes]
        findings.append(ReaderFinding(
            Code.SHAPES_FROM_FILE, Severity.INFO, None,
            f"{len(from_file)} tensors the engines could not shape take the shapes the file "
            f"states (valid at the stored input shapes, which are the ones analysed): "
            f"{', '.join(from_file[:MAX_LISTED])}",
            {"count": len(from_file), "tensors": from_file[:MAX_LISTED]}))
    if unshaped and undecided:
        findings.append(ReaderFinding(
            Code.VALUE_DEPENDENT_BRANCH, Code.VALUE_DEPENDENT_BRANCH.severity, None,
            "; ".join(f"If {name}: {why}" for name, why in list(undecided.items())[:4])
            + ": what it feeds is left unshaped (onnxruntime picks the branch at run time)",
            {"ifs": undecided}))
    if unshaped:
        findings.append(ReaderFinding(
            Code.UNSHAPED_TENSORS, Severity.WARNING, None,
            f"{len(unshaped)} tensors could not be shaped by either engine at this input "
            f"(their bytes are left out, never guessed): {', '.join(unshaped[:MAX_LISTED])}"
            + (" ..." if len(unshaped) > MAX_LISTED else ""),
            {"count": len(unshaped), "tensors": unshaped[:MAX_LISTED]}))
    return shapes, findings


def _shaped_branches(onnx: Any, model: Any, budget: int
                     ) -> tuple[dict[str, Shape], dict[str, str], dict[str, str]]:
    """onnx's shapes of one branch copy (its shape values folded), splitting again on the
    next undecided If while ``budget`` allows; shapes, non-tensor labels, undecided Ifs."""
    work, inferred, _ = with_shape_values(onnx, model, run_onnx, collect)
    shapes, others = collect(inferred) if inferred is not None else ({}, {})
    split = agreeing(onnx, work, lambda m, b: _shaped_branches(onnx, m, b), budget)
    if split is None:
        return shapes, others, {}
    return {**split[0], **shapes}, {**split[1], **others}, split[2]


def planning_shapes(graph: Graph) -> Optional[dict[str, tuple]]:
    """Each value's shape as onnxruntime's planner sees it when it loads the file, before any
    input is given: the value_info the file states (dynamo exports state every value with
    its symbols; onnxruntime's NodeArgs start from them, graph.cc), else onnx's inference at
    the file's own input dims, without data propagation
    (onnxruntime's own at load time covers few ops), a dim a number, one of the file's own
    symbols (``"batch"``) or None. The ``unk__N`` names onnx invents for dims it cannot know
    count as None: onnxruntime's graph leaves those dims empty. Its allocation planner reuses
    a buffer only between values whose such shapes agree (allocation_planner.cc,
    ``PlannerImpl::SameShape``: equal dim_value, or equal non-empty dim_param)."""
    data = graph.engine_input
    if not isinstance(data, OnnxModel):
        return None
    onnx = _import_onnx()
    base = onnx.ModelProto()
    base.ParseFromString(data.weight_free)
    try:
        inferred = onnx.shape_inference.infer_shapes(base, strict_mode=False)
    except Exception:  # a model onnx rejects: the stated shapes stand in
        return None
    stated = dict(data.stated_symbolic)
    own = {d for s in list(symbolic_shapes(base).values()) + list(stated.values()) for d in s
           if isinstance(d, str)}
    inferred_shapes = {t: tuple(d if not isinstance(d, str) or d in own else None for d in s)
                       for t, s in symbolic_shapes(inferred).items()}
    return {**inferred_shapes, **stated}


def _wanted(base: Any) -> list[str]:
    """Every node output and graph output, once, in file order."""
    seen: dict[str, None] = {}
    for n in base.graph.node:
        for o in n.output:
            if o:
                seen.setdefault(o, None)
    for o in base.graph.output:
        seen.setdefault(o.name, None)
    return list(seen)
