"""The Apollo.io connector: people search -> prospects; organisation enrichment of our own accounts.

prospects. People search is a query over Apollo's database, not a change feed (apollo.md 2.2): a pass runs
each configured search (``searches``: split a wide query into slices - by location, size band, title - to stay
under the cap) page by page, ``per_page`` <= 100, and never past page 500 (results stop at 50,000: a search
that matches more says so in the log). The cursor saves (search, page), so a crash resumes mid-pass. People
are upserted by Apollo id; none is deleted (Apollo's database is not ours: leaving a search is not being
gone, 5). A complete pass is repeated at most every ``prospects_refresh_hours``.

account_enrichment. Reads OUR accounts that have a domain (from every source but Apollo; Connector.local),
in id order, and asks Apollo to enrich each organisation (1 credit each): at most ``enrich_per_run`` per
run, so credits and the enrichment window are spent evenly; the cursor keeps the last account id, and a
full round over the accounts is repeated every ``enrich_refresh_days``. Each result patches only the fields
Apollo is authoritative for (mapping.py), through the ingest path's patch entity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from sqlalchemy import select

from connectors.apollo import mapping
from connectors.apollo.client import DEFAULT_BASE_URL, PAGE_CAP, PER_PAGE_MAX, RESULT_CAP, ApolloClient, Plan
from connectors.base import Checkpoint, Connector, ConnectorConfig, Page, StreamSpec
from core.db import models as m
from core.db.types import utcnow
from core.errors import ConfigError

log = structlog.get_logger(__name__)

ENRICH_BATCH = 10  # organisations per committed page


class PeopleSearch(BaseModel):
    """One slice of the people search (apollo.md 2.1); every field optional, sent as given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    person_titles: list[str] | None = None
    person_seniorities: list[str] | None = None
    person_locations: list[str] | None = None
    q_organization_domains_list: list[str] | None = Field(None, max_length=1000)
    organization_num_employees_ranges: list[str] | None = None
    organization_locations: list[str] | None = None
    contact_email_status: list[str] | None = None
    q_keywords: str | None = None

    def filters(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


DEFAULT_SEARCH = PeopleSearch(
    q_keywords="property management",
    person_seniorities=["owner", "founder", "c_suite", "vp", "director"],
    person_locations=["United States"],
)


class ApolloConfig(ConnectorConfig):
    base_url: str = DEFAULT_BASE_URL
    api_key: SecretStr  # a master key: people search needs one (apollo.md 1)
    plan: Plan = "basic"  # the team's plan: its documented rate limits become the client-side limits
    searches: list[PeopleSearch] = Field(default_factory=lambda: [DEFAULT_SEARCH], min_length=1)
    per_page: int = Field(PER_PAGE_MAX, ge=1, le=PER_PAGE_MAX)
    max_pages: int = Field(PAGE_CAP, ge=1, le=PAGE_CAP)
    prospects_refresh_hours: float = Field(24.0, ge=0, le=24 * 365)
    enrich_per_run: int = Field(100, ge=0, le=100_000)
    enrich_refresh_days: float = Field(30.0, ge=0, le=3650)


class SearchCheckpoint(Checkpoint):
    search: int = 0  # which configured search
    page: int = 1  # the next page of it
    in_pass: bool = False
    last_complete: datetime | None = None


class EnrichCheckpoint(Checkpoint):
    after_id: int = 0  # our account id last enriched in this round
    round_started: datetime | None = None
    last_round: datetime | None = None  # when the last complete round ended


STREAMS = (
    StreamSpec("prospects", "prospects", "Apollo people search results (the configured searches)"),
    StreamSpec("account_enrichment", "account_enrichment", "Apollo organisation enrichment of our accounts"),
)


class ApolloConnector(Connector):
    kind = "apollo"
    label = "Apollo.io"
    source = mapping.SOURCE
    config_model = ApolloConfig

    def __init__(self, config: ApolloConfig, *, name: str) -> None:
        super().__init__(config, name=name)
        self.config: ApolloConfig = config
        self.client = ApolloClient(config=config, api_key=config.api_key.get_secret_value(), plan=config.plan)
        self._enriched = 0  # organisations asked for in this run

    # ---- contract -----------------------------------------------------------------------------

    def streams(self) -> Sequence[StreamSpec]:
        return list(STREAMS)

    def fetch_page(self, stream: StreamSpec, cursor: Mapping[str, Any] | None) -> Page:
        if stream.name == "prospects":
            return self._search(SearchCheckpoint.load(cursor, stream=stream.name) or SearchCheckpoint())
        return self._enrich(EnrichCheckpoint.load(cursor, stream=stream.name) or EnrichCheckpoint())

    def map_record(self, stream: StreamSpec, record: Mapping[str, Any]) -> Mapping[str, Any]:
        if stream.name == "prospects":
            return mapping.map_prospect(record)
        return mapping.map_enrichment(record)

    def external_id(self, stream: StreamSpec, record: Mapping[str, Any]) -> str | None:
        if stream.name == "prospects":
            return mapping.text(record.get("id"))
        target = record.get("target")
        return f"{target.get('source')}:{target.get('external_id')}" if isinstance(target, Mapping) else None

    def check(self) -> str:
        data = self.client.search_people(self.config.searches[0].filters(), page=1, per_page=1)
        total = _total(data)
        return (
            f"Apollo at {self.config.base_url} accepted the API key; people search works "
            f"(the first search matches {total if total is not None else 'an unknown number of'} people)"
        )

    def close(self) -> None:
        self.client.close()

    # ---- prospects ----------------------------------------------------------------------------

    def _search(self, cp: SearchCheckpoint) -> Page:
        if not cp.in_pass:
            due = cp.last_complete is None or utcnow() - cp.last_complete >= timedelta(
                hours=self.config.prospects_refresh_hours
            )
            if not due:
                return Page(records=[], next_cursor=cp, done=True)
            cp = SearchCheckpoint(in_pass=True, last_complete=cp.last_complete)
        search = self.config.searches[min(cp.search, len(self.config.searches) - 1)]
        data = self.client.search_people(search.filters(), page=cp.page, per_page=self.config.per_page)
        people = [p for p in data.get("people") or [] if isinstance(p, dict)]
        total = _total(data)
        if cp.page == 1 and total is not None and total > RESULT_CAP:
            log.warning(
                "apollo.search_capped",
                connector=self.name,
                search=cp.search,
                matches=total,
                reachable=RESULT_CAP,
                hint="split the search (by location, size band or title) into several",
            )
        pages = _pages(data, self.config.per_page)
        limit = self.config.max_pages if pages is None else min(self.config.max_pages, pages)
        last_page = not people or cp.page >= limit or (pages is None and len(people) < self.config.per_page)
        if not last_page:
            nxt = cp.model_copy(update={"page": cp.page + 1})
        elif cp.search + 1 < len(self.config.searches):
            nxt = cp.model_copy(update={"search": cp.search + 1, "page": 1})
        else:
            return Page(records=people, next_cursor=SearchCheckpoint(last_complete=utcnow()), done=True)
        return Page(records=people, next_cursor=nxt, done=False, remaining=total)

    # ---- enrichment ---------------------------------------------------------------------------

    def _enrich(self, cp: EnrichCheckpoint) -> Page:
        if cp.round_started is None:
            due = cp.last_round is None or utcnow() - cp.last_round >= timedelta(days=self.config.enrich_refresh_days)
            if not due:
                return Page(records=[], next_cursor=cp, done=True)
            cp = EnrichCheckpoint(round_started=utcnow(), last_round=cp.last_round)
        room = self.config.enrich_per_run - self._enriched
        if room <= 0:
            return Page(records=[], next_cursor=cp, done=True)  # this run's share is spent; the next goes on
        accounts = self._accounts(after_id=cp.after_id, limit=min(ENRICH_BATCH, room))
        if not accounts:
            return Page(records=[], next_cursor=EnrichCheckpoint(last_round=utcnow()), done=True)
        records = []
        for _account_id, source, external_id, domain in accounts:
            self._enriched += 1
            org = self.client.enrich_organization(domain)
            if org is not None:
                records.append(
                    {"target": {"source": source, "external_id": external_id}, "domain": domain, "organization": org}
                )
        return Page(records=records, next_cursor=cp.model_copy(update={"after_id": accounts[-1][0]}), done=False)

    def _accounts(self, *, after_id: int, limit: int) -> list[tuple[int, str, str, str]]:
        """Our accounts with a usable domain, after ``after_id`` in id order: (id, source, external id, domain)."""
        if self.local is None:
            raise ConfigError("account enrichment reads our accounts: run it through the sync runner")
        found: list[tuple[int, str, str, str]] = []
        with self.local() as session:
            while len(found) < limit:
                rows = (
                    session.execute(
                        select(m.Account.id, m.Account.source, m.Account.external_id, m.Account.domain)
                        .where(m.Account.id > after_id, m.Account.domain.is_not(None), m.Account.source != self.source)
                        .order_by(m.Account.id)
                        .limit(limit)
                    )
                    .tuples()
                    .all()
                )
                if not rows:
                    break
                for account_id, source, external_id, raw_domain in rows:
                    domain = mapping.domain_of(raw_domain)
                    if domain and len(found) < limit:
                        found.append((account_id, source, external_id, domain))
                after_id = rows[-1][0]
        return found


def _total(data: Mapping[str, Any]) -> int | None:
    """``pagination.total_entries`` (documented), or a top-level ``total_entries`` (seen in api_search answers)."""
    pag = data.get("pagination") if isinstance(data.get("pagination"), Mapping) else {}
    value = pag.get("total_entries", data.get("total_entries"))
    return int(value) if isinstance(value, int | float | str) and str(value).isdigit() else None


def _pages(data: Mapping[str, Any], per_page: int) -> int | None:
    pag = data.get("pagination") if isinstance(data.get("pagination"), Mapping) else {}
    if str(pag.get("total_pages", "")).isdigit():
        return int(pag["total_pages"])
    total = _total(data)
    return None if total is None else -(-total // per_page)
