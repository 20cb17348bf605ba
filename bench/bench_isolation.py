"""What isolation costs: one folder of 50 fixtures analysed with ``--isolate`` (each artifact in
its own limited child) and ``--no-isolate``, at the same ``--jobs``, runs alternating.

Wall seconds and CPU seconds (user + sys of the whole process tree, from wait4) per run;
medians of --repeat runs and the isolated/not ratio of each. The fixtures are the 50 smallest
of fixtures/ that analyse at their stored input (small models: the per-artifact cost of
isolation weighs most there).

    python bench/bench_isolation.py [--jobs 2] [--repeat 3] [--count 50]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KINDS = ("keras3/*.h5", "tf_keras/*.h5", "keras_zip/*.h5", "keras_zip/*.keras",
         "zoo/keras3/*.h5", "zoo/tf_keras/*.h5", "zoo/*/*.keras", "onnx/*.onnx",
         "hostile/*.keras")


def fixture_folder(dest: Path, count: int) -> list[Path]:
    """Copy the ``count`` smallest fixtures that analyse at their stored input into ``dest``."""
    from analyzer.analysis import analyse
    from analyzer.errors import MemscanError

    files = sorted({p for k in KINDS for p in (ROOT / "fixtures").glob(k)},
                   key=lambda p: (p.stat().st_size, str(p)))
    chosen: list[Path] = []
    for p in files:
        if len(chosen) == count:
            break
        try:
            analyse(str(p))
        except MemscanError:
            continue
        target = dest / f"{len(chosen):02d}_{p.parent.name}_{p.name}"
        shutil.copy(p, target)
        chosen.append(target)
    if len(chosen) < count:
        raise SystemExit(f"only {len(chosen)} fixtures analyse at their stored input")
    return chosen


def run(folder: Path, jobs: int, isolate: bool) -> tuple[float, float]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("MEMSCAN_DEBUG", None)
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "analyzer", str(folder), "-j", str(jobs),
                             "--isolate" if isolate else "--no-isolate", "--format", "json",
                             "-o", os.devnull], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"memscan failed: {proc.stderr.read().decode()[-800:]}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--count", type=int, default=50)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        fixture_folder(folder, args.count)
        runs: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        for i in range(args.repeat):
            for isolate in ((True, False) if i % 2 == 0 else (False, True)):
                runs[isolate].append(run(folder, args.jobs, isolate))
                wall, cpu = runs[isolate][-1]
                print(f"run {i + 1} {'isolated' if isolate else 'in-process'}: "
                      f"{wall:.2f} s wall, {cpu:.2f} s CPU", flush=True)
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
           for k, v in runs.items()}
    print(f"{args.count} fixtures, --jobs {args.jobs}, medians of {args.repeat}:")
    print(f"  isolated   {med[True][0]:.2f} s wall  {med[True][1]:.2f} s CPU")
    print(f"  in-process {med[False][0]:.2f} s wall  {med[False][1]:.2f} s CPU")
    print(f"  ratio      {med[True][0] / med[False][0]:.2f}x wall  "
          f"{med[True][1] / med[False][1]:.2f}x CPU")


if __name__ == "__main__":
    main()
