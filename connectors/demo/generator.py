"""``generate``: the demo business as batches of records in dependency order, with its planted truth."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

from connectors.demo import accounts, activities, calls, people, pipeline, slack
from connectors.demo.signals import job_change_records
from connectors.demo.sizes import spec_for
from connectors.demo.truth import build_truth
from connectors.demo.world import World, build_world


@dataclass(frozen=True)
class Batch:
    source: str
    entity: str
    records: list[dict]


@dataclass(frozen=True)
class Stream:
    """One entity's records, produced lazily (the text of calls and messages is written on demand)."""

    source: str
    entity: str
    count: int
    records: Callable[[], Iterator[dict]]
    ids: Callable[[], Iterator[str]]  # the records' external ids, without rendering them


@dataclass
class DemoData:
    size: str
    seed: int
    as_of: date
    batches: list[Batch]
    truth: dict
    counts: dict[str, int]


def default_as_of() -> date:
    return datetime.now(UTC).date()


def streams(w: World) -> list[Stream]:
    """Every entity in dependency order: what a record references is ingested before it."""
    seed, clock = w.seed, w.clock
    series = w.volumes.series
    channels = slack.channel_ids(seed)
    eager = {
        "employees": people.employee_records(w.staff),
        "accounts": accounts.account_records(clock, w.accts),
        "contacts": accounts.contact_records(w.accts),
        "deals": pipeline.deal_records(w.deals),
        "invoices": w.ledger.invoices,
        "payments": w.ledger.payments,
        "rent_payment_volumes": w.volumes.records,
        "reviews": people.review_records(staff=w.staff, seed=seed, clock=clock),
        "goals": people.goal_records(staff=w.staff, seed=seed, clock=clock),
        "prospects": w.prospects,
        "job_changes": job_change_records(w.moves),
    }

    def listed(source: str, entity: str) -> Stream:
        records = eager[entity]
        return Stream(source, entity, len(records), lambda: iter(records), lambda: (r["external_id"] for r in records))

    def rendered(source: str, entity: str, plans: list, render: Callable, ext_id: Callable) -> Stream:
        return Stream(
            source, entity, len(plans), lambda: (render(p) for p in plans), lambda: (ext_id(p) for p in plans)
        )

    return [
        listed("lattice", "employees"),
        listed("hubspot", "accounts"),
        listed("hubspot", "contacts"),
        listed("hubspot", "deals"),
        rendered(
            "hubspot", "activities", w.acts, lambda a: activities.activity_record(seed, clock, a), lambda a: a.ext_id
        ),
        rendered(
            "gong",
            "calls",
            w.calls,
            lambda c: calls.call_record(seed, c, series.get(c.acct.ext_id)),
            lambda c: c.ext_id,
        ),
        rendered(
            "slack",
            "slack_messages",
            w.msgs,
            lambda m: slack.slack_record(seed, channels, m),
            lambda m: slack.message_id(channels, m),
        ),
        listed("netsuite", "invoices"),
        listed("netsuite", "payments"),
        listed("platform", "rent_payment_volumes"),
        listed("lattice", "reviews"),
        listed("lattice", "goals"),
        listed("apollo", "prospects"),
        listed("usergems", "job_changes"),
    ]


def plan(*, size: str, seed: int = 42, as_of: date | None = None) -> tuple[World, list[Stream], dict]:
    """The world, its record streams (not yet rendered) and its truth."""
    spec_for(size)  # refuse an unknown size before any work
    w = build_world(size=size, seed=seed, as_of=as_of or default_as_of())
    return w, streams(w), build_truth(w)


def generate(*, size: str, seed: int = 42, as_of: date | None = None) -> DemoData:
    w, parts, truth = plan(size=size, seed=seed, as_of=as_of)
    batches = [Batch(s.source, s.entity, list(s.records())) for s in parts]
    return DemoData(
        size=size,
        seed=seed,
        as_of=w.clock.as_of,
        batches=batches,
        truth=truth,
        counts={s.entity: s.count for s in parts},
    )
