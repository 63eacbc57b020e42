"""A local Salesforce org speaking the REST API's documented shapes (../shared/reference/salesforce.md), on
127.0.0.1 over plain HTTP.

Real HTTP/1.1 with keep-alive and Bearer auth; SOQL parsed and evaluated (SELECT with parent fields,
WHERE with AND/OR/NOT/parentheses, comparisons and IN, typed literals — a quoted datetime is refused as
Salesforce refuses it — ORDER BY, LIMIT), ``query`` and ``queryAll`` (Recycle Bin rows with
``IsDeleted = true``), pages of at most ``batch`` rows (and the ``Sforce-Query-Options: batchSize``
asked for, 200..2000) followed through ``nextRecordsUrl`` locators that can be expired
(``INVALID_QUERY_LOCATOR``), ``sobjects/X/describe``, getDeleted with its window rules, the OAuth
refresh-token endpoint, ``Sforce-Limit-Info`` on every response, and errors as JSON arrays of
``{"message", "errorCode"}``. Faults are injected at the wire: a status with Salesforce's body, a
dropped connection or a hang, after N matching requests, once or forever.
"""

from __future__ import annotations

import random
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import parse_qs

from core.db.models import JobChange
from tests.contract import sync_helpers
from tests.contract.fake_server import Reply, WireFake
from tests.contract.fake_server import Seen as WireSeen

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
VERSIONS = ["57.0", "58.0", "59.0", "60.0", "61.0", "62.0"]
BATCH_MIN, BATCH_MAX = 200, 2000
GET_DELETED_MAX_AGE = timedelta(days=30)  # what the fake refuses; the docs promise 15 days of results
KEY_PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "Opportunity": "006",
    "Task": "00T",
    "Event": "00U",
    "User": "005",
    "OpportunityHistory": "008",
    "OpportunityStage": "01J",
}

# ---- the schema: object -> field -> type; references -> (relationshipName, target object) --------

STANDARD = {
    "Id": "id",
    "IsDeleted": "boolean",
    "CreatedDate": "datetime",
    "LastModifiedDate": "datetime",
    "SystemModstamp": "datetime",
}


def _schema() -> dict[str, dict[str, str]]:
    return {
        "User": {**STANDARD, "Name": "string", "Email": "string", "IsActive": "boolean"},
        "Account": {
            **STANDARD,
            "Name": "string",
            "Type": "picklist",
            "Website": "url",
            "Phone": "phone",
            "BillingCity": "string",
            "BillingState": "string",
            "Industry": "picklist",
            "NumberOfEmployees": "int",
            "OwnerId": "reference",
        },
        "Contact": {
            **STANDARD,
            "AccountId": "reference",
            "FirstName": "string",
            "LastName": "string",
            "Name": "string",
            "Email": "email",
            "Phone": "phone",
            "MobilePhone": "phone",
            "Title": "string",
            "OwnerId": "reference",
        },
        "Opportunity": {
            **STANDARD,
            "AccountId": "reference",
            "Name": "string",
            "StageName": "picklist",
            "Amount": "currency",
            "Probability": "percent",
            "CloseDate": "date",
            "Type": "picklist",
            "IsClosed": "boolean",
            "IsWon": "boolean",
            "OwnerId": "reference",
        },
        "OpportunityHistory": {
            "Id": "id",
            "IsDeleted": "boolean",
            "CreatedDate": "datetime",
            "SystemModstamp": "datetime",
            "OpportunityId": "reference",
            "StageName": "picklist",
            "Amount": "currency",
            "CloseDate": "date",
            "Probability": "percent",
        },
        "OpportunityStage": {
            **STANDARD,
            "MasterLabel": "string",
            "IsActive": "boolean",
            "IsClosed": "boolean",
            "IsWon": "boolean",
            "SortOrder": "int",
            "DefaultProbability": "percent",
        },
        "Task": {
            **STANDARD,
            "WhoId": "reference",
            "WhatId": "reference",
            "AccountId": "reference",
            "Subject": "string",
            "Status": "picklist",
            "Priority": "picklist",
            "ActivityDate": "date",
            "Description": "textarea",
            "Type": "picklist",
            "TaskSubtype": "picklist",
            "IsClosed": "boolean",
            "IsArchived": "boolean",
            "OwnerId": "reference",
        },
        "Event": {
            **STANDARD,
            "WhoId": "reference",
            "WhatId": "reference",
            "AccountId": "reference",
            "Subject": "string",
            "StartDateTime": "datetime",
            "EndDateTime": "datetime",
            "ActivityDateTime": "datetime",
            "ActivityDate": "date",
            "DurationInMinutes": "int",
            "Description": "textarea",
            "Type": "picklist",
            "IsArchived": "boolean",
            "OwnerId": "reference",
        },
    }


