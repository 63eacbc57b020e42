"""The Redis cache and event bus (redis-py): plain keys for the cache, Redis Streams for the bus."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import redis
from redis.typing import EncodableT, FieldT, XReadResponse

from core.bus.base import (
    Event,
    check_max_age,
    check_read,
    check_stream,
    check_ttl,
    check_value,
    encode_event,
)
from core.clock import SYSTEM_CLOCK, Clock
from core.errors import BackendUnavailable, InvalidInput

DEFAULT_PREFIX = "sophia:"
DEFAULT_MAXLEN = 100_000  # per stream; XADD trims approximately so a forgotten trim cannot fill memory
CONNECT_TIMEOUT_S = 5.0
# One XREAD BLOCK never waits longer than this: redis-py's default socket timeout (5 s) would cut a
# longer block short with an error, so a long wait is several short blocks.
MAX_BLOCK_S = 1.0
DATA_FIELD = b"data"


def connect(url: str) -> redis.Redis:
    """A client for ``url``; nothing is sent until first use."""
    return redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_S)


def _where(client: redis.Redis) -> str:
    """Where the client points, without credentials."""
    kw = client.connection_pool.connection_kwargs
    return str(kw["path"]) if "path" in kw else f"{kw.get('host', '?')}:{kw.get('port', '?')}"


@contextmanager
def _reachable(client: redis.Redis) -> Iterator[None]:
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise BackendUnavailable(f"Redis at {_where(client)} cannot be reached (SOPHIA_REDIS_URL): {exc}") from exc


def _ping(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


class RedisCache:
    """GET/SET with PX expiry; counters are INCRBY plus PEXPIRE NX in one transaction."""

    def __init__(self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._r = client
        self._prefix = f"{prefix}kv:"

    def get(self, key: str) -> bytes | None:
        with _reachable(self._r):
            value = self._r.get(self._prefix + key)
        return None if value is None else _bytes(value)

    def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        check_ttl(ttl_s)
        data = check_value(value)
        with _reachable(self._r):
            self._r.set(self._prefix + key, data, px=None if ttl_s is None else _ms(ttl_s))

    def delete(self, key: str) -> None:
        with _reachable(self._r):
            self._r.delete(self._prefix + key)

    def incr(self, key: str, amount: int = 1, ttl_s: float | None = None) -> int:
        check_ttl(ttl_s)
        pipe = self._r.pipeline(transaction=True)
        pipe.incrby(self._prefix + key, amount)
        if ttl_s is not None:
            pipe.pexpire(self._prefix + key, _ms(ttl_s), nx=True)
        try:
            with _reachable(self._r):
                total = pipe.execute()[0]
        except redis.ResponseError:
            raise InvalidInput(f"cache key {key!r} does not hold an integer") from None
        return int(total)

    def ping(self) -> bool:
        return _ping(self._r)

    def purge_expired(self) -> int:
        return 0  # Redis expires keys itself

    def close(self) -> None:
        self._r.close()


class RedisEventBus:
    """Redis Streams: XADD (approximate MAXLEN), XREAD with BLOCK, XTRIM by MINID.

    Event ids, expiry and trims go by the server's clock; ``clock`` only times a blocking read's deadline."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        maxlen: int = DEFAULT_MAXLEN,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._r = client
        self._clock = clock
        self._prefix = f"{prefix}events:"
        self._maxlen = maxlen

    def publish(self, stream: str, event: dict[str, Any]) -> str:
        check_stream(stream)
        fields: dict[FieldT, EncodableT] = {DATA_FIELD: encode_event(event)}
        with _reachable(self._r):
            event_id = self._r.xadd(self._prefix + stream, fields, maxlen=self._maxlen, approximate=True)
        return _bytes(event_id).decode()

    def read(self, stream: str, after_id: str | None = None, *, count: int = 100, block_s: float = 0) -> list[Event]:
        check_read(stream, count, block_s)
        after = after_id or "0-0"
        deadline = self._clock.monotonic() + block_s
        while True:
            remaining = deadline - self._clock.monotonic()
            block = _ms(min(remaining, MAX_BLOCK_S)) if remaining > 0 else None
            events = self._xread(stream, after, count, block)
            if events or remaining <= 0 or self._clock.monotonic() >= deadline:
                return events

    def trim(self, stream: str, max_age_s: float) -> int:
        check_stream(stream)
        check_max_age(max_age_s)
        with _reachable(self._r):
            seconds, micros = self._r.time()  # the server's clock made the ids
            min_ms = max(0, seconds * 1000 + micros // 1000 - int(max_age_s * 1000))
            return int(self._r.xtrim(self._prefix + stream, minid=f"{min_ms}-0", approximate=False))

    def ping(self) -> bool:
        return _ping(self._r)

    def close(self) -> None:
        self._r.close()

    def _xread(self, stream: str, after: str, count: int, block: int | None) -> list[Event]:
        key = self._prefix + stream
        try:
            with _reachable(self._r):
                reply = self._r.xread({key: after}, count=count, block=block)
        except redis.ResponseError:
            raise InvalidInput(f"{after!r} is not a Redis stream id") from None
        return [_event(stream, raw_id, fields) for raw_id, fields in _entries(reply, key.encode())]


def _entries(reply: XReadResponse, key: bytes) -> list[Any]:
    """The entries (id, fields) of the single stream asked for: a RESP3 XREAD reply maps the key to
    [entries], a RESP2 one lists [key, entries] pairs. Typed loosely: redis-py's reply type is a union
    over both protocols, and the entries of a client that does not decode are (bytes, {bytes: bytes})."""
    if isinstance(reply, dict):
        found: list[Any] = reply.get(key, [[]])
        return list(found[0])
    return list(reply[0][1]) if reply else []


def _bytes(value: bytes | str) -> bytes:
    """A reply as the bytes our clients receive (redis-py types replies bytes | str, by decode_responses)."""
    if isinstance(value, str):
        raise TypeError("the Redis client decodes responses (decode_responses=True); the cache and bus read bytes")
    return value


def _event(stream: str, raw_id: bytes, fields: dict[bytes, bytes]) -> Event:
    event_id = raw_id.decode()
    at = datetime.fromtimestamp(int(event_id.split("-", 1)[0]) / 1000, UTC)
    return Event(id=event_id, stream=stream, data=json.loads(fields[DATA_FIELD]), at=at)
