"""TensorFlow SavedModel folders (``saved_model.pb`` or ``.pbtxt`` beside ``variables/``).

Two cases:
- Keras-written (tf-keras ``model.save(dir)``, with ``keras_metadata.pb`` or Keras metadata
  in the object graph): the layer configs are there, so the model goes through the same
  Keras path as ``.h5`` (keras_config), and TensorFlow is never imported.
- Graph-only (Keras 3 ``model.export()``, ``tf.saved_model.save``, other tools): the serving
  signature's function graph, shaped by TensorFlow's own op shape functions
  (savedmodel_graph, which imports TensorFlow lazily).

Variables are always read the same way, without TensorFlow: names, dtypes and shapes from
``variables/variables.index`` and owners from the object graph in ``saved_model.pb``.
``variables.data-*`` is never opened.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional

from .. import sources
from ..errors import BadArguments, UnreadableArtifact
from ..findings import Code, Severity
from ..ir import Graph, ReaderFinding, WeightSpec
from .keras_container import parse_config_json
from .protowire import WireError, as_dict, fields, first, text
from .saved_model_pb import MetaGraph, checkpoint_paths, read_meta_graph
from .tf_tensors import IndexEntry, read_index

PB, PBTXT = "saved_model.pb", "saved_model.pbtxt"
KERAS_METADATA = "keras_metadata.pb"
VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
MAX_METADATA_BYTES = 512 * 1024 * 1024


def saved_model_dir(path: str) -> Optional[str]:
    """The SavedModel folder ``path`` names (the folder itself or its saved_model.pb)."""
    if sources.isdir(path):
        folder = path
    elif sources.basename(path) in (PB, PBTXT):
        folder = sources.dirname(path) or "."
    else:
        return None
    if sources.isfile(sources.join(folder, PB)) or sources.isfile(sources.join(folder, PBTXT)):
        return folder
    return None


@dataclass
class Variable:
    """One model variable, counted once however many object-graph paths reach it."""

    node_id: int
    paths: list[str]
    spec: WeightSpec


def read(path: str, signature: Optional[str] = None, *, keras_config: bool = True,
         fallback_reason: Optional[str] = None) -> Graph:
    """The SavedModel at ``path``: its Keras config when it has one (and no ``signature`` is
    asked for), else its signature's traced graph.

    The Keras graph offers ``fallback_options`` (``keras_config=False``): the pipeline reads
    again with them, and the reason (``fallback_reason``), when the config holds layer
    classes no rule covers; this reader never asks the rules itself."""
    folder = saved_model_dir(path)
    if folder is None:
        raise UnreadableArtifact("not a SavedModel folder (no saved_model.pb)", path)
    raw = _saved_model_bytes(folder, path)
    try:
        meta = read_meta_graph(raw)
    except WireError as exc:
        raise UnreadableArtifact(f"malformed saved_model.pb ({exc})", path) from None
    variables, findings = read_variables(folder, meta, path)
    keras = _keras_metadata(folder, meta, path)
    output_order: list[str] = []
    if keras is not None and signature is None:
        why = fallback_reason or "it was not asked for"
        if keras_config:
            try:
                graph = _keras_graph(keras, meta, variables, findings, path)
                return replace(graph, fallback_options={"keras_config": False})
            except UnreadableArtifact as exc:
                why = f"its layer configs cannot be used ({exc.message})"
        findings = findings + [ReaderFinding(
            Code.KERAS_CONFIG_NOT_USED, Severity.INFO, None,
            f"Keras metadata found ({keras.source}) but {why}; the traced graph is analysed "
            "instead, shaped by TensorFlow")]
        output_order = _output_order(keras)
    wanted = signature or "serving_default"
    if wanted not in meta.signatures:  # say so before paying for the TensorFlow import
        names = sorted(k for k in meta.signatures if not k.startswith("__"))
        raise BadArguments(f"no signature {wanted!r}; the SavedModel has "
                           f"{', '.join(names) or 'none'} (choose with --signature)", path)
    # Graph-only (or a Keras config memscan cannot shape): imports TensorFlow, only here.
    from .savedmodel_graph import read_graph

    return read_graph(folder, path, raw, meta, variables, findings,
                      signature or "serving_default", output_order)


def _output_order(keras: "KerasMetadata") -> list[str]:
    """The model's output names in the order Keras lists them (dict outputs keep theirs)."""
    config = keras.by_path["root"].get("config")
    outs = config.get("output_layers") if isinstance(config, dict) else None
    if isinstance(outs, dict):
        return [str(k) for k in outs]
    if isinstance(outs, list):
        return [o[0] for o in outs if isinstance(o, list) and o and isinstance(o[0], str)]
    return []


