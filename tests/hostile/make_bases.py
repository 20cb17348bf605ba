"""Build the few well-formed base artifacts the hostile corpus mutates (needs Keras / tf-keras).

Run once, on purpose: ``python tests/hostile/make_bases.py``. Writes into fixtures/hostile/:
``base.keras`` (Keras 3 zip) and ``base_savedmodel/`` (tf-keras SavedModel with
keras_metadata.pb). Both are tiny Dense models; make_corpus.py derives every hostile file from
them (and builds the ONNX and HDF5 ones itself, without TensorFlow).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "fixtures" / "hostile"


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    OUT.mkdir(parents=True, exist_ok=True)
    import keras

    m = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, name="d1"),
                          keras.layers.Dense(2, name="d2")], name="base")
    m.save(OUT / "base.keras")

    import tf_keras

    t = tf_keras.Sequential([tf_keras.Input((8,)), tf_keras.layers.Dense(4, name="d1"),
                             tf_keras.layers.Dense(2, name="d2")], name="base")
    sm = OUT / "base_savedmodel"
    shutil.rmtree(sm, ignore_errors=True)
    t.save(str(sm), save_format="tf")


if __name__ == "__main__":
    main()
