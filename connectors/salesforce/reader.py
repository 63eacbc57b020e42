"""Reading one Salesforce object incrementally: SOQL by SystemModstamp with queryMore paging, deletes
from ``queryAll`` and getDeleted. Shared by the Salesforce connector and the UserGems one (whose data
lives in the customer's org).

The cursor is the last row committed, ``(SystemModstamp, Id)``, as Salesforce sent it. A *pass* reads
every row after it, up to ``until`` (fixed when the pass starts, ``modstamp_lag_s`` in the past: a
transaction that commits late keeps the stamp of its DML, and must not land behind a cursor that has
already gone past it). One query per pass, through ``queryAll`` so rows in the Recycle Bin come back
with ``IsDeleted = true`` (salesforce.md 2.2, 3):

    SELECT <fields> FROM <Object>
    WHERE (SystemModstamp > :s OR (SystemModstamp = :s AND Id > :id)) AND SystemModstamp <= :until
    ORDER BY SystemModstamp ASC, Id ASC

Many rows share one stamp; ordering by the pair and comparing on the pair neither skips nor repeats a
row of a tie at the boundary, whether a page, a pass or a crash ends there. The query's pages are
followed through ``nextRecordsUrl``; a pass that has to start its query again (after a crash, or when
Salesforce let the locator expire) re-anchors on the cursor. A locator is only followed by the process
that received it: whether Salesforce serves one locator twice is not documented, and a query
re-anchored on the cursor is exact either way.

After the changes, the pass asks getDeleted (``sobjects/<X>/deleted/?start=&end=``) for rows deleted
since the previous pass: that catches deletes whatever the reading of "does a delete move
SystemModstamp" (the Recycle Bin rows of queryAll say it does; getDeleted is the documented replication
call and also covers rows already purged from the bin). Both feed ``Page.deletes``; deleting twice
changes nothing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import structlog

from connectors.base import Action, Checkpoint, ConnectorError, Kind, Page, StreamSpec
from connectors.base.mapping import as_utc
from connectors.salesforce.client import SalesforceClient, soql_string

log = structlog.get_logger(__name__)

# getDeleted: start must precede end by more than one minute, and only the last 15 days are kept
# (salesforce.md 5; the SOAP guide's getDeleted rules). Windows shorter than this are widened backwards
# (asking again for deletes already applied is harmless); older starts are clamped, with a warning.
DELETED_MIN_WINDOW = timedelta(minutes=2)
DELETED_MAX_AGE = timedelta(days=15) - timedelta(hours=1)


# a datetime as Salesforce writes it (salesforce.md 2): also a valid SOQL literal, used verbatim as the cursor
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})$")


def soql_time(at: datetime) -> str:
    """A SOQL datetime literal: unquoted, UTC, ``2024-01-01T00:00:00Z``."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(value: str) -> datetime:
    return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


@dataclass(frozen=True)
class ObjectStream:
    """One stream: a Salesforce object, the fields read, and the entity its records become."""

    spec: StreamSpec
    sobject: str
    fields: tuple[str, ...]  # selected; each must be visible to the integration user
    optional: tuple[str, ...] = ()  # selected when the org has them (edition, multi-currency, FLS)
    cursor_field: str = "SystemModstamp"
    where: str | None = None  # an extra SOQL condition

    def selected(self, describe: Mapping[str, Any]) -> list[str]:
        names = {f.get("name") for f in describe.get("fields") or []}
        relations = {f.get("relationshipName") for f in describe.get("fields") or [] if f.get("relationshipName")}

        def visible(name: str) -> bool:
            head, _, rest = name.partition(".")
            return head in relations if rest else name in names

        wanted = list(dict.fromkeys(("Id", "IsDeleted", self.cursor_field, *self.fields)))
        missing = [f for f in wanted if not visible(f)]
        if missing:
            raise ConnectorError(
                f"Salesforce shows the integration user no {self.sobject} field "
                f"{', '.join(missing)}; give its profile read access to {'it' if len(missing) == 1 else 'them'}",
                action=Action.FAIL,
                kind=Kind.CREDENTIALS,
            )
        return wanted + [f for f in self.optional if visible(f) and f not in wanted]


class SoqlCheckpoint(Checkpoint):
    after_stamp: str | None = None  # the last row committed: its SystemModstamp ... (None: from the beginning)
    after_id: str | None = None  # ... and its Id
    until: str | None = None  # the upper bound of the pass in progress; None between passes
    next_url: str | None = None  # nextRecordsUrl of the page after the last one committed
    phase: Literal["changes", "deleted"] = "changes"
    deleted_since: str | None = None  # where the next getDeleted starts (its latestDateCovered)


PageHook = Callable[[ObjectStream, list[dict[str, Any]]], None]


