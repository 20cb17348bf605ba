"""Sweeps: one artifact at many values of one input dim, the file read and parsed once.

``--sweep DIM=START:STOP[:STEP]`` answers "what is the largest batch / resolution / sequence
that fits in the budget?" DIM is ``batch``, ``size`` (the square spatial side of image
inputs, as ``--size`` sets it), a symbolic dim of the file (ONNX ``dim_param``, bound as
``--dim`` binds it) or ``INPUT.AXIS`` (an axis of a named input's full shape, 0 = batch).

Each point is ``analysis.analyse_graph`` on the one Graph read from the file, so a point
equals a single run at that value. With a STEP every value on the lattice is analysed
(a scan). Without one, with a budget, the largest fitting value is found by bisection,
which assumes the metric does not fall as the value grows: every probed point is checked
against that assumption, and the first violation turns the search into a scan, which the
result says. The first value at which each finding code appears is bisected the same way.
Numbers only: the renderers format them.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping, Optional

from .errors import BadArguments
from .inputs import InputArg, resolve_inputs
from .ir import Graph
from .report import Report, Totals

#: Sweeping more values than this in one scan is refused (give a STEP).
MAX_SCAN_POINTS = 512
#: Finding codes that say something about the sweep itself, never reported as "first at".
_NOT_A_MODEL_FINDING = {"over-budget"}

_SPEC = re.compile(r"^\s*([A-Za-z_][\w\-/:]*(?:\.\d+)?)\s*=\s*(\d+)\s*:\s*(\d+)\s*"
                   r"(?::\s*(\d+)\s*)?$")


@dataclass(frozen=True)
class SweepSpec:
    """``DIM=START:STOP[:STEP]`` as given: the values START..STOP inclusive."""

    over: str
    start: int
    stop: int
    step: Optional[int] = None

    @property
    def text(self) -> str:
        step = f":{self.step}" if self.step else ""
        return f"{self.over}={self.start}:{self.stop}{step}"

    def lattice(self) -> list[int]:
        """The values a scan analyses: every STEP from START, STOP included when on it."""
        step = self.step or 1
        return list(range(self.start, self.stop + 1, step))


def parse_sweep(text: str) -> SweepSpec:
    """``batch=1:64``, ``size=224:2048:32``, ``sequence=128:4096``, ``image.1=64:512:64``."""
    m = _SPEC.match(str(text))
    if not m:
        raise BadArguments(f"--sweep {text!r}: expected DIM=START:STOP[:STEP], e.g. "
                           "batch=1:64 or size=224:2048:32")
    over, start, stop, step = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)
    if start < 1:
        raise BadArguments(f"--sweep {text!r}: START must be 1 or more")
    if stop < start:
        raise BadArguments(f"--sweep {text!r}: STOP ({stop}) is below START ({start})")
    if step is not None and int(step) < 1:
        raise BadArguments(f"--sweep {text!r}: STEP must be 1 or more")
    return SweepSpec(over, start, stop, int(step) if step is not None else None)


@dataclass
class SweepPoint:
    """One analysed value: its totals and the finding codes of its report, or why the model
    cannot be analysed there (``error``: the one line a single run would print)."""

    value: int
    totals: Optional[Totals] = None
    findings: list[str] = field(default_factory=list)
    error: Optional[str] = None

    def metric(self, key: str) -> Optional[int]:
        return None if self.totals is None else getattr(self.totals, key, None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value,
                               "totals": asdict(self.totals) if self.totals else None,
                               "findings": list(self.findings)}
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass
class Sweep:
    """A finished sweep of one artifact: plain data, what the sweep renderers read."""

    path: str
    model: dict[str, Any]
    over: str
    metric: str
    metric_key: str
    budget_bytes: Optional[int]
    budget_label: Optional[str]
    points: list[SweepPoint]
    #: "scan" (every lattice value) or "bisection" (O(log n) probes).
    method: str
    #: What the search assumed and found, in one sentence (monotonic or not).
    note: str
    max_fitting: Optional[int] = None
    #: finding code -> the first swept value whose report has it.
    first_finding: dict[str, int] = field(default_factory=dict)

    @property
    def tripped(self) -> bool:
        """With a budget, no swept value fits (the exit code is then 1)."""
        return self.budget_bytes is not None and self.max_fitting is None

    def to_dict(self) -> dict[str, Any]:
        return {"over": self.over, "metric": self.metric, "metric_key": self.metric_key,
                "budget_bytes": self.budget_bytes, "method": self.method, "note": self.note,
                "points": [p.to_dict() for p in self.points],
                "max_fitting": self.max_fitting, "first_finding": dict(self.first_finding)}


Analyse = Callable[[Mapping[str, Any]], Report]


def point_kwargs(graph: Graph, spec: SweepSpec, value: int, base: Mapping[str, Any],
                 path: str = "") -> dict[str, Any]:
    """The analysis keywords of one sweep point: ``base`` with the swept dim set to ``value``.

    ``batch`` and ``size`` map to their own flags; a named dim to ``--dim``; ``INPUT.AXIS``
    rewrites that axis of the input's shape as resolved at the base keywords (the stored
    shape or ``--input``)."""
    kw = dict(base)
    if spec.over == "batch":
        kw["batch"] = value
        return kw
    if spec.over == "size":
        kw["size"] = (value, value)
        return kw
    if "." in spec.over and spec.over.rsplit(".", 1)[1].isdigit():
        return _axis_kwargs(graph, spec, value, kw, path)
    named = {n for s in graph.inputs for n in s.dim_names if n}
    if spec.over not in named:
        raise BadArguments(
            f"--sweep {spec.over}: not batch, size, a named dim of the file (named dims: "
            f"{', '.join(sorted(named)) or 'none'}) or INPUT.AXIS (inputs: "
            f"{', '.join(s.name for s in graph.inputs) or 'none'})", path or None)
    kw["dims"] = {**(kw.get("dims") or {}), spec.over: value}
    return kw


def _axis_kwargs(graph: Graph, spec: SweepSpec, value: int, kw: dict[str, Any],
                 path: str) -> dict[str, Any]:
    name, axis_text = spec.over.rsplit(".", 1)
    axis = int(axis_text)
    specs = {s.name: s for s in graph.inputs}
    if name not in specs:
        raise BadArguments(f"--sweep {spec.over}: the model has no input {name!r} (inputs: "
                           f"{', '.join(specs) or 'none'})", path or None)
    base = resolve_inputs(graph, kw.get("inputs") or (), kw.get("batch"), kw.get("dims"),
                          path=path)
    rank = len(base[name])
    if axis >= rank:
        raise BadArguments(f"--sweep {spec.over}: input {name!r} has {rank} axes (0 to "
                           f"{rank - 1}, 0 is the batch)", path or None)
    if axis == 0:
        kw["batch"] = value
        return kw
    args = []
    for s in graph.inputs:  # every input named in full, so the others keep their shape
        shape = list(base[s.name])
        if s.name == name:
            shape[axis] = value
        args.append(InputArg(s.name, tuple(shape[1:] if graph.batch_first else shape)))
    kw["inputs"] = args
    if not graph.batch_first:
        kw.pop("batch", None)
    return kw


def run_sweep(graph: Graph, path: str, spec: SweepSpec, analyse: Analyse,
              base: Mapping[str, Any], metric: str, metric_key: str,
              budget_bytes: Optional[int] = None, budget_label: Optional[str] = None) -> Sweep:
    """Analyse ``graph`` over ``spec``; ``analyse(kwargs)`` is one point's full analysis."""
    points: dict[int, SweepPoint] = {}
    model: dict[str, Any] = {}

    def probe(value: int) -> SweepPoint:
        if value not in points:
            points[value] = _point(value, lambda: analyse(point_kwargs(graph, spec, value,
                                                                       base, path)), model)
        return points[value]

    point_kwargs(graph, spec, spec.start, base, path)  # a dim the model lacks: one line now
    if spec.step is None and budget_bytes is None:
        if spec.stop - spec.start + 1 > MAX_SCAN_POINTS:
            raise BadArguments(f"--sweep {spec.text}: {spec.stop - spec.start + 1} values; "
                               f"give a STEP or a --budget to search by bisection", path or None)
    if spec.step is None and budget_bytes is not None:
        method, note, best = _bisect(spec, probe, metric_key, budget_bytes, points)
    else:
        lattice = spec.lattice()
        if len(lattice) > MAX_SCAN_POINTS:
            raise BadArguments(f"--sweep {spec.text}: {len(lattice)} values, more than "
                               f"{MAX_SCAN_POINTS}; give a larger STEP", path or None)
        for v in lattice:
            probe(v)
        method, note = "scan", f"every value from {spec.start} to {spec.stop}" + (
            f" in steps of {spec.step}" if spec.step and spec.step > 1 else "") + " analysed"
        best = _largest_fitting(points, metric_key, budget_bytes)
    first = _first_findings(points, probe, bisect=method == "bisection")
    return Sweep(path=path, model=model, over=spec.over, metric=metric, metric_key=metric_key,
                 budget_bytes=budget_bytes, budget_label=budget_label,
                 points=[points[v] for v in sorted(points)], method=method, note=note,
                 max_fitting=best, first_finding=first)


