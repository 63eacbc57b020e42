"""Lattice records -> employees, reviews (and feedback), goals."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from connectors.base import RecordError
from connectors.lattice.mapping import (
    FEEDBACK_CYCLE,
    MappingContext,
    epoch,
    map_feedback,
    map_goal,
    map_review,
    map_review_row,
    map_user,
    progress,
)

CTX = MappingContext(
    emails={"u_mgr": "Boss@PayReady.com", "u_rev": "reviewer@payready.com"},
    departments={"d1": "Sales"},
    reviewees={"rv1": "u_dana"},
)


def user(**over: object) -> dict:
    base = {
        "id": "u_dana",
        "object": "user",
        "name": "Dana Lee",
        "preferredName": "Dana",
        "email": "Dana@PayReady.com",
        "title": "AE",
        "status": "ACTIVE",
        "startDate": "2022-03-01",
        "manager": {"id": "u_mgr", "object": "user"},
        "department": {"id": "d1", "object": "department"},
        "createdAt": 1_617_235_200,
        "updatedAt": 1_700_000_000,
    }
    base.update(over)
    return base


def test_users_become_employees_with_resolved_references() -> None:
    rec = map_user(user(), CTX)
    assert (rec["external_id"], rec["name"], rec["email"], rec["department"], rec["manager_email"]) == (
        "u_dana",
        "Dana Lee",
        "dana@payready.com",
        "Sales",
        "boss@payready.com",
    )
    assert rec["hired_on"] == date(2022, 3, 1) and rec["status"] == "active"
    assert rec["updated_at"] == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert map_user(user(status="DEACTIVATED"), CTX)["status"] == "inactive"
    assert map_user(user(manager=None, department=None), CTX)["manager_email"] is None
    with pytest.raises(RecordError, match="no email"):
        map_user(user(email=None), CTX)


def test_timestamps_are_epoch_seconds_with_tolerance() -> None:
    assert epoch(1_700_000_000, "t") == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert epoch(1_700_000_000_000, "t") == epoch(1_700_000_000, "t")  # milliseconds
    assert epoch("2023-11-14T22:13:20Z", "t") == epoch(1_700_000_000, "t")
    assert epoch(None, "t") is None
    with pytest.raises(RecordError):
        epoch("soon", "t")


def review(**over: object) -> dict:
    base = {
        "id": "r1",
        "object": "review",
        "reviewee": {"id": "rv1", "object": "reviewee"},
        "reviewer": {"id": "u_rev", "object": "user"},
        "reviewType": "Peer",
        "response": {"rating": 4, "comment": "Great quarter", "createdAt": 1_700_000_000, "updatedAt": 1_700_000_500},
        "calibratedResponse": None,
        "submittedAt": 1_700_000_500,
        "declinedAt": None,
        "reviewCycle": {"id": "c1", "object": "reviewCycle", "name": "2024 H1"},
    }
    base.update(over)
    return base


def test_reviews() -> None:
    rec = map_review(review(), CTX)
    assert (
        rec["external_id"],
        rec["employee_ref"],
        rec["reviewer_email"],
        rec["cycle"],
        rec["rating"],
        rec["body"],
    ) == ("review:r1", "u_dana", "reviewer@payready.com", "2024 H1", 4, "Great quarter")
    assert rec["submitted_at"] == datetime(2023, 11, 14, 22, 21, 40, tzinfo=UTC)
    calibrated = map_review(review(calibratedResponse={"rating": 3, "comment": "Calibrated"}), CTX)
    assert (calibrated["rating"], calibrated["body"]) == (3, "Calibrated")
    assert map_review(review(response={"rating": 7, "comment": "x"}), CTX)["rating"] is None  # a 1-10 scale
    assert map_review(review(response={"rating": 4.5, "comment": "x"}), CTX)["rating"] is None
    assert map_review(review(reviewee={"id": "unknown"}), CTX)["employee_ref"] is None


def test_feedback_is_a_review_row_per_target() -> None:
    fb = {
        "id": "f1",
        "object": "feedback",
        "author": {"id": "u_mgr"},
        "target": {"id": "u_dana", "object": "user"},
        "body": "Thanks for the help",
        "isPublic": True,
        "createdAt": 1_700_000_000,
    }
    rec = map_review_row(fb, CTX)
    assert rec == map_feedback(fb, CTX)
    assert (rec["external_id"], rec["employee_ref"], rec["reviewer_email"], rec["cycle"], rec["rating"]) == (
        "feedback:f1:u_dana",
        "u_dana",
        "boss@payready.com",
        FEEDBACK_CYCLE,
        None,
    )
    with pytest.raises(RecordError, match="no target"):
        map_feedback({**fb, "target": None}, CTX)


def goal(**over: object) -> dict:
    base = {
        "id": "g1",
        "object": "goal",
        "name": "Close 10 deals",
        "state": "Active",
        "status": "OnTrack",
        "amountType": "Digit",
        "startingAmount": 0,
        "endingAmount": 10,
        "currentAmount": 4,
        "dueDate": "2024-06-30",
        "completedAt": None,
        "owners": {"object": "list", "url": "...", "data": [{"id": "u_dana", "object": "user"}]},
        "createdAt": 1_700_000_000,
        "updatedAt": 1_700_000_100,
    }
    base.update(over)
    return base


@pytest.mark.parametrize(
    ("over", "status", "share"),
    [
        ({}, "on_track", 0.4),
        ({"status": "Progressing"}, "at_risk", 0.4),
        ({"status": "OffTrack"}, "off_track", 0.4),
        ({"status": "NotUpdated"}, "on_track", 0.4),
        ({"completedAt": 1_700_000_000}, "done", 1.0),
        ({"state": "Ended", "currentAmount": 10}, "done", 1.0),
        ({"state": "Ended", "currentAmount": 5, "status": "OffTrack"}, "off_track", 0.5),
    ],
)
def test_goal_status_and_progress(over: dict, status: str, share: float) -> None:
    rec = map_goal(goal(**over), CTX)
    assert (rec["status"], rec["progress"], rec["employee_ref"], rec["due_on"]) == (
        status,
        share,
        "u_dana",
        date(2024, 6, 30),
    )


def test_goal_progress_edges_and_errors() -> None:
    assert progress({"amountType": "Binary", "endingAmount": 1, "currentAmount": 1}, False) == 1.0
    assert (
        progress({"amountType": "Percent", "startingAmount": 20, "endingAmount": 120, "currentAmount": 70}, False)
        == 0.5
    )
    assert progress({"amountType": "Percent", "endingAmount": 100, "currentAmount": 150}, False) == 1.0
    assert progress({}, False) == 0.0
    assert map_goal(goal(owners={"object": "list", "url": "..."}), CTX)["employee_ref"] is None  # company goal
    with pytest.raises(RecordError, match="no name"):
        map_goal(goal(name=None), CTX)
    with pytest.raises(RecordError, match="Sideways"):
        map_goal(goal(status="Sideways"), CTX)
