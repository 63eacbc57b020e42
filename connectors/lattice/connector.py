"""The Lattice connector: users -> employees, goals -> goals, review cycles' reviews and feedback -> reviews.

Lattice has no change feed: no ``updatedSince`` filter, no webhooks, no delete feed (lattice.md 5, 7). So every
run is a *full pass*: each stream re-reads all its records (HR-sized) and upserts them (unchanged ones change
nothing), page by page, the cursor saving where the pass is (which part, which ``startingAfter``), so a crash
resumes mid-pass. Deletes are found by absence, and only at the END of a COMPLETE pass: the final page of a
pass deletes this source's records of the stream's entity that the pass did not write - every record the
pass read was upserted, which sets its ``ingested_at`` after the pass began - except those the pass
quarantined (they still exist in Lattice). A pass that fails or is cut short deletes nothing; resumed, it
goes on from its cursor and keeps its start time, so what it wrote before the interruption counts as seen.
Two guards: a margin before the pass start (``clock_margin_s``, for clocks of two hosts resuming one pass),
and no sweep at all when it would remove more than ``sweep_max_ratio`` of the stored records (a key that
suddenly sees less is likelier than a mass deletion; the log says so).

Parts of a pass: users by status (ACTIVE, then DEACTIVATED: deactivated people stay, with their status);
goals by state (Active, Ended; drafts and archived goals are not kept); one part per review cycle (the
cycle list is fixed when the pass starts), then feedback.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import structlog
from pydantic import Field, SecretStr
from sqlalchemy import func, select

from connectors.base import Checkpoint, Connector, ConnectorConfig, ConnectorError, Page, StreamSpec
from connectors.lattice import mapping
from connectors.lattice.client import DEFAULT_BASE_URL, PAGE_MAX, LatticeClient
from connectors.lattice.mapping import MappingContext
from core.db import models as m
from core.db.types import utcnow
from core.ingest import ENTITIES

log = structlog.get_logger(__name__)

USER_STATUSES = ("ACTIVE", "DEACTIVATED")
GOAL_STATES = ("Active", "Ended")
SWEEP_MIN_GUARDED = 3  # below this many absent records the ratio guard does not apply


class LatticeConfig(ConnectorConfig):
    base_url: str = DEFAULT_BASE_URL
    api_key: SecretStr  # sent as a bearer token
    page_size: int = Field(PAGE_MAX, ge=1, le=PAGE_MAX)
    requests_per_minute: int = Field(120, ge=1, le=6000)  # Lattice publishes no limit: a conservative default
    include_private_feedback: bool = False  # private feedback is between two people; keep it out unless asked
    clock_margin_s: float = Field(300.0, ge=0, le=86_400)
    sweep_max_ratio: float = Field(0.5, ge=0, le=1)


class PassCheckpoint(Checkpoint):
    started_at: datetime | None = None  # when the pass in progress began (None: no pass in progress)
    part: int = 0  # which part of the pass
    after: str | None = None  # startingAfter within the part
    cycles: list[tuple[str, str]] = Field(default_factory=list)  # reviews: (id, name) of the cycles of this pass
    sweep: bool = False  # every part read: the next page deletes what the pass did not see
    last_complete: datetime | None = None  # when the last complete pass began


@dataclass(frozen=True)
class Part:
    path: str
    params: Mapping[str, str]
    kind: Literal["user", "goal", "review", "feedback"]
    cycle: tuple[str, str] | None = None


@dataclass(frozen=True)
class LatticeStream:
    spec: StreamSpec
    model: type[m.Base]
    mapper: Callable[[Mapping[str, Any], MappingContext], dict[str, Any]]
    external_id: Callable[[Mapping[str, Any]], str]


STREAMS: tuple[LatticeStream, ...] = (
    LatticeStream(
        StreamSpec("users", "employees", "Lattice users (active and deactivated)"),
        m.Employee,
        mapping.map_user,
        lambda r: str(r.get("id")),
    ),
    LatticeStream(
        StreamSpec("goals", "goals", "Lattice goals (active and ended), with their first owner"),
        m.Goal,
        mapping.map_goal,
        lambda r: str(r.get("id")),
    ),
    LatticeStream(
        StreamSpec("reviews", "reviews", "Lattice review-cycle reviews and feedback"),
        m.Review,
        mapping.map_review_row,
        lambda r: mapping.feedback_id(r) if r.get("object") == "feedback" else mapping.review_id(r),
    ),
)
BY_STREAM: dict[str, LatticeStream] = {s.spec.name: s for s in STREAMS}


class LatticeConnector(Connector):
    kind = "lattice"
    label = "Lattice"
    source = mapping.SOURCE
    config_model = LatticeConfig

    def __init__(self, config: LatticeConfig, *, name: str) -> None:
        super().__init__(config, name=name)
        self.config: LatticeConfig = config
        self.client = LatticeClient(
            config=config,
            api_key=config.api_key.get_secret_value(),
            name=name,
            requests_per_minute=config.requests_per_minute,
        )
        self._emails: dict[str, str] = {}
        self._departments: dict[str, str] | None = None
        self._reviewees: dict[str, str] = {}
        self._cycles_loaded: set[str] = set()

    # ---- contract -----------------------------------------------------------------------------

    def streams(self) -> Sequence[StreamSpec]:
        return [s.spec for s in STREAMS]

    def fetch_page(self, stream: StreamSpec, cursor: Mapping[str, Any] | None) -> Page:
        obj = BY_STREAM[stream.name]
        cp = PassCheckpoint.load(cursor, stream=stream.name) or PassCheckpoint()
        if cp.started_at is None:
            cp = self._start_pass(obj, cp)
        if cp.sweep:
            return self._sweep(obj, cp)
        parts = self._parts(obj, cp)
        part = parts[cp.part]
        page = self.client.list_page(part.path, limit=self.config.page_size, after=cp.after, params=part.params)
        records = self._prepare(part, page.data)
        if page.next_after is not None:
            nxt = cp.model_copy(update={"after": page.next_after})
        elif cp.part + 1 < len(parts):
            nxt = cp.model_copy(update={"part": cp.part + 1, "after": None})
        else:
            nxt = cp.model_copy(update={"sweep": True, "after": None})
        return Page(records=records, next_cursor=nxt, done=False)

    def map_record(self, stream: StreamSpec, record: Mapping[str, Any]) -> Mapping[str, Any]:
        ctx = MappingContext(emails=self._emails, departments=self._departments or {}, reviewees=self._reviewees)
        return BY_STREAM[stream.name].mapper(record, ctx)

    def external_id(self, stream: StreamSpec, record: Mapping[str, Any]) -> str | None:
        if record.get("id") is None:
            return None
        try:
            return BY_STREAM[stream.name].external_id(record)
        except Exception:  # noqa: BLE001 - a malformed record still gets a name if it has an id
            return str(record.get("id"))

    def check(self) -> str:
        me = self.client.get("/me")
        who = mapping.text(me.get("email")) or mapping.text(me.get("name")) or "its user"
        return f"Lattice at {self.config.base_url} accepted the API key (of {who}); it can read users"

    def close(self) -> None:
        self.client.close()

    # ---- the pass -----------------------------------------------------------------------------

    def _start_pass(self, obj: LatticeStream, cp: PassCheckpoint) -> PassCheckpoint:
        cycles: list[tuple[str, str]] = []
        if obj.spec.name == "reviews":
            for c in self.client.list_all("/reviewCycles", limit=self.config.page_size):
                if mapping.text(c.get("id")):
                    cycles.append((str(c["id"]), mapping.text(c.get("name")) or str(c["id"])))
        return PassCheckpoint(started_at=utcnow(), cycles=cycles, last_complete=cp.last_complete)

    def _parts(self, obj: LatticeStream, cp: PassCheckpoint) -> list[Part]:
        if obj.spec.name == "users":
            return [Part("/users", {"status": s}, "user") for s in USER_STATUSES]
        if obj.spec.name == "goals":
            return [Part("/goals", {"state": s}, "goal") for s in GOAL_STATES]
        cycles = [Part(f"/reviewCycle/{cid}/reviews", {}, "review", (cid, name)) for cid, name in cp.cycles]
        return [*cycles, Part("/feedbacks", {}, "feedback")]

    def _prepare(self, part: Part, data: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Keep what the stream stores and resolve, before mapping, what its records reference."""
        if part.kind == "user":
            self._load_departments()
            self._emails.update({str(u["id"]): str(u["email"]) for u in data if u.get("id") and u.get("email")})
            self._resolve_users(mapping.ref_id(u.get("manager")) for u in data)
            return data
        if part.kind == "goal":
            # a state filter the API ignored must not let drafts or archived goals in
            kept = [g for g in data if g.get("state") in (None, *GOAL_STATES)]
            for goal in kept:
                self._expand_owners(goal)
            return kept
        if part.kind == "review":
            assert part.cycle is not None
            self._load_reviewees(part.cycle[0])
            kept = [
                r for r in data if r.get("declinedAt") is None and (r.get("response") or r.get("calibratedResponse"))
            ]
            for review in kept:
                review.setdefault("reviewCycle", {"id": part.cycle[0], "object": "reviewCycle", "name": part.cycle[1]})
            self._resolve_users(mapping.ref_id(r.get("reviewer")) for r in kept)
            return kept
        out = []
        for fb in data:
            if not self.config.include_private_feedback and not _is_public(fb):
                continue
            listed = fb.get("targets") if isinstance(fb.get("targets"), Mapping) else {}
            targets = [t for t in listed.get("data") or [] if mapping.ref_id(t)]
            if listed.get("hasMore"):  # paging a feedback's targets is not documented: the first page is kept
                log.warning("lattice.feedback_targets_truncated", connector=self.name, feedback=fb.get("id"))
            out += [{**fb, "target": t} for t in targets] or [fb]  # no target: quarantined by the mapping
        self._resolve_users(mapping.ref_id(fb.get("author")) for fb in out)
        return out

    def _sweep(self, obj: LatticeStream, cp: PassCheckpoint) -> Page:
        done = PassCheckpoint(last_complete=cp.started_at)
        return Page(records=[], deletes=self._absent(obj, cp), next_cursor=done, done=True)

    def _absent(self, obj: LatticeStream, cp: PassCheckpoint) -> list[str]:
        """This source's records of the stream's entity that the complete pass did not write."""
        if self.local is None or cp.started_at is None:
            log.warning("lattice.sweep_skipped", connector=self.name, stream=obj.spec.name, reason="no database")
            return []
        model = ENTITIES[obj.spec.entity].model
        cutoff = cp.started_at - timedelta(seconds=self.config.clock_margin_s)
        with self.local() as session:
            stale = session.scalars(
                select(model.external_id).where(model.source == self.source, model.ingested_at < cutoff)
            ).all()
            total = session.scalar(select(func.count()).select_from(model).where(model.source == self.source)) or 0
            quarantined = set(
                session.scalars(
                    select(m.QuarantinedRecord.external_id).where(
                        m.QuarantinedRecord.connector == self.name,
                        m.QuarantinedRecord.stream == obj.spec.name,
                        m.QuarantinedRecord.created_at >= cutoff,
                    )
                )
            )
        gone = [e for e in stale if e not in quarantined]
        if len(gone) >= SWEEP_MIN_GUARDED and len(gone) > self.config.sweep_max_ratio * total:
            log.warning(
                "lattice.sweep_refused",
                connector=self.name,
                stream=obj.spec.name,
                absent=len(gone),
                stored=total,
                max_ratio=self.config.sweep_max_ratio,
            )
            return []
        return gone

    # ---- what records reference ---------------------------------------------------------------

    def _load_departments(self) -> None:
        if self._departments is None:
            found = self.client.list_all("/departments", limit=self.config.page_size)
            self._departments = {str(d["id"]): str(d.get("name") or d["id"]) for d in found if d.get("id")}

    def _resolve_users(self, ids: Any) -> None:
        """Emails of users a page references that we have not seen: our own employees first, then Lattice."""
        missing = {i for i in ids if i and i not in self._emails}
        if missing and self.local is not None:
            with self.local() as session:
                self._emails.update(
                    session.execute(
                        select(m.Employee.external_id, m.Employee.email).where(
                            m.Employee.source == self.source, m.Employee.external_id.in_(sorted(missing))
                        )
                    )
                    .tuples()
                    .all()
                )
        for uid in sorted(missing - self._emails.keys()):
            try:
                user = self.client.get(f"/user/{uid}")
            except ConnectorError as exc:
                if exc.http_status != 404:
                    raise
                continue  # a user Lattice no longer has: the reference stays unresolved
            if user.get("email"):
                self._emails[uid] = str(user["email"])

    def _load_reviewees(self, cycle_id: str) -> None:
        if cycle_id in self._cycles_loaded:
            return
        for rv in self.client.list_all(f"/reviewCycle/{cycle_id}/reviewees", limit=self.config.page_size):
            user = mapping.ref_id(rv.get("user"))
            if rv.get("id") and user:
                self._reviewees[str(rv["id"])] = user
        self._cycles_loaded.add(cycle_id)

    def _expand_owners(self, goal: dict[str, Any]) -> None:
        """A goal's owners come as a list reference: read its first page (the first owner is the goal's)."""
        owners = goal.get("owners")
        if not isinstance(owners, Mapping) or owners.get("data") is not None or not owners.get("url"):
            return
        page = self.client.list_page(str(owners["url"]), limit=1)
        goal["owners"] = {**owners, "data": page.data}


def _is_public(feedback: Mapping[str, Any]) -> bool:
    if feedback.get("isPublic") is not None:
        return bool(feedback["isPublic"])
    return str(feedback.get("visibility") or "").lower() == "public"