def _references() -> dict[str, dict[str, tuple[str, str]]]:
    return {
        "Account": {"OwnerId": ("Owner", "User")},
        "Contact": {"AccountId": ("Account", "Account"), "OwnerId": ("Owner", "User")},
        "Opportunity": {"AccountId": ("Account", "Account"), "OwnerId": ("Owner", "User")},
        "OpportunityHistory": {"OpportunityId": ("Opportunity", "Opportunity")},
        "Task": {
            "AccountId": ("Account", "Account"),
            "OwnerId": ("Owner", "User"),
            "WhoId": ("Who", "Contact"),
            "WhatId": ("What", "Opportunity"),
        },
        "Event": {
            "AccountId": ("Account", "Account"),
            "OwnerId": ("Owner", "User"),
            "WhoId": ("Who", "Contact"),
            "WhatId": ("What", "Opportunity"),
        },
    }


def sf_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


# ---- errors ---------------------------------------------------------------------------------------


class SfError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> list[dict[str, Any]]:
        return [{"message": self.message, "errorCode": self.code}]


def errors(code: str, message: str) -> list[dict[str, Any]]:
    return [{"message": message, "errorCode": code}]


SESSION_EXPIRED = errors("INVALID_SESSION_ID", "Session expired or invalid")
TOTAL_REQUESTS = errors("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
CONCURRENT = errors("REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.")


def _fault_body(status: int) -> Any:
    return {
        401: SESSION_EXPIRED,
        403: TOTAL_REQUESTS,
        429: errors("REQUEST_LIMIT_EXCEEDED", "Too many requests."),
        503: errors("SERVER_UNAVAILABLE", "Server temporarily unavailable."),
    }.get(status, errors("UNKNOWN_EXCEPTION", f"An unexpected error occurred ({status})."))


# ---- SOQL -------------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))"
    r"|(?P<date>\d{4}-\d{2}-\d{2})(?![\d:T])"
    r"|(?P<number>-?\d+(?:\.\d+)?)"
    r"|(?P<string>'(?:\\.|[^'\\])*')"
    r"|(?P<op><=|>=|!=|<>|=|<|>)"
    r"|(?P<punct>[(),])"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_.]*)"
    r")"
)
KEYWORDS = {
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IN",
    "ORDER",
    "BY",
    "ASC",
    "DESC",
    "LIMIT",
    "NULLS",
    "FIRST",
    "LAST",
    "TRUE",
    "FALSE",
    "NULL",
    "LIKE",
}


def _tokens(soql: str) -> list[tuple[str, Any]]:
    out, pos = [], 0
    soql = soql.strip()
    while pos < len(soql):
        m = _TOKEN.match(soql, pos)
        if not m or m.end() == pos:
            raise SfError(400, "MALFORMED_QUERY", f"unexpected token at: {soql[pos : pos + 20]!r}")
        pos = m.end()
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "datetime":
            out.append(("lit", ("datetime", datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC))))
        elif kind == "date":
            out.append(("lit", ("date", date.fromisoformat(value))))
        elif kind == "number":
            out.append(("lit", ("number", float(value))))
        elif kind == "string":
            out.append(
                ("lit", ("string", re.sub(r"\\(.)", lambda g: {"n": "\n", "r": "\r"}.get(g[1], g[1]), value[1:-1])))
            )
        elif kind == "ident" and value.upper() in ("TRUE", "FALSE"):
            out.append(("lit", ("bool", value.upper() == "TRUE")))
        elif kind == "ident" and value.upper() == "NULL":
            out.append(("lit", ("null", None)))
        elif kind == "ident" and value.upper() in KEYWORDS:
            out.append(("kw", value.upper()))
        else:
            out.append((kind, value))
    return out


@dataclass
class Query:
    fields: list[str]
    sobject: str
    where: Any
    order: list[tuple[str, bool]]
    limit: int | None


