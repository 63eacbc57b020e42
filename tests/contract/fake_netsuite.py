"""A local NetSuite (SuiteTalk REST SuiteQL) speaking the documented shapes (../shared/reference/netsuite.md),
on 127.0.0.1, on the shared ``WireFake`` base (fake_server.py).

The SuiteQL endpoint really runs the query: the account's tables live in SQLite and the statement is
translated only where SuiteQL and SQLite differ (``BUILTIN.DF(x.col)`` reads a stored display value,
``TO_CHAR``/``TO_TIMESTAMP`` are registered functions that refuse a malformed date like NetSuite's "Unparseable
date", the ``transaction`` table name is quoted). So the connector's filters, joins, keyset and ordering are
exercised, not just its paging. Answers follow netsuite.md 3.1: lower-case column names, every value a
string, NULL columns left out, ``links``/``count``/``hasMore``/``offset``/``totalResults``; ``limit`` <= 1000,
``offset`` a multiple of ``limit``, at most ``row_cap`` rows per query. Every request must carry a valid OAuth
1.0a HMAC-SHA256 signature (recomputed here by hand from netsuite.md 2, not with the client's library) with
the account's realm and a nonce never seen before; otherwise 401 ``INVALID_LOGIN``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import sqlite3
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from sqlalchemy import select

from core.db import models as m
from core.ingest import ingest_records
from tests.contract.fake_server import Reply, Seen, WireFake
from tests.contract.sync_helpers import configure, rows

# ---- NetSuite -----------------------------------------------------------------------------------------

SUITEQL = "/services/rest/query/v1/suiteql"
LIMIT_MAX = 1000
ROW_CAP = 100_000
START = datetime(2024, 1, 2, 9, 0, 0)  # the fake account's clock starts here (account time zone)
TS_FORMAT = "%Y-%m-%d %H:%M:%S"
SCHEMA = """
CREATE TABLE customer (id INTEGER PRIMARY KEY, entityid TEXT, companyname TEXT, isperson TEXT, firstname TEXT,
  lastname TEXT, email TEXT, url TEXT, isinactive TEXT, externalid TEXT, salesrep INTEGER, datecreated TEXT,
  lastmodifieddate TEXT);
CREATE TABLE employee (id INTEGER PRIMARY KEY, email TEXT, firstname TEXT, lastname TEXT);
CREATE TABLE currency (id INTEGER PRIMARY KEY, name TEXT, symbol TEXT);
CREATE TABLE accountingperiod (id INTEGER PRIMARY KEY, periodname TEXT, startdate TEXT);
CREATE TABLE "transaction" (id INTEGER PRIMARY KEY, tranid TEXT, type TEXT, entity INTEGER, status TEXT,
  status_df TEXT, memo TEXT, voided TEXT, foreigntotal REAL, foreignamountunpaid REAL, currency INTEGER,
  postingperiod INTEGER, trandate TEXT, duedate TEXT, createddate TEXT, lastmodifieddate TEXT);
CREATE TABLE previoustransactionlink (previousdoc INTEGER, nextdoc INTEGER, linktype TEXT, foreignamount REAL);
CREATE TABLE deletedrecord (recordid INTEGER, recordtypeid TEXT, name TEXT, context TEXT, deletedby INTEGER,
  iscustomrecord TEXT, iscustomlist TEXT, deleteddate TEXT);
