"""onnxruntime's default CPU arena (issue 13 item 5): ``analyzer/ort_arena.py`` simulates its
BFC arena over the replay's allocations; ``totals.onnxruntime_arena_held_bytes`` is what the
arena grows by during one run (optimizations off, memory pattern off, default OrtArenaCfg).

Each model here is built with onnx.helper so that onnxruntime's request sequence is known,
then run in onnxruntime's default arena (bench/accuracy.py ``measure_in_process(...,
"arena")``: each session has an arena of its own): the simulation of that sequence and memscan's figure must both equal
the bytes onnxruntime's arena actually grew by. The expected numbers in comments were
measured with onnxruntime 1.32; the asserts compare with a live run. A few seconds in all.
"""
from __future__ import annotations

import sys

import numpy as np
import pytest

from conftest import ROOT

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from accuracy import measure_in_process  # noqa: E402

from analyzer import ort_arena  # noqa: E402
from analyzer.analysis import analyse  # noqa: E402
from analyzer.inputs import InputArg  # noqa: E402
from analyzer.ort_arena import BFCArena, bin_num_for_size, rounded_bytes  # noqa: E402

KIB, MIB = 1024, 1024 * 1024
F = 4  # float32


def _save(path, nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, "arena", inputs, outputs, list(inits))
    onnx.save(helper.make_model(g, producer_name="memscan-tests",
                                opset_imports=[helper.make_opsetid("", 17)]), str(path))


def _vec(name, n=None):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [n])


def kept_outputs(path, sizes):
    """One input per size (floats), each negated into a graph output: outputs are never
    freed, so the arena sees exactly these requests and nothing else. onnxruntime runs the
    last leaf first, so the nodes are written in reverse: they run in the order given."""
    names = [f"y{k}" for k in range(len(sizes))]
    nodes = [helper.make_node("Neg", [f"x{k}"], [y]) for k, y in enumerate(names)]
    _save(path, nodes[::-1], [_vec(f"x{k}", n) for k, n in enumerate(sizes)],
          [_vec(y) for y in names])


def coalesce_chain(path):
    """x[64K] -> a = Concat(x, x) 512 KiB -> b = Slice(a) 256 KiB -> c = Concat(b ×5)
    1280 KiB -> d = Slice(c) 1 MiB. No op here runs in place or reuses a buffer. a splits the
    1 MiB region (a | 512 KiB free); b splits that (b | 256 KiB free); a is freed; c fits
    nowhere: a 2 MiB region (not split: 2 MiB < 2 × 1280 KiB); b is freed and coalesces with
    a's chunk and the tail into one 1 MiB chunk, which d takes: 3 MiB held. Without
    coalescing d would need a 4 MiB region (7 MiB)."""
    n = 64 * KIB // F * 4  # 65,536 floats
    inits = [numpy_helper.from_array(np.array([0], np.int64), "zero"),
             numpy_helper.from_array(np.array([n], np.int64), "n1"),
             numpy_helper.from_array(np.array([4 * n], np.int64), "n4")]
    nodes = [helper.make_node("Concat", ["x", "x"], ["a"], axis=0),
             helper.make_node("Slice", ["a", "zero", "n1"], ["b"]),
             helper.make_node("Concat", ["b"] * 5, ["c"], axis=0),
             helper.make_node("Slice", ["c", "zero", "n4"], ["d"])]
    _save(path, nodes, [_vec("x", n)], [_vec("d")], inits)
    return (n,)


