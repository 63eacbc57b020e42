"""What a connector and the sync runner exchange.

The runner lives in core and core imports no connector, so the small types both sides use are defined
here; ``connectors.base`` re-exports them next to the abstract ``Connector`` that implements
``SyncSource`` (plus the HTTP client, error table and rate limiter every connector composes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from core.errors import ConfigError
from core.ingest import Failure

__all__ = [
    "Checkpoint",
    "Failure",
    "FailureBudget",
    "KindInfo",
    "Page",
    "StageMapping",
    "StreamSpec",
    "SyncSource",
]


@dataclass(frozen=True)
class StreamSpec:
    """One stream a connector provides: its name and the ingest entity its records become."""

    name: str
    entity: str  # a key of core.ingest.ENTITIES
    description: str = ""


class Checkpoint(BaseModel):
    """Where a stream is: each connector subclasses this with its own typed fields.

    Stored as JSON in ``sync_state.cursor`` only after the batch it covers has been committed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def load(cls, cursor: Mapping[str, Any] | None, *, stream: str) -> Self | None:
        if cursor is None:
            return None
        try:
            return cls.model_validate(cursor)
        except ValidationError:
            raise ConfigError(
                f"the saved cursor of stream {stream!r} is not one this connector understands; run the sync with --full"
            ) from None


@dataclass(frozen=True)
class Page:
    """One page of a stream: vendor records as received, what the vendor says is gone, and where to go next."""

    records: Sequence[Mapping[str, Any]]
    next_cursor: Checkpoint
    done: bool  # the stream has nothing more for this run
    deletes: Sequence[str] = ()  # external ids to delete
    remaining: int | None = None  # records left in this pass, these included, when the vendor says


@dataclass(frozen=True)
class FailureBudget:
    """A run fails only when quarantined records pass both the count and the ratio of records read."""

    max_count: int = 50
    max_ratio: float = 0.1

    def exceeded(self, *, quarantined: int, read: int) -> bool:
        return quarantined > self.max_count and quarantined > self.max_ratio * max(read, 1)


@dataclass(frozen=True)
class StageMapping:
    """How one of a vendor's deal stages becomes one of ours (``core.metrics.stages``), for people to check."""

    pipeline: str  # the vendor pipeline's label ("" for a stage_map entry no pipeline lists)
    stage_id: str  # the vendor's stage id
    label: str  # the vendor's stage label
    stage: str | None  # our stage; None: unmapped, its deals are quarantined
    source: str  # override (the connector's stage_map) | default (the vendor's default pipeline) | inferred | unmapped


class SyncSource(Protocol):
    """What the runner needs from a connector (``connectors.base.Connector`` implements it)."""

    source: str  # the source name its records carry, e.g. "hubspot"
    failure_budget: FailureBudget

    def streams(self) -> Sequence[StreamSpec]: ...

    def fetch_page(self, stream: StreamSpec, cursor: Mapping[str, Any] | None) -> Page: ...

    def transform(self, stream: StreamSpec, record: Mapping[str, Any]) -> Mapping[str, Any] | Failure:
        """The vendor record in our model's shape, or a Failure naming it."""

    def check(self) -> str:
        """Check credentials and reachability; returns one line saying what was verified."""

    def stage_mappings(self) -> list[StageMapping]:
        """How the vendor's deal stages become ours (a CRM); empty for other sources."""

    def close(self) -> None: ...


class KindInfo(Protocol):
    """A connector kind as the registry describes it (``connectors.registry.Kind``)."""

    kind: str
    label: str

    @property
    def available(self) -> bool: ...

    @property
    def config_model(self) -> type[BaseModel]: ...

    def build(self, config: BaseModel, *, name: str) -> SyncSource: ...
