"""The NetSuite connector: customers, invoices and customer payments through SuiteQL, one spec per stream and
one generic loop.

Incremental reading (netsuite.md 3.2, 4). A *pass* reads the rows whose ``lastmodifieddate`` is at or after
the watermark of the last complete pass (minus ``lookback_s``: a transaction saved with an earlier time
but committed later is still seen), ordered by ``lastmodifieddate, id``. Every page is a fresh query
re-anchored after the last row read (keyset: ``(lastmodifieddate, id) > (last read)``), with ``limit``
and ``hasMore`` from SuiteQL's paging: an offset over a live result would skip a row each time an
earlier one is modified mid-pass (it moves to the end), and no query nears the 100,000-row cap. The
watermark is NetSuite's own text (``TO_CHAR`` out, ``TO_TIMESTAMP`` back in), so the account's time zone
never enters the cursor. Rows modified within the look-back come again next pass (upserts, harmless);
with ``lookback_s=0`` the next pass starts right after the last row read, (lastmodifieddate, id) > (watermark).

Deletes (netsuite.md 4, 7): after the changes, the pass reads ``deletedrecord`` since the deletions
watermark - that log only grows, so it pages by ``offset`` (+ ``count`` while ``hasMore``) - and deletes
the stream's record type. Its type column is ``recordtypeid`` in some sources and ``type`` in others
(unconfirmed), so the query selects ``d.*`` and both are read. The first pass takes no deletions (nothing
was stored before it), only the log's current end. Voided transactions are a status, not a delete.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator

from connectors.base import Checkpoint, Connector, ConnectorConfig, Page, StreamSpec
from connectors.netsuite import mapping
from connectors.netsuite.client import PAGE_MAX, ROW_CAP, SuiteQLClient, default_base_url, realm, rows
from connectors.netsuite.mapping import TIME_FORMAT, MappingContext

IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")  # a column name we put into SQL
ACCOUNT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
TS = "'YYYY-MM-DD HH24:MI:SS'"  # TO_CHAR / TO_TIMESTAMP format of every time in a query or a cursor


class NetSuiteConfig(ConnectorConfig):
    base_url: str = ""  # empty: the account's own host, https://<account>.suitetalk.api.netsuite.com
    account_id: str  # 1234567, or 1234567_SB1 for a sandbox (the OAuth realm)
    consumer_key: SecretStr  # from the integration record
    consumer_secret: SecretStr
    token_id: SecretStr  # from the access token
    token_secret: SecretStr
    page_size: int = Field(PAGE_MAX, ge=1, le=PAGE_MAX)
    lookback_s: int = Field(300, ge=0, le=86_400)
    time_zone: str = "America/Los_Angeles"  # the integration user's time-zone preference; SuiteQL times are in it
    max_concurrency: int = Field(1, ge=1, le=50)  # requests in flight per account (netsuite.md 6)
    crm_source: str | None = None  # "hubspot" | "salesforce": the CRM whose account ids customers carry
    crm_link_column: str = "externalid"  # the customer column holding that id (or a custentity_ field)
    fallback_accounts: bool = True  # a customer with no CRM link becomes an account of source netsuite
    kind_column: str | None = None  # a transaction column whose text names the invoice kind (e.g. class)
    services_pattern: str = mapping.DEFAULT_SERVICES_PATTERN  # kind or memo text marking a services invoice
    default_currency: str = Field("USD", pattern=r"^[A-Z]{3}$")

    @model_validator(mode="before")
    @classmethod
    def _host_from_account(cls, values: Any) -> Any:
        if isinstance(values, dict) and not values.get("base_url") and values.get("account_id"):
            values = {**values, "base_url": default_base_url(str(values["account_id"]))}
        return values

    @field_validator("account_id")
    @classmethod
    def _check_account(cls, v: str) -> str:
        if not ACCOUNT_ID.fullmatch(v.strip()):
            raise ValueError("must be the NetSuite account id, e.g. 1234567 or 1234567_SB1")
        return v.strip()

    @field_validator("time_zone")
    @classmethod
    def _check_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not an IANA time zone (e.g. America/Los_Angeles)") from None
        return v

    @field_validator("crm_link_column", "kind_column")
    @classmethod
    def _check_column(cls, v: str | None) -> str | None:
        if v is not None and not IDENTIFIER.fullmatch(v):
            raise ValueError("must be a column name (letters, digits, underscores)")
        return v

    @field_validator("services_pattern")
    @classmethod
    def _check_pattern(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return v


class SuiteQLCheckpoint(Checkpoint):
    since: str | None = None  # newest lastmodified read by the complete passes (NetSuite's clock and format)
    since_id: int | None = None  # ... and the id of that row
    deleted_since: str | None = None  # newest deleteddate taken by the complete passes
    # the pass in progress
    in_pass: bool = False
    phase: Literal["changes", "deleted"] = "changes"
    start: str | None = None  # the pass reads lastmodified >= start (None: everything)
    after: str | None = None  # keyset: the last row read ...
    after_id: int | None = None  # ... and its id
    newest: str | None = None  # newest lastmodified read in this pass
    newest_id: int | None = None
    take_deletes: bool = True  # False on the first pass
    deleted_from: str | None = None  # the pass reads deletions with deleteddate >= deleted_from
    deleted_offset: int = 0
    newest_deleted: str | None = None


@dataclass(frozen=True)
class SuiteQLStream:
    spec: StreamSpec
    table: str  # the alias `t` of the FROM clause
    columns: Callable[[NetSuiteConfig], str]  # the SELECT list (plus the cursor columns added by the loop)
    joins: str
    where: str  # the stream's own filter
    mapper: Callable[[Mapping[str, Any], MappingContext], dict[str, Any]]
    deleted_types: frozenset[str]  # deletedrecord type values of this record type (normalised)

    def query(self, config: NetSuiteConfig, condition: str) -> str:
        where = " AND ".join(c for c in (self.where, condition) if c) or "1 = 1"
        return (
            f"SELECT {self.columns(config)}, TO_CHAR(t.lastmodifieddate, {TS}) AS lastmodified "
            f"FROM {self.table} t {self.joins} WHERE {where} ORDER BY t.lastmodifieddate, t.id"
        )


def _customer_columns(config: NetSuiteConfig) -> str:
    return (
        "t.id, t.entityid, t.companyname, t.isperson, t.firstname, t.lastname, t.email, t.url, t.isinactive, "
        f"t.{config.crm_link_column} AS crmlink, e.email AS salesrepemail, "
        f"TO_CHAR(t.datecreated, {TS}) AS created"
    )


def _transaction_common(config: NetSuiteConfig) -> str:
    return (
        "t.id, t.tranid, t.entity, t.voided, BUILTIN.DF(t.status) AS statusname, t.foreigntotal, "
        f"c.{config.crm_link_column} AS crmlink, cur.symbol AS currencycode, "
        f"TO_CHAR(t.trandate, 'YYYY-MM-DD') AS trandate, TO_CHAR(t.createddate, {TS}) AS created"
    )


def _invoice_columns(config: NetSuiteConfig) -> str:
    kind = f"BUILTIN.DF(t.{config.kind_column}) AS kindvalue, " if config.kind_column else ""
    return (
        f"{_transaction_common(config)}, {kind}t.memo, t.foreignamountunpaid, "
        "TO_CHAR(t.duedate, 'YYYY-MM-DD') AS duedate, TO_CHAR(ap.startdate, 'YYYY-MM-DD') AS periodstart, "
        # the date of the last customer payment applied to the invoice (its paid date when paid in full)
        "(SELECT TO_CHAR(MAX(p.trandate), 'YYYY-MM-DD') FROM PreviousTransactionLink ptl "
        "JOIN transaction p ON p.id = ptl.nextdoc WHERE ptl.previousdoc = t.id AND p.type = 'CustPymt') "
        "AS lastpaymentdate"
    )


def _payment_columns(config: NetSuiteConfig) -> str:
    return (
        f"{_transaction_common(config)}, "
        # the (first) invoice the payment was applied to
        "(SELECT MIN(ptl.previousdoc) FROM PreviousTransactionLink ptl JOIN transaction i ON i.id = ptl.previousdoc "
        "WHERE ptl.nextdoc = t.id AND i.type = 'CustInvc') AS invoiceid"
    )


_TRANSACTION_JOINS = "LEFT JOIN customer c ON c.id = t.entity LEFT JOIN currency cur ON cur.id = t.currency"

STREAMS: tuple[SuiteQLStream, ...] = (
    SuiteQLStream(
        StreamSpec(
            "customers", "accounts", "NetSuite customers with no CRM link (the rest link invoices to CRM accounts)"
        ),
        "customer",
        _customer_columns,
        "LEFT JOIN employee e ON e.id = t.salesrep",
        "",
        mapping.map_customer,
        frozenset({"customer"}),
    ),
    SuiteQLStream(
        StreamSpec("invoices", "invoices", "NetSuite invoices (CustInvc)"),
        "transaction",
        _invoice_columns,
        f"{_TRANSACTION_JOINS} LEFT JOIN accountingperiod ap ON ap.id = t.postingperiod",
        "t.type = 'CustInvc'",
        mapping.map_invoice,
        frozenset({"invoice", "custinvc"}),
    ),
    SuiteQLStream(
        StreamSpec("payments", "payments", "NetSuite customer payments (CustPymt), with the invoice they paid"),
        "transaction",
        _payment_columns,
        _TRANSACTION_JOINS,
        "t.type = 'CustPymt'",
        mapping.map_payment,
        frozenset({"customerpayment", "custpymt", "payment"}),
    ),
)
BY_STREAM: dict[str, SuiteQLStream] = {s.spec.name: s for s in STREAMS}


def _ts(value: str) -> str:
    """A cursor time as a SuiteQL literal; cursors are ours, but check the shape before it enters SQL."""
    datetime.strptime(value, TIME_FORMAT)
    return f"TO_TIMESTAMP('{value}', {TS})"


def _normal(value: Any) -> str:
    return re.sub(r"[\s_]", "", str(value or "")).lower()


class NetSuiteConnector(Connector):
    kind = "netsuite"
    label = "NetSuite"
    source = mapping.SOURCE
    config_model = NetSuiteConfig

    def __init__(self, config: NetSuiteConfig, *, name: str) -> None:
        super().__init__(config, name=name)
        self.config: NetSuiteConfig = config
        self.client = SuiteQLClient(
            config=config,
            account_id=config.account_id,
            consumer_key=config.consumer_key.get_secret_value(),
            consumer_secret=config.consumer_secret.get_secret_value(),
            token_id=config.token_id.get_secret_value(),
            token_secret=config.token_secret.get_secret_value(),
            max_concurrency=config.max_concurrency,
        )
        self.context = MappingContext(
            time_zone=ZoneInfo(config.time_zone),
            crm_source=config.crm_source,
            fallback_accounts=config.fallback_accounts,
            default_currency=config.default_currency,
            services_pattern=re.compile(config.services_pattern, re.IGNORECASE),
        )

    # ---- contract -----------------------------------------------------------------------------

    def streams(self) -> Sequence[StreamSpec]:
        return [s.spec for s in STREAMS]

    def fetch_page(self, stream: StreamSpec, cursor: Mapping[str, Any] | None) -> Page:
        obj = BY_STREAM[stream.name]
        cp = SuiteQLCheckpoint.load(cursor, stream=stream.name) or SuiteQLCheckpoint()
        if not cp.in_pass:
            cp = self._start_pass(cp)
        if cp.phase == "changes":
            return self._changes(obj, cp)
        return self._deleted(obj, cp)

    def map_record(self, stream: StreamSpec, record: Mapping[str, Any]) -> Mapping[str, Any]:
        return BY_STREAM[stream.name].mapper(record, self.context)

    def external_id(self, stream: StreamSpec, record: Mapping[str, Any]) -> str | None:
        return mapping.text(record.get("id"))

    def check(self) -> str:
        self.client.query("SELECT t.id FROM customer t", limit=1)
        return (
            f"NetSuite account {realm(self.config.account_id)} at {self.config.base_url} accepted the token; "
            "SuiteQL can read customers"
        )

    def close(self) -> None:
        self.client.close()

    # ---- steps --------------------------------------------------------------------------------

    def _start_pass(self, cp: SuiteQLCheckpoint) -> SuiteQLCheckpoint:
        first = cp.since is None
        deleted_from = self._deletions_end() if first else cp.deleted_since
        if deleted_from is not None and not first:
            deleted_from = self._minus_lookback(deleted_from)
        nxt = SuiteQLCheckpoint(
            since=cp.since,
            since_id=cp.since_id,
            deleted_since=deleted_from if first else cp.deleted_since,
            in_pass=True,
            take_deletes=not first,
            deleted_from=deleted_from,
        )
        if first:
            return nxt
        if self.config.lookback_s == 0 and cp.since_id is not None:  # no overlap: right after the last row read
            return nxt.model_copy(update={"after": cp.since, "after_id": cp.since_id})
        return nxt.model_copy(update={"start": self._minus_lookback(str(cp.since))})

    def _minus_lookback(self, value: str) -> str:
        return (datetime.strptime(value, TIME_FORMAT) - timedelta(seconds=self.config.lookback_s)).strftime(TIME_FORMAT)

    def _deletions_end(self) -> str | None:
        """Where the deletions log ends now: the first pass starts reading deletions from there."""
        data = self.client.query(f"SELECT TO_CHAR(MAX(d.deleteddate), {TS}) AS latest FROM deletedrecord d", limit=1)
        found = rows(data)
        return mapping.text(found[0].get("latest")) if found else None

    def _changes(self, obj: SuiteQLStream, cp: SuiteQLCheckpoint) -> Page:
        if cp.after is not None and cp.after_id is not None:
            cond = (
                f"(t.lastmodifieddate > {_ts(cp.after)} OR "
                f"(t.lastmodifieddate = {_ts(cp.after)} AND t.id > {int(cp.after_id)}))"
            )
        elif cp.start is not None:
            cond = f"t.lastmodifieddate >= {_ts(cp.start)}"
        else:
            cond = ""
        data = self.client.query(obj.query(self.config, cond), limit=self.config.page_size)
        found = rows(data)
        records, deletes = self._split(obj, found)
        last = found[-1] if found else None
        nxt = cp
        if last is not None and mapping.text(last.get("lastmodified")) and mapping.text(last.get("id")):
            stamp = str(mapping.text(last["lastmodified"])).replace("T", " ")[:19]
            key = (stamp, int(str(last["id"])))
            newest = max(key, (cp.newest, cp.newest_id or 0)) if cp.newest else key
            nxt = cp.model_copy(
                update={"after": key[0], "after_id": key[1], "newest": newest[0], "newest_id": newest[1]}
            )
        if not found or not data.get("hasMore"):
            nxt = nxt.model_copy(update={"phase": "deleted", "after": None, "after_id": None})
            if not nxt.take_deletes:
                return Page(records=records, deletes=deletes, next_cursor=self._finish(nxt), done=True)
        return Page(records=records, deletes=deletes, next_cursor=nxt, done=False, remaining=data.get("totalResults"))

    def _split(self, obj: SuiteQLStream, found: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
        """Customers linked to a CRM account are not accounts of ours: their fallback account (if one was made
        before the link existed) is deleted instead. Other streams take every row."""
        if obj.spec.name != "customers":
            return found, []
        ctx = self.context
        keep = [r for r in found if mapping.crm_link(r, ctx) is None and ctx.fallback_accounts]
        kept = {id(r) for r in keep}
        not_accounts = [str(r["id"]) for r in found if id(r) not in kept and r.get("id") is not None]
        return keep, not_accounts

    def _deleted(self, obj: SuiteQLStream, cp: SuiteQLCheckpoint) -> Page:
        cond = f"WHERE d.deleteddate >= {_ts(cp.deleted_from)} " if cp.deleted_from else ""
        q = (
            f"SELECT d.*, TO_CHAR(d.deleteddate, {TS}) AS deletedat FROM deletedrecord d {cond}"
            "ORDER BY d.deleteddate, d.recordid"
        )
        limit = self.config.page_size
        data = self.client.query(q, limit=limit, offset=cp.deleted_offset)
        found = rows(data)
        gone = [str(r["recordid"]) for r in found if r.get("recordid") is not None and self._of_type(obj, r)]
        stamps = [s for s in (mapping.text(r.get("deletedat")) for r in found) if s]
        newest = max([*stamps, *filter(None, [cp.newest_deleted])], default=None)
        if found and data.get("hasMore"):
            offset = cp.deleted_offset + int(data.get("count") or len(found))
            update: dict[str, Any] = {"deleted_offset": offset, "newest_deleted": newest}
            if offset + limit > ROW_CAP:  # re-anchor before the 100,000-row cap (re-reads the last second)
                update.update(deleted_from=newest, deleted_offset=0)
            return Page(records=[], deletes=gone, next_cursor=cp.model_copy(update=update), done=False)
        return Page(
            records=[],
            deletes=gone,
            next_cursor=self._finish(cp.model_copy(update={"newest_deleted": newest})),
            done=True,
        )

    @staticmethod
    def _of_type(obj: SuiteQLStream, row: Mapping[str, Any]) -> bool:
        if mapping.flag(row.get("iscustomrecord")):
            return False
        return any(_normal(row.get(col)) in obj.deleted_types for col in ("recordtypeid", "type", "recordtype"))

    @staticmethod
    def _finish(cp: SuiteQLCheckpoint) -> SuiteQLCheckpoint:
        since = (cp.newest, cp.newest_id) if cp.newest else (cp.since, cp.since_id)
        return SuiteQLCheckpoint(since=since[0], since_id=since[1], deleted_since=cp.newest_deleted or cp.deleted_since)
