"""Keras HDF5 files (``model.save("m.h5")`` from Keras 2.0 to Keras 3, and ``save_weights``).

Reads the ``model_config`` attribute and, for every weight, only the dataset's shape and
dtype: weight bytes are never read, so a 10 GB file costs what a 10 KB one does.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import replace
from typing import Any, Optional

from .. import limits, sources
from ..errors import UnreadableArtifact, first_line
from ..findings import Code, Severity
from ..ir import Graph, ReaderFinding, WeightSpec
from .keras_config import graph_from_keras_config
from .keras_container import (attr_str, hdf5_dtype, is_optimizer_path, keras_major,
                              optimizer_state_finding, parse_config_json, producer_name,
                              str_list, vars_tensors)

#: What reading needs imported: a process that forks isolated readers imports it once first.
PRELOAD = ("h5py", f"{__package__}.keras_config", f"{__package__}.keras_container")
#: Bounds on one weight's declared shape: 2**48 elements is 1 PiB of float32.
MAX_WEIGHT_ELEMENTS = 2**48
MAX_WEIGHT_RANK = 32


def read(path: str) -> Graph:
    import h5py  # heavy-ish; only when an HDF5 file is actually read

    remote = sources.open_binary(path) if sources.is_url(path) else None
    try:
        f = h5py.File(remote or path, "r")
    except Exception as exc:  # libhdf5 reports malformed files with many exception types
        raise UnreadableArtifact(f"not a readable HDF5 file ({first_line(exc)})", path) from None
    with f, (remote or contextlib.nullcontext()):
        try:
            _refuse_external_links(f, path)
            return _read_open(f, path)
        except UnreadableArtifact:
            raise
        except (LookupError, ValueError, TypeError, OSError, RuntimeError, AttributeError,
                OverflowError, SystemError) as exc:  # h5py on corrupt metadata raises them all
            raise UnreadableArtifact(f"malformed Keras HDF5 file ({first_line(exc)})",
                                     path) from None


def _read_open(f: Any, path: str) -> Graph:
    attrs = f.attrs
    version = attr_str(attrs.get("keras_version")) or ""
    producer = producer_name(version)
    major = keras_major(version, default=2)
    weights_root = f["model_weights"] if "model_weights" in f else f
    weights_by_layer = _weights_by_layer(weights_root, path)
    if "model_config" in attrs:  # its size, or a bound on it, before its text is read
        size, exact = _config_size(f, attrs.get_id("model_config"))
        limits.check_config_bytes(size, "model_config", path, exact=exact)
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


def _config_size(f: Any, attr: Any) -> tuple[int, bool]:
    """(bytes, exact) of the model_config attribute without reading it. Keras stores it as a
    variable-length string, whose text lives in the global heap where the attribute only
    points (its storage size is 16): then the bound is the file's bytes outside its datasets
    (the weights), which for a real model is a few hundred KB of metadata plus the config."""
    if not attr.get_type().is_variable_str():
        return attr.get_storage_size(), True
    stored = [0]

    def add(_name: str, obj: Any) -> None:
        if hasattr(obj, "id") and hasattr(obj.id, "get_storage_size") and hasattr(obj, "shape"):
            stored[0] += obj.id.get_storage_size()

    f.visititems(add)
    return max(0, f.id.get_filesize() - stored[0]), False


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
        raise UnreadableArtifact(f"malformed HDF5 link structure ({first_line(exc)})",
                                 path) from None
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
    layer_names = str_list(root.attrs, "layer_names")
    result: dict[str, list[WeightSpec]] = {}
    for layer in layer_names:
        group = root.get(layer)
        if group is None:
            continue
        specs = []
        for wname in str_list(group.attrs, "weight_names"):
            ds = group.get(wname)
            if ds is None or not hasattr(ds, "shape") or ds.shape is None:
                raise UnreadableArtifact(f"weight {layer}/{wname} is listed but not stored", path)
            shape = _weight_shape(ds, f"{layer}/{wname}", path)
            specs.append(WeightSpec(name=wname.removesuffix(":0"), shape=shape,
                                    dtype=hdf5_dtype(ds.dtype),
                                    trainable=not _non_trainable_name(wname)))
        result[layer] = specs
    return result


def _keras3_weights(f: Any) -> dict[str, list[WeightSpec]]:
    """Keras 3 weights files key weights by class-derived paths (``layers/dense_1/vars/0``);
    Keras 3.? and later also store the layer's own name on each ``vars`` group."""
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
        owner = attr_str(vars_group.attrs.get("name")) if vars_group is not None else None
        owner = owner or (parts[1] if top != group_path or parts[0] == "layers" and len(parts) > 1
                          else group_path) or "model"
        rel = group_path[len(top):].strip("/")
        result.setdefault(owner.replace("/", "_"), []).append(
            WeightSpec(name=f"{rel}/{index}" if rel else index, shape=spec.shape,
                       dtype=spec.dtype))
    return result


def _keras3_optimizer(f: Any) -> tuple[WeightSpec, ...]:
    """The optimizer state a Keras 3 weights file stores beside the model's weights."""
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
        code=Code.NO_ARCHITECTURE, severity=Severity.WARNING, layer=None,
        message="weights-only file (model.save_weights): it stores no model_config, so no "
                "layer graph and no activation shapes can be inferred; weights are reported")
    findings = (finding, optimizer_state_finding(optimizer)) if optimizer else (finding,)
    return Graph(format="keras-h5", producer=producer, name="weights", inputs=(), outputs=(),
                 nodes=(), findings=findings, loose_weights=loose, stored_optimizer=optimizer)