class _Parser:
    def __init__(self, soql: str) -> None:
        self.toks = _tokens(soql)
        self.i = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, kind: str, value: Any = None) -> Any:
        tok = self.peek()
        if tok is None or tok[0] != kind or (value is not None and tok[1] != value):
            raise SfError(400, "MALFORMED_QUERY", f"expected {value or kind}, found {tok[1] if tok else 'end'}")
        self.i += 1
        return tok[1]

    def maybe(self, kind: str, value: Any = None) -> bool:
        tok = self.peek()
        if tok is not None and tok[0] == kind and (value is None or tok[1] == value):
            self.i += 1
            return True
        return False

    def parse(self) -> Query:
        self.take("kw", "SELECT")
        fields = [self.take("ident")]
        while self.maybe("punct", ","):
            fields.append(self.take("ident"))
        self.take("kw", "FROM")
        sobject = self.take("ident")
        where = self.expr() if self.maybe("kw", "WHERE") else None
        order: list[tuple[str, bool]] = []
        if self.maybe("kw", "ORDER"):
            self.take("kw", "BY")
            while True:
                name = self.take("ident")
                desc = self.maybe("kw", "DESC")
                if not desc:
                    self.maybe("kw", "ASC")
                order.append((name, desc))
                if not self.maybe("punct", ","):
                    break
        limit = int(self.take("lit")[1]) if self.maybe("kw", "LIMIT") else None
        if self.peek() is not None:
            raise SfError(400, "MALFORMED_QUERY", f"unexpected token: {self.peek()[1]}")
        return Query(fields, sobject, where, order, limit)

    def expr(self) -> Any:
        node = self.conj()
        while self.maybe("kw", "OR"):
            node = ("or", node, self.conj())
        return node

    def conj(self) -> Any:
        node = self.unary()
        while self.maybe("kw", "AND"):
            node = ("and", node, self.unary())
        return node

    def unary(self) -> Any:
        if self.maybe("kw", "NOT"):
            return ("not", self.unary())
        if self.maybe("punct", "("):
            node = self.expr()
            self.take("punct", ")")
            return node
        name = self.take("ident")
        negate = self.maybe("kw", "NOT")
        if self.maybe("kw", "IN"):
            self.take("punct", "(")
            values = [self.take("lit")]
            while self.maybe("punct", ","):
                values.append(self.take("lit"))
            self.take("punct", ")")
            return ("in", name, values, negate)
        if negate:
            raise SfError(400, "MALFORMED_QUERY", "NOT must be followed by IN here")
        if self.maybe("kw", "LIKE"):
            return ("like", name, self.take("lit"))
        op = self.take("op")
        return ("cmp", name, "!=" if op == "<>" else op, self.take("lit"))


LITERAL_FOR = {
    "datetime": "datetime",
    "date": "date",
    "boolean": "bool",
    "int": "number",
    "double": "number",
    "currency": "number",
    "percent": "number",
}
TYPE_NAMES = {"datetime": "dateTime", "date": "date", "bool": "boolean", "number": "number", "string": "string"}


# ---- the org ------------------------------------------------------------------------------------------


@dataclass
class Seen(WireSeen):
    body: str  # the raw text

    @property
    def soql(self) -> str | None:
        return (self.query.get("q") or [None])[0]


