"""memscan diff: totals with exact deltas, layers added/removed/changed, findings new and
gone, totals only across formats, and --max-growth as a gate (exit 1)."""
from __future__ import annotations

import json

from analyzer.analysis import analyse
from analyzer.diff import diff_reports
from analyzer.inputs import InputArg

from conftest import FIXTURES, run_cli

VGG = str(FIXTURES / "keras3" / "vgg16.h5")
VGG_NOTOP = str(FIXTURES / "keras3" / "vgg16_notop.h5")
KERAS_EXPORT_H5 = str(FIXTURES / "onnx" / "keras_export.h5")
KERAS_EXPORT_ONNX = str(FIXTURES / "onnx" / "keras_export.onnx")


def test_vgg16_with_and_without_top() -> None:
    old, new = analyse(VGG), analyse(VGG_NOTOP, inputs=[InputArg(None, (224, 224, 3))])
    d = diff_reports(old, new)
    assert d.compared == "layers"
    assert d.total("params").old == 138_357_544 and d.total("params").new == 14_714_688
    assert d.total("params").delta == 14_714_688 - 138_357_544
    assert d.total("total_bytes").delta == new.totals.total_bytes - old.totals.total_bytes
    assert sorted(r["name"] for r in d.removed) == ["fc1", "fc2", "flatten", "predictions"]
    assert d.added == [] and d.changed == [] and d.renamed == []


def test_same_model_at_two_inputs_changes_every_shaped_layer() -> None:
    old = analyse(VGG_NOTOP, inputs=[InputArg(None, (224, 224, 3))])
    new = analyse(VGG_NOTOP, inputs=[InputArg(None, (448, 448, 3))])
    d = diff_reports(old, new)
    assert not d.added and not d.removed
    # every layer's activations grow 4x; weights do not change in a network without a top
    assert len(d.changed) == len(new.layers)
    for c in d.changed:
        assert c.fields == ("output_shapes", "activation_bytes")
        assert c.new["activation_bytes"] == 4 * c.old["activation_bytes"]
    fm = d.total("feature_map_bytes")
    assert fm.new == 4 * fm.old and fm.pct == 300.0
    assert d.total("params").delta == 0


def test_findings_new_and_gone() -> None:
    d = diff_reports(analyse(VGG), analyse(VGG, inputs=[InputArg(None, (1024, 1024, 3))]))
    new = sorted((f.code, f.layer or "") for f in d.findings_new)
    assert ("int32-param-overflow", "fc1") in new and ("weights-mismatch", "fc1") in new
    assert d.findings_gone == []
    back = diff_reports(analyse(VGG, inputs=[InputArg(None, (1024, 1024, 3))]), analyse(VGG))
    assert sorted((f.code, f.layer or "") for f in back.findings_gone) == new


def test_renamed_layers_match_by_position_and_type() -> None:
    old = analyse(VGG_NOTOP, inputs=[InputArg(None, (224, 224, 3))])
    new = analyse(VGG_NOTOP, inputs=[InputArg(None, (224, 224, 3))])
    for i, r in enumerate(new.layers):
        r.name = f"renamed_{i}"
    d = diff_reports(old, new)
    assert len(d.renamed) == len(old.layers) and not d.added and not d.removed
    assert d.changed == []


def test_across_formats_totals_only() -> None:
    d = diff_reports(analyse(KERAS_EXPORT_H5), analyse(KERAS_EXPORT_ONNX))
    assert d.compared == "totals" and "totals only" in d.note
    assert d.added == d.removed == d.changed == []
    assert d.total("params").old == d.total("params").new  # the same weights


def test_cli_diff_table_json_markdown_and_gate() -> None:
    proc = run_cli("diff", VGG_NOTOP, VGG_NOTOP, "--input", "224,224,3", "--new-input",
                   "448,448,3", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)["diff"]
    fm = next(t for t in data["totals"] if t["key"] == "feature_map_bytes")
    assert fm["new"] == 4 * fm["old"] and fm["delta"] == 3 * fm["old"]
    total = next(t for t in data["totals"] if t["key"] == "total_bytes")
    pct = total["delta"] * 100 / total["old"]
    # --max-growth just above the growth passes, just below trips (exit 1, one line)
    ok = run_cli("diff", VGG_NOTOP, VGG_NOTOP, "--input", "224,224,3", "--new-input",
                 "448,448,3", "--max-growth", f"{pct + 0.01:.2f}")
    assert ok.returncode == 0, ok.stderr
    assert "within the" in ok.stdout.splitlines()[1]
    bad = run_cli("diff", VGG_NOTOP, VGG_NOTOP, "--input", "224,224,3", "--new-input",
                  "448,448,3", "--max-growth", f"{pct - 0.01:.2f}")
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith(f"memscan: {VGG_NOTOP}: total grew +")
    md = run_cli("diff", VGG, VGG_NOTOP, "--input", "224,224,3", "--format", "markdown")
    assert md.returncode == 0, md.stderr
    lines = md.stdout.splitlines()
    assert lines[0] == "## memscan diff" and lines[4].startswith("**total: ")
    assert "0 layers added, 4 removed, 0 changed" in md.stdout


def test_cli_diff_unreadable_side_is_exit_2(tmp_path) -> None:
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    proc = run_cli("diff", VGG_NOTOP, str(junk), "--input", "224,224,3")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert str(junk) in proc.stderr


def test_cli_diff_honours_tool_memscan(tmp_path) -> None:
    """[tool.memscan] applies to `memscan diff` as to `memscan`: the table's input, the
    per-path inputs (each side its own), the limits; a flag typed wins; --no-config ignores
    it; keys that are memscan's own (budget, paths) are left to it."""
    import shutil

    for name in ("old.h5", "new.h5"):
        shutil.copy(VGG_NOTOP, tmp_path / name)  # stores no input size: needs one
    (tmp_path / "pyproject.toml").write_text(
        '[tool.memscan]\ninputs = ["old.h5"]\ninput = "224,224,3"\nbudget = "1MiB"\n'
        '[tool.memscan.per-path."new.h5"]\ninput = "448,448,3"\n')

    def fm(*extra: str) -> tuple[int, int]:
        proc = run_cli("diff", "old.h5", "new.h5", "--format", "json", *extra, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        t = next(t for t in json.loads(proc.stdout)["diff"]["totals"]
                 if t["key"] == "feature_map_bytes")
        return t["old"], t["new"]

    at_224 = analyse(VGG_NOTOP, inputs=[InputArg(None, (224, 224, 3))]).totals.feature_map_bytes
    assert fm() == (at_224, 4 * at_224)  # the table's input; new.h5's per-path input
    assert fm("--input", "448,448,3") == (4 * at_224, 4 * at_224)  # typed: wins everywhere
    (tmp_path / "pyproject.toml").write_text('[tool.memscan]\ninput = "224,224,3"\n'
                                             'max-nodes = 3\n')
    proc = run_cli("diff", "old.h5", "new.h5", cwd=tmp_path)
    assert proc.returncode == 2 and "--max-nodes" in proc.stderr, proc.stderr
    proc = run_cli("diff", "old.h5", "new.h5", "--no-config", cwd=tmp_path)
    assert proc.returncode == 2 and "--max-nodes" not in proc.stderr  # no input size stored
