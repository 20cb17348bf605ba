"""The pipeline, one direction: read → infer shapes → figures → findings → Report."""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

from . import formats
from .checks import run_checks
from .inputs import InputArg, resolve_inputs
from .ir import Graph, WeightSpec
from .memory import LayerFigures, layer_figures, totals
from .report import InputInfo, LayerRow, ModelInfo, Report
from .shapes.infer import infer


def analyse(path: str, inputs: Sequence[InputArg] = (), batch: Optional[int] = None,
            dims: Optional[Mapping[str, int]] = None, signature: Optional[str] = None) -> Report:
    """Analyse the artifact at ``path`` at the stated inputs. Raises MemscanError if unusable.

    ``signature``: the SavedModel serving signature to analyse (default serving_default)."""
    graph = formats.load(path, signature=signature)
    return analyse_graph(graph, path, inputs, batch, dims)


def analyse_graph(graph: Graph, path: str, inputs: Sequence[InputArg] = (),
                  batch: Optional[int] = None, dims: Optional[Mapping[str, int]] = None
                  ) -> Report:
    shapes = resolve_inputs(graph, inputs, batch, dims, path=path)
    inference = infer(graph, shapes)
    figures = layer_figures(inference) + loose_weight_figures(graph.loose_weights)
    tot = totals(figures)
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
    )


def _batch_of(graph: Graph, shapes: Mapping[str, tuple]) -> int:
    for s in shapes.values():
        if s and isinstance(s[0], int):
            return s[0]
    return 1


def loose_weight_figures(weights: Sequence[WeightSpec]) -> list[LayerFigures]:
    """Rows for weights no node holds (weights-only files), grouped by their layer name."""
    groups: dict[str, list[WeightSpec]] = {}
    for w in weights:
        groups.setdefault(w.name.split("/", 1)[0], []).append(w)
    rows = []
    for layer, ws in groups.items():
        n = sum(w.size for w in ws)
        row = LayerRow(name=layer, type="(weights only)", output_shapes=[], params=n,
                       stored_params=n, param_bytes=sum(w.nbytes for w in ws),
                       activation_bytes=0, shape_status="no-architecture")
        rows.append(LayerFigures(row=row, path=layer, nodes=[]))
    return rows
