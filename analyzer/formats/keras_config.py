"""Keras model configs (the ``model_config`` JSON) to the format-neutral graph.

Shared by every container that carries a Keras config: ``.h5`` files, ``.keras`` zips and
Keras-written SavedModels. The container's reader hands over the parsed JSON and the stored
weight specs per top-level layer; this module knows every config dialect from Keras 2.0 to
Keras 3 and never imports or executes anything a config names.

Dialects handled
- ``class_name`` ``Functional`` / ``Model`` (Keras 2.0-2.x, tf-keras, Keras 3) and
  ``Sequential`` (config a dict with ``layers`` or, in Keras 2.0-2.2, the list itself).
- ``inbound_nodes`` as nested lists ``[[["layer", node, tensor, {kwargs}], ...], ...]``
  (Keras 2) or as ``[{"args": [...], "kwargs": {...}}]`` with ``__keras_tensor__`` entries
  (Keras 3).
- Input shapes from ``batch_shape`` (Keras 3), ``batch_input_shape`` (Keras 2) or
  ``build_input_shape`` (Sequential).
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Optional, Sequence

from ..errors import UnreadableArtifact
from ..ir import Graph, Node, ReaderFinding, Shape, TensorSpec, WeightSpec

MODEL_CLASSES = frozenset({"Functional", "Model", "Sequential"})
#: Deepest nesting of models inside models we follow; real models nest two or three deep.
MAX_NESTING = 32
#: Bounds that keep a hostile config from making us work for ever.
MAX_LAYERS = 200_000
#: Layers parsed in one file, nested models counted once per call (a nested model called N
#: times is parsed N times): bounds the work, ~0.15 ms a layer, well under 10 s. Real models
#: have a few thousand at most (DenseNet201: 709).
MAX_TOTAL_LAYERS = 20_000
MAX_DIM = 2**62


@dataclass
class _Ref:
    layer: str
    node: int
    tensor: int


@dataclass
class _Call:
    """One call of a layer found in a config, before node indices are resolved."""

    layer: str
    index: int  # 0-based call number of this layer in the config
    refs: list[_Ref]
    order: int  # position in the config, for a stable topological order


@dataclass
class _Layer:
    name: str
    class_name: str
    config: Mapping[str, Any]
    origin: str
    position: int
    calls: list[_Call] = field(default_factory=list)
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_model(self) -> bool:
        return self.class_name in MODEL_CLASSES

    @property
    def is_input(self) -> bool:
        return self.class_name == "InputLayer"


class KerasConfigContext:
    """What the parse needs to know about the file: where it came from and which Keras wrote it."""

    def __init__(self, path: str, keras_major: int) -> None:
        self.path = path
        self.keras_major = keras_major
        self.findings: list[ReaderFinding] = []
        self.layers_parsed = 0

    def fail(self, message: str) -> UnreadableArtifact:
        return UnreadableArtifact(message, self.path)


def graph_from_keras_config(
    model_config: Any,
    weights_by_layer: Mapping[str, Sequence[WeightSpec]],
    *,
    path: str,
    format: str,
    producer: str,
    keras_major: int,
) -> Graph:
    """Build the graph of a whole model from its parsed ``model_config``.

    ``weights_by_layer`` maps each top-level layer name to its stored weights, in the order
    the file lists them (``weight_names``). Weights of nested models carry their inner
    layer's name as the first part of the weight name (``inner/kernel``).
    """
    ctx = KerasConfigContext(path, keras_major)
    if not isinstance(model_config, Mapping):
        raise ctx.fail("model_config is not a JSON object")
    graph = _parse_model(model_config, weights_by_layer, ctx, depth=0, format=format,
                         producer=producer)
    return Graph(
        format=graph.format, producer=graph.producer, name=graph.name, inputs=graph.inputs,
        outputs=graph.outputs, nodes=graph.nodes, findings=tuple(ctx.findings) + graph.findings,
        loose_weights=graph.loose_weights,
    )


# --------------------------------------------------------------------------- model level

def _parse_model(spec: Mapping[str, Any], weights: Mapping[str, Sequence[WeightSpec]],
                 ctx: KerasConfigContext, *, depth: int, format: str, producer: str) -> Graph:
    if depth > MAX_NESTING:
        raise ctx.fail(f"models nested more than {MAX_NESTING} deep")
    class_name = spec.get("class_name")
    config = spec.get("config")
    if class_name == "Sequential":
        layers, name, input_shape = _sequential_parts(config, ctx)
        return _build_sequential(layers, name, input_shape, weights, ctx, depth=depth,
                                 format=format, producer=producer)
    if class_name in ("Functional", "Model"):
        if not isinstance(config, Mapping):
            raise ctx.fail(f"the config of model {class_name!r} is not an object")
        return _build_functional(config, weights, ctx, depth=depth, format=format,
                                 producer=producer)
    raise ctx.fail(f"model_config has class_name {class_name!r}; expected Functional, Model "
                   "or Sequential")


def _sequential_parts(config: Any, ctx: KerasConfigContext
                      ) -> tuple[list[Mapping[str, Any]], str, Optional[Shape]]:
    if isinstance(config, list):  # Keras 2.0-2.2: the config is the list of layers
        layers, name, build_shape = config, "sequential", None
    elif isinstance(config, Mapping):
        layers = config.get("layers")
        name = _as_name(config.get("name", "sequential"), ctx)
        build_shape = config.get("build_input_shape")
    else:
        raise ctx.fail("the Sequential config is neither a list nor an object")
    if not isinstance(layers, list) or not all(isinstance(x, Mapping) for x in layers):
        raise ctx.fail("the Sequential config's layers are not a list of objects")
    shape = _parse_shape(build_shape, ctx, "build_input_shape") if build_shape else None
    return layers, name, shape


def _build_sequential(layers: list[Mapping[str, Any]], name: str, build_shape: Optional[Shape],
                      weights: Mapping[str, Sequence[WeightSpec]], ctx: KerasConfigContext,
                      *, depth: int, format: str, producer: str) -> Graph:
    if len(layers) > MAX_LAYERS:
        raise ctx.fail(f"the model has more than {MAX_LAYERS} layers")
    parsed = [_layer_from_spec(spec, i, ctx) for i, spec in enumerate(layers)]
    if parsed and parsed[0].is_input:
        first, rest = parsed[0], parsed[1:]
        spec = _input_spec(first, ctx)
    else:
        first, rest = None, parsed
        shape = None
        dtype = "float32"
        if rest:
            cfg = rest[0].config
            raw = cfg.get("batch_shape") or cfg.get("batch_input_shape")
            if raw is None and cfg.get("input_shape") is not None:
                raw = [None, *list(cfg["input_shape"])] if isinstance(
                    cfg["input_shape"], list) else None
            if raw is not None:
                shape = _parse_shape(raw, ctx, f"input shape of layer {rest[0].name!r}")
            dtype = _dtype_name(cfg.get("dtype"), "float32")
        if shape is None:
            shape = build_shape
        if shape is None:
            raise ctx.fail(f"Sequential model {name!r} states no input shape (no InputLayer, "
                           "batch_input_shape or build_input_shape)")
        spec = TensorSpec(name=f"{name}_input", shape=shape, dtype=dtype)
    nodes: list[Node] = []
    input_layer_name = first.name if first else spec.name
    nodes.append(Node(name=input_layer_name, op="InputLayer", layer=input_layer_name,
                      inputs=(), outputs=(spec.name,), config=first.config if first else {},
                      dtype=spec.dtype))
    current = spec.name
    for layer in rest:
        out = f"{layer.name}:0:0"
        nodes.append(_make_node(layer, (current,), (out,), weights, ctx, depth=depth,
                                format=format, producer=producer, n_outputs=1))
        current = out
    return Graph(format=format, producer=producer, name=name, inputs=(spec,),
                 outputs=(current,), nodes=tuple(nodes),
                 loose_weights=_loose(weights, [layer.name for layer in parsed]))


def _build_functional(config: Mapping[str, Any], weights: Mapping[str, Sequence[WeightSpec]],
                      ctx: KerasConfigContext, *, depth: int, format: str, producer: str
                      ) -> Graph:
    name = _as_name(config.get("name", "model"), ctx)
    raw_layers = config.get("layers")
    if not isinstance(raw_layers, list) or not all(isinstance(x, Mapping) for x in raw_layers):
        raise ctx.fail(f"model {name!r}: 'layers' is not a list of objects")
    if len(raw_layers) > MAX_LAYERS:
        raise ctx.fail(f"the model has more than {MAX_LAYERS} layers")
    layers: dict[str, _Layer] = {}
    order = 0
    for i, spec in enumerate(raw_layers):
        layer = _layer_from_spec(spec, i, ctx)
        if layer.name in layers:
            raise ctx.fail(f"model {name!r} has two layers named {layer.name!r}")
        for call_index, refs in enumerate(_inbound_calls(spec.get("inbound_nodes", []),
                                                         layer.name, ctx)):
            layer.calls.append(_Call(layer.name, call_index, refs, order))
            order += 1
        layers[layer.name] = layer

    input_refs = _io_refs(config.get("input_layers"), "input_layers", ctx)
    output_refs = _io_refs(config.get("output_layers"), "output_layers", ctx)
    resolver = _NodeResolver(layers, ctx, input_refs + output_refs)

    inputs: list[TensorSpec] = []
    nodes_by_call: dict[tuple[str, int], Node] = {}
    for layer in layers.values():
        if layer.is_input:
            spec = _input_spec(layer, ctx)
            inputs.append(spec)
            nodes_by_call[(layer.name, 0)] = Node(
                name=layer.name, op="InputLayer", layer=layer.name, inputs=(),
                outputs=(spec.name,), config=layer.config, dtype=spec.dtype)
    # Order graph inputs as the model declares them.
    declared = [r.layer for r in input_refs]
    inputs.sort(key=lambda s: declared.index(s.name) if s.name in declared else len(declared))
    for ref in input_refs:
        if ref.layer not in layers or not layers[ref.layer].is_input:
            raise ctx.fail(f"model {name!r}: input {ref.layer!r} is not an InputLayer")

    # Count how many outputs each call has: the largest tensor index anyone reads, plus one.
    n_outputs: dict[tuple[str, int], int] = {}
    all_calls = [c for layer in layers.values() for c in layer.calls]
    for call in all_calls:
        for ref in call.refs:
            key = resolver.resolve(ref, kind="arg")
            n_outputs[key] = max(n_outputs.get(key, 1), ref.tensor + 1)
    for ref in output_refs:
        key = resolver.resolve(ref, kind="io")
        n_outputs[key] = max(n_outputs.get(key, 1), ref.tensor + 1)

    for call in _topological(all_calls, resolver, ctx, name):
        layer = layers[call.layer]
        in_ids = tuple(resolver.tensor_id(r, kind="arg") for r in call.refs)
        key = (layer.name, call.index)
        outs = tuple(_tensor_id(key, t) for t in range(n_outputs.get(key, 1)))
        first_call = call.index == 0
        nodes_by_call[key] = _make_node(
            layer, in_ids, outs, weights if first_call else {}, ctx, depth=depth, format=format,
            producer=producer, n_outputs=len(outs), call_index=call.index)

    ordered: list[Node] = [n for (lname, _), n in nodes_by_call.items()
                           if layers[lname].is_input]
    ordered += [n for (lname, _), n in nodes_by_call.items() if not layers[lname].is_input]
    outputs = tuple(resolver.tensor_id(r, kind="io") for r in output_refs)
    return Graph(format=format, producer=producer, name=name, inputs=tuple(inputs),
                 outputs=outputs, nodes=tuple(ordered),
                 loose_weights=_loose(weights, list(layers)))


def _tensor_id(key: tuple[str, int], tensor: int) -> str:
    """Tensor ids are ``layer:call:index``; an input layer's one tensor is its own name."""
    return f"{key[0]}:{key[1]}:{tensor}"


