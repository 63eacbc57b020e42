"""The page a person reads: weak filler dropped, sources mixed, links out to every source system, Slack
mentions as names."""

from __future__ import annotations

from core.search.documents import slack_readable
from core.search.fusion import Ranked, above_floor, diversify, jaccard, shingles
from core.search.links import LinkBases, vendor_url

BASES = LinkBases(
    hubspot_portal="4417012",
    salesforce_instance="https://payready.my.salesforce.com",
    slack_workspace="https://payready.slack.com/",
    netsuite_account="1234567_SB1",
)


def _r(doc: int, fused: float, source: str = "hubspot", boost: float = 0.0) -> Ranked:
    return Ranked(doc, fused + boost, chunk_id=doc, fused=fused, source=source)


def test_weak_filler_below_the_relative_floor_is_not_shown_but_identifier_matches_are() -> None:
    ranked = [_r(1, 0.12), _r(2, 0.05), _r(3, 0.02), _r(4, 0.01, boost=1.0)]
    assert [r.document_id for r in above_floor(ranked, 0.3)] == [1, 2, 4]
    assert above_floor([], 0.3) == []


def test_documents_close_to_the_query_on_the_vector_side_stay_unless_an_identifier_was_found() -> None:
    def near(doc: int, fused: float, rank: int, similarity: float, boost: float = 0.0) -> Ranked:
        return Ranked(doc, fused + boost, doc, vector_rank=rank, fused=fused, similarity=similarity)

    ranked = [near(1, 0.12, 1, 0.55), near(2, 0.02, 4, 0.52), near(3, 0.02, 5, 0.30), near(4, 0.01, 30, 0.54)]
    assert [r.document_id for r in above_floor(ranked, 0.3)] == [1, 2]
    with_identifier = [near(1, 0.12, 1, 0.55, boost=1.0)] + ranked[1:]
    assert [r.document_id for r in above_floor(with_identifier, 0.3)] == [1]


def test_no_source_fills_the_page_while_others_have_results() -> None:
    ranked = [_r(i, 1 - i / 100, "hubspot") for i in range(1, 10)] + [_r(20, 0.5, "gong"), _r(21, 0.4, "slack")]
    page = diversify(ranked, limit=10)
    assert [r.document_id for r in page] == [1, 2, 3, 4, 5, 6, 7, 8, 20, 21]  # hubspot's 9th waits for the others
    assert [r.document_id for r in diversify(ranked[:3], limit=10)] == [1, 2, 3]  # one source alone: all shown


def test_templated_texts_are_near_duplicates_and_different_texts_are_not() -> None:
    template = (
        "Customer {name} complained that {n} ACH payments failed this week with R01 returns. Residents were "
        "charged late fees; the property manager asked us to waive them and to explain the retry schedule."
    )
    a = shingles(template.format(name="Harbor Point Living", n=14))
    b = shingles(template.format(name="Quarry Housing Partners", n=3))
    other = shingles("Escalation call: the ACH processor rejected a batch and the customer threatened to churn.")
    assert jaccard(a, b) >= 0.5 > jaccard(a, other)


def test_links_out_to_each_source_system() -> None:
    hubspot = vendor_url(source="hubspot", table="deals", kind="deal", raw={"id": "9912"}, bases=BASES)
    assert hubspot == "https://app.hubspot.com/contacts/4417012/record/0-3/9912"
    note = vendor_url(source="hubspot", table="activities", kind="note", raw={"id": "77"}, bases=BASES)
    assert note == "https://app.hubspot.com/contacts/4417012/record/0-46/77"
    sf_raw = {"attributes": {"type": "Opportunity"}, "Id": "006RO00000A1b2cYAB"}
    assert (
        vendor_url(source="salesforce", table="deals", kind="deal", raw=sf_raw, bases=BASES)
        == "https://payready.my.salesforce.com/lightning/r/Opportunity/006RO00000A1b2cYAB/view"
    )
    slack_raw = {"channel": "C0EOYG3UEXX", "ts": "1772725766.000357"}
    assert (
        vendor_url(source="slack", table="slack_messages", kind="slack_thread", raw=slack_raw, bases=BASES)
        == "https://payready.slack.com/archives/C0EOYG3UEXX/p1772725766000357"
    )
    permalink = {**slack_raw, "permalink": "https://acme.slack.com/archives/C0EOYG3UEXX/p1772725766000357"}
    assert (
        vendor_url(source="slack", table="slack_messages", kind="x", raw=permalink, bases=LinkBases())
        == (permalink["permalink"])
    )
    assert (
        vendor_url(source="netsuite", table="invoices", kind="invoice", raw={"id": "8841"}, bases=BASES)
        == "https://1234567-sb1.app.netsuite.com/app/accounting/transactions/custinvc.nl?id=8841"
    )


def test_without_what_a_link_needs_there_is_no_vendor_link() -> None:
    none = LinkBases()
    assert vendor_url(source="hubspot", table="deals", kind="deal", raw={"id": "1"}, bases=none) is None
    assert vendor_url(source="netsuite", table="invoices", kind="invoice", raw={}, bases=BASES) is None
    assert vendor_url(source="slack", table="slack_messages", kind="x", raw={"channel": "C1"}, bases=BASES) is None
    assert vendor_url(source="lattice", table="reviews", kind="review", raw={"id": "1"}, bases=BASES) is None


def test_slack_mentions_read_as_names() -> None:
    people = {"U061F7AUR": "Dana Whitfield"}
    text = "<@U061F7AUR> any movement? cc <@U999|jo.bloggs> and <@U000> in <#C0EOYG3UEXX|cs-escalations>"
    assert slack_readable(text, people) == "@Dana Whitfield any movement? cc @jo.bloggs and @U000 in #cs-escalations"
