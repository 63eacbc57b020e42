"""The two small contracts every cache and event-bus backend keeps, and the checks they share."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from core.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Event:
    """One event read back from a stream. ``at`` is when it was published, in UTC."""

    id: str
    stream: str
    data: dict[str, Any]
    at: datetime


@runtime_checkable
class Cache(Protocol):
    """Bytes by key, with optional expiry; shared by every process of one installation."""

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        """Store ``value``; a ``set`` without ``ttl_s`` keeps the key until it is deleted."""

    def delete(self, key: str) -> None: ...

    def incr(self, key: str, amount: int = 1, ttl_s: float | None = None) -> int:
        """Add ``amount`` to an integer counter (absent counts as 0) and return the new total.

        ``ttl_s`` sets the expiry only when the key has none, so a window starts at its first count.
        """

    def ping(self) -> bool: ...

    def purge_expired(self) -> int:
        """Remove expired keys now; returns how many were removed (0 where the server expires them)."""

    def close(self) -> None: ...


@runtime_checkable
class EventBus(Protocol):
    """Append-only named streams of JSON events, read by id from any process."""

    def publish(self, stream: str, event: dict[str, Any]) -> str:
        """Append ``event`` and return its id; ids of one stream come back in publish order."""

    def read(self, stream: str, after_id: str | None = None, *, count: int = 100, block_s: float = 0) -> list[Event]:
        """Up to ``count`` events after ``after_id`` (``None``: from the oldest kept), oldest first.

        With ``block_s > 0`` and nothing to return, wait up to that long for a new event.
        """

    def trim(self, stream: str, max_age_s: float) -> int:
        """Drop events older than ``max_age_s`` seconds; returns how many were dropped."""

    def ping(self) -> bool: ...

    def close(self) -> None: ...


def check_ttl(ttl_s: float | None) -> None:
    if ttl_s is not None and not ttl_s > 0:
        raise InvalidInput(f"ttl_s must be a positive number of seconds, not {ttl_s!r}")


def check_value(value: object) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise InvalidInput(f"cache values are bytes, not {type(value).__name__}")
    return bytes(value)


def check_read(stream: str, count: int, block_s: float) -> None:
    check_stream(stream)
    if count < 1:
        raise InvalidInput(f"count must be at least 1, not {count}")
    if block_s < 0:
        raise InvalidInput(f"block_s cannot be negative ({block_s})")


def check_stream(stream: str) -> None:
    if not isinstance(stream, str) or not stream:
        raise InvalidInput("a stream name is a non-empty string")


def check_max_age(max_age_s: float) -> None:
    if max_age_s < 0:
        raise InvalidInput(f"max_age_s cannot be negative ({max_age_s})")


def encode_event(event: dict[str, Any]) -> str:
    """The event as compact JSON; anything JSON cannot carry is refused rather than mangled."""
    if not isinstance(event, dict):
        raise InvalidInput(f"an event is a dict, not {type(event).__name__}")
    try:
        return json.dumps(event, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"event is not JSON-serialisable: {exc}") from None
