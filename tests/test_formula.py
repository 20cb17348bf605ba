"""--formula: exact polynomials in the square spatial side, checked on sides they were not
fitted on, and an honest "no exact polynomial" where none holds."""
from __future__ import annotations

import json
from fractions import Fraction

import pytest

from analyzer.analysis import analyse
from analyzer.formula import Polynomial, fit_exact, formula_artifact, newton_fit

from conftest import FIXTURES, run_cli

VGG = str(FIXTURES / "keras3" / "vgg16.h5")
MOBILENET = str(FIXTURES / "keras3" / "mobilenetv2.h5")


def test_newton_fit_recovers_exact_rational_coefficients() -> None:
    p = Polynomial((Fraction(7), Fraction(-3, 2), Fraction(12)))
    xs = [32, 64, 96]
    fitted = newton_fit(xs, [p(x) for x in xs])
    assert fitted.coefficients == p.coefficients and fitted.degree == 2
    assert fitted.text() == "12·s^2 - 3/2·s + 7"


def test_fit_exact_demands_points_it_did_not_fit_on() -> None:
    xs = list(range(1, 9))
    assert fit_exact(xs, [x**3 for x in xs])[0].degree == 3
    assert fit_exact(xs, [x**5 for x in xs]) is None  # degree 5 > MAX_DEGREE
    assert fit_exact(xs, [2**x for x in xs]) is None  # no polynomial at all
    assert fit_exact(xs[:4], [1, 2, 3, 4]) is None  # too few points left to check on


@pytest.mark.parametrize("path", [VGG, MOBILENET])
def test_formula_predicts_sides_it_never_analysed(path: str) -> None:
    f = formula_artifact(path, {})
    assert f.holds and f.step == 32
    fm = f.polynomials["feature_map_bytes"]
    assert fm.degree == 2
    for side in (f.start + 32 * 20, 1024):  # far outside the fitted and checked sides
        assert side not in f.fitted_at + f.checked_at
        single = analyse(path, size=(side, side)).totals
        for key, poly in f.polynomials.items():
            assert poly(side) == getattr(single, key), key


def test_vgg16_params_are_quadratic_through_fc1() -> None:
    """fc1's weights grow with the flattened map: params = 2,097,152·(s/32)²... exactly."""
    f = formula_artifact(VGG, {})
    params = f.polynomials["params"]
    assert params.degree == 2 and params.coefficients[2] == Fraction(4096 * 512, 32 * 32)
    assert params(224) == 138_357_544 and params(1024) == 2_183_080_744


def test_cli_formula_json_and_table() -> None:
    proc = run_cli(VGG, "--formula", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)["formula"]
    assert data["holds"] and data["step"] == 32
    # the conv stack + fc1 bias + fc2 + predictions, then fc1: 512·4096 per 32x32 cell
    assert data["figures"]["params"]["coefficients"] == [35_597_096, 0, 2048]
    table = run_cli(VGG, "--formula")
    assert table.returncode == 0, table.stderr
    assert "params" in table.stdout and "checked at s = " in table.stdout


def _stub_report(side: int, complete: bool, unknown_macs: int = 0):
    """Figures that are exact polynomials in the side, marked incomplete as a reader would
    mark them (a tensor with no shape, yet no layer of unknown shape)."""
    from analyzer.report import ModelInfo, Report, Totals

    fm = 12 * side * side
    t = Totals(params=1000, stored_params=1000, param_bytes=4000, feature_map_bytes=fm,
               total_bytes=4000 + fm, activation_peak_bytes=fm, inference_peak_bytes=4000 + fm,
               arena_bytes=fm, training_bytes=3 * 4000 + fm, macs=7 * side * side,
               layers_with_unknown_macs=unknown_macs, complete=complete,
               unshaped_tensors=0 if complete else 1)
    return Report(ModelInfo("m", "fake", "test"), 1, [], [], t, [])


def test_formula_never_fits_a_lower_bound() -> None:
    """A figure that is only "at least" at some side (totals.complete false, or MACs with a
    layer of unknown count) is not fitted, however polynomial its values look: it is named
    with the reason, and the exact figures (params) still are fitted."""
    from analyzer.formula import find_formula
    from analyzer.ir import Graph

    graph = Graph("fake", "test", "m", (), (), ())
    f = find_formula(graph, "m", lambda kw: _stub_report(kw["size"][0], kw["size"][0] >= 36,
                                                         unknown_macs=1), {}, 32)
    assert f.holds and f.step == 1
    assert set(f.polynomials) == {"params", "param_bytes"}
    assert set(f.lower_bounds) == {"feature_map_bytes", "total_bytes", "activation_peak_bytes",
                                   "inference_peak_bytes", "arena_bytes", "training_bytes",
                                   "macs"}
    assert "no shape" in f.lower_bounds["feature_map_bytes"]
    assert "MAC" in f.lower_bounds["macs"]
    from analyzer.render.formula_out import render_markdown, render_table

    text = render_table([f])
    assert "not fitted, lower bounds" in text and "feature_map_bytes" in text
    assert "feature_map_bytes" in render_markdown([f])
    assert "lower_bounds" in f.to_dict()
