"""Keras-2-only recurrent spellings, as Keras 2.x wrote them: CuDNNLSTM/CuDNNGRU (separate
input and recurrent biases), GRU without reset_after (Keras < 2.1.5), LSTM with time_major.
Weight shapes stored as Keras 2 stored them; memscan must need exactly those."""
from __future__ import annotations

import math
from pathlib import Path

from conftest import cli_json
from test_config_oddities import _layer, _write


def test_keras2_rnn_spellings(tmp_path: Path) -> None:
    layers = [
        _layer("InputLayer", "seq", [], batch_input_shape=[None, 30, 5], dtype="float32"),
        _layer("CuDNNLSTM", "cudnn_lstm", [("seq", 0)], units=8, return_sequences=True),
        _layer("CuDNNGRU", "cudnn_gru", [("cudnn_lstm", 0)], units=6, return_sequences=True,
               return_state=False),
        _layer("GRU", "old_gru", [("cudnn_gru", 0)], units=4, return_sequences=True,
               use_bias=True),
        _layer("LSTM", "tm_lstm", [("old_gru", 0)], units=3, return_sequences=True,
               time_major=True),
        _layer("SimpleRNN", "srnn", [("tm_lstm", 0)], units=2, return_state=True),
    ]
    config = {"class_name": "Model", "config": {
        "name": "k2", "layers": layers, "input_layers": [["seq", 0, 0]],
        "output_layers": [["srnn", 0, 0], ["srnn", 0, 1]]}}
    weights = {
        "cudnn_lstm": {"kernel:0": (5, 32), "recurrent_kernel:0": (8, 32), "bias:0": (64,)},
        "cudnn_gru": {"kernel:0": (8, 18), "recurrent_kernel:0": (6, 18), "bias:0": (36,)},
        "old_gru": {"kernel:0": (6, 12), "recurrent_kernel:0": (4, 12), "bias:0": (12,)},
        "tm_lstm": {"kernel:0": (4, 12), "recurrent_kernel:0": (3, 12), "bias:0": (12,)},
        "srnn": {"kernel:0": (3, 2), "recurrent_kernel:0": (2, 2), "bias:0": (2,)},
    }
    path = tmp_path / "k2.h5"
    _write(path, config, weights)
    data = cli_json(str(path))
    rows = {r["name"]: r for r in data["layers"]}
    assert data["findings"] == []
    for name, ws in weights.items():
        stored = sum(math.prod(s) for s in ws.values())
        assert rows[name]["params"] == rows[name]["stored_params"] == stored, name
    assert rows["cudnn_lstm"]["output_shapes"] == [[1, 30, 8]]
    assert rows["old_gru"]["output_shapes"] == [[1, 30, 4]]
    # time_major reads its input as (steps, batch, features) = (1, 30, 4) and returns
    # (steps, batch, units), as Keras 2 does.
    assert rows["tm_lstm"]["output_shapes"] == [[1, 30, 3]]
    assert rows["srnn"]["output_shapes"] == [[1, 2], [1, 2]]
