"""Time, handed in: code that reads the time or waits takes a ``Clock``, so tests move time instead of sleeping.

``SYSTEM_CLOCK`` is the real one and every default. ``ManualClock`` is the tests' clock: it stands still until
``advance()`` moves it, and its ``sleep()`` advances it at once instead of waiting.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

# A ManualClock's sleep also yields the thread this long (real time), so a thread that polls in a loop
# (a blocking bus read) still lets the others run; it never waits as long as it was asked to.
MANUAL_YIELD_S = 0.01


@runtime_checkable
class Clock(Protocol):
    """Where the time comes from: the wall clock (aware UTC and epoch seconds), a monotonic one, and a wait."""

    def now(self) -> datetime:
        """The current time, timezone-aware in UTC."""

    def time(self) -> float:
        """Seconds since the epoch (``time.time()``)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for measuring intervals and deadlines."""

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The machine's clocks."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM_CLOCK: Clock = SystemClock()


class ManualClock:
    """A clock that moves only when told: ``advance(seconds)``, or ``sleep(seconds)`` (which advances it).

    Starts at ``start`` (default: the real time when made), so records it stamps still look recent. Safe to
    share between threads.
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime.now(UTC)
        if start.tzinfo is None:
            raise ValueError("a ManualClock starts at an aware datetime")
        self._epoch = start.timestamp()
        self._elapsed = 0.0
        self._lock = threading.Lock()
        self.slept: list[float] = []  # every sleep asked for, in order

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def time(self) -> float:
        with self._lock:
            return self._epoch + self._elapsed

    def monotonic(self) -> float:
        with self._lock:
            return self._elapsed

    def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.slept.append(seconds)
        self.advance(seconds)
        time.sleep(min(seconds, MANUAL_YIELD_S))

    def advance(self, seconds: float | timedelta) -> None:
        step = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)
        if step < 0:
            raise ValueError(f"a clock does not go back ({step} s)")
        with self._lock:
            self._elapsed += step

    def __repr__(self) -> str:
        return f"ManualClock({self.now().isoformat()})"
