"""Cache and event bus: Redis when ``SOPHIA_REDIS_URL`` is set, else one SQLite file in the data dir."""

from __future__ import annotations

from core.bus.base import Cache, Event, EventBus
from core.bus.embedded import BUS_FILE, EmbeddedCache, EmbeddedEventBus
from core.bus.redis_impl import RedisCache, RedisEventBus, connect
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


def make_cache(settings: Settings) -> Cache:
    """The configured cache. Nothing is contacted until first use."""
    if settings.redis_url:
        return RedisCache(connect(settings.redis_url))
    return EmbeddedCache(settings.data_dir / BUS_FILE)


def make_bus(settings: Settings) -> EventBus:
    """The configured event bus. Nothing is contacted until first use."""
    if settings.redis_url:
        return RedisEventBus(connect(settings.redis_url))
    return EmbeddedEventBus(settings.data_dir / BUS_FILE)
