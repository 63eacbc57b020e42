"""Lattice's shape -> our model (lattice.md 4). Pure functions over the documented records.

Relations arrive as references (``{"id", "object", "url"}``), never expanded, so the connector resolves what
a record needs before the page is mapped and hands it over in ``MappingContext``: user id -> email (managers,
reviewers, feedback authors), department id -> name, reviewee id -> the reviewed user's id. Timestamps are
integers, Unix epoch seconds (4); plain dates are ``YYYY-MM-DD``.

Two connector additions sit on records in Lattice's own reference shape (as HubSpot's connector adds
associations): a review carries ``reviewCycle`` (the cycle it was read under, with its name), a feedback
is split per target and carries that ``target``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors.base import RecordError
from connectors.base.mapping import as_utc, fit, parse_day, record_envelope, text
from core.db import models as m

SOURCE = "lattice"
FEEDBACK_CYCLE = "Feedback"  # the `cycle` of a review row that is a piece of feedback
RATING_MIN, RATING_MAX = 1, 5  # our scale; a rating outside it (another scale) is not stored as one

USER_STATUS = {"ACTIVE": "active", "DEACTIVATED": "inactive", "INVITED": "invited", "CREATED": "invited"}
# Lattice goal status -> ours. NotUpdated carries no sign of trouble; Progressing is the middle (amber) one.
GOAL_STATUS = {"OnTrack": "on_track", "NotUpdated": "on_track", "Progressing": "at_risk", "OffTrack": "off_track"}


@dataclass(frozen=True)
class MappingContext:
    emails: Mapping[str, str] = field(default_factory=dict)  # user id -> email
    departments: Mapping[str, str] = field(default_factory=dict)  # department id -> name
    reviewees: Mapping[str, str] = field(default_factory=dict)  # reviewee id -> user id


# ---- values -----------------------------------------------------------------------------------


def ref_id(value: Any) -> str | None:
    """The id of an ObjectReference ``{"id", "object", "url"}`` (or a bare id)."""
    if isinstance(value, Mapping):
        return text(value.get("id"))
    return text(value)


def epoch(value: Any, what: str) -> datetime | None:
    """Epoch seconds (documented); epoch milliseconds and ISO-8601 text are taken too."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float) or str(value).lstrip("-").isdigit():
            seconds = float(value)
            return datetime.fromtimestamp(seconds / 1000 if abs(seconds) > 1e11 else seconds, tz=UTC)
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise RecordError(f"{what}: {str(value)[:40]!r} is not a timestamp") from None
    return as_utc(parsed)


def number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out == out and abs(out) != float("inf") else None


def _envelope(obj: Mapping[str, Any], external_id: str, created: Any, updated: Any) -> dict[str, Any]:
    created_at, updated_at = epoch(created, "createdAt"), epoch(updated, "updatedAt")
    return record_envelope(external_id, obj, created_at, updated_at or created_at)


def _id(obj: Mapping[str, Any], what: str) -> str:
    found = text(obj.get("id"))
    if found is None:
        raise RecordError(f"{what} has no id")
    return found


# ---- records ----------------------------------------------------------------------------------


