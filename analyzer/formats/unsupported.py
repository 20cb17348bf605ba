"""Formats memscan knows but does not read: one line naming the format and the way forward.

Asked only after every reader's detector said no, so a format that gains a reader stops
being listed here by that alone. Recognised by magic bytes where the format has them, else
by the name; nothing in the file is parsed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

@dataclass(frozen=True)
class Known:
    name: str
    suffixes: tuple[str, ...]
    forward: str
    magic: bytes = b""
    magic_at: int = 0


KNOWN: tuple[Known, ...] = (
    Known("a PyTorch checkpoint", (".pt", ".pth", ".pt2"),
          "export the model to ONNX (torch.onnx.export) and run memscan on the .onnx file"),
    Known("a TensorRT engine", (".engine", ".plan", ".trt"),
          "an engine is built for one GPU and input profile: run memscan on the ONNX model it "
          "was built from"),
    Known("a Core ML model", (".mlmodel", ".mlpackage"),
          "run memscan on the Keras, SavedModel or ONNX model it was converted from"),
    Known("a GGUF file (llama.cpp)", (".gguf",),
          "it holds weights for llama.cpp's own graphs: run memscan on the model's ONNX "
          "export",
          magic=b"GGUF"),
    Known("a safetensors file", (".safetensors",),
          "it holds weights only, no architecture: run memscan on the model saved with its "
          "graph (Keras .keras/.h5, SavedModel or ONNX)"),
)


def reason(path: str, head: bytes, expected: str = "") -> str:
    """Why ``path`` cannot be read: the known format and its way forward, or the generic
    line naming the ``expected`` formats."""
    known = identify(path, head)
    if known is None:
        return f"not a model memscan can read (expected {expected})"
    return f"{known.name}, which memscan does not read; {known.forward}"


def identify(path: str, head: bytes) -> Optional[Known]:
    for k in KNOWN:
        if k.magic and head[k.magic_at:k.magic_at + len(k.magic)] == k.magic:
            return k
    suffix = os.path.splitext(os.path.normpath(path))[1].lower()
    for k in KNOWN:
        if suffix in k.suffixes:
            return k
    return None