def _point(value: int, run: Callable[[], Report], model: dict[str, Any]) -> SweepPoint:
    """One value analysed; ``model`` is filled from the first report (path, format...)."""
    try:
        report = run()
    except BadArguments as exc:  # the value does not fit the model (a fixed dim...)
        return SweepPoint(value, error=exc.message)
    if not model:
        model.update(asdict(report.model))
    codes = [f.code for f in report.findings if f.code not in _NOT_A_MODEL_FINDING]
    return SweepPoint(value, totals=report.totals, findings=list(dict.fromkeys(codes)))


def _fits(p: SweepPoint, key: str, budget: Optional[int]) -> bool:
    v = p.metric(key)
    return v is not None and (budget is None or v <= budget)


def _largest_fitting(points: Mapping[int, SweepPoint], key: str,
                     budget: Optional[int]) -> Optional[int]:
    if budget is None:
        return None
    fitting = [v for v, p in points.items() if _fits(p, key, budget)]
    return max(fitting) if fitting else None


def _monotonic(points: Mapping[int, SweepPoint], key: str) -> bool:
    """Every probed metric at or above those of smaller values (unknowns not compared)."""
    known = [points[v].metric(key) for v in sorted(points)]
    values = [m for m in known if m is not None]
    return all(a <= b for a, b in zip(values, values[1:]))