"""
INVOICE_STATUS = {"open": ("A", "Open"), "paid": ("B", "Paid In Full"), "void": ("V", "Voided")}
PAYMENT_STATUS = ("C", "Deposited")
DELETED_TYPE = {"customer": "customer", "CustInvc": "invoice", "CustPymt": "customerpayment"}


def pct(value: str) -> str:
    """RFC 3986 percent-encoding (netsuite.md 2.1)."""
    return quote(value, safe="~-._")


def _oracle_format(fmt: str) -> str:
    """An Oracle datetime format (the subset SuiteQL users write) as a strftime format."""
    tokens = {"YYYY": "%Y", "MM": "%m", "DD": "%d", "HH24": "%H", "MI": "%M", "SS": "%S"}
    out = []
    for token in re.findall(r'"[^"]*"|YYYY|HH24|MM|DD|MI|SS|.', fmt):
        out.append(token[1:-1] if token.startswith('"') else tokens.get(token, token))
    return "".join(out)


def _to_char(value: Any, fmt: str) -> str | None:
    if value is None:
        return None
    return datetime.fromisoformat(str(value)).strftime(_oracle_format(fmt))


def _to_timestamp(value: str, fmt: str) -> str:
    try:
        return datetime.strptime(value, _oracle_format(fmt)).strftime(TS_FORMAT)
    except ValueError:
        raise ValueError(f"Unparseable date: {value}") from None


def translate(q: str) -> str:
    """SuiteQL -> SQLite, only where they differ."""
    sql = re.sub(r"BUILTIN\.DF\(\s*(\w+)\.(\w+)\s*\)", r"\1.\2_df", q, flags=re.IGNORECASE)
    return re.sub(r"\b(FROM|JOIN)\s+transaction\b", r'\1 "transaction"', sql, flags=re.IGNORECASE)


def ns_error(status: int, title: str, code: str, detail: str) -> dict[str, Any]:
    return {
        "type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5",
        "title": title,
        "status": status,
        "o:errorDetails": [{"detail": detail, "o:errorCode": code}],
    }


def _wire(value: Any) -> Any:
    """SuiteQL returns ids and numbers as strings."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value) if isinstance(value, int) else value


