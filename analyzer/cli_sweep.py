"""``memscan PATHS --sweep DIM=START:STOP[:STEP]`` and ``--formula``: run, render, exit code.

Each artifact is read once and analysed at every swept value (analyzer/sweep.py). Exit codes
as for a single run: 0 answered; 1 a budget was given and no swept value fits it; 2 an
artifact or the arguments could not be used (one line each on stderr).
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Mapping

from .budget import METRICS, Gate
from .cli_options import emit
from .errors import BadArguments, MemscanError

EXIT_OK, EXIT_TRIPPED, EXIT_UNUSABLE = 0, 1, 2


def run(args: argparse.Namespace, kwargs: Mapping[str, Any], gate: Gate) -> int:
    from .discover import discover

    if args.formula and args.sweep is not None:
        raise BadArguments("give --sweep or --formula, not both (--formula chooses its own "
                           "values of the spatial side)")
    if gate.fail_on:
        raise BadArguments("--fail-on gates single runs; a sweep reports where each finding "
                           "starts instead (drop --fail-on or --sweep)")
    found = discover(args.paths, args.exclude or ())
    errors: list[str] = [f"{s.path}: {s.reason}" for s in found.skipped] if args.verbose else []
    results: list[Any] = []
    for path in found.artifacts:
        try:
            results.append(_one(path, args, kwargs, gate))
        except MemscanError as exc:
            errors.append(str(exc) if exc.path else f"{path}: {exc}")
    if results:
        text = _render(results, args)
        if not emit(text, args.output):
            return EXIT_UNUSABLE
    for line in errors:
        print(f"memscan: error: {line}", file=sys.stderr)
    if errors or not results:
        if not results and not errors:
            print(f"memscan: error: {', '.join(args.paths)}: no model memscan can read",
                  file=sys.stderr)
        return EXIT_UNUSABLE
    tripped = [r for r in results if getattr(r, "tripped", False)]
    for r in tripped:
        print(f"memscan: {r.path}: no {r.over} from {args.sweep.start} to {args.sweep.stop} "
              f"fits the {gate.budget.label if gate.budget else ''} budget ({gate.metric})",
              file=sys.stderr)
    return EXIT_TRIPPED if tripped else EXIT_OK


def _one(path: str, args: argparse.Namespace, kwargs: Mapping[str, Any], gate: Gate) -> Any:
    """One artifact's sweep or closed form: in a limited child process unless isolation is
    off (as for a single run), the whole of it read once and analysed at every value."""
    from .isolate import isolate_by_default, limits, run_isolated, run_task

    if args.formula:
        task, task_kwargs = "formula", {"kwargs": dict(kwargs)}
    else:
        task, task_kwargs = "sweep", {
            "spec": args.sweep, "kwargs": dict(kwargs), "metric": gate.metric,
            "metric_key": METRICS[gate.metric],
            "budget_bytes": gate.budget.nbytes if gate.budget else None,
            "budget_label": gate.budget.label if gate.budget else None}
    if not (args.isolate if args.isolate is not None else isolate_by_default(1)):
        return run_task(task, path, task_kwargs)
    result = run_isolated(task, path, task_kwargs, **limits(args.time_limit))
    if isinstance(result, MemscanError):
        raise result
    return result


def _render(results: list[Any], args: argparse.Namespace) -> str:
    if args.formula:
        from .render.formula_out import RENDER as FORMULA

        return FORMULA.get(args.format, FORMULA["table"])(results)
    from .render.sweep_out import RENDER

    return RENDER[args.format](results)
