"""Every layer class of the shape-rule registry against Keras itself, row by row.

fixtures/layers/make_layer_models.py built one small model per class in Keras 3 and tf-keras
(and under the mixed_float16 / mixed_bfloat16 policies), saved it (hollow: no weight bytes),
and recorded what Keras reports at two inputs: per layer the output shapes, output dtypes,
count_params() and output bytes (elements x dtype size x batch). Here memscan reads each
saved file at the same inputs and must agree on every row, activation bytes included, with
no row Keras does not have. No Keras at test time: files and golden JSON only.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import pytest

from analyzer.analysis import analyse
from analyzer.inputs import InputArg
from analyzer.shapes.ops import rules_of

from conftest import FIXTURES

LAYERS = FIXTURES / "layers"
INDEX = json.loads((LAYERS / "index.json").read_text())
FRAMEWORKS = ("keras3", "tf_keras")
GOLDENS = sorted(p for fw in FRAMEWORKS for p in (LAYERS / fw).glob("*.json"))

#: Findings a file Keras saved and reloads at both inputs may carry (anything else, e.g. a
#: weights-mismatch from misread weight shapes, is a disagreement with Keras).
EXPECTED_FINDINGS = {"Lambda": {"lambda-layer"}}
#: ... and at the other input: PReLU's alpha is per element, so the stored (8, 8, 4) cannot
#: serve a 12x10 input (Keras rebuilds a new alpha; loading the file's would fail).
EXPECTED_AT_OTHER_INPUT = {"PReLU": {"weights-mismatch"}}

#: Where memscan and Keras disagree and the rule is not fixed yet: (framework, golden stem)
#: -> why. The comparison must keep failing; a case that starts passing fails the test (take
#: it off this list).
KNOWN_FAILURES: dict[tuple[str, str], str] = {}


def _row_problems(row, layer: dict, batch: int) -> list[str]:
    want = [[batch if d is None else d for d in s] for s in layer["output_shapes"]]
    out = []
    if row.output_shapes != want:
        out.append(f"shapes {row.output_shapes} != Keras {want}")
    if row.params != layer["params"]:
        out.append(f"params {row.params} != Keras {layer['params']}")
    if row.activation_bytes != layer["output_bytes"]:
        out.append(f"output bytes {row.activation_bytes} != Keras {layer['output_bytes']}")
    if layer["output_dtypes"] and row.dtype != layer["output_dtypes"][0]:
        out.append(f"dtype {row.dtype} != Keras {layer['output_dtypes'][0]}")
    return out


def compare(path: Path, run: dict, inputs: Optional[list[InputArg]],
            allowed: frozenset[str] = frozenset()) -> list[str]:
    """Every difference between memscan's rows and Keras's at one input (and any finding
    but the ``allowed`` ones)."""
    report = analyse(str(path), inputs=inputs or (), batch=run["batch"])
    problems = [f"finding {f.code}: {f.message}" for f in report.findings
                if f.code not in allowed]
    rows = {r.name: r for r in report.layers}
    keras = {layer["name"]: layer for layer in run["layers"]}
    problems += [f"{name}: row Keras does not have ({rows[name].type})"
                 for name in rows if name not in keras]
    for name, layer in keras.items():
        row = rows.get(name)
        if row is None:
            problems.append(f"{name} ({layer['type']}): missing from memscan's report")
            continue
        problems += [f"{name} ({layer['type']}): {p}" for p in _row_problems(row, layer,
                                                                             run["batch"])]
    if report.totals.params != run["params"]:
        problems.append(f"model params {report.totals.params} != Keras {run['params']}")
    return problems


def _problems(golden_path: Path) -> list[str]:
    golden = json.loads(golden_path.read_text())
    path = golden_path.parent / golden["file"]
    saved, other = golden["runs"]
    allowed = frozenset(EXPECTED_FINDINGS.get(golden["class"], ()))
    found = [f"at the saved input: {p}" for p in compare(path, saved, None, allowed)]
    inputs = [InputArg(None, tuple(s)) for s in other["inputs"]]
    found += [f"at {other['inputs']} batch {other['batch']}: {p}"
              for p in compare(path, other, inputs,
                               allowed | EXPECTED_AT_OTHER_INPUT.get(golden["class"], set()))]
    return found


@pytest.mark.parametrize("golden", GOLDENS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_layer_class_matches_keras(golden: Path) -> None:
    known = KNOWN_FAILURES.get((golden.parent.name, golden.stem))
    problems = _problems(golden)
    if known:
        assert problems, f"now agrees with Keras: take it off KNOWN_FAILURES ({known})"
    else:
        assert problems == []


def test_every_registered_class_is_built_or_has_a_reason() -> None:
    """Each Keras class the registry knows has a saved model in at least one framework, or a
    reason in the index why no Keras writes it; each framework that skips a class says why."""
    unbuildable = INDEX["unbuildable"]
    uncovered = []
    for name in rules_of("keras"):
        entries = [INDEX[fw].get(name, {}) for fw in FRAMEWORKS]
        if name in unbuildable:
            assert unbuildable[name], name
            continue
        if not any("file" in e for e in entries):
            uncovered.append((name, [e.get("skipped") for e in entries]))
        for fw, e in zip(FRAMEWORKS, entries):
            assert "file" in e or e.get("skipped"), f"{fw}: {name} neither built nor explained"
    assert uncovered == [], uncovered


def test_goldens_and_index_agree() -> None:
    """The index lists exactly the committed goldens, each with its saved file."""
    listed = {(fw, e["file"]) for fw in FRAMEWORKS for e in INDEX[fw].values() if "file" in e}
    on_disk = {(p.parent.name, json.loads(p.read_text())["file"]) for p in GOLDENS}
    assert listed == on_disk
    for fw, name in on_disk:
        assert (LAYERS / fw / name).is_file(), (fw, name)
    present = {(p.parent.name, p.name) for fw in FRAMEWORKS for p in (LAYERS / fw).iterdir()}
    goldens = {(p.parent.name, p.name) for p in GOLDENS}
    assert present - goldens == on_disk, "files no golden names (stale: rerun the generator)"


def test_mixed_precision_policies_recorded_from_saved_files() -> None:
    for policy, dtype in (("mixed_float16", "float16"), ("mixed_bfloat16", "bfloat16")):
        for fw in FRAMEWORKS:
            goldens = [json.loads(p.read_text()) for p in (LAYERS / fw).glob(f"*@{policy}.json")]
            assert len(goldens) >= 5, (fw, policy)
            assert all(g["policy"] == policy for g in goldens)
            # Keras itself computes in the policy's dtype: the goldens say so.
            dtypes = {d for g in goldens for layer in g["runs"][0]["layers"]
                      for d in layer["output_dtypes"]}
            assert dtype in dtypes, (fw, policy, dtypes)


def test_bfloat16_weights_are_two_bytes() -> None:
    """Under the whole-model bfloat16 policy Keras stores bfloat16 weights, which HDF5 keeps
    as an opaque 2-byte type: each weight is 2 bytes, as Keras's own variables are."""
    for fw in FRAMEWORKS:
        goldens = sorted((LAYERS / fw).glob("*@bfloat16.json"))
        assert len(goldens) >= 2, fw
        for p in goldens:
            report = analyse(str(p.parent / json.loads(p.read_text())["file"]))
            weighted = [r for r in report.layers if r.params]
            assert weighted, p.name
            for r in weighted:
                assert r.param_bytes == 2 * r.params, (p.name, r.name, r.param_bytes, r.params)