class _NodeResolver:
    """Maps a config's (layer, node index) to the call it means.

    Nested models start with a node of their own (their construction) that some Keras
    versions count in node indices: tf-keras always for a nested Functional that begins with
    an InputLayer, Keras 3 only in ``input_layers``/``output_layers``. We choose, per layer,
    the offset the writer's version implies and fall back to the other one when the indices
    the config uses only fit that.
    """

    def __init__(self, layers: Mapping[str, _Layer], ctx: KerasConfigContext,
                 io_refs: Sequence[_Ref]) -> None:
        self.layers = layers
        self.ctx = ctx
        arg_refs: dict[str, list[int]] = {}
        for layer in layers.values():
            for call in layer.calls:
                for ref in call.refs:
                    arg_refs.setdefault(ref.layer, []).append(ref.node)
        io_by_layer: dict[str, list[int]] = {}
        for ref in io_refs:
            io_by_layer.setdefault(ref.layer, []).append(ref.node)
        self.offsets: dict[tuple[str, str], int] = {}
        for lname, layer in layers.items():
            n = max(1, len(layer.calls))
            for kind, used in (("arg", arg_refs.get(lname, [])), ("io", io_by_layer.get(lname, []))):
                preferred = self._preferred_offset(layer, kind)
                offset = preferred
                for candidate in (preferred, 1 - preferred):
                    if all(0 <= k - candidate < n for k in used):
                        offset = candidate
                        break
                self.offsets[(lname, kind)] = offset

    def _preferred_offset(self, layer: _Layer, kind: str) -> int:
        if not layer.is_model:
            return 0
        if self.ctx.keras_major >= 3:
            return 1 if (kind == "io" and layer.class_name != "Sequential") else 0
        return 1 if _starts_with_input(layer) else 0

    def tensor_id(self, ref: _Ref, *, kind: str) -> str:
        key = self.resolve(ref, kind=kind)
        return key[0] if self.layers[key[0]].is_input else _tensor_id(key, ref.tensor)

    def resolve(self, ref: _Ref, *, kind: str) -> tuple[str, int]:
        layer = self.layers.get(ref.layer)
        if layer is None:
            raise self.ctx.fail(f"a node reads layer {ref.layer!r}, which the model does not have")
        if layer.is_input:
            if ref.node != 0 or ref.tensor != 0:
                raise self.ctx.fail(f"input {ref.layer!r} has one tensor; the config reads "
                                    f"node {ref.node}, tensor {ref.tensor}")
            return (ref.layer, 0)
        index = ref.node - self.offsets[(ref.layer, kind)]
        if not 0 <= index < len(layer.calls):
            raise self.ctx.fail(f"a node reads call {ref.node} of layer {ref.layer!r}, which is "
                                f"called {len(layer.calls)} time(s)")
        if ref.tensor < 0 or ref.tensor > 10_000:
            raise self.ctx.fail(f"tensor index {ref.tensor} of layer {ref.layer!r} is out of range")
        return (ref.layer, index)


