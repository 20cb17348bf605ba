"""The human table: layers, then totals with units written out, then findings."""
from __future__ import annotations

from tabulate import tabulate

from ..report import Report
from .units import MIB, at_least, mib, shapes_text, unshaped_line


#: Totals rows that sum activation bytes: lower bounds when a tensor has no shape.
LOWER_BOUNDS = frozenset({"feature maps", "total", "activation peak", "inference peak",
                          "arena", "training"})


def render(report: Report) -> str:
    m = report.model
    what_if = ", ".join(f"{k} {v}" for k, v in report.settings.items()
                        if k in ("dtype", "weights_dtype") and v)
    lines = [f"memscan: {m.path}  [{m.format}, {m.producer}]"
             + (f"  (what if: {what_if})" if what_if else ""),
             "inputs: " + ", ".join(f"{i.name} {shapes_text([i.shape])} {i.dtype}"
                                    for i in report.inputs) + f"   batch {report.batch}", ""]
    show_stored = any(r.params != r.stored_params for r in report.layers)
    headers = ["layer", "type", "output shape", "params"]
    if show_stored:
        headers.append("stored params")
    headers += ["param MiB", "activation MiB", "live MiB after"]
    rows = []
    for r in report.layers:
        row = [r.name, r.type, shapes_text(r.output_shapes), f"{r.params:,}"]
        if show_stored:
            row.append(f"{r.stored_params:,}")
        row += [mib(r.param_bytes), mib(r.activation_bytes), mib(r.live_bytes_after)]
        rows.append(row)
    lines.append(tabulate(rows, headers=headers, disable_numparse=True,
                          colalign=("left", "left", "left") + ("right",) * (len(headers) - 3)))
    t = report.totals
    lines += ["", "totals:"]
    total_rows = [
        ["params", f"{t.params:,}", "needed at this input"],
        ["params stored", f"{t.stored_params:,}", "in the file"],
        ["param memory", f"{mib(t.param_bytes, 2)} MiB", f"{t.param_bytes:,} bytes"],
        ["feature maps", f"{mib(t.feature_map_bytes, 2)} MiB",
         f"{t.feature_map_bytes:,} bytes, every layer's output summed, input included"],
        ["total", f"{mib(t.total_bytes, 2)} MiB", "param memory + feature maps"],
        ["activation peak", f"{mib(t.activation_peak_bytes, 2)} MiB",
         "most activations alive at once, layers run in order, each freed after its last "
         f"reader (inputs held: {mib(t.input_bytes, 2)} MiB; peak at {t.peak_layer or '-'})"],
        ["inference peak", f"{mib(t.inference_peak_bytes, 2)} MiB",
         "param memory + activation peak"],
        ["arena", f"{mib(t.arena_bytes, 2)} MiB",
         "one block holding every activation, placed largest first (TFLite's planner)"],
        ["training", f"{mib(t.training_bytes, 2)} MiB",
         f"param memory + gradients {mib(t.gradient_bytes, 2)} + {t.optimizer} state "
         f"{mib(t.optimizer_state_bytes, 2)} + kept activations "
         f"{mib(t.training_activation_bytes, 2)} MiB"],
        ["trainable", f"{mib(t.trainable_param_bytes, 2)} MiB",
         f"of param memory; {mib(t.non_trainable_param_bytes, 2)} MiB not trained "
         "(moving statistics, frozen layers)"],
    ]
    for row in total_rows:
        if row[0] in LOWER_BOUNDS:
            row[1] = at_least(row[1], t.complete)
    if t.layers_with_unknown_shapes:
        total_rows.append(["unknown", f"{t.layers_with_unknown_shapes} layers",
                           "activation bytes unknown, not in the sums"])
    lines.append(tabulate(total_rows, tablefmt="plain", disable_numparse=True,
                          colalign=("left", "right", "left")))
    if unshaped_line(t):
        lines.append(unshaped_line(t))
    lines += ["", f"findings: {len(report.findings) or 'none'}"]
    for f in report.findings:
        lines.append(f"  {f.severity:<7} {f.code:<22} {f.message}")
    return "\n".join(lines) + "\n"


__all__ = ["render", "MIB"]
