"""Apollo people -> prospects; organisation enrichment -> a patch of the fields Apollo is authoritative for."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.apollo.client import PLAN_LIMITS, plan_limits
from connectors.apollo.connector import ApolloConfig, _pages, _total
from connectors.apollo.mapping import domain_of, email, map_enrichment, map_prospect, person_name, pms
from connectors.base import RecordError


def test_an_api_search_person_becomes_a_prospect() -> None:
    person = {
        "id": "64a7",
        "first_name": "Dana",
        "last_name_obfuscated": "Sm***h",
        "title": "VP Finance",
        "last_refreshed_at": "2025-05-01T10:00:00.000+00:00",
        "has_email": True,
        "organization": {"name": "Acme Residential", "has_industry": True},
    }
    rec = map_prospect(person)
    assert (rec["external_id"], rec["company_name"], rec["person_name"], rec["title"], rec["email"]) == (
        "64a7",
        "Acme Residential",
        "Dana Sm***h",
        "VP Finance",
        None,
    )
    assert rec["updated_at"] == rec["created_at"] == datetime(2025, 5, 1, 10, tzinfo=UTC)
    assert rec["raw"] == person


def test_a_full_legacy_person_keeps_what_it_has() -> None:
    person = {
        "id": "1",
        "name": "Dana Smith",
        "first_name": "Dana",
        "last_name": "Smith",
        "title": "Controller",
        "email": "Dana@Acme.com",
        "city": "Austin",
        "state": "Texas",
        "organization": {"name": "Acme", "primary_domain": "acme.com", "technology_names": ["Yardi"]},
    }
    rec = map_prospect(person)
    assert (rec["person_name"], rec["email"], rec["city"], rec["state"], rec["domain"], rec["pms"]) == (
        "Dana Smith",
        "dana@acme.com",
        "Austin",
        "TX",
        "acme.com",
        "Yardi",
    )


def test_locked_and_missing_emails_are_none() -> None:
    assert email({"email": "email_not_unlocked@acme.com"}) is None
    assert email({"email": None}) is None and email({}) is None
    assert person_name({"first_name": "Pat"}) == "Pat" and person_name({}) is None


@pytest.mark.parametrize(
    "person", [{"first_name": "x", "organization": {"name": "A"}}, {"id": "2", "organization": {}}]
)
def test_people_without_id_or_company_are_refused(person: dict) -> None:
    with pytest.raises(RecordError):
        map_prospect(person)


def test_domains_are_what_enrichment_takes() -> None:
    assert domain_of("https://www.PropCo1.com/about") == "propco1.com"
    assert domain_of("www.acme.com") == domain_of("acme.com") == "acme.com"
    assert domain_of("localhost") is None and domain_of("") is None and domain_of(None) is None


def test_enrichment_patches_only_the_pms() -> None:
    org = {
        "name": "Acme",
        "estimated_num_employees": 180,
        "industry": "real estate",
        "technology_names": ["Salesforce", "AppFolio"],
    }
    patch = map_enrichment(
        {"target": {"source": "hubspot", "external_id": "c1"}, "domain": "acme.com", "organization": org}
    )
    assert patch == {
        "external_id": "hubspot:c1",
        "target_ref": {"source": "hubspot", "external_id": "c1"},
        "pms": "AppFolio",
    }
    assert pms({"technology_names": ["Gmail"]}) is None and pms({}) is None
    with pytest.raises(RecordError):
        map_enrichment({"target": None, "organization": org})


def test_pagination_is_read_from_either_place() -> None:
    assert _total({"pagination": {"total_entries": 2314, "total_pages": 24}}) == 2314
    assert _pages({"pagination": {"total_entries": 2314, "total_pages": 24}}, 100) == 24
    assert _total({"total_entries": 250, "people": []}) == 250 and _pages({"total_entries": 250}, 100) == 3
    assert _total({"people": []}) is None and _pages({}, 100) is None


def test_plan_limits_are_the_documented_windows_per_team() -> None:
    limits = plan_limits("free", api_key="k1")
    assert [r.rate for r in limits["enrichment"]] == ["50/minute", "200/hour", "600/day"]
    assert [r.rate for r in plan_limits("basic", api_key="k1")["enrichment"]] == ["1000/minute"]
    assert [r.rate for r in plan_limits("basic", api_key="k1")["other"]] == ["200/minute", "400/hour", "2000/day"]
    assert set(PLAN_LIMITS) == {"free", "basic", "organization", "professional"}


def test_config_bounds() -> None:
    with pytest.raises(ValueError):
        ApolloConfig(api_key="k" * 8, per_page=101)
    with pytest.raises(ValueError):
        ApolloConfig(api_key="k" * 8, max_pages=501)
    with pytest.raises(ValueError):
        ApolloConfig(api_key="k" * 8, searches=[{"person_titlez": ["vp"]}])
    assert ApolloConfig(api_key="k" * 8).searches[0].filters()["q_keywords"] == "property management"
