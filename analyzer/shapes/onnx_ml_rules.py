"""Shape rules for classic-ML ONNX ops (domain ``ai.onnx.ml``), which neither shape engine
shapes once the model has no ai.onnx opset (skl2onnx / onnxmltools pipelines).

Their input is a batch of feature rows, ``[N, C]`` (or one row ``[C]``). The class count
comes from the class labels (``classlabels_*``), the target count from ``n_targets``:
- LinearClassifier, SVMClassifier, TreeEnsembleClassifier: label ``[N]``, scores ``[N, E]``
  (E: one column per class; a binary model storing one class's coefficients still gives 2);
- LinearRegressor, SVMRegressor, TreeEnsembleRegressor, TreeEnsemble: ``[N, targets]``;
- Normalizer, Scaler, Binarizer, Imputer: the input's shape;
- ZipMap: a sequence of maps, not a tensor: no shape (none exists).
"""
from __future__ import annotations

from typing import Any, Optional

from .registry import RuleCall, RuleResult, rule

ONNX = "onnx"

Shape = Optional[tuple[Optional[int], ...]]


def _rows(call: RuleCall) -> Optional[int]:
    x = call.inputs[0] if call.inputs else None
    if x is None or len(x) == 0:
        return None
    return 1 if len(x) == 1 else x[0]


def _count(cfg: Any, *names: str) -> int:
    lengths = cfg.get("list_lengths", {})
    return next((lengths[n] for n in names if lengths.get(n)), 0)


def _classes(call: RuleCall, weights_per_class: int) -> int:
    labels = _count(call.cfg, "classlabels_ints", "classlabels_strings")
    return 2 if labels == 2 and weights_per_class == 1 else labels or weights_per_class


def _classified(call: RuleCall, classes: int) -> RuleResult:
    n = _rows(call)
    if n is None or classes <= 0:
        return RuleResult([None] * len(call.node.outputs), weights_unknown=True)
    return RuleResult([(n,), (n, classes)][:len(call.node.outputs)], weights_unknown=True)


@rule("LinearClassifier", dialect=ONNX)
def linear_classifier(call: RuleCall) -> RuleResult:
    return _classified(call, _classes(call, _count(call.cfg, "intercepts")))


@rule("SVMClassifier", dialect=ONNX)
def svm_classifier(call: RuleCall) -> RuleResult:
    return _classified(call, _classes(call, 0))


@rule("TreeEnsembleClassifier", dialect=ONNX)
def tree_classifier(call: RuleCall) -> RuleResult:
    return _classified(call, _classes(call, 0))


@rule("LinearRegressor", "SVMRegressor", "TreeEnsembleRegressor", "TreeEnsemble",
      dialect=ONNX)
def regressor(call: RuleCall) -> RuleResult:
    n = _rows(call)
    targets = int(call.cfg.get("n_targets", call.cfg.get("targets", 1)) or 1)
    return RuleResult([None if n is None else (n, targets)], weights_unknown=True)


@rule("Normalizer", "Scaler", "Binarizer", "Imputer", dialect=ONNX)
def same_shape(call: RuleCall) -> RuleResult:
    x = call.inputs[0] if call.inputs else None
    return RuleResult([None if x is None else tuple(x)], weights_unknown=True)


@rule("ZipMap", dialect=ONNX)
def zipmap(call: RuleCall) -> RuleResult:
    return RuleResult([None], weights_unknown=True)
