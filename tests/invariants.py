"""Invariants every report holds, whatever the model or format: the rows add up to the totals,
and the totals' own sums hold. Used on every fixture (test_schema.py) and every golden."""
from __future__ import annotations

from typing import Any


def totals_violations(report: dict[str, Any]) -> list[str]:
    """What does not add up in one JSON report (an empty list when everything does)."""
    rows, t = report["layers"], report["totals"]
    where = report["model"]["path"]
    checks = {
        "params": (sum(r["params"] for r in rows), t["params"]),
        "stored_params": (sum(r["stored_params"] for r in rows), t["stored_params"]),
        "param_bytes": (sum(r["param_bytes"] for r in rows), t["param_bytes"]),
        "trainable_param_bytes": (sum(r["trainable_param_bytes"] for r in rows),
                                  t["trainable_param_bytes"]),
        "non_trainable_param_bytes": (t["param_bytes"] - t["trainable_param_bytes"],
                                      t["non_trainable_param_bytes"]),
        "feature_map_bytes": (sum(r["activation_bytes"] or 0 for r in rows
                                  if r.get("output_kind", "activation") == "activation"),
                              t["feature_map_bytes"]),
        "generated_weight_bytes": (sum(r["activation_bytes"] or 0 for r in rows
                                       if r.get("output_kind") in ("generated", "dequantized")),
                                   t.get("generated_weight_bytes", 0)),
        "layers_with_unknown_shapes": (sum(r["activation_bytes"] is None for r in rows),
                                       t["layers_with_unknown_shapes"]),
        "total_bytes": (t["param_bytes"] + t["feature_map_bytes"], t["total_bytes"]),
        "inference_peak_bytes": (t["param_bytes"] + t["activation_peak_bytes"],
                                 t["inference_peak_bytes"]),
        "training_bytes": (t["param_bytes"] + t["gradient_bytes"] + t["optimizer_state_bytes"]
                           + t["training_activation_bytes"]
                           + t.get("training_backward_bytes", 0), t["training_bytes"]),
    }
    peaks = [r["live_bytes_peak"] for r in rows if r["live_bytes_peak"] is not None]
    if peaks:
        checks["activation_peak_bytes"] = (max(peaks), t["activation_peak_bytes"])
    out = [f"{where}: rows/sums give {key} {got:,}, totals say {want:,}"
           for key, (got, want) in checks.items() if got != want]
    ints = [k for r in rows for k in ("params", "stored_params", "param_bytes")
            if type(r[k]) is not int]
    if ints:
        out.append(f"{where}: non-integer {ints[0]} in a row")
    return out
