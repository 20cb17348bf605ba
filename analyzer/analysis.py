"""The pipeline, one direction: read → infer shapes → figures → findings → Report."""
from __future__ import annotations

from dataclasses import replace
from typing import Mapping, Optional, Sequence

from . import formats, limits, sources
from .checks import run_checks
from .inputs import InputArg, resolve_inputs
from .dtypes import DtypePlan
from .findings import Code, ShapeStatus
from .ir import Graph, WeightSpec, dtype_bytes
from .liveness import Liveness, liveness
from .macs import macs_by_layer
from .memory import LayerFigures, layer_figures, totals
from .report import Finding, InputInfo, LayerRow, ModelInfo, OutputInfo, Report, Totals
from .shapes.infer import GraphInference, infer
from .shapes.ops import unruled_ops
from .training import training_figures


def analyse(path: str, inputs: Sequence[InputArg] = (), batch: Optional[int] = None,
            dims: Optional[Mapping[str, int]] = None, signature: Optional[str] = None, *,
            optimizer: str = "adam", dtype: Optional[str] = None,
            weights_dtype: Optional[str] = None, size: Optional[Sequence[int]] = None,
            max_config_size: Optional[int] = None, max_nodes: Optional[int] = None) -> Report:
    """Analyse the artifact at ``path`` at the stated inputs. Raises MemscanError if unusable.

    ``signature``: the SavedModel serving signature to analyse (default serving_default).
    ``dtype``/``weights_dtype`` re-type floating activations/weights (what-if);
    ``optimizer`` (sgd, momentum, adam) sets the training estimate's optimizer state.
    ``size`` (``--size``) sets the spatial dims of image-like inputs (inputs.sized_shape).
    ``max_config_size``/``max_nodes`` raise or lower the bounds of analyzer/limits.py.
    """
    sources.reset()
    graph = read_bounded(path, signature, max_config_size, max_nodes)
    report = analyse_graph(graph, path, inputs, batch, dims, optimizer=optimizer, dtype=dtype,
                           weights_dtype=weights_dtype, size=size)
    if sources.is_url(path):
        report.model.bytes_read = sources.bytes_read()
    return report


def read_bounded(path: str, signature: Optional[str] = None,
                 max_config_size: Optional[int] = None, max_nodes: Optional[int] = None
                 ) -> Graph:
    """``read`` under the size limits (analyzer/limits.py), the node count checked before any
    inference: what ``analyse`` reads once, and sweeps read once for all their points."""
    with limits.using(config_bytes=max_config_size, nodes=max_nodes):
        graph = read(path, signature)
        limits.check_nodes(len(graph.nodes), path)  # whatever the format: before inference
    return graph


def read(path: str, signature: Optional[str] = None) -> Graph:
    """The artifact's graph; read again with the reader's ``fallback_options`` when it holds
    layer classes no shape rule covers (a SavedModel's Keras config -> its traced graph)."""
    graph = formats.load(path, signature=signature)
    if graph.fallback_options:
        missing = sorted(unruled_ops(graph))
        if missing:
            why = (f"its layer configs include classes with no shape rule "
                   f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''})")
            graph = formats.load(path, signature=signature, **graph.fallback_options,
                                 fallback_reason=why)
    return graph


def analyse_graph(graph: Graph, path: str, inputs: Sequence[InputArg] = (),
                  batch: Optional[int] = None, dims: Optional[Mapping[str, int]] = None,
                  *, optimizer: str = "adam", dtype: Optional[str] = None,
                  weights_dtype: Optional[str] = None,
                  size: Optional[Sequence[int]] = None) -> Report:
    plan = DtypePlan(activations=dtype, weights=weights_dtype)
    ignored = inputs_not_applicable(graph, inputs, batch, dims)
    if ignored is not None:
        inputs, batch, dims, size = (), None, None, None
    shapes = resolve_inputs(graph, inputs, batch, dims, path=path, size=size)
    inference = infer(graph, shapes)
    figures = layer_figures(inference, plan=plan) + loose_weight_figures(graph.loose_weights,
                                                                          plan)
    live = liveness(inference, plan)
    _add_live_bytes(figures, live)
    tot = _memory_totals(totals(figures), figures, live, optimizer)
    tot = replace(tot, stored_optimizer_bytes=sum(w.nbytes for w in graph.stored_optimizer),
                  index_data_bytes=tot.index_data_bytes + sum(w.nbytes for w in graph.index_data))
    tot = _add_macs(tot, figures, macs_by_layer(inference))
    findings = run_checks(graph, inference, figures, tot) + ([ignored] if ignored else [])
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
        outputs=_outputs(inference, plan),
    )


def inputs_not_applicable(graph: Graph, inputs: Sequence[InputArg], batch: Optional[int],
                          dims: Optional[Mapping[str, int]]) -> Optional[Finding]:
    """A weights-only file has no architecture, so no stated input can apply: say so once,
    and what the report shows instead, rather than asking for inputs the file cannot have."""
    if graph.inputs or graph.nodes or not (inputs or batch is not None or dims):
        return None
    return Finding(Code.INPUT_NOT_APPLICABLE, Code.INPUT_NOT_APPLICABLE.severity, None,
                   "the file holds weights only, no architecture, so no input applies "
                   "(--input/--batch/--dim ignored); the report shows the stored weights per "
                   "layer (params, param memory) and no activations")


def _outputs(inference: GraphInference, plan: DtypePlan) -> list[OutputInfo]:
    """The graph outputs: shape as inferred, dtype as the format states it or as the
    producing node computes it (what-if dtype applied)."""
    graph = inference.graph
    producer = {tid: n.dtype for n in graph.nodes for tid in n.outputs}
    producer.update({s.name: s.dtype for s in graph.inputs})
    out = []
    for tid in graph.outputs:
        shape = inference.tensors.get(tid)
        dtype = plan.activation(graph.known_dtypes.get(tid, producer.get(tid, "float32")))
        out.append(OutputInfo(tid, None if shape is None else list(shape), dtype))
    return out


def _add_live_bytes(figures: list[LayerFigures], live: Liveness) -> None:
    for f in figures:
        f.row.live_bytes_after = live.row_after.get(f.row.name)
        f.row.live_bytes_peak = live.row_peak.get(f.row.name)


def _add_macs(tot: Totals, figures: list[LayerFigures],
              per_layer: Mapping[str, Optional[int]]) -> Totals:
    for f in figures:
        f.row.macs = per_layer.get(f.row.name, 0)
    counts = [f.row.macs for f in figures]
    return replace(tot, macs=sum(c for c in counts if c is not None),
                   layers_with_unknown_macs=sum(1 for c in counts if c is None))


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
        training_bytes=train.total, unshaped_tensors=len(live.unshaped),
        onnxruntime_arena_held_bytes=live.held_bytes,
        complete=not live.unshaped and not tot.layers_with_unknown_shapes)


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
                       activation_bytes=0, shape_status=ShapeStatus.NO_ARCHITECTURE,
                       trainable_param_bytes=sum(b for b, t in nbytes if t))
        rows.append(LayerFigures(row=row, path=layer, nodes=[]))
    return rows
