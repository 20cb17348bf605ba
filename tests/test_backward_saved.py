"""The training estimate keeps what each layer's gradient reads (analyzer/backward_saved.py),
worked out by hand from the layer shapes of a small .h5 file."""
from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.analysis import analyse
from analyzer.backward_saved import KEEPS

ROOT = Path(__file__).resolve().parent.parent
F4 = 4  # float32

# flatten_dense.h5 (fixtures/models.py) at batch 1:
#   image (1, 64, 64, 3) -> conv Conv2D(4, 3, relu) (1, 62, 62, 4) -> pool MaxPooling2D
#   (1, 31, 31, 4) -> flatten (1, 3844), a view -> fc Dense(16, relu) (1, 16) -> logits (1, 2)
IMAGE = 64 * 64 * 3 * F4          # 49,152: the batch, held by the caller
CONV = 62 * 62 * 4 * F4           # 61,504: relu's result (threshold_backward reads result);
                                  #         also the pool's input (one tensor, kept once)
INDICES = 31 * 31 * 4 * 8         # 30,752: max pool's int64 argmax indices
POOL = 31 * 31 * 4 * F4           # 15,376: fc's input (mm reads it), through the Flatten view
FC = 16 * F4                      # 64: fc's relu result; also the logits' input
KEPT = IMAGE + CONV + INDICES + POOL + FC  # the logits' own output: no gradient reads it

# The backward walks the layers in reverse; at the pool's backward, alive are the tensors the
# conv and pool still need (image, conv result, indices) and the gradients of the conv
# result and of the pool output: CONV + POOL above the kept bytes at that point, and that
# point is the walk's highest: IMAGE + CONV + INDICES + CONV + POOL.
BACKWARD = IMAGE + CONV + INDICES + CONV + POOL - KEPT


@pytest.mark.parametrize("framework", ["keras3", "tf_keras"])
def test_kept_and_backward_by_hand(framework: str) -> None:
    t = analyse(str(ROOT / "fixtures" / framework / "flatten_dense.h5"), batch=1,
                optimizer="adam").totals
    assert t.training_activation_bytes == KEPT == 156_848
    assert t.training_backward_bytes == BACKWARD == 61_440
    assert t.training_bytes == (t.param_bytes + 3 * t.trainable_param_bytes + KEPT
                                + BACKWARD)


def test_batch_scales_kept_bytes() -> None:
    one = analyse(str(ROOT / "fixtures" / "keras3" / "flatten_dense.h5"), batch=1).totals
    two = analyse(str(ROOT / "fixtures" / "keras3" / "flatten_dense.h5"), batch=2).totals
    assert two.training_activation_bytes == 2 * one.training_activation_bytes
    assert two.training_backward_bytes == 2 * one.training_backward_bytes


def test_registry_is_per_layer_family() -> None:
    """Each family shares one function (the registry is a table, not a chain of cases)."""
    assert KEEPS["Conv2D"] is KEEPS["Dense"] is KEEPS["DepthwiseConv2D"]
    assert KEEPS["Add"] is KEEPS["Concatenate"]
