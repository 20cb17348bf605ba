"""``memscan diff OLD NEW``: analyse both at the same input, compare, render, exit code.

Exit codes: 0 compared (and within ``--max-growth``); 1 NEW grew by more than
``--max-growth`` percent on ``--metric``; 2 an artifact or the arguments could not be used.
"""
from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from typing import Any, Optional, Sequence

from .errors import MemscanError


EXIT_OK, EXIT_TRIPPED, EXIT_UNUSABLE = 0, 1, 2

EPILOG = """examples:
  memscan diff old.h5 new.h5
  memscan diff model.h5 model.h5 --input 224,224,3 --new-input 1024,1024,3
  memscan diff v1.onnx v2.onnx --input 1,3,1024,1024 --format markdown > comment.md
  memscan diff model.h5 model.onnx                   (across formats: totals only)
  memscan diff old.keras new.keras --metric inference --max-growth 5"""


def parse_percent(text: str) -> Fraction:
    """``5``, ``2.5`` or ``5%``: an exact non-negative percentage."""
    raw = text.strip().rstrip("%").strip()
    try:
        value = Fraction(raw)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage, e.g. 5 or 2.5") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} must be 0 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    from .budget import METRICS
    from .cli_options import _arg, _Parser, add_analysis_options
    from .inputs import parse_input_arg
    from .render.diff_out import RENDER

    p = _Parser(prog="memscan diff", description="What changed between two versions of a "
                "model: totals with deltas, layers added/removed/changed, findings new/gone.",
                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("old", metavar="OLD")
    p.add_argument("new", metavar="NEW")
    add_analysis_options(p)
    new_side = p.add_argument_group("the new side", "analyse NEW at another input than OLD "
                                    "(the analysis options above apply to both otherwise)")
    new_side.add_argument("--new-input", dest="new_inputs", action="append",
                          metavar="[NAME=]DIMS", type=_arg(parse_input_arg),
                          help="NEW's input instead of --input's, e.g. to see what going from "
                               "224 to 1024 costs: --input 224,224,3 --new-input 1024,1024,3")
    new_side.add_argument("--new-batch", type=int, help="NEW's batch instead of --batch's")
    gates = p.add_argument_group("gates", "what makes the exit code 1")
    gates.add_argument("--metric", choices=tuple(METRICS), default="total",
                       help="the figure --max-growth limits (default total)")
    gates.add_argument("--max-growth", type=parse_percent, metavar="PCT",
                       help="exit 1 when NEW's metric is more than PCT percent above OLD's")
    out = p.add_argument_group("output")
    out.add_argument("--format", choices=tuple(RENDER), default="table")
    out.add_argument("-o", "--output", metavar="FILE", help="write the diff to FILE")
    _add_running(p)
    p.add_argument("--no-config", action="store_true",
                   help="ignore [tool.memscan] in pyproject.toml")
    return p


def _add_running(p: argparse.ArgumentParser) -> None:
    run = p.add_argument_group("running")
    run.add_argument("--isolate", action=argparse.BooleanOptionalAction,
                     help="read each artifact in a child process with limits (default: on)")
    run.add_argument("--time-limit", type=int, metavar="SECONDS",
                     help="CPU seconds each isolated artifact may use (default 60)")


def _config_parser() -> argparse.ArgumentParser:
    """The options [tool.memscan] may set for a diff: the analysis options (input shape,
    limits, dtypes...) and how each side is read. Paths, budget, fail-on, format and the
    rest of the table are memscan's own and do not apply to a diff."""
    from .cli_options import _Parser, add_analysis_options

    p = _Parser(prog="memscan diff", add_help=False)
    add_analysis_options(p)
    _add_running(p)
    return p


def apply_project(args: argparse.Namespace) -> Optional[Any]:
    """``args`` completed from the nearest [tool.memscan] where the command line left an
    option out, as ``memscan`` completes its own (a shape typed in full replaces the table's
    shape keys); returns the per-path options (a ``config.PerPath``) or None."""
    from pathlib import Path

    from . import config

    project = config.find(Path.cwd())
    if project is None:
        return None
    parser = _config_parser()
    typed = frozenset(d for d in config.SHAPE_DESTS if getattr(args, d, None) is not None)
    for dest, value in config.known_options(parser, project).items():
        if getattr(args, dest, None) is None and not (typed and dest in config.SHAPE_DESTS):
            setattr(args, dest, value)
    return config.per_path(parser, project, typed)


def main(argv: Optional[Sequence[str]] = None) -> int:
    from .budget import METRICS
    from .cli_options import analysis_kwargs, emit
    from .diff import diff_reports
    from .orchestrate import ISOLATE, analyse_one
    from .isolate import isolate_by_default
    from .render.diff_out import RENDER

    parser = build_parser()
    args = parser.parse_args(list(argv or ()))
    try:
        per_path = None if args.no_config else apply_project(args)
    except MemscanError as exc:
        print(f"memscan: error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    kwargs = analysis_kwargs(parser, args)
    if args.isolate if args.isolate is not None else isolate_by_default(2):
        kwargs[ISOLATE] = args.time_limit
    old_kwargs = per_path.options(args.old, kwargs) if per_path else kwargs
    new_kwargs = per_path.options(args.new, kwargs) if per_path else dict(kwargs)
    if args.new_inputs:
        new_kwargs["inputs"] = args.new_inputs
    if args.new_batch is not None:
        new_kwargs["batch"] = args.new_batch
    reports, failed = [], False
    for path, kw in ((args.old, old_kwargs), (args.new, new_kwargs)):
        result = analyse_one(path, kw)
        if result.error is not None:
            print(f"memscan: error: {result.error.message}", file=sys.stderr)
            failed = True
        reports.append(result.report)
    if failed:
        return EXIT_UNUSABLE
    d = diff_reports(reports[0], reports[1], args.metric, METRICS[args.metric],
                     args.max_growth)
    text = RENDER[args.format](d)
    if not emit(text, args.output):
        return EXIT_UNUSABLE
    if d.tripped:
        t = d.total(d.metric_key)
        print(f"memscan: {args.new}: {args.metric} grew {t.pct:+.2f}% over {args.old}, more "
              f"than --max-growth {float(args.max_growth):g}%", file=sys.stderr)
        return EXIT_TRIPPED
    return EXIT_OK
