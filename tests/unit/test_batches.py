"""in_batches: the one way an id list is cut for IN (...)."""

from __future__ import annotations

import pytest

from core.db.batches import IN_BATCH, in_batches


def test_cuts_any_iterable_into_full_parts_and_a_rest() -> None:
    assert list(in_batches(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(in_batches((x for x in "abcd"), 2)) == [["a", "b"], ["c", "d"]]
    assert list(in_batches([], 3)) == []
    assert [len(p) for p in in_batches(range(IN_BATCH + 1))] == [IN_BATCH, 1]


def test_refuses_an_empty_part_size() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        list(in_batches([1], 0))
