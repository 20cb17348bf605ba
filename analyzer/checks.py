"""Figures to findings. One small function per check in a registry; each yields Findings.

Codes are stable: tools and ``--fail-on`` match them.
"""
from __future__ import annotations

import math
from typing import Callable, Iterator

from .ir import Graph, dtype_bytes, dtype_known
from .memory import LayerFigures, walk
from .report import Finding, Totals
from .shapes.infer import NO_RULE, REJECTED, GraphInference

INT32_MAX = 2**31 - 1
TWO_GIB = 2**31


def wrap_int32(value: int) -> int:
    """What a 32-bit signed counter holds after counting to ``value``."""
    return (value + 2**31) % 2**32 - 2**31


class CheckInput:
    def __init__(self, graph: Graph, inference: GraphInference, figures: list[LayerFigures],
                 totals: Totals) -> None:
        self.graph = graph
        self.inference = inference
        self.figures = figures
        self.totals = totals


Check = Callable[[CheckInput], Iterator[Finding]]
CHECKS: list[Check] = []


def check(fn: Check) -> Check:
    CHECKS.append(fn)
    return fn


def run_checks(graph: Graph, inference: GraphInference, figures: list[LayerFigures],
               totals: Totals) -> list[Finding]:
    data = CheckInput(graph, inference, figures, totals)
    findings = [Finding(f.code, f.severity, f.layer, f.message, dict(f.extra))
                for f in graph.findings]
    findings += [Finding(f.code, f.severity, f.layer, f.message, dict(f.extra))
                 for f in inference.findings]
    for fn in CHECKS:
        findings.extend(fn(data))
    return findings


@check
def int32_param_overflow(data: CheckInput) -> Iterator[Finding]:
    for f in walk(data.figures):
        if f.row.params > INT32_MAX:
            yield _overflow(f.path, f.row.params, f"layer {f.path} has {f.row.params:,} params")
    if data.totals.params > INT32_MAX:
        yield _overflow(None, data.totals.params, f"the model has {data.totals.params:,} params")


def _overflow(layer: str | None, value: int, what: str) -> Finding:
    wrapped = wrap_int32(value)
    return Finding("int32-param-overflow", "error", layer,
                   f"{what}, more than int32 holds (2,147,483,647); a 32-bit counter "
                   f"prints {wrapped:,}", {"value": value, "int32_value": wrapped})


@check
def big_tensors(data: CheckInput) -> Iterator[Finding]:
    """Tensors over 2³¹−1 elements (int32-indexed kernels) or over 2 GiB (protobuf's limit)."""
    for f in walk(data.figures):
        if f.inner:
            continue
        tensors = [("weight " + (p.stored.name if p.stored else p.need.name), p.need.shape,
                    p.stored.dtype if p.stored else "float32")
                   for p in f.pairs if p.need is not None]
        if not f.pairs:
            tensors += [("weight " + w.name, w.shape, w.dtype)
                        for r in f.nodes for w in r.node.weights]
        tensors += [("output", s, f.row.dtype) for s in f.output_shapes
                    if s is not None and all(d is not None for d in s)]
        for what, shape, dtype in tensors:
            n = math.prod(shape)
            if n > INT32_MAX:
                yield Finding("int32-elements", "error", f.path,
                              f"{what} of layer {f.path} has {n:,} elements {list(shape)}, more "
                              "than int32 indexing allows", {"elements": n, "shape": list(shape)})
            nbytes = n * dtype_bytes(dtype)
            if nbytes > TWO_GIB:
                yield Finding("tensor-over-2gib", "warning", f.path,
                              f"{what} of layer {f.path} is {nbytes / 2**30:.2f} GiB, over "
                              "protobuf's 2 GiB limit and many runtimes' single-buffer limit",
                              {"bytes": nbytes, "shape": list(shape)})


#: How many tensor names a finding lists (the count says how many there are).
LISTED = 20


