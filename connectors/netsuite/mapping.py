"""NetSuite SuiteQL rows -> our model. Pure functions over the rows the connector's queries select.

Row shape (netsuite.md 3.1): lower-case column names; values mostly JSON strings (ids, numbers), booleans
``"T"``/``"F"``; a NULL column is absent. Dates and times are selected with ``TO_CHAR`` so they arrive as
``YYYY-MM-DD`` / ``YYYY-MM-DD HH24:MI:SS`` whatever the user's date format; times are in the time zone of
the integration user's preference (unconfirmed, 4), converted here to UTC with the configured zone.

Which account an invoice or payment belongs to: our accounts come from the CRM. A NetSuite customer is
linked to its CRM account by a customer column holding the CRM's id - ``externalid`` by default, the
field CRM-to-NetSuite integrations set, or a custom field (``custentity_...``) - and ``crm_source`` names
the CRM (``hubspot``/``salesforce``). Transactions then reference ``{"source": crm_source, "external_id":
<that id>}``. Only a customer with no such link becomes an account of its own (source ``netsuite``), so
its invoices are not orphaned; once linked, that fallback account is deleted (connector.py). The link is
read with each transaction (a join on its customer), so a transaction stored before its customer got linked
moves to the CRM account when it next changes, or with ``sophia sync NAME --stream invoices --full``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from connectors.base import RecordError
from connectors.base.mapping import fit, parse_day, parse_number, record_envelope, text
from core.db import models as m

SOURCE = "netsuite"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # what TO_CHAR(x, 'YYYY-MM-DD HH24:MI:SS') gives
DEFAULT_SERVICES_PATTERN = r"\b(implementation|onboarding|set[ -]?up|services?|training|consulting)\b"


@dataclass(frozen=True)
class MappingContext:
    time_zone: ZoneInfo = ZoneInfo("UTC")  # of the integration user's preference
    crm_source: str | None = None  # the CRM whose account ids customers carry
    fallback_accounts: bool = True  # unlinked customers become netsuite accounts
    default_currency: str = "USD"  # when the account has no multi-currency (no currency on the row)
    services_pattern: re.Pattern[str] = re.compile(DEFAULT_SERVICES_PATTERN, re.IGNORECASE)


# ---- values -----------------------------------------------------------------------------------


def flag(value: Any) -> bool:
    """SuiteQL booleans are ``"T"``/``"F"`` (a real JSON boolean is taken too)."""
    return value is True or (isinstance(value, str) and value.strip().upper() in ("T", "TRUE"))


def local_time(value: Any, what: str, ctx: MappingContext) -> datetime | None:
    """``YYYY-MM-DD HH:MM:SS`` in the account's time zone -> aware UTC."""
    raw = text(value)
    if raw is None:
        return None
    try:
        parsed = datetime.strptime(raw.replace("T", " ")[:19], TIME_FORMAT)
    except ValueError:
        raise RecordError(f"{what}: {raw[:40]!r} is not a YYYY-MM-DD HH:MM:SS time") from None
    return parsed.replace(tzinfo=ctx.time_zone).astimezone(UTC)


def currency(row: Mapping[str, Any], ctx: MappingContext) -> str:
    code = text(row.get("currencycode"))
    if code is None:
        return ctx.default_currency
    if not re.fullmatch(r"[A-Za-z]{3}", code):
        raise RecordError(f"currency {code[:20]!r} is not an ISO 4217 code")
    return code.upper()


def domain(url: Any, email: Any) -> str | None:
    """The customer's web domain: from its URL, else from its email (not for free-mail addresses)."""
    raw = text(url)
    if raw:
        host = urlsplit(raw if "//" in raw else f"//{raw}").hostname
        if host:
            return host.lower().removeprefix("www.")
    mail = text(email)
    if mail and "@" in mail:
        host = mail.rsplit("@", 1)[1].lower()
        if host not in FREE_MAIL:
            return host
    return None


FREE_MAIL = frozenset({"gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com", "icloud.com"})


# ---- references -------------------------------------------------------------------------------


def crm_link(row: Mapping[str, Any], ctx: MappingContext) -> str | None:
    """The CRM account id the customer carries (column ``crmlink``), when a CRM is configured."""
    return text(row.get("crmlink")) if ctx.crm_source else None


def account_ref(row: Mapping[str, Any], ctx: MappingContext) -> dict[str, str] | str | None:
    """The account of a transaction row: the customer's CRM account, else its fallback netsuite account."""
    link = crm_link(row, ctx)
    if link is not None:
        return {"source": str(ctx.crm_source), "external_id": link}
    entity = text(row.get("entity"))
    return entity if entity is not None and ctx.fallback_accounts else None


