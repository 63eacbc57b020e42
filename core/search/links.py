"""Links out: a search result's page in the system it came from.

Gong gives each call its URL; the others are built from the record as received (``raw``) and the
connector's settings, in the shapes each vendor documents for its web app:

- HubSpot: ``https://app.hubspot.com/contacts/<portal id>/record/<object type id>/<id>`` (companies 0-2,
  deals 0-3, calls 0-48, emails 0-49, meetings 0-47, notes 0-46, tasks 0-27); the portal id is the HubSpot
  connector's ``portal_id`` setting.
- Salesforce: ``<instance URL>/lightning/r/<SObject>/<Id>/view`` (the SObject from the record's
  ``attributes.type``); the instance URL is the connector's ``base_url`` (its My Domain host).
- Slack: the message's ``permalink`` when Slack sent one, else ``<workspace URL>/archives/<channel>/p<ts
  without its dot>`` (the connector's ``workspace_url``), else the web client's thread view for the team.
- NetSuite: ``https://<account>.app.netsuite.com/app/...nl?id=<internal id>`` (customers, invoices,
  payments); the account from the connector's ``account_id``.

A record without what its link needs keeps Sophia's own ``/records/<table>/<id>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import ConfiguredConnector

__all__ = ["LinkBases", "load_link_bases", "vendor_url"]

HUBSPOT_APP = "https://app.hubspot.com"
HUBSPOT_TYPES = {
    "accounts": "0-2",
    "deals": "0-3",
    "call": "0-48",
    "email": "0-49",
    "meeting": "0-47",
    "note": "0-46",
    "task": "0-27",
}
NETSUITE_PAGES = {
    "accounts": "common/entity/custjob.nl",
    "invoices": "accounting/transactions/custinvc.nl",
    "payments": "accounting/transactions/custpymt.nl",
}
SALESFORCE_LOGIN_HOSTS = ("login.salesforce.com", "test.salesforce.com")


@dataclass(frozen=True)
class LinkBases:
    """What links need beyond the record: one per source, from its connector's settings."""

    hubspot_portal: str | None = None
    salesforce_instance: str | None = None
    slack_workspace: str | None = None
    netsuite_account: str | None = None


def load_link_bases(session: Session) -> LinkBases:
    """From the configured connectors (the first of each kind that names what its links need)."""
    found: dict[str, str] = {}
    wanted = {"hubspot": "portal_id", "salesforce": "base_url", "slack": "workspace_url", "netsuite": "account_id"}
    for kind, config in session.execute(select(ConfiguredConnector.kind, ConfiguredConnector.config)):
        value = (config or {}).get(wanted.get(kind, ""))
        if isinstance(value, str | int) and str(value).strip() and kind not in found:
            found[kind] = str(value).strip()
    instance = found.get("salesforce")
    if instance and (urlsplit(instance).hostname or "") in SALESFORCE_LOGIN_HOSTS:
        instance = None  # the login host is not where records are shown
    return LinkBases(found.get("hubspot"), instance, found.get("slack"), found.get("netsuite"))


def vendor_url(*, source: str, table: str | None, kind: str, raw: Mapping[str, Any], bases: LinkBases) -> str | None:
    """The record's page in its source system, or None when it cannot be built."""
    if not isinstance(raw, Mapping):
        return None
    match source:
        case "hubspot":
            return _hubspot(table, kind, raw, bases)
        case "salesforce":
            return _salesforce(raw, bases)
        case "slack":
            return _slack(raw, bases)
        case "netsuite":
            return _netsuite(table, raw, bases)
    return None


def _hubspot(table: str | None, kind: str, raw: Mapping[str, Any], bases: LinkBases) -> str | None:
    type_id = HUBSPOT_TYPES.get(kind if table == "activities" else table or "")
    rid = raw.get("id")
    if not (bases.hubspot_portal and type_id and rid):
        return None
    return f"{HUBSPOT_APP}/contacts/{bases.hubspot_portal}/record/{type_id}/{rid}"


def _salesforce(raw: Mapping[str, Any], bases: LinkBases) -> str | None:
    rid = raw.get("Id")
    attrs = raw.get("attributes")
    if not (bases.salesforce_instance and rid):
        return None
    base = bases.salesforce_instance.rstrip("/")
    sobject = attrs.get("type") if isinstance(attrs, Mapping) else None
    return f"{base}/lightning/r/{sobject}/{rid}/view" if sobject else f"{base}/{rid}"


def _slack(raw: Mapping[str, Any], bases: LinkBases) -> str | None:
    if isinstance(raw.get("permalink"), str) and raw["permalink"].startswith("https://"):
        return raw["permalink"]
    channel, ts = raw.get("channel"), str(raw.get("ts") or "")
    if not (channel and ts):
        return None
    if bases.slack_workspace:
        return f"{bases.slack_workspace.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"
    team = raw.get("team") or raw.get("user_team")
    return f"https://app.slack.com/client/{team}/{channel}/thread/{channel}-{ts}" if team else None


def _netsuite(table: str | None, raw: Mapping[str, Any], bases: LinkBases) -> str | None:
    page = NETSUITE_PAGES.get(table or "")
    rid = raw.get("id")
    if not (bases.netsuite_account and page and rid):
        return None
    host = bases.netsuite_account.strip().lower().replace("_", "-")
    return f"https://{host}.app.netsuite.com/app/{page}?id={rid}"
