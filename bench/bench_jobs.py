"""--jobs 2 against --jobs 1 on a folder of 50 fixture copies, through the real CLI.

    python bench/bench_jobs.py [--copies 50] [--rounds 1]

Copies the Keras 3 fixtures (all but the *_notop ones, which need --input) round-robin into
a temporary folder, runs ``memscan FOLDER --format json`` with --jobs 1 and --jobs 2
(alternating, ``--rounds`` times each, best time kept), checks the two JSON documents are
byte-identical, and prints the wall and CPU times and their ratio, beside what two plain CPU
burns gain on this machine at that moment (a shared machine can give two processes no more
than one). Not a test: timings depend on the machine and its load.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = sorted(p for p in (ROOT / "fixtures" / "keras3").glob("*.h5")
                  if not p.stem.endswith("_notop"))


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)  # the CLI and its workers, once reaped
    return r.ru_utime + r.ru_stime


def run(folder: Path, jobs: int, out: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one CLI run."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cpu = _cpu()
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "analyzer", str(folder), "--format", "json",
                           "--jobs", str(jobs), "-o", str(out)], env=env, cwd=ROOT,
                          capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"memscan --jobs {jobs} exited {proc.returncode}: {proc.stderr.strip()}")
    return took, _cpu() - cpu


def _burn(seconds: float) -> None:
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass


def machine_ratio(seconds: float = 1.0) -> float:
    """What two processes can gain here right now: two CPU burns one after the other vs
    side by side. On a shared machine this, not the core count, bounds --jobs 2."""
    from concurrent.futures import ProcessPoolExecutor

    start = time.perf_counter()
    _burn(seconds)
    _burn(seconds)
    serial = time.perf_counter() - start
    start = time.perf_counter()
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_burn, [seconds, seconds]))
    return serial / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="memscan-bench-") as tmp:
        folder = Path(tmp) / "models"
        folder.mkdir()
        for i in range(args.copies):
            src = FIXTURES[i % len(FIXTURES)]
            shutil.copy(src, folder / f"{i:03d}_{src.name}")
        before = machine_ratio()
        times: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
        for _ in range(args.rounds):
            for jobs in (1, 2):
                times[jobs].append(run(folder, jobs, Path(tmp) / f"jobs{jobs}.json"))
        after = machine_ratio()
        one = (Path(tmp) / "jobs1.json").read_bytes()
        two = (Path(tmp) / "jobs2.json").read_bytes()
        identical = one == two
    (t1, c1), (t2, c2) = min(times[1]), min(times[2])
    print(f"{args.copies} artifacts ({len(FIXTURES)} Keras 3 fixtures round-robin), "
          f"{os.cpu_count()} CPUs, load average before {load:.2f}, after "
          f"{os.getloadavg()[0]:.2f}")
    print(f"--jobs 1: {t1:.2f} s wall ({c1:.2f} s CPU)   --jobs 2: {t2:.2f} s wall "
          f"({c2:.2f} s CPU)   speed-up x{t1 / t2:.2f}   reports identical: {identical} "
          f"({len(one):,} bytes of JSON)")
    print(f"the machine's own two-process speed-up (CPU burn) before: x{before:.2f}, after: "
          f"x{after:.2f}")
    if not identical:
        sys.exit(1)


if __name__ == "__main__":
    main()
