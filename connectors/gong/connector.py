"""The Gong connector: calls (with parties and CRM context) and their transcripts, read by call start time.

Incremental reading (gong.md 3). Calls have no last-modified field; the only server-side filter is the call
start (for web conferences: scheduled) time window ``[from, to)``. A *pass* reads the window from the end of
the previous pass, minus a look-back (calls appear only after Gong processed them, and their content keeps
changing for a while; Airbyte looks back one day), up to ``until``, fixed when the pass starts. The window is
cut into slices of ``slice_days``; each slice is paged with Gong's ``records.cursor``.

Gong's cursor embeds an expiry and must not be stored as sync state (gong.md 3), so the checkpoint stores
where the slice starts and how many of its pages were committed; the cursor itself lives in memory. A run
that resumes in another process restarts the slice it was in: those calls are upserted again, which changes
nothing. Each page of calls is completed with the transcripts of its calls (``filter.callIds``).

Deletes: Gong has no delete feed or tombstones (gong.md 5); a deleted call just stops being listed. Each pass
remembers the calls it saw inside its look-back zone (the part of its window the next pass reads again); a
call remembered but not listed again by the next pass is deleted. Only calls whose scheduled and start times
both lie in that zone are remembered, so whichever of the two Gong filters on, the next pass must list them.
Calls deleted after they left the look-back zone stay (a full re-read does not diff either).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Self

import structlog
from pydantic import Field, SecretStr, model_validator

from connectors.base import Checkpoint, Connector, ConnectorConfig, ConnectorError, Kind, Page, StreamSpec
from connectors.gong import mapping
from connectors.gong.client import DEFAULT_BASE_URL, GongClient, next_cursor

log = structlog.get_logger(__name__)

# Gong launched in 2015: a first pass from here reads everything, slice by slice.
DEFAULT_START = date(2015, 1, 1)
EMPTY_SLICES_PER_PAGE = 24  # empty slices skipped in one page before progress is committed anyway
CALLS = StreamSpec("calls", "calls", "Gong calls with participants, CRM links and transcripts")


class GongConfig(ConnectorConfig):
    base_url: str = DEFAULT_BASE_URL
    # an access key and its secret (Gong's API page; HTTP Basic), or an OAuth access token (Bearer)
    access_key: SecretStr | None = None
    access_key_secret: SecretStr | None = None
    token: SecretStr | None = None
    workspace_id: str | None = Field(None, pattern=r"^\d{1,20}$")
    start_date: date = DEFAULT_START
    slice_days: int = Field(30, ge=1, le=366)
    lookback_hours: float = Field(24.0, ge=0, le=24 * 30)
    requests_per_s: int = Field(3, ge=1, le=1000)  # Gong's default: 3 calls per second per company
    requests_per_day: int = Field(10_000, ge=1, le=10_000_000)  # and 10,000 per day (gong.md 4)
    crm_context: bool = True  # ask for CRM context: links calls to accounts and deals

    @model_validator(mode="after")
    def _one_way_to_sign_in(self) -> Self:
        key = self.access_key is not None or self.access_key_secret is not None
        if self.token is not None and key:
            raise ValueError("give either token or access_key + access_key_secret, not both")
        if self.token is None and (self.access_key is None or self.access_key_secret is None):
            raise ValueError("give access_key and access_key_secret (Gong's API page), or token (OAuth)")
        return self


class CallsCheckpoint(Checkpoint):
    since: datetime | None = None  # end of the last finished pass; the next starts there, minus the look-back
    until: datetime | None = None  # end (exclusive) of the pass in progress; None: no pass in progress
    slice_from: datetime | None = None  # start of the slice in progress
    page: int = 0  # pages of that slice committed (the in-memory Gong cursor continues from there)
    recent: list[str] = Field(default_factory=list)  # calls the last pass saw in its look-back zone
    seen: list[str] = Field(default_factory=list)  # of those, the calls this pass listed again
    zone: list[str] = Field(default_factory=list)  # calls this pass saw in its own look-back zone


class GongConnector(Connector):
    kind = "gong"
    label = "Gong"
    source = mapping.SOURCE
    config_model = GongConfig

    def __init__(self, config: GongConfig, *, name: str) -> None:
        super().__init__(config, name=name)
        self.config: GongConfig = config
        self.client = GongClient(
            config=config,
            name=name,
            access_key=_reveal(config.access_key),
            access_key_secret=_reveal(config.access_key_secret),
            token=_reveal(config.token),
            requests_per_s=config.requests_per_s,
            requests_per_day=config.requests_per_day,
        )
        self._users: dict[str, str] | None = None
        self._cursor: tuple[tuple[datetime, int], str] | None = None  # (slice start, page) -> Gong's cursor

    # ---- contract -----------------------------------------------------------------------------

    def streams(self) -> Sequence[StreamSpec]:
        return [CALLS]

    def fetch_page(self, stream: StreamSpec, cursor: Mapping[str, Any] | None) -> Page:
        cp = CallsCheckpoint.load(cursor, stream=stream.name) or CallsCheckpoint()
        if cp.until is None:
            cp = self._start_pass(cp)
        self._load_users()
        for _ in range(EMPTY_SLICES_PER_PAGE):
            assert cp.slice_from is not None and cp.until is not None
            if cp.slice_from >= cp.until:
                return self._end_pass(cp, [])
            slice_to = min(cp.slice_from + timedelta(days=self.config.slice_days), cp.until)
            gong_cursor = self._cursor_for(cp)
            if gong_cursor is None and cp.page:
                cp = cp.model_copy(update={"page": 0})  # resumed elsewhere: read the slice again (upserts)
            data = self.client.calls_page(self._body(cp.slice_from, slice_to), gong_cursor)
            calls = [c for c in data.get("calls") or [] if isinstance(c, dict)]
            self._add_transcripts(calls)
            cp = self._note(cp, calls)
            more = next_cursor(data)
            if more:
                self._cursor = ((cp.slice_from, cp.page + 1), more)
                return Page(records=calls, next_cursor=cp.model_copy(update={"page": cp.page + 1}), done=False)
            self._cursor = None
            if slice_to >= cp.until:
                return self._end_pass(cp, calls)
            cp = cp.model_copy(update={"slice_from": slice_to, "page": 0})
            if calls:
                return Page(records=calls, next_cursor=cp, done=False)
        return Page(records=[], next_cursor=cp, done=False)  # a long run of empty slices: commit the progress

    def map_record(self, stream: StreamSpec, record: Mapping[str, Any]) -> Mapping[str, Any]:
        return mapping.map_call(record, mapping.MappingContext(users=self._users or {}))

    def external_id(self, stream: StreamSpec, record: Mapping[str, Any]) -> str | None:
        return mapping.call_id(record)

    def check(self) -> str:
        users = self.client.users()
        now = self.clock.now().replace(microsecond=0)
        self.client.list_calls(from_iso=_iso(now - timedelta(days=1)), to_iso=_iso(now))
        how = "token" if self.config.token is not None else "access key"
        return f"Gong at {self.config.base_url} accepted the {how}; it can read calls and {len(users)} users"

    def close(self) -> None:
        self.client.close()

    # ---- steps --------------------------------------------------------------------------------

    def _start_pass(self, cp: CallsCheckpoint) -> CallsCheckpoint:
        until = self.clock.now().replace(microsecond=0)
        if cp.since is not None:
            start = cp.since - timedelta(hours=self.config.lookback_hours)
        else:
            start = datetime.combine(self.config.start_date, time(0), tzinfo=UTC)
        return CallsCheckpoint(since=cp.since, until=until, slice_from=min(start, until), recent=cp.recent)

    def _end_pass(self, cp: CallsCheckpoint, calls: list[dict[str, Any]]) -> Page:
        gone = sorted(set(cp.recent) - set(cp.seen))
        nxt = CallsCheckpoint(since=cp.until, recent=sorted(set(cp.zone)))
        return Page(records=calls, next_cursor=nxt, deletes=gone, done=True)

    def _body(self, start: datetime, end: datetime) -> dict[str, Any]:
        window: dict[str, Any] = {"fromDateTime": _iso(start), "toDateTime": _iso(end)}
        if self.config.workspace_id:
            window["workspaceId"] = self.config.workspace_id
        return {
            "filter": window,
            "contentSelector": {
                "context": "Basic" if self.config.crm_context else "None",
                "contextTiming": ["Now"],
                "exposedFields": {"parties": True, "interaction": {"speakers": True}},
            },
        }

    def _cursor_for(self, cp: CallsCheckpoint) -> str | None:
        if cp.page == 0 or self._cursor is None or cp.slice_from is None:
            return None
        key, value = self._cursor
        return value if key == (cp.slice_from, cp.page) else None

    def _add_transcripts(self, calls: list[dict[str, Any]]) -> None:
        ids = [i for i in map(mapping.call_id, calls) if i]
        if not ids:
            return
        found = self.client.transcripts(ids)
        for call in calls:
            cid = mapping.call_id(call)
            if cid in found:
                call["transcript"] = found[cid]

    def _note(self, cp: CallsCheckpoint, calls: list[dict[str, Any]]) -> CallsCheckpoint:
        """Remember, for deletes, which remembered calls were listed again and which fall in this pass's zone."""
        assert cp.until is not None
        recent = set(cp.recent)
        seen, zone = set(cp.seen), set(cp.zone)
        zone_start = cp.until - timedelta(hours=self.config.lookback_hours)
        for call in calls:
            meta = call.get("metaData")
            cid = mapping.call_id(call)
            if cid is None or not isinstance(meta, Mapping):
                continue
            if cid in recent:
                seen.add(cid)
            if self.config.lookback_hours and _inside(meta, zone_start, cp.until):
                zone.add(cid)
        return cp.model_copy(update={"seen": sorted(seen), "zone": sorted(zone)})

    def _load_users(self) -> None:
        if self._users is not None:
            return
        try:
            self._users = self.client.users()
        except ConnectorError as exc:
            if exc.kind is not Kind.CREDENTIALS or exc.http_status != 403:
                raise
            # users need the api:users:read scope; without it owners come from the calls' parties
            log.warning("gong.users_unavailable", connector=self.name, error=exc.message)
            self._users = {}


def _inside(meta: Mapping[str, Any], start: datetime, end: datetime) -> bool:
    """Both the scheduled time (when there is one) and the start time lie in ``[start, end)``."""
    try:
        times = [mapping.parse_time(meta.get("started"), "started")]
        scheduled = mapping.optional_time(meta.get("scheduled"), "scheduled")
    except Exception:  # noqa: BLE001 - a malformed call is quarantined by the mapping, never remembered
        return False
    if scheduled is not None:
        times.append(scheduled)
    return all(start <= t < end for t in times)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _reveal(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None
