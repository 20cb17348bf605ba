"""What a reader hands its dialect's shape engine (``Graph.engine_input``): plain data only.

Readers build these; engines (``shapes/engines/``) read them. Nothing here runs anything, so
a reader never ships behaviour inside the graph and never imports an engine.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from .ir import Shape


@dataclass(frozen=True)
class OnnxModel:
    """An ONNX model for onnx's and onnxruntime's shape inference."""

    #: The weight-free ModelProto, serialized: every initializer without values is a typed
    #: graph input, stated value_info and output dims dropped (``onnx_proto.weight_free``).
    weight_free: bytes = field(repr=False)
    #: Shapes the file itself states (graph inputs, value_info, outputs): valid only at the
    #: stored input shapes, used then for what the engines cannot shape.
    stated: Mapping[str, Shape] = field(default_factory=dict)
    #: The graph inputs (not initializers) with the shapes the file stores for them.
    stored_inputs: Mapping[str, Shape] = field(default_factory=dict)
    #: Shapes the file states with its symbols kept (a number, a dim_param, or None):
    #: what onnxruntime's planner compares (``onnx_engine.planning_shapes``).
    stated_symbolic: Mapping[str, tuple] = field(default_factory=dict)


@dataclass(frozen=True)
class TfGraph:
    """A SavedModel signature's graph, for re-tracing with TensorFlow at a new input."""

    path: str
    #: ``saved_model.pb`` bytes (a ``.pbtxt`` already converted).
    saved_model: bytes = field(repr=False)
    #: Index of the meta graph used in ``SavedModel.meta_graphs``.
    meta_graph: int
    signature: str
    #: Signature input keys and output tensor names, in the graph's order.
    input_keys: tuple[str, ...]
    output_names: tuple[str, ...]
    #: Traced output tensor ids of the signature, and placeholder tensor -> input key.
    output_ids: tuple[str, ...]
    input_ids: Mapping[str, str]
    #: dtype per tensor id of the first trace (for ops TF cannot re-create).
    dtypes: Mapping[str, str]
    #: Traced op name -> its report row.
    row_of: Mapping[str, str]


@dataclass(frozen=True)
class TfliteModel:
    """What the TFLite engine needs besides the graph's nodes: shapes that never change
    (constants, variable tensors), the values of small integer constants, and the shapes the
    file stores for every activation (valid at the stored input only)."""

    constants: Mapping[str, Shape] = field(default_factory=dict)
    values: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    stored: Mapping[str, Shape] = field(default_factory=dict)
    stored_inputs: Mapping[str, Shape] = field(default_factory=dict)
