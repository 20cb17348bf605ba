"""The runtime models place buffers, not just a top byte: on every fixture no two buffers alive
at the same step share a byte of the arena, and the arena figure is the highest placed byte
(the invariant TensorFlow Lite Micro's greedy planner tests check). The ``.h5`` fixtures are
checked by tests/test_memory_model.py's invariants (which read them anyway); the others here."""
from __future__ import annotations

import pytest

from analyzer.analysis import read
from analyzer.errors import BadArguments
from analyzer.inputs import InputArg, resolve_inputs
from analyzer.ir import KERAS, ONNX, TF_GRAPH
from analyzer.liveness import RUNTIME_MODELS, liveness, runtime_model_for
from analyzer.runtime_model import Buffer, Placement, greedy_placements
from analyzer.shapes.infer import infer
from conftest import FIXTURES

#: The fixtures test_memory_model does not read: .keras zips, the ONNX export, the
#: SavedModels (tf1_conv through TensorFlow's engine; resnet50_export, a minute of tracing,
#: is left to test_savedmodel).
PATHS = sorted(FIXTURES.glob("keras_zip/*.keras")) + sorted(FIXTURES.glob("onnx/*.onnx")) + \
    [p for p in sorted(FIXTURES.glob("savedmodel/*")) if p.is_dir() and
     p.name != "resnet50_export"] + sorted(FIXTURES.glob("tflite/*.tflite"))


def overlaps(placements: list[Placement]) -> list[tuple[str, str]]:
    """Pairs of buffers alive at a common step whose byte ranges intersect."""
    bad = []
    ordered = sorted(placements, key=lambda p: p.offset)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1:]:
            if b.offset >= a.offset + a.nbytes:
                break
            if a.start <= b.end and b.start <= a.end:
                bad.append((a.buffer, b.buffer))
    return bad


def _liveness(path):
    graph = read(str(path))
    try:
        shapes = resolve_inputs(graph, [], None, path=str(path))
    except BadArguments:  # the file leaves the input size open
        shapes = resolve_inputs(graph, [InputArg(None, (256, 256, 3))], None, path=str(path))
    return liveness(infer(graph, shapes))


def assert_placed_apart(live) -> None:
    """Every non-empty buffer placed once, none overlapping another alive at the same step,
    the arena the highest placed byte (never below the peak)."""
    placed = {p.buffer for p in live.placements}
    assert placed == {b.id for b in live.buffers if b.nbytes}, "every buffer placed once"
    assert len(placed) == len(live.placements)
    assert not overlaps(live.placements)
    assert live.arena_bytes == max((p.offset + p.nbytes for p in live.placements), default=0)
    assert live.arena_bytes >= live.peak_bytes


@pytest.mark.parametrize("path", PATHS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_placements_never_overlap_and_arena_is_top(path) -> None:
    assert_placed_apart(_liveness(path))


def test_overlap_check_catches_a_bad_placement() -> None:
    """Two buffers alive together at the same offset are caught; apart in time they are not."""
    a, b = Placement("a", 0, 100, 0, 3), Placement("b", 64, 100, 2, 5)
    assert overlaps([a, b]) == [("a", "b")]
    assert overlaps([a, Placement("c", 0, 100, 4, 5)]) == []


def test_greedy_reuses_a_gap_by_hand() -> None:
    """a (0..1) and c (3..4) never live together: c takes a's bytes; b lives across both."""
    bufs = [Buffer("a", 400, 0, 1), Buffer("b", 800, 1, 4), Buffer("c", 300, 3, 4)]
    got = {p.buffer: (p.offset, p.nbytes) for p in greedy_placements(bufs)}
    assert got == {"b": (0, 800), "a": (800, 400), "c": (800, 300)}


def test_one_runtime_model_per_dialect() -> None:
    assert runtime_model_for(ONNX).name == "onnxruntime"
    assert runtime_model_for(KERAS) is runtime_model_for(TF_GRAPH)
    assert runtime_model_for("no-such-dialect").name == "file order"
    assert set(RUNTIME_MODELS) >= {KERAS, ONNX, TF_GRAPH}
