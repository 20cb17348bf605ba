"""Shape engines: a dialect's own shape inference, run before the rules (one module each).

An engine module exposes ``shape(graph, input_shapes) -> (shapes by tensor id, findings)``,
reading only ``graph.engine_input`` (plain data the reader stored), and ``SHAPES_EVERY_OP``
(True when the engine is the source of every shape, so an op it leaves unshaped is
"unshaped", not "no-rule"), and optionally ``TAKES_STATED`` (``shape`` accepts a third
argument: shapes rules found for ops the engine does not know, so it shapes what follows). ``ENGINES`` names the module per dialect; a dialect without one
(Keras) is shaped by the rules alone. Engines import heavy packages (onnx, TensorFlow) only
when they run.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Mapping, Optional

from ...ir import ONNX, TF_GRAPH, TFLITE, Graph, ReaderFinding, Shape

#: dialect -> engine module. Adding an engine: one module here and one line.
ENGINES: dict[str, str] = {
    ONNX: f"{__name__}.onnx_engine",
    TF_GRAPH: f"{__name__}.tf_graph_engine",
    TFLITE: f"{__name__}.tflite_engine",
}


def engine_for(dialect: str) -> Optional[ModuleType]:
    """The engine module of ``dialect``, or None when its rules do all the work."""
    name = ENGINES.get(dialect)
    return importlib.import_module(name) if name else None


def run_engine(graph: Graph, input_shapes: Mapping[str, Shape],
               stated: Optional[Mapping[str, Shape]] = None
               ) -> tuple[dict[str, Shape], list[ReaderFinding]]:
    """The shapes ``graph``'s engine infers at ``input_shapes`` (none without an engine);
    ``stated``: tensor shapes found by rules, for an engine that ``takes_stated``."""
    engine = engine_for(graph.dialect)
    if engine is None:
        return {}, []
    if stated:
        return engine.shape(graph, input_shapes, stated)
    return engine.shape(graph, input_shapes)


def takes_stated(dialect: str) -> bool:
    """The dialect's engine can run again with shapes rules found (``TAKES_STATED``)."""
    engine = engine_for(dialect)
    return bool(engine is not None and getattr(engine, "TAKES_STATED", False))


def shapes_every_op(dialect: str) -> bool:
    engine = engine_for(dialect)
    return bool(engine is not None and engine.SHAPES_EVERY_OP)
