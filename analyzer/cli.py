"""Command line: parse arguments, run the analysis, render, choose the exit code. Nothing else.

Exit codes: 0 analysed; 1 a budget or --fail-on check tripped; 2 a file or the arguments
could not be used (one line on stderr per problem, never a traceback).

Adding a flag is one line in the right group of ``build_parser`` (the "analysis" group, which
``memscan diff`` shares, is ``cli_options.add_analysis_options``). Every option of the
"analysis" group is passed to ``analysis.analyse()`` as the keyword named by its ``dest``
(left out when not given), so ``analysis.add_argument("--optimizer", choices=...)`` reaches
``analyse(..., optimizer=...)`` with no other change; give ``type=`` a parser (wrapped in
``_arg`` if it raises MemscanError) to get the value already converted, and
``action=_IntoDict`` for repeatable NAME=VALUE options that analyse() takes as a mapping.
Every long option may also be set in ``[tool.memscan]`` of the project's pyproject.toml
(analyzer/config.py); a flag typed on the command line wins over it.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from ._version import __version__
from .cli_options import (EXIT_UNUSABLE, _arg, _Parser, _positive_int, add_analysis_options,
                          analysis_kwargs, emit)
from .errors import BadArguments, MemscanError, typed_first_line

EXIT_OK, EXIT_TRIPPED = 0, 1

EPILOG = """examples:
  memscan model.h5 --input 1024,1024,3
  memscan model.h5 --input image=1024,1024,3 --input mask=1024,1024,1 --batch 8
  memscan model.h5 --input 512,512,3 --format json -o report.json
  memscan model.onnx --input 1,3,1024,1024
  memscan model.onnx --batch 8 --dim height=1024 --dim width=768
  memscan models/ --size 1024x1024        (.h5, .onnx, SavedModel alike)
  memscan saved_model_dir/ --input 1024,1024,3 --signature serving_default
  memscan models/ other.h5 --input 1024,1024,3 --budget 8GiB --jobs 4
  memscan models/ --input 1024,1024,3 --fail-on int32-param-overflow,weights-mismatch
  memscan models/ --input 1024,1024,3 --format html -o report.html
  memscan models/ --format markdown --fail-on any-error > comment.md
  memscan model.h5 --sweep size=224:2048 --budget 16GiB --metric inference
  memscan model.onnx --sweep batch=1:64:1 --format csv
  memscan model.h5 --formula
  memscan diff old.h5 new.h5 --input 1024,1024,3 --max-growth 5

defaults: [tool.memscan] in the nearest pyproject.toml, e.g.
  inputs = ["models/"]   input = "1024,1024,3"   budget = "8GiB"   fail-on = ["any-error"]

