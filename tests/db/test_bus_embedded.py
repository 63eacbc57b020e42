"""The embedded cache and bus: the shared contract, plus what only a shared SQLite file must do —
work across processes (spawned and forked) sharing one data folder."""

from __future__ import annotations

import multiprocessing
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.bus import BUS_FILE, Cache, EmbeddedCache, EmbeddedEventBus, EventBus, make_bus, make_cache
from core.clock import ManualClock
from core.config import Settings, load_settings
from tests.db.bus_contract import WAIT_S, Advance, BusContract, CacheContract, read_until

spawn = multiprocessing.get_context("spawn")


@pytest.fixture(autouse=True)
def _plain_main_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """A spawned child re-imports the parent's __main__; after Streamlit's AppTest ran a script as
    __main__ in this process, that would be the app. Spawn children from a blank __main__ instead."""
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))


def _settings(data_dir: Path) -> Settings:
    return load_settings(_env_file=None, data_dir=data_dir, redis_url=None)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def advance(clock: ManualClock) -> Advance:
    return clock.advance


@pytest.fixture
def cache(data_dir: Path, clock: ManualClock) -> Iterator[Cache]:
    c = make_cache(_settings(data_dir), clock=clock)
    yield c
    c.close()


@pytest.fixture
def bus(data_dir: Path, clock: ManualClock) -> Iterator[EventBus]:
    b = make_bus(_settings(data_dir), clock=clock)
    yield b
    b.close()


class TestEmbeddedCache(CacheContract):
    pass


class TestEmbeddedBus(BusContract):
    pass


def test_factories_pick_the_bus_file_in_the_data_dir(data_dir: Path, cache: Cache, bus: EventBus) -> None:
    assert isinstance(cache, EmbeddedCache) and isinstance(bus, EmbeddedEventBus)
    cache.set("k", b"v")
    bus.publish("s", {})
    assert (data_dir / BUS_FILE).is_file()


def test_ids_sort_as_strings_in_publish_order(bus: EventBus) -> None:
    ids = [bus.publish("s", {"n": n}) for n in range(12)]
    assert sorted(ids) == ids


def test_purge_expired_counts_what_it_removed(cache: Cache, advance: Advance) -> None:
    cache.set("a", b"1", ttl_s=0.05)
    cache.set("b", b"2", ttl_s=0.05)
    cache.set("c", b"3")
    advance(0.1)
    assert cache.get("a") is None and cache.get("b") is None
    assert cache.purge_expired() == 2
    assert cache.purge_expired() == 0


# ---- across processes: the targets run in a fresh interpreter, so they build their own backend ----


def _publish(data_dir: Path, stream: str, n: int) -> None:
    bus = make_bus(_settings(data_dir))
    for i in range(n):
        bus.publish(stream, {"n": i})


def _reply(data_dir: Path) -> None:
    cache = make_cache(_settings(data_dir))
    greeting = cache.get("greeting")
    assert greeting == b"from parent", greeting
    cache.set("reply", greeting + b", seen by child")


def _count(data_dir: Path, times: int) -> None:
    cache = make_cache(_settings(data_dir))
    for _ in range(times):
        cache.incr("shared-counter")


def _run(target: object, *args: object, context: object = spawn) -> None:
    proc = context.Process(target=target, args=args)  # type: ignore[attr-defined]
    proc.start()
    proc.join(WAIT_S * 4)
    assert proc.exitcode == 0, f"child process exited with {proc.exitcode}"


def test_events_published_by_another_process_are_read_here(data_dir: Path, bus: EventBus) -> None:
    child = spawn.Process(target=_publish, args=(data_dir, "cross", 3))
    child.start()
    events = read_until(bus, "cross", 3)
    child.join(WAIT_S)
    assert child.exitcode == 0
    assert [e.data["n"] for e in events] == [0, 1, 2]


def test_cache_values_cross_processes_both_ways(data_dir: Path, cache: Cache) -> None:
    cache.set("greeting", b"from parent")
    _run(_reply, data_dir)
    assert cache.get("reply") == b"from parent, seen by child"


def test_counters_are_atomic_across_processes(data_dir: Path, cache: Cache) -> None:
    children = [spawn.Process(target=_count, args=(data_dir, 50)) for _ in range(4)]
    for child in children:
        child.start()
    for child in children:
        child.join(WAIT_S * 4)
        assert child.exitcode == 0
    assert cache.get("shared-counter") == b"200"


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_backend_keeps_working_across_fork(cache: Cache, bus: EventBus) -> None:
    cache.set("before-fork", b"parent")  # the parent's connections are open when it forks
    bus.publish("forked", {"from": "parent"})

    def child() -> None:
        assert cache.get("before-fork") == b"parent"
        cache.set("from-child", b"child")
        bus.publish("forked", {"from": "child"})

    _run(child, context=multiprocessing.get_context("fork"))
    assert cache.get("from-child") == b"child"
    assert [e.data["from"] for e in bus.read("forked")] == ["parent", "child"]