class FakeNetSuite(WireFake):
    content_type = "application/vnd.oracle.resource+json; type=collection"

    def __init__(
        self,
        *,
        account_id: str = "1234567_SB1",
        consumer_key: str = "ck-fake-consumer-key-0001",
        consumer_secret: str = "cs-fake-consumer-secret-0002",
        token_id: str = "tk-fake-token-id-0003",
        token_secret: str = "ts-fake-token-secret-0004",
        row_cap: int = ROW_CAP,
    ) -> None:
        super().__init__()
        self.account_id, self.consumer_key, self.consumer_secret = account_id, consumer_key, consumer_secret
        self.token_id, self.token_secret = token_id, token_secret
        self.row_cap = row_cap
        self.nonces: set[str] = set()
        self.clock = START
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.db.create_function("TO_CHAR", 2, _to_char, deterministic=True)
        self.db.create_function("TO_TIMESTAMP", 2, _to_timestamp, deterministic=True)
        self.db.executescript(SCHEMA)
        self.db.executemany(
            "INSERT INTO currency VALUES (?, ?, ?)", [(1, "US Dollar", "USD"), (2, "Canadian Dollar", "CAD")]
        )
        self.currencies = {"USD": 1, "CAD": 2}
        for i in range(1, 13):
            self.db.execute(
                "INSERT INTO accountingperiod VALUES (?, ?, ?)",
                (i, date(2024, i, 1).strftime("%b %Y"), date(2024, i, 1).isoformat()),
            )
        self.db.execute("INSERT INTO employee VALUES (3, 'Rep.One@PayReady.com', 'Rep', 'One')")
        self._next = 100

    # ---- the account's data -------------------------------------------------------------------------

    def tick(self, minutes: int = 1) -> str:
        """The account's clock: every write is later than the one before."""
        with self._lock:
            self.clock += timedelta(minutes=minutes)
            return self.clock.strftime(TS_FORMAT)

    def _id(self) -> int:
        self._next += 1
        return self._next

    def add_customer(
        self,
        name: str | None,
        *,
        link: str | None = None,
        email: str | None = None,
        url: str | None = None,
        salesrep: int | None = 3,
        inactive: bool = False,
    ) -> int:
        with self._lock:
            cid, at = self._id(), self.tick()
            self.db.execute(
                "INSERT INTO customer VALUES (?, ?, ?, 'F', NULL, NULL, ?, ?, ?, ?, ?, ?, ?)",
                (cid, f"CUST-{cid}", name, email, url, "T" if inactive else "F", link, salesrep, at, at),
            )
            return cid

    def add_invoice(
        self,
        customer: int,
        total: float | None,
        *,
        issued: date,
        status: str = "open",
        memo: str | None = None,
        currency: str = "USD",
        tranid: str | None = None,
        due: date | None = None,
    ) -> int:
        with self._lock:
            iid, at = self._id(), self.tick()
            code, shown = INVOICE_STATUS[status]
            unpaid = 0.0 if status != "open" else total
            self.db.execute(
                "INSERT INTO \"transaction\" VALUES (?, ?, 'CustInvc', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    iid,
                    tranid or f"INV-{iid}",
                    customer,
                    code,
                    shown,
                    memo,
                    "T" if status == "void" else "F",
                    total,
                    unpaid,
                    self.currencies.get(currency, 99),
                    issued.month,
                    issued.isoformat(),
                    (due or issued + timedelta(days=30)).isoformat(),
                    at,
                    at,
                ),
            )
            return iid

    def add_payment(
        self, customer: int, invoice: int | None, total: float, *, on: date, currency: str = "USD", voided: bool = False
    ) -> int:
        """A customer payment, applied in full to ``invoice`` (which becomes Paid In Full)."""
        with self._lock:
            pid, at = self._id(), self.tick()
            self.db.execute(
                "INSERT INTO \"transaction\" VALUES (?, ?, 'CustPymt', ?, ?, ?, NULL, ?, ?, NULL, ?, ?, ?, NULL, ?, ?)",
                (
                    pid,
                    f"PYMT-{pid}",
                    customer,
                    *(("V", "Voided") if voided else PAYMENT_STATUS),
                    "T" if voided else "F",
                    total,
                    self.currencies.get(currency, 99),
                    on.month,
                    on.isoformat(),
                    at,
                    at,
                ),
            )
            if invoice is not None:
                self.db.execute(
                    "INSERT INTO previoustransactionlink VALUES (?, ?, 'Payment', ?)", (invoice, pid, total)
                )
                if not voided:
                    self.update("transaction", invoice, status="B", status_df="Paid In Full", foreignamountunpaid=0)
            return pid

    def update(self, table: str, rid: int, **values: Any) -> str:
        """Change a record; its lastmodifieddate moves to now (the account's clock)."""
        with self._lock:
            at = self.tick()
            sets = ", ".join(f"{k} = ?" for k in values)
            self.db.execute(
                f'UPDATE "{table}" SET {sets}, lastmodifieddate = ? WHERE id = ?', (*values.values(), at, rid)
            )
            return at

    def delete(self, table: str, rid: int) -> None:
        """Delete a record: it leaves its table and enters the deletedrecord log."""
        with self._lock:
            if table == "customer":
                kind, name = (
                    "customer",
                    self.db.execute("SELECT entityid FROM customer WHERE id = ?", (rid,)).fetchone()[0],
                )
            else:
                kind, name = self.db.execute('SELECT type, tranid FROM "transaction" WHERE id = ?', (rid,)).fetchone()
            self.db.execute(f'DELETE FROM "{table}" WHERE id = ?', (rid,))
            self.db.execute(
                "INSERT INTO deletedrecord VALUES (?, ?, ?, 'UI', 3, 'F', 'F', ?)",
                (rid, DELETED_TYPE[kind], name, self.tick()),
            )

    def ids(self, kind: str) -> list[int]:
        """Ids of live customers (``customer``) or transactions of a type (``CustInvc``, ``CustPymt``)."""
        if kind == "customer":
            return [r[0] for r in self.db.execute("SELECT id FROM customer ORDER BY id")]
        return [r[0] for r in self.db.execute('SELECT id FROM "transaction" WHERE type = ? ORDER BY id', (kind,))]

    def suiteql(self) -> list[Seen]:
        return [s for s in self.requests if s.path == SUITEQL]

    # ---- the wire -----------------------------------------------------------------------------------

    @property
    def realm(self) -> str:
        return self.account_id.upper().replace("-", "_")

    def authenticate(self, seen: Seen, raw_query: str) -> Reply | None:
        header = seen.headers.get("authorization", "")
        params = (
            {k: unquote(v) for k, v in re.findall(r'(\w+)="([^"]*)"', header)} if header.startswith("OAuth ") else {}
        )
        ok = (
            params.get("realm") == self.realm
            and params.get("oauth_consumer_key") == self.consumer_key
            and params.get("oauth_token") == self.token_id
            and params.get("oauth_signature_method") == "HMAC-SHA256"
            and params.get("oauth_version") == "1.0"
            and params.get("oauth_nonce")
            and params["oauth_nonce"] not in self.nonces
            and hmac.compare_digest(params.get("oauth_signature", ""), self.signature(seen, raw_query, params))
        )
        if ok:
            self.nonces.add(params["oauth_nonce"])
            return None
        refusal = ns_error(
            401,
            "Unauthorized",
            "INVALID_LOGIN",
            "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at "
            "Setup > Users/Roles > User Management > View Login Audit Trail.",
        )
        return (
            401,
            refusal,
            {
                "WWW-Authenticate": f'OAuth realm="{self.realm}", error="token_rejected", '
                'error_description="Invalid login attempt."'
            },
        )

    def signature(self, seen: Seen, raw_query: str, oauth: dict[str, str]) -> str:
        """The signature NetSuite expects, by netsuite.md 2.1-2.2."""
        base_uri = f"http://{seen.headers.get('host', '').lower()}{seen.path}"
        pairs = [(k, v) for k, v in oauth.items() if k.startswith("oauth_") and k != "oauth_signature"]
        pairs += parse_qsl(raw_query, keep_blank_values=True)
        normalized = "&".join(f"{k}={v}" for k, v in sorted((pct(k), pct(v)) for k, v in pairs))
        base = "&".join((seen.method.upper(), pct(base_uri), pct(normalized)))
        key = f"{pct(self.consumer_secret)}&{pct(self.token_secret)}"
        return base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha256).digest()).decode()

    def fault_body(self, status: int) -> Any:
        if status == 429:
            return ns_error(
                429,
                "Too Many Requests",
                "CONCURRENCY_LIMIT_EXCEEDED",
                "Concurrent request limit exceeded. Request blocked.",
            )
        if status == 401:
            return ns_error(401, "Unauthorized", "INVALID_LOGIN", "Invalid login attempt.")
        return ns_error(status, "Internal Server Error", "UNEXPECTED_ERROR", "An unexpected error occurred.")

    def route(self, seen: Seen) -> Reply:
        if seen.method != "POST" or seen.path != SUITEQL:
            return 404, ns_error(404, "Not Found", "NONEXISTENT_ID", f"Invalid request URL {seen.path}"), {}
        try:
            limit = int((seen.query.get("limit") or ["1000"])[0])
            offset = int((seen.query.get("offset") or ["0"])[0])
        except ValueError:
            return 400, ns_error(400, "Bad Request", "INVALID_PARAMETER", "limit and offset must be integers"), {}
        if not 1 <= limit <= LIMIT_MAX or offset < 0 or offset % limit:
            return (
                400,
                ns_error(
                    400,
                    "Bad Request",
                    "INVALID_PARAMETER",
                    f"Invalid paging: limit {limit} (1-{LIMIT_MAX}), offset {offset} (a multiple of limit)",
                ),
                {},
            )
        q = seen.body.get("q") if isinstance(seen.body, dict) else None
        if not isinstance(q, str) or not q.strip().lower().startswith("select"):
            return (
                400,
                ns_error(400, "Bad Request", "INVALID_PARAMETER", "The request body must hold a SELECT in 'q'."),
                {},
            )
        try:
            cursor = self.db.execute(translate(q))
        except (sqlite3.Error, ValueError) as exc:
            return (
                400,
                ns_error(
                    400,
                    "Bad Request",
                    "INVALID_PARAMETER",
                    f"Invalid search query. Detailed unprocessed description follows. {exc}",
                ),
                {},
            )
        columns = [d[0].lower() for d in cursor.description]
        found = cursor.fetchall()[: self.row_cap]
        page = found[offset : offset + limit]
        items = [
            {"links": [], **{c: _wire(v) for c, v in zip(columns, row, strict=True) if v is not None}} for row in page
        ]
        has_more = offset + limit < len(found)
        href = f"{self.url}{SUITEQL}?limit={limit}&offset="
        links = [{"rel": "self", "href": f"{href}{offset}"}]
        if offset:
            links += [
                {"rel": "previous", "href": f"{href}{max(0, offset - limit)}"},
                {"rel": "first", "href": f"{href}0"},
            ]
        if has_more:
            last = (len(found) - 1) // limit * limit
            links += [{"rel": "next", "href": f"{href}{offset + limit}"}, {"rel": "last", "href": f"{href}{last}"}]
        out = {
            "links": links,
            "count": len(items),
            "hasMore": has_more,
            "items": items,
            "offset": offset,
            "totalResults": len(found),
        }
        return 200, out, {}


