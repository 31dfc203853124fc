"""``parallel_map``: a function over a list on one thread per core, for the tuning loops' NumPy work."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["cores", "parallel_map"]

T = TypeVar("T")
R = TypeVar("R")


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


def parallel_map(function: Callable[[T], R], items: list[T]) -> list[R]:
    """``[function(x) for x in items]``, evaluated on one thread per core (NumPy releases the GIL in the
    mixing, sorting and ranking of large arrays); the same values in the same order, so a choice made from them
    is the same as a sequential loop's."""
    workers = min(len(items), cores())
    if workers <= 1:
        return [function(x) for x in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, items))
