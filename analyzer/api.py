"""The Python API: the command line's two questions as calls that return objects.

``analyse`` answers for one artifact and raises a :class:`MemscanError` when it cannot;
``audit`` answers for many and never raises for one bad file (it becomes an error entry),
exactly as ``memscan PATHS...`` does. Inputs are written as a user would write them::

    >>> import memscan
    >>> r = memscan.analyse("fixtures/keras3/vgg16.h5", input=(1024, 1024, 3))
    >>> r.totals.params
    2183080744
    >>> r.inputs[0].shape, r.outputs[0].shape
    ([1, 1024, 1024, 3], [1, 1000])
    >>> memscan.analyse("fixtures/keras3/vgg16.h5", input="1024,1024,3").totals.params
    2183080744
"""
from __future__ import annotations

import json
from dataclasses import fields
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from .audit import Audit
from .budget import Gate, parse_codes, parse_size
from .errors import BadArguments
from .inputs import InputArg, parse_input_arg, parse_size_arg
from .report import Report as _Report

#: What ``input=`` accepts: dims without the batch as a tuple ``(1024, 1024, 3)`` or a
#: string ``"1024,1024,3"`` (``"image=1024,1024,3"`` names the input), or ``{name: dims}``
#: for a model with several inputs. None: the shapes stored in the file.
Input = Union[None, str, Sequence[int], Mapping[str, Union[str, Sequence[int]]]]
#: What ``size=`` accepts: one side for every spatial dim (``1024``), (height, width), or the
#: ``--size`` text (``"1024x768"``). None: the spatial dims from ``input`` or the file.
Size = Union[None, int, str, Sequence[int]]


class Report(_Report):
    """One artifact's figures: ``.totals``, ``.layers``, ``.findings``, ``.inputs``,
    ``.outputs``; ``.to_dict()``/``.to_json()`` give the ``--format json`` document, and a
    notebook shows it as the HTML report."""

    def to_json(self, indent: Optional[int] = 2) -> str:
        """The report as ``memscan --format json`` writes it (schema ``memscan/1``)."""
        return json.dumps(self.to_dict(), indent=indent)

    def _repr_html_(self) -> str:
        from .render import render

        return render(self, "html")


def analyse(path: str, input: Input = None, *, batch: Optional[int] = None,
            dims: Optional[Mapping[str, int]] = None, size: Size = None,
            dtype: Optional[str] = None, weights_dtype: Optional[str] = None,
            optimizer: str = "adam", signature: Optional[str] = None) -> Report:
    """The memory the artifact at ``path`` needs at ``input``; the file alone is read.

    ``batch`` (default 1), ``dims`` binds symbolic ONNX dims by name (``{"height": 1024}``),
    ``size`` sets the spatial dims of image-like inputs in any layout, keeping batch and
    channels as stored (``1024``, ``(1024, 768)`` or ``"1024x768"``, as ``--size``),
    ``dtype``/``weights_dtype`` ask "what if activations/weights were float16, bfloat16,
    int8", ``optimizer`` (sgd, momentum, adam) sizes the training estimate, ``signature``
    picks a SavedModel signature. Raises :class:`memscan.BadArguments` when the arguments do
    not fit the model and :class:`memscan.UnreadableArtifact` when the file cannot be read,
    both one-line :class:`memscan.MemscanError` messages naming the file.

    >>> import memscan
    >>> memscan.analyse("fixtures/keras3/vgg16.h5", input={"input_layer": (224, 224, 3)},
    ...                 batch=8).totals.params
    138357544
    >>> memscan.analyse("fixtures/keras3/vgg16.h5", size=1024).inputs[0].shape
    [1, 1024, 1024, 3]
    >>> try:
    ...     memscan.analyse("fixtures/keras3/vgg16.h5", input="1024,abc")
    ... except memscan.MemscanError as exc:
    ...     print(exc)
    --input dim 'abc' is not an integer
    """
    from .analysis import analyse as _analyse

    _check_options(dtype, weights_dtype, optimizer)
    report = _analyse(path, input_args(input), batch, dims, signature, optimizer=optimizer,
                      dtype=dtype, weights_dtype=weights_dtype, size=size_arg(size))
    return public(report)