def _starts_with_input(layer: _Layer) -> bool:
    cfg = layer.config
    layers = cfg.get("layers") if isinstance(cfg, Mapping) else cfg
    if layer.class_name != "Sequential":
        return True
    return bool(isinstance(layers, list) and layers and isinstance(layers[0], Mapping)
                and layers[0].get("class_name") == "InputLayer")


def _topological(calls: list[_Call], resolver: _NodeResolver, ctx: KerasConfigContext,
                 model: str) -> Iterator[_Call]:
    """Kahn's algorithm, iterative, stable by config order; a cycle is an error."""
    by_key = {(c.layer, c.index): c for c in calls}
    deps: dict[tuple[str, int], set[tuple[str, int]]] = {}
    users: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for c in calls:
        key = (c.layer, c.index)
        needed = set()
        for ref in c.refs:
            src = resolver.resolve(ref, kind="arg")
            if src in by_key:
                needed.add(src)
        deps[key] = needed
        for src in needed:
            users.setdefault(src, []).append(key)
    ready = [(c.order, (c.layer, c.index)) for c in calls if not deps[(c.layer, c.index)]]
    heapq.heapify(ready)
    done = 0
    while ready:
        _, key = heapq.heappop(ready)
        done += 1
        yield by_key[key]
        for user in users.get(key, ()):
            deps[user].discard(key)
            if not deps[user]:
                heapq.heappush(ready, (by_key[user].order, user))
    if done != len(calls):
        stuck = sorted({k[0] for k, d in deps.items() if d})[:5]
        raise ctx.fail(f"model {model!r}: the layer graph has a cycle (through {', '.join(stuck)})")


