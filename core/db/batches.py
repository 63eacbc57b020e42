"""``in_batches``: a long list of ids cut into parts for ``IN (...)``.

SQLite limits the variables of one statement (32,766 today, 999 on old builds), PostgreSQL to 65,535, and
vendors' query languages have their own caps; a part of ``IN_BATCH`` ids stays well under every one of them
and keeps each statement's plan cheap.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

__all__ = ["IN_BATCH", "in_batches"]

#: Ids per ``IN (...)``: well under SQLite's variable limit.
IN_BATCH = 500

T = TypeVar("T")


def in_batches(values: Iterable[T], size: int = IN_BATCH) -> Iterator[list[T]]:
    """``values`` in consecutive lists of at most ``size`` (the last may be shorter; none is empty)."""
    if size < 1:
        raise ValueError(f"size must be at least 1, not {size}")
    it = iter(values)
    while part := list(islice(it, size)):
        yield part
