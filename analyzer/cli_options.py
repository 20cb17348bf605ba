"""The command line's shared pieces: a parser whose errors are one line (exit 2), argparse
types from memscan's parsers, and the "analysis" options every command passes to
``analysis.analyse()`` (``memscan`` and ``memscan diff`` both use them)."""
from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Optional

from .dtypes import WHAT_IF_DTYPES
from .errors import MemscanError

EXIT_UNUSABLE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(EXIT_UNUSABLE, f"memscan: error: {message} (see memscan --help)\n")


def _arg(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse ``type`` from a parser that raises MemscanError (one-line messages)."""
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except MemscanError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    convert.__name__ = parse.__name__
    return convert


class _IntoDict(argparse.Action):
    """Repeatable ``NAME=VALUE`` options collected into one dict (``type=`` returns the
    (name, value) pair), e.g. ``--dim height=1024 --dim width=768`` -> ``dims={...}``."""

    repeatable = True  # [tool.memscan] may give a list

    def __call__(self, parser, namespace, value, option_string=None) -> None:
        current = dict(getattr(namespace, self.dest, None) or {})
        name, item = value
        current[name] = item
        setattr(namespace, self.dest, current)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be 1 or more")
    return value


def add_analysis_options(p: argparse.ArgumentParser) -> None:
    """The "analysis" group (``memscan`` and ``memscan diff`` share it): every option in it
    reaches ``analysis.analyse()`` as the keyword named by its ``dest``."""
    from .inputs import parse_dim_arg, parse_input_arg, parse_size_arg
    from .limits import parse_config_size

    analysis = p.add_argument_group("analysis", "the input to analyse each model at")
    p.analysis_group = analysis  # type: ignore[attr-defined]
    analysis.add_argument("--input", dest="inputs", action="append", metavar="[NAME=]DIMS",
                          type=_arg(parse_input_arg),
                          help="input dims without the batch, e.g. 1024,1024,3; repeat with "
                               "NAME= for several inputs (default: the shapes stored in the "
                               "file); ONNX: the full shape, e.g. 1,3,1024,1024, or without "
                               "the batch (then --batch, default 1)")
    analysis.add_argument("--batch", type=int, help="batch size (default 1)")
    analysis.add_argument("--size", type=_arg(parse_size_arg), metavar="HxW",
                          help="spatial dims of image-like inputs, NHWC or NCHW, any format "
                               "(e.g. 1024x768; 1024 for square); batch and channels as stored")
    analysis.add_argument("--dim", dest="dims", action=_IntoDict, type=_arg(parse_dim_arg),
                          metavar="NAME=VALUE",
                          help="bind a symbolic input dim by name (ONNX dim_param), e.g. "
                               "--dim height=1024; repeatable")
    analysis.add_argument("--max-config-size", type=_arg(parse_config_size), metavar="SIZE",
                          help="largest model config read (default 32MiB)")
    analysis.add_argument("--max-nodes", type=_positive_int, metavar="N",
                          help="largest graph analysed, in nodes (default 200000)")
    analysis.add_argument("--signature", metavar="NAME",
                          help="SavedModel: the signature to analyse (default serving_default; "
                               "giving it analyses the traced graph even of a Keras-written one)")
    analysis.add_argument("--optimizer", choices=("sgd", "momentum", "adam"),
                          help="optimizer of the training estimate (state slots per trainable "
                               "weight: 0, 1, 2; default adam)")
    analysis.add_argument("--dtype", choices=WHAT_IF_DTYPES,
                          help="what if the activations were this dtype (default: as in the file)")
    analysis.add_argument("--weights-dtype", choices=WHAT_IF_DTYPES,
                          help="what if the weights were this dtype (default: as stored)")


def analysis_kwargs(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict:
    """The analysis group's options that were given, keyed by dest (analyse()'s keywords)."""
    group = parser.analysis_group  # type: ignore[attr-defined]
    return {a.dest: getattr(args, a.dest) for a in group._group_actions
            if getattr(args, a.dest, None) is not None}


def emit(text: str, output: Optional[str]) -> bool:
    """Write ``text`` to ``-o FILE`` or stdout; False (one line on stderr) when the file
    cannot be written, so every command turns that into exit 2, never a traceback."""
    if not output:
        sys.stdout.write(text)
        return True
    try:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        print(f"memscan: error: {output}: cannot write ({exc.strerror})", file=sys.stderr)
        return False
    return True
