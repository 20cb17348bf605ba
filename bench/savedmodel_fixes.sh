#!/bin/bash
# Rows shaped, feature maps, time and peak RSS of memscan on the SavedModels of
# fixtures/corpus/make_savedmodels.py, with the analyzer/ of a git ref (default: main) and with
# this tree's. Figures in docs/corpus.md "SavedModels built here the same way".
#     bash bench/savedmodel_fixes.sh [REF]
set -euo pipefail
R=$(cd "$(dirname "$0")/.." && pwd)
REF=${1:-main}
OLD=$(mktemp -d)
trap 'rm -rf "$OLD"' EXIT
mkdir "$OLD/src"
git -C "$R" archive "$REF" analyzer schema | tar -x -C "$OLD/src"
cd "$OLD"  # python -m puts the cwd first on sys.path: run from neither tree
for d in estimator_while tf1_simple_save keras_subclassed; do
  for which in "$REF" tree; do
    if [ "$which" = tree ]; then src=$R; else src=$OLD/src; fi
    PYTHONPATH=$src /usr/bin/time -f "%e %M" -o "$OLD/time.txt" "$R/.venv/bin/python" -m analyzer \
      "$R/fixtures/corpus/savedmodels/$d" --format json > "$OLD/out.json" 2>/dev/null || true
    "$R/.venv/bin/python" - "$d" "$which" "$OLD" <<'PY'
import json, sys
name, which, tmp = sys.argv[1:]
d = json.load(open(f"{tmp}/out.json"))
rows = d["layers"]
unknown = [r for r in rows if not r["output_shapes"]
           or any(s is None or None in s for s in r["output_shapes"])]
errors = sum(f["severity"] == "error" for f in d["findings"])
secs, kib = open(f"{tmp}/time.txt").read().split()
t = d["totals"]
print(f"{name} {which}: unknown rows {len(unknown)}/{len(rows)}, feature maps "
      f"{t['feature_map_bytes']} B, params {t['params']}, index data {t['index_data_bytes']} B, "
      f"errors {errors}, {secs} s, {int(kib) // 1024} MiB")
PY
  done
done
