"""HubSpot's shape -> our model. Pure functions over the documented wire shape (hubspot.md 2):
``{"id", "properties": {name: string|null}, "createdAt", "updatedAt", "propertiesWithHistory"?,
"associations"?}``. A record that cannot be mapped raises RecordError and is quarantined.

Deal stages: a connector's ``stage_map`` setting (the tenant's stage id -> ours) overrides; then HubSpot's
default pipeline ids (``core.metrics.stages``); then what the stage's own pipeline says of it
(``GET /crm/v3/pipelines/deals``: closed or open, probability, display order; ``infer_stage``), so a portal
with pipelines of its own syncs on its first run. A stage none of these maps quarantines its deals with a
message saying which ``stage_map`` entry to add. ``stage_mappings`` lists the result for people to check.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from typing import Any

from connectors.base import RecordError
from connectors.base.mapping import (
    as_utc,
    collapse_stages,
    fit,
    infer_stage,
    parse_number,
    record_envelope,
    text,
    units_and_segment,
    us_state,
)
from core.db import models as m
from core.metrics.stages import BY_NAME, canonical_stage
from core.pipelines.contract import StageMapping

SOURCE = "hubspot"

# HubSpot company lifecycle stages (default ids) -> our account lifecycle. Other ids are left unset.
LIFECYCLE: dict[str, str] = {
    "subscriber": "prospect",
    "lead": "prospect",
    "marketingqualifiedlead": "prospect",
    "salesqualifiedlead": "prospect",
    "opportunity": "prospect",
    "customer": "live",
    "evangelist": "live",
    "other": "prospect",
}

# HubSpot deal types (default ids) -> ours (new | expansion | renewal). Other ids are left unset.
DEAL_TYPES: dict[str, str] = {"newbusiness": "new", "existingbusiness": "expansion", "renewal": "renewal"}

# Association types HubSpot defines as primary (contact->company 1, deal->company 5); v4 also labels them.
PRIMARY_TYPE_IDS = frozenset({1, 5})
PRIMARY_LABEL = "Primary"

NOTE_SUBJECT_CHARS = 120


# ---- context the mapping needs beyond the record --------------------------------------------


@dataclass(frozen=True)
class PipelineStage:
    pipeline: str  # the pipeline's label
    label: str
    is_closed: bool
    probability: float | None
    inferred: str | None = None  # our stage, read from the stage's metadata (``infer_stage``); None: too little
    display_order: int = 0


@dataclass(frozen=True)
class MappingContext:
    owners: Mapping[str, str] = field(default_factory=dict)  # owner id -> email
    stage_map: Mapping[str, str] = field(default_factory=dict)  # tenant stage id -> our stage
    pipeline_stages: Mapping[str, PipelineStage] = field(default_factory=dict)  # stage id -> its pipeline metadata
    units_property: str | None = None  # the tenant's company property holding units managed, if any


def pipeline_stages(pipelines: list[Mapping[str, Any]]) -> dict[str, PipelineStage]:
    """``GET /crm/v3/pipelines/deals`` results -> stage id -> metadata (metadata values are strings), each
    stage's inferred stage of ours with it."""
    found: dict[str, PipelineStage] = {}
    for pipe in pipelines:
        found.update(_pipeline(pipe))
    return found


def _pipeline(pipe: Mapping[str, Any]) -> dict[str, PipelineStage]:
    name = str(pipe.get("label") or pipe.get("id"))
    stages = sorted(
        (s for s in pipe.get("stages") or [] if isinstance(s, Mapping) and s.get("id") is not None),
        key=lambda s: _number(s.get("displayOrder")) or 0,
    )
    read = {str(s["id"]): _stage(name, s) for s in stages}
    open_ids = [sid for sid, st in read.items() if not st.is_closed]
    out: dict[str, PipelineStage] = {}
    for sid, st in read.items():
        rank = open_ids.index(sid) / (len(open_ids) - 1) if sid in open_ids and len(open_ids) > 1 else 0.0
        inferred = infer_stage(label=st.label, is_closed=st.is_closed, probability=st.probability, rank=rank)
        out[sid] = replace(st, inferred=inferred)
    return out