# --------------------------------------------------------------------------- layer level

def _layer_from_spec(spec: Mapping[str, Any], position: int, ctx: KerasConfigContext) -> _Layer:
    ctx.layers_parsed += 1
    if ctx.layers_parsed > MAX_TOTAL_LAYERS:
        raise ctx.fail(f"the model has more than {MAX_TOTAL_LAYERS:,} layers (nested models "
                       "counted once per call)")
    class_name = spec.get("class_name")
    if not isinstance(class_name, str) or not class_name:
        raise ctx.fail(f"layer #{position} has no class_name")
    config = spec.get("config", {})
    if class_name in MODEL_CLASSES and isinstance(config, list):
        config = {"layers": config, "name": spec.get("name", f"sequential_{position}")}
    if not isinstance(config, Mapping):
        raise ctx.fail(f"layer #{position} ({class_name}): config is not an object")
    name = spec.get("name", config.get("name"))
    if name is None:
        name = f"{class_name.lower()}_{position}"
    name = _as_name(name, ctx)
    origin = ".".join(str(x) for x in (spec.get("module"), spec.get("registered_name"))
                      if isinstance(x, str) and x)
    return _Layer(name=name, class_name=class_name, config=config, origin=origin,
                  position=position, raw=spec)


def _make_node(layer: _Layer, inputs: tuple[str, ...], outputs: tuple[str, ...],
               weights: Mapping[str, Sequence[WeightSpec]], ctx: KerasConfigContext, *,
               depth: int, format: str, producer: str, n_outputs: int,
               call_index: int = 0) -> Node:
    own = tuple(weights.get(layer.name, ()))
    subgraph = None
    if layer.is_model:
        inner = _group_nested_weights(own, layer)
        subgraph = _parse_model({"class_name": layer.class_name, "config": layer.config},
                                inner, ctx, depth=depth + 1, format=format, producer=producer)
        own = ()  # the subgraph's nodes carry them
        if len(subgraph.outputs) > len(outputs):
            outputs = tuple(f"{layer.name}:{call_index}:{t}" for t in range(len(subgraph.outputs)))
    return Node(
        name=layer.name if call_index == 0 else f"{layer.name}#{call_index}",
        op=layer.class_name, layer=layer.name, inputs=inputs, outputs=outputs,
        config=layer.config, weights=own, subgraph=subgraph, origin=layer.origin,
        dtype=_dtype_name(layer.config.get("dtype"), "float32"),
    )


