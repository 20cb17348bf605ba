"""Command line: parse arguments, run the analysis, render, choose the exit code. Nothing else.

Exit codes: 0 analysed; 1 a budget or --fail-on check tripped; 2 the file or the arguments
could not be used (one line on stderr, never a traceback).
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence

from . import __version__
from .errors import MemscanError

EXIT_OK, EXIT_TRIPPED, EXIT_UNUSABLE = 0, 1, 2

EPILOG = """examples:
  memscan model.h5 --input 1024,1024,3
  memscan model.h5 --input image=1024,1024,3 --input mask=1024,1024,1 --batch 8
  memscan model.h5 --input 512,512,3 --format json -o report.json

exit codes: 0 analysed; 1 a budget or --fail-on check tripped; 2 the file or the
arguments could not be used."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(EXIT_UNUSABLE, f"memscan: error: {message} (see memscan --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="memscan", description="Memory a saved model needs at the input you "
                "plan, read from the file alone (no model code, no weights loaded).",
                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", help="a Keras .h5 file")
    p.add_argument("--input", action="append", default=[], metavar="[NAME=]DIMS",
                   help="input dims without the batch, e.g. 1024,1024,3; repeat with NAME= "
                        "for several inputs (default: the shapes stored in the file)")
    p.add_argument("--batch", type=int, default=None, help="batch size (default 1)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE")
    p.add_argument("--isolate", action=argparse.BooleanOptionalAction, default=None,
                   help="read each artifact in a child process with memory and time limits "
                        "(4 GiB, 8 s of CPU, 30 s), so a crash or hang in a C parser costs "
                        "only that file (default: on; off with MEMSCAN_DEBUG=1)")
    p.add_argument("--version", action="version", version=f"memscan {__version__}")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from .analysis import analyse
    from .inputs import parse_input_arg
    from .render import render

    try:
        inputs = [parse_input_arg(text) for text in args.input]
        report = _analyse_one(args, inputs, n_artifacts=1)
        text = render(report, args.format)
    except MemscanError as exc:
        print(f"memscan: error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except Exception as exc:  # a bug or a file we did not foresee: still one line, exit 2
        if os.environ.get("MEMSCAN_DEBUG"):
            raise
        print(f"memscan: error: {args.path}: could not be analysed ({type(exc).__name__}: "
              f"{str(exc).splitlines()[0][:200] if str(exc) else ''}); rerun with "
              "MEMSCAN_DEBUG=1 for details", file=sys.stderr)
        return EXIT_UNUSABLE
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            print(f"memscan: error: {args.output}: cannot write ({exc.strerror})", file=sys.stderr)
            return EXIT_UNUSABLE
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _analyse_one(args: argparse.Namespace, inputs: list, n_artifacts: int):
    """One artifact, in-process or isolated in a child (--isolate, or several artifacts)."""
    from .isolate import analyse_isolated, isolate_by_default

    isolate = args.isolate if args.isolate is not None else isolate_by_default(n_artifacts)
    if not isolate:
        from .analysis import analyse
        return analyse(args.path, inputs=inputs, batch=args.batch)
    result = analyse_isolated(args.path, inputs, args.batch)
    if isinstance(result, MemscanError):
        raise result
    return result
