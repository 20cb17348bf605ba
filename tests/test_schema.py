"""The published JSON Schema (schema/memscan-1.schema.json) holds for every fixture's report,
alone and in a multi-artifact document with error entries and skips."""
from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from conftest import FIXTURES, ROOT, run_cli
from invariants import totals_violations

SCHEMA = json.loads((ROOT / "schema" / "memscan-1.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def test_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.fixture(scope="module")
def every_fixture() -> dict:
    proc = run_cli(str(FIXTURES), "--format", "json", "--jobs", "2", timeout=900)
    assert proc.returncode == 2, proc.stderr  # the *_notop files need --input: error entries
    return json.loads(proc.stdout)


def test_every_fixture_report_validates(every_fixture: dict) -> None:
    errors = sorted(VALIDATOR.iter_errors(every_fixture), key=lambda e: list(e.path))
    assert errors == [], [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    names = sorted(r.get("path") or r["model"]["path"] for r in every_fixture["reports"])
    expected = [p for p in FIXTURES.rglob("*")
                if p.suffix in (".h5", ".keras", ".onnx", ".tflite")]
    expected += [p.parent for p in FIXTURES.rglob("saved_model.pb")]
    assert names == sorted(str(p) for p in expected)
    kinds = {("error" in r) for r in every_fixture["reports"]}
    assert kinds == {True, False}  # both entry shapes exercised
    assert every_fixture["skipped"]
    alone = next(r for r in every_fixture["reports"] if "layers" in r)
    assert list(VALIDATOR.iter_errors(alone)) == []  # a report alone is a document too


def test_single_report_with_findings_and_budget_validates() -> None:
    proc = run_cli(str(FIXTURES / "keras3" / "vgg16.h5"), "--input", "1024,1024,3",
                   "--budget", "8GiB", "--format", "json")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert {f["code"] for f in report["findings"]} >= {"over-budget", "int32-param-overflow"}
    assert list(VALIDATOR.iter_errors(report)) == []


def test_schema_rejects_what_breaks_the_contract(every_fixture: dict) -> None:
    good = min((r for r in every_fixture["reports"] if "layers" in r),
               key=lambda r: len(r["layers"]))
    assert VALIDATOR.is_valid(good)
    for breaks in (lambda r: r.pop("totals"), lambda r: r["layers"][0].update(params=-1),
                   lambda r: r["totals"].update(total_bytes=1.5),
                   lambda r: r.update(schema="memscan/2"),
                   lambda r: r["findings"].append({"code": "X Y", "severity": "error",
                                                   "layer": None, "message": "m"})):
        bad = copy.deepcopy(good)
        breaks(bad)
        assert not VALIDATOR.is_valid(bad)
    error = next(r for r in every_fixture["reports"] if "error" in r)
    bad = copy.deepcopy(error)
    bad["error"].pop("message")
    assert not VALIDATOR.is_valid({"schema": "memscan/1", "reports": [bad]})


#: Fixtures that store no input size: analysed at 1024x1024x3 (as `make audit` does).
NEED_AN_INPUT = ("*/*_notop.h5", "savedmodel/resnet50_export", "savedmodel/tf1_conv",
                 "keras_zip/mobilenetv3small.*")


def test_rows_sum_to_totals_on_every_fixture(every_fixture: dict) -> None:
    """Every fixture of every format: the rows add up to the totals (params, param bytes,
    trainable bytes, feature maps, unknown rows) and the totals' own sums hold."""
    at_1024 = sorted(str(p) for pattern in NEED_AN_INPUT for p in FIXTURES.glob(pattern))
    proc = run_cli(*at_1024, "--input", "1024,1024,3", "--format", "json", "--jobs", "2",
                   timeout=900)
    assert proc.returncode == 0, proc.stderr
    reports = [r for doc in (every_fixture, json.loads(proc.stdout)) for r in doc["reports"]
               if "layers" in r]
    analysed = {r["model"]["path"] for r in reports}
    everything = {str(p) for p in FIXTURES.rglob("*")
                  if p.suffix in (".h5", ".keras", ".onnx", ".tflite")}
    everything |= {str(p.parent) for p in FIXTURES.rglob("saved_model.pb")}
    assert analysed == everything  # no fixture left out
    assert {r["model"]["format"] for r in reports} == {"keras-h5", "keras-zip", "onnx",
                                                       "savedmodel", "tflite"}
    assert [v for r in reports for v in totals_violations(r)] == []