def _group_nested_weights(weights: Sequence[WeightSpec], layer: _Layer
                          ) -> dict[str, list[WeightSpec]]:
    """Split a nested model's weights among its inner layers by name prefix.

    Weight names are ``<inner layer>/<var>`` where the inner layer's own name may contain
    ``/`` (tf-keras ``conv1/conv``): the longest matching layer name wins.
    """
    names = sorted(_descendant_layer_names(layer.config), key=len, reverse=True)
    grouped: dict[str, list[WeightSpec]] = {}
    for w in weights:
        owner = next((n for n in names if w.name.startswith(n + "/")), None)
        if owner is None and w.name.startswith(layer.name + "/"):
            # Keras 3 .h5 files prefix a nested model's weights with its own name
            # (``inner/dense/kernel``); tf-keras does not (``dense/kernel:0``).
            w = WeightSpec(name=w.name[len(layer.name) + 1:], shape=w.shape, dtype=w.dtype,
                           trainable=w.trainable)
            owner = next((n for n in names if w.name.startswith(n + "/")), None)
        if owner is None:
            owner = w.name.split("/", 1)[0]
        grouped.setdefault(owner, []).append(w)
    # Weights of a model nested two deep belong to the middle model's group.
    top_names = set(_direct_layer_names(layer.config))
    result: dict[str, list[WeightSpec]] = {}
    nested_owner = _nested_owner_map(layer.config)
    for owner, ws in grouped.items():
        target = owner if owner in top_names else nested_owner.get(owner, owner)
        result.setdefault(target, []).extend(ws)
    return result


