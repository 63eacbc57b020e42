"""UserGems job changes -> our ``job_changes``: from its Salesforce records, and from a CSV export.

``contact_ref`` / ``account_ref`` point at the person's PAST contact and account (UserGems' "Past
Contact" / "Past Account" lookups), as records of the Salesforce source: ``{"source": "salesforce",
"external_id": <Salesforce Id>}``. So a job change links to the champion and the customer account the
Salesforce connector brought in; ``previous_company`` is the company they left, ``new_company`` where
they went.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.base import RecordError
from connectors.base.mapping import as_utc
from connectors.salesforce import mapping as sf
from connectors.usergems.client import value_at
from core.db import models as m

SOURCE = "usergems"
SALESFORCE = sf.SOURCE
ID_PATTERN = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")  # a Salesforce id, 15 or 18 characters


def salesforce_ref(value: Any, prefix: str) -> dict[str, str] | None:
    """A cross-source reference to a Salesforce record, when ``value`` is an id of the right object."""
    raw = sf.text(value)
    if raw is None or not ID_PATTERN.match(raw) or not raw.startswith(prefix):
        return None
    return {"source": SALESFORCE, "external_id": raw}


def job_change(
    *,
    external_id: str,
    raw: Mapping[str, Any],
    person_name: Any,
    detected_at: datetime | None,
    email: Any = None,
    previous_company: Any = None,
    previous_title: Any = None,
    new_company: Any = None,
    new_title: Any = None,
    past_contact_id: Any = None,
    past_account_id: Any = None,
) -> dict[str, Any]:
    """One job change in our shape, whichever way it arrived."""
    name = sf.text(person_name)
    if name is None:
        raise RecordError("job change has no person name")
    if detected_at is None:
        raise RecordError("job change has no date")
    mail = sf.text(email)
    return {
        "external_id": external_id,
        "raw": dict(raw),
        "person_name": sf.fit(m.JobChange, "person_name", name),
        "email": sf.fit(m.JobChange, "email", mail.lower() if mail else None),
        "previous_company": sf.fit(m.JobChange, "previous_company", sf.text(previous_company)),
        "previous_title": sf.fit(m.JobChange, "previous_title", sf.text(previous_title)),
        "new_company": sf.fit(m.JobChange, "new_company", sf.text(new_company)),
        "new_title": sf.fit(m.JobChange, "new_title", sf.text(new_title)),
        "detected_at": detected_at,
        "contact_ref": salesforce_ref(past_contact_id, sf.CONTACT_PREFIX),
        "account_ref": salesforce_ref(past_account_id, sf.ACCOUNT_PREFIX),
    }


# ---- from Salesforce ------------------------------------------------------------------------------


def map_salesforce(obj: Mapping[str, Any], fields: Mapping[str, str]) -> dict[str, Any]:
    """A record of the UserGems object (or a UG-marked Lead/Contact) read with the resolved ``fields``."""
    envelope = sf.envelope(obj)

    def get(ours: str) -> Any:
        return value_at(obj, fields[ours]) if ours in fields else None

    detected = sf.parse_time(get("detected_at"), fields.get("detected_at", "detected_at"))
    rec = job_change(
        external_id=envelope["external_id"],
        raw=envelope["raw"],
        person_name=get("person_name"),
        detected_at=detected or envelope.get("created_at"),
        email=get("email"),
        previous_company=get("previous_company"),
        previous_title=get("previous_title"),
        new_company=get("new_company"),
        new_title=get("new_title"),
        past_contact_id=get("past_contact_id"),
        past_account_id=get("past_account_id"),
    )
    for stamp in ("created_at", "updated_at"):
        if stamp in envelope:
            rec[stamp] = envelope[stamp]
    return rec


# ---- from a CSV export --------------------------------------------------------------------------------

# Our field -> the column headers that carry it (compared lower case, punctuation as spaces). A UserGems
# CSV export of job changes is unconfirmed (usergems.md 3): these are the names its web app and
# Salesforce labels use, and the obvious variants.
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("usergems id", "job change id", "record id", "salesforce id", "id"),
    "person_name": ("full name", "name", "person name", "contact name"),
    "first_name": ("first name",),
    "last_name": ("last name",),
    "email": ("email", "new email", "work email", "email address"),
    "previous_company": ("past company", "previous company", "old company", "past account name", "past account"),
    "previous_title": ("past title", "previous title", "old title"),
    "new_company": ("new company", "current company", "company", "new account name", "new account"),
    "new_title": ("new title", "current title", "title"),
    "detected_at": ("job change date", "date of job change", "detected at", "detected date", "date detected", "date"),
    "past_contact_id": ("past contact id", "salesforce contact id", "contact id", "ug past contact"),
    "past_account_id": ("past account id", "salesforce account id", "account id", "ug past account"),
}
# what a file must have: a name (one column, or first and last), the new company, the date
CSV_REQUIRED: tuple[tuple[str, ...], ...] = (
    ("person_name", "first_name+last_name"),
    ("new_company",),
    ("detected_at",),
)
CSV_DATE_FORMATS = ("%m/%d/%Y", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%y", "%b %d, %Y", "%d %b %Y")


def header_key(header: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", header.lower()).split())


def csv_columns(headers: list[str]) -> tuple[dict[str, str], list[str]]:
    """Our field -> the file's header for it, and the requirements the file does not meet (as text)."""
    by_key = {header_key(h): h for h in headers if h is not None}
    columns = {}
    for ours, names in CSV_COLUMNS.items():
        header = next((by_key[n] for n in names if n in by_key), None)
        if header is not None:
            columns[ours] = header
    missing = []
    for options in CSV_REQUIRED:
        if not any(all(part in columns for part in option.split("+")) for option in options):
            missing.append(
                " or ".join(
                    " and ".join(CSV_COLUMNS[part][0].title() for part in option.split("+")) for option in options
                )
            )
    return columns, missing


