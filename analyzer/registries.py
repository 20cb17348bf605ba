"""One way to fill an op-keyed table of small functions: ``name = registrar(TABLE)`` makes
a decorator factory, ``@name("OpA", "OpB")``, that files the function under each op."""
from __future__ import annotations

from typing import Callable, MutableMapping, TypeVar

F = TypeVar("F", bound=Callable)


def registrar(table: MutableMapping[str, F]) -> Callable[..., Callable[[F], F]]:
    """A decorator factory filing the decorated function in ``table`` under every op named."""
    def for_ops(*ops: str) -> Callable[[F], F]:
        def register(fn: F) -> F:
            for op in ops:
                table[op] = fn
            return fn
        return register
    return for_ops
