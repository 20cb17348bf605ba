"""Sweeps: every point equals a single run at that value; bisection finds what a full scan
finds; findings are dated to the first value that has them; the CLI's formats and exit codes.
"""
from __future__ import annotations

import json

import pytest

from analyzer.analysis import analyse
from analyzer.errors import BadArguments
from analyzer.inputs import InputArg
from analyzer.report import ModelInfo, Report, Totals
from analyzer.sweep import SweepSpec, parse_sweep, run_sweep, sweep_artifact

from conftest import FIXTURES, run_cli
from onnx_models import tiny_cnn

VGG = str(FIXTURES / "keras3" / "vgg16.h5")
VGG_NOTOP = str(FIXTURES / "keras3" / "vgg16_notop.h5")
MOBILENET = str(FIXTURES / "keras3" / "mobilenetv2.h5")
#: vgg16_notop stores no spatial size: these tests analyse it at 224x224x3.
AT = {VGG_NOTOP: {"inputs": [InputArg(None, (224, 224, 3))]}, MOBILENET: {}}


def _sweep(path, text, metric="total", budget=None, **kwargs):
    key = {"total": "total_bytes", "inference": "inference_peak_bytes",
           "training": "training_bytes", "params": "param_bytes"}[metric]
    return sweep_artifact(path, parse_sweep(text), kwargs, metric, key, budget)


def test_parse_sweep_forms_and_refusals() -> None:
    assert parse_sweep("batch=1:64") == SweepSpec("batch", 1, 64, None)
    assert parse_sweep("size=224:2048:32") == SweepSpec("size", 224, 2048, 32)
    assert parse_sweep("input_layer.1=64:512:64") == SweepSpec("input_layer.1", 64, 512, 64)
    for bad in ("batch", "batch=0:4", "batch=8:4", "batch=1:4:0", "=1:4", "batch=1-4"):
        with pytest.raises(BadArguments):
            parse_sweep(bad)


@pytest.mark.parametrize("path", [VGG_NOTOP, MOBILENET])
def test_batch_points_equal_single_runs(path: str) -> None:
    s = _sweep(path, "batch=1:4:1", **AT[path])
    assert [p.value for p in s.points] == [1, 2, 3, 4]
    for p in s.points:
        assert p.totals == analyse(path, batch=p.value, **AT[path]).totals


def test_size_points_equal_single_runs() -> None:
    """size: the square spatial side, layout-aware as --size is (NHWC Keras here)."""
    s = _sweep(MOBILENET, "size=96:160:32")
    for p in s.points:
        single = analyse(MOBILENET, size=(p.value, p.value))
        assert p.totals == single.totals
        assert single.inputs[0].shape == [1, p.value, p.value, 3]


def test_axis_points_equal_single_runs() -> None:
    """INPUT.AXIS: axis 1 (height) of the input's full shape, the width kept as stored."""
    name = analyse(VGG_NOTOP, **AT[VGG_NOTOP]).inputs[0].name
    s = _sweep(VGG_NOTOP, f"{name}.1=96:160:32", inputs=[InputArg(None, (224, 224, 3))])
    assert [p.value for p in s.points] == [96, 128, 160]
    for p in s.points:
        single = analyse(VGG_NOTOP, inputs=[InputArg(None, (p.value, 224, 3))])
        assert p.totals == single.totals


def test_named_dim_points_equal_single_runs(tmp_path) -> None:
    model = tmp_path / "tiny.onnx"
    tiny_cnn(model)
    s = _sweep(str(model), "N=1:3:1", dims={"H": 16, "W": 16})
    for p in s.points:
        single = analyse(str(model), dims={"N": p.value, "H": 16, "W": 16})
        assert p.totals == single.totals and p.totals.feature_map_bytes > 0
    fm = [p.totals.feature_map_bytes for p in s.points]
    assert fm[0] < fm[1] < fm[2]


def test_unknown_sweep_dim_is_one_line_error() -> None:
    with pytest.raises(BadArguments, match="not batch, size, a named dim"):
        _sweep(VGG_NOTOP, "sequence=1:4:1", **AT[VGG_NOTOP])
    with pytest.raises(BadArguments, match="has no input 'nope'"):
        _sweep(VGG_NOTOP, "nope.1=1:4:1", **AT[VGG_NOTOP])