def _bisect(spec: SweepSpec, probe: Callable[[int], SweepPoint], key: str, budget: int,
            points: dict[int, SweepPoint]) -> tuple[str, str, Optional[int]]:
    """(method, note, largest fitting value) by bisection, or by a scan once a probe shows
    that the metric falls somewhere as the value grows."""
    assumption = (f"bisection over {spec.start}..{spec.stop} ({{n}} analyses), assuming the "
                  f"metric never falls as {spec.over} grows; held at every probed value")
    lo, hi = spec.start, spec.stop
    if not _fits(probe(lo), key, budget):
        if _monotonic(points, key):
            return "bisection", assumption.format(n=len(points)), None
    elif _fits(probe(hi), key, budget):
        if _monotonic(points, key):
            return "bisection", assumption.format(n=len(points)), hi
    else:
        while hi - lo > 1:  # probe(lo) fits, probe(hi) does not
            mid = (lo + hi) // 2
            if _fits(probe(mid), key, budget):
                lo = mid
            else:
                hi = mid
            if not _monotonic(points, key):
                break
        if _monotonic(points, key):
            return "bisection", assumption.format(n=len(points)), lo
    n = spec.stop - spec.start + 1
    if n > MAX_SCAN_POINTS:
        raise BadArguments(
            f"--sweep {spec.text}: the {key} figure falls somewhere as {spec.over} grows, so "
            f"bisection cannot be trusted, and {n} values are too many to scan; give a STEP")
    for v in range(spec.start, spec.stop + 1):
        probe(v)
    note = (f"the metric falls somewhere as {spec.over} grows (not monotonic): every value "
            f"from {spec.start} to {spec.stop} analysed instead of bisecting")
    return "scan", note, _largest_fitting(points, key, budget)


def _first_findings(points: dict[int, SweepPoint], probe: Callable[[int], SweepPoint],
                    bisect: bool) -> dict[str, int]:
    """Finding code -> first swept value whose report has it. After a bisection, the gap
    between the last probed value without the code and the first with it is bisected too
    (assuming that once a finding appears it stays as the value grows)."""
    first: dict[str, int] = {}
    codes = list(dict.fromkeys(c for v in sorted(points) for c in points[v].findings))
    for code in codes:
        with_code = [v for v in sorted(points) if code in points[v].findings]
        v_first = with_code[0]
        if bisect:
            without = [v for v in sorted(points) if v < v_first and points[v].totals is not None
                       and code not in points[v].findings]
            if without:
                lo, hi = without[-1], v_first
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    if code in probe(mid).findings:
                        hi = mid
                    else:
                        lo = mid
                v_first = hi
        first[code] = v_first
    return first



def sweep_artifact(path: str, spec: SweepSpec, kwargs: Mapping[str, Any], metric: str,
                   metric_key: str, budget_bytes: Optional[int] = None,
                   budget_label: Optional[str] = None) -> Sweep:
    """Read the artifact at ``path`` once and sweep it. ``kwargs`` are analyse()'s keywords
    (the CLI's analysis group); ``signature`` chooses what is read, the rest every point."""
    base, graph = read_for_points(path, kwargs)
    from .analysis import analyse_graph

    return run_sweep(graph, path, spec, lambda kw: analyse_graph(graph, path, **kw), base,
                     metric, metric_key, budget_bytes, budget_label)


def read_for_points(path: str, kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], Graph]:
    """The artifact read once, under the same limits as a single run, and the keywords every
    point passes on (those that choose or bound the reading are used up here)."""
    from .analysis import read_bounded

    base = dict(kwargs)
    graph = read_bounded(path, base.pop("signature", None), base.pop("max_config_size", None),
                         base.pop("max_nodes", None))
    return base, graph
