"""Gong's shape -> our model. Pure functions over the documented wire shape (gong.md 2.2, 2.3): a call from
``POST /v2/calls/extensive`` (``metaData``, ``parties``, ``context``, ``interaction``) to which the connector
adds ``transcript``, the call's monologues from ``POST /v2/calls/transcript`` (absent: no transcript yet).

- calls: ``metaData.started`` (ISO-8601 with any offset) -> UTC; ``duration`` seconds; owner = the email of
  the primary user (Gong user id -> email from ``GET /v2/users``, else the party that is that user).
- participants: one per party, joined to the transcript by ``speakerId``; a speaker the parties do not name
  becomes an "Unknown speaker". ``talk_time_s`` is the sum of that speaker's segment durations; without a
  transcript, Gong's own ``interaction.speakers[].talkTime``.
- segments: one per monologue (consecutive speech by one speaker): its first sentence's start to its last
  sentence's end; sentence times are integer milliseconds from the call start (gong.md 2.3).
- accounts and deals: linked through the call's CRM context (``context[].system`` Salesforce or HubSpot) as
  cross-source references; the record a Salesforce/HubSpot connector stored under that id.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connectors.base import RecordError
from connectors.base.mapping import as_utc, fit
from connectors.base.mapping import text as plain_text
from core.db import models as m

SOURCE = "gong"
UNKNOWN_SPEAKER = "Unknown speaker"
UNTITLED = "Untitled Gong call"
AFFILIATIONS = {"internal": "internal", "external": "external"}  # Gong's Unknown (or none) -> "unknown"
UNKNOWN_AFFILIATION = "unknown"

# CRM systems in call context -> the source name our CRM connectors write records under.
CRM_SOURCES = {"salesforce": "salesforce", "hubspot": "hubspot"}
# Context object types naming the account / the deal. Salesforce's are Gong's documented examples
# (Account, Opportunity); HubSpot's names (Company, Deal) are unconfirmed, so both readings are accepted.
ACCOUNT_OBJECTS = frozenset({"account", "company"})
DEAL_OBJECTS = frozenset({"opportunity", "deal"})
TIMING_PREFERENCE = ("now", "timeofcall", "")  # the CRM as it is now first, then as it was at the call


@dataclass(frozen=True)
class MappingContext:
    users: Mapping[str, str] = field(default_factory=dict)  # Gong user id -> email


# ---- values -----------------------------------------------------------------------------------


def text(value: Any) -> str | None:
    """Clean text (``plain_text``); only a string or an integer id is taken as text."""
    if value is not None and not isinstance(value, str | int):
        raise RecordError(f"expected text, got {type(value).__name__}")
    return plain_text(value)


def parse_time(value: Any, what: str) -> datetime:
    raw = text(value)
    if raw is None:
        raise RecordError(f"{what} is missing")
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise RecordError(f"{what}: {raw[:40]!r} is not an ISO-8601 time") from None
    return as_utc(parsed)


def optional_time(value: Any, what: str) -> datetime | None:
    return None if text(value) is None else parse_time(value, what)


def number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise RecordError(f"{what}: {value!r} is not a number")
    try:
        out = float(value)
    except ValueError:
        raise RecordError(f"{what}: {value!r} is not a number") from None
    if not math.isfinite(out) or out < 0:
        raise RecordError(f"{what}: {value!r} is not a non-negative number")
    return out


def email(value: Any) -> str | None:
    raw = text(value)
    return raw.lower() if raw and "@" in raw else None


# ---- the call ---------------------------------------------------------------------------------


def call_id(call: Mapping[str, Any]) -> str | None:
    """The call's id, or None when the record has none (it is then quarantined without one)."""
    meta = call.get("metaData")
    value = meta.get("id") if isinstance(meta, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value).strip() or None