@pytest.mark.parametrize("path,text,budget", [
    (VGG_NOTOP, "batch=1:64", 1_500 * 2**20),
    (MOBILENET, "batch=1:100", 700 * 2**20),
    (VGG_NOTOP, "batch=1:40", 10**6),          # nothing fits
    (MOBILENET, "batch=1:30", 10**12),         # everything fits
])
def test_bisection_finds_what_a_full_scan_finds(path, text, budget) -> None:
    bisect = _sweep(path, text, budget=budget, **AT[path])
    scan = _sweep(path, text + ":1", budget=budget, **AT[path])
    assert bisect.method == "bisection" and scan.method == "scan"
    assert bisect.max_fitting == scan.max_fitting
    assert len(bisect.points) <= 2 + (scan.points[-1].value - 1).bit_length()
    by_value = {p.value: p.totals for p in scan.points}
    for p in bisect.points:  # the probes equal the scan's analyses
        assert p.totals == by_value[p.value]
    if scan.max_fitting is not None and scan.max_fitting < scan.points[-1].value:
        over = by_value[scan.max_fitting + 1].total_bytes
        assert by_value[scan.max_fitting].total_bytes <= budget < over


def test_first_finding_is_the_first_value_with_it() -> None:
    """VGG16's fc1 overflows int32 once the flattened height reaches 32 rows of 32 px: with the
    width at 1024, from height 1024 on. The bisection dates it exactly."""
    name = analyse(VGG).inputs[0].name
    s = _sweep(VGG, f"{name}.1=512:2048", budget=2**50, inputs=[InputArg(None, (224, 1024, 3))])
    assert s.first_finding["int32-param-overflow"] == 1024
    codes = lambda h: {f.code for f in analyse(VGG, inputs=[InputArg(None, (h, 1024, 3))]).findings}  # noqa: E731
    assert "int32-param-overflow" in codes(1024)
    assert "int32-param-overflow" not in codes(1023)


def _report(total: int) -> Report:
    t = Totals(params=1, stored_params=1, param_bytes=4, feature_map_bytes=total - 4,
               total_bytes=total)
    return Report(ModelInfo("m", "fake", "test"), 1, [], [], t, [])


def test_a_metric_that_falls_turns_bisection_into_a_scan() -> None:
    """A metric that is not monotonic (here, dipping at 6) must not be bisected: the sweep
    says so and scans, and finds the true largest fitting value."""
    values = {v: 100 * v for v in range(1, 11)}
    values[5] = 50  # a dip at the first probe between 1 and 10: seen, so no bisection
    values[8] = 300  # fits again: only a scan finds it
    from analyzer.ir import Graph
    graph = Graph("fake", "test", "m", (), (), ())
    s = run_sweep(graph, "m", SweepSpec("batch", 1, 10), lambda kw: _report(values[kw["batch"]]),
                  {}, "total", "total_bytes", budget_bytes=350)
    assert s.method == "scan" and "not monotonic" in s.note
    assert s.max_fitting == 8
    assert [p.value for p in s.points] == list(range(1, 11))


def test_monotonic_stub_is_bisected_in_log_steps() -> None:
    from analyzer.ir import Graph
    graph = Graph("fake", "test", "m", (), (), ())
    calls = []

    def analyse_stub(kw):
        calls.append(kw["batch"])
        return _report(10 * kw["batch"])
    s = run_sweep(graph, "m", SweepSpec("batch", 1, 1000), analyse_stub, {}, "total",
                  "total_bytes", budget_bytes=4321)
    assert s.max_fitting == 432 and s.method == "bisection"
    assert len(calls) <= 12


