"""What onnxruntime's default CPU arena *holds* after one run: its BFC arena, simulated.

onnxruntime's CPU execution provider hands every activation out of a best-fit-with-coalescing
arena (onnxruntime/core/framework/bfc_arena.cc, ``BFCArena``) that grows in regions and never
gives memory back during a run. What a process holds is the sum of those regions, not the
peak of what is in use: a region is at least the next power of two of the previous one, and a
free chunk in one region cannot be joined with one in another. This module replays the
arena's decisions over the ordered allocations and frees of a runtime replay (the buffers
``onnxruntime_plan.onnxruntime_buffers`` computes) and returns the bytes held at the end.

Modelled configuration (what ``OrtArenaCfg``'s defaults give, bfc_arena.h
``DEFAULT_*``): ``kNextPowerOfTwo`` extension, 1 MiB initial chunk, 128 MiB
``max_dead_bytes_per_chunk``, no memory limit; ``initial_growth_chunk_size_bytes`` (2 MiB)
matters only after ``Shrink``, which a plain run never calls. Measured in onnxruntime 1.32
with graph optimizations off and the memory pattern off (bench/accuracy.py ``--modes
arena``): initializers do not go through this arena (nothing is held before the first node,
whatever the weights' size), and the caller's inputs are not in it.

Format-neutral: it sees byte counts in order, never a graph.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Sequence

from .runtime_model import Buffer, Step

#: bfc_arena.h ``kMinAllocationBits``: requests are rounded up to multiples of 256 bytes.
MIN_ALLOCATION_BITS = 8
MIN_ALLOCATION_SIZE = 1 << MIN_ALLOCATION_BITS
#: bfc_arena.h ``kNumBins``: bin b holds free chunks of 256 << b bytes up to twice that
#: (the last bin: everything larger).
NUM_BINS = 21
#: bfc_arena.h ``DEFAULT_INITIAL_CHUNK_SIZE_BYTES`` and ``DEFAULT_MAX_DEAD_BYTES_PER_CHUNK``.
DEFAULT_INITIAL_CHUNK = 1 << 20
DEFAULT_MAX_DEAD_BYTES = 128 << 20

#: One allocation or free, in run order: ("alloc", key, bytes) or ("free", key, 0).
Event = tuple[str, str, int]


def rounded_bytes(nbytes: int) -> int:
    """bfc_arena.cc ``BFCArena::RoundedBytes``: up to a multiple of 256."""
    return -(-nbytes // MIN_ALLOCATION_SIZE) * MIN_ALLOCATION_SIZE


def bin_num_for_size(nbytes: int) -> int:
    """bfc_arena.h ``BinNumForSize``: floor(log2(max(bytes, 256) / 256)), capped."""
    return min(NUM_BINS - 1, (max(nbytes, MIN_ALLOCATION_SIZE) >> MIN_ALLOCATION_BITS)
               .bit_length() - 1)


@dataclass
class Chunk:
    """bfc_arena.h ``BFCArena::Chunk``: a piece of one region, in use or free, with its
    address neighbours in that region (``prev``/``next``)."""

    ptr: int
    size: int
    in_use: bool = False
    prev: Optional["Chunk"] = field(default=None, repr=False)
    next: Optional["Chunk"] = field(default=None, repr=False)

    def key(self) -> tuple[int, int]:
        # bfc_arena.h ``Bin::ChunkComparator``: by size, then by address.
        return (self.size, self.ptr)


class BFCArena:
    """onnxruntime's ``BFCArena`` with the ``kNextPowerOfTwo`` strategy (CPU defaults).

    Addresses matter only to break ties between free chunks of equal size in different
    regions (``ChunkComparator``): each new region is placed below the previous one, as
    glibc's mmap hands out large blocks (regions are at least 1 MiB, above its default
    mmap threshold).
    """

    def __init__(self, initial_chunk: int = DEFAULT_INITIAL_CHUNK,
                 max_dead_bytes: int = DEFAULT_MAX_DEAD_BYTES) -> None:
        # bfc_arena.cc ``BFCArena::BFCArena``: curr_region_allocation_bytes_ starts at the
        # rounded initial chunk size.
        self.curr_region_bytes = rounded_bytes(initial_chunk)
        self.max_dead_bytes = max_dead_bytes
        self.bins: list[list[tuple[int, int, Chunk]]] = [[] for _ in range(NUM_BINS)]
        self.regions: list[int] = []  # sizes, in the order they were added
        self.in_use = 0
        self.peak_in_use = 0
        self._next_base = 1 << 50

    @property
    def held_bytes(self) -> int:
        """``stats_.total_allocated_bytes``: every region's size (the profiler's
        ``mem_arena_held``)."""
        return sum(self.regions)

    # ----------------------------------------------------------------- bins
    def _insert(self, c: Chunk) -> None:
        # bfc_arena.cc ``InsertFreeChunkIntoBin``: into the bin of its size, kept sorted.
        bisect.insort(self.bins[bin_num_for_size(c.size)], (c.size, c.ptr, c))

    def _remove(self, c: Chunk) -> None:
        # bfc_arena.cc ``RemoveFreeChunkFromBin``.
        b = self.bins[bin_num_for_size(c.size)]
        i = bisect.bisect_left(b, (c.size, c.ptr))
        assert b[i][2] is c
        del b[i]

    # ----------------------------------------------------------------- allocate
    def alloc(self, nbytes: int) -> Optional[Chunk]:
        """bfc_arena.cc ``AllocateRawInternal``: 0 bytes allocate nothing; else round, look
        for a free chunk from the request's bin up, and extend the arena if there is none."""
        if nbytes == 0:
            return None
        rounded = rounded_bytes(nbytes)
        bin_num = bin_num_for_size(rounded)
        chunk = self._find_chunk(bin_num, rounded)
        if chunk is None:
            self._extend(rounded)
            chunk = self._find_chunk(bin_num, rounded)
            assert chunk is not None
        return chunk

    def _find_chunk(self, bin_num: int, rounded: int) -> Optional[Chunk]:
        """bfc_arena.cc ``FindChunkPtr``: the first bin from ``bin_num`` up holding a free
        chunk of at least ``rounded`` bytes; in it, the smallest such (ties: lowest address);
        then ``SplitFreeChunkFromBin``."""
        for b in self.bins[bin_num:]:
            i = bisect.bisect_left(b, (rounded,))  # any address: a prefix sorts first
            if i < len(b):
                chunk = b[i][2]
                del b[i]
                return self._split_free_chunk(chunk, rounded)
        return None

    def _split_free_chunk(self, chunk: Chunk, rounded: int) -> Chunk:
        """bfc_arena.cc ``SplitFreeChunkFromBin``: split when the chunk is at least twice the
        request, or would waste ``max_dead_bytes_per_chunk`` or more; mark it in use."""
        if chunk.size >= rounded * 2 or chunk.size - rounded >= self.max_dead_bytes:
            self._split(chunk, rounded)
        chunk.in_use = True
        self.in_use += chunk.size
        self.peak_in_use = max(self.peak_in_use, self.in_use)
        return chunk

    def _split(self, c: Chunk, nbytes: int) -> None:
        """bfc_arena.cc ``SplitChunk``: the tail after ``nbytes`` becomes a free chunk
        between ``c`` and its old next neighbour."""
        new = Chunk(ptr=c.ptr + nbytes, size=c.size - nbytes, prev=c, next=c.next)
        if c.next is not None:
            c.next.prev = new
        c.next = new
        c.size = nbytes
        self._insert(new)

    def _extend(self, rounded: int) -> None:
        """bfc_arena.cc ``Extend`` with ``kNextPowerOfTwo``: double the region size until the
        request fits; allocate a region of that size; when no doubling was needed, the next
        region will be twice this one. The region is one free chunk."""
        increased = False
        while rounded > self.curr_region_bytes:
            self.curr_region_bytes *= 2
            increased = True
        size = self.curr_region_bytes
        if not increased:
            self.curr_region_bytes *= 2
        self._next_base -= size + (1 << 20)
        self.regions.append(size)
        self._insert(Chunk(ptr=self._next_base, size=size))

    # ----------------------------------------------------------------- free
    def free(self, c: Optional[Chunk]) -> None:
        """bfc_arena.cc ``FreeAndMaybeCoalesce`` / ``Coalesce``: mark free, merge with a free
        next neighbour, then with a free previous one, and put the result in its bin."""
        if c is None:
            return
        assert c.in_use
        c.in_use = False
        self.in_use -= c.size
        nxt = c.next
        if nxt is not None and not nxt.in_use:
            self._remove(nxt)
            self._merge(c, nxt)
        prv = c.prev
        if prv is not None and not prv.in_use:
            self._remove(prv)
            self._merge(prv, c)
            c = prv
        self._insert(c)

    @staticmethod
    def _merge(c1: Chunk, c2: Chunk) -> None:
        """bfc_arena.cc ``Merge``: ``c2`` (right after ``c1``) joins ``c1``."""
        c1.next = c2.next
        if c2.next is not None:
            c2.next.prev = c1
        c1.size += c2.size


