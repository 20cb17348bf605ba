"""In-process checks of the pieces the CLI tests cannot reach cheaply: a worker that dies, the
HTML chart's live-memory curve, and the parser's analysis group feeding analyse()."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import analyzer.analysis
from analyzer.analysis import analyse
from analyzer.audit import INTERNAL, single
from analyzer.cli import analysis_kwargs, build_parser
from analyzer.inputs import InputArg
from analyzer.orchestrate import run_audit
from analyzer.render import render
from conftest import FIXTURES

SMALL = FIXTURES / "keras3" / "layer_mix.h5"


@pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(),
                    reason="the crash is injected into forked workers")
def test_a_worker_that_dies_takes_only_its_artifact_down(tmp_path: Path, monkeypatch) -> None:
    for name in ("a.h5", "crash.h5", "c.h5", "d.h5"):
        shutil.copy(SMALL, tmp_path / name)
    real = analyzer.analysis.analyse

    def dying(path, **kw):
        if path.endswith("crash.h5"):
            os._exit(3)  # as a segfault in a native reader would
        return real(path, **kw)

    monkeypatch.setattr(analyzer.analysis, "analyse", dying)
    audit = run_audit([str(tmp_path)], {}, jobs=2, isolate=False)  # the pool's own guard
    names = [Path(r.path).name for r in audit.results]
    assert names == ["a.h5", "c.h5", "crash.h5", "d.h5"]
    assert [r.report is not None for r in audit.results] == [True, True, False, True]
    crashed = audit.results[2].error
    assert crashed.kind == INTERNAL and "process analysing it died" in crashed.message
    assert audit.results[0].report.totals.params == 13_390


def test_html_draws_live_memory_when_rows_carry_it() -> None:
    report = analyse(str(FIXTURES / "keras3" / "vgg16.h5"))
    page = render(report, "html")
    assert 'data-curve="live"' in page and "live memory during each layer" in page
    assert "not live memory" not in page
    assert "live MiB after" in page  # the per-layer table shows the column too
    assert "live MiB after" in render(report, "markdown")
    for row in report.layers:  # rows without live bytes: the honest cumulative label
        row.live_bytes_after = row.live_bytes_peak = None
    page = render(report, "html")
    assert 'data-curve="cumulative"' in page and "not live memory" in page
    for i, row in enumerate(report.layers):
        row.live_bytes_peak = (i + 1) * 2**20 if i != 5 else None  # one unknown: a gap
    page = render(report, "html")
    assert 'data-curve="live"' in page
    assert page.count("<polyline") == 2  # broken at the unknown value


def test_analysis_group_options_reach_analyse_by_dest() -> None:
    parser = build_parser()
    args = parser.parse_args(["m.h5", "--input", "a=1,2", "--batch", "4", "--budget", "1GiB"])
    assert analysis_kwargs(parser, args) == {"inputs": [InputArg("a", (1, 2))], "batch": 4}
    args = parser.parse_args(["m.h5"])
    assert analysis_kwargs(parser, args) == {}
    # a flag another part adds to the group is passed with no other change
    parser.analysis_group.add_argument("--dims-test", dest="dims", type=int)
    args = parser.parse_args(["m.h5", "--dims-test", "3"])
    assert analysis_kwargs(parser, args) == {"dims": 3}


def test_markdown_and_csv_of_one_report_escape_their_cells() -> None:
    report = analyse(str(SMALL))
    report.layers[0].name = "a|b<script>"
    md = render(report, "markdown")
    assert "a\\|b&lt;script&gt;" in md and "<script>" not in md
    page = render(report, "html")
    assert "a|b&lt;script&gt;" in page and "<script" not in page
    assert single(report).single


def test_project_defaults_reach_flags_with_defaults_and_dict_options(tmp_path: Path) -> None:
    from analyzer import config
    from analyzer.cli_options import _IntoDict

    def pair(text: str) -> tuple[str, int]:
        name, value = text.split("=")
        return name, int(value)

    parser = build_parser()
    parser.analysis_group.add_argument("--opt-test", choices=("sgd", "adam"), default="adam")
    parser.analysis_group.add_argument("--dim-test", dest="dims", action=_IntoDict, type=pair)
    project = config.ProjectDefaults(tmp_path / "pyproject.toml",
                                     {"opt-test": "sgd", "dim-test": ["h=3", "w=4"]})
    argv = ["m.h5"]
    args = config.apply(parser, parser.parse_args(argv), project, argv)
    assert analysis_kwargs(parser, args) == {"opt_test": "sgd", "dims": {"h": 3, "w": 4}}
    argv = ["m.h5", "--opt-test", "adam", "--dim-test", "h=5"]  # typed flags win, even = default
    args = config.apply(parser, parser.parse_args(argv), project, argv)
    assert analysis_kwargs(parser, args) == {"opt_test": "adam", "dims": {"h": 5}}
    assert parser.get_default("opt_test") == "adam"  # defaults restored after the probe
