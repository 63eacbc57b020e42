"""The connector contract's one abstract base, and the settings every kind shares."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.orm import Session

from connectors.base.policy import RetrySettings
from core.clock import SYSTEM_CLOCK, Clock
from core.pipelines.contract import Failure, FailureBudget, Page, StageMapping, StreamSpec


class ConnectorConfig(BaseModel):
    """Settings every kind accepts. Validated at the edge (``sophia connectors add``, the admin page)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str
    timeout_s: float = Field(30.0, gt=0, le=300)
    max_attempts: int = Field(5, ge=1, le=20)
    backoff_initial_s: float = Field(1.0, gt=0, le=60)
    backoff_max_s: float = Field(60.0, gt=0, le=3600)
    retry_after_max_s: float = Field(300.0, ge=0, le=86_400)
    quarantine_max_count: int = Field(50, ge=0)
    quarantine_max_ratio: float = Field(0.1, ge=0, le=1)

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, v: str) -> str:
        parts = urlsplit(v.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http:// or https:// URL")
        if parts.query or parts.fragment or "@" in parts.netloc:
            raise ValueError("must be a plain URL (no credentials, query or fragment)")
        return v.strip().rstrip("/")

    def retry_settings(self) -> RetrySettings:
        return RetrySettings(
            max_attempts=self.max_attempts,
            backoff_initial_s=self.backoff_initial_s,
            backoff_max_s=max(self.backoff_max_s, self.backoff_initial_s),
            retry_after_max_s=self.retry_after_max_s,
        )

    def failure_budget(self) -> FailureBudget:
        return FailureBudget(max_count=self.quarantine_max_count, max_ratio=self.quarantine_max_ratio)


# Errors a mapping raises on a record shaped unlike the vendor's documentation. They quarantine that record
# (and the failure budget stops a run where every record fails, i.e. a mapping bug) instead of ending it.
UNEXPECTED_SHAPE = (KeyError, TypeError, ValueError, AttributeError, IndexError)


# Sessions on our own database (``Runtime.session``): what the runner lends a connector for reading.
LocalSessions = Callable[[], AbstractContextManager[Session]]


class RecordError(Exception):
    """A vendor record we cannot take in. It becomes a quarantined Failure; the run goes on."""


class Connector(ABC):
    """A source: its streams, a page of records since a cursor, and the mapping into our model.

    Subclasses compose their HTTP client, error rules and rate limits; they do not inherit them."""

    kind: ClassVar[str]
    label: ClassVar[str]
    source: ClassVar[str]  # the source name records carry
    config_model: ClassVar[type[ConnectorConfig]]

    def __init__(self, config: ConnectorConfig, *, name: str) -> None:
        self.config = config
        self.name = name
        self.failure_budget = config.failure_budget()

    @abstractmethod
    def streams(self) -> Sequence[StreamSpec]: ...

    @abstractmethod
    def fetch_page(self, stream: StreamSpec, cursor: Mapping[str, Any] | None) -> Page:
        """The next page after ``cursor`` (None: the beginning), and the cursor after it."""

    @abstractmethod
    def map_record(self, stream: StreamSpec, record: Mapping[str, Any]) -> Mapping[str, Any]:
        """The vendor record in our model's shape; raises RecordError when it cannot be."""

    @abstractmethod
    def external_id(self, stream: StreamSpec, record: Mapping[str, Any]) -> str | None: ...

    @abstractmethod
    def check(self) -> str:
        """Verify credentials and reachability; one line saying what was verified."""

    def stage_mappings(self) -> list[StageMapping]:
        """How the vendor's deal stages become ours, for a CRM; empty for other kinds."""
        return []

    def transform(self, stream: StreamSpec, record: Mapping[str, Any]) -> Mapping[str, Any] | Failure:
        try:
            return self.map_record(stream, record)
        except RecordError as exc:
            return Failure(self.external_id(stream, record), str(exc), record)
        except UNEXPECTED_SHAPE as exc:  # a record shaped unlike the vendor's docs: still one record's problem
            return Failure(self.external_id(stream, record), f"unexpected {type(exc).__name__}: {exc}"[:500], record)

    # Our own database, lent by the runner (``attach_local``) for READING only: a stream that works from our
    # records (Apollo enriches our accounts) or compares a full pass with what is stored (Lattice deletes by
    # absence). Writes still go through the page the runner commits. None until attached.
    local: LocalSessions | None = None
    # Where a connector reads the time (the end of a pass, "due" checks); the runner hands in the runtime's.
    clock: Clock = SYSTEM_CLOCK

    def attach_local(self, sessions: LocalSessions) -> None:
        self.local = sessions

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
