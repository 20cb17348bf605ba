"""Bounds on how big an artifact memscan takes on, checked before the expensive work.

A 200 MB model_config or a graph of a million nodes is valid, but reading it whole would
cost gigabytes and minutes; a gate should rather say so in one line and name the flag that
raises the bound. Readers call ``check_config_bytes`` before they read a config, and
``check_nodes`` once they can count nodes cheaply; ``analysis.analyse`` sets the bounds of
one artifact's analysis with ``using``.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Iterator, Optional

from .errors import BadArguments, UnreadableArtifact

#: DenseNet201's model_config is 0.6 MB; the largest real one we know is a few MB.
DEFAULT_CONFIG_BYTES = 32 * 2**20
#: Real exports seldom pass 10^5 ops; analysis is about linear in the node count.
DEFAULT_NODES = 200_000


@dataclass(frozen=True)
class Limits:
    config_bytes: int = DEFAULT_CONFIG_BYTES
    nodes: int = DEFAULT_NODES


_current = Limits()


def current() -> Limits:
    return _current


@contextmanager
def using(config_bytes: Optional[int] = None, nodes: Optional[int] = None) -> Iterator[Limits]:
    """The bounds for the code inside (None keeps the default)."""
    global _current
    saved = _current
    _current = replace(Limits(), **{k: v for k, v in (("config_bytes", config_bytes),
                                                        ("nodes", nodes)) if v is not None})
    try:
        yield _current
    finally:
        _current = saved


def check_config_bytes(size: int, what: str, path: object, *, exact: bool = True) -> None:
    """``size``: the config's bytes, or (``exact`` False) a bound on them from the file."""
    limit = _current.config_bytes
    if size > limit:
        raise UnreadableArtifact(
            f"{what} is {'' if exact else 'up to '}{size / 2**20:,.1f} MiB"
            f"{'' if exact else ' (the bytes of the file outside its weights)'}, over the "
            f"{limit / 2**20:,.0f} MiB limit on a "
            f"model config (raise it with --max-config-size, e.g. --max-config-size "
            f"{_next_mib(size)}MiB)", path)


def check_nodes(count: int, path: object, *, at_least: bool = False) -> None:
    limit = _current.nodes
    if count > limit:
        raise UnreadableArtifact(
            f"the graph has {'more than ' if at_least else ''}{limit if at_least else count:,} "
            f"nodes, over the limit of {limit:,} (raise it with --max-nodes)", path)


def parse_config_size(text: str) -> int:
    """``--max-config-size 64MiB`` -> bytes (budget.parse_size's units)."""
    from .budget import parse_size

    try:
        return parse_size(text).nbytes
    except BadArguments as exc:
        raise BadArguments(str(exc).replace("--budget", "--max-config-size")) from None


def _next_mib(size: int) -> int:
    return -(-size // 2**20)
