"""Salesforce's shape -> our model. Pure functions over SOQL records as the REST API returns them
(salesforce.md 2): ``{"attributes": {"type", "url"}, "<Field>": value | null, ...}`` with datetimes as
``YYYY-MM-DDThh:mm:ss.000+0000`` (UTC), dates as ``YYYY-MM-DD``, numbers as JSON numbers, parent fields
nested (``"Owner": {"Email": ...}``). A record that cannot be mapped raises RecordError and is quarantined.

Opportunity stages map through ONE table, ``core.metrics.stages`` (Salesforce's default StageName
picklist), in front of which the connector's ``stage_map`` setting puts the org's own stage names; a
stage found in neither falls back to its OpportunityStage row (closed and won, or closed and lost) or
the opportunity's own IsClosed/IsWon, else the deal is quarantined naming the ``stage_map`` entry to add.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import urlsplit

from connectors.base import RecordError
from connectors.base.mapping import (
    as_utc,
    collapse_stages,
    fit,
    parse_day,
    parse_number,
    record_envelope,
    units_and_segment,
)
from connectors.base.mapping import text as plain_text
from core.db import models as m
from core.metrics.stages import BY_NAME, LOST, WON, canonical_stage

SOURCE = "salesforce"

# Key prefixes of the ids a Task/Event points at (salesforce.md 2): only those we store become refs.
ACCOUNT_PREFIX, CONTACT_PREFIX, OPPORTUNITY_PREFIX, USER_PREFIX = "001", "003", "006", "005"

# Account.Type (default picklist) -> our account lifecycle; other values leave it unset.
ACCOUNT_LIFECYCLE: dict[str, str] = {
    "prospect": "prospect",
    "customer": "live",
    "customer - direct": "live",
    "customer - channel": "live",
    "former customer": "churned",
}

# Opportunity.Type (default picklist, plus common additions) -> ours (new | expansion | renewal).
DEAL_TYPES: dict[str, str] = {
    "new customer": "new",
    "new business": "new",
    "existing customer - upgrade": "expansion",
    "existing business": "expansion",
    "upsell": "expansion",
    "expansion": "expansion",
    "renewal": "renewal",
    "existing customer - renewal": "renewal",
}


# ---- context the mapping needs beyond the record --------------------------------------------


@dataclass(frozen=True)
class OpportunityStage:
    label: str
    is_closed: bool
    is_won: bool


@dataclass(frozen=True)
class MappingContext:
    owners: Mapping[str, str] = field(default_factory=dict)  # user id -> email
    stage_map: Mapping[str, str] = field(default_factory=dict)  # org stage name (lower case) -> our stage
    stages: Mapping[str, OpportunityStage] = field(default_factory=dict)  # stage name (lower case) -> its row
    default_currency: str = "USD"  # the org's currency when it is not multi-currency
    units_field: str | None = None  # an Account field holding units managed, if the org has one


def opportunity_stages(rows: list[Mapping[str, Any]]) -> dict[str, OpportunityStage]:
    """``SELECT MasterLabel, IsClosed, IsWon FROM OpportunityStage`` -> stage name -> its row."""
    found = {}
    for row in rows:
        label = text(row.get("MasterLabel"))
        if label:
            found[label.lower()] = OpportunityStage(label, bool(row.get("IsClosed")), bool(row.get("IsWon")))
    return found


def our_stage(name: str, ctx: MappingContext, *, is_closed: bool | None = None, is_won: bool | None = None) -> str:
    """A Salesforce StageName as one of our stages (lead ... closed_lost)."""
    key = name.strip().lower()
    if key in ctx.stage_map:
        return ctx.stage_map[key]
    found = canonical_stage(name, source=SOURCE)
    if found:
        return found
    info = ctx.stages.get(key)
    closed, won = (info.is_closed, info.is_won) if info else (is_closed, is_won)
    if closed:
        return WON if won else LOST
    raise RecordError(
        f"opportunity stage {name!r} maps to none of our stages; "
        f"set stage_map.{name}=<{'|'.join(BY_NAME)}> on the connector"
    )


# ---- value parsing ----------------------------------------------------------------------------


def text(value: Any) -> str | None:
    """A field value as clean text (``plain_text``); a nested record or list where a field belongs is refused."""
    if isinstance(value, Mapping | list):
        raise RecordError(f"expected a text value, got {type(value).__name__}")
    return plain_text(value)


def parse_time(value: Any, what: str) -> datetime | None:
    """A Salesforce datetime (``2024-02-01T09:00:00.000+0000``, UTC) or date (midnight UTC), as UTC."""
    raw = text(value)
    if raw is None:
        return None
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), time(), tzinfo=UTC)
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise RecordError(f"{what}: {raw[:40]!r} is not a date or time") from None
    return as_utc(parsed)


def domain_of(website: Any) -> str | None:
    """``https://www.Acme.com/about`` -> ``acme.com``."""
    raw = text(website)
    if raw is None:
        return None
    host = urlsplit(raw if "://" in raw else f"//{raw}").hostname
    if not host:
        return None
    return host.removeprefix("www.")