@check
def unknown_dtype(data: CheckInput) -> Iterator[Finding]:
    """Tensors whose dtype has no known size: their bytes are left out (ir.dtype_bytes gives
    0), so every figure is a lower bound; named here rather than guessed. Non-tensor values
    (``sequence<...>``) have their own finding."""
    found: dict[str, str] = {}
    for spec in data.graph.inputs:
        found.setdefault(spec.name, spec.dtype)
    for f in walk(data.figures):
        for r in f.nodes:
            for t in r.node.outputs:
                found.setdefault(t, r.node.dtype)
            for w in r.node.weights:
                found.setdefault(w.name, w.dtype)
    for w in data.graph.loose_weights:
        found.setdefault(w.name, w.dtype)
    unknown = {t: d for t, d in found.items() if not dtype_known(d) and "<" not in d}
    if not unknown:
        return
    names = list(unknown)
    dtypes = sorted(set(unknown.values()))
    yield Finding("unknown-dtype", "warning", None,
                  f"{len(names)} tensors have a dtype memscan has no size for "
                  f"({', '.join(dtypes)}): {', '.join(names[:LISTED])}"
                  f"{' ...' if len(names) > LISTED else ''}; their bytes are left out, so "
                  "every memory figure is at least what is shown (a lower bound)",
                  {"tensors": names[:LISTED], "count": len(names), "dtypes": dtypes})


@check
def weights_mismatch(data: CheckInput) -> Iterator[Finding]:
    for f in walk(data.figures):
        for p in f.pairs:
            if not p.mismatched:
                continue
            if p.stored is not None and p.need is not None:
                yield Finding(
                    "weights-mismatch", "error", f.path,
                    f"layer {f.path} stores {p.stored.name} as {tuple(p.stored.shape)} but needs "
                    f"{tuple(p.need.shape)} at this input; the stored weights cannot be used",
                    {"weight": p.stored.name, "stored_shape": list(p.stored.shape),
                     "needed_shape": list(p.need.shape)})
            elif p.need is not None:
                if any(r.node.weights for r in f.nodes):
                    yield Finding("weights-mismatch", "error", f.path,
                                  f"layer {f.path} needs a weight {p.need.name} "
                                  f"{tuple(p.need.shape)} that the file does not store",
                                  {"weight": p.need.name, "stored_shape": None,
                                   "needed_shape": list(p.need.shape)})
            elif p.stored is not None:
                yield Finding("weights-mismatch", "warning", f.path,
                              f"layer {f.path} stores {p.stored.name} {tuple(p.stored.shape)} "
                              "that its config does not need",
                              {"weight": p.stored.name, "stored_shape": list(p.stored.shape),
                               "needed_shape": None})


@check
def unshaped_layers(data: CheckInput) -> Iterator[Finding]:
    for f in walk(data.figures):
        for r in f.nodes:
            node = r.node
            if node.op == "Lambda":
                yield Finding("lambda-layer", "warning", f.path,
                              f"layer {f.path} is a Lambda: its code is never unmarshalled or "
                              "run, so its output shape is "
                              + ("taken from its config" if r.status == "ok" else "unknown"),
                              {"op": node.op})
            elif r.status == NO_RULE:
                custom = _is_custom(node.origin, node.op)
                yield Finding("custom-layer" if custom else "unknown-layer", "warning", f.path,
                              f"layer {f.path} ({node.op}{', ' + node.origin if node.origin else ''})"
                              " has no shape rule"
                              + (" (custom code is never imported or run)" if custom else "")
                              + "; what it feeds is marked unknown",
                              {"op": node.op, "origin": node.origin})
            elif r.status == REJECTED:
                yield Finding("shape-error", "error", f.path,
                              f"layer {f.path} ({node.op}) cannot run at this input: {r.message}",
                              {"op": node.op})


def _is_custom(origin: str, op: str) -> bool:
    """A class outside Keras's own modules (or registered under a custom package)."""
    if not origin:
        return False
    return not (origin.startswith("keras") or origin.startswith("tf_keras")
                or origin.startswith("tensorflow"))
