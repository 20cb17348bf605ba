"""memscan vs loading the model, on the same real VGG16 .h5 (with weights, ~530 MB).

The file is made on the fly (Keras 3, weights=None: random weights, same size as the real
ones) in .cache/bench/, never committed. Each contender runs in a fresh subprocess so its
time includes imports and its peak RSS is its own (ru_maxrss of the child).

    .venv/bin/python bench/bench_h5.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench"
MODEL = CACHE / "vgg16_full.h5"

MAKE = """
import os; os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras
keras.applications.VGG16(weights=None).save(%r)
"""

CONTENDERS = {
    "memscan (CLI, --input 1024,1024,3)": [sys.executable, "-m", "analyzer", str(MODEL),
                                           "--input", "1024,1024,3", "--format", "json",
                                           "-o", os.devnull],
    "keras.models.load_model + count_params()": [sys.executable, "-c", (
        "import os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\n"
        "import keras\n"
        "m = keras.models.load_model(%r, compile=False)\n"
        "print(m.count_params())" % str(MODEL))],
}


def run(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one fresh child process (its own rusage, wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed: {proc.stderr.read()[-500:]!r}")
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    if not MODEL.exists():
        subprocess.run([sys.executable, "-c", MAKE % str(MODEL)], check=True,
                       capture_output=True)
    print(f"model: {MODEL.name}, {MODEL.stat().st_size / 2**20:,.0f} MiB on disk")
    results = {}
    for name, cmd in CONTENDERS.items():
        times, rss = [], 0.0
        for _ in range(args.repeat):
            t, r = run(cmd)
            times.append(t)
            rss = r
        results[name] = (min(times), rss)
        print(f"{name:<44} best of {args.repeat}: {min(times):6.2f} s   peak RSS {rss:8.0f} MiB")
    (ms_t, ms_r), (k_t, k_r) = results.values()
    print(f"ratio load_model / memscan: time {k_t / ms_t:.1f}x, peak RSS {k_r / ms_r:.1f}x")


if __name__ == "__main__":
    main()