def audit(paths: Union[str, Iterable[str]], input: Input = None, *,
          batch: Optional[int] = None, dims: Optional[Mapping[str, int]] = None,
          size: Size = None,
          dtype: Optional[str] = None, weights_dtype: Optional[str] = None,
          optimizer: str = "adam", signature: Optional[str] = None,
          budget: Union[None, str, int] = None, metric: str = "total",
          fail_on: Union[str, Iterable[str]] = (), exclude: Iterable[str] = (),
          jobs: int = 1, client: Any = None) -> Audit:
    """Every model file under ``paths`` (files or folders, searched recursively), gated.

    ``budget`` (``"8GiB"``, or bytes) limits ``metric`` (total, inference, training,
    params); ``fail_on`` lists finding codes that trip an artifact (``"any-error"`` for every
    error finding). The Audit's ``results`` keep the order of discovery; each has a
    ``report`` or an ``error``, and ``tripped`` says whether it failed the gate.
    ``client`` (a ``dask.distributed.Client``) analyses the artifacts on its cluster's
    workers, each isolated in a child process, instead of here (``jobs`` is then unused;
    the client stays open). Workers must reach the paths and URLs themselves.

    >>> import memscan
    >>> a = memscan.audit(["fixtures/keras3/vgg16.h5"], input=(1024, 1024, 3), budget="8GiB")
    >>> [(r.path, r.report.totals.params, r.tripped) for r in a.results]
    [('fixtures/keras3/vgg16.h5', 2183080744, True)]
    >>> a.results[0].report.totals.total_bytes, a.results[0].gate.over  # bytes over 8 GiB
    (10007428160, 1417493568)
    """
    from .budget import check_metric
    from .orchestrate import run_audit

    _check_options(dtype, weights_dtype, optimizer)
    names = [paths] if isinstance(paths, str) else list(paths)
    codes = parse_codes(fail_on) if isinstance(fail_on, str) else [
        c for item in fail_on for c in parse_codes(item)]
    limit = None if budget is None else parse_size(str(budget))
    if limit is not None:
        check_metric(metric)
    options: dict[str, Any] = {"inputs": input_args(input), "batch": batch, "dims": dims,
                               "size": size_arg(size),
                               "dtype": dtype, "weights_dtype": weights_dtype,
                               "optimizer": optimizer, "signature": signature}
    cluster = None
    if client is not None:
        from .distributed import runner

        cluster = runner(client)
    result = run_audit(names, {k: v for k, v in options.items() if v is not None},
                       Gate(budget=limit, metric=metric, fail_on=tuple(codes)),
                       jobs=jobs, exclude=tuple(exclude), isolate=cluster is not None,
                       runner=cluster)
    for r in result.results:
        if r.report is not None:
            r.report = public(r.report)
    return result


def size_arg(value: Size) -> Optional[tuple[int, ...]]:
    """``size=`` as the analysis takes it. BadArguments if unusable.

    >>> size_arg(1024), size_arg("1024x768"), size_arg((512, 256)), size_arg(None)
    ((1024,), (1024, 768), (512, 256), None)
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise BadArguments(f"size={value!r}: expected a side, (height, width) or '1024x768'")
    if isinstance(value, int):
        return parse_size_arg(str(value))
    if isinstance(value, str):
        return parse_size_arg(value)
    return parse_size_arg("x".join(str(int(v)) for v in value))


def input_args(value: Any) -> list[InputArg]:
    """``input=`` as the analysis takes it: a list of (name, dims). BadArguments if unusable.

    >>> input_args((1024, 1024, 3))
    [InputArg(name=None, dims=(1024, 1024, 3))]
    >>> input_args({"image": "512x512x3", "mask": [512, 512, 1]})
    [InputArg(name='image', dims=(512, 512, 3)), InputArg(name='mask', dims=(512, 512, 1))]
    """
    if value is None:
        return []
    if isinstance(value, InputArg):
        return [value]
    if isinstance(value, str):
        return [parse_input_arg(value)]
    if isinstance(value, Mapping):
        return [_named(str(name), dims) for name, dims in value.items()]
    items = list(value)
    if items and all(isinstance(i, InputArg) for i in items):
        return items
    return [InputArg(None, _dims(items, repr(value)))]


def _named(name: str, dims: Any) -> InputArg:
    if isinstance(dims, str):
        return InputArg(name, parse_input_arg(dims).dims)
    return InputArg(name, _dims(list(dims), f"{name}={dims!r}"))


def _dims(items: list, text: str) -> tuple[int, ...]:
    if not items or not all(isinstance(d, int) and not isinstance(d, bool) for d in items):
        raise BadArguments(f"input {text}: expected whole numbers, e.g. (1024, 1024, 3)")
    return parse_input_arg(",".join(str(d) for d in items)).dims


def _check_options(dtype: Optional[str], weights_dtype: Optional[str], optimizer: str) -> None:
    """The choices the CLI enforces with argparse, as BadArguments here."""
    from .dtypes import WHAT_IF_DTYPES

    for name, v in (("dtype", dtype), ("weights_dtype", weights_dtype)):
        if v is not None and v not in WHAT_IF_DTYPES:
            raise BadArguments(f"{name}={v!r}: expected one of {', '.join(WHAT_IF_DTYPES)}")
    if optimizer not in ("sgd", "momentum", "adam"):
        raise BadArguments(f"optimizer={optimizer!r}: expected sgd, momentum or adam")


def public(report: _Report) -> Report:
    """The same report as the API's Report (JSON and notebook display added)."""
    if isinstance(report, Report):
        return report
    return Report(**{f.name: getattr(report, f.name) for f in fields(_Report)})
