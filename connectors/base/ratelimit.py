"""Client-side rate limits at each vendor's documented limit (``limits``, moving window).

In memory for now, shared by every connector of one process (two connectors on the same vendor account
under the same key share one budget); across processes it moves to Redis with the same interface.
"""

from __future__ import annotations

import time

from limits import parse
from limits.storage import MemoryStorage, Storage
from limits.strategies import MovingWindowRateLimiter

_PROCESS_STORAGE = MemoryStorage()
MIN_PAUSE_S = 0.001


class RateLimit:
    """``acquire()`` blocks until one more call fits in ``rate`` (e.g. ``"100/10 seconds"``)."""

    def __init__(self, rate: str, *, key: str, storage: Storage | None = None) -> None:
        self.rate = rate
        self._item = parse(rate)
        self._key = key
        self._limiter = MovingWindowRateLimiter(storage or _PROCESS_STORAGE)

    def acquire(self) -> float:
        """Take one slot; returns the seconds spent waiting for it."""
        waited = 0.0
        while not self._limiter.hit(self._item, self._key):
            reset_at = self._limiter.get_window_stats(self._item, self._key).reset_time
            pause = min(max(reset_at - time.time(), MIN_PAUSE_S), float(self._item.get_expiry()))
            time.sleep(pause)
            waited += pause
        return waited

    def __repr__(self) -> str:
        return f"RateLimit({self.rate!r}, key={self._key!r})"