class SoqlReader:
    def __init__(self, client: SalesforceClient, *, lag_s: float, on_page: PageHook | None = None) -> None:
        self.client = client
        self.lag_s = lag_s
        self.on_page = on_page
        self._describes: dict[str, dict[str, Any]] = {}
        self._locators: set[str] = set()  # nextRecordsUrls received by this process
        self._offsets: dict[str, int] = {}  # rows read so far by the current query of each stream

    def describe(self, sobject: str) -> dict[str, Any]:
        if sobject not in self._describes:
            self._describes[sobject] = self.client.describe(sobject)
        return self._describes[sobject]

    def fetch_page(self, obj: ObjectStream, cursor: Mapping[str, Any] | None) -> Page:
        cp = SoqlCheckpoint.load(cursor, stream=obj.spec.name) or SoqlCheckpoint()
        if cp.until is None:
            cp = self._start_pass(cp)
        if cp.phase == "changes":
            return self._changes(obj, cp)
        return self._deleted(obj, cp)

    # ---- steps --------------------------------------------------------------------------------

    def _start_pass(self, cp: SoqlCheckpoint) -> SoqlCheckpoint:
        until = soql_time(datetime.fromtimestamp(time.time() - self.lag_s, tz=UTC))
        return cp.model_copy(update={"until": until, "next_url": None, "phase": "changes"})

    def soql(self, obj: ObjectStream, cp: SoqlCheckpoint) -> str:
        field, conds = obj.cursor_field, []
        if cp.after_stamp is not None and cp.after_id is not None:
            s = cp.after_stamp
            conds.append(f"({field} > {s} OR ({field} = {s} AND Id > {soql_string(cp.after_id)}))")
        if cp.until is not None:
            conds.append(f"{field} <= {cp.until}")
        if obj.where:
            conds.append(f"({obj.where})")
        fields = ", ".join(obj.selected(self.describe(obj.sobject)))
        where = f" WHERE {' AND '.join(conds)}" if conds else ""
        return f"SELECT {fields} FROM {obj.sobject}{where} ORDER BY {field} ASC, Id ASC"

    def _changes(self, obj: ObjectStream, cp: SoqlCheckpoint) -> Page:
        data = None
        if cp.next_url is not None and cp.next_url in self._locators:
            data = self.client.query_more(cp.next_url)
        if data is None:
            data = self.client.query(self.soql(obj, cp), include_deleted=True)
            self._offsets[obj.spec.name] = 0
        records: list[dict[str, Any]] = list(data.get("records") or [])
        offset = self._offsets.get(obj.spec.name, 0)
        self._offsets[obj.spec.name] = offset + len(records)
        remaining = data.get("totalSize") - offset if isinstance(data.get("totalSize"), int) else None

        live = [r for r in records if not r.get("IsDeleted")]
        gone = [str(r["Id"]) for r in records if r.get("IsDeleted") and r.get("Id")]
        if live and self.on_page is not None:
            self.on_page(obj, live)

        cp = cp.model_copy(update=self._position(obj, records))
        next_url = data.get("nextRecordsUrl")
        if data.get("done", True) or not next_url:
            if self._wants_deleted(obj):
                nxt = cp.model_copy(update={"phase": "deleted", "next_url": None})
                return Page(records=live, deletes=gone, next_cursor=nxt, done=False, remaining=remaining)
            return Page(
                records=live, deletes=gone, next_cursor=self._finished(cp, cp.until), done=True, remaining=remaining
            )
        self._locators.add(str(next_url))
        nxt = cp.model_copy(update={"next_url": str(next_url)})
        return Page(records=live, deletes=gone, next_cursor=nxt, done=False, remaining=remaining)

    @staticmethod
    def _position(obj: ObjectStream, records: list[dict[str, Any]]) -> dict[str, Any]:
        """The cursor after a page: its last row's stamp (verbatim, a valid SOQL literal) and Id."""
        if not records:
            return {}
        last = records[-1]
        stamp, oid = str(last.get(obj.cursor_field) or ""), str(last.get("Id") or "")
        if not STAMP.match(stamp) or not oid:
            raise ConnectorError(
                f"Salesforce sent a {obj.sobject} row without a readable {obj.cursor_field} or Id "
                f"({stamp[:40]!r}); the cursor cannot move past it",
                action=Action.FAIL,
                kind=Kind.VENDOR,
            )
        return {"after_stamp": stamp, "after_id": oid}

    def _wants_deleted(self, obj: ObjectStream) -> bool:
        # getDeleted serves replicateable objects only (the describe says which)
        return bool(self.describe(obj.sobject).get("replicateable", True))

    def _deleted(self, obj: ObjectStream, cp: SoqlCheckpoint) -> Page:
        assert cp.until is not None
        end = parse_stamp(cp.until)
        if cp.deleted_since is None:
            # the first pass read every row there is: deletes matter from its end on
            return Page(records=[], next_cursor=self._finished(cp, cp.until), done=True)
        start = min(parse_stamp(cp.deleted_since), end - DELETED_MIN_WINDOW)
        oldest = datetime.now(UTC) - DELETED_MAX_AGE
        if start < oldest:
            log.warning(
                "salesforce.deletes_window_clamped",
                sobject=obj.sobject,
                start=soql_time(start),
                kept_from=soql_time(oldest),
            )
            start = oldest
            if end - start < DELETED_MIN_WINDOW:
                end = start + DELETED_MIN_WINDOW
        data = self.client.deleted(obj.sobject, start, end)
        gone = [str(d["id"]) for d in data.get("deletedRecords") or [] if d.get("id")]
        earliest = data.get("earliestDateAvailable")
        if earliest and parse_stamp(earliest) > start:
            log.warning(
                "salesforce.delete_log_purged", sobject=obj.sobject, earliest=earliest, asked_from=soql_time(start)
            )
        covered = data.get("latestDateCovered")
        resume = min(parse_stamp(covered), parse_stamp(cp.until)) if covered else parse_stamp(cp.until)
        return Page(records=[], deletes=gone, next_cursor=self._finished(cp, soql_time(resume)), done=True)

    @staticmethod
    def _finished(cp: SoqlCheckpoint, deleted_since: str | None) -> SoqlCheckpoint:
        return SoqlCheckpoint(after_stamp=cp.after_stamp, after_id=cp.after_id, deleted_since=deleted_since)
