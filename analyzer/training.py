"""The training estimate: weights + gradients + optimizer state + activations kept.

- gradients: one per trainable weight, at the weight's dtype;
- optimizer state: slots per trainable weight (SGD none, momentum one velocity, Adam the
  first and second moments);
- activations kept: the tensors each layer's gradient reads, as autograd keeps them
  (``backward_saved``: one entry per layer family, citing PyTorch's derivatives.yaml);
- the backward pass's transient: the activation gradients of the layer whose backward has
  the most of them alive (``backward_saved.backward_transient_bytes``).
Non-trainable weights (BatchNorm moving statistics, frozen layers) get no gradient or slot.
"""
from __future__ import annotations

from dataclasses import dataclass

#: Optimizer name -> state slots per trainable weight.
OPTIMIZER_SLOTS: dict[str, int] = {"sgd": 0, "momentum": 1, "adam": 2}


@dataclass(frozen=True)
class TrainingFigures:
    optimizer: str
    param_bytes: int
    trainable_bytes: int
    gradient_bytes: int
    optimizer_state_bytes: int
    activation_bytes: int
    backward_bytes: int = 0

    @property
    def non_trainable_bytes(self) -> int:
        return self.param_bytes - self.trainable_bytes

    @property
    def total(self) -> int:
        return (self.param_bytes + self.gradient_bytes + self.optimizer_state_bytes
                + self.activation_bytes + self.backward_bytes)


def training_figures(param_bytes: int, trainable_bytes: int, kept_activation_bytes: int,
                     optimizer: str = "adam", backward_bytes: int = 0) -> TrainingFigures:
    slots = OPTIMIZER_SLOTS[optimizer]
    return TrainingFigures(optimizer=optimizer, param_bytes=param_bytes,
                           trainable_bytes=trainable_bytes, gradient_bytes=trainable_bytes,
                           optimizer_state_bytes=slots * trainable_bytes,
                           activation_bytes=kept_activation_bytes,
                           backward_bytes=backward_bytes)
