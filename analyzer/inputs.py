"""The input shapes the user states (``--input``, ``--batch``, ``--dim``) resolved against a graph."""
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
    dims = []
    for p in parts:
        try:
            d = int(p)
        except ValueError:
            raise BadArguments(f"--input dim {p!r} is not an integer") from None
        if d <= 0 or d > MAX_DIM:
            raise BadArguments(f"--input dim {d} is out of range (1 to {MAX_DIM})")
        dims.append(d)
    return InputArg(name, tuple(dims))


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


def resolve_inputs(graph: Graph, args: Sequence[InputArg], batch: Optional[int],
                   dims: Optional[Mapping[str, int]] = None, *, path: str = "") -> dict[str, Shape]:
    """Map every graph input to a fully known shape, or raise BadArguments naming what's missing."""
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
    result: dict[str, Shape] = {}
    for spec in graph.inputs:
        if graph.batch_first:
            shape = _apply(spec, assigned.get(spec.name), batch, graph.batch_first, path)
            shape = _bind_named_dims(spec, shape, dims or {})
        else:  # --dim values first, so --input and --batch are checked against them
            bound = replace(spec, shape=_bind_named_dims(spec, spec.shape, dims or {}))
            shape = _apply(bound, assigned.get(spec.name), batch, False, path)
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
    elif len(arg.dims) == len(stored) - 1 and batch is not None:
        shape = [batch, *arg.dims]
    else:
        raise BadArguments(
            f"input {spec.name!r} has layout {_layout(spec)} ({len(stored)} dims); --input gave "
            f"{len(arg.dims)}: {given}"
            + ("" if batch is not None else " (leave out the batch only with --batch)"),
            path or None)
    for i, (want, got) in enumerate(zip(stored, shape)):
        if want is not None and want != got and not spec.resizable:
            raise BadArguments(
                f"input {spec.name!r} fixes dim {i} at {want}, expected layout {_layout(spec)}; "
                f"--input gave {','.join(map(str, shape))}", path or None)
    return tuple(shape)


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
