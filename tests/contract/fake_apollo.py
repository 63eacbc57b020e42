"""A local Apollo.io API speaking the documented shapes (../shared/reference/apollo.md), on 127.0.0.1.

``x-api-key`` auth (401 ``{"error": "Invalid access credentials."}``); people search (``POST
/api/v1/mixed_people/api_search``) over a small people database, with the filters, ``page``/``per_page`` (<= 100),
the ``pagination`` object and api_search's partial people (obfuscated last names, ``has_*`` flags, no emails),
a master key required (403) and the 500-page / 50,000-record cap (scaled down by ``page_cap`` to stay fast:
a page past it is refused with 422); organisation enrichment (``GET /api/v1/organizations/enrich?domain=``,
``{}`` for an unknown domain); plan gating (403 ``API_INACCESSIBLE``). Faults come from ``WireFake``
(429 with ``retry-after``).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.contract.fake_server import Reply, Seen, WireFake
from tests.contract.sync_helpers import configure

PER_PAGE_MAX = 100
PAGE_CAP = 500


@dataclass
class Person:
    id: str
    first_name: str
    last_name: str
    title: str
    seniority: str
    company: str | None
    domain: str | None
    city: str = "Austin"
    state: str = "Texas"


@dataclass
class Org:
    name: str
    domain: str
    employees: int
    industry: str = "real estate"
    technologies: list[str] = field(default_factory=list)


class FakeApollo(WireFake):
    def __init__(
        self, *, api_key: str | None = None, master: bool = True, plan_gated: bool = False, page_cap: int = PAGE_CAP
    ) -> None:
        super().__init__()
        self.api_key = api_key or f"apollo-{uuid.uuid4().hex}"  # a fresh team (rate-limit budget) per fake
        self.master, self.plan_gated, self.page_cap = master, plan_gated, page_cap
        self.people: list[Person] = []
        self.orgs: dict[str, Org] = {}

    @property
    def base_url(self) -> str:
        return f"{self.url}/api/v1"

    def add_person(
        self,
        first: str,
        last: str,
        *,
        title: str,
        company: str | None,
        domain: str | None,
        seniority: str = "vp",
        state: str = "Texas",
    ) -> str:
        pid = uuid.uuid4().hex[:24]
        self.people.append(Person(pid, first, last, title, seniority, company, domain, state=state))
        return pid

    def searches(self) -> list[Seen]:
        return [s for s in self.requests if s.path.endswith("/mixed_people/api_search")]

    def enrichments(self) -> list[Seen]:
        return [s for s in self.requests if s.path.endswith("/organizations/enrich")]

    # ---- the wire -------------------------------------------------------------------------------------

    def authenticate(self, seen: Seen, raw_query: str) -> Reply | None:
        if seen.headers.get("x-api-key") == self.api_key:
            return None
        return 401, {"error": "Invalid access credentials."}, {}

    def fault_body(self, status: int) -> Any:
        if status == 429:
            return {
                "error": "The maximum number of api calls allowed for api/v1/mixed_people/api_search is 200 times "
                "per minute. Please upgrade your plan from https://app.apollo.io/#/settings/plans/upgrade."
            }
        return {"error": f"Something went wrong ({status})"}

    def route(self, seen: Seen) -> Reply:
        if self.plan_gated:
            return (
                403,
                {
                    "error": f"{seen.path.removeprefix('/')} is not accessible with this api_key on a free plan. "
                    "Please upgrade your plan from https://app.apollo.io/ to gain access.",
                    "error_code": "API_INACCESSIBLE",
                },
                {},
            )
        if seen.method == "POST" and seen.path == "/api/v1/mixed_people/api_search":
            return self._search(seen.body if isinstance(seen.body, dict) else {})
        if seen.method == "GET" and seen.path == "/api/v1/organizations/enrich":
            domain = (seen.query.get("domain") or [""])[0]
            org = self.orgs.get(domain)
            return 200, ({"organization": self._org(org)} if org else {}), {}
        return 404, {"error": f"Not found: {seen.method} {seen.path}"}, {}

    def _search(self, body: dict[str, Any]) -> Reply:
        if not self.master:
            return 403, {"error": "api/v1/mixed_people/api_search requires a master API key."}, {}
        page, per_page = body.get("page", 1), body.get("per_page", 10)
        if not isinstance(page, int) or not isinstance(per_page, int) or page < 1 or not 1 <= per_page <= PER_PAGE_MAX:
            return 422, {"error": f"per_page must be between 1 and {PER_PAGE_MAX}, page at least 1"}, {}
        if page > self.page_cap:
            return 422, {"error": f"Value too large: page must be at most {self.page_cap}"}, {}
        found = [p for p in self.people if _matches(p, body)]
        shown = found[(page - 1) * per_page : page * per_page]
        pagination = {
            "page": page,
            "per_page": per_page,
            "total_entries": len(found),
            "total_pages": math.ceil(len(found) / per_page),
        }
        return 200, {"pagination": pagination, "people": [self._partial(p) for p in shown]}, {}

    def _partial(self, p: Person) -> dict[str, Any]:
        """What api_search gives: no email, an obfuscated last name, has_* flags."""
        org: dict[str, Any] = {"has_industry": True, "has_phone": True}
        if p.company is not None:
            org["name"] = p.company
        return {
            "id": p.id,
            "first_name": p.first_name,
            "last_name_obfuscated": f"{p.last_name[:2]}***{p.last_name[-1]}",
            "title": p.title,
            "last_refreshed_at": "2025-05-01T10:00:00.000+00:00",
            "has_email": True,
            "has_city": True,
            "has_state": True,
            "has_country": True,
            "has_direct_phone": "Yes",
            "organization": org,
        }

    @staticmethod
    def _org(org: Org) -> dict[str, Any]:
        return {
            "id": uuid.uuid5(uuid.NAMESPACE_DNS, org.domain).hex[:24],
            "name": org.name,
            "website_url": f"http://www.{org.domain}",
            "primary_domain": org.domain,
            "linkedin_url": f"http://www.linkedin.com/company/{org.domain.split('.')[0]}",
            "industry": org.industry,
            "estimated_num_employees": org.employees,
            "annual_revenue": 25_000_000,
            "founded_year": 2012,
            "city": "Austin",
            "state": "Texas",
            "country": "United States",
            "technology_names": org.technologies,
            "short_description": f"{org.name} manages apartments.",
        }


def _matches(p: Person, body: dict[str, Any]) -> bool:
    titles = [t.lower() for t in body.get("person_titles") or []]
    if titles and not any(t in p.title.lower() for t in titles):
        return False
    if body.get("person_seniorities") and p.seniority not in body["person_seniorities"]:
        return False
    domains = body.get("q_organization_domains_list")
    if domains and p.domain not in domains:
        return False
    keywords = (body.get("q_keywords") or "").lower()
    return not keywords or keywords in f"{p.title} {p.company or ''}".lower()


def populate(fake: FakeApollo, *, people: int = 12) -> None:
    """People at property-management companies (finance and operations leaders); three organisations known to
    enrichment, two of them running a PMS Apollo's technographics name."""
    titles = ["VP Finance", "Controller", "Director of Operations", "VP Operations"]
    for n in range(people):
        fake.add_person(
            f"Pat{n}",
            f"Lee{n:02d}",
            title=titles[n % 4],
            company=f"Property Co {n % 6}",
            domain=f"propco{n % 6}.com",
            seniority="director" if "Director" in titles[n % 4] else "vp",
        )
    fake.orgs = {
        "propco0.com": Org("Property Co 0", "propco0.com", 180, technologies=["Salesforce", "Yardi Voyager"]),
        "propco1.com": Org("Property Co 1", "propco1.com", 45, technologies=["AppFolio", "Gmail"]),
        "propco2.com": Org("Property Co 2", "propco2.com", 900, technologies=["NetSuite"]),
    }


# ---- helpers shared by the Apollo tests ----------------------------------------------------------------

SEARCHES = '[{"person_titles": ["vp"]}, {"person_titles": ["controller", "director"]}]'
TEST_SETTINGS = {
    "per_page": "2",
    "searches": SEARCHES,
    "prospects_refresh_hours": "0",
    "enrich_refresh_days": "0",
    "backoff_initial_s": "0.01",
    "backoff_max_s": "0.05",
    "max_attempts": "3",
}


def add_apollo(runtime: Any, fake: FakeApollo, *, name: str = "ap", **overrides: str) -> None:
    values = {"base_url": fake.base_url, "api_key": fake.api_key, **TEST_SETTINGS, **overrides}
    configure(runtime, kind="apollo", name=name, values=values)