def _envelope(row: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    rid = text(row.get("id"))
    if rid is None:
        raise RecordError("row has no id")
    created = local_time(row.get("created"), "created", ctx)
    updated = local_time(row.get("lastmodified"), "lastmodified", ctx)
    return record_envelope(rid, row, created, updated)


def _transaction(row: Mapping[str, Any], ctx: MappingContext, what: str) -> tuple[dict[str, Any], date, float]:
    """A transaction row's envelope, and the date and total every transaction must have."""
    rec = _envelope(row, ctx)
    on = parse_day(row.get("trandate"), "trandate")
    if on is None:
        raise RecordError(f"{what} has no trandate")
    total = parse_number(row.get("foreigntotal"), "foreigntotal")
    if total is None:
        raise RecordError(f"{what} has no foreigntotal")
    return rec, on, total


# ---- records ----------------------------------------------------------------------------------


def map_customer(row: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    """A customer with no CRM link -> an account of source netsuite (the fallback; see module docstring)."""
    rec = _envelope(row, ctx)
    person = " ".join(p for p in (text(row.get("firstname")), text(row.get("lastname"))) if p)
    name = text(row.get("companyname")) or (person if flag(row.get("isperson")) else None) or text(row.get("entityid"))
    if name is None:
        raise RecordError("customer has no company name, person name or entity id")
    email = text(row.get("salesrepemail"))
    rec.update(
        name=fit(m.Account, "name", name),
        domain=fit(m.Account, "domain", domain(row.get("url"), row.get("email"))),
        owner=fit(m.Account, "owner", email.lower() if email else None),
        # a NetSuite customer is billed: live, unless made inactive
        lifecycle_stage="churned" if flag(row.get("isinactive")) else "live",
    )
    return rec


def invoice_kind(row: Mapping[str, Any], ctx: MappingContext) -> str:
    """services when the kind column (if configured) or the memo says so, else subscription."""
    said = " ".join(t for t in (text(row.get("kindvalue")), text(row.get("memo"))) if t)
    return "services" if ctx.services_pattern.search(said) else "subscription"


def invoice_status(row: Mapping[str, Any]) -> str:
    """open | paid | void. Voided transactions stay as rows (netsuite.md 7): a status, not a delete. The
    status text comes from ``BUILTIN.DF(status)`` (codes per type are unconfirmed, 4)."""
    name = (text(row.get("statusname")) or "").lower()
    if flag(row.get("voided")) or "void" in name or "rejected" in name:
        return "void"
    if "paid in full" in name:
        return "paid"
    unpaid = parse_number(row.get("foreignamountunpaid"), "foreignamountunpaid")
    total = parse_number(row.get("foreigntotal"), "foreigntotal")
    if not name and unpaid == 0 and total:
        return "paid"
    return "open"


def map_invoice(row: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    rec, issued, total = _transaction(row, ctx, "invoice")
    kind = invoice_kind(row, ctx)
    status = invoice_status(row)
    period = parse_day(row.get("periodstart"), "periodstart") or issued
    rec.update(
        number=fit(m.Invoice, "number", text(row.get("tranid")) or f"#{rec['external_id']}"),
        kind=kind,
        # the month of service of a subscription invoice: its posting period (else its date's month)
        period_start=period.replace(day=1) if kind == "subscription" else None,
        issued_on=issued,
        due_on=parse_day(row.get("duedate"), "duedate") or issued,  # no terms: due when issued
        amount=round(total, 2),
        currency=currency(row, ctx),
        status=status,
        paid_on=parse_day(row.get("lastpaymentdate"), "lastpaymentdate") if status == "paid" else None,
        account_ref=account_ref(row, ctx),
    )
    return rec


def payment_status(row: Mapping[str, Any]) -> str:
    """succeeded | failed: a voided (or rejected/declined) customer payment did not bring the money."""
    name = (text(row.get("statusname")) or "").lower()
    if flag(row.get("voided")) or any(w in name for w in ("void", "reject", "declin")):
        return "failed"
    return "succeeded"


def map_payment(row: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    rec, on, total = _transaction(row, ctx, "payment")
    # trandate is a date: the payment is placed at the start of that day in the account's time zone
    paid_at = datetime(on.year, on.month, on.day, tzinfo=ctx.time_zone).astimezone(UTC)
    rec.update(
        amount=round(abs(total), 2),
        currency=currency(row, ctx),
        paid_at=paid_at,
        status=payment_status(row),
        invoice_ref=text(row.get("invoiceid")),
        account_ref=account_ref(row, ctx),
    )
    return rec
