"""The Redis cache and bus against the real server: the shared contract, plus prefixes, MAXLEN and
what happens when Redis is not there. With CI=true a missing server fails these tests."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from core.bus import Cache, EventBus, RedisCache, RedisEventBus, make_bus, make_cache
from core.bus.redis_impl import connect
from core.config import Settings, load_settings
from core.errors import BackendUnavailable
from tests.db.bus_contract import BusContract, CacheContract
from tests.utils.services import redis_url_or_fail

pytestmark = pytest.mark.redis


def _settings(tmp_path: Path, redis_url: str) -> Settings:
    return load_settings(_env_file=None, data_dir=tmp_path / "data", redis_url=redis_url)


def _closed_port_url() -> str:
    with socket.socket() as s:  # a port nothing listens on once this socket closes
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


@pytest.fixture(scope="module")
def redis_url() -> str:
    return redis_url_or_fail()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A fresh key prefix; every key under it is deleted after the test."""
    value = f"sophia-test-{uuid.uuid4().hex[:12]}:"
    yield value
    client = connect(redis_url)
    keys = list(client.scan_iter(match=f"{value}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def cache(redis_url: str, prefix: str) -> Iterator[Cache]:
    c = RedisCache(connect(redis_url), prefix=prefix)
    yield c
    c.close()


@pytest.fixture
def bus(redis_url: str, prefix: str) -> Iterator[EventBus]:
    b = RedisEventBus(connect(redis_url), prefix=prefix)
    yield b
    b.close()


@pytest.fixture
def advance() -> Callable[[float], None]:
    """Redis expires keys and makes stream ids by the server's clock: time passes for real here."""
    return time.sleep


class TestRedisCache(CacheContract):
    pass


class TestRedisBus(BusContract):
    pass


def test_factories_pick_redis_when_a_url_is_set(tmp_path: Path, redis_url: str) -> None:
    settings = _settings(tmp_path, redis_url)
    cache, bus = make_cache(settings), make_bus(settings)
    assert isinstance(cache, RedisCache) and isinstance(bus, RedisEventBus)
    assert cache.ping() and bus.ping()
    assert not (settings.data_dir / "bus.sqlite3").exists()


def test_prefixes_keep_installations_apart(redis_url: str, prefix: str) -> None:
    mine = RedisCache(connect(redis_url), prefix=prefix + "one:")
    theirs = RedisCache(connect(redis_url), prefix=prefix + "two:")
    mine.set("shared-name", b"mine")
    assert theirs.get("shared-name") is None
    bus_mine = RedisEventBus(connect(redis_url), prefix=prefix + "one:")
    bus_mine.publish("s", {"n": 1})
    assert RedisEventBus(connect(redis_url), prefix=prefix + "two:").read("s") == []


def test_maxlen_bounds_a_stream_nobody_trims(redis_url: str, prefix: str) -> None:
    bus = RedisEventBus(connect(redis_url), prefix=prefix, maxlen=10)
    for n in range(1000):
        bus.publish("firehose", {"n": n})
    kept = bus.read("firehose", count=10_000)
    assert 10 <= len(kept) < 1000
    assert kept[-1].data == {"n": 999}


def test_long_block_outlives_a_short_socket_timeout(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url, socket_timeout=1.5)
    bus = RedisEventBus(client, prefix=prefix)
    last = bus.publish("quiet", {"n": 0})
    assert bus.read("quiet", last, block_s=2.5) == []


def test_unreachable_redis_is_reported_at_first_use(tmp_path: Path) -> None:
    settings = _settings(tmp_path, _closed_port_url())
    cache, bus = make_cache(settings), make_bus(settings)  # constructing contacts nothing
    assert cache.ping() is False and bus.ping() is False
    with pytest.raises(BackendUnavailable, match="Redis at 127.0.0.1:.* cannot be reached"):
        cache.get("k")
    with pytest.raises(BackendUnavailable):
        bus.publish("s", {"n": 1})
    with pytest.raises(BackendUnavailable):
        cache.incr("n")


def test_unreachable_message_carries_no_password(tmp_path: Path) -> None:
    url = _closed_port_url().replace("redis://", "redis://user:hunter2-secret@")
    with pytest.raises(BackendUnavailable) as caught:
        make_cache(_settings(tmp_path, url)).set("k", b"v")
    assert "hunter2-secret" not in str(caught.value)