def run(events: Iterable[Event], arena: Optional[BFCArena] = None) -> BFCArena:
    """Replay ``events`` on ``arena`` (a fresh default one if None) and return it."""
    arena = arena if arena is not None else BFCArena()
    live: dict[str, Optional[Chunk]] = {}
    for kind, key, nbytes in events:
        if kind == "alloc":
            live[key] = arena.alloc(nbytes)
        else:
            arena.free(live.pop(key))
    return arena


#: Kernels that copy a weight into the arena when the session is created (``PrePack``) with
#: ``alloc->Alloc``, so the run starts with part of the first region taken: op -> bytes.
#: Only ConvTranspose, measured: tf-unet's 172,032 bytes in use before the first node are
#: exactly its three ConvTranspose filters (onnxruntime/core/providers/cpu/nn/conv_transpose.cc
#: ``ConvTranspose<float>::PrePack``, a float-only kernel, copies the filter transposed).
#: Other pre-packed weights (MatMul/Gemm B, ...) go through ``BFCArena::Reserve``: a block
#: of its own outside the regions, which does not change how the run's requests are placed.
PREPACKED: dict[str, Callable[[Step], int]] = {
    "ConvTranspose": lambda st: math.prod(st.weight_shapes[0]) * 4 if st.weight_shapes else 0,
}


