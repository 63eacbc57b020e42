"""Results link out to every source system (built from each record's raw payload and its connector's
settings), and Slack mentions read as names, through the real ingest, indexing and search path."""

from __future__ import annotations

from datetime import UTC, datetime

from core.auth import Identity
from core.db.models import ConfiguredConnector
from core.ingest import ingest_records
from core.runtime import Runtime
from core.search.embeddings import make_embedder
from core.search.indexing import index_records
from core.search.service import get_document, search

ADMIN = Identity("admin", "admin", "cli")
AT = datetime(2026, 2, 3, 15, 0, tzinfo=UTC)


def _ingest(rt: Runtime) -> None:
    with rt.session() as s:
        s.add_all(
            [
                ConfiguredConnector(name="crm", kind="hubspot", config={"portal_id": "4417012"}),
                ConfiguredConnector(
                    name="sf", kind="salesforce", config={"base_url": "https://payready.my.salesforce.com"}
                ),
                ConfiguredConnector(name="chat", kind="slack", config={"workspace_url": "https://payready.slack.com"}),
                ConfiguredConnector(name="erp", kind="netsuite", config={"account_id": "1234567_SB1"}),
            ]
        )
        ingest_records(
            session=s,
            source="hubspot",
            entity="deals",
            records=[
                {
                    "external_id": "9912",
                    "name": "Okapi expansion",
                    "stage": "proposal",
                    "amount": 1000,
                    "raw": {"id": "9912"},
                }
            ],
        )
        ingest_records(
            session=s,
            source="salesforce",
            entity="deals",
            records=[
                {
                    "external_id": "006RO00000A1b2cYAB",
                    "name": "Narwhal renewal",
                    "stage": "proposal",
                    "amount": 500,
                    "raw": {"attributes": {"type": "Opportunity"}, "Id": "006RO00000A1b2cYAB"},
                }
            ],
        )
        ingest_records(
            session=s,
            source="slack",
            entity="slack_messages",
            records=[
                {
                    "external_id": "C0ESC:1772725766.000357",
                    "channel_id": "C0ESC",
                    "channel": "cs-escalations",
                    "ts": "1772725766.000357",
                    "user_id": "U01DANA",
                    "user_name": "Dana Whitfield",
                    "text": "Axolotl outage: posting delayed again.",
                    "posted_at": AT,
                },
                {
                    "external_id": "C0ESC:1772725800.000400",
                    "channel_id": "C0ESC",
                    "channel": "cs-escalations",
                    "ts": "1772725800.000400",
                    "thread_ts": "1772725766.000357",
                    "user_id": "U02JO",
                    "user_name": "Jo Wheeler",
                    "text": "<@U01DANA> I'll call them about the axolotl outage.",
                    "posted_at": AT,
                },
            ],
        )


def test_results_link_to_their_pages_in_hubspot_salesforce_and_slack(runtime: Runtime) -> None:
    _ingest(runtime)
    embedder = make_embedder(runtime.settings)
    index_records(runtime=runtime, embedder=embedder)

    def first(query: str):  # noqa: ANN202
        return search(runtime=runtime, embedder=embedder, backend=None, identity=ADMIN, query=query).results[0]

    assert first("Okapi").url == "https://app.hubspot.com/contacts/4417012/record/0-3/9912"
    assert first("Narwhal").url == "https://payready.my.salesforce.com/lightning/r/Opportunity/006RO00000A1b2cYAB/view"
    thread = first("axolotl outage")
    assert thread.url == "https://payready.slack.com/archives/C0ESC/p1772725766000357"
    assert "@Dana Whitfield" in get_document(runtime=runtime, identity=ADMIN, doc_id=thread.doc_id).text
    assert "<@" not in thread.snippet
    assert first("Dana Whitfield").doc_id == thread.doc_id  # the mention is findable by the name
