"""Cache and event bus: Redis when ``SOPHIA_REDIS_URL`` is set, else one SQLite file in the data dir."""

from __future__ import annotations

from core.bus.base import Cache, Event, EventBus
from core.bus.embedded import BUS_FILE, EmbeddedCache, EmbeddedEventBus
from core.bus.redis_impl import RedisCache, RedisEventBus, connect
from core.clock import SYSTEM_CLOCK, Clock
from core.config import Settings

__all__ = [
    "BUS_FILE",
    "Cache",
    "EmbeddedCache",
    "EmbeddedEventBus",
    "Event",
    "EventBus",
    "RedisCache",
    "RedisEventBus",
    "make_bus",
    "make_cache",
]


def make_cache(settings: Settings, *, clock: Clock = SYSTEM_CLOCK) -> Cache:
    """The configured cache. Nothing is contacted until first use. Redis keeps its own time; the embedded
    cache expires keys by ``clock``."""
    if settings.redis_url:
        return RedisCache(connect(settings.redis_url))
    return EmbeddedCache(settings.data_dir / BUS_FILE, clock=clock)


def make_bus(settings: Settings, *, clock: Clock = SYSTEM_CLOCK) -> EventBus:
    """The configured event bus. Nothing is contacted until first use."""
    if settings.redis_url:
        return RedisEventBus(connect(settings.redis_url), clock=clock)
    return EmbeddedEventBus(settings.data_dir / BUS_FILE, clock=clock)
