"""The input shapes the user states (``--input``, ``--batch``, ``--dim``, ``--size``) resolved
against a graph.

One convention for every format: ``--size HxW`` sets the spatial dims of image-like inputs
(the channel axis found from the graph's data layout or the fixed channel dim) and keeps batch
and channels as stored; ``--input`` may leave the batch out everywhere (it comes from
``--batch``, default 1). A Keras/SavedModel ``--input`` that contradicts the channel or
feature dim the file fixes is refused with the stored layout and a corrected ``--input``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping, Optional, Sequence

from .errors import BadArguments
from .ir import Graph, Shape, TensorSpec

MAX_DIM = 2**40


@dataclass(frozen=True)
class InputArg:
    """One ``--input`` value: an optional input name and its dims."""

    name: Optional[str]
    dims: tuple[int, ...]


def parse_input_arg(text: str) -> InputArg:
    """``1024,1024,3``, ``1024x1024x3`` or ``image=1024,1024,3``."""
    name: Optional[str] = None
    if "=" in text:
        name, text = text.split("=", 1)
        name = name.strip()
        if not name:
            raise BadArguments(f"--input {text!r}: the name before '=' is empty")
    parts = [p.strip() for p in text.replace("x", ",").replace("×", ",").split(",") if p.strip()]
    if not parts:
        raise BadArguments(f"--input {text!r} gives no dims")
    return InputArg(name, _dims(parts, "--input dim"))


def _dims(parts: Sequence[str], what: str) -> tuple[int, ...]:
    """Positive integer dims from their texts; BadArguments naming ``what`` otherwise."""
    dims = []
    for p in parts:
        try:
            d = int(p)
        except ValueError:
            raise BadArguments(f"{what} {p!r} is not an integer") from None
        if d <= 0 or d > MAX_DIM:
            raise BadArguments(f"{what} {d} is out of range (1 to {MAX_DIM})")
        dims.append(d)
    return tuple(dims)


def parse_dim_arg(text: str) -> tuple[str, int]:
    """``--dim height=1024``: a symbolic dim name (ONNX ``dim_param``) and its value."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise BadArguments(f"--dim {text!r}: expected NAME=VALUE, e.g. --dim height=1024")
    try:
        d = int(value.strip())
    except ValueError:
        raise BadArguments(f"--dim {text!r}: {value.strip()!r} is not an integer") from None
    if d <= 0 or d > MAX_DIM:
        raise BadArguments(f"--dim {text!r}: {d} is out of range (1 to {MAX_DIM})")
    return name, d


def parse_size_arg(text: str) -> tuple[int, ...]:
    """``--size 1024x768`` (height x width), ``--size 1024`` (every spatial dim)."""
    parts = [p.strip() for p in text.lower().replace("×", "x").replace(",", "x").split("x")]
    if not parts or not all(parts):
        raise BadArguments(f"--size {text!r}: expected HxW or one number, e.g. --size 1024x1024")
    return _dims(parts, f"--size {text!r}:")


CHANNELS_LAST, CHANNELS_FIRST = "channels-last", "channels-first"
#: A node's ``data_format`` values that mean channels-first (Keras, TF graph attributes).
_FIRST_FORMATS = {"channels_first", "NCHW", "NCW", "NCDHW"}


def graph_layout(graph: Graph) -> Optional[str]:
    """The data layout a graph's layers state (Keras ``data_format``, TF ``NCHW``), or None
    for a graph whose ops carry no layout (ONNX, where the fixed dims tell it)."""
    if not graph.batch_first:
        return None
    for node in graph.nodes:
        fmt = node.config.get("data_format") if isinstance(node.config, Mapping) else None
        if isinstance(fmt, bytes):
            fmt = fmt.decode("ascii", "replace")
        if fmt in _FIRST_FORMATS:
            return CHANNELS_FIRST
    return CHANNELS_LAST


def channel_axis(spec: TensorSpec, layout: Optional[str]) -> Optional[int]:
    """Index (batch included) of the channel/feature dim of ``spec``, or None when it has
    none or it cannot be told. Rank 2 integer inputs are token ids (the dim is a sequence
    length, free); rank 2 otherwise is (batch, features)."""
    shape = spec.shape
    if len(shape) < 2:
        return None
    if len(shape) == 2:
        return None if spec.dtype.startswith(("int", "uint")) else 1
    if layout == CHANNELS_FIRST:
        return 1
    if layout == CHANNELS_LAST:
        return len(shape) - 1
    first, last = shape[1], shape[-1]  # no stated layout: the fixed channel dim tells it
    if first is not None and (last is None or first < last):
        return 1
    if last is not None and (first is None or last < first):
        return len(shape) - 1
    return None


def layout_name(spec: TensorSpec, axis: Optional[int]) -> str:
    if axis is None:
        return "layout unknown"
    if len(spec.shape) == 2:
        return "features last"
    return CHANNELS_FIRST if axis == 1 else CHANNELS_LAST


