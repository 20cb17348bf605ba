"""Issue #12's fixes, each on a corpus file (or one built the same way), through the real CLI.

Each of these failed before its fix (the commit that added it says how it was seen red)."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from conftest import cli_json  # noqa: E402
from test_corpus import ENTRIES, corpus_file, golden  # noqa: E402

TINY_ADAM = ROOT / "fixtures" / "corpus" / "tiny_adam.weights.h5"


def _h5_optimizer(path: Path) -> tuple[int, int]:
    """(elements, bytes) of the optimizer/ datasets of a weights file, read with h5py."""
    h5py = pytest.importorskip("h5py")
    sizes: list[tuple[int, int]] = []
    with h5py.File(path, "r") as f:
        f["optimizer"].visititems(lambda n, o: sizes.append(
            (math.prod(o.shape), math.prod(o.shape) * o.dtype.itemsize))
            if isinstance(o, h5py.Dataset) else None)
    return sum(s for s, _ in sizes), sum(b for _, b in sizes)


# ---- item 2: optimizer state is not params -------------------------------------------------

def test_keras_saved_after_training_counts_no_optimizer_state_as_params() -> None:
    """SentiToolKit.keras (Keras 3.5, Adam): params equal Keras's count_params(); the Adam
    state the file stores is its own figure and an info finding, not params."""
    e = ENTRIES["sentitoolkit-keras"]
    path = corpus_file(e)
    truth = golden(e["id"])
    data = cli_json(str(path))  # exit 0 checked there
    assert data["totals"]["params"] == truth["points"]["stored"]["params"] == 294_163
    assert data["totals"]["stored_params"] == 294_163
    # 588,328 optimizer elements: 2 x 294,163 slots (m, v) + iterations + learning rate;
    # all float32 but iterations (int64): 588,327 x 4 + 8 bytes.
    assert truth["weights"]["optimizer_elements"] == 588_328
    assert data["totals"]["stored_optimizer_bytes"] == 588_327 * 4 + 8
    found = [f for f in data["findings"] if f["code"] == "optimizer-state"]
    assert len(found) == 1 and found[0]["severity"] == "info"
    assert not [f for f in data["findings"] if f["code"] == "weights-unplaced"]
    # The training estimate counts Adam's slots once, from the model's params.
    assert data["totals"]["optimizer_state_bytes"] == 2 * 294_163 * 4


def test_weights_file_saved_after_training() -> None:
    """A Keras 3 .weights.h5 written by save_weights() after fit(): 62 params (Keras's
    count_params() when it was made), its 14 optimizer variables reported on their own."""
    elements, nbytes = _h5_optimizer(TINY_ADAM)
    data = cli_json(str(TINY_ADAM))
    assert data["totals"]["stored_params"] == data["totals"]["params"] == 62
    assert data["totals"]["stored_optimizer_bytes"] == nbytes
    assert elements == 2 * 62 - 2 * 8 + 2  # m, v per trainable weight (not BN's moving
    # mean/variance: 8), plus iterations and learning rate
    assert [f["code"] for f in data["findings"]] == ["no-architecture", "optimizer-state"]
    assert "optimizer" not in {row["name"] for row in data["layers"]}


def test_json_schema_declares_the_new_total() -> None:
    schema = json.loads((ROOT / "schema" / "memscan-1.schema.json").read_text())
    assert "stored_optimizer_bytes" in schema["$defs"]["totals"]["properties"]


# ---- item 7: weights-only files with --input -----------------------------------------------

@pytest.mark.parametrize("args", [("--input", "image=40,20"), ("--input", "40,20"),
                                  ("--batch", "4")], ids=["named", "unnamed", "batch"])
def test_weights_only_file_with_an_input_says_none_applies(args: tuple[str, ...]) -> None:
    """TADA's Keras 2.10 weights-only .h5: an input cannot apply (no architecture). One
    finding says so and what the report shows; the stored weights are still reported."""
    e = ENTRIES["tada-weights"]
    path = corpus_file(e)
    data = cli_json(str(path), *args)  # exit 0 checked there
    found = [f for f in data["findings"] if f["code"] == "input-not-applicable"]
    assert len(found) == 1 and "\n" not in found[0]["message"]
    assert "no architecture" in found[0]["message"] and "stored weights" in found[0]["message"]
    assert data["totals"]["params"] == golden(e["id"])["weights"]["stored_elements"] == 430_736


def test_weights_only_file_without_an_input_has_no_such_finding() -> None:
    data = cli_json(str(corpus_file(ENTRIES["tada-weights"])))
    assert [f["code"] for f in data["findings"]] == ["no-architecture"]
