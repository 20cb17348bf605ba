"""The finding catalogue: every finding code memscan can emit, declared once.

A code's entry says its default severity, what it means in one line, and which module emits
it. ``--fail-on`` accepts exactly these codes (plus ``any-error``), the README's list and the
JSON Schema's ``enum`` are checked against this table by tests/test_findings.py, and every
``Finding(...)``/``ReaderFinding(...)`` in ``analyzer/`` names a ``Code`` member.

Adding a finding: one member below (code, default severity, meaning, emitting module), then
emit it with ``Finding(Code.NEW_CODE, Code.NEW_CODE.severity, ...)``; the tests list the
README line and the schema enum to update.

Severity, Code and ShapeStatus are ``str`` enums: they compare equal to, print as and
serialise to JSON as their plain string values, so reports are unchanged byte for byte.
"""
from __future__ import annotations

import difflib
from enum import Enum


class _StrEnum(str, Enum):
    """A str-valued enum whose str()/format() is the value (Python 3.10's enum has no
    StrEnum; 3.12 would otherwise print ``Severity.ERROR`` in f-strings)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class Severity(_StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class ShapeStatus(_StrEnum):
    """Why a node's (or a report row's) output shapes are, or are not, known."""

    OK = "ok"
    #: Shaped by the format's own engine (ONNX, TensorFlow), not a registry rule.
    FROM_ENGINE = "oracle"
    NO_RULE = "no-rule"
    UNKNOWN_INPUT = "unknown-input"
    REJECTED = "rejected"
    #: The format's engine could not shape the outputs and no rule covers the op.
    UNSHAPED = "unshaped"
    #: A weights-only file: no layer graph at all.
    NO_ARCHITECTURE = "no-architecture"


class Code(_StrEnum):
    """Every finding code: ``Code.X`` is the code string; ``.severity``, ``.meaning`` and
    ``.emitted_by`` describe it."""

    severity: Severity
    meaning: str
    emitted_by: str

    def __new__(cls, code: str, severity: Severity, meaning: str, emitted_by: str) -> "Code":
        member = str.__new__(cls, code)
        member._value_ = code
        member.severity = severity
        member.meaning = meaning
        member.emitted_by = emitted_by
        return member

    # ---- checks on the figures (analyzer/checks.py)
    INT32_PARAM_OVERFLOW = (
        "int32-param-overflow", Severity.ERROR,
        "a layer's or the model's param count is more than int32 holds", "analyzer/checks.py")
    INT32_ELEMENTS = (
        "int32-elements", Severity.ERROR,
        "a tensor has more elements than int32 indexing allows", "analyzer/checks.py")
    TENSOR_OVER_2GIB = (
        "tensor-over-2gib", Severity.WARNING,
        "a tensor is over 2 GiB (protobuf's and many runtimes' single-buffer limit)",
        "analyzer/checks.py")
    WEIGHTS_MISMATCH = (
        "weights-mismatch", Severity.ERROR,
        "stored weights do not fit the shapes the layer needs at this input (warning: a "
        "stored weight the config does not need)", "analyzer/checks.py")
    LAMBDA_LAYER = (
        "lambda-layer", Severity.WARNING,
        "a Lambda layer: its code is never run, its shape comes from its config or is unknown",
        "analyzer/checks.py")
    UNKNOWN_LAYER = (
        "unknown-layer", Severity.WARNING,
        "a layer class with no shape rule; what it feeds is marked unknown", "analyzer/checks.py")
    CUSTOM_LAYER = (
        "custom-layer", Severity.WARNING,
        "a custom (non-Keras) layer class: never imported or run, so its shapes are unknown",
        "analyzer/checks.py")
    SHAPE_ERROR = (
        "shape-error", Severity.ERROR,
        "a layer cannot run at the stated input (its shape rule rejects it)",
        "analyzer/checks.py")
    UNKNOWN_DTYPE = (
        "unknown-dtype", Severity.WARNING,
        "tensors whose dtype has no known size: their bytes are left out, figures are at least",
        "analyzer/checks.py")
    VALUE_DEPENDENT_BRANCH = (
        "value-dependent-branch", Severity.WARNING,
        "an ONNX If whose condition depends on an input's value and whose branches give "
        "different shapes: what it feeds is left unshaped", "analyzer/shapes/engines/onnx_engine.py")
    RULE_ENGINE_DISAGREE = (
        "rule-engine-disagree", Severity.WARNING,
        "a format's shape engine overrode a different shape from memscan's rule",
        "analyzer/shapes/infer.py")
    # ---- gates (analyzer/budget.py)
    OVER_BUDGET = (
        "over-budget", Severity.ERROR,
        "the --metric figure is over the --budget", "analyzer/budget.py")
    # ---- Keras readers
    NO_ARCHITECTURE = (
        "no-architecture", Severity.WARNING,
        "a weights-only file: no layer graph, so only weights are reported",
        "analyzer/formats/keras_h5.py")
    WEIGHTS_UNPLACED = (
        "weights-unplaced", Severity.WARNING,
        "weight tensors of a .keras file that match no layer; reported as loose weights",
        "analyzer/formats/keras_zip.py")
    NO_WEIGHTS = (
        "no-weights", Severity.INFO,
        "a .keras file that stores no model.weights.h5", "analyzer/formats/keras_zip.py")
    OPTIMIZER_STATE = (
        "optimizer-state", Severity.INFO,
        "a .keras/.weights.h5 saved after training also stores optimizer state; not params "
        "(totals.stored_optimizer_bytes)", "analyzer/formats/keras_container.py")
    INPUT_NOT_APPLICABLE = (
        "input-not-applicable", Severity.WARNING,
        "--input/--batch/--dim given for a weights-only file: no architecture, so ignored",
        "analyzer/analysis.py")
    # ---- SavedModel readers
    KERAS_CONFIG_NOT_USED = (
        "keras-config-not-used", Severity.INFO,
        "a SavedModel's Keras metadata could not be used; the traced graph is analysed",
        "analyzer/formats/savedmodel.py")
    VARIABLE_NOT_IN_INDEX = (
        "variable-not-in-index", Severity.WARNING,
        "SavedModel variables missing from variables.index; shapes from the object graph",
        "analyzer/formats/savedmodel.py")
    TF_UNSHAPED_OP = (
        "tf-unshaped-op", Severity.ERROR,
        "TensorFlow cannot shape a graph op at this input (warning: dims left unknown)",
        "analyzer/shapes/engines/tf_graph_engine.py")
    SIGNATURE_SHAPES = (
        "signature-shapes", Severity.INFO,
        "signature outputs TensorFlow cannot shape take the shapes the signature states",
        "analyzer/shapes/engines/tf_graph_engine.py")
    SIGNATURE_DISAGREE = (
        "signature-disagree", Severity.WARNING,
        "TensorFlow's shape of a signature output differs from the shape the signature states",
        "analyzer/shapes/engines/tf_graph_engine.py")
    # ---- ONNX reader and the onnx/onnxruntime shape engines
    EXTERNAL_DATA_OUTSIDE = (
        "external-data-outside", Severity.ERROR,
        "an ONNX weight names external data outside the model's folder; never opened",
        "analyzer/formats/onnx_reader.py")
    WEIGHT_SIZE_MISMATCH = (
        "weight-size-mismatch", Severity.ERROR,
        "an ONNX weight stores a different byte count than its dims and dtype declare",
        "analyzer/formats/onnx_reader.py")
    SHAPE_ENGINE = (
        "shape-engine", Severity.INFO,
        "which shape inference (onnx or onnxruntime) shaped the ONNX graph, and how much",
        "analyzer/shapes/engines/onnx_engine.py")
    SHAPE_ENGINES_DISAGREE = (
        "shape-engines-disagree", Severity.WARNING,
        "onnx and onnxruntime infer different shapes for some tensors",
        "analyzer/shapes/engines/onnx_engine.py")
    NON_TENSOR_VALUES = (
        "non-tensor-values", Severity.INFO,
        "ONNX values that are sequences, maps or optionals: no shape, no bytes",
        "analyzer/shapes/engines/onnx_engine.py")
    SHAPES_FROM_FILE = (
        "shapes-from-file", Severity.INFO,
        "tensors no engine could shape take the shapes the file states (stored input only)",
        "analyzer/shapes/engines/onnx_engine.py")
    UNSHAPED_TENSORS = (
        "unshaped-tensors", Severity.WARNING,
        "tensors neither engine could shape at this input; their bytes are left out",
        "analyzer/shapes/engines/onnx_engine.py")
    # ---- TFLite reader
    TFLITE_SUBGRAPHS = (
        "tflite-subgraphs", Severity.INFO,
        "the .tflite model has several subgraphs; the signature's (or the first) is analysed",
        "analyzer/formats/tflite.py")
    TFLITE_QUANTIZED = (
        "tflite-quantized", Severity.INFO,
        "quantized tensors: param bytes are their stored integer bytes (scales not counted)",
        "analyzer/formats/tflite.py")
    INCOMPLETE_SHAPES = (
        "incomplete-shapes", Severity.WARNING,
        "some tensor has no shape at this input: every activation figure is a lower bound (≥)",
        "analyzer/checks.py")


#: ``--fail-on`` value matching every finding of severity "error".
ANY_ERROR = "any-error"

#: code string -> its catalogue entry.
CATALOGUE: dict[str, Code] = {c.value: c for c in Code}


def did_you_mean(word: str, known: "list[str] | tuple[str, ...]") -> str:
    """``"; did you mean int32-param-overflow?"`` for the closest known word, else ``";"``
    (so a message can go on with the list of known words either way)."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ";"
