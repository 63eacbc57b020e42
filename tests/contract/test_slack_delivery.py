"""Delivery of insights to Slack through the real slack_sdk client against a local Slack Web API
(``fake_slack_post.FakeSlackPost``): routing, critical at once and digests in business hours on a frozen clock,
never twice (runs, two processes, a run that died mid-post), 429 back-off, a revoked token and an unknown channel
that show in the status and in /metrics, and nothing lost once they are fixed."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import select

from core.clock import ManualClock
from core.db.models import Account, AuditLog, Insight, InsightDelivery
from core.errors import ConfigError, InvalidInput, NotFound
from core.leases import new_owner
from core.notify import (
    DeliveryCollector,
    add_route,
    deliver_due,
    delivery_status,
    list_routes,
    remove_route,
    send_test,
    set_route_enabled,
)
from core.notify.messages import Card, Links, digest_messages
from core.notify.schedule import BusinessHours, next_digest_slot
from core.runtime import Runtime, open_runtime, prepare
from tests.conftest import make_settings
from tests.contract.fake_slack_post import FakeSlackPost
from tests.contract.helpers import cli_env, sophia
from tests.utils.services import pg_schema

# Wednesday 14 October 2026, 10:20 in Chicago (CDT, UTC-5)
WED_1020 = datetime(2026, 10, 14, 15, 20, tzinfo=UTC)
CHICAGO = BusinessHours(tz=ZoneInfo("America/Chicago"), open_minute=8 * 60, close_minute=18 * 60)  # the defaults
SALES = "C0SALES01"
ALERTS = "C0ALERTS1"
_fp = count(1)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(WED_1020)


@pytest.fixture
def slack(clock) -> Iterator[FakeSlackPost]:
    fake = FakeSlackPost(now=clock.now).start()
    fake.add_channel("sales", cid=SALES)
    fake.add_channel("alerts", cid=ALERTS)
    fake.add_channel("old", cid="C0ARCHIVE", archived=True)
    yield fake
    fake.stop()


def _open(tmp_path, slack: FakeSlackPost, clock: ManualClock, **overrides) -> Runtime:
    values = {"slack_bot_token": slack.token, "slack_api_url": slack.url, "public_url": "https://sophia.example/"}
    values.update(overrides)
    rt = open_runtime(make_settings(tmp_path, **values))
    prepare(rt)
    rt.clock = clock
    return rt


@pytest.fixture
def rt(tmp_path, slack, clock) -> Iterator[Runtime]:
    runtime = _open(tmp_path, slack, clock)
    yield runtime
    runtime.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_rt(request, tmp_path, slack, clock) -> Iterator[Runtime]:
    """The same on SQLite and on the real PostgreSQL (a fresh schema)."""
    if request.param == "sqlite":
        runtime = _open(tmp_path, slack, clock)
        yield runtime
        runtime.engine.dispose()
        return
    with pg_schema() as url:
        runtime = _open(tmp_path, slack, clock, database_url=url)
        yield runtime
        runtime.engine.dispose()


def _insight(rt: Runtime, *, type_: str = "deal_stalled", severity: str = "medium", title: str | None = None, **kw):
    n = next(_fp)
    with rt.session() as s:
        acct = s.scalar(select(Account).where(Account.external_id == "acct-1"))
        if acct is None:
            acct = Account(source="test", external_id="acct-1", name="Acme Realty", lifecycle_stage="live")
            s.add(acct)
            s.flush()
        row = Insight(
            type=type_,
            fingerprint=f"fp-{n}",
            severity=severity,
            severity_rank=("critical", "high", "medium", "low").index(severity),
            status=kw.pop("status", "new"),
            title=title or f"Deal {n} stalled in proposal for 30 days",
            score=0.5,
            reasons=[f"30 days in proposal (threshold 21 days) #{n}", "amount 10,000"],
            evidence=[
                {"table": "deals", "external_id": f"d{n}", "doc_id": 40 + n, "label": f"Deal d{n} <proposal>"},
                {"table": "accounts", "external_id": "acct-1", "doc_id": None, "label": "Acme Realty"},
            ],
            subject_table="deals",
            subject_external_id=f"d{n}",
            subject_name=f"Deal {n}",
            account_id=acct.id,
            owner="rep@payready.com",
            first_seen=rt.clock.now(),
            last_seen=rt.clock.now(),
            **kw,
        )
        s.add(row)
        s.flush()
        return row.id


def _route(rt: Runtime, channel: str, **kw) -> int:
    with rt.session() as s:
        return add_route(session=s, actor="ann", channel=channel, **kw).id


def _deliveries(rt: Runtime) -> list[InsightDelivery]:
    with rt.session() as s:
        rows = list(s.scalars(select(InsightDelivery).order_by(InsightDelivery.id)))
        s.expunge_all()
        return rows


def _posted_insights(slack: FakeSlackPost, channel: str) -> list[str]:
    """Every insight link posted to ``channel``, in order (a digest lists several)."""
    found = []
    for post in slack.posts_to(channel):
        for block in post["blocks"]:
            for el in block.get("elements", []):
                if el.get("action_id", "").startswith("open_insight_"):
                    found.append(el["url"])
            text = (block.get("text") or {}).get("text", "")
            if block["type"] == "section" and "/insights?insight=" in text:
                found.append(text.split("<", 1)[1].split("|", 1)[0])
    return found


# ---- routes --------------------------------------------------------------------------------------------


def test_routes_are_checked_audited_and_listed(rt: Runtime) -> None:
    with rt.session() as s:
        for bad in (
            {"channel": "  "},
            {"channel": "C1", "type": "no_such_type"},
            {"channel": "C1", "min_severity": "urgent"},
            {"channel": "C1", "digest_minutes": 30},
            {"channel": "two words"},
        ):
            with pytest.raises(InvalidInput):
                add_route(session=s, actor="ann", **bad)
        view = add_route(
            session=s, actor="ann", channel=" C1 ", type="deal_stalled", min_severity="high", digest_minutes=0
        )
        add_route(session=s, actor="ann", channel="C2")
    assert (view.channel, view.type, view.min_severity, view.digest_minutes, view.enabled) == (
        "C1",
        "deal_stalled",
        "high",
        0,
        True,
    )
    with rt.session() as s:
        set_route_enabled(session=s, actor="ann", route_id=view.id, enabled=False)
        assert [r.enabled for r in list_routes(session=s)] == [False, True]
        assert [r.channel for r in list_routes(session=s, enabled_only=True)] == ["C2"]
        remove_route(session=s, actor="ann", route_id=view.id)
        with pytest.raises(NotFound):
            remove_route(session=s, actor="ann", route_id=view.id)
    with rt.session() as s:
        actions = [a.action for a in s.scalars(select(AuditLog).where(AuditLog.actor == "ann").order_by(AuditLog.id))]
    assert actions == ["notify.route.add", "notify.route.add", "notify.route.disable", "notify.route.remove"]


# ---- routing and the message ------------------------------------------------------------------------------


def test_routing_by_type_and_min_severity_with_block_kit_messages(rt: Runtime, slack: FakeSlackPost) -> None:
    _route(rt, SALES, type="deal_stalled", min_severity="high", digest_minutes=0)
    _route(rt, ALERTS, digest_minutes=0)
    high = _insight(rt, severity="high", title="Big deal stalled")
    low = _insight(rt, severity="low")
    onboarding = _insight(rt, type_="onboarding_stuck", severity="medium")
    _insight(rt, severity="high", status="resolved")
    _insight(rt, severity="high", snoozed_until=WED_1020 + timedelta(days=2))
    report = deliver_due(runtime=rt)
    assert report.counts()["planned"] == 4 and report.sent == 4 and report.pending == 0 and not report.errors
    base = "https://sophia.example/insights?insight="
    assert _posted_insights(slack, SALES) == [f"{base}{high}"]
    assert sorted(_posted_insights(slack, ALERTS)) == sorted(f"{base}{i}" for i in (high, low, onboarding))

    post = slack.posts_to(SALES)[0]
    assert post["text"].startswith("[high] Big deal stalled.") and base in post["text"]  # the fallback
    kinds = [b["type"] for b in post["blocks"]]
    assert kinds == ["header", "section", "section", "context", "actions"]
    assert "Big deal stalled" in post["blocks"][0]["text"]["text"]
    assert "threshold 21 days" in post["blocks"][1]["text"]["text"]
    evidence = post["blocks"][2]["text"]["text"]
    assert "<https://sophia.example/record?doc=" in evidence and "&lt;proposal&gt;" in evidence
    assert "<https://sophia.example/account?account=acct-1|Acme Realty>" in evidence
    context = " ".join(e["text"] for e in post["blocks"][3]["elements"])
    assert (
        "deal_stalled" in context and "high" in context and "Acme Realty" in context and "rep@payready.com" in context
    )
    buttons = {e["text"]["text"]: e["url"] for e in post["blocks"][4]["elements"]}
    assert buttons == {"Open in Sophia": f"{base}{high}", "Acknowledge": f"{base}{high}"}
    assert post["metadata"]["event_type"] == "sophia_insight"
    rows = _deliveries(rt)
    assert all(r.status == "sent" and r.message_ts and r.sent_at for r in rows)


# ---- timing: critical at once, digests in business hours --------------------------------------------------


@pytest.mark.parametrize(
    ("local", "every", "expected"),
    [
        ("2026-10-14 10:20", 60, "2026-10-14 11:00"),  # Wednesday, inside hours
        ("2026-10-14 10:20", 15, "2026-10-14 10:30"),
        ("2026-10-14 10:20", 240, "2026-10-14 12:00"),  # aligned on the 08:00 opening
        ("2026-10-14 11:00", 60, "2026-10-14 11:00"),  # on a slot: now
        ("2026-10-14 06:10", 60, "2026-10-14 08:00"),  # before opening
        ("2026-10-14 17:30", 60, "2026-10-14 18:00"),  # the closing is the day's last slot
        ("2026-10-14 18:30", 15, "2026-10-15 08:00"),  # after closing: the next morning
        ("2026-10-16 17:30", 240, "2026-10-19 08:00"),  # Friday late: Monday
        ("2026-10-17 11:00", 60, "2026-10-19 08:00"),  # Saturday: Monday
        ("2026-10-31 12:00", 60, "2026-11-02 08:00"),  # across the end of DST: still 08:00 local (CST)
    ],
)
def test_digest_slots_in_chicago_business_hours(local: str, every: int, expected: str) -> None:
    tz = CHICAGO.tz
    now = datetime.fromisoformat(local).replace(tzinfo=tz).astimezone(UTC)
    slot = next_digest_slot(now, every_minutes=every, hours=CHICAGO)
    assert slot.tzinfo is not None and slot.astimezone(tz).strftime("%Y-%m-%d %H:%M") == expected


def test_critical_goes_at_once_the_rest_in_the_next_digest(rt: Runtime, slack: FakeSlackPost, clock) -> None:
    _route(rt, SALES, digest_minutes=60)
    critical = _insight(rt, severity="critical", title="Payments failing")
    _insight(rt, severity="medium")
    _insight(rt, severity="low")
    first = deliver_due(runtime=rt)
    assert (first.planned, first.sent, first.digests, first.pending) == (3, 1, 0, 2)
    assert _posted_insights(slack, SALES) == [f"https://sophia.example/insights?insight={critical}"]
    due = {r.mode: r.due_at for r in _deliveries(rt)}
    assert due["digest"] == datetime(2026, 10, 14, 16, 0, tzinfo=UTC)  # 11:00 in Chicago
    clock.advance(timedelta(minutes=39))  # 10:59
    assert deliver_due(runtime=rt).sent == 0
    clock.advance(timedelta(minutes=1))  # 11:00
    second = deliver_due(runtime=rt)
    assert (second.sent, second.digests, second.messages, second.pending) == (2, 1, 1, 0)
    digest = slack.posts_to(SALES)[-1]
    assert digest["text"].startswith("Sophia digest: 2 insights")
    assert len(_posted_insights(slack, SALES)) == 3
    assert deliver_due(runtime=rt).sent == 0 and len(slack.posts) == 2


def test_a_weekend_insight_waits_for_monday_morning(rt: Runtime, slack: FakeSlackPost, clock) -> None:
    clock.advance(datetime(2026, 10, 17, 16, 0, tzinfo=UTC) - WED_1020)  # Saturday 11:00 in Chicago
    _route(rt, SALES, digest_minutes=15)
    _insight(rt, severity="high")
    assert deliver_due(runtime=rt).pending == 1 and not slack.posts
    clock.advance(datetime(2026, 10, 19, 12, 59, tzinfo=UTC) - clock.now())  # Monday 07:59
    assert deliver_due(runtime=rt).sent == 0
    clock.advance(timedelta(minutes=1))  # Monday 08:00
    assert deliver_due(runtime=rt).digests == 1 and len(slack.posts) == 1


def test_a_digest_over_the_block_limit_continues_in_a_next_message(rt: Runtime, slack: FakeSlackPost) -> None:
    cards = [
        Card(i, "deal_stalled", "medium", f"Deal {i} " + "x" * 300, ["r" * 500] * 3, [], "deals", f"d{i}", "D", None)
        for i in range(25)
    ]
    messages = digest_messages(cards, links=Links("https://s"))
    assert [len(m.insight_ids) for m in messages] == [10, 10, 5]
    for m in messages:
        assert len(m.block_dicts()) <= 50 and m.text and len(m.text) <= 3000
    _route(rt, SALES, digest_minutes=15)
    for _ in range(23):
        _insight(rt, severity="low")
    deliver_due(runtime=rt)  # planned for 10:30
    rt.clock.advance(timedelta(minutes=10))
    report = deliver_due(runtime=rt)
    assert (report.sent, report.digests) == (23, 3)
    assert [p["text"].split(":")[1].strip() for p in slack.posts] == [f"23 insights ({n}/3)" for n in (1, 2, 3)]
    assert len(set(_posted_insights(slack, SALES))) == 23
    assert len({r.message_ts for r in _deliveries(rt)}) == 3


# ---- never twice ---------------------------------------------------------------------------------------


def test_never_posted_twice_by_two_processes_at_once(tmp_path, any_rt: Runtime, slack: FakeSlackPost, clock) -> None:
    rt = any_rt
    _route(rt, SALES, digest_minutes=0)
    _route(rt, ALERTS, digest_minutes=60)
    ids = [_insight(rt, severity="high") for _ in range(6)]
    other = _open(tmp_path, slack, clock, database_url=rt.settings.database_url)  # a second process, same database
    reports = []
    start = threading.Barrier(2)

    def run(runtime: Runtime) -> None:
        start.wait()
        reports.append(deliver_due(runtime=runtime))

    threads = [threading.Thread(target=run, args=(r,)) for r in (rt, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(r.planned for r in reports) == 12  # each (insight, channel) planned once, by one of them
    assert sum(r.sent for r in reports) == 6
    assert sorted(_posted_insights(slack, SALES)) == sorted(f"https://sophia.example/insights?insight={i}" for i in ids)
    clock.advance(timedelta(hours=1))
    deliver_due(runtime=other)
    deliver_due(runtime=rt)
    assert len(_posted_insights(slack, SALES)) == 6 and len(_posted_insights(slack, ALERTS)) == 6
    assert len(slack.posts_to(ALERTS)) == 1  # one digest
    other.engine.dispose()


def _dead_owner() -> str:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return f"{new_owner().split(':')[0]}:{proc.stdout.strip()}@{new_owner().split('@', 1)[1]}"


def _leave_sending(rt: Runtime, *, batch: str | None, owner: str, expires: datetime) -> None:
    with rt.session() as s:
        for row in s.scalars(select(InsightDelivery)):
            row.status, row.batch, row.lease_owner, row.lease_expires_at = "sending", batch, owner, expires


def test_restart_mid_delivery_never_reposts_blindly(rt: Runtime, slack: FakeSlackPost, clock) -> None:
    _route(rt, SALES, digest_minutes=0)
    _insight(rt, severity="high")
    with rt.session() as s:  # plan only: a run that died before it posted (claimed, no message key yet)
        from core.notify.planning import plan_deliveries

        plan_deliveries(session=s, now=clock.now(), hours=CHICAGO)
    live = clock.now() + timedelta(minutes=10)
    _leave_sending(rt, batch=None, owner=_dead_owner(), expires=live)  # its holder died: no need to wait
    assert deliver_due(runtime=rt).sent == 1 and len(slack.posts) == 1

    # a run that posted, then died before storing the ts: its message is in the channel's history
    (row,) = _deliveries(rt)
    _leave_sending(rt, batch=slack.posts[0]["metadata"]["event_payload"]["batch"], owner="x:1@elsewhere", expires=live)
    assert deliver_due(runtime=rt).sent == 0  # another machine's live lease: left alone
    clock.advance(timedelta(minutes=11))
    report = deliver_due(runtime=rt)
    assert (report.reconciled, report.sent, len(slack.posts)) == (1, 1, 1)
    assert _deliveries(rt)[0].message_ts == slack.posts[0]["ts"] and _deliveries(rt)[0].status == "sent"

    # a run that marked its message and died before posting: not in the history, so it goes out once
    _leave_sending(rt, batch="never-posted", owner=_dead_owner(), expires=clock.now() + timedelta(minutes=5))
    report = deliver_due(runtime=rt)
    assert (report.reconciled, report.sent, len(slack.posts)) == (0, 1, 2)

    # the history cannot be read (no channels:history scope): failed, "outcome unknown", never re-posted
    _leave_sending(rt, batch="cannot-tell", owner=_dead_owner(), expires=clock.now())
    slack.scopes_missing.add("conversations.history")
    report = deliver_due(runtime=rt)
    (row,) = _deliveries(rt)
    assert (report.failed, row.status, len(slack.posts)) == (1, "failed", 2)
    assert row.error.startswith("outcome unknown")


def test_a_lost_response_is_reconciled_not_reposted(rt: Runtime, slack: FakeSlackPost, clock) -> None:
    _route(rt, SALES, digest_minutes=0)
    _insight(rt, severity="critical")
    slack.lose_responses = 1  # stored by Slack; the connection drops before the answer
    first = deliver_due(runtime=rt)
    assert first.sent == 0 and "outcome unknown" in first.errors[SALES] and len(slack.posts) == 1
    assert _deliveries(rt)[0].status == "sending"
    second = deliver_due(runtime=rt)
    assert (second.reconciled, len(slack.posts)) == (1, 1)
    assert _deliveries(rt)[0].message_ts == slack.posts[0]["ts"]
    slack.fail(method="chat.postMessage", drop=True)  # dropped before Slack read it: not in history, sent again
    _insight(rt, severity="critical")
    assert deliver_due(runtime=rt).sent == 0
    assert deliver_due(runtime=rt).sent == 1 and len(slack.posts) == 2


# ---- failures ------------------------------------------------------------------------------------------


def test_ratelimited_waits_retry_after_then_posts(rt: Runtime, slack: FakeSlackPost, clock) -> None:
    _route(rt, SALES, digest_minutes=0)
    _insight(rt, severity="high")
    slack.fail(method="chat.postMessage", status=429, headers={"Retry-After": "7"}, times=2)
    report = deliver_due(runtime=rt)
    assert report.sent == 1 and clock.slept.count(7.0) == 2 and len(slack.posts) == 1
    slack.fail(method="chat.postMessage", status=429, headers={"Retry-After": "3"}, times=None)
    _insight(rt, severity="high")
    limited = deliver_due(runtime=rt)
    assert limited.sent == 0 and limited.pending == 1 and "ratelimited" in limited.errors["slack"]
    assert clock.slept.count(3.0) == 3  # bounded
    slack.recover()
    assert deliver_due(runtime=rt).sent == 1 and len(slack.posts) == 2


def test_revoked_token_stops_then_everything_goes_out_once_fixed(rt: Runtime, slack: FakeSlackPost) -> None:
    _route(rt, SALES, digest_minutes=0)
    _route(rt, ALERTS, digest_minutes=0)
    _insight(rt, severity="high")
    slack.revoked = True
    report = deliver_due(runtime=rt)
    assert report.errors == {"token": "token_revoked"} and report.pending == 2 and not slack.posts
    with rt.session() as s:
        status = delivery_status(session=s)
    assert status.token_ok is False and status.token_error == "token_revoked" and not status.healthy
    assert "sophia_slack_token_ok 0.0" in _metrics(rt)
    slack.revoked = False
    fixed = deliver_due(runtime=rt)
    assert fixed.sent == 2 and not fixed.errors and len(slack.posts) == 2
    assert "sophia_slack_token_ok 1.0" in _metrics(rt)


def test_no_token_keeps_rows_pending_and_env_reference_works(tmp_path, slack, clock, monkeypatch) -> None:
    rt = _open(tmp_path, slack, clock, slack_bot_token=None)
    _route(rt, SALES, digest_minutes=0)
    _insight(rt, severity="high")
    report = deliver_due(runtime=rt)
    assert "not configured" in report.errors["token"] and report.pending == 1
    with pytest.raises(ConfigError):
        send_test(runtime=rt, channel=SALES)
    rt.engine.dispose()
    monkeypatch.setenv("MY_SLACK_BOT", slack.token)
    rt = _open(tmp_path, slack, clock, slack_bot_token="env:MY_SLACK_BOT")
    assert deliver_due(runtime=rt).sent == 1
    rt.engine.dispose()


def test_unknown_channel_shows_in_status_and_metrics_until_fixed(rt: Runtime, slack: FakeSlackPost) -> None:
    _route(rt, "C0NOTYET1", digest_minutes=0)
    _route(rt, SALES, digest_minutes=0)
    _route(rt, "C0ARCHIVE", digest_minutes=0)
    _insight(rt, severity="high")
    report = deliver_due(runtime=rt)
    assert report.sent == 1 and report.errors == {"C0NOTYET1": "channel_not_found", "C0ARCHIVE": "is_archived"}
    with rt.session() as s:
        status = delivery_status(session=s)
    by = {c.channel: c for c in status.channels}
    assert (by["C0NOTYET1"].pending, by["C0NOTYET1"].error) == (1, "channel_not_found")
    assert (by[SALES].sent, by[SALES].error) == (1, None) and status.token_ok is True
    assert status.failing_channels == ["C0ARCHIVE", "C0NOTYET1"] and "channel_not_found" in status.describe()
    text = _metrics(rt)
    assert 'sophia_slack_delivery_failing{channel="C0NOTYET1"} 1.0' in text
    assert f'sophia_slack_delivery_failing{{channel="{SALES}"}} 0.0' in text
    assert 'sophia_slack_deliveries{status="pending"} 2.0' in text
    slack.add_channel("now-here", cid="C0NOTYET1")  # the channel exists now (or the app was invited)
    assert deliver_due(runtime=rt).sent == 1 and len(slack.posts_to("C0NOTYET1")) == 1
    with rt.session() as s:
        assert delivery_status(session=s).failing_channels == ["C0ARCHIVE"]
    with pytest.raises(InvalidInput, match="channel_not_found"):
        send_test(runtime=rt, channel="C0MISSING")
    assert send_test(runtime=rt, channel=SALES) == slack.posts[-1]["ts"]


def _metrics(rt: Runtime) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DeliveryCollector(rt))
    return generate_latest(registry).decode()


def test_api_metrics_include_slack_delivery(rt: Runtime) -> None:
    from fastapi.testclient import TestClient

    from api.main import create_app

    with TestClient(create_app(runtime=rt)) as client:
        body = client.get("/metrics").text
    assert "sophia_slack_deliveries" in body


# ---- the CLI ---------------------------------------------------------------------------------------------


def test_cli_route_add_list_and_deliver(tmp_path, slack: FakeSlackPost) -> None:
    env = {**cli_env(tmp_path), "SOPHIA_SLACK_BOT_TOKEN": slack.token, "SOPHIA_SLACK_API_URL": slack.url}
    added = sophia("notify", "route", "add", "--channel", SALES, "--min-severity", "high", "--digest", "0", env=env)
    assert added.returncode == 0, added.stderr
    bad = sophia("notify", "route", "add", "--channel", SALES, "--type", "nope", env=env)
    assert bad.returncode == 1 and "expected one of" in bad.stderr
    listed = sophia("notify", "route", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    (route,) = json.loads(listed.stdout)["items"]
    assert (route["channel"], route["min_severity"], route["digest_minutes"], route["type"]) == (SALES, "high", 0, None)
    rt = open_runtime(make_settings(tmp_path))
    _insight(rt, severity="critical")
    rt.engine.dispose()
    done = sophia("notify", "deliver", "--json", env=env)
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout)
    assert {k: counts[k] for k in ("planned", "sent", "digests", "failed", "pending", "errors")} == {
        "planned": 1,
        "sent": 1,
        "digests": 0,
        "failed": 0,
        "pending": 0,
        "errors": [],
    }
    tested = sophia("notify", "test", "--channel", SALES, env=env)
    assert tested.returncode == 0 and slack.posts[-1]["ts"] in tested.stdout
    removed = sophia("notify", "route", "remove", str(route["id"]), env=env)
    assert removed.returncode == 0 and json.loads(sophia("notify", "route", "list", "--json", env=env).stdout) == {
        "items": []
    }