def us_state(code: Any, name: Any) -> str | None:
    """BillingStateCode (orgs with state picklists) or a two-letter BillingState."""
    raw = text(code) or text(name)
    if raw and len(raw) == 2 and raw.isalpha():
        return raw.upper()
    return None


def ref(record: Mapping[str, Any], field_name: str, prefix: str | None = None) -> str | None:
    """An id field as a same-source reference, when it points at the object we store under ``prefix``."""
    value = text(record.get(field_name))
    if value is None or (prefix is not None and not value.startswith(prefix)):
        return None
    return value


def owner_email(record: Mapping[str, Any], ctx: MappingContext) -> str | None:
    return ctx.owners.get(text(record.get("OwnerId")) or "")


# ---- records ----------------------------------------------------------------------------------


def envelope(obj: Mapping[str, Any]) -> dict[str, Any]:
    """What every record carries: ids, the source's timestamps, the payload as received."""
    oid = text(obj.get("Id"))
    if oid is None:
        raise RecordError("record has no Id")
    created = parse_time(obj.get("CreatedDate"), "CreatedDate")
    updated = parse_time(obj.get("LastModifiedDate") or obj.get("SystemModstamp"), "LastModifiedDate")
    return record_envelope(oid, obj, created, updated)


def map_account(obj: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    rec = envelope(obj)
    name = text(obj.get("Name"))
    if name is None:
        raise RecordError("account has no Name")
    rec.update(
        name=fit(m.Account, "name", name),
        domain=fit(m.Account, "domain", domain_of(obj.get("Website"))),
        city=fit(m.Account, "city", text(obj.get("BillingCity"))),
        state=us_state(obj.get("BillingStateCode"), obj.get("BillingState")),
        owner=owner_email(obj, ctx),
    )
    lifecycle = ACCOUNT_LIFECYCLE.get((text(obj.get("Type")) or "").lower())
    if lifecycle:
        rec["lifecycle_stage"] = lifecycle
    if ctx.units_field:
        rec.update(units_and_segment(obj.get(ctx.units_field), ctx.units_field))
    return rec


def map_contact(obj: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    rec = envelope(obj)
    email = text(obj.get("Email"))
    if text(obj.get("LastName")) is None and text(obj.get("FirstName")) is None and email is None:
        raise RecordError("contact has neither a name nor an email")
    rec.update(
        first_name=fit(m.Contact, "first_name", text(obj.get("FirstName"))),
        last_name=fit(m.Contact, "last_name", text(obj.get("LastName"))),
        email=fit(m.Contact, "email", email.lower() if email else None),
        title=fit(m.Contact, "title", text(obj.get("Title"))),
        phone=fit(m.Contact, "phone", text(obj.get("Phone")) or text(obj.get("MobilePhone"))),
        account_ref=ref(obj, "AccountId"),
    )
    return rec


HISTORY_KEY = "OpportunityHistories"  # the child relationship name; the connector attaches the rows here


def stage_history(obj: Mapping[str, Any], ctx: MappingContext) -> list[dict[str, Any]] | None:
    """OpportunityHistory rows (one per change of stage, amount, probability or close date) as our
    stages in time order, repeats of one stage collapsed. None when no rows were read."""
    rows = (obj.get(HISTORY_KEY) or {}).get("records") or []
    timed = []
    for row in rows:
        name = text(row.get("StageName"))
        at = parse_time(row.get("CreatedDate"), "OpportunityHistory.CreatedDate")
        if name is None or at is None:
            continue
        timed.append((at, our_stage(name, ctx)))
    # repeats collapse: an amount or date change, or two org stages that are one of ours
    return collapse_stages(timed) or None


def map_opportunity(obj: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    rec = envelope(obj)
    name = text(obj.get("Name"))
    if name is None:
        raise RecordError("opportunity has no Name")
    stage_name = text(obj.get("StageName"))
    if stage_name is None:
        raise RecordError("opportunity has no StageName")
    stage = our_stage(stage_name, ctx, is_closed=obj.get("IsClosed"), is_won=obj.get("IsWon"))
    rec.update(
        name=fit(m.Deal, "name", name),
        stage=stage,
        close_date=parse_day(obj.get("CloseDate"), "CloseDate"),
        owner=owner_email(obj, ctx),
        account_ref=ref(obj, "AccountId"),
    )
    amount = parse_number(obj.get("Amount"), "Amount")
    if amount is not None:
        rec["amount"] = round(amount, 2)
    currency = text(obj.get("CurrencyIsoCode")) or ctx.default_currency
    if not re.fullmatch(r"[A-Za-z]{3}", currency):
        raise RecordError(f"CurrencyIsoCode: {currency[:20]!r} is not a currency code")
    rec["currency"] = currency.upper()
    deal_type = DEAL_TYPES.get((text(obj.get("Type")) or "").lower())
    if deal_type:
        rec["deal_type"] = deal_type
    history = stage_history(obj, ctx)
    if history is not None:
        if history[-1]["stage"] != stage:  # the opportunity changed after the history we read
            history.append({"stage": stage, "entered_at": rec.get("updated_at") or history[-1]["entered_at"]})
        rec["stage_history"] = history
        rec["stage_entered_at"] = history[-1]["entered_at"]
        rec["closed_at"] = history[-1]["entered_at"] if not BY_NAME[stage].is_open else None
    return rec


# ---- activities -----------------------------------------------------------------------------

TASK_TYPES: dict[str, str] = {"email": "email", "listemail": "email", "call": "call", "meeting": "meeting"}


def _activity(
    obj: Mapping[str, Any], ctx: MappingContext, *, kind: str, occurred: datetime | None, status: str | None
) -> dict[str, Any]:
    rec = envelope(obj)
    occurred = occurred or rec.get("created_at")
    if occurred is None:
        raise RecordError(f"{kind} has no date (ActivityDate, CreatedDate)")
    rec.update(
        type=kind,
        subject=fit(m.Activity, "subject", text(obj.get("Subject"))),
        body=text(obj.get("Description")),
        occurred_at=occurred,
        owner=fit(m.Activity, "owner", owner_email(obj, ctx)),
        status=fit(m.Activity, "status", status),
        account_ref=ref(obj, "AccountId") or ref(obj, "WhatId", ACCOUNT_PREFIX),
        contact_ref=ref(obj, "WhoId", CONTACT_PREFIX),
        deal_ref=ref(obj, "WhatId", OPPORTUNITY_PREFIX),
    )
    return rec


def map_task(obj: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    subtype = (text(obj.get("TaskSubtype")) or "").lower()
    kind = TASK_TYPES.get(subtype) or TASK_TYPES.get((text(obj.get("Type")) or "").lower()) or "task"
    occurred = parse_time(obj.get("CompletedDateTime"), "CompletedDateTime") or parse_time(
        obj.get("ActivityDate"), "ActivityDate"
    )
    return _activity(obj, ctx, kind=kind, occurred=occurred, status=text(obj.get("Status")))


def map_event(obj: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    occurred = (
        parse_time(obj.get("StartDateTime"), "StartDateTime")
        or parse_time(obj.get("ActivityDateTime"), "ActivityDateTime")
        or parse_time(obj.get("ActivityDate"), "ActivityDate")
    )
    return _activity(obj, ctx, kind="meeting", occurred=occurred, status=None)
