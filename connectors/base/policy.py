"""How every vendor call is made: rate limited, resolved by the error table, retried with backoff."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import structlog
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from connectors.base.errors import Action, ConnectorError, ErrorTable
from connectors.base.ratelimit import RateLimit
from connectors.base.redact import SecretFilter

T = TypeVar("T")
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RetrySettings:
    max_attempts: int = 5
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    retry_after_max_s: float = 300.0  # a longer Retry-After fails the call rather than stall the run


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, ConnectorError) and exc.action is not Action.FAIL


class CallPolicy:
    def __init__(self, *, vendor: str, table: ErrorTable, retry: RetrySettings, redact: SecretFilter) -> None:
        self.vendor = vendor
        self.table = table
        self.retry = retry
        self.redact = redact
        self._backoff = wait_exponential_jitter(
            initial=retry.backoff_initial_s, max=retry.backoff_max_s, jitter=retry.backoff_initial_s
        )

    def call(self, fn: Callable[[], T], *, limits: Sequence[RateLimit] = (), what: str = "") -> T:
        """``fn()`` under the rate limits; a failure is resolved by the table and retried if it says so."""
        retrying = Retrying(
            stop=stop_after_attempt(self.retry.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(_retryable),
            before_sleep=lambda state: self._log_retry(state, what),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    for limit in limits:
                        limit.acquire()
                    return self._once(fn)
        except ConnectorError as err:
            if err.action is Action.FAIL or self.retry.max_attempts == 1:  # one attempt: nothing was given up
                raise
            raise ConnectorError(
                f"{err.message} (gave up after {self.retry.max_attempts} attempts)",
                action=Action.FAIL,
                kind=err.kind,
                http_status=err.http_status,
            ) from None
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    def _once(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except ConnectorError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure goes through the table
            err = self.table.resolve(self.table.problem_of(exc), vendor=self.vendor, redact=self.redact)
        if err.retry_after is not None and err.retry_after > self.retry.retry_after_max_s:
            raise ConnectorError(
                f"{err.message} ({self.vendor} asked us to wait {err.retry_after:.0f} s, more than "
                f"retry_after_max_s={self.retry.retry_after_max_s:.0f})",
                action=Action.FAIL,
                kind=err.kind,
                http_status=err.http_status,
            )
        raise err

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, ConnectorError) and exc.retry_after is not None:
            return exc.retry_after
        return self._backoff(state)

    def _log_retry(self, state: RetryCallState, what: str) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "connector.retry",
            vendor=self.vendor,
            call=what,
            attempt=state.attempt_number,
            wait_s=round(state.upcoming_sleep, 3),
            error=getattr(exc, "message", type(exc).__name__),
        )
