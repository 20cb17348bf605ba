"""Conformance over the model.onnx files shipped inside the installed onnx package.

Every model is analysed in-process at the shapes of its own test inputs
(``test_data_set_0/input_*.pb``); every tensor-typed graph output's shape must equal the shape
of the matching expected output (``output_*.pb``), and non-tensor outputs (sequences,
optionals) must be reported as such, never given a shape.
"""
from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx")

from analyzer import formats  # noqa: E402
from analyzer.analysis import analyse_graph  # noqa: E402
from analyzer.inputs import InputArg, resolve_inputs  # noqa: E402
from analyzer.shapes.infer import infer  # noqa: E402

DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"
MODELS = sorted(glob.glob(str(DATA / "**" / "model.onnx"), recursive=True))


#: Outputs neither engine can shape from input *shapes* alone. They must be listed in the
#: ``unshaped-tensors`` finding (never guessed); the reason is why no shape engine can know.
UNSHAPEABLE = {
    "simple/test_sequence_model1": "out = SequenceAt(seq, pos_at): which tensor of the "
    "sequence (they differ in dim 0) is picked depends on the *value* of input pos_at",
    "simple/test_sequence_model4": "out = ConcatFromSequence(SequenceConstruct(X, Y, Z)): "
    "neither onnx nor onnxruntime tracks a sequence's length, so the concatenated dim is "
    "unknown to both (they give [2, ?, 4])",
}


def _pb(path: str, type_proto) -> tuple[str, object]:
    kind = type_proto.WhichOneof("value")
    raw = Path(path).read_bytes()
    if kind == "tensor_type":
        t = onnx.TensorProto()
        t.ParseFromString(raw)
        return "tensor", tuple(int(d) for d in t.dims)
    return kind, None


def test_there_are_about_140_models():
    assert len(MODELS) >= 100


@pytest.mark.parametrize("model_path", MODELS, ids=lambda p: os.path.relpath(
    os.path.dirname(p), DATA))
def test_conformance(model_path: str):
    folder = Path(model_path).parent
    proto = onnx.load(model_path, load_external_data=False)
    graph = formats.load(model_path)
    assert graph.format == "onnx"
    inits = {t.name for t in proto.graph.initializer}
    real_inputs = [vi for vi in proto.graph.input if vi.name not in inits]
    args = []
    for i, vi in enumerate(real_inputs):
        pb = folder / "test_data_set_0" / f"input_{i}.pb"
        kind, dims = _pb(str(pb), vi.type)
        if kind == "tensor":
            args.append(InputArg(vi.name, dims if dims else ()))
    args = [a for a in args if a.dims]  # scalars: the stored (empty) shape stands
    shapes = resolve_inputs(graph, args, None)
    inference = infer(graph, shapes)
    report = analyse_graph(graph, model_path, args)  # the whole pipeline, no exception
    assert report.model.format == "onnx"
    codes = {f.code for f in report.findings}
    non_tensor = next((f.extra["values"] for f in report.findings
                       if f.code == "non-tensor-values"), {})
    # Values onnx itself types as sequences (on the original model) are reported as such.
    typed = onnx.shape_inference.infer_shapes(proto)
    for vi in list(typed.graph.value_info) + list(typed.graph.output):
        if vi.type.WhichOneof("value") == "sequence_type":
            assert non_tensor.get(vi.name, "").startswith("sequence<"), (vi.name, non_tensor)
    for i, vi in enumerate(proto.graph.output):
        pb = folder / "test_data_set_0" / f"output_{i}.pb"
        kind, dims = _pb(str(pb), vi.type)
        rel = os.path.relpath(folder, DATA)
        if kind == "tensor" and rel in UNSHAPEABLE:
            unshaped = next(f.extra["tensors"] for f in report.findings
                            if f.code == "unshaped-tensors")
            assert vi.name in unshaped and inference.tensors.get(vi.name) is None
        elif kind == "tensor":
            assert inference.tensors.get(vi.name) == dims, (vi.name, codes)
        else:
            assert vi.name in non_tensor, (vi.name, kind, codes)
            assert inference.tensors.get(vi.name) is None


SEQUENCE_MODELS = [p for p in MODELS if "sequence" in p]


@pytest.mark.parametrize("model_path", SEQUENCE_MODELS, ids=lambda p: os.path.relpath(
    os.path.dirname(p), DATA))
def test_sequence_values_are_reported_as_such(model_path: str):
    proto = onnx.load(model_path)
    typed = onnx.shape_inference.infer_shapes(proto)
    seqs = [vi.name for vi in list(typed.graph.value_info) + list(typed.graph.output)
            if vi.type.WhichOneof("value") == "sequence_type"]
    assert seqs
    graph = formats.load(model_path)
    report = analyse_graph(graph, model_path)
    listed = next(f.extra["values"] for f in report.findings if f.code == "non-tensor-values")
    assert all(listed.get(name, "").startswith("sequence<") for name in seqs), listed