def _layer_list(config: Any) -> list[Mapping[str, Any]]:
    layers = config.get("layers") if isinstance(config, Mapping) else config
    return [x for x in layers if isinstance(x, Mapping)] if isinstance(layers, list) else []


def _spec_name(spec: Mapping[str, Any]) -> Optional[str]:
    cfg = spec.get("config")
    name = spec.get("name") or (cfg.get("name") if isinstance(cfg, Mapping) else None)
    return name if isinstance(name, str) else None


def _direct_layer_names(config: Any) -> list[str]:
    return [n for n in (_spec_name(s) for s in _layer_list(config)) if n]


def _descendant_layer_names(config: Any) -> list[str]:
    names: list[str] = []
    stack = [(config, 0)]
    while stack:
        cfg, depth = stack.pop()
        if depth > MAX_NESTING:
            continue
        for spec in _layer_list(cfg):
            name = _spec_name(spec)
            if name:
                names.append(name)
            if spec.get("class_name") in MODEL_CLASSES:
                stack.append((spec.get("config"), depth + 1))
    return names


def _nested_owner_map(config: Any) -> dict[str, str]:
    """Inner-inner layer name -> the direct child model that holds it."""
    owners: dict[str, str] = {}
    for spec in _layer_list(config):
        if spec.get("class_name") in MODEL_CLASSES:
            child = _spec_name(spec)
            if child:
                for n in _descendant_layer_names(spec.get("config")):
                    owners.setdefault(n, child)
    return owners


def _loose(weights: Mapping[str, Sequence[WeightSpec]], layer_names: Iterable[str]
           ) -> tuple[WeightSpec, ...]:
    known = set(layer_names)
    return tuple(w for name, ws in weights.items() if name not in known for w in ws)


def _input_spec(layer: _Layer, ctx: KerasConfigContext) -> TensorSpec:
    cfg = layer.config
    raw = cfg.get("batch_shape", cfg.get("batch_input_shape"))
    if raw is None and cfg.get("input_shape") is not None:
        raw = [None, *cfg["input_shape"]] if isinstance(cfg["input_shape"], list) else None
    if raw is None and cfg.get("shape") is not None and isinstance(cfg["shape"], list):
        raw = [None, *cfg["shape"]]
    if raw is None:
        raise ctx.fail(f"input layer {layer.name!r} states no shape")
    shape = _parse_shape(raw, ctx, f"input {layer.name!r}")
    return TensorSpec(name=layer.name, shape=shape, dtype=_dtype_name(cfg.get("dtype"), "float32"))


def _parse_shape(raw: Any, ctx: KerasConfigContext, what: str) -> Shape:
    if isinstance(raw, Mapping) and "items" in raw:  # tf-keras TensorShape as {"class_name": "__tuple__", "items": [...]}
        raw = raw["items"]
    if not isinstance(raw, (list, tuple)) or len(raw) > 64:
        raise ctx.fail(f"{what}: shape {str(raw)[:60]} is not a list of dims")
    dims: list[Optional[int]] = []
    for d in raw:
        if d is None:
            dims.append(None)
        elif isinstance(d, bool) or not isinstance(d, int):
            raise ctx.fail(f"{what}: dim {str(d)[:30]!r} is not an integer")
        elif d < 0 or d > MAX_DIM:
            raise ctx.fail(f"{what}: dim {d} is out of range")
        else:
            dims.append(d)
    return tuple(dims)


def _as_name(value: Any, ctx: KerasConfigContext) -> str:
    if not isinstance(value, str) or len(value) > 1024:
        raise ctx.fail(f"a layer or model name is not a string: {str(value)[:40]!r}")
    return value