class FakeSalesforce(WireFake):
    content_type = "application/json;charset=UTF-8"
    keep_blank_values = False
    seen_type = Seen

    def __init__(
        self,
        *,
        token: str = "00DRO0000000fake!AQ0AQ-fake-access-token-0123456789",
        batch: int = BATCH_MAX,
        multi_currency: bool = False,
    ) -> None:
        super().__init__()
        self.token = token
        self.batch = batch
        self.schema = _schema()
        self.refs = _references()
        if multi_currency:
            self.schema["Opportunity"]["CurrencyIsoCode"] = "picklist"
        self.hidden: dict[str, set[str]] = {}  # fields the integration user cannot see (field-level security)
        self.not_replicateable: set[str] = {"OpportunityHistory", "OpportunityStage"}
        self.rows: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in self.schema}
        self.deleted_log: list[tuple[str, str, datetime]] = []
        self.locators: dict[str, tuple[list[dict[str, Any]], str]] = {}
        self.api_used = 0
        self.api_allocation = 100_000
        self.refresh_token: str | None = None
        self.client_id: str | None = None
        self._counter = 0

    # ---- data ---------------------------------------------------------------------------------------

    def define(
        self,
        sobject: str,
        fields: dict[str, str],
        refs: dict[str, tuple[str, str]] | None = None,
        *,
        key_prefix: str = "a0X",
    ) -> None:
        """Add a custom object (e.g. a managed package's)."""
        self.schema[sobject] = {**STANDARD, **fields}
        self.refs[sobject] = dict(refs or {})
        self.rows.setdefault(sobject, {})
        KEY_PREFIXES[sobject] = key_prefix

    def new_id(self, sobject: str) -> str:
        self._counter += 1
        return f"{KEY_PREFIXES.get(sobject, 'a00')}RO{self._counter:013d}"[:18]

    def add(self, sobject: str, values: dict[str, Any], *, at: datetime | None = None) -> str:
        with self._lock:
            at = _second(at or EPOCH)
            oid = values.get("Id") or self.new_id(sobject)
            row = {f: None for f in self.schema[sobject]}
            row.update(values)
            row.update(Id=oid, IsDeleted=False)
            for stamp in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
                if stamp in self.schema[sobject]:
                    row[stamp] = values.get(stamp, at)
            if "Name" in self.schema[sobject] and sobject == "Contact":
                row["Name"] = " ".join(p for p in (row.get("FirstName"), row.get("LastName")) if p)
            self.rows[sobject][oid] = row
            if sobject == "Opportunity" and not values.get("_no_history"):
                self._history(row, at)
            row.pop("_no_history", None)
            return oid

    def _history(self, opp: dict[str, Any], at: datetime) -> None:
        self.add(
            "OpportunityHistory",
            {
                "OpportunityId": opp["Id"],
                "StageName": opp["StageName"],
                "Amount": opp.get("Amount"),
                "CloseDate": opp.get("CloseDate"),
                "CreatedDate": at,
                "SystemModstamp": at,
            },
            at=at,
        )

    def update(self, sobject: str, oid: str, values: dict[str, Any], *, at: datetime | None = None) -> None:
        with self._lock:
            at = _second(at or datetime.now(UTC))
            row = self.rows[sobject][oid]
            row.update(values)
            row["LastModifiedDate"] = row["SystemModstamp"] = at
            if sobject == "Opportunity" and {"StageName", "Amount", "CloseDate"} & values.keys():
                self._history(row, at)

    def delete(self, sobject: str, oid: str, *, at: datetime | None = None, purge: bool = False) -> None:
        """To the Recycle Bin (``IsDeleted``, stamp moved), or gone for good with ``purge``."""
        with self._lock:
            at = _second(at or datetime.now(UTC))
            self.deleted_log.append((sobject, oid, at))
            if purge:
                self.rows[sobject].pop(oid)
                return
            row = self.rows[sobject][oid]
            row.update(IsDeleted=True, SystemModstamp=at)

    def live(self, sobject: str) -> list[dict[str, Any]]:
        return sorted((r for r in self.rows[sobject].values() if not r["IsDeleted"]), key=lambda r: r["Id"])

    # ---- faults -------------------------------------------------------------------------------------

    def expire_locators(self) -> None:
        with self._lock:
            self.locators.clear()

    # ---- what the client sent ---------------------------------------------------------------------

    def queries(self, sobject: str | None = None) -> list[Seen]:
        return [s for s in self.requests if s.soql and (sobject is None or re.search(rf"\bFROM {sobject}\b", s.soql))]

    # ---- the wire -----------------------------------------------------------------------------------

    def parse_body(self, raw: bytes) -> str:
        return raw.decode("utf-8", "replace") if raw else ""

    def authenticate(self, seen: Seen, raw_query: str) -> Reply | None:
        return None  # ``handle`` checks the session (the token endpoint takes none)

    def route(self, seen: Seen) -> Reply:
        try:
            status, out = self.handle(seen)
        except SfError as exc:
            status, out = exc.status, exc.body()
        return status, out, {}

    def fault_body(self, status: int) -> Any:
        return _fault_body(status)

    def response_headers(self) -> dict[str, str]:
        with self._lock:
            self.api_used += 1
            return {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.api_allocation}"}

    # ---- the API ------------------------------------------------------------------------------------

    def handle(self, seen: Seen) -> tuple[int, Any]:
        path = seen.path
        if path == "/services/oauth2/token" and seen.method == "POST":
            return self._token(parse_qs(seen.body))
        if seen.headers.get("authorization") != f"Bearer {self.token}":
            return 401, SESSION_EXPIRED
        if path.rstrip("/") == "/services/data":
            return 200, [{"label": f"v{v}", "url": f"/services/data/v{v}", "version": v} for v in VERSIONS]
        m = re.fullmatch(r"/services/data/v(\d+\.\d)/(.*?)/?", path)
        if not m or m.group(1) not in VERSIONS:
            return 404, errors("NOT_FOUND", "The requested resource does not exist")
        version, rest = m.groups()
        batch = self._batch_size(seen.headers.get("sforce-query-options", ""))
        with self._lock:
            if rest in ("query", "queryAll") and seen.method == "GET":
                soql = seen.soql
                if not soql:
                    return 400, errors("MALFORMED_QUERY", "A query string has to be specified")
                return 200, self._query(soql, include_deleted=rest == "queryAll", version=version, batch=batch)
            lm = re.fullmatch(r"(query|queryAll)/(01g[A-Za-z0-9]+)-(\d+)", rest)
            if lm and seen.method == "GET":
                return 200, self._more(lm.group(1), lm.group(2), int(lm.group(3)), version=version, batch=batch)
            dm = re.fullmatch(r"sobjects/([A-Za-z0-9_]+)/describe", rest)
            if dm:
                return 200, self._describe(dm.group(1))
            gm = re.fullmatch(r"sobjects/([A-Za-z0-9_]+)/deleted", rest)
            if gm:
                return 200, self._deleted(gm.group(1), seen.query)
            if rest == "limits":
                return 200, {
                    "DailyApiRequests": {"Max": self.api_allocation, "Remaining": self.api_allocation - self.api_used}
                }
        return 404, errors("NOT_FOUND", "The requested resource does not exist")

    @staticmethod
    def _batch_size(header: str) -> int:
        m = re.search(r"batchSize=(\d+)", header)
        return max(BATCH_MIN, min(BATCH_MAX, int(m.group(1)))) if m else BATCH_MAX

    def _token(self, form: dict[str, list[str]]) -> tuple[int, Any]:
        def one(key: str) -> str | None:
            return (form.get(key) or [None])[0]

        if (
            one("grant_type") != "refresh_token"
            or one("client_id") != self.client_id
            or not self.refresh_token
            or one("refresh_token") != self.refresh_token
        ):
            return 400, {"error": "invalid_grant", "error_description": "expired access/refresh token"}
        self.token = f"00DRO0000000fake!{uuid.uuid4().hex}"
        return 200, {
            "access_token": self.token,
            "instance_url": self.url,
            "token_type": "Bearer",
            "id": f"{self.url}/id/00DRO0000000fake/005RO0000000001",
            "issued_at": str(int(time.time() * 1000)),
            "signature": "c2lnbmF0dXJl",
            "scope": "api refresh_token",
        }

    def _visible(self, sobject: str) -> dict[str, str]:
        if sobject not in self.schema:
            raise SfError(400, "INVALID_TYPE", f"sObject type '{sobject}' is not supported.")
        hidden = self.hidden.get(sobject, set())
        return {f: t for f, t in self.schema[sobject].items() if f not in hidden}

    def _describe(self, sobject: str) -> Any:
        if sobject not in self.schema:
            raise SfError(404, "NOT_FOUND", "The requested resource does not exist")
        fields = []
        for name, typ in self._visible(sobject).items():
            ref = self.refs.get(sobject, {}).get(name)
            fields.append(
                {
                    "name": name,
                    "type": typ,
                    "relationshipName": ref[0] if ref else None,
                    "referenceTo": [ref[1]] if ref else [],
                }
            )
        return {
            "name": sobject,
            "label": sobject,
            "custom": sobject.endswith("__c"),
            "queryable": True,
            "replicateable": sobject not in self.not_replicateable,
            "fields": fields,
        }

    # ---- SOQL evaluation ----------------------------------------------------------------------------

    def _query(self, soql: str, *, include_deleted: bool, version: str, batch: int) -> dict[str, Any]:
        q = _Parser(soql).parse()
        types = self._visible(q.sobject)
        for name in q.fields:
            self._field_type(q.sobject, name)
        rows = [r for r in self.rows[q.sobject].values() if include_deleted or not r["IsDeleted"]]
        if q.where is not None:
            rows = [r for r in rows if self._eval(q.sobject, types, r, q.where)]
        for name, desc in reversed(q.order):
            self._field_type(q.sobject, name)
            rows.sort(key=lambda r: _sort_key(self._value(q.sobject, r, name)), reverse=desc)
        if q.limit is not None:
            rows = rows[: q.limit]
        records = [self._record(q.sobject, r, q.fields, version) for r in rows]
        kind = "queryAll" if include_deleted else "query"
        return self._page(records, kind, None, 0, version=version, batch=batch)

    def _page(
        self, records: list[dict[str, Any]], kind: str, locator: str | None, offset: int, *, version: str, batch: int
    ) -> dict[str, Any]:
        size = min(batch, self.batch)
        page = records[offset : offset + size]
        out: dict[str, Any] = {"totalSize": len(records), "done": offset + size >= len(records), "records": page}
        if not out["done"]:
            locator = locator or f"01gRO{uuid.uuid4().hex[:11]}"
            self.locators[locator] = (records, kind)
            out["nextRecordsUrl"] = f"/services/data/v{version}/{kind}/{locator}-{offset + size}"
        return out

    def _more(self, kind: str, locator: str, offset: int, *, version: str, batch: int) -> dict[str, Any]:
        found = self.locators.get(locator)
        if found is None or found[1] != kind:
            raise SfError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(found[0], kind, locator, offset, version=version, batch=batch)

    def _field_type(self, sobject: str, name: str) -> str:
        head, _, rest = name.partition(".")
        if rest:
            for fname, (rel, target) in self.refs.get(sobject, {}).items():
                if rel == head and fname in self._visible(sobject):
                    return self._field_type(target, rest)
            raise SfError(400, "INVALID_FIELD", f"Didn't understand relationship '{head}' in field path.")
        typ = self._visible(sobject).get(name)
        if typ is None:
            raise SfError(
                400,
                "INVALID_FIELD",
                f"No such column '{name}' on entity '{sobject}'. If you are "
                "attempting to use a custom field, be sure to append the '__c' after the custom field name.",
            )
        return typ

    def _value(self, sobject: str, row: dict[str, Any], name: str) -> Any:
        head, _, rest = name.partition(".")
        if not rest:
            return row.get(name)
        for fname, (rel, target) in self.refs.get(sobject, {}).items():
            if rel == head:
                parent = self.rows.get(target, {}).get(row.get(fname) or "")
                return self._value(target, parent, rest) if parent else None
        return None

    def _record(self, sobject: str, row: dict[str, Any], fields: list[str], version: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attributes": {"type": sobject, "url": f"/services/data/v{version}/sobjects/{sobject}/{row['Id']}"}
        }
        for name in fields:
            head, _, rest = name.partition(".")
            if not rest:
                out[name] = _wire(row.get(name))
                continue
            fname, target = next((f, t) for f, (rel, t) in self.refs[sobject].items() if rel == head)
            parent = self.rows.get(target, {}).get(row.get(fname) or "")
            if parent is None:
                out[head] = None
                continue
            nested = out.get(head) or self._record(target, parent, [], version)
            nested.update({k: v for k, v in self._record(target, parent, [rest], version).items() if k != "attributes"})
            out[head] = nested
        return out

    def _eval(self, sobject: str, types: dict[str, str], row: dict[str, Any], node: Any) -> bool:
        op = node[0]
        if op == "or":
            return self._eval(sobject, types, row, node[1]) or self._eval(sobject, types, row, node[2])
        if op == "and":
            return self._eval(sobject, types, row, node[1]) and self._eval(sobject, types, row, node[2])
        if op == "not":
            return not self._eval(sobject, types, row, node[1])
        name = node[1]
        typ = self._field_type(sobject, name)
        have = self._value(sobject, row, name)
        if op == "in":
            values = [self._literal(name, typ, lit) for lit in node[2]]
            return (have in values) != node[3]
        if op == "like":
            pattern = re.escape(self._literal(name, typ, node[2])).replace("%", ".*").replace("_", ".")
            return have is not None and re.fullmatch(pattern, str(have), re.IGNORECASE) is not None
        cmp, want = node[2], self._literal(name, typ, node[3])
        if want is None or have is None:
            return (
                (have is None and want is None)
                if cmp == "="
                else (have is None) != (want is None)
                if cmp == "!="
                else False
            )
        if isinstance(have, str) and isinstance(want, str) and typ not in ("id", "reference"):
            have, want = have.lower(), want.lower()  # SOQL text comparisons ignore case
        return {
            "=": have == want,
            "!=": have != want,
            "<": have < want,
            "<=": have <= want,
            ">": have > want,
            ">=": have >= want,
        }[cmp]

    @staticmethod
    def _literal(name: str, typ: str, lit: tuple[str, Any]) -> Any:
        kind, value = lit
        if kind == "null":
            return None
        want = LITERAL_FOR.get(typ, "string")
        if kind != want:
            raise SfError(
                400,
                "INVALID_FIELD",
                f"value of filter criterion for field '{name}' must be of type "
                f"{TYPE_NAMES[want]} and should not be enclosed in quotes"
                if want != "string"
                else f"value of filter criterion for field '{name}' must be of type string and should be "
                "enclosed in quotes",
            )
        return value

    # ---- getDeleted -----------------------------------------------------------------------------------

    def _deleted(self, sobject: str, query: dict[str, list[str]]) -> Any:
        if sobject not in self.schema:
            raise SfError(404, "NOT_FOUND", "The requested resource does not exist")
        if sobject in self.not_replicateable:
            raise SfError(400, "INVALID_TYPE", f"sObject type '{sobject}' is not replicateable")
        try:
            start = datetime.fromisoformat(query["start"][0]).astimezone(UTC)
            end = datetime.fromisoformat(query["end"][0]).astimezone(UTC)
        except (KeyError, ValueError):
            raise SfError(400, "MALFORMED_QUERY", "start and end must be dateTime values") from None
        if end - start <= timedelta(minutes=1):
            raise SfError(
                400,
                "INVALID_REPLICATION_DATE",
                "startDate must chronologically precede endDate by more than one minute",
            )
        if start < datetime.now(UTC) - GET_DELETED_MAX_AGE:
            raise SfError(400, "INVALID_REPLICATION_DATE", "startDate is too far in the past")
        start, end = start.replace(second=0, microsecond=0), end.replace(second=0, microsecond=0)  # seconds ignored
        found = [
            {"id": oid, "deletedDate": sf_time(at)}
            for obj, oid, at in self.deleted_log
            if obj == sobject and start <= at < end
        ]
        earliest = min((at for obj, _, at in self.deleted_log if obj == sobject), default=start)
        return {
            "deletedRecords": found,
            "earliestDateAvailable": sf_time(min(earliest, start)),
            "latestDateCovered": sf_time(end),
        }


