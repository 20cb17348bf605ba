"""The totals as (label, value, what it means) rows: the text table and HTML show the same."""
from __future__ import annotations

from ..report import Report
from .units import at_least, macs, mib, unshaped_line

#: Figures that leave out tensors of unknown size: marked ≥ when the report is incomplete.
LOWER_BOUNDS = frozenset({"feature maps", "total", "activation peak", "inference peak",
                          "arena", "training"})


def rows(report: Report) -> list[tuple[str, str, str]]:
    t = report.totals
    out = [
        ("params", f"{t.params:,}", "needed at this input"),
        ("params stored", f"{t.stored_params:,}", "in the file"),
        ("param memory", f"{mib(t.param_bytes, 2)} MiB", f"{t.param_bytes:,} bytes"),
        ("feature maps", f"{mib(t.feature_map_bytes, 2)} MiB",
         f"{t.feature_map_bytes:,} bytes, every layer's output summed, input included"),
        ("total", f"{mib(t.total_bytes, 2)} MiB", "param memory + feature maps"),
        ("activation peak", f"{mib(t.activation_peak_bytes, 2)} MiB",
         "most activations alive at once, layers run in order, each freed after its last "
         f"reader (inputs held: {mib(t.input_bytes, 2)} MiB; peak at {t.peak_layer or '-'})"),
        ("inference peak", f"{mib(t.inference_peak_bytes, 2)} MiB",
         "param memory + activation peak"),
        ("arena", f"{mib(t.arena_bytes, 2)} MiB",
         "one block holding every activation, placed largest first (TFLite's planner)"),
        ("training", f"{mib(t.training_bytes, 2)} MiB",
         f"param memory + gradients {mib(t.gradient_bytes, 2)} + {t.optimizer} state "
         f"{mib(t.optimizer_state_bytes, 2)} + kept activations "
         f"{mib(t.training_activation_bytes, 2)} + backward "
         f"{mib(t.training_backward_bytes, 2)} MiB"),
        ("trainable", f"{mib(t.trainable_param_bytes, 2)} MiB",
         f"of param memory; {mib(t.non_trainable_param_bytes, 2)} MiB not trained "
         "(moving statistics, frozen layers)"),
        ("MACs", macs(t.macs), f"{t.macs:,} multiply-accumulates"
         + (f", at least: {t.layers_with_unknown_macs} layers unknown"
            if t.layers_with_unknown_macs else "")),
    ]
    out = [(label, at_least(value, t.complete) if label in LOWER_BOUNDS else value, desc)
           for label, value, desc in out]
    if t.layers_with_unknown_shapes:
        out.append(("unknown", f"{t.layers_with_unknown_shapes} layers",
                    "activation bytes unknown, not in the sums"))
    return out


def note(report: Report) -> str:
    """The line saying why figures are marked ≥ ('' when nothing is left out)."""
    return unshaped_line(report.totals)
