"""Keras HDF5 files (``model.save("m.h5")`` from Keras 2.0 to Keras 3, and ``save_weights``).

Reads the ``model_config`` attribute and, for every weight, only the dataset's shape and
dtype: weight bytes are never read, so a 10 GB file costs what a 10 KB one does.
"""
from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import replace
from typing import Any, Optional

from ..errors import UnreadableArtifact
from ..ir import Graph, ReaderFinding, WeightSpec
from .keras_config import graph_from_keras_config

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
#: Bounds on a model_config no real model comes near (DenseNet201's is 0.6 MB, 37k values,
#: 12 deep), chosen so parsing the worst text within them stays well under 300 MiB of RSS.
MAX_CONFIG_BYTES = 32 * 1024 * 1024
MAX_JSON_VALUES = 2_000_000
MAX_JSON_DEPTH = 512
#: Bounds on one weight's declared shape: 2**48 elements is 1 PiB of float32.
MAX_WEIGHT_ELEMENTS = 2**48
MAX_WEIGHT_RANK = 32


def read(path: str) -> Graph:
    import h5py  # heavy-ish; only when an HDF5 file is actually read

    try:
        f = h5py.File(path, "r")
    except Exception as exc:  # libhdf5 reports malformed files with many exception types
        raise UnreadableArtifact(f"not a readable HDF5 file ({_short(exc)})", path) from None
    with f:
        try:
            _refuse_external_links(f, path)
            return _read_open(f, path)
        except UnreadableArtifact:
            raise
        except (LookupError, ValueError, TypeError, OSError, RuntimeError, AttributeError,
                OverflowError, SystemError) as exc:  # h5py on corrupt metadata raises them all
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
            return _weights_only(_keras3_weights(f), path, "keras 3 (version not stored)",
                                 _keras3_optimizer(f))
        raise UnreadableArtifact("HDF5 file holds no Keras model (no model_config, no "
                                 "layer_names)", path)
    config = parse_config_json(raw_config, path)
    return graph_from_keras_config(config, weights_by_layer, path=path, format="keras-h5",
                                   producer=producer, keras_major=major)


def parse_config_json(raw: Any, path: str) -> Any:
    """Parse a config JSON string safely: bounded size, value count and nesting depth, no
    object hooks. The bounds are checked on the text before ``json.loads`` builds anything,
    so a hostile config costs neither deep recursion nor gigabytes of Python objects."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    if not isinstance(raw, str):
        raise UnreadableArtifact("model_config is not a string", path)
    if len(raw) > MAX_CONFIG_BYTES:
        raise UnreadableArtifact(f"model_config is larger than {MAX_CONFIG_BYTES // 2**20} MiB",
                                 path)
    values, depth = json_structure(raw, max_values=MAX_JSON_VALUES)
    if values > MAX_JSON_VALUES:
        raise UnreadableArtifact(f"model_config holds more than {MAX_JSON_VALUES:,} JSON "
                                 "values", path)
    if depth > MAX_JSON_DEPTH:
        raise UnreadableArtifact(f"model_config is nested {depth} levels deep (more than "
                                 f"{MAX_JSON_DEPTH})", path)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise UnreadableArtifact(f"model_config is not valid JSON ({_short(exc)})", path) from None


_QUOTED = re.compile(r'"[^"]*"')
_KEEP_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_structure(text: str, max_values: Optional[int] = None) -> tuple[int, int]:
    """(about how many values, deepest nesting of [] and {}) of a JSON text, outside strings.

    Found with str methods, one simple regular expression and a running sum, without parsing
    or recursion, in C-speed passes. With ``max_values``, returns early (depth 0) once the
    count is above it.
    """
    if max_values is not None and text.count('"') > 4 * max_values:
        return text.count('"') // 2, 0
    # Escapes first (an escaped backslash, then an escaped quote), so that what is left of
    # every string is a plain "...", which the regex removes.
    skeleton = _QUOTED.sub("", text.replace("\\\\", "").replace('\\"', ""))
    values = sum(skeleton.count(ch) for ch in "[{,") + 1
    if max_values is not None and values > max_values:
        return values, 0
    brackets = skeleton.encode("utf-8", "replace").translate(None, _KEEP_BRACKETS)
    return values, max(itertools.accumulate(map(_STEP.__getitem__, brackets)), default=0)


def max_bracket_depth(text: str) -> int:
    """Deepest nesting of [] and {} outside strings, found without parsing (no recursion)."""
    return json_structure(text)[1]


def _refuse_external_links(f: Any, path: str) -> None:
    """Keras never writes HDF5 external links; following one would open a file outside the
    model's folder (libhdf5 opens the target as soon as the link is traversed)."""
    import h5py

    found: list[str] = []

    def visit(name: str, link: Any) -> Optional[bool]:
        if isinstance(link, h5py.ExternalLink):
            found.append(name)
            return True  # stops the walk
        return None

    try:
        f.visititems_links(visit)
    except (KeyError, ValueError, RuntimeError, OSError) as exc:
        raise UnreadableArtifact(f"malformed HDF5 link structure ({_short(exc)})", path) from None
    if found:
        raise UnreadableArtifact(f"HDF5 object {found[0]!r} is an external link to another "
                                 "file; memscan does not follow it", path)