def map_user(obj: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    uid = _id(obj, "user")
    email = text(obj.get("email"))
    if email is None or "@" not in email:
        raise RecordError("user has no email address")
    name = text(obj.get("name")) or text(obj.get("preferredName")) or email
    rec = _envelope(obj, uid, obj.get("createdAt"), obj.get("updatedAt"))
    manager = ctx.emails.get(ref_id(obj.get("manager")) or "")
    rec.update(
        name=fit(m.Employee, "name", name),
        email=fit(m.Employee, "email", email.lower()),
        title=fit(m.Employee, "title", text(obj.get("title"))),
        department=fit(m.Employee, "department", ctx.departments.get(ref_id(obj.get("department")) or "")),
        manager_email=fit(m.Employee, "manager_email", manager.lower() if manager else None),
        hired_on=parse_day(obj.get("startDate"), "startDate"),
        status=USER_STATUS.get(str(obj.get("status") or "ACTIVE").upper(), "active"),
    )
    return rec


def review_id(obj: Mapping[str, Any]) -> str:
    return f"review:{_id(obj, 'review')}"


def feedback_id(obj: Mapping[str, Any]) -> str:
    return f"feedback:{_id(obj, 'feedback')}:{ref_id(obj.get('target')) or '-'}"


def rating(response: Any) -> int | None:
    value = number(response.get("rating")) if isinstance(response, Mapping) else None
    if value is None or not value.is_integer() or not RATING_MIN <= value <= RATING_MAX:
        return None
    return int(value)


def map_review(obj: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    """One reviewer's answer to one question about one reviewee, in one cycle."""
    response = obj.get("calibratedResponse") or obj.get("response") or {}
    if not isinstance(response, Mapping):
        raise RecordError("review response is not an object")
    cycle = obj.get("reviewCycle") or {}
    name = text(cycle.get("name")) if isinstance(cycle, Mapping) else None
    rec = _envelope(obj, review_id(obj), response.get("createdAt"), response.get("updatedAt") or obj.get("submittedAt"))
    reviewer = ctx.emails.get(ref_id(obj.get("reviewer")) or "")
    rec.update(
        employee_ref=ctx.reviewees.get(ref_id(obj.get("reviewee")) or ""),
        reviewer_email=fit(m.Review, "reviewer_email", reviewer.lower() if reviewer else None),
        cycle=fit(m.Review, "cycle", name or ref_id(cycle) or "Review"),
        rating=rating(response),
        body=text(response.get("comment")),
        submitted_at=epoch(obj.get("submittedAt"), "submittedAt"),
    )
    return rec


def map_feedback(obj: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    """A piece of feedback about one of its targets, stored as a review row of cycle "Feedback"."""
    target = ref_id(obj.get("target"))
    if target is None:
        raise RecordError("feedback has no target")
    rec = _envelope(obj, feedback_id(obj), obj.get("createdAt"), obj.get("createdAt"))
    author = ctx.emails.get(ref_id(obj.get("author")) or "")
    rec.update(
        employee_ref=target,
        reviewer_email=fit(m.Review, "reviewer_email", author.lower() if author else None),
        cycle=FEEDBACK_CYCLE,
        rating=None,
        body=text(obj.get("body")),
        submitted_at=epoch(obj.get("createdAt"), "createdAt"),
    )
    return rec


def map_review_row(obj: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    return map_feedback(obj, ctx) if obj.get("object") == "feedback" else map_review(obj, ctx)


def progress(obj: Mapping[str, Any], done: bool) -> float:
    """Where the goal stands between its starting and ending amounts, 0..1 (Binary: met or not)."""
    if done:
        return 1.0
    start, end, now = (number(obj.get(k)) for k in ("startingAmount", "endingAmount", "currentAmount"))
    if now is None or end is None:
        return 0.0
    if str(obj.get("amountType")) == "Binary":
        return 1.0 if now >= end else 0.0
    start = start or 0.0
    if end == start:
        return 1.0 if now >= end else 0.0
    return round(min(1.0, max(0.0, (now - start) / (end - start))), 4)


def map_goal(obj: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    gid = _id(obj, "goal")
    title = text(obj.get("name"))
    if title is None:
        raise RecordError("goal has no name")
    finished = obj.get("completedAt") is not None
    share = progress(obj, finished)
    done = finished or (obj.get("state") == "Ended" and share >= 1.0)
    status = "done" if done else GOAL_STATUS.get(str(obj.get("status")))
    if status is None:
        raise RecordError(f"goal status {obj.get('status')!r} is not one of {', '.join(GOAL_STATUS)}")
    rec = _envelope(obj, gid, obj.get("createdAt"), obj.get("updatedAt"))
    owners = obj.get("owners") or {}
    first = (owners.get("data") or [None])[0] if isinstance(owners, Mapping) else None
    rec.update(
        employee_ref=ref_id(first),
        title=fit(m.Goal, "title", title),
        status=status,
        progress=1.0 if done else share,
        due_on=parse_day(obj.get("dueDate"), "dueDate"),
    )
    return rec
