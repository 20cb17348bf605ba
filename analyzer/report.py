"""The report: plain data, the single thing every renderer reads. JSON output is this object.

Schema ``memscan/1``: keys may be added, none removed or renamed.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from .findings import Severity, ShapeStatus

SCHEMA = "memscan/1"

ShapeList = Optional[list[Optional[int]]]


@dataclass
class ModelInfo:
    path: str
    format: str
    producer: str
    name: str = ""
    #: Bytes transferred to read a remote artifact (a URL); None (and absent from JSON) for
    #: a local one.
    bytes_read: Optional[int] = None


@dataclass
class InputInfo:
    name: str
    shape: list[Optional[int]]
    dtype: str


@dataclass
class OutputInfo:
    """One graph output at the stated input: its tensor name, shape (None: unknown) and
    activation dtype (after a ``--dtype`` what-if)."""

    name: str
    shape: ShapeList
    dtype: str


@dataclass
class LayerRow:
    name: str
    type: str
    output_shapes: list[ShapeList]
    #: Params the layer needs at the stated input (stored params where that is unknown).
    params: int
    #: Params stored in the file for this layer.
    stored_params: int
    param_bytes: int
    #: Bytes of the layer's outputs (batch included); None when a shape is unknown.
    activation_bytes: Optional[int]
    dtype: str = "float32"
    #: "ok", or why shapes are missing: "no-rule", "unknown-input", "rejected"...
    shape_status: ShapeStatus = ShapeStatus.OK
    #: Part of param_bytes that training updates (the rest: moving stats, frozen layers).
    trainable_param_bytes: int = 0
    #: Activation bytes alive once this layer (its last call) has run and freed what it was
    #: the last reader of; None for rows that run nothing (weights-only files).
    live_bytes_after: Optional[int] = None
    #: The most activation bytes alive while this layer runs (inputs, outputs, all held).
    live_bytes_peak: Optional[int] = None
    #: Multiply-accumulates of the layer at this input (analyzer/macs.py's convention);
    #: None when a shape it needs is unknown.
    macs: Optional[int] = None
    #: Which total the row's output bytes go to: "activation" (feature maps), "index"
    #: (index_data_bytes), "generated" or "dequantized" (generated_weight_bytes).
    output_kind: str = "activation"


@dataclass
class Totals:
    params: int
    stored_params: int
    param_bytes: int
    feature_map_bytes: int
    total_bytes: int
    #: Layers whose activation bytes are unknown and so missing from feature_map_bytes.
    layers_with_unknown_shapes: int = 0
    #: Bytes of the graph inputs, which the caller holds for the whole run.
    input_bytes: int = 0
    #: Most activation bytes alive at once, layers run in order, freed after last use
    #: (graph inputs included).
    activation_peak_bytes: int = 0
    #: The layer during which that peak is reached.
    peak_layer: Optional[str] = None
    #: param_bytes + activation_peak_bytes.
    inference_peak_bytes: int = 0
    #: One block holding every activation, placed greedily largest first (TFLite's planner).
    arena_bytes: int = 0
    trainable_param_bytes: int = 0
    non_trainable_param_bytes: int = 0
    #: One gradient per trainable weight.
    gradient_bytes: int = 0
    #: Optimizer slots per trainable weight (sgd 0, momentum 1, adam 2).
    optimizer_state_bytes: int = 0
    optimizer: str = "adam"
    #: Forward activations kept for the backward pass: what each layer's gradient reads
    #: (analyzer/backward_saved.py), each tensor once, plus the graph inputs.
    training_activation_bytes: int = 0
    #: The backward pass's transient: activation gradients alive at once, at most.
    training_backward_bytes: int = 0
    #: param_bytes + gradient_bytes + optimizer_state_bytes + training_activation_bytes
    #: + training_backward_bytes.
    training_bytes: int = 0
    #: Optimizer state the file itself stores (a .keras saved after training): not params,
    #: in no figure above.
    stored_optimizer_bytes: int = 0
    #: Weights the graph computes at run time from stored data only (DequantizeLinear of a
    #: stored weight, ConstantOfShape/Range from constants): not feature maps, not params.
    generated_weight_bytes: int = 0
    #: Part of generated_weight_bytes computed from quantized (int8...) stored weights.
    dequantized_weight_bytes: int = 0
    #: Stored index data (int64/int32/bool/string shape vectors, indices), initializer or
    #: Constant node alike: not params, not feature maps.
    index_data_bytes: int = 0
    #: Multiply-accumulates of every layer with a known count (at least, when
    #: layers_with_unknown_macs > 0).
    macs: int = 0
    layers_with_unknown_macs: int = 0
    #: False when some tensor has no shape at this input: every activation figure above
    #: (feature maps, total, peaks, arena, training) leaves it out and is a lower bound.
    complete: bool = True
    #: How many tensors have no shape (their bytes are left out, never guessed).
    unshaped_tensors: int = 0
    #: ONNX only (None elsewhere): what onnxruntime's default CPU arena holds after one run
    #: (BFC arena, power-of-two regions; graph optimizations and memory pattern off), the
    #: replay's buffers allocated and freed in run order (analyzer/ort_arena.py). At least,
    #: when ``complete`` is false.
    onnxruntime_arena_held_bytes: Optional[int] = None

    def lower_bound(self, key: str) -> bool:
        """True when figure ``key`` is only "at least" in this report: an activation figure
        while some tensor has no shape, or the MACs while some layer's count is unknown."""
        if key == "macs":
            return self.layers_with_unknown_macs > 0
        return key in SHAPE_DEPENDENT and not self.complete


#: The totals that sum activation bytes, so leave out the tensors that have no shape.
SHAPE_DEPENDENT = frozenset({"feature_map_bytes", "total_bytes", "activation_peak_bytes",
                             "inference_peak_bytes", "arena_bytes", "training_bytes"})


@dataclass
class Finding:
    code: str
    severity: Severity
    layer: Optional[str]
    message: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "severity": self.severity,
                               "layer": self.layer, "message": self.message}
        out.update(self.extra)
        return out


@dataclass
class Report:
    model: ModelInfo
    batch: int
    inputs: list[InputInfo]
    layers: list[LayerRow]
    totals: Totals
    findings: list[Finding]
    schema: str = SCHEMA
    #: What-if settings in force: activation dtype and weights dtype overrides (None: as
    #: stored), optimizer of the training estimate.
    settings: dict[str, Any] = field(default_factory=dict)
    #: The graph's outputs, in the file's order.
    outputs: list[OutputInfo] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "model": {k: v for k, v in asdict(self.model).items()
                      if not (k == "bytes_read" and v is None)},
            "batch": self.batch,
            "inputs": [asdict(i) for i in self.inputs],
            "outputs": [asdict(o) for o in self.outputs],
            "layers": [asdict(r) for r in self.layers],
            "totals": asdict(self.totals),
            "findings": [f.to_dict() for f in self.findings],
            "settings": dict(self.settings),
        }
