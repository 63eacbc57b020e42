"""Behaviour every cache and event bus keeps. Each backend's test file subclasses these classes and
provides the ``cache`` and ``bus`` fixtures, so the same cases run against every backend, and ``advance``:
moves the backend's clock on (a ``ManualClock`` for the embedded backend; Redis keeps time on the server,
so there it waits), so that expiry and trims are tested without racing the wall clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from core.bus import Cache, Event, EventBus
from core.errors import InvalidInput

WAIT_S = 15.0  # generous: cross-process delivery must happen well within this
BLOCK_S = 60.0  # a blocking read's limit; it returns as soon as the event comes
Advance = Callable[[float], None]


def wait_until(condition: Callable[[], bool], timeout_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def read_until(bus: EventBus, stream: str, n: int, timeout_s: float = WAIT_S) -> list[Event]:
    """Read ``stream`` from the start until ``n`` events have arrived or the time is up."""
    got: list[Event] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < n and time.monotonic() < deadline:
        got += bus.read(stream, got[-1].id if got else None, block_s=0.5)
    return got


class CacheContract:
    def test_missing_key_is_none(self, cache: Cache) -> None:
        assert cache.get("nothing-here") is None

    def test_value_round_trips_as_bytes(self, cache: Cache) -> None:
        cache.set("blob", b"\x00\xffbinary")
        assert cache.get("blob") == b"\x00\xffbinary"
        cache.set("blob", b"replaced")
        assert cache.get("blob") == b"replaced"

    def test_delete_removes_and_tolerates_missing(self, cache: Cache) -> None:
        cache.set("k", b"v")
        cache.delete("k")
        cache.delete("never-set")
        assert cache.get("k") is None

    def test_ttl_expires_only_the_short_lived_key(self, cache: Cache, advance: Advance) -> None:
        cache.set("short", b"1", ttl_s=0.2)
        cache.set("long", b"2", ttl_s=600)
        assert cache.get("short") == b"1"
        advance(0.3)
        assert cache.get("short") is None
        assert cache.get("long") == b"2"

    def test_set_without_ttl_clears_an_earlier_ttl(self, cache: Cache, advance: Advance) -> None:
        cache.set("kept", b"1", ttl_s=0.2)
        cache.set("kept", b"2")
        cache.set("witness", b"x", ttl_s=0.2)
        advance(0.3)
        assert cache.get("witness") is None
        assert cache.get("kept") == b"2"

    def test_incr_counts_from_zero(self, cache: Cache) -> None:
        assert cache.incr("hits") == 1
        assert cache.incr("hits", 5) == 6
        assert cache.incr("hits", -2) == 4
        assert cache.get("hits") == b"4"

    def test_incr_on_text_is_refused(self, cache: Cache) -> None:
        cache.set("word", b"hello")
        with pytest.raises(InvalidInput):
            cache.incr("word")
        assert cache.get("word") == b"hello"

    def test_incr_window_expires_then_restarts(self, cache: Cache, advance: Advance) -> None:
        assert cache.incr("window", ttl_s=0.3) == 1
        assert cache.incr("window", ttl_s=0.3) == 2
        advance(0.4)
        assert cache.get("window") is None
        assert cache.incr("window") == 1

    def test_purge_expired_keeps_live_keys(self, cache: Cache, advance: Advance) -> None:
        cache.set("old", b"1", ttl_s=0.1)
        cache.set("live", b"2")
        advance(0.2)
        assert cache.get("old") is None
        assert cache.purge_expired() >= 0
        assert cache.get("old") is None
        assert cache.get("live") == b"2"

    @pytest.mark.parametrize("ttl_s", [0, -1])
    def test_non_positive_ttl_is_refused(self, cache: Cache, ttl_s: float) -> None:
        with pytest.raises(InvalidInput):
            cache.set("k", b"v", ttl_s=ttl_s)
        with pytest.raises(InvalidInput):
            cache.incr("n", ttl_s=ttl_s)

    def test_text_value_is_refused(self, cache: Cache) -> None:
        with pytest.raises(InvalidInput):
            cache.set("k", "not bytes")  # type: ignore[arg-type]

    def test_ping(self, cache: Cache) -> None:
        assert cache.ping() is True


class BusContract:
    def test_published_event_reads_back(self, bus: EventBus) -> None:
        event_id = bus.publish("deals", {"deal": 7, "stage": "won", "tags": ["a"], "note": None})
        [event] = bus.read("deals")
        assert event.id == event_id
        assert event.stream == "deals"
        assert event.data == {"deal": 7, "stage": "won", "tags": ["a"], "note": None}
        assert event.at.tzinfo == UTC
        assert abs(datetime.now(UTC) - event.at) < timedelta(minutes=1)

    def test_events_after_an_id_come_back_in_order(self, bus: EventBus) -> None:
        ids = [bus.publish("s", {"n": n}) for n in range(5)]
        events = bus.read("s", after_id=ids[1])
        assert [e.id for e in events] == ids[2:]
        assert [e.data["n"] for e in events] == [2, 3, 4]

    def test_count_pages_through_a_stream(self, bus: EventBus) -> None:
        for n in range(5):
            bus.publish("s", {"n": n})
        seen: list[int] = []
        after = None
        while page := bus.read("s", after, count=2):
            assert len(page) <= 2
            seen += [e.data["n"] for e in page]
            after = page[-1].id
        assert seen == [0, 1, 2, 3, 4]

    def test_streams_are_separate(self, bus: EventBus) -> None:
        bus.publish("a", {"x": 1})
        bus.publish("b", {"x": 2})
        assert [e.data for e in bus.read("a")] == [{"x": 1}]
        assert [e.stream for e in bus.read("b")] == ["b"]
        assert bus.read("never-written") == []

    def test_reading_past_the_end_returns_nothing(self, bus: EventBus) -> None:
        last = bus.publish("s", {"n": 1})
        assert bus.read("s", last) == []
        assert bus.read("s", last, block_s=0.2) == []

    def test_blocking_read_wakes_for_a_new_event(self, bus: EventBus) -> None:
        last = bus.publish("live", {"n": 0})
        publisher = threading.Timer(0.3, bus.publish, args=("live", {"n": 1}))
        publisher.start()
        try:
            events = bus.read("live", last, block_s=BLOCK_S)
        finally:
            publisher.join()
        assert [e.data for e in events] == [{"n": 1}]

    def test_trim_removes_old_events_only(self, bus: EventBus, advance: Advance) -> None:
        bus.publish("s", {"n": "old-1"})
        bus.publish("s", {"n": "old-2"})
        advance(1.5)
        bus.publish("s", {"n": "new"})
        assert bus.trim("s", max_age_s=1.0) == 2
        assert [e.data["n"] for e in bus.read("s")] == ["new"]
        assert bus.trim("never-written", max_age_s=1.0) == 0

    def test_ids_are_not_reused_after_a_trim(self, bus: EventBus, advance: Advance) -> None:
        first = bus.publish("s", {"n": 1})
        advance(0.05)
        assert bus.trim("s", max_age_s=0) == 1
        second = bus.publish("s", {"n": 2})
        assert [e.id for e in bus.read("s", first)] == [second]
        assert [e.data for e in bus.read("s")] == [{"n": 2}]

    @pytest.mark.parametrize("event", [{"when": datetime.now(UTC)}, {"x": float("nan")}, ["not", "a", "dict"]])
    def test_event_that_is_not_a_json_object_is_refused(self, bus: EventBus, event: object) -> None:
        with pytest.raises(InvalidInput):
            bus.publish("s", event)  # type: ignore[arg-type]
        assert bus.read("s") == []

    def test_malformed_id_is_refused(self, bus: EventBus) -> None:
        bus.publish("s", {"n": 1})
        with pytest.raises(InvalidInput):
            bus.read("s", "not-an-id")

    def test_ping(self, bus: EventBus) -> None:
        assert bus.ping() is True