def _stage(pipeline: str, stage: Mapping[str, Any]) -> PipelineStage:
    meta = stage.get("metadata") if isinstance(stage.get("metadata"), Mapping) else {}
    return PipelineStage(
        pipeline=pipeline,
        label=str(stage.get("label") or stage["id"]),
        is_closed=str(meta.get("isClosed", "")).lower() == "true",
        probability=_number(meta.get("probability")),
        display_order=int(_number(stage.get("displayOrder")) or 0),
    )


def _number(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        found = float(value)
    except (TypeError, ValueError):
        return None
    return found if math.isfinite(found) else None


def resolve_stage(stage_id: str, ctx: MappingContext) -> tuple[str | None, str]:
    """A HubSpot deal stage id as (our stage or None, where that came from): the connector's ``stage_map``
    (override), HubSpot's default pipeline ids (default), the stage's pipeline metadata (inferred)."""
    if stage_id in ctx.stage_map:
        return ctx.stage_map[stage_id], "override"
    found = canonical_stage(stage_id, source=SOURCE)
    if found:
        return found, "default"
    info = ctx.pipeline_stages.get(stage_id)
    if info is not None and info.inferred is not None:
        return info.inferred, "inferred"
    return None, "unmapped"


def our_stage(stage_id: str, ctx: MappingContext) -> str:
    """A HubSpot deal stage id as one of our stages (lead ... closed_lost)."""
    stage, _ = resolve_stage(stage_id, ctx)
    if stage is not None:
        return stage
    info = ctx.pipeline_stages.get(stage_id)
    where = f" ({info.label!r} in pipeline {info.pipeline!r})" if info else ""
    raise RecordError(
        f"deal stage {stage_id!r}{where} maps to none of our stages; "
        f"set stage_map.{stage_id}=<{'|'.join(BY_NAME)}> on the connector"
    )


def stage_mappings(ctx: MappingContext) -> list[StageMapping]:
    """Every stage of every pipeline, in pipeline and display order, with the stage of ours its deals get;
    then the ``stage_map`` entries no pipeline lists (an archived stage's deals)."""
    rows = []
    for stage_id, info in ctx.pipeline_stages.items():
        stage, source = resolve_stage(stage_id, ctx)
        rows.append(StageMapping(info.pipeline, stage_id, info.label, stage, source))
    rows += [
        StageMapping("", stage_id, stage_id, stage, "override")
        for stage_id, stage in ctx.stage_map.items()
        if stage_id not in ctx.pipeline_stages
    ]
    return rows


# ---- value parsing ----------------------------------------------------------------------------


def parse_time(value: Any, what: str) -> datetime | None:
    """HubSpot datetimes: ISO-8601 UTC (``...Z``), a date, or epoch milliseconds as a string."""
    raw = text(value)
    if raw is None:
        return None
    try:
        if raw.isdigit():
            return datetime.fromtimestamp(int(raw) / 1000, tz=UTC)
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise RecordError(f"{what}: {raw[:40]!r} is not a date or time") from None
    return as_utc(parsed)


def parse_date(value: Any, what: str) -> date | None:
    parsed = parse_time(value, what)
    return parsed.date() if parsed else None


def time_ms(value: Any) -> int | None:
    """A HubSpot timestamp as epoch milliseconds (for cursors); None when absent or unreadable."""
    try:
        parsed = parse_time(value, "time")
    except RecordError:
        return None
    return int(parsed.timestamp() * 1000) if parsed else None


class _Text(HTMLParser):
    BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(value: Any) -> str | None:
    """Note and email bodies arrive as HTML; search and people want the text."""
    raw = text(value)
    if raw is None or "<" not in raw:
        return raw
    parser = _Text()
    parser.feed(raw)
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return text("\n".join(line for line in lines if line))


def primary_association(obj: Mapping[str, Any], to_type: str) -> str | None:
    """The id of the primary associated record of a type (else the first one), or None."""
    results = ((obj.get("associations") or {}).get(to_type) or {}).get("results") or []
    for assoc in results:
        for kind in assoc.get("associationTypes") or []:
            if kind.get("label") == PRIMARY_LABEL or (
                kind.get("category") == "HUBSPOT_DEFINED" and kind.get("typeId") in PRIMARY_TYPE_IDS
            ):
                return str(assoc["id"])
    return str(results[0]["id"]) if results else None


# ---- records ----------------------------------------------------------------------------------


def _envelope(obj: Mapping[str, Any], external_id: str) -> dict[str, Any]:
    """What every record carries: ids, the source's timestamps, the payload as received."""
    if not text(obj.get("id")):
        raise RecordError("record has no id")
    created = parse_time(obj.get("createdAt"), "createdAt")
    updated = parse_time(obj.get("updatedAt"), "updatedAt")
    return record_envelope(external_id, obj, created, updated)


def _props(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    props = obj.get("properties")
    if not isinstance(props, Mapping):
        raise RecordError("record has no properties object")
    return props


def map_company(obj: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    p = _props(obj)
    rec = _envelope(obj, str(obj.get("id")))
    name = text(p.get("name")) or text(p.get("domain"))
    if name is None:
        raise RecordError("company has neither a name nor a domain")
    rec.update(
        name=fit(m.Account, "name", name),
        domain=fit(m.Account, "domain", text(p.get("domain"))),
        city=fit(m.Account, "city", text(p.get("city"))),
        state=us_state(p.get("state")),
        owner=ctx.owners.get(text(p.get("hubspot_owner_id")) or ""),
    )
    lifecycle = LIFECYCLE.get((text(p.get("lifecyclestage")) or "").lower())
    if lifecycle:
        rec["lifecycle_stage"] = lifecycle
    if ctx.units_property:
        rec.update(units_and_segment(p.get(ctx.units_property), ctx.units_property))
    return rec


def map_contact(obj: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    p = _props(obj)
    rec = _envelope(obj, str(obj.get("id")))
    email = text(p.get("email"))
    rec.update(
        first_name=fit(m.Contact, "first_name", text(p.get("firstname"))),
        last_name=fit(m.Contact, "last_name", text(p.get("lastname"))),
        email=fit(m.Contact, "email", email.lower() if email else None),
        title=fit(m.Contact, "title", text(p.get("jobtitle"))),
        phone=fit(m.Contact, "phone", text(p.get("phone"))),
        account_ref=primary_association(obj, "companies"),
    )
    return rec


def stage_history(obj: Mapping[str, Any], ctx: MappingContext) -> list[dict[str, Any]] | None:
    """``propertiesWithHistory.dealstage`` as our stages in time order, repeats of one stage collapsed. An
    entry in a stage that maps to none of ours (a stage since deleted, or of a pipeline since archived) is
    left out: the deal's current stage must map, its past need not."""
    entries = (obj.get("propertiesWithHistory") or {}).get("dealstage")
    if entries is None:
        return None
    timed = []
    for entry in entries:
        value = text(entry.get("value"))
        at = parse_time(entry.get("timestamp"), "dealstage history timestamp")
        stage = resolve_stage(value, ctx)[0] if value is not None else None
        if stage is not None and at is not None:
            timed.append((at, stage))
    # repeats collapse: two HubSpot stages that are one of ours, or the same stage set twice
    return collapse_stages(timed)


def close_date_pushes(obj: Mapping[str, Any]) -> int | None:
    """How many times ``propertiesWithHistory.closedate`` moved the expected close date later (a date set for the
    first time, cleared or pulled in does not count). None when the history was not read."""
    entries = (obj.get("propertiesWithHistory") or {}).get("closedate")
    if entries is None:
        return None
    timed = []
    for entry in entries:
        try:
            at = parse_time(entry.get("timestamp"), "closedate history timestamp")
            day = parse_date(entry.get("value"), "closedate history value")
        except RecordError:  # one odd entry in the history does not cost the deal
            continue
        if at is not None and day is not None:
            timed.append((at, day))
    timed.sort()
    return sum(1 for (_, before), (_, after) in zip(timed, timed[1:], strict=False) if after > before)


def map_deal(obj: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    p = _props(obj)
    rec = _envelope(obj, str(obj.get("id")))
    name = text(p.get("dealname"))
    if name is None:
        raise RecordError("deal has no dealname")
    stage_id = text(p.get("dealstage"))
    if stage_id is None:
        raise RecordError("deal has no dealstage")
    stage = our_stage(stage_id, ctx)
    rec.update(
        name=fit(m.Deal, "name", name),
        stage=stage,
        close_date=parse_date(p.get("closedate"), "closedate"),
        owner=ctx.owners.get(text(p.get("hubspot_owner_id")) or ""),
        account_ref=primary_association(obj, "companies"),
    )
    amount = parse_number(p.get("amount"), "amount")
    if amount is not None:
        rec["amount"] = round(amount, 2)
    currency = text(p.get("deal_currency_code"))
    if currency and re.fullmatch(r"[A-Za-z]{3}", currency):
        rec["currency"] = currency.upper()
    deal_type = DEAL_TYPES.get((text(p.get("dealtype")) or "").lower())
    if deal_type:
        rec["deal_type"] = deal_type
    pushes = close_date_pushes(obj)
    if pushes is not None:
        rec["close_date_pushes"] = pushes
    history = stage_history(obj, ctx)
    if history is not None:
        rec["stage_history"] = history
        entered = next((h["entered_at"] for h in reversed(history) if h["stage"] == stage), None)
        rec["stage_entered_at"] = entered
        rec["closed_at"] = entered if not BY_NAME[stage].is_open else None
    return rec


# ---- engagements -> activities ------------------------------------------------------------------


@dataclass(frozen=True)
class Engagement:
    type: str  # our activity type
    subject: str | None  # the property holding a subject line
    bodies: tuple[str, ...]  # properties holding the body, best first
    status: str | None


ENGAGEMENTS: dict[str, Engagement] = {
    "notes": Engagement("note", None, ("hs_note_body",), None),
    "emails": Engagement("email", "hs_email_subject", ("hs_email_text", "hs_email_html"), "hs_email_status"),
    "meetings": Engagement("meeting", "hs_meeting_title", ("hs_meeting_body",), "hs_meeting_outcome"),
    "calls": Engagement("call", "hs_call_title", ("hs_call_body",), "hs_call_status"),
}


def engagement_id(object_type: str, hubspot_id: Any) -> str:
    """Activities from four HubSpot object types share one table: the type keeps their ids apart."""
    return f"{ENGAGEMENTS[object_type].type}:{hubspot_id}"


def engagement_mapper(object_type: str) -> Callable[[Mapping[str, Any], MappingContext], dict[str, Any]]:
    kind = ENGAGEMENTS[object_type]

    def map_engagement(obj: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
        p = _props(obj)
        rec = _envelope(obj, engagement_id(object_type, obj.get("id")))
        occurred = parse_time(p.get("hs_timestamp"), "hs_timestamp") or rec.get("created_at")
        if occurred is None:
            raise RecordError(f"{kind.type} has neither hs_timestamp nor createdAt")
        body = next((b for b in (html_text(p.get(name)) for name in kind.bodies) if b), None)
        subject = (
            text(p.get(kind.subject)) if kind.subject else (body.splitlines()[0][:NOTE_SUBJECT_CHARS] if body else None)
        )
        rec.update(
            type=kind.type,
            subject=fit(m.Activity, "subject", subject),
            body=body,
            occurred_at=occurred,
            owner=fit(m.Activity, "owner", ctx.owners.get(text(p.get("hubspot_owner_id")) or "")),
            status=fit(m.Activity, "status", text(p.get(kind.status)) if kind.status else None),
            account_ref=primary_association(obj, "companies"),
            contact_ref=primary_association(obj, "contacts"),
            deal_ref=primary_association(obj, "deals"),
        )
        return rec

    return map_engagement