exit codes:
  0  analysed; within the budget and no --fail-on finding
  1  analysed; a budget or a --fail-on check tripped (one line per artifact on stderr)
  2  a file or the arguments could not be used (one line each on stderr); the other
     artifacts are still analysed and reported"""

#: Built-in defaults, applied after [tool.memscan] (parser defaults stay None so that a
#: flag given on the command line can be told from one left out).
DEFAULTS: dict[str, Callable[[], Any]] = {
    "format": lambda: "table",
    "metric": lambda: "total",
}


def build_parser() -> argparse.ArgumentParser:
    from .budget import METRICS, parse_codes, parse_metric, parse_size
    from .render import FORMATS
    from .render.options import parse_layers
    from .sweep import parse_sweep

    p = _Parser(prog="memscan", description="Memory a saved model needs at the input you "
                "plan, read from the file alone (no model code, no weights loaded).",
                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="model files (Keras .h5/.keras, ONNX, SavedModel folders) or folders, "
                        "searched recursively")
    p.add_argument("--version", action="version", version=f"memscan {__version__}")

    add_analysis_options(p)

    gates = p.add_argument_group("gates", "what makes the exit code 1")
    gates.add_argument("--budget", type=_arg(parse_size), metavar="SIZE",
                       help="bytes each artifact may need, e.g. 8GiB, 500MB "
                            "(B, KB, MB, GB, KiB, MiB, GiB); a count for --metric macs, "
                            "e.g. 10G (K, M, G, T, Ki, Mi, Gi, Ti)")
    gates.add_argument("--metric", choices=tuple(METRICS), type=_arg(parse_metric),
                       help="the figure --budget limits: total (param bytes + feature maps, "
                            "default), inference (peak), training, params (param bytes), macs "
                            "(multiply-accumulates)")
    gates.add_argument("--fail-on", action="append", type=_arg(parse_codes),
                       metavar="CODE[,CODE...]",
                       help="finding codes that fail the run, e.g. int32-param-overflow,"
                            "weights-mismatch; any-error for every error finding")

    sweeps = p.add_argument_group("sweeps", "one model at many values of one input dim")
    sweeps.add_argument("--sweep", type=_arg(parse_sweep), metavar="DIM=START:STOP[:STEP]",
                        help="analyse at every value of DIM (batch, size, a named dim or "
                             "INPUT.AXIS) from START to STOP; without STEP and with --budget, "
                             "the largest value within the budget is found by bisection")
    sweeps.add_argument("--formula", action="store_true",
                        help="print each figure as an exact polynomial in the square spatial "
                             "side where one holds (checked on values it was not fitted on)")

    out = p.add_argument_group("output")
    out.add_argument("--format", choices=tuple(FORMATS), help="default: table")
    out.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE")
    out.add_argument("--split", action="store_true",
                     help="with -o FOLDER: one file per artifact, each as if named on its own "
                          "(--format markdown: one pull-request comment each)")
    out.add_argument("--layers", type=_arg(parse_layers), metavar="all|top:N|none",
                     help="per-layer rows of the table, Markdown and HTML: every layer, the N "
                          "with the most activation bytes, or none (default: the table shows "
                          "every layer up to 60, else the top 20; Markdown drops rows only to "
                          "stay under 65,536 characters)")

    run = p.add_argument_group("running")
    run.add_argument("-j", "--jobs", type=_positive_int,
                     help="artifacts analysed at once, in separate processes "
                          "(default: the cores)")
    run.add_argument("--exclude", action="append", metavar="GLOB",
                     help="skip files and folders matching GLOB while walking folders")
    run.add_argument("-v", "--verbose", action="store_true",
                     help="name every skipped file, not only a count")
    run.add_argument("--no-config", action="store_true",
                     help="ignore [tool.memscan] in pyproject.toml")
    run.add_argument("--isolate", action=argparse.BooleanOptionalAction,
                     help="read each artifact in a child process with memory and time limits, "
                          "so a crash or hang inside a C parser costs only that file "
                          "(default: on; MEMSCAN_DEBUG=1 turns it off)")
    run.add_argument("--time-limit", type=_positive_int, metavar="SECONDS",
                     help="CPU seconds each isolated artifact may use (default 60; the wall "
                          "clock allows twice that plus 10 s)")
    run.add_argument("--dask-scheduler", metavar="ADDRESS",
                     help="analyse the artifacts on the workers of this Dask scheduler, e.g. "
                          "tcp://10.0.0.5:8786 (needs memscan[dask]; each worker isolates "
                          "every artifact; --jobs is then unused)")
    return p


def _write_split(audit, args: argparse.Namespace) -> int:
    """``--split -o FOLDER``: the files, the notices, the exit code."""
    from .render import split
    from .render.notices import notices

    if not args.output:
        raise BadArguments("--split needs -o FOLDER, the folder to write one file per "
                           "artifact into")
    try:
        os.makedirs(args.output, exist_ok=True)
        for name, text in split(audit, args.format, _render_options(args)):
            with open(os.path.join(args.output, name), "w", encoding="utf-8") as fh:
                fh.write(text)
    except OSError as exc:
        raise MemscanError(f"{args.output}: cannot write ({exc.strerror})") from None
    for line in notices(audit, verbose=args.verbose):
        print(line, file=sys.stderr)
    if audit.errors:
        return EXIT_UNUSABLE
    return EXIT_TRIPPED if audit.tripped else EXIT_OK


def _render_options(args: argparse.Namespace):
    """Layout only: the width to fit (COLUMNS, or the terminal's when writing to one)."""
    from .render.options import LayerSelection, Options, terminal_width

    return Options(width=terminal_width(None if args.output else sys.stdout),
                   layers=args.layers or LayerSelection())


def _nothing_found(audit) -> str:
    skipped = audit.skipped
    if not skipped:
        return "no model memscan can read in this folder (it is empty)"
    first = skipped[0]
    more = f" and {len(skipped) - 1} more" if len(skipped) > 1 else ""
    return (f"no model memscan can read in this folder ({len(skipped)} entries skipped: "
            f"{first.path}: {first.reason}{more})")


@contextlib.contextmanager
def _cluster(args: argparse.Namespace):
    """With ``--dask-scheduler``: the runner mapping artifacts over its workers (the client
    closed afterwards); else None, the local processes."""
    if not args.dask_scheduler:
        yield None
        return
    if args.isolate is False:
        raise BadArguments("--no-isolate cannot be used with --dask-scheduler (workers always "
                           "isolate each artifact)")
    from .distributed import connect, runner

    client = connect(args.dask_scheduler)
    try:
        yield runner(client)
    finally:
        client.close()


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["diff"]:  # memscan diff OLD NEW (a file named diff: ./diff)
        from .cli_diff import main as diff_main

        return diff_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    from .budget import Gate, check_metric, check_units
    from .orchestrate import run_audit
    from .render import render_audit
    from .render.notices import notices

    try:
        if not args.no_config:
            from . import config

            project = config.find(Path.cwd())
            if project is not None:
                args = config.apply(parser, args, project, argv)
        for key, default in DEFAULTS.items():
            if getattr(args, key) is None:
                setattr(args, key, default())
        if not args.paths:
            parser.error("give a model file or folder (or inputs in [tool.memscan])")
        if args.budget is not None:
            check_metric(args.metric)
            args.budget = check_units(args.metric, args.budget)
        gate = Gate(budget=args.budget, metric=args.metric,
                    fail_on=tuple(c for codes in args.fail_on or () for c in codes))
        if args.sweep is not None or args.formula:
            if args.dask_scheduler:
                raise BadArguments("--dask-scheduler runs audits, not --sweep or --formula "
                                   "(one model: run it locally)")
            from .cli_sweep import run as run_sweeps

            return run_sweeps(args, analysis_kwargs(parser, args), gate)
        with _cluster(args) as cluster:
            audit = run_audit(args.paths, analysis_kwargs(parser, args), gate, jobs=args.jobs,
                              exclude=args.exclude or (), progress_stream=sys.stderr,
                              isolate=True if cluster else args.isolate,
                              time_limit=args.time_limit,
                              per_path=getattr(args, "per_path", None), runner=cluster)
        if not audit.results and not audit.errors:  # nothing to report: one line, exit 2
            print(f"memscan: error: {', '.join(args.paths)}: {_nothing_found(audit)}",
                  file=sys.stderr)
            return EXIT_UNUSABLE
        if args.split:
            return _write_split(audit, args)
        text = render_audit(audit, args.format, _render_options(args))
    except MemscanError as exc:
        print(f"memscan: error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except Exception as exc:  # a bug we did not foresee: still one line, exit 2
        if os.environ.get("MEMSCAN_DEBUG"):
            raise
        print(f"memscan: error: {typed_first_line(exc)}; rerun with "
              "MEMSCAN_DEBUG=1 for details", file=sys.stderr)
        return EXIT_UNUSABLE
    if text and not emit(text, args.output):
        return EXIT_UNUSABLE
    for line in notices(audit, verbose=args.verbose):
        print(line, file=sys.stderr)
    if audit.errors or not audit.results:
        return EXIT_UNUSABLE
    return EXIT_TRIPPED if audit.tripped else EXIT_OK
