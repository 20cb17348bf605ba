"""The parts of ``saved_model.pb`` memscan reads without TensorFlow: the object graph (which
object owns which variable, under which child path) and the signatures' inputs and outputs.

Field numbers are those of tensorflow/core/protobuf/{saved_model,meta_graph,
saved_object_graph}.proto. The GraphDef and function library are skipped here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .protowire import WireError, as_dict, fields, first, text
from .tf_tensors import dtype_name, parse_shape

#: protobuf's own hard limit for one message.
MAX_PB_BYTES = 2**31


@dataclass
class SavedVar:
    dtype: str
    shape: Optional[tuple[Optional[int], ...]]
    trainable: bool
    name: str


@dataclass
class SavedNode:
    children: list[tuple[str, int]]  # (local name, node id), in the order saved
    kind: str  # "user_object", "variable", "function", ...
    identifier: str = ""  # user_object identifier, e.g. "_tf_keras_layer"
    metadata: str = ""  # user_object metadata (Keras JSON, TF 2.0-2.4)
    variable: Optional[SavedVar] = None


@dataclass
class TensorInfo:
    key: str  # the signature's name for it
    name: str  # graph tensor name, "serving_default_x:0"
    dtype: str
    shape: Optional[tuple[Optional[int], ...]]


@dataclass
class Signature:
    name: str
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    method: str


@dataclass
class MetaGraph:
    tags: list[str]
    tf_version: str
    nodes: list[SavedNode]
    signatures: dict[str, Signature] = field(default_factory=dict)


_KINDS = {4: "user_object", 5: "asset", 6: "function", 7: "variable",
          8: "bare_concrete_function", 9: "constant", 10: "resource", 12: "captured_tensor"}


def read_meta_graph(data: bytes) -> MetaGraph:
    """The first MetaGraphDef of a SavedModel (the one TF loads for the "serve" tag)."""
    if len(data) >= MAX_PB_BYTES:
        raise WireError("saved_model.pb is larger than protobuf's 2 GiB limit")
    metas = [v for n, _, v in fields(data) if n == 2]
    if not metas:
        raise WireError("no MetaGraphDef in saved_model.pb")
    chosen = metas[0]
    for m in metas:
        if "serve" in _tags(as_dict(m)):  # type: ignore[arg-type]
            chosen = m
            break
    msg = as_dict(chosen)  # type: ignore[arg-type]
    info = as_dict(first(msg, 1, b""))  # type: ignore[arg-type]
    og = first(msg, 7, b"")
    nodes = [_node(raw) for n, _, raw in fields(og) if n == 1]  # type: ignore[arg-type]
    sigs = {}
    for entry in msg.get(5, []):
        e = as_dict(entry)  # type: ignore[arg-type]
        name = text(first(e, 1, b""))
        sigs[name] = _signature(name, first(e, 2, b""))  # type: ignore[arg-type]
    return MetaGraph(tags=_tags(msg), tf_version=text(first(info, 5, b"")), nodes=nodes,
                     signatures=sigs)


def _tags(meta: dict) -> list[str]:
    info = as_dict(first(meta, 1, b""))  # type: ignore[arg-type]
    return [text(t) for t in info.get(4, [])]


def _node(raw: bytes) -> SavedNode:
    msg = as_dict(raw)
    children = []
    for ref in msg.get(1, []):
        r = as_dict(ref)  # type: ignore[arg-type]
        children.append((text(first(r, 2, b"")), int(first(r, 1, 0))))  # type: ignore[arg-type]
    kind = next((k for num, k in _KINDS.items() if num in msg), "")
    node = SavedNode(children=children, kind=kind)
    if kind == "user_object":
        user = as_dict(first(msg, 4))  # type: ignore[arg-type]
        node.identifier = text(first(user, 1, b""))
        node.metadata = text(first(user, 3, b""))
    elif kind == "variable":
        v = as_dict(first(msg, 7))  # type: ignore[arg-type]
        shape_raw = first(v, 2, b"")
        node.variable = SavedVar(
            dtype=dtype_name(int(first(v, 1, 0))),  # type: ignore[arg-type]
            shape=parse_shape(shape_raw) if isinstance(shape_raw, bytes) else None,
            trainable=bool(first(v, 3, 0)), name=text(first(v, 6, b"")))
    return node


def _signature(name: str, raw: bytes) -> Signature:
    msg = as_dict(raw)

    def infos(number: int) -> list[TensorInfo]:
        out = []
        for entry in msg.get(number, []):
            e = as_dict(entry)  # type: ignore[arg-type]
            key = text(first(e, 1, b""))
            ti = as_dict(first(e, 2, b""))  # type: ignore[arg-type]
            shape_raw = first(ti, 3, b"")
            out.append(TensorInfo(
                key=key, name=text(first(ti, 1, b"")),
                dtype=dtype_name(int(first(ti, 2, 0))),  # type: ignore[arg-type]
                shape=parse_shape(shape_raw) if isinstance(shape_raw, bytes) else None))
        return sorted(out, key=lambda t: t.key)

    return Signature(name=name, inputs=infos(1), outputs=infos(2),
                     method=text(first(msg, 3, b"")))


def checkpoint_paths(nodes: list[SavedNode]) -> dict[int, list[str]]:
    """Every child path from the root (node 0) to each node, breadth first, as checkpoint
    key prefixes (local names escaped the way TF's checkpoint keys escape them)."""
    if not nodes:
        return {}  # TF1 SavedModels have no object graph
    paths: dict[int, list[str]] = {0: [""]}
    queue = [0]
    seen = {0}
    while queue:
        nid = queue.pop(0)
        base = paths[nid][0]
        for local, child in nodes[nid].children:
            if not 0 <= child < len(nodes):
                raise WireError(f"object graph child {child} is out of range")
            p = f"{base}/{escape(local)}" if base else escape(local)
            paths.setdefault(child, []).append(p)
            if child not in seen:
                seen.add(child)
                queue.append(child)
    return paths


def escape(local_name: str) -> str:
    """TF's trackable key escaping: "." -> "..", "/" -> ".S"."""
    return local_name.replace(".", "..").replace("/", ".S")
