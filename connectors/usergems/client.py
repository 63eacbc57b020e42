"""Where UserGems data lives in a Salesforce org, and which of its fields we read.

UserGems has no read API (usergems.md 1): it delivers each job change into the customer's Salesforce,
as a record of its managed package's custom object "UserGems" (one per job-change event, linking the
past contact, past account and the new lead/contact) and as ``UG - `` fields on Leads and Contacts
(usergems.md 2). It is read through the Salesforce client (``connectors.salesforce``) of the same org.

The API names are not documented. UserGems' permission guide names the package's API prefix
``UserGems__``; the object's own field names, and the API names admins gave the ``UG - `` fields
(typically ``UG_...__c``), are **unconfirmed**. So each of our fields has candidates, tried in order
against the object's describe, and every one can be set explicitly (``fields.<ours>=<API name>``,
relationship paths such as ``Account.Name`` allowed). The same reader also serves the other delivery
path: ``object=Contact`` (or ``Lead``) with ``where=UG_Past_Contact__c != null`` reads the new records
UserGems created, whose ``UG - Past Contact/Account`` lookups say where the person came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import Action, ConnectorError, Kind

DEFAULT_OBJECT = "UserGems__UserGems__c"  # the package's "UserGems" object, namespace-prefixed (unconfirmed)

# Our field -> candidate API names, best first. "{past_contact}" and the like stand for the relationship
# name of the lookup resolved for that field (``UserGems__Past_Contact__c`` -> ``UserGems__Past_Contact__r``).
CANDIDATES: dict[str, tuple[str, ...]] = {
    "past_contact_id": (
        "UserGems__Past_Contact__c",
        "UserGems__PastContact__c",
        "UG_Past_Contact__c",
        "Past_Contact__c",
    ),
    "past_account_id": (
        "UserGems__Past_Account__c",
        "UserGems__PastAccount__c",
        "UG_Past_Account__c",
        "Past_Account__c",
    ),
    "new_account_id": ("UserGems__New_Account__c", "UserGems__NewAccount__c", "UG_New_Account__c", "AccountId"),
    "person_name": (
        "UserGems__Full_Name__c",
        "UserGems__Name__c",
        "UserGems__Person_Name__c",
        "Full_Name__c",
        "{past_contact}.Name",
        "Name",
    ),
    "email": ("UserGems__Email__c", "UserGems__New_Email__c", "Email__c", "Email"),
    "new_company": (
        "UserGems__New_Company__c",
        "UserGems__Company__c",
        "New_Company__c",
        "{new_account}.Name",
        "Company",
    ),
    "new_title": ("UserGems__New_Title__c", "UserGems__Title__c", "New_Title__c", "Title"),
    "previous_company": (
        "UserGems__Past_Company__c",
        "UserGems__Previous_Company__c",
        "Past_Company__c",
        "{past_account}.Name",
    ),
    "previous_title": (
        "UserGems__Past_Title__c",
        "UserGems__Previous_Title__c",
        "Past_Title__c",
        "{past_contact}.Title",
    ),
    "detected_at": (
        "UserGems__Job_Change_Date__c",
        "UserGems__Date__c",
        "UserGems__Detected_Date__c",
        "Job_Change_Date__c",
        "CreatedDate",
    ),
    # no column of ours; read so the stored payload (raw) keeps them
    "relationship_type": (
        "UserGems__Past_Relationship_Type__c",
        "UG_Past_Relationship_Type__c",
        "Past_Relationship_Type__c",
    ),
    "persona": ("UserGems__Persona__c", "UG_Persona__c", "Persona__c"),
}
REQUIRED = ("person_name", "detected_at")
PLACEHOLDERS = {"past_contact": "past_contact_id", "past_account": "past_account_id", "new_account": "new_account_id"}


def resolve_fields(describe: Mapping[str, Any], overrides: Mapping[str, str], *, sobject: str) -> dict[str, str]:
    """Our field -> the API name (or relationship path) to read it from, for this object as the
    integration user sees it. Raises a ConnectorError naming what is missing and how to set it."""
    fields = [f for f in describe.get("fields") or [] if f.get("name")]
    names = {f["name"] for f in fields}
    relation_of = {f["name"]: f.get("relationshipName") for f in fields if f.get("relationshipName")}
    relations = set(relation_of.values())

    def visible(path: str) -> bool:
        head, _, rest = path.partition(".")
        return head in relations if rest else path in names

    found: dict[str, str] = {}
    for ours, candidates in CANDIDATES.items():
        if ours in overrides:
            chosen = overrides[ours]
            if not visible(chosen):
                raise ConnectorError(
                    f"UserGems: {sobject} has no field {chosen} visible to the integration user (set as fields.{ours})",
                    action=Action.FAIL,
                    kind=Kind.CREDENTIALS,
                )
            found[ours] = chosen
            continue
        for candidate in candidates:
            path = _expand(candidate, found, relation_of)
            if path is not None and visible(path):
                found[ours] = path
                break
    missing = [ours for ours in REQUIRED if ours not in found]
    if missing:
        ours = missing[0]
        raise ConnectorError(
            f"UserGems: {sobject} has none of the fields we read {ours} from "
            f"({', '.join(CANDIDATES[ours])}); set fields.{ours}=<API name> on the connector",
            action=Action.FAIL,
            kind=Kind.OUR_BUG,
        )
    return found


def _expand(candidate: str, found: Mapping[str, str], relation_of: Mapping[str, str]) -> str | None:
    if not candidate.startswith("{"):
        return candidate
    key, _, rest = candidate[1:].partition("}")
    lookup = found.get(PLACEHOLDERS[key])
    relation = relation_of.get(lookup) if lookup else None
    return f"{relation}{rest}" if relation else None


def value_at(record: Mapping[str, Any], path: str) -> Any:
    """A field of a SOQL record, following parent relationships (``Account.Name`` -> nested objects)."""
    current: Any = record
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current
