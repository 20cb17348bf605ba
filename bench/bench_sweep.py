"""A 20-point sweep against one single run of the same model, through the real CLI.

    python bench/bench_sweep.py [--model fixtures/keras3/densenet201.h5] [--rounds 3]

Runs ``memscan MODEL --format json`` and ``memscan MODEL --sweep batch=1:20:1 --format json``
alternately (``--rounds`` times each; the median wall time of each kept) and prints both and
their ratio. Issue 17's bar: at most 3x, because the file is read and parsed once and only
shapes and figures are redone per point. CPU time (the children's, from getrusage) is printed
too: on a shared machine it is the steadier figure. Not a test: timings depend on the load.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(args: list[str]) -> tuple[float, float]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cpu, start = _cpu(), time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "analyzer", *args, "--format", "json"],
                          env=env, cwd=ROOT, capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"memscan {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}")
    return took, _cpu() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="fixtures/keras3/densenet201.h5")
    ap.add_argument("--points", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    single, sweep = [], []
    for _ in range(a.rounds):
        single.append(run([a.model]))
        sweep.append(run([a.model, "--sweep", f"batch=1:{a.points}:1"]))
    ws, wp = statistics.median(t for t, _ in single), statistics.median(t for t, _ in sweep)
    cs, cp = statistics.median(c for _, c in single), statistics.median(c for _, c in sweep)
    print(f"{a.model}: single run {ws:.2f} s wall / {cs:.2f} s CPU; "
          f"{a.points}-point sweep {wp:.2f} s wall / {cp:.2f} s CPU; "
          f"ratio {wp / ws:.2f}x wall, {cp / cs:.2f}x CPU (medians of {a.rounds})")


if __name__ == "__main__":
    main()
