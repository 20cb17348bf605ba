"""The pipeline, one direction: read → infer shapes → figures → findings → Report."""
from __future__ import annotations

from dataclasses import replace
from typing import Mapping, Optional, Sequence

from . import formats
from .checks import run_checks
from .inputs import InputArg, resolve_inputs
from .dtypes import DtypePlan
from .ir import Graph, WeightSpec, dtype_bytes
from .liveness import Liveness, liveness
from .memory import LayerFigures, layer_figures, totals
from .report import InputInfo, LayerRow, ModelInfo, Report, Totals
from .shapes.infer import infer
from .training import training_figures


def analyse(path: str, inputs: Sequence[InputArg] = (), batch: Optional[int] = None,
            dims: Optional[Mapping[str, int]] = None, signature: Optional[str] = None, *,
            optimizer: str = "adam", dtype: Optional[str] = None,
            weights_dtype: Optional[str] = None, size: Optional[Sequence[int]] = None) -> Report:
    """Analyse the artifact at ``path`` at the stated inputs. Raises MemscanError if unusable.

    ``signature``: the SavedModel serving signature to analyse (default serving_default).
    ``dtype``/``weights_dtype`` re-type floating activations/weights (what-if);
    ``optimizer`` (sgd, momentum, adam) sets the training estimate's optimizer state.
    ``size`` (``--size``) sets the spatial dims of image-like inputs (inputs.sized_shape).
    """
    graph = formats.load(path, signature=signature)
    return analyse_graph(graph, path, inputs, batch, dims, optimizer=optimizer, dtype=dtype,
                         weights_dtype=weights_dtype, size=size)


def analyse_graph(graph: Graph, path: str, inputs: Sequence[InputArg] = (),
                  batch: Optional[int] = None, dims: Optional[Mapping[str, int]] = None,
                  *, optimizer: str = "adam", dtype: Optional[str] = None,
                  weights_dtype: Optional[str] = None,
                  size: Optional[Sequence[int]] = None) -> Report:
    plan = DtypePlan(activations=dtype, weights=weights_dtype)
    shapes = resolve_inputs(graph, inputs, batch, dims, path=path, size=size)
    inference = infer(graph, shapes)
    figures = layer_figures(inference, plan=plan) + loose_weight_figures(graph.loose_weights,
                                                                          plan)
    live = liveness(inference, plan)
    _add_live_bytes(figures, live)
    tot = _memory_totals(totals(figures), figures, live, optimizer)
    findings = run_checks(graph, inference, figures, tot)
    batch_value = batch if batch is not None else _batch_of(graph, shapes)
    return Report(
        model=ModelInfo(path=str(path), format=graph.format, producer=graph.producer,
                        name=graph.name),
        batch=batch_value,
        inputs=[InputInfo(s.name, list(shapes[s.name]), s.dtype) for s in graph.inputs],
        layers=[f.row for f in figures],
        totals=tot,
        findings=findings,
        settings={"dtype": dtype, "weights_dtype": weights_dtype, "optimizer": optimizer},
    )


def _add_live_bytes(figures: list[LayerFigures], live: Liveness) -> None:
    for f in figures:
        f.row.live_bytes_after = live.row_after.get(f.row.name)
        f.row.live_bytes_peak = live.row_peak.get(f.row.name)


def _memory_totals(tot: Totals, figures: list[LayerFigures], live: Liveness,
                   optimizer: str) -> Totals:
    """The liveness and training figures added to the classic totals."""
    trainable = sum(f.row.trainable_param_bytes for f in figures)
    train = training_figures(tot.param_bytes, trainable, live.distinct_bytes, optimizer)
    return replace(
        tot, input_bytes=live.input_bytes, activation_peak_bytes=live.peak_bytes,
        peak_layer=live.peak_row, inference_peak_bytes=tot.param_bytes + live.peak_bytes,
        arena_bytes=live.arena_bytes, trainable_param_bytes=trainable,
        non_trainable_param_bytes=train.non_trainable_bytes,
        gradient_bytes=train.gradient_bytes, optimizer_state_bytes=train.optimizer_state_bytes,
        optimizer=optimizer, training_activation_bytes=train.activation_bytes,
        training_bytes=train.total)


def _batch_of(graph: Graph, shapes: Mapping[str, tuple]) -> int:
    for s in shapes.values():
        if s and isinstance(s[0], int):
            return s[0]
    return 1


def loose_weight_figures(weights: Sequence[WeightSpec], plan: DtypePlan = DtypePlan()
                         ) -> list[LayerFigures]:
    """Rows for weights no node holds (weights-only files, ONNX initializers no node reads),
    grouped by their layer name: the first part of a ``layer/var`` path (ONNX names such as
    ``/block/conv/w`` start with a slash)."""
    groups: dict[str, list[WeightSpec]] = {}
    for w in weights:
        groups.setdefault(w.name.lstrip("/").split("/", 1)[0] or w.name, []).append(w)
    rows = []
    for layer, ws in groups.items():
        n = sum(w.size for w in ws)
        nbytes = [(w.size * dtype_bytes(plan.weight(w.dtype)), w.trainable) for w in ws]
        row = LayerRow(name=layer, type="(weights only)", output_shapes=[], params=n,
                       stored_params=n, param_bytes=sum(b for b, _ in nbytes),
                       activation_bytes=0, shape_status="no-architecture",
                       trainable_param_bytes=sum(b for b, t in nbytes if t))
        rows.append(LayerFigures(row=row, path=layer, nodes=[]))
    return rows
