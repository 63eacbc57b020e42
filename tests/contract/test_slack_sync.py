"""The real Slack connector (official slack-sdk client), runner and ingest path against the fake Slack."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial

import pytest
from sqlalchemy import select

from connectors.base import ConnectorError
from connectors.registry import KINDS
from core import pipelines
from core.db import models as m
from core.runtime import Runtime
from tests.contract import sync_helpers
from tests.contract.fake_slack import FakeSlack, Planted, populate
from tests.contract.sync_helpers import configure, refused_and_retry, rows, unused_port

# small pages (keyset paging over several pages per channel), no look-back unless a test asks, tiny backoff
TEST_SETTINGS = {
    "page_size": "4",
    "lookback_hours": "0",
    "tier2_per_minute": "10000",
    "tier3_per_minute": "10000",
    "backoff_initial_s": "0.01",
    "backoff_max_s": "0.05",
    "max_attempts": "3",
}


# ---- helpers (also used by test_slack_cli.py) ----------------------------------------------------


def add_slack(runtime: Runtime, fake: FakeSlack, *, name: str = "chat", **overrides: str) -> None:
    values = {"base_url": fake.url, "token": fake.token, **TEST_SETTINGS, **overrides}
    configure(runtime, kind="slack", name=name, values=values)


sync = partial(sync_helpers.sync, name="chat")
cursor = partial(sync_helpers.cursor, stream="messages", name="chat")


def snapshot(runtime: Runtime) -> list[tuple]:
    with runtime.session() as session:
        return rows(session, m.SlackMessage, m.SlackMessage.source == "slack")


def stored(runtime: Runtime) -> dict[str, m.SlackMessage]:
    with runtime.session() as session:
        return {msg.external_id: msg for msg in session.scalars(select(m.SlackMessage))}


# ---- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture
def workspace() -> Iterator[tuple[FakeSlack, Planted]]:
    fake = FakeSlack().start()
    planted = populate(fake)
    yield fake, planted
    fake.stop()


@pytest.fixture
def fake(workspace: tuple[FakeSlack, Planted]) -> FakeSlack:
    return workspace[0]


def clean_snapshot(clean: Runtime, fake: FakeSlack) -> list[tuple]:
    add_slack(clean, fake)
    assert sync(clean).status == "succeeded"
    return snapshot(clean)


# ---- tests -------------------------------------------------------------------------------------------


def test_full_sync_lands_messages_with_threads_names_and_times(runtime: Runtime, workspace) -> None:
    fake, planted = workspace
    add_slack(runtime, fake)
    result = sync(runtime)

    assert result.status == "succeeded", result.error
    run = result.runs[0]
    assert (run.stream, run.tally.written, run.tally.quarantined) == ("messages", planted.stored, 0)
    rows = stored(runtime)
    assert len(rows) == planted.stored
    sales = planted.channels["sales"]
    for ts, msg in fake.messages[sales].items():
        if msg.get("subtype") == "channel_join":
            assert f"{sales}:{ts}" not in rows  # housekeeping is not conversation
            continue
        row = rows[f"{sales}:{ts}"]
        assert row.channel == "sales" and row.channel_id == sales and row.ts == ts
        assert row.posted_at == datetime.fromtimestamp(int(ts.split(".")[0]), tz=UTC).replace(
            microsecond=int(ts.split(".")[1])
        )
        assert row.thread_ts == msg.get("thread_ts") and row.account_id is None
        if msg.get("user"):
            assert row.user_id == msg["user"] and row.user_name == planted.users[msg["user"]]
    bot = next(r for r in rows.values() if r.user_id == "B0ALERTS")
    assert bot.user_name == "Payments Alerts" and bot.text == "3 payments failed at Property Co 2"
    parents = [r for r in rows.values() if r.thread_ts == r.ts]
    assert len(parents) == planted.threads
    # only channels the bot is in are read; archived ones are not even listed
    read = {s.args["channel"] for s in fake.calls("conversations.history")}
    assert read == {planted.channels["sales"], planted.channels["cs-escalations"]}
    assert fake.calls("conversations.list")[0].args["exclude_archived"] == "1"
    # keyset paging: every history page after a channel's first is bounded by the oldest ts committed
    pages = [s.args for s in fake.calls("conversations.history") if s.args["channel"] == sales]
    assert len(pages) > 2 and "latest" not in pages[0] and all("latest" in p and "cursor" not in p for p in pages[1:])
    assert all(p["limit"] == "4" for p in pages)
    assert len(fake.calls("conversations.replies")) == planted.threads
    assert all(s.args.get("limit") for s in fake.calls("users.list"))  # users.list always gets a limit
    marks = cursor(runtime)["marks"]
    assert marks[sales]["newest"] == max((m["ts"] for m in fake.top_level(sales)), key=Decimal)
    assert cursor(runtime)["channels"] is None


def test_incremental_sync_reads_only_newer_messages(runtime: Runtime, workspace) -> None:
    fake, planted = workspace
    add_slack(runtime, fake)
    assert sync(runtime).status == "succeeded"
    sales = planted.channels["sales"]
    mark = cursor(runtime)["marks"][sales]["newest"]
    before = len(fake.requests)
    new = fake.post(sales, "Property Co 9 signed!", user="U02BEN", at=datetime.now(UTC))
    reply = fake.post(sales, "congrats", user="U01ANA", at=datetime.now(UTC) + timedelta(seconds=1), thread=new)

    result = sync(runtime)

    assert result.status == "succeeded", result.error
    assert result.runs[0].tally.read == 2 and result.runs[0].tally.written == 2
    history = [
        s.args for s in fake.requests[before:] if s.method == "conversations.history" and s.args["channel"] == sales
    ]
    assert history[0]["oldest"] == mark  # exclusive: the newest message already read is not read again
    rows = stored(runtime)
    assert rows[f"{sales}:{new}"].text == "Property Co 9 signed!"
    assert rows[f"{sales}:{reply}"].thread_ts == new and rows[f"{sales}:{reply}"].user_name == "Ana Ruiz"


def test_look_back_picks_up_edits_and_late_replies(runtime: Runtime, workspace) -> None:
    fake, planted = workspace
    add_slack(runtime, fake, lookback_hours="72")
    assert sync(runtime).status == "succeeded"
    sales = planted.channels["sales"]
    recent = sorted(fake.top_level(sales), key=lambda m: Decimal(m["ts"]))[-3]  # within the look-back
    fake.edit(sales, recent["ts"], "edited: Property Co asked about ACH")
    late = fake.post(sales, "a late reply", user="W03CAT", at=datetime.now(UTC), thread=recent["ts"])

    result = sync(runtime)

    assert result.status == "succeeded", result.error
    rows = stored(runtime)
    assert rows[f"{sales}:{recent['ts']}"].text == "edited: Property Co asked about ACH"
    assert rows[f"{sales}:{recent['ts']}"].updated_at > rows[f"{sales}:{recent['ts']}"].posted_at
    assert rows[f"{sales}:{late}"].thread_ts == recent["ts"] and rows[f"{sales}:{late}"].user_name == "Cat Nguyen"
    assert result.runs[0].tally.read < planted.stored  # only the look-back window was read again


def test_a_new_reply_to_an_old_thread_is_synced(runtime: Runtime, workspace) -> None:
    fake, planted = workspace
    add_slack(runtime, fake)  # no message look-back: history alone would never show this thread again
    assert sync(runtime).status == "succeeded"
    sales = planted.channels["sales"]
    parent = min((m for m in fake.top_level(sales) if m.get("reply_count")), key=lambda m: Decimal(m["ts"]))
    seen = parent["latest_reply"]  # the thread is ten days old
    before = len(fake.requests)
    reply = fake.post(sales, "any news on this?", user="U02BEN", at=datetime.now(UTC), thread=parent["ts"])

    result = sync(runtime)

    assert result.status == "succeeded", result.error
    rows = stored(runtime)
    assert rows[f"{sales}:{reply}"].thread_ts == parent["ts"] and rows[f"{sales}:{reply}"].user_name == "Ben Okafor"
    assert rows[f"{sales}:{parent['ts']}"].raw["latest_reply"] == reply  # the parent as Slack shows it now
    assert result.runs[0].tally.read == 2  # the reply and its parent: the quiet threads bring nothing
    asked = [s.args for s in fake.requests[before:] if s.method == "conversations.replies"]
    assert len(asked) == planted.threads  # every watched thread, once
    assert next(a for a in asked if a["ts"] == parent["ts"])["oldest"] == seen  # only what came after
    assert cursor(runtime)["marks"][sales]["threads"][parent["ts"]] == reply

    again = len(fake.requests)
    assert sync(runtime).runs[0].tally.read == 0
    rechecked = [s.args for s in fake.requests[again:] if s.method == "conversations.replies"]
    assert next(a for a in rechecked if a["ts"] == parent["ts"])["oldest"] == reply


def test_only_threads_active_within_the_window_are_watched(runtime: Runtime, workspace) -> None:
    fake, planted = workspace
    add_slack(runtime, fake, thread_lookback_days="5")
    assert sync(runtime).status == "succeeded"
    sales = planted.channels["sales"]
    cutoff = Decimal(str((datetime.now(UTC) - timedelta(days=5)).timestamp()))
    threads = [
        m for c in (sales, planted.channels["cs-escalations"]) for m in fake.top_level(c) if m.get("reply_count")
    ]
    active = {m["ts"] for m in threads if Decimal(m["latest_reply"]) >= cutoff}
    assert 0 < len(active) < len(threads)
    old = min(threads, key=lambda m: Decimal(m["ts"]))
    late = fake.post(sales, "too late", user="U02BEN", at=datetime.now(UTC), thread=old["ts"])
    before = len(fake.requests)

    assert sync(runtime).status == "succeeded"

    assert {s.args["ts"] for s in fake.requests[before:] if s.method == "conversations.replies"} == active
    assert f"{sales}:{late}" not in stored(runtime)  # quiet for longer than the window: no longer watched


@pytest.mark.parametrize("fault", ["500 forever", "dropped connections"])
def test_crash_mid_sync_then_resume_equals_a_clean_full_sync(
    runtime: Runtime, clean: Runtime, workspace, fault: str
) -> None:
    fake, planted = workspace
    add_slack(runtime, fake)
    kind = {"status": 503} if fault == "500 forever" else {"drop": True}
    fake.fail(method="conversations.history", after=4, times=None, **kind)

    failed = sync(runtime)

    assert failed.status == "failed" and "gave up after 3 attempts" in failed.error
    assert ("server error (503)" if fault == "500 forever" else "could not reach Slack") in failed.error
    # exactly our 3 attempts: the SDK's own retry handlers are off
    assert len([s for s in fake.calls("conversations.history") if s.status in (503, -1)]) == 3
    saved = cursor(runtime)
    assert saved["channels"] is not None and (saved["before"] or saved["index"])  # mid-pass, pages committed
    assert 0 < len(stored(runtime)) < planted.stored

    fake.recover()
    resumed = sync(runtime)

    assert resumed.status == "succeeded", resumed.error
    assert snapshot(runtime) == clean_snapshot(clean, fake)


def test_rate_limits_and_server_errors_are_survived(runtime: Runtime, clean: Runtime, fake: FakeSlack) -> None:
    add_slack(runtime, fake)
    limited = fake.fail(method="conversations.history", after=2, status=429, headers={"Retry-After": "1"})
    fake.fail(method="conversations.replies", error="internal_error", times=2)  # HTTP 200, ok: false
    fake.fail(method="users.list", status=502, times=1)

    result = sync(runtime)

    assert result.status == "succeeded", result.error
    assert limited.fired == 1
    refused, retry = refused_and_retry(fake.calls("conversations.history"))
    assert retry.at - refused.at >= 1.0  # Retry-After honoured
    assert retry.args == refused.args  # the same request again
    assert snapshot(runtime) == clean_snapshot(clean, fake)


def test_invalid_auth_stops_the_run_keeps_the_cursor_and_names_the_cause(runtime: Runtime, fake: FakeSlack) -> None:
    add_slack(runtime, fake)
    assert sync(runtime).status == "succeeded"
    before, kept = cursor(runtime), snapshot(runtime)
    fake.token = "xoxb-rotated-0000000000"  # the configured token is no longer valid

    result = sync(runtime)

    assert result.status == "failed"
    assert result.error == "stream messages: Slack refused the token (invalid_auth)"
    assert len([s for s in fake.requests if s.error == "invalid_auth"]) == 1  # not retried
    assert cursor(runtime) == before and snapshot(runtime) == kept


def test_a_missing_scope_is_a_credentials_error_naming_the_scope(runtime: Runtime, fake: FakeSlack) -> None:
    add_slack(runtime, fake)
    fake.scopes_missing.add("conversations.history")
    result = sync(runtime)
    assert result.status == "failed"
    assert "lacks a scope" in result.error and "needs channels:history" in result.error


def test_a_channel_the_bot_left_is_skipped_and_the_rest_land(runtime: Runtime, workspace) -> None:
    fake, planted = workspace
    fake.kicked.add(planted.channels["sales"])  # still listed as joined, but history says not_in_channel
    add_slack(runtime, fake)

    result = sync(runtime)

    assert result.status == "succeeded", result.error
    channels = {r.channel for r in stored(runtime).values()}
    assert channels == {"cs-escalations"}
    assert planted.channels["sales"] not in cursor(runtime)["marks"]  # never read: no mark


def test_malformed_messages_are_quarantined_and_the_rest_land(runtime: Runtime, workspace) -> None:
    fake, planted = workspace
    sales = planted.channels["sales"]
    at = datetime.now(UTC) - timedelta(days=2)
    odd_text = fake.post(sales, "x", user="U01ANA", at=at, extra={"text": {"rich": "no"}})
    odd_thread = fake.post(
        sales,
        "y",
        user="U01ANA",
        at=at + timedelta(seconds=5),
        extra={"thread_ts": "soon", "subtype": "thread_broadcast"},
    )
    add_slack(runtime, fake)

    result = sync(runtime)

    assert result.status == "succeeded", result.error
    assert result.runs[0].tally.quarantined == 2
    with runtime.session() as s:
        rows = {r.external_id: r for r in s.scalars(select(m.QuarantinedRecord))}
    assert set(rows) == {f"{sales}:{odd_text}", f"{sales}:{odd_thread}"}
    assert "not text" in rows[f"{sales}:{odd_text}"].error
    assert (
        "thread_ts" in rows[f"{sales}:{odd_thread}"].error and rows[f"{sales}:{odd_thread}"].payload["ts"] == odd_thread
    )
    assert len(stored(runtime)) == planted.stored


def test_deleted_messages_are_deleted(runtime: Runtime, workspace) -> None:
    fake, planted = workspace
    add_slack(runtime, fake, lookback_hours="120")
    assert sync(runtime).status == "succeeded"
    sales = planted.channels["sales"]
    top = sorted(
        (m for m in fake.top_level(sales) if m.get("subtype") != "channel_join"), key=lambda m: Decimal(m["ts"])
    )
    parent = next(m for m in top[-4:] if m.get("reply_count"))  # a recent thread: its parent becomes a tombstone
    plain = next(m for m in reversed(top) if not m.get("reply_count") and m.get("user"))  # recent, vanishes
    old = next(m for m in top if not m.get("reply_count"))  # before the look-back: Slack says nothing
    reply = next(m for m in fake._replies(sales, parent["ts"]))
    gone = [parent["ts"], plain["ts"], reply["ts"], old["ts"]]
    for ts in gone:
        fake.delete(sales, ts)

    result = sync(runtime)

    assert result.status == "succeeded", result.error
    assert result.runs[0].tally.deleted == 3
    rows = stored(runtime)
    assert {f"{sales}:{ts}" in rows for ts in gone[:3]} == {False}
    assert f"{sales}:{old['ts']}" in rows  # deleted outside the look-back: not noticed
    others = fake._replies(sales, parent["ts"])
    assert others and all(f"{sales}:{r['ts']}" in rows for r in others)  # the thread's other replies stay
    assert sync(runtime).runs[0].tally.deleted == 0


def test_full_resync_rereads_everything_and_changes_nothing(runtime: Runtime, workspace) -> None:
    fake, planted = workspace
    add_slack(runtime, fake)
    assert sync(runtime).status == "succeeded"
    first = snapshot(runtime)
    result = sync(runtime, full=True)
    assert result.status == "succeeded" and result.runs[0].tally.written == planted.stored
    assert snapshot(runtime) == first


def test_check_names_the_workspace_or_the_refusal(runtime: Runtime, fake: FakeSlack) -> None:
    add_slack(runtime, fake)
    line = pipelines.check_connector(runtime=runtime, kinds=KINDS, name="chat")
    assert line == f"Slack at {fake.url} accepted the token of sophia in PayReady; it can list channels and users"
    add_slack(runtime, fake, name="wrong", token="xoxb-not-the-token-123")
    with pytest.raises(Exception, match=r"Slack refused the token \(invalid_auth\)") as info:
        pipelines.check_connector(runtime=runtime, kinds=KINDS, name="wrong")
    assert "not-the-token" not in str(info.value)
    port = unused_port()
    add_slack(runtime, fake, name="down", base_url=f"http://127.0.0.1:{port}/api")
    with pytest.raises(ConnectorError) as refused:
        pipelines.check_connector(runtime=runtime, kinds=KINDS, name="down")
    assert refused.value.message == (
        f"could not reach Slack: 127.0.0.1:{port} refused the connection; check base_url and the network"
    )


def test_without_users_read_messages_land_without_user_names(runtime: Runtime, workspace) -> None:
    fake, planted = workspace
    fake.scopes_missing.add("users.list")
    add_slack(runtime, fake)

    result = sync(runtime)

    assert result.status == "succeeded", result.error
    rows = stored(runtime).values()
    assert len(rows) == planted.stored
    assert {r.user_name for r in rows if r.user_id.startswith(("U", "W"))} == {None}
    assert {r.user_name for r in rows if r.user_id == "B0ALERTS"} == {"Payments Alerts"}