def populate(fake: FakeNetSuite, *, customers: int = 6) -> None:
    """Customers (every other one linked to a CRM account ``hs-<n>``, one billing in CAD), three monthly
    subscription invoices each (the first two paid), one services invoice and one voided invoice."""
    for n in range(customers):
        cid = fake.add_customer(
            f"Property Co {n}",
            link=f"hs-{n}" if n % 2 == 0 else None,
            email=f"ap@propco{n}.com",
            url=f"https://www.propco{n}.com",
        )
        cur = "CAD" if n == 1 else "USD"
        for month in (1, 2, 3):
            issued = date(2024, month, 1)
            iid = fake.add_invoice(cid, 1000.0 + 100 * n, issued=issued, currency=cur)
            if month < 3:
                fake.add_payment(cid, iid, 1000.0 + 100 * n, on=issued + timedelta(days=10), currency=cur)
        if n == 0:
            fake.add_invoice(cid, 7500.0, issued=date(2024, 1, 5), memo="Implementation services")
        if n == 1:
            fake.add_invoice(cid, 300.0, issued=date(2024, 2, 5), status="void", currency=cur)


# ---- helpers shared by the NetSuite tests: configure, snapshot our database ------------------------------

# small pages (many of them), tiny backoff: fast tests; no look-back so an incremental pass reads only changes
TEST_SETTINGS = {
    "page_size": "5",
    "lookback_s": "0",
    "crm_source": "hubspot",
    "backoff_initial_s": "0.01",
    "backoff_max_s": "0.05",
    "max_attempts": "3",
}


