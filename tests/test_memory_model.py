"""The memory model's invariants on every fixture, VGG16's peak by hand, and the CLI flags."""
from __future__ import annotations

import pytest

from analyzer.analysis import analyse, analyse_graph, read
from analyzer.errors import BadArguments
from analyzer.inputs import InputArg, resolve_inputs
from analyzer.liveness import liveness
from analyzer.shapes.infer import infer
from conftest import FIXTURES, cli_json, run_cli
from test_runtime_model import assert_placed_apart

MIB = 1024**2
ALL_FIXTURES = sorted(FIXTURES.glob("*/*.h5"))


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_invariants(path) -> None:
    graph = read(str(path))  # once: reading dominates, the figures below re-use it
    try:  # the input stored in the file, or 256x256x3 where the file leaves it open
        inputs: list[InputArg] = []
        one = analyse_graph(graph, str(path))
    except BadArguments:
        inputs = [InputArg(None, (256, 256, 3))]
        one = analyse_graph(graph, str(path), inputs=inputs)
    two = analyse_graph(graph, str(path), inputs=inputs, batch=2)
    # The runtime model's placements: no two buffers alive together overlap, and the arena
    # is the highest placed byte (docs/design.md, "Add a runtime model").
    live = liveness(infer(graph, resolve_inputs(graph, inputs, None, path=str(path))))
    assert_placed_apart(live)
    assert live.arena_bytes == one.totals.arena_bytes
    t, rows = one.totals, one.layers
    weights_only = any(f.code == "no-architecture" for f in one.findings)
    if weights_only:  # no graph: weights only, no activations at all
        assert t.activation_peak_bytes == t.feature_map_bytes == 0
    elif t.layers_with_unknown_shapes == 0:
        assert 0 < t.activation_peak_bytes <= t.feature_map_bytes
    assert t.arena_bytes >= t.activation_peak_bytes
    # Per-layer figures add up to the totals.
    assert sum(r.activation_bytes or 0 for r in rows) == t.feature_map_bytes
    assert sum(r.param_bytes for r in rows) == t.param_bytes
    assert sum(r.trainable_param_bytes for r in rows) == t.trainable_param_bytes
    assert t.trainable_param_bytes + t.non_trainable_param_bytes == t.param_bytes
    assert max(r.live_bytes_peak or 0 for r in rows) == t.activation_peak_bytes
    assert t.inference_peak_bytes == t.param_bytes + t.activation_peak_bytes
    assert t.training_bytes == (t.param_bytes + t.gradient_bytes + t.optimizer_state_bytes
                                + t.training_activation_bytes + t.training_backward_bytes)
    assert t.optimizer_state_bytes == 2 * t.trainable_param_bytes  # adam
    # The batch is always held; what the gradients read comes on top (max-pool indices and
    # recurrent gates are hidden tensors, so the feature-map sum is no bound on it).
    assert t.training_activation_bytes >= t.input_bytes
    # A report is complete exactly when no tensor lacks a shape ("at least" otherwise).
    assert t.complete == (t.unshaped_tensors == 0 and t.layers_with_unknown_shapes == 0)
    # Batch 2 doubles every activation figure and leaves the weights alone.
    u = two.totals
    assert u.complete == t.complete and u.unshaped_tensors == t.unshaped_tensors
    assert u.feature_map_bytes == 2 * t.feature_map_bytes
    assert u.activation_peak_bytes == 2 * t.activation_peak_bytes
    assert u.input_bytes == 2 * t.input_bytes
    # ... except BatchNormalization's batch statistics (a float32 mean and inverse std per
    # channel, kept for its backward), which do not grow with the batch.
    stats = sum(2 * 4 * r.output_shapes[0][-1] for r in rows
                if r.type == "BatchNormalization")
    assert u.training_activation_bytes == 2 * t.training_activation_bytes - stats
    assert u.arena_bytes >= u.activation_peak_bytes
    assert (u.param_bytes, u.trainable_param_bytes) == (t.param_bytes, t.trainable_param_bytes)
    assert [r.live_bytes_after and r.live_bytes_after * 2 for r in rows] == \
        [r.live_bytes_after for r in two.layers]


@pytest.mark.parametrize("framework", ["keras3", "tf_keras"])
def test_vgg16_peak_at_1024(framework: str) -> None:
    t = cli_json(str(FIXTURES / framework / "vgg16.h5"), "--input", "1024,1024,3")["totals"]
    # The caller's input (1024·1024·3·4 bytes = 12 MiB) plus block1_conv1's and
    # block1_conv2's outputs (1024·1024·64·4 bytes = 256 MiB each), alive together while
    # block1_conv2 runs; everything later is smaller.
    assert t["input_bytes"] == 12 * MIB
    assert t["activation_peak_bytes"] == (12 + 256 + 256) * MIB
    assert t["peak_layer"] == "block1_conv2"
    assert t["feature_map_bytes"] / MIB == 1216.0350646972656
    assert t["arena_bytes"] == (12 + 256 + 256) * MIB
    assert t["inference_peak_bytes"] == t["param_bytes"] + 524 * MIB


def test_table_shows_the_figures() -> None:
    proc = run_cli(str(FIXTURES / "keras3" / "vgg16_notop.h5"), "--input", "1024,1024,3")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "live MiB after" in out
    assert "activation peak" in out and "524.00 MiB" in out and "peak at block1_conv2" in out
    for label in ("inference peak", "arena", "training", "trainable"):
        assert f"\n{label} " in out
    assert "adam state" in out


def test_flags_change_the_figures() -> None:
    path = str(FIXTURES / "keras3" / "resnet50.h5")
    base = cli_json(path, "--input", "224,224,3")
    t = base["totals"]
    assert base["settings"] == {"dtype": None, "weights_dtype": None, "optimizer": "adam"}
    # ResNet50's BatchNormalization moving statistics are not trained.
    assert 0 < t["non_trainable_param_bytes"] < t["param_bytes"]
    sgd = cli_json(path, "--input", "224,224,3", "--optimizer", "sgd")["totals"]
    mom = cli_json(path, "--input", "224,224,3", "--optimizer", "momentum")["totals"]
    assert sgd["optimizer_state_bytes"] == 0
    assert mom["optimizer_state_bytes"] == t["trainable_param_bytes"]
    assert t["training_bytes"] - sgd["training_bytes"] == 2 * t["trainable_param_bytes"]
    half = cli_json(path, "--input", "224,224,3", "--dtype", "float16",
                    "--weights-dtype", "bfloat16")
    h = half["totals"]
    assert h["feature_map_bytes"] * 2 == t["feature_map_bytes"]
    assert h["activation_peak_bytes"] * 2 == t["activation_peak_bytes"]
    assert h["param_bytes"] * 2 == t["param_bytes"]
    assert {r["dtype"] for r in half["layers"]} == {"float16"}
    bad = run_cli(path, "--dtype", "float12")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