def upsampler(path):
    """Conv, ConvTranspose ×2 (stride 2), Relu: the ConvTranspose filters are pre-packed into
    the arena when the session is created (``PREPACKED``), so the run starts with part of
    the first region taken."""
    rng = np.random.default_rng(0)
    inits, nodes = [], []
    c = 64
    inits += [numpy_helper.from_array(rng.standard_normal((c, 3, 3, 3)).astype(np.float32), "w0"),
              numpy_helper.from_array(rng.standard_normal((c, c, 2, 2)).astype(np.float32), "w1"),
              numpy_helper.from_array(rng.standard_normal((c, 16, 2, 2)).astype(np.float32),
                                      "w2")]
    nodes += [helper.make_node("Conv", ["x", "w0"], ["h0"], pads=[1, 1, 1, 1]),
              helper.make_node("ConvTranspose", ["h0", "w1"], ["h1"], strides=[2, 2]),
              helper.make_node("Relu", ["h1"], ["r1"]),
              helper.make_node("ConvTranspose", ["r1", "w2"], ["y"], strides=[2, 2])]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "H", "W"])
    _save(path, nodes, [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)


def _measured_growth(path, shape):
    """What the default arena grew by during the run. In this process: without
    ``session.use_env_allocators`` every session has an arena of its own, fresh."""
    m = measure_in_process(str(path), "arena", None if shape is None else list(shape))
    assert "error" not in m, m
    return m["arena_held_bytes"] - m["arena_held_before_first_node"]


def _simulated(requests):
    """Held bytes after ``requests`` (bytes, never freed) in a fresh default arena."""
    return ort_arena.run(("alloc", str(k), n) for k, n in enumerate(requests)).held_bytes


# --------------------------------------------------------------------------- BFC rules

def test_bins_and_rounding_follow_bfc_arena():
    assert [rounded_bytes(n) for n in (1, 256, 257, 1000)] == [256, 256, 512, 1024]
    assert [bin_num_for_size(n) for n in (256, 511, 512, 1 * MIB, 1 << 40)] == [0, 0, 1, 12, 20]


@pytest.mark.parametrize("sizes,held", [
    # 256 KiB splits the 1 MiB region (1 MiB >= 2 x 256 KiB): the second one fits: 1 MiB
    ((256 * KIB, 256 * KIB), 1 * MIB),
    # 640 KiB takes the whole 1 MiB chunk (not split: 1 MiB < 2 x 640 KiB), so 256 KiB
    # needs a new region, twice the first: 1 + 2 MiB
    ((640 * KIB, 256 * KIB), 3 * MIB),
    # 3 MiB: the region size doubles until it fits (1 -> 2 -> 4 MiB) and stays at 4 MiB
    # because it had to grow: the next region is 4 MiB too
    ((3 * MIB, 3 * MIB), 8 * MIB),
    # 700 KiB x 4: 1 MiB (whole), 2 MiB (split: 700 | 1348 KiB), 1348 KiB taken whole,
    # then a 4 MiB region: 7 MiB
    ((700 * KIB,) * 4, 7 * MIB),
])
def test_split_and_power_of_two_growth_match_onnxruntime(tmp_path, sizes, held):
    path = tmp_path / "kept.onnx"
    kept_outputs(path, [s // F for s in sizes])
    assert _simulated(sizes) == held
    assert _measured_growth(path, None) == held
    report = analyse(str(path))
    assert report.totals.onnxruntime_arena_held_bytes == held


def test_coalescing_matches_onnxruntime(tmp_path):
    path = tmp_path / "chain.onnx"
    shape = coalesce_chain(path)
    report = analyse(str(path), inputs=[InputArg(None, shape)])
    assert report.totals.onnxruntime_arena_held_bytes == 3 * MIB
    assert _measured_growth(path, shape) == 3 * MIB


def test_freed_neighbours_coalesce_on_the_class():
    """``coalesce_chain``'s request sequence on the class directly: b's chunk merges with
    a's and the tail into the 1 MiB that d takes (no coalescing: a third region)."""
    arena = BFCArena()
    a = arena.alloc(512 * KIB)
    b = arena.alloc(256 * KIB)
    arena.free(a)
    c = arena.alloc(1280 * KIB)
    arena.free(b)
    arena.alloc(1 * MIB)
    arena.free(c)
    assert arena.regions == [1 * MIB, 2 * MIB]


@pytest.mark.parametrize("hw,held", [((16, 16), 0), ((40, 48), 6 * MIB)])
def test_prepacked_convtranspose_filters_then_the_run(tmp_path, hw, held):
    """Measured: at 16×16 the run fits in the first region the session opened for the
    filters (grows by 0; without them in it: 1 MiB); at 40×48 it grows by 6 MiB (7 MiB)."""
    path = tmp_path / "up.onnx"
    upsampler(path)
    shape = (1, 3, *hw)
    report = analyse(str(path), inputs=[InputArg(None, shape)])
    assert report.totals.complete
    assert report.totals.onnxruntime_arena_held_bytes == _measured_growth(path, shape) == held


def gru_sequence(path, hidden=64, inp=8):
    """One forward GRU (no bias, no Y_h output) over X [T, 1, 8], Y the graph output. Its
    kernel asks the arena, one ``Allocate`` each (onnx_rnn_rules ``gru_requests``): a local
    Y_h, cur_h and batched_hidden0 (256 bytes each), outputZRH (3·T·64 floats), then
    sequence_lengths (256 bytes)."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((1, 3 * hidden, inp))
                                     .astype(np.float32), "W"),
             numpy_helper.from_array(rng.standard_normal((1, 3 * hidden, hidden))
                                     .astype(np.float32), "R")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["T", 1, inp])
    _save(path, [helper.make_node("GRU", ["x", "W", "R"], ["y"], hidden_size=hidden)], [x],
          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)


@pytest.mark.parametrize("steps,held", [(400, 1 * MIB), (700, 3 * MIB)])
def test_kernel_requests_are_placed_one_by_one(tmp_path, steps, held):
    """A kernel's separate working buffers are separate arena requests. At 700 steps Y
    (179,200 bytes) and three 256-byte buffers leave 868,608 free in the 1 MiB region;
    outputZRH (537,600) takes that whole chunk (not split: less than twice the request), so
    sequence_lengths opens a 2 MiB region: 3 MiB held (measured; onnxruntime's in-use peak
    is 1 MiB + 256). Summed into one 538,624-byte request the scratch would fit: 1 MiB.
    At 400 steps everything fits in the first region."""
    path = tmp_path / "gru.onnx"
    gru_sequence(path)
    shape = (steps, 1, 8)
    report = analyse(str(path), inputs=[InputArg(None, shape)])
    assert report.totals.complete
    assert report.totals.onnxruntime_arena_held_bytes == _measured_growth(path, shape) == held


def test_a_free_chunk_of_exactly_the_request_is_found_at_any_address():
    """Regions are placed at falling addresses, below zero once a file states a dim near
    int64's maximum (hostile case onnx-dim-int64-max): a freed chunk of exactly the requested
    size must still be found there, not skipped for an extension that then finds nothing."""
    arena = BFCArena()
    huge = 1 << 62
    first = arena.alloc(huge)
    assert first.ptr < 0
    arena.free(first)
    again = arena.alloc(huge)
    assert again is not None and again.ptr == first.ptr
    assert arena.held_bytes == huge