def _saved_model_bytes(folder: str, path: str) -> bytes:
    pb = sources.join(folder, PB)
    try:
        if sources.isfile(pb):
            with sources.open_binary(pb) as fh:
                return fh.read()
        with sources.open_binary(sources.join(folder, PBTXT)) as fh:
            raw_text = fh.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableArtifact(f"saved_model cannot be read ({exc})", path) from None
    # Text format needs TF's message classes: the one case where parsing imports TensorFlow.
    from .savedmodel_graph import import_tensorflow

    import_tensorflow(path)
    from google.protobuf import text_format
    from tensorflow.core.protobuf import saved_model_pb2

    msg = saved_model_pb2.SavedModel()
    try:
        text_format.Parse(raw_text, msg)
    except text_format.ParseError as exc:
        raise UnreadableArtifact(f"malformed saved_model.pbtxt ({exc})", path) from None
    return msg.SerializeToString()


# --------------------------------------------------------------------------- variables

def read_variables(folder: str, meta: MetaGraph, path: str
                   ) -> tuple[list[Variable], list[ReaderFinding]]:
    """Every variable object of the object graph with its stored dtype and shape, once each."""
    index_path = sources.join(folder, "variables", "variables.index")
    entries: dict[str, IndexEntry] = {}
    findings: list[ReaderFinding] = []
    if sources.isfile(index_path):
        try:
            entries = {e.key: e for e in read_index(index_path)}
        except (WireError, OSError) as exc:
            raise UnreadableArtifact(f"malformed variables/variables.index ({exc})",
                                     path) from None
    elif any(n.kind == "variable" for n in meta.nodes):
        raise UnreadableArtifact("the object graph has variables but variables/"
                                 "variables.index is missing", path)
    try:
        paths = checkpoint_paths(meta.nodes)
    except WireError as exc:
        raise UnreadableArtifact(f"malformed object graph ({exc})", path) from None
    out: list[Variable] = []
    unlisted: list[str] = []
    for nid, node in enumerate(meta.nodes):
        if node.variable is None or nid not in paths:
            continue
        var = node.variable
        entry = next((entries[p + VALUE_SUFFIX] for p in paths[nid] if p + VALUE_SUFFIX in entries),
                     None)
        if entry is not None:
            shape, dtype = entry.shape, entry.dtype
        elif var.shape is not None and all(d is not None for d in var.shape):
            shape, dtype = var.shape, var.dtype  # type: ignore[assignment]
            unlisted.append(var.name or paths[nid][0])
        else:
            unlisted.append(var.name or paths[nid][0])
            continue
        name = var.name or paths[nid][0]
        out.append(Variable(nid, paths[nid], WeightSpec(name=name, shape=tuple(shape),
                                                        dtype=dtype, trainable=var.trainable)))
    out = _drop_all_variables_copies(out)
    if not any(n.kind == "variable" for n in meta.nodes):
        # TF1 SavedModels have no object graph: checkpoint keys are the variables' names.
        out = [Variable(-1 - i, [e.key], WeightSpec(name=e.key, shape=e.shape, dtype=e.dtype))
               for i, e in enumerate(entries.values()) if e.dtype not in ("string", "resource")
               and not e.key.startswith("_CHECKPOINTABLE")]
    if unlisted:
        findings.append(ReaderFinding(
            Code.VARIABLE_NOT_IN_INDEX, Severity.WARNING, None,
            f"{len(unlisted)} variable(s) of the object graph are not in variables.index "
            f"(e.g. {unlisted[0]}); their shapes come from the object graph", {"names": unlisted[:20]}))
    return out, findings


def _drop_all_variables_copies(variables: list[Variable]) -> list[Variable]:
    """Keras 3 ``model.export()`` tracks each variable twice, as ``variables/N`` and as a
    separate object ``_all_variables/N`` (same name, dtype, shape; both in the index).
    Keep one: drop an ``_all_variables``-only object that has such a twin elsewhere."""
    def only_all(v: Variable) -> bool:
        return all(p.startswith("_all_variables/") for p in v.paths)

    others = {(v.spec.name, v.spec.shape, v.spec.dtype) for v in variables if not only_all(v)}
    return [v for v in variables
            if not (only_all(v) and (v.spec.name, v.spec.shape, v.spec.dtype) in others)]