def map_call(call: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    meta = call.get("metaData")
    if not isinstance(meta, Mapping):
        raise RecordError("call has no metaData")
    external_id = text(meta.get("id"))
    if external_id is None:
        raise RecordError("call has no metaData.id")
    started = parse_time(meta.get("started"), "metaData.started")
    duration = round(number(meta.get("duration") or 0, "metaData.duration"))
    parties = [p for p in call.get("parties") or [] if isinstance(p, Mapping)]
    transcript = call.get("transcript")
    segments = map_segments(transcript) if transcript is not None else None
    account_ref, deal_ref = crm_refs(call.get("context"))
    record: dict[str, Any] = {
        "external_id": external_id,
        "raw": {k: v for k, v in call.items() if k != "transcript"},
        "title": fit(m.Call, "title", text(meta.get("title")) or UNTITLED),
        "started_at": started,
        "duration_s": duration,
        "owner": fit(m.Call, "owner", owner_email(meta, parties, ctx)),
        "url": fit(m.Call, "url", text(meta.get("url"))),
        "participants": participants(parties, segments, call.get("interaction")),
        "account_ref": account_ref,
        "deal_ref": deal_ref,
        # Gong keeps no last-modified time (gong.md 3): the call's end stands in, so a re-read changes nothing
        "created_at": started,
        "updated_at": started + timedelta(seconds=duration),
    }
    if segments is not None:
        record["segments"] = segments
    return record


def owner_email(meta: Mapping[str, Any], parties: list[Mapping[str, Any]], ctx: MappingContext) -> str | None:
    primary = text(meta.get("primaryUserId"))
    if primary is None:
        return None
    if primary in ctx.users:
        return ctx.users[primary]
    for party in parties:
        if text(party.get("userId")) == primary:
            return email(party.get("emailAddress"))
    return None


def map_segments(transcript: Any) -> list[dict[str, Any]]:
    """Monologues -> our segments, in time order."""
    if not isinstance(transcript, list):
        raise RecordError("transcript is not a list of monologues")
    found: list[tuple[float, int, dict[str, Any]]] = []
    for i, mono in enumerate(transcript):
        if not isinstance(mono, Mapping):
            raise RecordError(f"transcript[{i}] is not a monologue")
        speaker = text(mono.get("speakerId"))
        sentences = [s for s in mono.get("sentences") or [] if isinstance(s, Mapping)]
        words = [t for t in (text(s.get("text")) for s in sentences) if t]
        if speaker is None or not sentences or not words:
            continue  # a monologue with nobody or nothing in it carries no information
        start = number(sentences[0].get("start"), f"transcript[{i}] sentence start") / 1000
        end = number(sentences[-1].get("end"), f"transcript[{i}] sentence end") / 1000
        if end < start:
            raise RecordError(f"transcript[{i}] ends ({end:.3f} s) before it starts ({start:.3f} s)")
        found.append(
            (
                start,
                i,
                {
                    "speaker_id": fit(m.TranscriptSegment, "speaker_id", speaker),
                    "start_s": start,
                    "end_s": end,
                    "text": " ".join(words),
                },
            )
        )
    found.sort(key=lambda item: (item[0], item[1]))
    return [{"position": pos, **seg} for pos, (_, _, seg) in enumerate(found)]


def participants(
    parties: list[Mapping[str, Any]], segments: list[dict[str, Any]] | None, interaction: Any
) -> list[dict[str, Any]]:
    """One row per party, plus one per transcript speaker no party names; talk time per speaker."""
    talk: dict[str, float] = {}
    if segments is not None:
        for seg in segments:
            talk[seg["speaker_id"]] = talk.get(seg["speaker_id"], 0.0) + seg["end_s"] - seg["start_s"]
    gong_talk = _gong_talk_times(interaction) if segments is None else {}
    rows: list[dict[str, Any]] = []
    named: set[str] = set()
    for party in parties:
        party_id = text(party.get("id"))
        speaker = text(party.get("speakerId")) or party_id
        if speaker is None or speaker in named:
            continue
        named.add(speaker)
        address = email(party.get("emailAddress"))
        name = text(party.get("name")) or address or text(party.get("phoneNumber")) or UNKNOWN_SPEAKER
        affiliation = AFFILIATIONS.get((text(party.get("affiliation")) or "").lower(), UNKNOWN_AFFILIATION)
        seconds = talk.get(speaker, 0.0) if segments is not None else gong_talk.get(party_id or "", 0.0)
        rows.append(
            {
                "speaker_id": fit(m.CallParticipant, "speaker_id", speaker),
                "name": fit(m.CallParticipant, "name", name),
                "email": fit(m.CallParticipant, "email", address),
                "affiliation": affiliation,
                "talk_time_s": round(seconds, 3),
            }
        )
    for speaker in sorted(set(talk) - named):
        rows.append(
            {
                "speaker_id": speaker,
                "name": UNKNOWN_SPEAKER,
                "email": None,
                "affiliation": UNKNOWN_AFFILIATION,
                "talk_time_s": round(talk[speaker], 3),
            }
        )
    return rows


def _gong_talk_times(interaction: Any) -> dict[str, float]:
    """``interaction.speakers``: ``[{"id": <party id>, "userId", "talkTime": seconds}]``."""
    if not isinstance(interaction, Mapping):
        return {}
    out: dict[str, float] = {}
    for speaker in interaction.get("speakers") or []:
        if isinstance(speaker, Mapping) and text(speaker.get("id")) and speaker.get("talkTime") is not None:
            out[text(speaker["id"]) or ""] = number(speaker["talkTime"], "interaction.speakers.talkTime")
    return out


def crm_refs(context: Any) -> tuple[dict[str, str] | None, dict[str, str] | None]:
    """The account and the deal the call is linked to in a CRM we sync, as cross-source references."""
    if not isinstance(context, list):
        return None, None
    found: dict[str, list[tuple[int, dict[str, str]]]] = {"account": [], "deal": []}
    for entry in context:
        if not isinstance(entry, Mapping):
            continue
        source = CRM_SOURCES.get((text(entry.get("system")) or "").lower())
        if source is None:
            continue
        for obj in entry.get("objects") or []:
            if not isinstance(obj, Mapping) or not text(obj.get("objectId")):
                continue
            kind = (text(obj.get("objectType")) or "").lower()
            which = "account" if kind in ACCOUNT_OBJECTS else "deal" if kind in DEAL_OBJECTS else None
            if which is None:
                continue
            timing = (text(obj.get("timing")) or "").lower()
            rank = TIMING_PREFERENCE.index(timing) if timing in TIMING_PREFERENCE else len(TIMING_PREFERENCE)
            found[which].append((rank, {"source": source, "external_id": text(obj["objectId"]) or ""}))
    account = min(found["account"], key=lambda f: f[0])[1] if found["account"] else None
    deal = min(found["deal"], key=lambda f: f[0])[1] if found["deal"] else None
    return account, deal