def sized_shape(shape: Shape, size: Sequence[int], axis: int) -> Shape:
    """``shape`` (batch first) with its spatial dims — all but the batch and the channel axis
    ``axis`` — set to ``size`` (one value: every spatial dim; else one per spatial dim, in
    order). The sweep over input sizes reuses this."""
    spatial = [i for i in range(1, len(shape)) if i != axis]
    if len(size) == 1:
        size = tuple(size) * len(spatial)
    if len(size) != len(spatial):
        raise BadArguments(f"--size gives {len(size)} dims; the input {_fmt(shape)} has "
                           f"{len(spatial)} spatial dims")
    out = list(shape)
    for i, d in zip(spatial, size):
        out[i] = d
    return tuple(out)


def _image_like(spec: TensorSpec, layout: Optional[str]) -> Optional[int]:
    """The channel axis of an image-like input (rank 3 to 5 with the batch, a known channel
    axis), or None for any other input."""
    if not 3 <= len(spec.shape) <= 5:
        return None
    return channel_axis(spec, layout)


def _apply_size(graph: Graph, spec: TensorSpec, size: Sequence[int], layout: Optional[str],
                path: str) -> TensorSpec:
    axis = _image_like(spec, layout)
    if axis is None:
        raise BadArguments(
            f"--size sets the spatial dims of image-like inputs; input {spec.name!r} stores "
            f"{_fmt(spec.shape)} ({layout_name(spec, channel_axis(spec, layout))}): give it "
            f"with --input {spec.name}=...", path or None)
    try:
        return replace(spec, shape=sized_shape(spec.shape, size, axis))
    except BadArguments as exc:
        raise BadArguments(f"input {spec.name!r}: {exc}", path or None) from None


def resolve_inputs(graph: Graph, args: Sequence[InputArg], batch: Optional[int],
                   dims: Optional[Mapping[str, int]] = None, *, path: str = "",
                   size: Optional[Sequence[int]] = None) -> dict[str, Shape]:
    """Map every graph input to a fully known shape, or raise BadArguments naming what's
    missing. ``size`` (``--size``) sets the spatial dims of every input ``args`` does not
    give."""
    if batch is not None and batch <= 0:
        raise BadArguments("--batch must be a positive integer", path or None)
    specs = {s.name: s for s in graph.inputs}
    assigned: dict[str, InputArg] = {}
    unnamed = [a for a in args if a.name is None]
    for a in args:
        if a.name is not None:
            if a.name not in specs:
                raise BadArguments(f"--input names {a.name!r}, but the model's inputs are "
                                   f"{', '.join(specs) or '(none)'}", path or None)
            assigned[a.name] = a
    if dims:
        known = {n for s in graph.inputs for n in s.dim_names if n}
        unknown = [n for n in dims if n not in known]
        if unknown:
            raise BadArguments(
                f"--dim {unknown[0]}: the model has no input dim named {unknown[0]!r} (named "
                f"dims: {', '.join(sorted(known)) or 'none'})", path or None)
    free = [s for s in graph.inputs if s.name not in assigned]
    if unnamed:
        if len(unnamed) != len(free):
            raise BadArguments(
                f"the model has {len(graph.inputs)} inputs ({', '.join(specs)}); name each: "
                f"--input {graph.inputs[0].name if graph.inputs else 'name'}=...", path or None)
        for spec, a in zip(free, unnamed):
            assigned[spec.name] = a
    layout = graph_layout(graph)
    result: dict[str, Shape] = {}
    for spec in graph.inputs:
        arg = assigned.get(spec.name)
        if graph.batch_first:
            given = _apply_size(graph, spec, size, layout, path) if size and arg is None else spec
            shape = _apply(given, arg, batch, graph.batch_first, path)
            if arg is not None:
                _check_layout(spec, shape, layout, arg, path)
            shape = _bind_named_dims(spec, shape, dims or {})
        else:  # --dim values first, so --input and --batch are checked against them
            bound = replace(spec, shape=_bind_named_dims(spec, spec.shape, dims or {}))
            if size and arg is None:
                bound = _apply_size(graph, bound, size, layout, path)
            shape = _apply(bound, arg, batch, False, path)
        for i, d in enumerate(shape):
            if d is None:
                label = f"dim {i}" + (f" ({spec.dim_names[i]})" if i < len(spec.dim_names)
                                      and spec.dim_names[i] else "")
                raise BadArguments(
                    f"input {spec.name!r} {label} is unknown in the file "
                    f"(stored shape {_fmt(spec.shape)}); give it with --input "
                    f"{spec.name}={_example(spec, graph.batch_first)}"
                    + (f" or --dim {spec.dim_names[i]}=VALUE" if i < len(spec.dim_names)
                       and spec.dim_names[i] else ""), path or None)
        result[spec.name] = shape
    return result


