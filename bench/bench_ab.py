"""A/B wall time of the memscan CLI: another checkout's analyzer (e.g. main) against this
tree's, on the same files, runs interleaved, median of N each (the ratio is what to read on a
shared machine).

    rm -rf /tmp/base && mkdir /tmp/base && git archive main analyzer | tar -x -C /tmp/base
    python bench/bench_ab.py 3        # needs the corpus fetched (tests/corpus/fetch.py)
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time
WT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE = os.environ.get("MEMSCAN_AB_BASE", "/tmp/base")
PY = sys.executable
sys.path.insert(0, f"{WT}/tests")
big = os.path.join(os.environ.get("TMPDIR", "/tmp"), "memscan_ab_big.onnx")
if not os.path.exists(big):
    subprocess.run([PY, "-c", "import sys; sys.path.insert(0, sys.argv[3]); from onnx_models import big_matmuls; big_matmuls(sys.argv[1], int(sys.argv[2]))", big, "550", f"{WT}/tests"], check=True)
C = f"{WT}/.cache/corpus/files"
models = {"big-matmul-550MB": (big, []),
          "smart-turn-qdq": (f"{C}/smart-turn-qdq/smart-turn-v3.2-cpu.onnx", ["--input", "1,80,800"]),
          "ddddocr-old-quantized": (f"{C}/ddddocr-old-quantized/common_old.onnx", ["--input", "1,1,64,128"])}
code = "import sys, os; from analyzer.cli import main; main(sys.argv[1:] + ['--format', 'json', '-o', os.devnull, '--no-isolate'])"
for name, (path, extra) in models.items():
    t = {"main": [], "branch": []}
    for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 3):
        for label, pp in (("main", BASE), ("branch", WT)):
            env = dict(os.environ, PYTHONPATH=pp)
            s = time.perf_counter()
            # cwd outside both trees: python -c puts the cwd first on sys.path
            subprocess.run([PY, "-c", code, path, *extra], env=env, check=False,
                           capture_output=True, cwd=tempfile.gettempdir())
            t[label].append(time.perf_counter() - s)
    a, b = statistics.median(t["main"]), statistics.median(t["branch"])
    print(f"{name}: main {a:.2f} s, branch {b:.2f} s, ratio {b / a:.3f}", flush=True)
