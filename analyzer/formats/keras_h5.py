"""Keras HDF5 files (``model.save("m.h5")`` from Keras 2.0 to Keras 3, and ``save_weights``).

Reads the ``model_config`` attribute and, for every weight, only the dataset's shape and
dtype: weight bytes are never read, so a 10 GB file costs what a 10 KB one does.
"""
from __future__ import annotations

import json
from typing import Any, Optional

from ..errors import UnreadableArtifact
from ..ir import Graph, ReaderFinding, WeightSpec
from .keras_config import graph_from_keras_config

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
#: A model_config larger than this is not a model anyone saved.
MAX_CONFIG_BYTES = 256 * 1024 * 1024
MAX_JSON_DEPTH = 512


def read(path: str) -> Graph:
    import h5py  # heavy-ish; only when an HDF5 file is actually read

    try:
        f = h5py.File(path, "r")
    except Exception as exc:  # libhdf5 reports malformed files with many exception types
        raise UnreadableArtifact(f"not a readable HDF5 file ({_short(exc)})", path) from None
    with f:
        try:
            return _read_open(f, path)
        except UnreadableArtifact:
            raise
        except (KeyError, ValueError, TypeError, OSError, RuntimeError, AttributeError) as exc:
            raise UnreadableArtifact(f"malformed Keras HDF5 file ({_short(exc)})", path) from None


def _read_open(f: Any, path: str) -> Graph:
    attrs = f.attrs
    version = _attr_str(attrs.get("keras_version")) or ""
    producer = f"keras {version}".strip() if version else "keras (version not stored)"
    major = _major(version)
    weights_root = f["model_weights"] if "model_weights" in f else f
    weights_by_layer = _weights_by_layer(weights_root, path)
    raw_config = attrs.get("model_config")
    if raw_config is None:
        if "layer_names" in weights_root.attrs or "layer_names0" in weights_root.attrs:
            return _weights_only(weights_by_layer, path, producer)
        if "vars" in f or "layers" in f:  # Keras 3 model.save_weights("x.weights.h5")
            return _weights_only(_keras3_weights(f), path, "keras 3 (version not stored)")
        raise UnreadableArtifact("HDF5 file holds no Keras model (no model_config, no "
                                 "layer_names)", path)
    config = parse_config_json(raw_config, path)
    return graph_from_keras_config(config, weights_by_layer, path=path, format="keras-h5",
                                   producer=producer, keras_major=major)


def parse_config_json(raw: Any, path: str) -> Any:
    """Parse a config JSON string safely: bounded size and nesting depth, no object hooks."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    if not isinstance(raw, str):
        raise UnreadableArtifact("model_config is not a string", path)
    if len(raw) > MAX_CONFIG_BYTES:
        raise UnreadableArtifact("model_config is larger than 256 MiB", path)
    depth = max_bracket_depth(raw)
    if depth > MAX_JSON_DEPTH:
        raise UnreadableArtifact(f"model_config is nested {depth} levels deep "
                                 f"(more than {MAX_JSON_DEPTH})", path)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise UnreadableArtifact(f"model_config is not valid JSON ({_short(exc)})", path) from None


def max_bracket_depth(text: str) -> int:
    """Deepest nesting of [] and {} outside strings, found without parsing (no recursion)."""
    depth = best = 0
    in_string = escape = False
    for ch in text:
        if in_string:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > best:
                best = depth
        elif ch in "]}":
            depth -= 1
    return best


def _weights_by_layer(root: Any, path: str) -> dict[str, list[WeightSpec]]:
    layer_names = _str_list(root.attrs, "layer_names")
    result: dict[str, list[WeightSpec]] = {}
    for layer in layer_names:
        group = root.get(layer)
        if group is None:
            continue
        specs = []
        for wname in _str_list(group.attrs, "weight_names"):
            ds = group.get(wname)
            if ds is None or not hasattr(ds, "shape") or ds.shape is None:
                raise UnreadableArtifact(f"weight {layer}/{wname} is listed but not stored", path)
            shape = tuple(int(d) for d in ds.shape)
            specs.append(WeightSpec(name=wname.removesuffix(":0"), shape=shape,
                                    dtype=_dtype(ds.dtype),
                                    trainable=not _non_trainable_name(wname)))
        result[layer] = specs
    return result


def _keras3_weights(f: Any) -> dict[str, list[WeightSpec]]:
    """Keras 3 weights files key weights by class-derived paths (``layers/dense_1/vars/0``);
    Keras 3.? and later also store the layer's own name on each ``vars`` group."""
    from .keras_zip import vars_tensors

    result: dict[str, list[WeightSpec]] = {}
    for wpath, spec in vars_tensors(f):
        group_path, _, index = wpath.rpartition("/vars/")
        parts = group_path.split("/")
        # Group by the top-level entry (layers/<x>), whose sublayers (an LSTM's cell, a
        # Bidirectional's forward_layer) hold the variables; name it as the layer was named.
        top = "/".join(parts[:2]) if parts[0] == "layers" and len(parts) > 1 else group_path
        vars_group = f.get(top + "/vars") if top else None
        owner = _attr_str(vars_group.attrs.get("name")) if vars_group is not None else None
        owner = owner or (parts[1] if top != group_path or parts[0] == "layers" and len(parts) > 1
                          else group_path) or "model"
        rel = group_path[len(top):].strip("/")
        result.setdefault(owner.replace("/", "_"), []).append(
            WeightSpec(name=f"{rel}/{index}" if rel else index, shape=spec.shape,
                       dtype=spec.dtype))
    return result


def _non_trainable_name(name: str) -> bool:
    """Keras never stores trainability in h5; these variable names are never trained."""
    leaf = name.rsplit("/", 1)[-1].split(":")[0]
    return leaf in {"moving_mean", "moving_variance", "count", "mean", "variance",
                    "seed_generator_state", "iterations"}


def _weights_only(weights: dict[str, list[WeightSpec]], path: str, producer: str) -> Graph:
    loose = tuple(WeightSpec(name=f"{layer}/{w.name}" if not w.name.startswith(layer + "/")
                             else w.name, shape=w.shape, dtype=w.dtype, trainable=w.trainable)
                  for layer, ws in weights.items() for w in ws)
    finding = ReaderFinding(
        code="no-architecture", severity="warning", layer=None,
        message="weights-only file (model.save_weights): it stores no model_config, so no "
                "layer graph and no activation shapes can be inferred; weights are reported")
    return Graph(format="keras-h5", producer=producer, name="weights", inputs=(), outputs=(),
                 nodes=(), findings=(finding,), loose_weights=loose)


def _str_list(attrs: Any, name: str) -> list[str]:
    """A string-list attribute, joined from ``name0``, ``name1``... when Keras split it."""
    if name in attrs:
        chunks = [attrs[name]]
    else:
        chunks = []
        i = 0
        while f"{name}{i}" in attrs:
            chunks.append(attrs[f"{name}{i}"])
            i += 1
    out: list[str] = []
    for chunk in chunks:
        for item in list(chunk) if hasattr(chunk, "__len__") and not isinstance(
                chunk, (str, bytes)) else [chunk]:
            s = _attr_str(item)
            if s is not None:
                out.append(s)
    return out


def _attr_str(value: Any) -> Optional[str]:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value
    return None


def _dtype(dt: Any) -> str:
    name = getattr(dt, "name", str(dt))
    if name.startswith("|V") or name == "void16":
        return "bfloat16" if getattr(dt, "itemsize", 0) == 2 else name
    return name


def _major(version: str) -> int:
    try:
        return int(version.split(".")[0])
    except ValueError:
        return 2


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:160]
