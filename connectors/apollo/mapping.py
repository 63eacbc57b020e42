"""Apollo's shape -> our model (apollo.md 2). Pure functions.

- A person of a people search -> a prospect. ``api_search`` returns partial people: first name, an obfuscated
  last name (``Sm***h``), title, ``has_*`` flags and the organisation's name, but no email or phone (2.2); the
  legacy search returned full people with locked emails (``email_not_unlocked@domain.com``). Both are read;
  a locked or absent email is stored as none, an obfuscated last name as Apollo gives it.
- An organisation enrichment -> a patch of the enriched account with the fields Apollo is authoritative for.
  Apollo's firmographics (employee count, industry, revenue) have no column in our accounts yet; the one it
  gives that we keep is the property-management system the company runs, read from its technographics
  (``technology_names``). The CRM stays the owner of everything else (name, domain, owner, lifecycle).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from connectors.base import RecordError
from connectors.base.mapping import as_utc, fit, record_envelope, text, us_state
from core.db import models as m

SOURCE = "apollo"
LOCKED_EMAIL = "email_not_unlocked"
# property-management systems as Apollo's technographics name them, lower-case -> the name we store
PMS_NAMES: dict[str, str] = {
    "yardi": "Yardi",
    "yardi voyager": "Yardi",
    "yardi breeze": "Yardi",
    "realpage": "RealPage",
    "onesite": "RealPage",
    "appfolio": "AppFolio",
    "entrata": "Entrata",
    "buildium": "Buildium",
    "rent manager": "Rent Manager",
    "resman": "ResMan",
    "mri software": "MRI Software",
    "propertyware": "Propertyware",
    "rentvine": "Rentvine",
    "rentec direct": "Rentec Direct",
}


def domain_of(value: Any) -> str | None:
    """``https://www.Acme.com/about`` / ``www.acme.com`` / ``acme.com`` -> ``acme.com`` (what enrichment takes:
    no protocol, no ``www.``, 2.4)."""
    raw = text(value)
    if raw is None:
        return None
    host = urlsplit(raw if "//" in raw else f"//{raw}").hostname
    if not host or "." not in host:
        return None
    return host.lower().removeprefix("www.")


def timestamp(value: Any) -> datetime | None:
    raw = text(value)
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return as_utc(parsed)


def person_name(person: Mapping[str, Any]) -> str | None:
    full = text(person.get("name"))
    if full:
        return full
    last = text(person.get("last_name")) or text(person.get("last_name_obfuscated"))
    return " ".join(p for p in (text(person.get("first_name")), last) if p) or None


def email(person: Mapping[str, Any]) -> str | None:
    found = text(person.get("email"))
    if found is None or "@" not in found or found.lower().startswith(LOCKED_EMAIL):
        return None
    return found.lower()


def map_prospect(person: Mapping[str, Any]) -> dict[str, Any]:
    pid = text(person.get("id"))
    if pid is None:
        raise RecordError("person has no id")
    org = person.get("organization") if isinstance(person.get("organization"), Mapping) else {}
    company = text(org.get("name")) or text(person.get("organization_name"))
    if company is None:
        raise RecordError("person has no organization name")
    # Apollo says when it last refreshed the person, not when the person was created: both times take it
    # (a time ingest would otherwise set to "now" on every pass)
    refreshed = timestamp(person.get("last_refreshed_at") or person.get("updated_at"))
    rec = record_envelope(pid, person, refreshed, refreshed)
    rec.update(
        company_name=fit(m.Prospect, "company_name", company),
        domain=fit(m.Prospect, "domain", domain_of(org.get("primary_domain")) or domain_of(org.get("website_url"))),
        person_name=fit(m.Prospect, "person_name", person_name(person)),
        title=fit(m.Prospect, "title", text(person.get("title"))),
        email=fit(m.Prospect, "email", email(person)),
        city=fit(m.Prospect, "city", text(person.get("city"))),
        state=us_state(person.get("state")),  # Apollo gives state names; Prospect.state holds the code
        pms=pms(org),
    )
    return rec


def pms(org: Mapping[str, Any]) -> str | None:
    """The property-management system among the organisation's technologies, if Apollo lists one."""
    for name in org.get("technology_names") or []:
        found = PMS_NAMES.get(str(name).strip().lower())
        if found:
            return found
    return None


def map_enrichment(item: Mapping[str, Any]) -> dict[str, Any]:
    """``{"target": {"source", "external_id"}, "domain", "organization": {...}}`` (the connector pairs each
    organisation with the account it enriches) -> a patch of that account."""
    target = item.get("target")
    org = item.get("organization")
    if not isinstance(target, Mapping) or not isinstance(org, Mapping):
        raise RecordError("enrichment has no target account or no organization")
    return {
        "external_id": f"{target.get('source')}:{target.get('external_id')}",
        "target_ref": {"source": str(target["source"]), "external_id": str(target["external_id"])},
        "pms": fit(m.Account, "pms", pms(org)),
    }
