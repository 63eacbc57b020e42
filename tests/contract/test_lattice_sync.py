"""The real Lattice connector, runner and ingest path against the fake Lattice at the wire: full passes,
deletes by absence only after a complete pass."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from core.db import models as m
from core.runtime import Runtime
from tests.contract.fake_lattice import FakeLattice, add_lattice, populate
from tests.contract.sync_helpers import FAULTS, cursor, fail_forever, refused_and_retry, rows, sync

STREAMS = ["users", "goals", "reviews"]


@pytest.fixture
def fake() -> Iterator[FakeLattice]:
    lattice = FakeLattice().start()
    populate(lattice)
    yield lattice
    lattice.stop()


def snapshot(runtime: Runtime) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    with runtime.session() as s:
        employees = dict(s.execute(select(m.Employee.id, m.Employee.external_id)).all())
        for model in (m.Employee, m.Goal, m.Review):
            out[model.__tablename__] = rows(s, model, model.source == "lattice", refs={"employee_id": employees})
    return out


def counts(runtime: Runtime) -> dict[str, int]:
    return {t: len(found) for t, found in snapshot(runtime).items()}


def ids(runtime: Runtime, model: type[m.Base]) -> set[str]:
    with runtime.session() as s:
        return set(s.scalars(select(model.external_id).where(model.source == "lattice")))


def clean_snapshot(clean: Runtime, fake: FakeLattice) -> dict:
    add_lattice(clean, fake)
    assert sync(clean, name="hr").status == "succeeded"
    return snapshot(clean)


def test_full_sync_resolves_every_reference(runtime: Runtime, fake: FakeLattice) -> None:
    add_lattice(runtime, fake)

    result = sync(runtime, name="hr")

    assert result.status == "succeeded", result.error
    assert counts(runtime) == {"employees": 8, "goals": 6, "reviews": 6}  # 4 reviews + feedback to 2 people
    with runtime.session() as s:
        people = {e.name: e for e in s.scalars(select(m.Employee))}
        assert people["Dana Rep"].manager_email == "blake@payready.com" and people["Dana Rep"].department == "Sales"
        assert people["Avery Chief"].manager_email is None and people["Hal Gone"].status == "inactive"
        reviews = s.scalars(select(m.Review)).all()
        by_body = {r.body: r for r in reviews}
        dana_id = next(u.id for u in fake.store.users.values() if u.name == "Dana Rep")
        dana = by_body[f"Review of {dana_id}"]
        assert (dana.cycle, dana.rating, dana.reviewer_email) == ("2024 H1", 4, "blake@payready.com")
        assert dana.employee_id == people["Dana Rep"].id
        assert by_body["On a ten-point scale"].rating is None  # not our 1-5 scale
        feedback = [r for r in reviews if r.cycle == "Feedback"]
        assert {r.employee_id for r in feedback} == {people["Dana Rep"].id, people["Eli Rep"].id}
        assert "Private note" not in by_body  # private feedback stays out unless asked for
        goals = {g.title: g for g in s.scalars(select(m.Goal))}
        assert set(goals) == {"Q2 goal 0", "Q2 goal 1", "Q2 goal 2", "Q2 goal 3", "Q2 goal 4", "Ship v2"}
        assert (goals["Ship v2"].status, goals["Ship v2"].progress) == ("done", 1.0)
        assert (goals["Q2 goal 2"].status, goals["Q2 goal 2"].progress) == ("off_track", 0.4)
        assert goals["Q2 goal 1"].employee_id == people["Dana Rep"].id
    lists = [r for r in fake.requests if r.path == "/v1/users"]
    assert {r.query["status"][0] for r in lists} == {"ACTIVE", "DEACTIVATED"}
    assert all(r.query["limit"] == ["3"] for r in lists)


def test_every_run_is_a_full_pass_that_upserts(runtime: Runtime, fake: FakeLattice) -> None:
    add_lattice(runtime, fake)
    assert sync(runtime, name="hr").status == "succeeded"
    first = snapshot(runtime)
    dana = next(u for u in fake.store.users.values() if u.name == "Dana Rep")
    dana.title, dana.updated = "Senior Account Executive", dana.updated + 60

    result = sync(runtime, name="hr")

    assert result.status == "succeeded", result.error
    assert {r.stream: r.tally.read for r in result.runs} == {"users": 8, "goals": 6, "reviews": 6}
    assert counts(runtime) == {"employees": 8, "goals": 6, "reviews": 6}  # nothing duplicated
    with runtime.session() as s:
        assert s.scalar(select(m.Employee.title).where(m.Employee.external_id == dana.id)) == "Senior Account Executive"
    # the goals are as they were (only their raw payload carries the owner's new title)
    assert [g[:7] for g in snapshot(runtime)["goals"]] == [g[:7] for g in first["goals"]]
    assert cursor(runtime, "users", name="hr")["started_at"] is None  # no pass in progress


def test_records_gone_from_lattice_are_deleted_after_a_complete_pass(any_runtime: Runtime, fake: FakeLattice) -> None:
    add_lattice(any_runtime, fake)
    assert sync(any_runtime, name="hr").status == "succeeded"
    gone_goal = next(iter(fake.store.goals))
    gone_review = next(iter(fake.store.reviews.values()))[0]["id"]
    gone_user = next(u.id for u in fake.store.users.values() if u.name == "Gale Dev")
    for oid in (gone_goal, gone_review, gone_user):
        fake.remove(oid)

    result = sync(any_runtime, name="hr")

    assert result.status == "succeeded", result.error
    assert {r.stream: r.tally.deleted for r in result.runs} == {"users": 1, "goals": 1, "reviews": 1}
    assert gone_user not in ids(any_runtime, m.Employee) and gone_goal not in ids(any_runtime, m.Goal)
    assert f"review:{gone_review}" not in ids(any_runtime, m.Review)
    assert counts(any_runtime) == {"employees": 7, "goals": 5, "reviews": 5}  # a review of Gale is still in Lattice


def test_an_incomplete_pass_deletes_nothing(runtime: Runtime, fake: FakeLattice) -> None:
    add_lattice(runtime, fake)
    assert sync(runtime, name="hr").status == "succeeded"
    before = ids(runtime, m.Goal)
    fake.remove(next(iter(fake.store.goals)))
    fake.fail(path="/v1/goals", after=1, status=500, times=None)  # the pass breaks after its first page

    failed = sync(runtime, name="hr")

    assert failed.status == "failed" and failed.runs[-1].stream == "goals"
    assert ids(runtime, m.Goal) == before  # not seen is not gone until the pass completes
    assert cursor(runtime, "goals", name="hr")["started_at"] is not None  # the pass is in progress

    fake.recover()
    resumed = sync(runtime, name="hr")

    assert resumed.status == "succeeded", resumed.error
    assert len(ids(runtime, m.Goal)) == len(before) - 1
    # what the interrupted pass wrote before failing counted as seen: only the removed goal went
    assert {r.stream: r.tally.deleted for r in resumed.runs}["goals"] == 1


@pytest.mark.parametrize("fault", FAULTS)
def test_crash_mid_sync_then_resume_equals_a_clean_full_sync(
    runtime: Runtime, clean: Runtime, fake: FakeLattice, fault: str
) -> None:
    add_lattice(runtime, fake)
    fail_forever(fake, fault, path="/reviews", after=1)  # a second review page never comes

    failed = sync(runtime, name="hr")

    assert failed.status == "failed" and failed.runs[-1].stream == "reviews"
    assert "gave up after 3 attempts" in failed.error
    saved = cursor(runtime, "reviews", name="hr")
    assert saved["after"] is not None and saved["cycles"]

    fake.recover()
    resumed = sync(runtime, name="hr")

    assert resumed.status == "succeeded", resumed.error
    assert {r.stream: r.tally.read for r in resumed.runs}["reviews"] == 3  # the rest of the pass
    assert snapshot(runtime) == clean_snapshot(clean, fake)


def test_rate_limits_and_server_errors_are_survived(runtime: Runtime, clean: Runtime, fake: FakeLattice) -> None:
    add_lattice(runtime, fake)
    limited = fake.fail(path="/v1/goals", after=1, status=429, headers={"Retry-After": "1"})
    fake.fail(path="/v1/departments", status=503, times=2)

    result = sync(runtime, name="hr")

    assert result.status == "succeeded", result.error
    assert limited.fired == 1
    refused, retry = refused_and_retry([r for r in fake.requests if r.path == "/v1/goals"])
    assert retry.at - refused.at >= 1.0  # Retry-After honoured
    fake.recover()
    assert snapshot(runtime) == clean_snapshot(clean, fake)


def test_a_bad_key_stops_the_run_keeps_the_cursor_and_deletes_nothing(runtime: Runtime, fake: FakeLattice) -> None:
    add_lattice(runtime, fake)
    assert sync(runtime, name="hr").status == "succeeded"
    before = {s: cursor(runtime, s, name="hr") for s in STREAMS}
    stored = snapshot(runtime)
    fake.api_key = "rotated-key-0000000000"

    result = sync(runtime, name="hr")

    assert result.status == "failed" and len(result.runs) == 1
    assert result.error.startswith("stream users: Lattice refused the credentials (401)")
    assert "lat-fake-api-key" not in result.error
    assert {s: cursor(runtime, s, name="hr") for s in STREAMS} == before
    assert snapshot(runtime) == stored


def test_malformed_records_are_quarantined_and_not_deleted_later(runtime: Runtime, fake: FakeLattice) -> None:
    nameless = fake.add_user("No Mail", email=None)
    bad_goal = fake.add_goal(None, "Weird status", status="Sideways")
    add_lattice(runtime, fake)

    first = sync(runtime, name="hr")

    assert first.status == "succeeded", first.error
    assert {r.stream: r.tally.quarantined for r in first.runs} == {"users": 1, "goals": 1, "reviews": 0}
    with runtime.session() as s:
        errors = {q.external_id: q.error for q in s.scalars(select(m.QuarantinedRecord))}
    assert "no email" in errors[nameless] and "Sideways" in errors[bad_goal]
    assert counts(runtime) == {"employees": 8, "goals": 6, "reviews": 6}
    # fixed in Lattice: the next pass takes it; nothing is swept meanwhile
    fake.store.users[nameless].email = "nomail@payready.com"
    second = sync(runtime, name="hr")
    assert second.status == "succeeded" and sum(r.tally.deleted for r in second.runs) == 0
    assert nameless in ids(runtime, m.Employee)


def test_a_sudden_mass_absence_is_not_taken_for_deletions(runtime: Runtime, fake: FakeLattice) -> None:
    add_lattice(runtime, fake)
    assert sync(runtime, name="hr").status == "succeeded"
    for goal in list(fake.store.goals)[:5]:  # 5 of the 6 stored goals vanish at once
        fake.remove(goal)

    result = sync(runtime, name="hr", streams=["goals"])

    assert result.status == "succeeded" and result.runs[0].tally.deleted == 0
    assert counts(runtime)["goals"] == 6
