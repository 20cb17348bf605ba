"""Bounded fuzzing: mutate the fixtures' bytes; only MemscanError may escape ``analyse``.

Each case runs through ``analyzer.isolate.analyse_isolated`` (a fork per case, a few ms):
the fuzz found a bit pattern on which libhdf5 spins for ever holding the GIL, which would
hang pytest in-process. The property asserted is the in-process one: the child's analysis
ended in a Report or in the reader's own MemscanError, never in another exception
(IsolatedFailure "bug"). Crashes and time-outs inside C libraries are contained by the
isolation; they are counted and printed, not failed. A few hundred cases in the normal
suite; ``make fuzz`` (MEMSCAN_FUZZ=1, MEMSCAN_FUZZ_EXAMPLES, default 5000) runs longer and
prints the case count that SECURITY.md records.
"""
from __future__ import annotations

import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from conftest import FIXTURES  # noqa: E402

import make_corpus  # noqa: E402
from analyzer.errors import MemscanError  # noqa: E402
from analyzer.isolate import IsolatedFailure, analyse_isolated  # noqa: E402
from analyzer.report import Report  # noqa: E402

settings.register_profile("memscan-suite", max_examples=300, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow], database=None)
settings.register_profile("memscan-fuzz", deadline=None, database=None,
                          max_examples=int(os.environ.get("MEMSCAN_FUZZ_EXAMPLES", "5000")),
                          suppress_health_check=[HealthCheck.too_slow])
PROFILE = "memscan-fuzz" if os.environ.get("MEMSCAN_FUZZ") else "memscan-suite"


def _seeds() -> dict[str, bytes]:
    """Small well-formed artifacts of every kind: the fuzz mutates their bytes."""
    seeds = {name: (FIXTURES / rel).read_bytes() for name, rel in (
        ("seq_conv1d.h5", "keras3/seq_conv1d.h5"), ("multi_io.h5", "tf_keras/multi_io.h5"),
        ("flatten_dense.h5", "tf_keras/flatten_dense.h5"), ("base.keras", "hostile/base.keras"))}
    seeds["model.onnx"] = make_corpus.onnx_bytes(make_corpus.onnx_model())
    return seeds


SEEDS = _seeds()
STATS: Counter = Counter()

mutation = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1, exclude_max=True), st.integers(0, 7)),
    st.tuples(st.just("byte"), st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
    st.tuples(st.just("splice"), st.floats(0, 1, exclude_max=True), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True), st.just(0)),
    st.tuples(st.just("zero-span"), st.floats(0, 1, exclude_max=True), st.integers(1, 4096)),
)


def mutate(data: bytes, mutations: list) -> bytes:
    b = bytearray(data)
    for op, where, arg in mutations:
        if not b:
            break
        pos = int(where * len(b))
        if op == "flip":
            b[pos] ^= 1 << arg
        elif op == "byte":
            b[pos] = arg
        elif op == "splice":
            b[pos:pos + len(arg)] = arg
        elif op == "truncate":
            del b[pos:]
        elif op == "zero-span":
            b[pos:pos + arg] = bytes(len(b[pos:pos + arg]))
    return bytes(b)


@pytest.fixture(scope="module")
def scratch():
    with tempfile.TemporaryDirectory(prefix="memscan-fuzz-") as d:
        yield Path(d)
    if STATS:
        print(f"\nfuzz: {sum(STATS.values())} cases ({dict(STATS)})")


@settings(settings.get_profile(PROFILE))
@given(seed=st.sampled_from(sorted(SEEDS)), mutations=st.lists(mutation, min_size=1,
                                                                max_size=8))
def test_mutated_bytes_only_raise_memscan_error(scratch, seed: str, mutations: list) -> None:
    path = scratch / seed
    path.write_bytes(mutate(SEEDS[seed], mutations))
    result = analyse_isolated(str(path), cpu_limit=3, timeout=10)
    if isinstance(result, IsolatedFailure):
        assert result.reason != "bug", f"{seed} {mutations}: {result}"
        STATS[result.reason] += 1
    elif isinstance(result, MemscanError):
        assert str(path) in str(result)
        STATS["unusable"] += 1
    else:
        assert isinstance(result, Report)
        STATS["analysed"] += 1