def _second(at: datetime) -> datetime:
    """Salesforce keeps datetimes to the second (its wire format always says .000)."""
    return at.replace(microsecond=0)


def _wire(value: Any) -> Any:
    if isinstance(value, datetime):
        return sf_time(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, "") if value is None else (1, value)  # ASC puts nulls first (SOQL's default)


# ---- a believable org ---------------------------------------------------------------------------------

DEFAULT_STAGES = [  # (MasterLabel, IsClosed, IsWon, DefaultProbability): the default StageName picklist
    ("Prospecting", False, False, 10),
    ("Qualification", False, False, 10),
    ("Needs Analysis", False, False, 20),
    ("Value Proposition", False, False, 50),
    ("Id. Decision Makers", False, False, 60),
    ("Perception Analysis", False, False, 70),
    ("Proposal/Price Quote", False, False, 75),
    ("Negotiation/Review", False, False, 90),
    ("Closed Won", True, True, 100),
    ("Closed Lost", True, False, 0),
]
OPEN_PATH = [s[0] for s in DEFAULT_STAGES if not s[1]]


def populate(org: FakeSalesforce, *, accounts: int, seed: int = 11, activities: bool = True) -> None:
    """Accounts with two contacts, an opportunity (with stage history), a task and an event each; stamps in
    the past, with runs of rows sharing one SystemModstamp (ties at page boundaries)."""
    rnd = random.Random(seed)
    users = [org.add("User", {"Name": f"Rep {i}", "Email": f"Rep{i}@PayReady.com", "IsActive": True}) for i in range(3)]
    for order, (label, closed, won, prob) in enumerate(DEFAULT_STAGES):
        org.add(
            "OpportunityStage",
            {
                "MasterLabel": label,
                "IsActive": True,
                "IsClosed": closed,
                "IsWon": won,
                "SortOrder": order,
                "DefaultProbability": prob,
            },
        )
    states = ["TX", "CA", "Florida", "GA", "NY"]
    at = EPOCH
    for a in range(accounts):
        if a % 3 == 0:  # three accounts in a row share a stamp
            at += timedelta(minutes=rnd.randint(1, 90))
        owner = rnd.choice(users)
        acct = org.add(
            "Account",
            {
                "Name": f"Property Co {a}",
                "Type": rnd.choice(["Prospect", "Customer - Direct"]),
                "Website": f"https://www.propco{a}.com",
                "BillingCity": "Austin",
                "BillingState": rnd.choice(states),
                "OwnerId": owner,
            },
            at=at,
        )
        contacts = [
            org.add(
                "Contact",
                {
                    "AccountId": acct,
                    "FirstName": f"Pat{a}",
                    "LastName": f"Lee{k}",
                    "Email": f"Pat{a}.Lee{k}@PropCo{a}.com",
                    "Title": "VP Operations",
                    "Phone": "+1 512 555 0100",
                    "OwnerId": owner,
                },
                at=at + timedelta(seconds=1),
            )
            for k in range(2)
        ]
        path = OPEN_PATH[: rnd.randint(1, 5)] + (
            [rnd.choice(["Closed Won", "Closed Lost"])] if rnd.random() < 0.4 else []
        )
        start = at + timedelta(minutes=2)
        opp = org.add(
            "Opportunity",
            {
                "AccountId": acct,
                "Name": f"Property Co {a} - payments",
                "StageName": path[0],
                "Amount": float(rnd.randint(5, 90) * 1000),
                "CloseDate": (start + timedelta(days=60)).date(),
                "Type": rnd.choice(["New Customer", "Existing Customer - Upgrade"]),
                "IsClosed": False,
                "IsWon": False,
                "OwnerId": owner,
            },
            at=start,
        )
        for i, stage in enumerate(path[1:], start=1):
            closed = stage.startswith("Closed")
            org.update(
                "Opportunity",
                opp,
                {"StageName": stage, "IsClosed": closed, "IsWon": stage == "Closed Won"},
                at=start + timedelta(days=i),
            )
        if not activities:
            continue
        org.add(
            "Task",
            {
                "WhoId": contacts[0],
                "WhatId": opp,
                "AccountId": acct,
                "Subject": f"Call Pat{a}",
                "Status": "Completed",
                "ActivityDate": (at + timedelta(days=1)).date(),
                "Description": "Talked about rent collections",
                "Type": "Call",
                "TaskSubtype": "Call",
                "IsClosed": True,
                "OwnerId": owner,
            },
            at=at + timedelta(minutes=3),
        )
        org.add(
            "Event",
            {
                "WhoId": contacts[1],
                "WhatId": opp,
                "AccountId": acct,
                "Subject": f"Demo for Property Co {a}",
                "StartDateTime": at + timedelta(days=2, hours=15),
                "EndDateTime": at + timedelta(days=2, hours=16),
                "ActivityDate": (at + timedelta(days=2)).date(),
                "DurationInMinutes": 60,
                "Description": "Portal demo",
                "OwnerId": owner,
            },
            at=at + timedelta(minutes=4),
        )


