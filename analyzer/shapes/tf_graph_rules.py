"""The TensorFlow-graph dialect's op records (graph-only SavedModels).

Every row of a TF graph is shaped by TensorFlow's own op shape functions
(``shapes/engines/tf_graph.py``), so one rule covers every op: it says the engine did the
work. TF ops that only reinterpret their input (Identity, Reshape...) are folded by the
reader while it groups ops into rows, so no row needs runtime facts yet.
"""
from __future__ import annotations

from .registry import RuleCall, RuleResult, every_op

DIALECT = "tf-graph"


@every_op(DIALECT)
def shaped_by_tensorflow(call: RuleCall) -> RuleResult:
    """Outputs TensorFlow left unknown stay unknown (the engine reported why), never
    guessed; params are the stored variables the row reads."""
    return RuleResult(outputs=[None] * len(call.node.outputs), weights_unknown=True)