def _apply(spec: TensorSpec, arg: Optional[InputArg], batch: Optional[int], batch_first: bool,
           path: str) -> Shape:
    stored = spec.shape
    if batch_first:
        if arg is None:
            shape = list(stored)
        else:
            if len(arg.dims) != len(stored) - 1:
                raise BadArguments(
                    f"input {spec.name!r} has {len(stored) - 1} dims besides the batch (stored "
                    f"{_fmt(stored)}); --input gave {len(arg.dims)}: {','.join(map(str, arg.dims))}",
                    path or None)
            shape = [None, *arg.dims]
        if shape:
            shape[0] = batch if batch is not None else 1
        return tuple(shape)
    # Full-shape formats (ONNX): full shape, or without the batch when --batch is given.
    if not spec.rank_known:
        if arg is None:
            raise BadArguments(f"input {spec.name!r} has no shape in the file (not even a "
                               f"rank); give it in full with --input {spec.name}=...",
                               path or None)
        shape = list(arg.dims)
        if batch is not None:
            shape[0] = batch
        return tuple(shape)
    if arg is None:
        shape = list(stored)
        if batch is not None and shape:
            shape[0] = batch
        elif shape and shape[0] is None:
            shape[0] = 1
        return tuple(shape)
    given = ",".join(map(str, arg.dims))
    if len(arg.dims) == len(stored):
        shape = list(arg.dims)
        if batch is not None and shape and shape[0] != batch:
            raise BadArguments(f"input {spec.name!r}: --input {given} gives batch {shape[0]} "
                               f"but --batch is {batch}; give the shape without the batch "
                               f"(layout {_layout(spec)})", path or None)
    elif len(arg.dims) == len(stored) - 1:  # without the batch, as for Keras
        shape = [batch if batch is not None else 1, *arg.dims]
    else:
        raise BadArguments(
            f"input {spec.name!r} has layout {_layout(spec)} ({len(stored)} dims); --input gave "
            f"{len(arg.dims)}: {given} (the full shape, or without the batch)", path or None)
    for i, (want, got) in enumerate(zip(stored, shape)):
        if want is not None and want != got:
            axis = channel_axis(spec, None)
            hint = ""
            if axis is not None and 3 <= len(stored) <= 5 and shape[axis] != stored[axis]:
                hint = (f" ({layout_name(spec, axis)}; try --input "
                        f"{','.join(map(str, _corrected(shape, stored, axis)[1:]))}, or "
                        "--size to set only the spatial dims)")
            raise BadArguments(
                f"input {spec.name!r} fixes dim {i} at {want}, expected layout {_layout(spec)}; "
                f"--input gave {','.join(map(str, shape))}{hint}", path or None)
    return tuple(shape)


def _check_layout(spec: TensorSpec, shape: Shape, layout: Optional[str], arg: InputArg,
                  path: str) -> None:
    """Refuse an ``--input`` whose channel/feature dim contradicts the one the file fixes
    (``3,1024,1024`` on a channels-last model storing ``[None, 224, 224, 3]``)."""
    axis = channel_axis(spec, layout)
    if axis is None or axis >= len(shape):
        return
    want = spec.shape[axis]
    if want is None or shape[axis] == want:
        return
    name = layout_name(spec, axis)
    what = "features" if len(spec.shape) == 2 else "channels"
    fixed = _corrected(shape, spec.shape, axis)
    spatial = "x".join(str(d) for i, d in enumerate(fixed) if i not in (0, axis))
    stored = "[" + ", ".join(str(d) for d in spec.shape) + "]"  # Keras's own notation
    raise BadArguments(
        f"input {spec.name!r}: --input {','.join(map(str, arg.dims))} gives {what} "
        f"{shape[axis]}, but the file stores {stored}: {name}, {what} fixed at {want}; try "
        f"--input {','.join(map(str, fixed[1:]))}"
        + (f" (or --size {spatial})" if len(spec.shape) > 2 else ""), path or None)


def _corrected(shape: Shape, stored: Shape, axis: int) -> list:
    """``shape`` with the stored channel value at ``axis``; when the given dims hold that
    value elsewhere (channels-first given for channels-last), it moves rather than doubles."""
    want = stored[axis]
    given = list(shape[1:])
    if want in given:
        given.remove(want)
    else:
        del given[axis - 1]
    given.insert(axis - 1, want)
    return [shape[0], *given]


def _bind_named_dims(spec: TensorSpec, shape: Shape, dims: Mapping[str, int]) -> Shape:
    if not dims or not spec.dim_names:
        return shape
    out = list(shape)
    for i, name in enumerate(spec.dim_names):
        if name and name in dims and (spec.shape[i] is None):
            out[i] = dims[name]
    return tuple(out)


def _fmt(shape: Shape) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _layout(spec: TensorSpec) -> str:
    names = spec.dim_names or (None,) * len(spec.shape)
    return "[" + ", ".join(str(d) if d is not None else (n or "?")
                           for d, n in zip(spec.shape, names)) + "]"


def _example(spec: TensorSpec, batch_first: bool) -> str:
    dims = spec.shape[1:] if batch_first else spec.shape
    return ",".join(str(d) if d is not None else "N" for d in dims)