# ---- driving the real connector against the fake (shared by the Salesforce and UserGems tests) --------

# tiny backoff, no modstamp lag (the fake commits at once), a high client-side rate: fast tests
TEST_SETTINGS = {
    "modstamp_lag_s": "0",
    "requests_per_second": "1000",
    "backoff_initial_s": "0.01",
    "backoff_max_s": "0.05",
    "max_attempts": "3",
}


def add_connector(
    runtime: Any, org: FakeSalesforce, *, kind: str = "salesforce", name: str = "sf", **overrides: str
) -> None:
    values = {"base_url": org.url, "token": org.token, **TEST_SETTINGS, **overrides}
    values = {k: v for k, v in values.items() if v is not None}
    sync_helpers.configure(runtime, kind=kind, name=name, values=values)


sync = partial(sync_helpers.sync, name="sf")
cursor = partial(sync_helpers.cursor, name="sf")


def snapshot(runtime: Any, *, sources: tuple[str, ...] = ("salesforce",)) -> dict[str, list[tuple]]:
    """Every row of the given sources (job changes too), our ids replaced by the source's, sorted: two
    databases holding the same data give equal snapshots."""
    return sync_helpers.crm_snapshot(runtime, *sources, models=(*sync_helpers.CRM_MODELS, JobChange))


def counts(runtime: Any) -> dict[str, int]:
    return {table: len(rows) for table, rows in snapshot(runtime).items() if table != "job_changes"}