def parse_csv_time(value: Any, what: str) -> datetime | None:
    """ISO dates and times, or US-style dates (MM/DD/YYYY); a time without a zone is taken as UTC."""
    raw = sf.text(value)
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
        for fmt in CSV_DATE_FORMATS:
            try:
                parsed = datetime.strptime(raw, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        raise RecordError(f"{what}: {raw[:40]!r} is not a date")
    return as_utc(parsed)


def map_csv_row(row: Mapping[str, Any], columns: Mapping[str, str], *, line: int) -> dict[str, Any]:
    def get(ours: str) -> Any:
        return row.get(columns[ours]) if ours in columns else None

    name = sf.text(get("person_name")) or " ".join(
        p for p in (sf.text(get("first_name")), sf.text(get("last_name"))) if p
    )
    detected = parse_csv_time(get("detected_at"), columns.get("detected_at", "date"))
    external_id = sf.text(get("id")) or csv_id(name, get("email"), get("new_company"), detected)
    raw = {"line": line, **{k: v for k, v in row.items() if k is not None}}
    return job_change(
        external_id=external_id,
        raw=raw,
        person_name=name or None,
        detected_at=detected,
        email=get("email"),
        previous_company=get("previous_company"),
        previous_title=get("previous_title"),
        new_company=get("new_company"),
        new_title=get("new_title"),
        past_contact_id=get("past_contact_id"),
        past_account_id=get("past_account_id"),
    )


def csv_id(name: str | None, email: Any, new_company: Any, detected: datetime | None) -> str:
    """A stable id for a row without one: the same job change imported twice is one record."""
    who = (sf.text(email) or name or "").lower()
    key = "|".join((who, (sf.text(new_company) or "").lower(), detected.date().isoformat() if detected else ""))
    return "csv:" + hashlib.sha256(key.encode()).hexdigest()[:24]
