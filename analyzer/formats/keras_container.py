"""What Keras's two containers share: the ``.h5`` file (keras_h5.py) and the ``.keras`` zip
(keras_zip.py) both hold a JSON model config and HDF5 weight datasets.

Here, once: bounded parsing of the config JSON (handed on to keras_config.py), HDF5 attribute
strings, HDF5 dtype names, Keras 3's ``vars`` weight tensors, and the Keras generation and
producer name from a version string. Neither reader imports the other.
"""
from __future__ import annotations

import itertools
import json
import re
from typing import Any, Iterator, Optional, Sequence

from .. import limits
from ..errors import UnreadableArtifact, first_line
from ..findings import Code
from ..ir import ReaderFinding, WeightSpec

#: Bounds on a model_config no real model comes near (DenseNet201's is 0.6 MB, 37k values,
#: 12 deep), chosen so parsing the worst text within them stays well under 300 MiB of RSS.
MAX_JSON_VALUES = 2_000_000
MAX_JSON_DEPTH = 512


def parse_config_json(raw: Any, path: str) -> Any:
    """Parse a config JSON string safely: bounded size, value count and nesting depth, no
    object hooks. The bounds are checked on the text before ``json.loads`` builds anything,
    so a hostile config costs neither deep recursion nor gigabytes of Python objects."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    if not isinstance(raw, str):
        raise UnreadableArtifact("model_config is not a string", path)
    limits.check_config_bytes(len(raw), "model_config", path)
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
        raise UnreadableArtifact(f"model_config is not valid JSON ({first_line(exc)})",
                                 path) from None


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


def str_list(attrs: Any, name: str) -> list[str]:
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
            s = attr_str(item)
            if s is not None:
                out.append(s)
    return out


def attr_str(value: Any) -> Optional[str]:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value
    return None


def hdf5_dtype(dt: Any) -> str:
    """numpy-style dtype name of an HDF5 dataset (Keras stores bfloat16 as a 2-byte void)."""
    name = getattr(dt, "name", str(dt))
    if name.startswith("|V") or name == "void16":
        return "bfloat16" if getattr(dt, "itemsize", 0) == 2 else name
    return name


def keras_major(version: Any, default: int) -> int:
    """The Keras generation of a version string ("2.13.1" -> 2); ``default`` when there is
    none or it does not parse (keras_h5: 2, keras_zip: 3, the only writer of .keras)."""
    try:
        return int(str(version).split(".")[0])
    except ValueError:
        return default


def producer_name(version: Any) -> str:
    """``keras 3.15.1``, or ``keras (version not stored)``."""
    if isinstance(version, str) and version:
        return f"keras {version}"
    return "keras (version not stored)"


# --------------------------------------------------------------------------- Keras 3 weights

def vars_tensors(root: Any) -> Iterator[tuple[str, WeightSpec]]:
    """Every dataset under a ``vars`` group, as (path, spec), in Keras's save order."""
    stack: list[tuple[str, Any]] = [("", root)]
    seen = 0
    while stack:
        prefix, group = stack.pop()
        keys = sorted(group.keys(), key=_natural)
        subgroups = []
        for key in keys:
            seen += 1
            if seen > 10_000_000:
                raise ValueError("weights file has too many objects")
            obj = group.get(key)
            p = f"{prefix}/{key}" if prefix else key
            if hasattr(obj, "shape") and hasattr(obj, "dtype"):
                if "vars" in p.split("/"):
                    shape = tuple(int(d) for d in (obj.shape or ()))
                    yield p, WeightSpec(name=p, shape=shape, dtype=hdf5_dtype(obj.dtype))
            elif hasattr(obj, "keys"):
                subgroups.append((p, obj))
        stack.extend(reversed(subgroups))


def _natural(key: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", key))


def is_optimizer_path(wpath: str) -> bool:
    """Keras 3 saves the optimizer's own variables (iterations, learning rate, one slot
    per trainable weight and per moment) under ``optimizer/vars`` of its weights file."""
    return wpath.split("/", 1)[0] == "optimizer"


def optimizer_state_finding(specs: Sequence[WeightSpec]) -> ReaderFinding:
    """The info line that says what the file holds beside the model."""
    nbytes = sum(w.nbytes for w in specs)
    return ReaderFinding(
        Code.OPTIMIZER_STATE, Code.OPTIMIZER_STATE.severity, None,
        f"the weights file also stores the optimizer's state ({len(specs)} variables, "
        f"{nbytes:,} bytes, saved after training); it is not counted as params "
        "(totals.stored_optimizer_bytes)", {"stored_optimizer_bytes": nbytes})