def _weight_shape(ds: Any, name: str, path: str) -> tuple[int, ...]:
    """A dataset's declared shape, refused when no real model could have it."""
    shape = tuple(int(d) for d in ds.shape)
    if len(shape) > MAX_WEIGHT_RANK or math.prod(shape) > MAX_WEIGHT_ELEMENTS:
        raise UnreadableArtifact(f"weight {name} declares shape {list(shape)[:8]} "
                                 f"({math.prod(shape):.3g} elements): no real model has it",
                                 path)
    return shape


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
            shape = _weight_shape(ds, f"{layer}/{wname}", path)
            specs.append(WeightSpec(name=wname.removesuffix(":0"), shape=shape,
                                    dtype=_dtype(ds.dtype),
                                    trainable=not _non_trainable_name(wname)))
        result[layer] = specs
    return result


def _keras3_weights(f: Any) -> dict[str, list[WeightSpec]]:
    """Keras 3 weights files key weights by class-derived paths (``layers/dense_1/vars/0``);
    Keras 3.? and later also store the layer's own name on each ``vars`` group."""
    from .keras_zip import is_optimizer_path, vars_tensors

    result: dict[str, list[WeightSpec]] = {}
    for wpath, spec in vars_tensors(f):
        if is_optimizer_path(wpath):
            continue  # _keras3_optimizer's
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


def _keras3_optimizer(f: Any) -> tuple[WeightSpec, ...]:
    """The optimizer state a Keras 3 weights file stores beside the model's weights."""
    from .keras_zip import is_optimizer_path, vars_tensors

    return tuple(replace(spec, name=wpath, trainable=False) for wpath, spec in vars_tensors(f)
                 if is_optimizer_path(wpath))


def _non_trainable_name(name: str) -> bool:
    """Keras never stores trainability in h5; these variable names are never trained."""
    leaf = name.rsplit("/", 1)[-1].split(":")[0]
    return leaf in {"moving_mean", "moving_variance", "count", "mean", "variance",
                    "seed_generator_state", "iterations"}


def _weights_only(weights: dict[str, list[WeightSpec]], path: str, producer: str,
                  optimizer: tuple[WeightSpec, ...] = ()) -> Graph:
    loose = tuple(WeightSpec(name=f"{layer}/{w.name}" if not w.name.startswith(layer + "/")
                             else w.name, shape=w.shape, dtype=w.dtype, trainable=w.trainable)
                  for layer, ws in weights.items() for w in ws)
    finding = ReaderFinding(
        code="no-architecture", severity="warning", layer=None,
        message="weights-only file (model.save_weights): it stores no model_config, so no "
                "layer graph and no activation shapes can be inferred; weights are reported")
    from .keras_zip import optimizer_state_finding

    findings = (finding, optimizer_state_finding(optimizer)) if optimizer else (finding,)
    return Graph(format="keras-h5", producer=producer, name="weights", inputs=(), outputs=(),
                 nodes=(), findings=findings, loose_weights=loose, stored_optimizer=optimizer)


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
