"""Loading the demo through the ingest path, and checking its planted truth with independent SQL.

Each of the nine truths is recomputed here from the tables with its own query (never with the
generator's helpers) and must equal the stored truth exactly.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import aliased

from connectors.demo import demo_loaded, generate, get_truth, load_demo
from core.db import models as m
from core.errors import InvalidInput

AS_OF = date(2026, 3, 15)
COMPETITORS = ("ClickPay", "Zego", "RentCafe Payments", "Rentec Direct", "PayLease")
TABLES = {
    "employees": m.Employee,
    "accounts": m.Account,
    "contacts": m.Contact,
    "deals": m.Deal,
    "activities": m.Activity,
    "calls": m.Call,
    "slack_messages": m.SlackMessage,
    "invoices": m.Invoice,
    "payments": m.Payment,
    "rent_payment_volumes": m.RentPaymentVolume,
    "reviews": m.Review,
    "goals": m.Goal,
    "prospects": m.Prospect,
    "job_changes": m.JobChange,
}


def _now(as_of: date) -> datetime:
    return datetime.combine(as_of, time(0), tzinfo=UTC)


def _month(as_of: date, back: int) -> date:
    y, mo = divmod(as_of.month - 1 - back, 12)
    return date(as_of.year + y, mo + 1, 1)


# ---- the nine rules, as SQL over the tables --------------------------------------------------------


def q_stalled_deals(s, as_of):
    cutoff = _now(as_of) - timedelta(days=21)
    rows = s.execute(
        select(m.Deal.external_id).where(
            m.Deal.stage.notin_(("closed_won", "closed_lost")), m.Deal.stage_entered_at <= cutoff
        )
    )
    return {r[0] for r in rows}


def q_payment_volume_drops(s, as_of):
    last, prior = aliased(m.RentPaymentVolume), aliased(m.RentPaymentVolume)
    months = [_month(as_of, k) for k in (2, 3, 4)]
    stats = (
        select(prior.account_id, func.avg(prior.volume).label("avg"), func.count().label("n"))
        .where(prior.month.in_(months))
        .group_by(prior.account_id)
        .subquery()
    )
    rows = s.execute(
        select(m.Account.external_id)
        .join(last, last.account_id == m.Account.id)
        .join(stats, stats.c.account_id == last.account_id)
        .where(last.month == _month(as_of, 1), stats.c.n == 3, last.volume < 0.85 * stats.c.avg)
    )
    return {r[0] for r in rows}


def q_high_failure_rate(s, as_of):
    v = m.RentPaymentVolume
    rows = s.execute(
        select(m.Account.external_id)
        .join(v, v.account_id == m.Account.id)
        .where(v.month == _month(as_of, 1), v.payments_count > 0, v.failed_count * 100 > v.payments_count * 5)
    )
    return {r[0] for r in rows}


def _window_counts(s, column, account_id, now, extra=None):
    start, mid = now - timedelta(days=120), now - timedelta(days=60)
    before = and_(column >= start, column < mid)
    recent = and_(column >= mid, column < now)
    cols = [account_id, func.sum(case((before, 1), else_=0)), func.sum(case((recent, 1), else_=0))]
    if extra is not None:
        cols += [func.avg(case((before, extra))), func.avg(case((recent, extra)))]
    return {r[0]: r[1:] for r in s.execute(select(*cols).where(account_id.is_not(None)).group_by(account_id))}


def q_declining_engagement(s, as_of):
    now = _now(as_of)
    calls = _window_counts(s, m.Call.started_at, m.Call.account_id, now, extra=m.Call.sentiment)
    acts = _window_counts(s, m.Activity.occurred_at, m.Activity.account_id, now)
    found = set()
    for account_id, (c_before, c_recent, s_before, s_recent) in calls.items():
        a_before, a_recent = acts.get(account_id, (0, 0))
        if c_before and c_recent and s_recent < s_before and c_recent + a_recent < c_before + a_before:
            found.add(account_id)
    if not found:
        return set()
    return {r[0] for r in s.execute(select(m.Account.external_id).where(m.Account.id.in_(found)))}


def q_champions_left(s, as_of):
    rows = s.execute(
        select(m.Contact.external_id)
        .join(m.JobChange, m.JobChange.contact_id == m.Contact.id)
        .join(m.Account, m.Account.id == m.Contact.account_id)
        .where(m.Contact.is_champion.is_(True), m.JobChange.new_company != m.Account.name)
    )
    return {r[0] for r in rows}


def q_chronic_late_payers(s, as_of):
    inv = m.Invoice
    ranked = (
        select(
            inv.account_id,
            inv.paid_on,
            inv.due_on,
            inv.status,
            func.row_number().over(partition_by=inv.account_id, order_by=inv.period_start.desc()).label("rn"),
        )
        .where(inv.kind == "subscription")
        .subquery()
    )
    late = or_(ranked.c.paid_on > ranked.c.due_on, and_(ranked.c.status == "open", ranked.c.due_on < as_of))
    rows = s.execute(
        select(m.Account.external_id)
        .join(ranked, ranked.c.account_id == m.Account.id)
        .where(ranked.c.rn <= 6, late)
        .group_by(m.Account.external_id)
        .having(func.count() >= 3)
    )
    return {r[0] for r in rows}


def _call_shares():
    seg, part, call = m.TranscriptSegment, m.CallParticipant, m.Call
    length = seg.end_s - seg.start_s
    return (
        select(
            call.external_id,
            call.owner,
            (func.sum(case((part.email == call.owner, length), else_=literal(0.0))) / func.sum(length)).label("share"),
        )
        .join(seg, seg.call_id == call.id)
        .join(part, and_(part.call_id == call.id, part.speaker_id == seg.speaker_id))
        .group_by(call.id, call.external_id, call.owner)
    ).subquery()


def q_talkative_reps(s, as_of):
    shares = _call_shares()
    rows = s.execute(select(shares.c.owner).group_by(shares.c.owner).having(func.avg(shares.c.share) > 0.7))
    return {r[0] for r in rows}


def q_talkative_calls(s, as_of):
    shares = _call_shares()
    return {r[0] for r in s.execute(select(shares.c.external_id).where(shares.c.share > 0.7))}


def q_competitor_mentions(s, as_of):
    found = set()
    for name in COMPETITORS:
        rows = s.execute(
            select(m.Call.external_id)
            .join(m.TranscriptSegment, m.TranscriptSegment.call_id == m.Call.id)
            .where(func.lower(m.TranscriptSegment.text).contains(name.lower()))
            .distinct()
        )
        found |= {(r[0], name) for r in rows}
    return found


def q_stuck_accounts(s, as_of):
    rows = s.execute(
        select(m.Account.external_id).where(
            m.Account.lifecycle_stage == "onboarding", m.Account.stage_changed_at < _now(as_of) - timedelta(days=45)
        )
    )
    return {r[0] for r in rows}


QUERIES = {name.removeprefix("q_"): fn for name, fn in globals().items() if name.startswith("q_")}


def stored(truth: dict, key: str) -> set:
    items = truth[key]
    if key == "talkative_reps":
        return {i["email"] for i in items}
    if key == "competitor_mentions":
        return {(i["external_id"], i["competitor"]) for i in items}
    return {i["external_id"] for i in items}


# ---- tests -----------------------------------------------------------------------------------------


def test_the_nine_rules_cover_every_truth_key():
    assert set(QUERIES) == {k for k, v in generate(size="small", as_of=AS_OF).truth.items() if isinstance(v, list)}


@pytest.fixture
def loaded(runtime):
    load_demo(runtime=runtime, size="small", seed=42, as_of=AS_OF)
    with runtime.session() as s:
        return runtime, get_truth(session=s)


@pytest.mark.parametrize("key", sorted(QUERIES))
def test_stored_truth_equals_what_sql_finds(loaded, key):
    runtime, truth = loaded
    with runtime.session() as s:
        found = QUERIES[key](s, AS_OF)
    assert found == stored(truth, key)
    assert found, f"nothing planted for {key}"


def test_truths_hold_on_sqlite_and_postgresql(any_runtime):
    as_of = date(2025, 12, 31)
    load_demo(runtime=any_runtime, size="small", seed=7, as_of=as_of)
    with any_runtime.session() as s:
        truth = get_truth(session=s)
        for key, query in QUERIES.items():
            assert query(s, as_of) == stored(truth, key), key


def _table_counts(runtime) -> dict[str, int]:
    with runtime.session() as s:
        return {name: s.scalar(select(func.count()).select_from(model)) for name, model in TABLES.items()}


def test_every_record_is_written_and_loading_twice_changes_nothing(runtime):
    first = load_demo(runtime=runtime, size="small", seed=42, as_of=AS_OF)
    counts = _table_counts(runtime)
    assert counts == first.counts
    with runtime.session() as s:
        segments = s.scalar(select(func.count()).select_from(m.TranscriptSegment))
    again = load_demo(runtime=runtime, size="small", seed=42, as_of=AS_OF)
    assert again.counts == first.counts and again.removed == 0
    assert _table_counts(runtime) == counts
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(m.TranscriptSegment)) == segments


def test_loading_another_demo_replaces_the_previous_one(runtime):
    load_demo(runtime=runtime, size="small", seed=1, as_of=AS_OF)
    second = load_demo(runtime=runtime, size="small", seed=2, as_of=AS_OF)
    assert _table_counts(runtime) == second.counts
    with runtime.session() as s:
        truth = get_truth(session=s)
        assert truth["seed"] == 2
        for key, query in QUERIES.items():
            assert query(s, AS_OF) == stored(truth, key), key


def test_get_truth_and_demo_loaded_are_none_on_an_empty_database(runtime):
    with runtime.session() as s:
        assert get_truth(session=s) is None
        assert demo_loaded(session=s) is None


def test_demo_loaded_describes_the_loaded_demo_and_progress_is_reported(runtime):
    seen = []
    summary = load_demo(
        runtime=runtime,
        size="small",
        seed=3,
        as_of=AS_OF,
        progress=lambda done, total, label: seen.append((done, total, label)),
    )
    total = sum(summary.counts.values())
    assert seen[-1][:2] == (total, total)
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)
    assert {label.split()[0] for _, _, label in seen} == {
        "hubspot",
        "gong",
        "slack",
        "netsuite",
        "platform",
        "lattice",
        "apollo",
        "usergems",
    }
    with runtime.session() as s:
        meta = demo_loaded(session=s)
    assert meta["size"] == "small" and meta["seed"] == 3 and meta["as_of"] == AS_OF.isoformat()
    assert meta["counts"] == summary.counts and meta["loaded_at"]


def test_unknown_size_is_refused_before_anything_is_written(runtime):
    with pytest.raises(InvalidInput, match="unknown demo size 'huge'"):
        load_demo(runtime=runtime, size="huge")
    assert sum(_table_counts(runtime).values()) == 0


def test_every_owner_and_author_is_an_employee(loaded):
    runtime, _ = loaded
    with runtime.session() as s:
        staff = set(s.scalars(select(m.Employee.email)))
        used = set()
        for col in (
            m.Account.owner,
            m.Deal.owner,
            m.Activity.owner,
            m.Call.owner,
            m.Review.reviewer_email,
            m.Employee.manager_email,
        ):
            used |= set(s.scalars(select(col).where(col.is_not(None)).distinct()))
        internal = set(s.scalars(select(m.CallParticipant.email).where(m.CallParticipant.affiliation == "internal")))
        authors = set(s.scalars(select(m.SlackMessage.user_name).distinct()))
        names = set(s.scalars(select(m.Employee.name)))
    assert used <= staff and internal <= staff and authors <= names


def test_references_resolve_to_our_ids(loaded):
    runtime, _ = loaded
    with runtime.session() as s:
        for model in (m.Contact, m.Deal, m.Call, m.Invoice, m.Payment, m.RentPaymentVolume, m.JobChange):
            assert s.scalar(select(func.count()).where(model.account_id.is_(None))) == 0, model.__tablename__
        assert s.scalar(select(func.count()).where(m.Payment.invoice_id.is_(None))) == 0
        assert s.scalar(select(func.count()).where(m.JobChange.contact_id.is_(None))) == 0
        assert s.scalar(select(func.count()).where(m.Review.employee_id.is_(None))) == 0
        talk = (
            select(func.sum(m.TranscriptSegment.end_s - m.TranscriptSegment.start_s))
            .where(
                m.TranscriptSegment.call_id == m.CallParticipant.call_id,
                m.TranscriptSegment.speaker_id == m.CallParticipant.speaker_id,
            )
            .scalar_subquery()
        )
        worst = s.scalar(select(func.max(func.abs(m.CallParticipant.talk_time_s - func.coalesce(talk, 0)))))
    assert worst < 0.01


ACCOUNT_TRUTHS = ("payment_volume_drops", "high_failure_rate", "declining_engagement", "chronic_late_payers")


def test_truth_names_each_record_as_it_was_loaded(loaded):
    """`sophia demo truth` shows names beside ids: each is the loaded record's own (account, deal, contact, rep)."""
    runtime, truth = loaded
    with runtime.session() as s:
        accounts = dict(s.execute(select(m.Account.external_id, m.Account.name)).all())
        deals = dict(s.execute(select(m.Deal.external_id, m.Deal.name)).all())
        people = s.execute(select(m.Contact.external_id, m.Contact.first_name, m.Contact.last_name))
        contacts = {e: f"{first} {last}" for e, first, last in people}
        staff = dict(s.execute(select(m.Employee.external_id, m.Employee.name)).all())
        by_email = dict(s.execute(select(m.Employee.email, m.Employee.name)).all())
    for key in (*ACCOUNT_TRUTHS, "stuck_accounts"):
        assert [i["name"] for i in truth[key]] == [accounts[i["external_id"]] for i in truth[key]], key
    for key, names in (("stalled_deals", deals), ("champions_left", contacts), ("talkative_reps", staff)):
        assert [i["name"] for i in truth[key]] == [names[i["external_id"]] for i in truth[key]], key
    for key in ("stalled_deals", "champions_left", "competitor_mentions"):
        assert [i["account"] for i in truth[key]] == [accounts[i["account_external_id"]] for i in truth[key]], key
    assert [i["rep"] for i in truth["talkative_calls"]] == [by_email[i["owner"]] for i in truth["talkative_calls"]]
