"""Artifacts per second per worker: the local runner (--jobs 1, --jobs 2) against a Dask
cluster of two single-threaded workers (--dask-scheduler), through the real CLI.

    python bench/bench_dask.py [--copies 8] [--scheduler tcp://HOST:PORT]

Copies six small fixtures (Keras .h5, .weights.h5, .keras, ONNX, TFLite, a Keras-written
SavedModel) ``--copies`` times into a temporary folder, runs ``memscan FOLDER --format json``
locally with --jobs 1 and --jobs 2, then with --dask-scheduler: against a LocalCluster(2
worker processes, 1 thread each) started here on 127.0.0.1, or against ``--scheduler``
(whose workers must see the folder). Checks the JSON documents are byte-identical and prints
wall seconds, artifacts per second, and per second per worker (per job). Each wall time is
the whole CLI run, start-up included (importing distributed and connecting cost a few
seconds); a run over one artifact gives that start-up, and "after start-up" is
(N - 1) / (wall - one-artifact wall) per worker. The machine's load average is printed
beside them: not a test, timings depend on the machine and on who else uses it.
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
KINDS = {
    "m.h5": "keras3/multi_io.h5",
    "w.weights.h5": "keras_zip/keras3_seq_mix.weights.h5",
    "z.keras": "keras_zip/flatten_dense.keras",
    "o.onnx": "onnx/keras_export.onnx",
    "c.tflite": "tflite/cnn_float.tflite",
    "s_tfk": "savedmodel/multi_io_tfk",
}


def make_folder(root: Path, copies: int) -> int:
    """``copies`` copies of every kind under ``root``; the number of artifacts."""
    for i in range(copies):
        for name, rel in KINDS.items():
            source, target = ROOT / "fixtures" / rel, root / str(i) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if source.is_dir() else shutil.copyfile)(source, target)
    return copies * len(KINDS)


def run(folder: Path, extra: list[str]) -> tuple[float, str]:
    """Wall seconds and stdout of one CLI run."""
    start = time.perf_counter()  # the installed memscan: the workers import it by that name
    proc = subprocess.run([sys.executable, "-m", "memscan", str(folder), "--format", "json",
                           *extra], cwd=ROOT, capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"memscan {' '.join(extra)} exited {proc.returncode}: {proc.stderr.strip()}")
    return took, proc.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=8, help="copies of each of the 6 kinds")
    ap.add_argument("--scheduler", help="an existing cluster's scheduler address")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_dask_"))
    cluster = None
    try:
        n = make_folder(tmp / "models", args.copies)
        address = args.scheduler
        if address is None:
            from distributed import LocalCluster

            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None)
            address = cluster.scheduler_address
        from distributed import Client

        with Client(address, set_as_default=False) as client:
            workers = len(client.scheduler_info()["workers"])
        rows, reference = [], None
        for label, extra, width in (("local --jobs 1", ["--jobs", "1"], 1),
                                    ("local --jobs 2", ["--jobs", "2"], 2),
                                    (f"dask, {workers} workers", ["--dask-scheduler", address],
                                     workers)):
            load = os.getloadavg()[0]
            took, out = run(tmp / "models", extra)
            if reference is None:
                reference = out
            elif out != reference:
                sys.exit(f"{label}: output differs from --jobs 1")
            one, _ = run(tmp / "models" / "0" / "m.h5", extra)  # start-up and one artifact
            steady = (n - 1) / max(took - one, 1e-9)
            rows.append((label, took, one, n / took, n / took / width, steady / width, load))
        print(f"{n} artifacts ({args.copies} copies of {len(KINDS)} fixtures), "
              f"{os.cpu_count()} cores; outputs byte-identical")
        print("| run | wall (s) | one artifact (s) | artifacts/s | per worker (job) "
              "| per worker after start-up | load avg |")
        print("|---|---|---|---|---|---|---|")
        for label, took, one, rate, per, steady, load in rows:
            print(f"| {label} | {took:.1f} | {one:.1f} | {rate:.2f} | {per:.2f} | {steady:.2f} "
                  f"| {load:.1f} |")
    finally:
        if cluster is not None:
            cluster.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