# --------------------------------------------------------------------------- Keras path

@dataclass
class KerasMetadata:
    """Per object-graph path (``root.layer_with_weights-0``), the Keras metadata JSON."""

    by_path: dict[str, dict[str, Any]]
    source: str


def _keras_metadata(folder: str, meta: MetaGraph, path: str) -> Optional[KerasMetadata]:
    mpath = sources.join(folder, KERAS_METADATA)
    by_path: dict[str, dict[str, Any]] = {}
    if sources.isfile(mpath):
        if sources.getsize(mpath) > MAX_METADATA_BYTES:
            raise UnreadableArtifact(f"{KERAS_METADATA} is larger than 512 MiB", path)
        with sources.open_binary(mpath) as fh:
            data = fh.read()
        try:
            for number, _, raw in fields(data):
                if number != 1 or not isinstance(raw, bytes):
                    continue
                obj = as_dict(raw)
                node_path = text(first(obj, 3, b""))
                identifier = text(first(obj, 4, b""))
                if node_path and identifier.startswith("_tf_keras"):
                    by_path[node_path] = _json_object(first(obj, 5, b""), path, node_path)
        except WireError as exc:
            raise UnreadableArtifact(f"malformed {KERAS_METADATA} ({exc})", path) from None
        source = KERAS_METADATA
    else:
        # TF 2.0-2.4 kept the same JSON in the object graph's user objects.
        if not meta.nodes or not meta.nodes[0].identifier.startswith("_tf_keras_"):
            return None
        return None if not meta.nodes[0].metadata else KerasMetadata(
            {"root": _json_object(meta.nodes[0].metadata.encode(), path, "root")},
            "object graph")
    root = by_path.get("root")
    if not root or root.get("class_name") not in ("Functional", "Model", "Sequential"):
        return None  # a subclassed model: no config to rebuild; use the graph
    return KerasMetadata(by_path, source)


def _json_object(raw: Any, path: str, where: str) -> dict[str, Any]:
    value = parse_config_json(raw, path)
    if not isinstance(value, dict):
        raise UnreadableArtifact(f"Keras metadata of {where} is not a JSON object", path)
    return value


def _keras_graph(keras: KerasMetadata, meta: MetaGraph, variables: list[Variable],
                 findings: list[ReaderFinding], path: str) -> Graph:
    from .keras_config import graph_from_keras_config

    root = keras.by_path["root"]
    config = {"class_name": root["class_name"], "config": untuple(root.get("config"))}
    top_layers: dict[str, str] = {}  # "layer_with_weights-0" -> "block1_conv1"
    for node_path, md in keras.by_path.items():
        parts = node_path.split(".")
        if len(parts) == 2 and parts[0] == "root" and isinstance(md.get("name"), str):
            top_layers[parts[1]] = md["name"]
    weights: dict[str, list[WeightSpec]] = {}
    for var in sorted(variables, key=lambda v: v.node_id):
        owner = next((top_layers[p.split("/", 1)[0]] for p in var.paths
                      if "/" in p and p.split("/", 1)[0] in top_layers), None)
        if owner is None:
            owner = var.spec.name.split("/", 1)[0]
        weights.setdefault(owner, []).append(var.spec)
    producer = f"tf-keras SavedModel (TF {meta.tf_version})" if meta.tf_version else \
        "tf-keras SavedModel"
    graph = graph_from_keras_config(config, weights, path=path, format="savedmodel",
                                    producer=producer, keras_major=2)
    return Graph(format=graph.format, producer=graph.producer, name=graph.name,
                 inputs=graph.inputs, outputs=graph.outputs, nodes=graph.nodes,
                 findings=tuple(findings) + graph.findings, loose_weights=graph.loose_weights)


def untuple(value: Any) -> Any:
    """SavedModel metadata spells tuples ``{"class_name": "__tuple__", "items": [...]}``;
    ``.h5`` configs spell them as lists. Depth is bounded by parse_config_json."""
    if isinstance(value, dict):
        if value.get("class_name") == "__tuple__" and isinstance(value.get("items"), list):
            return [untuple(v) for v in value["items"]]
        return {k: untuple(v) for k, v in value.items()}
    if isinstance(value, list):
        return [untuple(v) for v in value]
    return value