def test_cli_sweep_json_and_exit_codes() -> None:
    proc = run_cli(VGG_NOTOP, "--input", "224,224,3", "--sweep", "batch=1:8", "--budget",
                   "1GiB", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    sw = data["sweep"]
    assert data["schema"] == "memscan/1" and sw["over"] == "batch" and sw["metric"] == "total"
    assert sw["budget_bytes"] == 2**30 and sw["method"] == "bisection"
    best = sw["max_fitting"]
    single = analyse(VGG_NOTOP, batch=best, **AT[VGG_NOTOP]).totals.total_bytes
    assert single <= 2**30
    assert [p for p in sw["points"] if p["value"] == best][0]["totals"]["total_bytes"] == single
    if best < 8:
        assert analyse(VGG_NOTOP, batch=best + 1, **AT[VGG_NOTOP]).totals.total_bytes > 2**30
    # nothing fits: exit 1 with one line
    proc = run_cli(VGG_NOTOP, "--input", "224,224,3", "--sweep", "batch=1:8", "--budget", "1MB")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith(f"memscan: {VGG_NOTOP}: no batch")
    # no STEP and no budget over a huge range: one line, exit 2
    proc = run_cli(VGG_NOTOP, "--input", "224,224,3", "--sweep", "batch=1:100000")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    proc = run_cli(VGG_NOTOP, "--input", "224,224,3", "--sweep", "batch=1:4:1", "--fail-on",
                   "shape-error")
    assert proc.returncode == 2 and "--fail-on" in proc.stderr


@pytest.mark.parametrize("fmt,needle", [
    ("table", "largest batch within 1GiB (total): "),
    ("markdown", "## memscan sweep"),
    ("csv", "path,over,value,fits,findings,error,params,"),
    ("html", 'class="budget"'),
])
def test_cli_sweep_formats(fmt: str, needle: str) -> None:
    proc = run_cli(VGG_NOTOP, "--input", "224,224,3", "--sweep", "batch=1:8", "--budget", "1GiB",
                   "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    assert needle in proc.stdout


def test_csv_rows_are_exact_bytes() -> None:
    proc = run_cli(VGG_NOTOP, "--input", "224,224,3", "--sweep", "batch=2:4:2", "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    head = lines[0].split(",")
    for line, batch in zip(lines[1:], (2, 4)):
        cells = dict(zip(head, line.split(",")))
        single = analyse(VGG_NOTOP, batch=batch, **AT[VGG_NOTOP])
        assert int(cells["feature_map_bytes"]) == single.totals.feature_map_bytes


def test_sweep_point_of_an_impossible_value_is_reported_not_fatal() -> None:
    """A value the model refuses (BadArguments, as a single run would print it) is a point
    with its error, and the sweep goes on."""
    from analyzer.ir import Graph
    graph = Graph("fake", "test", "m", (), (), ())

    def analyse_stub(kw):
        if kw["batch"] == 3:
            raise BadArguments("batch 3 contradicts the file")
        return _report(10 * kw["batch"])
    s = run_sweep(graph, "m", SweepSpec("batch", 1, 4, 1), analyse_stub, {}, "total",
                  "total_bytes")
    assert [(p.value, p.error) for p in s.points] == [
        (1, None), (2, None), (3, "batch 3 contradicts the file"), (4, None)]
    assert s.points[3].totals.total_bytes == 40


def test_sweep_diff_and_formula_json_follow_the_schema(tmp_path) -> None:
    import jsonschema

    from test_schema import VALIDATOR
    docs = [
        run_cli(MOBILENET, "--sweep", "batch=1:3:1", "--format", "json"),
        run_cli(MOBILENET, str(FIXTURES / "keras3" / "vgg16.h5"), "--sweep", "batch=1:2:1",
                "--format", "json"),
        run_cli("diff", VGG_NOTOP, VGG_NOTOP, "--input", "224,224,3", "--new-input",
                "256,256,3", "--format", "json"),
        run_cli(MOBILENET, "--formula", "--format", "json"),
    ]
    kinds = []
    for proc in docs:
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        VALIDATOR.validate(doc)
        kinds.append(next(k for k in ("sweep", "sweeps", "diff", "formula") if k in doc))
        bad = dict(doc, schema="memscan/2")
        with pytest.raises(jsonschema.ValidationError):
            VALIDATOR.validate(bad)
    assert kinds == ["sweep", "sweeps", "diff", "formula"]


def test_a_sweep_runs_isolated_like_a_single_run(monkeypatch) -> None:
    """The whole sweep (one read, every point) runs in the limited child: a reader that
    crashes there costs one line, not the CLI."""
    import os

    from analyzer import sweep as sweep_module
    from analyzer.isolate import IsolatedFailure, run_isolated

    monkeypatch.setattr(sweep_module, "sweep_artifact", lambda *a, **k: os.abort())
    result = run_isolated("sweep", MOBILENET, {"spec": parse_sweep("batch=1:2:1"),
                                               "kwargs": {}, "metric": "total",
                                               "metric_key": "total_bytes"})
    assert isinstance(result, IsolatedFailure) and result.reason == "crash"
    assert "crashed" in str(result)


def test_sweep_rows_mark_lower_bounds_like_every_renderer(tmp_path) -> None:
    """tiny.onnx stores 16×16: at 32×32 the MatMul's output has no shape, so that point's
    activation figures are lower bounds (totals.complete false) and print "≥ ", as the
    single-run table does; params do not depend on shapes and stay unmarked."""
    path = str(tmp_path / "tiny.onnx")
    tiny_cnn(path, hw=16)
    doc = json.loads(run_cli(path, "--sweep", "size=16:32:16", "--format", "json").stdout)
    complete = {p["value"]: p["totals"]["complete"] for p in doc["sweep"]["points"]}
    assert complete == {16: True, 32: False}
    for fmt in ("table", "markdown"):
        proc = run_cli(path, "--sweep", "size=16:32:16", "--format", fmt)
        assert proc.returncode == 0, proc.stderr
        rows = {}
        for line in proc.stdout.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|" if fmt == "markdown"
                                                                       else "  ") if c.strip()]
            if cells and cells[0] in ("16", "32"):
                rows[int(cells[0])] = cells
        assert not any("≥" in c for c in rows[16]), rows[16]
        params, param_mib, feature_maps = rows[32][1:4]
        assert not params.startswith("≥") and not param_mib.startswith("≥")
        assert feature_maps.startswith("≥ "), rows[32]
        # feature maps, both peaks, training, MACs (the MatMul has no count) and the metric
        # column (total): 6 figures
        assert sum(c.startswith("≥ ") for c in rows[32]) == 6, rows[32]
        assert "lower bound" in proc.stdout
