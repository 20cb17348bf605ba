"""What-if dtypes: ``--dtype`` for activations, ``--weights-dtype`` for weights.

Only floating-point tensors are re-typed: an int64 shape tensor or an int32 index stays what
it is when the question is "what if the activations were float16".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

#: The dtypes ``--dtype`` and ``--weights-dtype`` accept.
WHAT_IF_DTYPES = ("float32", "float16", "bfloat16", "int8")

_FLOATING = frozenset({"float64", "float32", "float16", "bfloat16", "float8_e4m3fn",
                       "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz"})


@dataclass(frozen=True)
class DtypePlan:
    """The overrides in force (None: keep what the file says)."""

    activations: Optional[str] = None
    weights: Optional[str] = None

    def activation(self, dtype: str) -> str:
        return self.activations if self.activations and dtype in _FLOATING else dtype

    def weight(self, dtype: str) -> str:
        return self.weights if self.weights and dtype in _FLOATING else dtype
