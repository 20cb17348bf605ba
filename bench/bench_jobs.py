"""--jobs 2 against --jobs 1 on a folder of 50 fixture copies, through the real CLI.

    python bench/bench_jobs.py [--copies 50] [--rounds 1]

Copies the Keras 3 fixtures (all but the *_notop ones, which need --input) round-robin into
a temporary folder, runs ``memscan FOLDER --format json`` with --jobs 1 and --jobs 2
(alternating, ``--rounds`` times each, best time kept), checks the two JSON documents are
byte-identical, and prints the wall times and their ratio. Not a test: timings depend on
the machine and its load.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = sorted(p for p in (ROOT / "fixtures" / "keras3").glob("*.h5")
                  if not p.stem.endswith("_notop"))


def run(folder: Path, jobs: int, out: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "analyzer", str(folder), "--format", "json",
                           "--jobs", str(jobs), "-o", str(out)], env=env, cwd=ROOT,
                          capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"memscan --jobs {jobs} exited {proc.returncode}: {proc.stderr.strip()}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="memscan-bench-") as tmp:
        folder = Path(tmp) / "models"
        folder.mkdir()
        for i in range(args.copies):
            src = FIXTURES[i % len(FIXTURES)]
            shutil.copy(src, folder / f"{i:03d}_{src.name}")
        times: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(args.rounds):
            for jobs in (1, 2):
                times[jobs].append(run(folder, jobs, Path(tmp) / f"jobs{jobs}.json"))
        one = (Path(tmp) / "jobs1.json").read_bytes()
        two = (Path(tmp) / "jobs2.json").read_bytes()
        identical = one == two
    t1, t2 = min(times[1]), min(times[2])
    print(f"{args.copies} artifacts ({len(FIXTURES)} Keras 3 fixtures round-robin), "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"--jobs 1: {t1:.2f} s   --jobs 2: {t2:.2f} s   speed-up x{t1 / t2:.2f}   "
          f"reports identical: {identical} ({len(one):,} bytes of JSON)")
    if not identical:
        sys.exit(1)


if __name__ == "__main__":
    main()