def buffer_events(steps: Sequence[Step], buffers: Sequence[Buffer],
                  caller_owned: Iterable[str] = ()) -> list[Event]:
    """The arena's allocations and frees for a runtime replay's buffers, in run order,
    after the pre-packed weights the session allocates when it is created (``PREPACKED``,
    never freed).

    At step i: the buffers starting there are allocated in the replay's order (a node's
    outputs in output order, then its kernel scratch: e.g. MLAS convolution asks for its
    output before its working buffer, onnxruntime/core/providers/cpu/nn/conv.cc
    ``Conv<float>::Compute``), then the buffers whose last use is step i are freed (the
    executor's release of a node's dead values after it ran,
    onnxruntime/core/framework/sequential_executor.cc ``ReleaseNodeMLValues``; the order of
    frees within one step does not change the arena's state). Buffers held past the run
    (graph outputs) are never freed; ``caller_owned`` (graph inputs) and empty buffers (views
    of weights) are not the arena's.
    """
    n_steps = len(steps)
    events: list[Event] = [("alloc", f"{st.row}#prepacked", PREPACKED[st.op](st))
                           for st in steps if st.op in PREPACKED]
    skip = set(caller_owned)
    mine = [b for b in buffers if b.nbytes > 0 and b.id not in skip]
    starts: dict[int, list[Buffer]] = {}
    ends: dict[int, list[Buffer]] = {}
    for b in mine:
        starts.setdefault(b.start, []).append(b)
        if b.end < n_steps:
            ends.setdefault(b.end, []).append(b)
    for i in range(n_steps):
        events += [("alloc", b.id, b.nbytes) for b in starts.get(i, ())]
        events += [("free", b.id, 0) for b in ends.get(i, ())]
    return events


def run_held_bytes(steps: Sequence[Step], buffers: Sequence[Buffer],
                   caller_owned: Iterable[str] = ()) -> int:
    """Bytes onnxruntime's default CPU arena adds during one run (regions it holds at the end
    minus those it held before the first node, as bench/accuracy.py measures it): the
    session's pre-packed weights are allocated first, then the run's buffers."""
    events = buffer_events(steps, buffers, caller_owned)
    prepacked = sum(1 for kind, key, _ in events if key.endswith("#prepacked"))
    arena = run(events[:prepacked])
    before = arena.held_bytes
    return run(events[prepacked:], arena).held_bytes - before
