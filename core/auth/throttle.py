"""Sign-in throttling: failed attempts counted per username and per address, with growing waits.

``limits`` counts them (fixed windows) in the installation's shared cache (Redis, or the embedded bus
file), so the API and the app's sign-in form, each in its own process, count the same failures. The wait
is checked before the password: while one runs, even the right password is refused (``RateLimited``, a
429 with ``Retry-After``). Unknown usernames are counted exactly like known ones, so a wait tells nothing.
A successful sign-in clears its username's count (not its address's).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from typing import Any

from limits import RateLimitItem, parse
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter

from core.bus.base import Cache
from core.errors import BackendUnavailable, RateLimited
from core.observability.logging import get_logger

log = get_logger("auth.throttle")
# failures allowed per window: each longer window adds a longer wait (backoff) for a persistent guesser
USER_LIMITS = ("5 per minute", "10 per 15 minutes", "20 per hour")
# an office behind one address signs in as many people: a looser bound, against one guesser's many names
ADDRESS_LIMITS = ("30 per minute", "100 per hour")
KEY_PREFIX = "signin"


class CacheStorage(Storage):
    """A ``limits`` storage over our ``Cache``: the counter is the cache's counter (its expiry is the
    window), and the window's end is kept beside it for ``Retry-After``."""

    STORAGE_SCHEME = None

    def __init__(self, cache: Cache) -> None:
        super().__init__()
        self.cache = cache

    @property
    def base_exceptions(self) -> type[Exception]:
        return BackendUnavailable

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        total = self.cache.incr(key, amount, ttl_s=expiry)
        if total == amount:  # this hit opened the window
            self.cache.set(f"{key}/ends", str(time.time() + expiry).encode(), ttl_s=expiry)
        return total

    def get(self, key: str) -> int:
        raw = self.cache.get(key)
        return int(raw) if raw else 0

    def get_expiry(self, key: str) -> float:
        raw = self.cache.get(f"{key}/ends")
        return float(raw) if raw else time.time()

    def check(self) -> bool:
        return self.cache.ping()

    def reset(self) -> int | None:
        return None  # the cache is shared with the rest of the product: never emptied from here

    def clear(self, key: str) -> None:
        self.cache.delete(key)
        self.cache.delete(f"{key}/ends")


def _who(kind: str, value: str) -> str:
    # hashed: the cache key stays short whatever is typed, and holds no username or address in clear
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


class LoginThrottle:
    """``check`` before verifying a password, then ``failed`` or ``succeeded``."""

    def __init__(
        self,
        cache: Cache,
        *,
        user_limits: tuple[str, ...] = USER_LIMITS,
        address_limits: tuple[str, ...] = ADDRESS_LIMITS,
    ) -> None:
        self._limiter = FixedWindowRateLimiter(CacheStorage(cache))
        self._user = [parse(rate) for rate in user_limits]
        self._address = [parse(rate) for rate in address_limits]

    def check(self, *, username: str, address: str | None) -> None:
        """``RateLimited`` (with the seconds to wait) while the username or the address is held back."""
        now = time.time()
        waits = [
            self._limiter.get_window_stats(item, KEY_PREFIX, who).reset_time - now
            for item, who in self._counted(username, address)
            if not self._safely(self._limiter.test, item, who, default=True)
        ]
        if waits:
            seconds = max(1, math.ceil(max(waits)))
            raise RateLimited(f"too many failed sign-ins: try again in {seconds} s", retry_after_s=seconds)

    def failed(self, *, username: str, address: str | None) -> None:
        for item, who in self._counted(username, address):
            self._safely(self._limiter.hit, item, who, default=True)

    def succeeded(self, *, username: str) -> None:
        for item, who in self._counted(username, None):
            self._safely(self._limiter.clear, item, who, default=None)

    def _counted(self, username: str, address: str | None) -> list[tuple[RateLimitItem, str]]:
        pairs = [(item, _who("user", username.strip().lower())) for item in self._user]
        if address:
            pairs += [(item, _who("address", address)) for item in self._address]
        return pairs

    @staticmethod
    def _safely(call: Callable[..., Any], item: RateLimitItem, who: str, *, default: Any) -> Any:
        """The cache being down must not lock everyone out: sign-in goes on unthrottled, and says so."""
        try:
            return call(item, KEY_PREFIX, who)
        except BackendUnavailable as exc:
            log.warning("auth.throttle_unavailable", error=str(exc))
            return default
