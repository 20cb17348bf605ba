"""Closed forms: each figure as an exact polynomial in the square spatial side, where one holds.

Convolutions and pools round their output sizes, so a figure such as the feature-map sum is
a polynomial in the side ``s`` only on a lattice of sides that every stride divides (for a
network with five stride-2 stages, the multiples of 32). For each lattice step L in
``STEPS`` (smallest first) this analyses the model at ``FIT + CHECK`` sides
``s0, s0 + L, ...``, fits every figure exactly (rational arithmetic, Newton's divided
differences) through the fewest leading points that give a polynomial of degree at most
``MAX_DEGREE`` that also passes through the later points, and demands that at least
``CHECK`` of the points were not used for fitting. The first L at which every figure has
such a polynomial is the answer; if none does, the result says that no exact polynomial
holds. Numbers only; renderers format them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Mapping, Optional, Sequence

from .errors import BadArguments
from .ir import Graph
from .report import Report
from .sweep import SweepSpec, point_kwargs

#: Lattice steps tried, smallest first.
STEPS = (1, 2, 4, 8, 16, 32, 64, 128)
MAX_DEGREE = 4
#: Points never used for fitting that every polynomial must also pass through.
CHECK = 3
#: Figures fitted (totals keys), in the order shown.
FIGURES = ("params", "param_bytes", "feature_map_bytes", "total_bytes",
           "activation_peak_bytes", "inference_peak_bytes", "arena_bytes", "training_bytes",
           "macs")


@dataclass(frozen=True)
class Polynomial:
    """Exact coefficients, lowest degree first: c0 + c1·s + c2·s² ..."""

    coefficients: tuple[Fraction, ...]

    @property
    def degree(self) -> int:
        return max((i for i, c in enumerate(self.coefficients) if c), default=0)

    def __call__(self, s: int) -> Fraction:
        return sum((c * s**i for i, c in enumerate(self.coefficients)), Fraction(0))

    def text(self, var: str = "s") -> str:
        terms = []
        for i in range(self.degree, -1, -1):
            c = self.coefficients[i] if i < len(self.coefficients) else Fraction(0)
            if not c and (i or terms):
                continue
            mag = abs(c)
            num = str(mag.numerator) if mag.denominator == 1 else f"{mag}"
            power = "" if i == 0 else (var if i == 1 else f"{var}^{i}")
            body = (num if not power else (power if mag == 1 else f"{num}·{power}"))
            terms.append(("- " if c < 0 else "+ ") + body)
        text = " ".join(terms) if terms else "+ 0"
        return text[2:] if text.startswith("+ ") else "-" + text[2:]

    def to_list(self) -> list[Any]:
        """Coefficients as JSON: ints where whole, else "p/q" strings (never floats)."""
        return [int(c) if c.denominator == 1 else str(c)
                for c in self.coefficients[:self.degree + 1]]


@dataclass
class Formula:
    path: str
    model: dict[str, Any]
    #: The lattice step the polynomials hold on, or None when no exact polynomial holds.
    step: Optional[int]
    start: int
    fitted_at: list[int] = field(default_factory=list)
    checked_at: list[int] = field(default_factory=list)
    polynomials: dict[str, Polynomial] = field(default_factory=dict)
    #: Figures unknown at some side (unshaped tensors), so not fitted.
    unknown: list[str] = field(default_factory=list)
    note: str = ""
    #: Figures that are only "at least" at some side (Totals.lower_bound), so not fitted: a
    #: polynomial through lower bounds would pass for an exact answer. Figure -> why.
    lower_bounds: dict[str, str] = field(default_factory=dict)

    @property
    def holds(self) -> bool:
        return self.step is not None

    def to_dict(self) -> dict[str, Any]:
        return {"variable": "size", "holds": self.holds, "step": self.step,
                "start": self.start, "fitted_at": self.fitted_at,
                "checked_at": self.checked_at, "note": self.note, "unknown": self.unknown,
                "lower_bounds": dict(self.lower_bounds),
                "figures": {k: {"degree": p.degree, "coefficients": p.to_list(),
                                "text": p.text()} for k, p in self.polynomials.items()}}


def newton_fit(xs: Sequence[int], ys: Sequence[int]) -> Polynomial:
    """The unique polynomial of degree < len(xs) through the points, exactly."""
    n = len(xs)
    coef = [Fraction(y) for y in ys]
    for j in range(1, n):
        for i in range(n - 1, j - 1, -1):
            coef[i] = (coef[i] - coef[i - 1]) / (xs[i] - xs[i - j])
    poly = [Fraction(0)] * n  # expand the Newton form into monomial coefficients
    for i in range(n - 1, -1, -1):
        shifted = [Fraction(0)] + poly[:-1]  # poly * s
        poly = [shifted[k] - xs[i] * poly[k] for k in range(n)]
        poly[0] += coef[i]
    return Polynomial(tuple(poly))


def fit_exact(xs: Sequence[int], ys: Sequence[int], check: int = CHECK,
              max_degree: int = MAX_DEGREE) -> Optional[tuple[Polynomial, int]]:
    """(polynomial, points used) of the lowest degree through every point, fitted on the
    leading points and passing through at least ``check`` later ones; None if none does."""
    for degree in range(0, max_degree + 1):
        used = degree + 1
        if len(xs) - used < check:
            return None
        p = newton_fit(xs[:used], ys[:used])
        if all(p(x) == y for x, y in zip(xs[used:], ys[used:])):
            return p, used
    return None


def find_formula(graph: Graph, path: str, analyse: Callable[[Mapping[str, Any]], Report],
                 base: Mapping[str, Any], start: int) -> Formula:
    """Try each lattice step; the first on which every known figure is a polynomial wins."""
    spec = SweepSpec("size", start, start)
    n_points = MAX_DEGREE + 1 + CHECK
    model: dict[str, Any] = {}
    for step in STEPS:
        s0 = -(-start // step) * step
        sides = [s0 + i * step for i in range(n_points)]
        reports = [analyse(point_kwargs(graph, spec, s, base, path)) for s in sides]
        if not model:
            from dataclasses import asdict
            model = asdict(reports[0].model)
        found = _fit_all(sides, reports)
        if found is not None:
            polys, used, unknown, lower = found
            return Formula(path, model, step, s0, sides[:used], sides[used:], polys, unknown,
                           f"holds for sides s = {s0} + {step}·k (k = 0, 1, ...), square "
                           f"inputs (H = W = s); fitted on {used} sides, checked on "
                           f"{len(sides) - used} others", lower)
    return Formula(path, model, None, start,
                   note=f"no polynomial of degree at most {MAX_DEGREE} holds on any lattice "
                        f"step in {', '.join(map(str, STEPS))} from side {start}")


def _fit_all(sides: list[int], reports: list[Report]
             ) -> Optional[tuple[dict[str, Polynomial], int, list[str], dict[str, str]]]:
    polys: dict[str, Polynomial] = {}
    unknown: list[str] = []
    lower: dict[str, str] = {}
    used_most = 0
    for key in FIGURES:
        values = [getattr(r.totals, key, None) for r in reports]
        if all(v is None for v in values) and not hasattr(reports[0].totals, key):
            continue  # a figure this build does not compute
        if any(v is None for v in values) or any(
                getattr(r.totals, "layers_with_unknown_shapes", 0) for r in reports):
            unknown.append(key)
            continue
        why = _lower_bound_reason(key, sides, reports)
        if why:
            lower[key] = why
            continue
        fit = fit_exact(sides, values)  # type: ignore[arg-type]
        if fit is None:
            return None
        polys[key], used = fit
        used_most = max(used_most, used)
    return (polys, used_most, unknown, lower) if polys else None


def _lower_bound_reason(key: str, sides: list[int], reports: list[Report]) -> str:
    """Why ``key`` is only "at least" at some of ``sides`` ('' when exact at every side)."""
    at = [s for s, r in zip(sides, reports) if r.totals.lower_bound(key)]
    if not at:
        return ""
    what = ("some layers have no MAC count" if key == "macs"
            else "some tensors have no shape, their bytes are left out")
    return f"at least at s = {', '.join(map(str, at))}: {what}"


def formula_artifact(path: str, kwargs: Mapping[str, Any]) -> Formula:
    """Read the artifact once and find its closed forms, from its stored spatial side."""
    from .analysis import analyse_graph
    from .sweep import read_for_points

    if "size" in kwargs:
        raise BadArguments("--formula chooses the spatial side itself: drop --size", path)
    base, graph = read_for_points(path, kwargs)
    start = _stored_side(graph)
    return find_formula(graph, path, lambda kw: analyse_graph(graph, path, **kw), base, start)


def _stored_side(graph: Graph) -> int:
    """The smallest known spatial dim of the first image-like input, else 32."""
    for spec in graph.inputs:
        dims = [d for d in spec.shape[1:] if isinstance(d, int) and d > 4]
        if dims:
            return min(dims)
    return 32
