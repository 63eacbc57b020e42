"""Slack's shape -> our model: messages, threads, names, times; and how Slack's errors are classified."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from connectors.base import Action, Kind, Problem, SecretFilter
from connectors.slack import mapping
from connectors.slack.client import ERROR_TABLE
from connectors.slack.connector import SlackConfig
from connectors.slack.mapping import MappingContext

CTX = MappingContext(users={"U012AB3CDE": "Egon Spengler"}, channels={"C012AB3CD": "general"})


def message(**overrides) -> dict:
    base = {
        "type": "message",
        "user": "U012AB3CDE",
        "text": "I find you punny",
        "ts": "1512085950.000216",
        "channel": "C012AB3CD",
        "team": "T012AB3C4",
        "blocks": [],
    }
    base.update(overrides)
    return base


def test_a_message_maps_with_its_channel_author_and_utc_time() -> None:
    rec = mapping.map_message(message(), CTX)
    posted = datetime(2017, 11, 30, 23, 52, 30, 216, tzinfo=UTC)
    assert rec == {
        "external_id": "C012AB3CD:1512085950.000216",
        "raw": message(),
        "channel_id": "C012AB3CD",
        "channel": "general",
        "ts": "1512085950.000216",
        "thread_ts": None,
        "user_id": "U012AB3CDE",
        "user_name": "Egon Spengler",
        "text": "I find you punny",
        "posted_at": posted,
        "created_at": posted,
        "updated_at": posted,
    }


def test_ts_keeps_every_microsecond() -> None:
    # as a float, 1700000000.999999 rounds to .000000 of the next second
    assert mapping.ts_time("1700000000.999999") == datetime(2023, 11, 14, 22, 13, 20, 999999, tzinfo=UTC)
    assert mapping.ts_key("1512085950.000216") < mapping.ts_key("1512085950.0003")


def test_threads_keep_their_parent_ts() -> None:
    parent = mapping.map_message(message(thread_ts="1512085950.000216", reply_count=3), CTX)
    reply = mapping.map_message(
        message(ts="1512104434.000490", thread_ts="1512085950.000216", parent_user_id="U012AB3CDE"), CTX
    )
    assert parent["thread_ts"] == parent["ts"] and reply["thread_ts"] == "1512085950.000216"


def test_an_edited_message_is_updated_at_its_edit() -> None:
    rec = mapping.map_message(message(edited={"user": "U012AB3CDE", "ts": "1512086000.000000"}), CTX)
    assert rec["updated_at"] == datetime(2017, 11, 30, 23, 53, 20, tzinfo=UTC) and rec["posted_at"] < rec["updated_at"]


@pytest.mark.parametrize(
    ("extra", "user_id", "name"),
    [
        ({"user": "U999UNKNOWN"}, "U999UNKNOWN", None),
        ({"user": None, "subtype": "bot_message", "bot_id": "B01", "username": "Alerts"}, "B01", "Alerts"),
        ({"user": None, "bot_id": "B02", "bot_profile": {"name": "Deploy bot"}}, "B02", "Deploy bot"),
        ({"user": "U999", "user_profile": {"real_name": "Guest From Acme"}}, "U999", "Guest From Acme"),
    ],
)
def test_authors_are_named_by_users_then_bots(extra, user_id, name) -> None:
    rec = mapping.map_message(message(**extra), CTX)
    assert (rec["user_id"], rec["user_name"]) == (user_id, name)


def test_attachments_stand_in_for_an_empty_text_and_nul_bytes_go() -> None:
    rec = mapping.map_message(
        message(text="", attachments=[{"fallback": "3 payments failed"}, {"text": "see log"}]), CTX
    )
    assert rec["text"] == "3 payments failed\nsee log"
    assert mapping.map_message(message(text="a\x00b"), CTX)["text"] == "ab"
    assert mapping.map_message(message(text=None), CTX)["text"] == ""


def test_an_unknown_channel_is_named_by_its_id() -> None:
    assert mapping.map_message(message(channel="C0OTHER"), CTX)["channel"] == "C0OTHER"


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"ts": "yesterday"}, "is not a Slack timestamp"),
        ({"ts": 1512085950.000216}, "is not a Slack timestamp"),
        ({"thread_ts": "soon"}, "thread_ts"),
        ({"text": {"blocks": []}}, "not text"),
        ({"channel": None}, "no channel"),
    ],
)
def test_malformed_messages_raise_record_errors(extra, error) -> None:
    with pytest.raises(mapping.RecordError, match=error):
        mapping.map_message(message(**extra), CTX)


def test_user_names_prefer_the_real_name() -> None:
    full = {"name": "spengler", "real_name": "Egon", "profile": {"real_name": "Egon Spengler"}}
    assert mapping.user_name(full) == "Egon Spengler"
    assert mapping.user_name({"name": "spengler", "profile": {"display_name": "egon"}}) == "egon"
    assert mapping.user_name({"name": "spengler"}) == "spengler"
    assert mapping.user_name({"profile": {}}) is None


# ---- Slack's errors through the one table -------------------------------------------------------------


def resolve(status: int, body: dict | str, headers: dict | None = None):
    text = body if isinstance(body, str) else json.dumps(body)
    return ERROR_TABLE.resolve(
        Problem(status, headers or {}, text), vendor="Slack", redact=SecretFilter(["xoxb-secret"])
    )


@pytest.mark.parametrize("code", ["invalid_auth", "not_authed", "token_revoked", "account_inactive"])
def test_auth_errors_are_credentials_errors_not_retried(code) -> None:
    err = resolve(200, {"ok": False, "error": code})
    assert (err.action, err.kind, err.message) == (Action.FAIL, Kind.CREDENTIALS, f"Slack refused the token ({code})")


def test_a_missing_scope_names_what_is_needed() -> None:
    err = resolve(200, {"ok": False, "error": "missing_scope", "needed": "groups:history", "provided": "channels:read"})
    assert err.kind is Kind.CREDENTIALS and err.action is Action.FAIL
    assert "missing_scope (needs groups:history; the token has channels:read)" in err.message


def test_ratelimited_backs_off_for_retry_after() -> None:
    err = resolve(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "30"})
    assert (err.action, err.retry_after) == (Action.BACKOFF, 30.0)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, {"ok": False, "error": "internal_error"}),
        (200, {"ok": False, "error": "service_unavailable"}),
        (503, "<html>Service Unavailable</html>"),
        (500, {"ok": False, "error": "fatal_error"}),
    ],
)
def test_server_trouble_is_retried(status, body) -> None:
    assert resolve(status, body).action is Action.RETRY


def test_other_ok_false_errors_fail_naming_the_code() -> None:
    err = resolve(200, {"ok": False, "error": "invalid_cursor"})
    assert (err.action, err.kind, err.message) == (
        Action.FAIL,
        Kind.OUR_BUG,
        "Slack refused our request: invalid_cursor",
    )


def test_config_refuses_unknown_channel_types() -> None:
    assert SlackConfig(token="xoxb-1", channel_types="public_channel,mpim").channel_types == "public_channel,mpim"
    with pytest.raises(ValueError):
        SlackConfig(token="xoxb-1", channel_types="public_channel,dm")
