"""A scripted mutation check: deliberate faults, one at a time, each in a temporary copy of
the tree, each run against the test files that cover that code. A fault the tests catch
(pytest fails) is "caught"; one they miss "survived" and needs a new test or a written
reason in docs/testing.md.

    .venv/bin/python tests/mutation/mutations.py              # all (about half an hour)
    .venv/bin/python tests/mutation/mutations.py rule-conv-stride liveness-free-late
    .venv/bin/python tests/mutation/mutations.py --baseline   # the unmutated copy must pass
    .venv/bin/python tests/mutation/mutations.py --again      # rerun those already recorded
    .venv/bin/python tests/mutation/mutations.py --reverse    # a second runner, other end

Results go to .cache/mutations.json (git-ignored) and a Markdown table on stdout. Not a
pytest file on purpose: the whole run is minutes; the suite must stay short.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / ".cache" / "mutations.json"
TIMEOUT_S = 900

# The test files that cover each area, quickest first (-x stops at the first failure).
RULES = ("tests/test_layer_classes.py", "tests/test_oracle_keras.py")
KERAS_READERS = ("tests/test_layer_classes.py", "tests/test_keras_zip.py",
                 "tests/test_oracle_keras.py")
ONNX = ("tests/test_onnx_dtypes.py", "tests/test_onnx_cli.py", "-k", "not peak_rss")
LIVENESS = ("tests/test_liveness.py", "tests/test_runtime_model.py",
            "tests/test_memory_model.py")
CHECKS = ("tests/test_cli.py", "tests/test_reference_numbers.py",
          "tests/test_onnx_cli.py::test_model_over_2gb_with_external_data")
MEMORY = ("tests/test_layer_classes.py", "tests/test_memory_model.py",
          "tests/test_reference_numbers.py")
RENDER = ("tests/test_cli.py", "tests/test_orchestrate.py", "tests/test_svg_chart.py",
          "tests/test_csv_out.py",
          "tests/test_audit.py::test_csv_has_a_row_per_layer_with_the_path")


@dataclass(frozen=True)
class Mutation:
    id: str
    area: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]
    fault: str


M = Mutation
MUTATIONS = [
    # ---- shape rules
    M("rule-conv-stride", "rules", "analyzer/shapes/keras_rules.py",
      "return (out + stride - 1) // stride", "return out // stride", RULES,
      "conv output length rounds down instead of up"),
    M("rule-deconv-same", "rules", "analyzer/shapes/keras_rules.py",
      "        if padding == \"same\":\n            return length * stride\n",
      "        if padding == \"same\":\n            return length * stride - 1\n", RULES,
      "transposed conv, padding same, one short"),
    M("rule-prelu-alpha", "rules", "analyzer/shapes/keras_rules.py",
      'WeightNeed("alpha", tuple(shape))', 'WeightNeed("alpha", tuple(shape[-1:]))', RULES,
      "PReLU alpha per channel instead of per element"),
    M("rule-dense-no-bias", "rules", "analyzer/shapes/keras_rules.py",
      '[WeightNeed("kernel", (fan_in, units)), *_bias(call, units)]',
      '[WeightNeed("kernel", (fan_in, units))]', RULES, "Dense forgets its bias"),
    M("rule-pool-strides", "rules", "analyzer/shapes/keras_rules.py",
      'strides = _ntuple(cfg.get("strides") or pool, rank, "strides")',
      'strides = _ntuple(pool, rank, "strides")', RULES, "pooling ignores explicit strides"),
    M("rule-global-keepdims", "rules", "analyzer/shapes/keras_rules.py",
      'if call.cfg.get("keepdims", False):', "if False:", RULES,
      "global pooling ignores keepdims"),
    M("rule-upsample-size", "rules", "analyzer/shapes/keras_rules.py",
      "out = [None if n is None else n * s for n, s in zip(spatial, size)]",
      "out = [None if n is None else n * size[0] for n in spatial]", RULES,
      "upsampling uses the first factor on every axis"),
    M("rule-crop-symmetric", "rules", "analyzer/shapes/keras_rules.py",
      "out.append(None if n is None else n - a - b)", "out.append(None if n is None else n - 2 * a)",
      RULES, "cropping assumes symmetric crops"),
    M("rule-pad-symmetric", "rules", "analyzer/shapes/keras_rules.py",
      "out = [None if n is None else n + a + b for n, (a, b) in zip(spatial, pads)]",
      "out = [None if n is None else n + 2 * a for n, (a, b) in zip(spatial, pads)]", RULES,
      "zero padding assumes symmetric pads"),
    M("rule-separable-pointwise", "rules", "analyzer/shapes/keras_rules.py",
      "(*(1,) * rank, cin * mult, filters)", "(*(1,) * rank, cin, filters)", RULES,
      "separable conv pointwise kernel ignores the depth multiplier"),
    M("rule-depthwise-channels", "rules", "analyzer/shapes/keras_rules.py",
      "return RuleResult([_join(batch, out, cin * mult, last)], weights)",
      "return RuleResult([_join(batch, out, cin, last)], weights)", RULES,
      "depthwise conv output ignores the depth multiplier"),
    # ---- readers
    M("reader-h5-shape-reversed", "readers", "analyzer/formats/keras_h5.py",
      "shape = tuple(int(d) for d in ds.shape)", "shape = tuple(int(d) for d in ds.shape)[::-1]",
      KERAS_READERS, "HDF5 weight shapes read reversed"),
    M("reader-h5-bfloat16", "readers", "analyzer/formats/keras_container.py",
      'return "bfloat16" if getattr(dt, "itemsize", 0) == 2 else name', "return name",
      KERAS_READERS, "bfloat16 weights (stored as void) keep the raw HDF5 name"),
    M("reader-keras2-kwarg-tensors", "readers", "analyzer/formats/keras_config.py",
      "refs += list(_keras2_kwarg_refs(item[3], ctx, layer))", "pass",
      KERAS_READERS, "tf-keras tensors passed as keyword arguments are dropped"),
    M("reader-onnx-float16-width", "readers", "analyzer/formats/onnx_wire.py",
      '10: ("float16", 2)', '10: ("float32", 4)', ONNX, "ONNX float16 read as float32"),
    # ---- liveness
    M("liveness-free-late", "liveness", "analyzer/liveness.py",
      "delta[min(b.end, n) + 1] -= b.nbytes", "delta[min(b.end, n) + 2] -= b.nbytes", LIVENESS,
      "a tensor is freed one step after its last reader"),
    M("liveness-outputs-freed", "liveness", "analyzer/runtime_model.py",
      "            buf.end = n\n    return list(buffers.values())",
      "            pass\n    return list(buffers.values())", LIVENESS,
      "graph outputs are freed after their last reader"),
    M("liveness-arena-touching", "liveness", "analyzer/runtime_model.py",
      "if p.start <= b.end and b.start <= p.end", "if p.start < b.end and b.start < p.end",
      LIVENESS,
      "the arena lets buffers alive at the same step share memory"),
    # ---- memory figures
    M("memory-multi-output", "memory", "analyzer/memory.py",
      "act = None if act is None or one is None else act + one",
      "act = None if act is None or one is None else one",
      ("tests/test_multi_output_bytes.py", *MEMORY),
      "a multi-output layer counts only its last output"),
    M("memory-bfloat16-4-bytes", "memory", "analyzer/ir.py",
      '"float16": 2, "bfloat16": 2,', '"float16": 2, "bfloat16": 4,', MEMORY,
      "bfloat16 counted as 4 bytes"),
    M("memory-total-without-maps", "memory", "analyzer/memory.py",
      "total_bytes=pbytes + fmap,", "total_bytes=pbytes,", MEMORY,
      "the total leaves out the feature maps"),
    # ---- checks
    M("check-mismatch-silent", "checks", "analyzer/checks.py",
      "            if not p.mismatched:\n                continue",
      "            if True:\n                continue", CHECKS, "weights-mismatch never reported"),
    M("check-overflow-model-total", "checks", "analyzer/checks.py",
      "    if data.totals.params > INT32_MAX:", "    if data.totals.params > 2 * INT32_MAX:",
      CHECKS, "the model-level int32 overflow is missed"),
    M("check-2gib-tensor", "checks", "analyzer/checks.py",
      "if nbytes > TWO_GIB:", "if nbytes > 2 * TWO_GIB:", CHECKS,
      "tensors between 2 and 4 GiB not flagged"),
    # ---- renderers
    M("render-mib-decimal", "renderers", "analyzer/render/units.py",
      'return f"{nbytes / MIB:,.{digits}f}"', 'return f"{nbytes / 1e6:,.{digits}f}"', RENDER,
      "MiB shown as MB"),
    M("render-csv-none", "renderers", "analyzer/render/csv_out.py",
      '    if v is None:\n        return ""', '    if v is None:\n        return "0"', RENDER,
      "CSV writes an unknown value as 0"),
    M("render-chart-bar-height", "renderers", "analyzer/render/svgchart.py",
      "h = b / MIB / bmax * ph if bmax else 0", "h = b / MIB / bmax * ph / 2 if bmax else 0",
      ("tests/test_html_chromium.py", "tests/test_svg_chart.py"),
      "chart bars drawn at half height"),
]


def copy_tree(dest: Path) -> None:
    """The code and tests, copied; fixtures linked (read only by the tests)."""
    for name in ("analyzer", "tests", "schema", "bench"):
        shutil.copytree(ROOT / name, dest / name,
                        ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    for name in ("pyproject.toml", "README.md", "Makefile", "SECURITY.md"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, dest / name)
    (dest / "fixtures").symlink_to(ROOT / "fixtures")
    if (ROOT / ".cache").exists():
        (dest / ".cache").symlink_to(ROOT / ".cache")


def apply(tree: Path, m: Mutation) -> None:
    path = tree / m.file
    text = path.read_text()
    if text.count(m.old) != 1:
        raise SystemExit(f"{m.id}: the text to mutate occurs {text.count(m.old)} times in "
                         f"{m.file} (the code moved: update the mutation)")
    path.write_text(text.replace(m.old, m.new))


def run_tests(tree: Path, tests: tuple[str, ...]) -> tuple[int, float, str]:
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1")
    env.pop("CI", None)
    start = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p",
                               "no:cacheprovider", *tests], cwd=tree, env=env,
                              capture_output=True, text=True, timeout=TIMEOUT_S)
        rc, out = proc.returncode, proc.stdout
    except subprocess.TimeoutExpired:
        rc, out = -1, "timeout"
    tail = [l for l in out.splitlines() if l.strip()][-1:] or [""]
    return rc, time.monotonic() - start, tail[0][:200]


def main(argv: list[str]) -> None:
    baseline, again = "--baseline" in argv, "--again" in argv
    wanted = [a for a in argv if not a.startswith("--")]
    chosen = [m for m in MUTATIONS if not wanted or m.id in wanted]
    if "--reverse" in argv:  # a second runner on the same tree starts from the other end
        chosen.reverse()
    for m in ([None] if baseline else chosen):
        if m is not None and not again and m.id in _recorded() and not wanted:
            continue  # recorded already (perhaps by a second runner on the same tree)
        with tempfile.TemporaryDirectory(prefix="memscan-mutant-") as tmp:
            tree = Path(tmp)
            copy_tree(tree)
            if m is None:
                tests = tuple(sorted({t.split("::")[0] for x in MUTATIONS for t in x.tests
                                      if t.startswith("tests/")}))
                rc, secs, tail = run_tests(tree, tests)
                print(f"baseline: rc {rc} in {secs:.0f} s: {tail}", flush=True)
                continue
            apply(tree, m)
            rc, secs, tail = run_tests(tree, m.tests)
        verdict = "caught" if rc not in (0, 5) else "survived"
        results = _recorded()
        results[m.id] = {"area": m.area, "fault": m.fault, "verdict": verdict, "rc": rc,
                         "seconds": round(secs), "pytest": tail}
        print(f"{m.id}: {verdict} (rc {rc}, {secs:.0f} s) {tail}", flush=True)
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=1))
    if not baseline:
        table(_recorded())


def _recorded() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {}


def table(results: dict) -> None:
    print("| mutation | area | fault | verdict |\n|---|---|---|---|")
    for m in MUTATIONS:
        r = results.get(m.id)
        print(f"| {m.id} | {m.area} | {m.fault} | {r['verdict'] if r else 'not run'} |")
    caught = sum(1 for r in results.values() if r["verdict"] == "caught")
    print(f"\n{caught} of {len(results)} caught")


if __name__ == "__main__":
    main(sys.argv[1:])
