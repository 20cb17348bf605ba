"""Cost of memscan against the node count: ONNX chains of 10^3, 10^4, 10^5 Relu nodes (made
on the fly, bench/chain_models.py), each analysed by the real CLI in a fresh process.

CPU seconds (user + sys of the child, so other load on the machine does not count) and peak
RSS (the child's ru_maxrss), median of --repeat runs, and CPU per node: linear cost keeps
"µs/node" flat.

    python bench/bench_nodes.py [--nodes 1000 10000 100000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from chain_models import onnx_chain  # noqa: E402


def run_once(path: Path) -> tuple[float, int]:
    """(CPU seconds, peak RSS KiB) of one ``memscan PATH`` run, isolation off (one process)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "analyzer", str(path), "--no-isolate",
                             "--format", "json", "-o", os.devnull], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"memscan failed on {path}: {proc.stderr.read().decode()[-500:]}")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'nodes':>8}  {'CPU s':>7}  {'µs/node':>8}  {'peak RSS MiB':>12}")
        for n in args.nodes:
            path = onnx_chain(Path(tmp) / f"chain{n}.onnx", n)
            runs = [run_once(path) for _ in range(args.repeat)]
            cpu = statistics.median(r[0] for r in runs)
            rss = statistics.median(r[1] for r in runs) / 1024
            print(f"{n:>8,}  {cpu:>7.2f}  {cpu / n * 1e6:>8.0f}  {rss:>12.0f}", flush=True)


if __name__ == "__main__":
    main()