def credentials(fake: FakeNetSuite) -> dict[str, str]:
    return {
        "base_url": fake.url,
        "account_id": fake.account_id,
        "consumer_key": fake.consumer_key,
        "consumer_secret": fake.consumer_secret,
        "token_id": fake.token_id,
        "token_secret": fake.token_secret,
    }


def add_netsuite(runtime: Any, fake: FakeNetSuite, *, name: str = "ns", **overrides: str) -> None:
    values = {**credentials(fake), **TEST_SETTINGS, **overrides}
    configure(runtime, kind="netsuite", name=name, values=values)


def crm_accounts(runtime: Any, externals: list[str]) -> None:
    """The CRM's accounts, as a HubSpot sync would have stored them."""
    with runtime.session() as session:
        ingest_records(
            session=session,
            source="hubspot",
            entity="accounts",
            records=[{"external_id": e, "name": f"CRM {e}"} for e in externals],
        )


def snapshot(runtime: Any) -> dict[str, list[tuple]]:
    """Every NetSuite-sourced row, our ids replaced by (source, external id), sorted."""
    out: dict[str, list[tuple]] = {}
    with runtime.session() as session:
        accounts = {
            i: (s, e) for i, s, e in session.execute(select(m.Account.id, m.Account.source, m.Account.external_id))
        }
        invoices = {i: e for i, e in session.execute(select(m.Invoice.id, m.Invoice.external_id))}
        refs = {"account_id": accounts, "invoice_id": invoices}
        for model in (m.Account, m.Invoice, m.Payment):
            out[model.__tablename__] = rows(session, model, model.source == "netsuite", refs=refs)
    return out


def counts(runtime: Any) -> dict[str, int]:
    return {table: len(found) for table, found in snapshot(runtime).items()}