_POLICY_COMPUTE = {"mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}


def _dtype_name(raw: Any, default: str) -> str:
    """A Keras dtype entry (a name, or a DTypePolicy/Policy object) as its compute dtype."""
    if isinstance(raw, Mapping):
        cfg = raw.get("config")
        raw = cfg.get("name") if isinstance(cfg, Mapping) else None
    if not isinstance(raw, str):
        return default
    return _POLICY_COMPUTE.get(raw, raw)


# --------------------------------------------------------------------------- inbound nodes

def _inbound_calls(raw: Any, layer: str, ctx: KerasConfigContext) -> list[list[_Ref]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ctx.fail(f"layer {layer!r}: inbound_nodes is not a list")
    calls = []
    for entry in raw:
        if isinstance(entry, Mapping):  # Keras 3
            refs = list(_keras3_refs(entry.get("args", []), ctx, layer))
            refs += list(_keras3_refs(entry.get("kwargs", {}), ctx, layer))
        elif isinstance(entry, list):  # Keras 2
            if entry and isinstance(entry[0], str):
                # tf-keras writes a one-tensor call of a TFOpLambda flat:
                # ["layer", node, tensor, {kwargs}] instead of [["layer", node, tensor, {}]]
                entry = [entry]
            refs = [_keras2_ref(item, ctx, layer) for item in entry]
            for item in entry:
                if isinstance(item, list) and len(item) > 3 and isinstance(item[3], Mapping):
                    refs += list(_keras2_kwarg_refs(item[3], ctx, layer))
        else:
            raise ctx.fail(f"layer {layer!r}: an inbound node is neither a list nor an object")
        calls.append(refs)
    return calls


def _keras2_ref(item: Any, ctx: KerasConfigContext, layer: str) -> _Ref:
    if (not isinstance(item, list) or len(item) < 3 or not isinstance(item[0], str)
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in item[1:3])):
        raise ctx.fail(f"layer {layer!r}: inbound entry {str(item)[:60]} is not "
                       "[layer, node, tensor]")
    return _Ref(item[0], item[1], item[2])


def _keras2_kwarg_refs(kwargs: Mapping[str, Any], ctx: KerasConfigContext, layer: str
                       ) -> Iterator[_Ref]:
    """tf-keras serializes tensors passed as keyword arguments as [layer, node, tensor]."""
    for value in kwargs.values():
        if (isinstance(value, list) and len(value) == 3 and isinstance(value[0], str)
                and all(isinstance(x, int) for x in value[1:])):
            yield _Ref(value[0], value[1], value[2])


def _keras3_refs(value: Any, ctx: KerasConfigContext, layer: str) -> Iterator[_Ref]:
    """Every ``__keras_tensor__`` in a Keras 3 args/kwargs structure, in order (iterative)."""
    stack = [value]
    out: list[_Ref] = []
    seen = 0
    while stack:
        v = stack.pop()
        seen += 1
        if seen > 1_000_000:
            raise ctx.fail(f"layer {layer!r}: inbound node arguments are absurdly large")
        if isinstance(v, Mapping):
            if v.get("class_name") == "__keras_tensor__":
                hist = v.get("config", {}).get("keras_history") if isinstance(
                    v.get("config"), Mapping) else None
                out.append(_keras2_ref(hist, ctx, layer))
            else:
                stack.extend(reversed(list(v.values())))
        elif isinstance(v, list):
            stack.extend(reversed(v))
    return iter(out)


def _io_refs(raw: Any, what: str, ctx: KerasConfigContext) -> list[_Ref]:
    if raw is None:
        raise ctx.fail(f"the model config has no {what}")
    if isinstance(raw, list) and len(raw) == 3 and isinstance(raw[0], str):
        raw = [raw]  # Keras 3 writes a single input/output without the outer list
    if isinstance(raw, Mapping):  # dict-structured inputs/outputs (Keras 3)
        raw = list(raw.values())
    if not isinstance(raw, list):
        raise ctx.fail(f"{what} is not a list")
    return [_keras2_ref(item, ctx, what) for item in raw]
