"""A local Lattice Talent API v1 speaking the documented shapes (../shared/reference/lattice.md), on 127.0.0.1.

Bearer API key; GET only; list endpoints with the ``{"object": "list", "hasMore", "endingCursor", "data"}``
envelope, ``limit`` (default 10, max 100) and ``startingAfter``; relations as references
(``{"id", "object", "url"}``) or list references (``{"object": "list", "url"}``) never expanded; epoch-second
timestamps; the ``status`` filter on users (ACTIVE by default) and ``state`` on goals; feedback newest first;
``{"error": ...}`` bodies. Faults at the wire come from ``WireFake``.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any

from tests.contract.fake_server import Reply, Seen, WireFake
from tests.contract.sync_helpers import configure

LIMIT_DEFAULT, LIMIT_MAX = 10, 100
EPOCH = 1_704_067_200  # 2024-01-01T00:00:00Z


@dataclass
class Person:
    id: str
    name: str
    email: str | None
    title: str
    department: str | None
    manager: str | None
    status: str = "ACTIVE"
    start: str = "2022-03-01"
    updated: int = EPOCH


@dataclass
class Store:
    departments: dict[str, str] = field(default_factory=dict)  # id -> name
    users: dict[str, Person] = field(default_factory=dict)
    goals: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> goal (owners as ids under "_owners")
    cycles: dict[str, dict[str, Any]] = field(default_factory=dict)
    reviewees: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # cycle id -> reviewees
    reviews: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # cycle id -> reviews
    feedbacks: list[dict[str, Any]] = field(default_factory=list)


class FakeLattice(WireFake):
    def __init__(self, *, api_key: str = "lat-fake-api-key-0123456789") -> None:
        super().__init__()
        self.api_key = api_key
        self.store = Store()
        self._n = 0

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def next_id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n:04d}"

    def ref(self, kind: str, oid: str) -> dict[str, str]:
        return {"id": oid, "object": kind, "url": f"{self.base_url}/{kind}/{oid}"}

    def list_ref(self, path: str) -> dict[str, str]:
        return {"object": "list", "url": f"{self.base_url}/{path}"}

    # ---- data -----------------------------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        *,
        email: str | None = "",
        title: str = "Account Executive",
        department: str | None = None,
        manager: str | None = None,
        status: str = "ACTIVE",
    ) -> str:
        with self._lock:
            uid = self.next_id("user")
            mail = f"{name.split()[0].lower()}@payready.com" if email == "" else email
            self.store.users[uid] = Person(uid, name, mail, title, department, manager, status)
            return uid

    def add_goal(
        self,
        owner: str | None,
        name: str | None,
        *,
        state: str = "Active",
        status: str = "OnTrack",
        current: float = 50,
        ending: float = 100,
        completed: bool = False,
    ) -> str:
        with self._lock:
            gid = self.next_id("goal")
            self.store.goals[gid] = {
                "id": gid,
                "object": "goal",
                "url": f"{self.base_url}/goal/{gid}",
                "name": name,
                "description": None,
                "state": state,
                "status": status,
                "goalType": "Individual",
                "okrType": "objective",
                "isPrivate": False,
                "priority": None,
                "amountType": "Percent",
                "startingAmount": 0,
                "endingAmount": ending,
                "currentAmount": current,
                "startDate": "2024-01-01",
                "dueDate": "2024-06-30",
                "createdAt": EPOCH,
                "updatedAt": EPOCH + 3600,
                "publishedAt": EPOCH,
                "completedAt": EPOCH + 7200 if completed else None,
                "archivedAt": None,
                "owners": self.list_ref(f"goal/{gid}/owners"),
                "department": None,
                "parentGoal": None,
                "childGoals": self.list_ref(f"goal/{gid}/childGoals"),
                "tags": self.list_ref(f"goal/{gid}/tags"),
                "_owners": [owner] if owner else [],
            }
            return gid

    def add_cycle(self, name: str) -> str:
        with self._lock:
            cid = self.next_id("cycle")
            self.store.cycles[cid] = {
                "id": cid,
                "object": "reviewCycle",
                "url": f"{self.base_url}/reviewCycle/{cid}",
                "name": name,
                "creator": None,
                "stage": "Ended",
                "reviewees": self.list_ref(f"reviewCycle/{cid}/reviewees"),
                "reviews": self.list_ref(f"reviewCycle/{cid}/reviews"),
                "createdAt": EPOCH,
                "updatedAt": EPOCH,
            }
            self.store.reviewees[cid], self.store.reviews[cid] = [], []
            return cid

    def add_review(
        self,
        cycle: str,
        reviewee_user: str,
        reviewer: str,
        *,
        rating: int | None = 4,
        comment: str = "Strong quarter",
        declined: bool = False,
        submitted: bool = True,
    ) -> str:
        with self._lock:
            reviewees = self.store.reviewees[cycle]
            found = next((r for r in reviewees if r["user"]["id"] == reviewee_user), None)
            if found is None:
                found = {
                    "id": self.next_id("reviewee"),
                    "object": "reviewee",
                    "user": self.ref("user", reviewee_user),
                    "reviewCycle": self.ref("reviewCycle", cycle),
                    "createdAt": EPOCH,
                    "updatedAt": EPOCH,
                }
                found["url"] = f"{self.base_url}/reviewee/{found['id']}"
                reviewees.append(found)
            rid = self.next_id("review")
            response = (
                None
                if not submitted or declined
                else {
                    "rating": rating,
                    "choices": None,
                    "comment": comment,
                    "commentSentiment": 7.5,
                    "createdAt": EPOCH + 100,
                    "updatedAt": EPOCH + 500,
                }
            )
            self.store.reviews[cycle].append(
                {
                    "id": rid,
                    "object": "review",
                    "url": f"{self.base_url}/review/{rid}",
                    "reviewee": {"id": found["id"], "object": "reviewee", "url": found["url"]},
                    "reviewer": self.ref("user", reviewer),
                    "question": self.ref("question", "q_1"),
                    "questionRevision": self.ref("questionRevision", "qr_1"),
                    "reviewType": "Downward",
                    "response": response,
                    "calibratedResponse": None,
                    "competency": None,
                    "goal": None,
                    "submittedAt": EPOCH + 500 if response else None,
                    "declinedAt": EPOCH + 400 if declined else None,
                    "calibrationEnded": False,
                }
            )
            return rid

    def add_feedback(self, author: str, targets: list[str], body: str, *, public: bool = True, at: int = EPOCH) -> str:
        with self._lock:
            fid = self.next_id("feedback")
            self.store.feedbacks.append(
                {
                    "id": fid,
                    "object": "feedback",
                    "url": f"{self.base_url}/feedback/{fid}",
                    "author": self.ref("user", author),
                    "targets": {
                        "object": "list",
                        "hasMore": False,
                        "endingCursor": None,
                        "data": [self.ref("user", t) for t in targets],
                    },
                    "associatedValues": {"object": "list", "hasMore": False, "endingCursor": None, "data": []},
                    "feedbackRequest": None,
                    "body": body,
                    "competency": None,
                    "visibility": "Public" if public else "Private",
                    "isPublic": public,
                    "createdAt": at,
                }
            )
            return fid

    def remove(self, oid: str) -> None:
        """Hard-delete anything by id (Lattice has no delete feed: it just stops being listed)."""
        with self._lock:
            s = self.store
            s.users.pop(oid, None)
            s.goals.pop(oid, None)
            for cycle in s.reviews:
                s.reviews[cycle] = [r for r in s.reviews[cycle] if r["id"] != oid]
            s.feedbacks = [f for f in s.feedbacks if f["id"] != oid]

    # ---- the wire -------------------------------------------------------------------------------------

    def user(self, p: Person) -> dict[str, Any]:
        return {
            "id": p.id,
            "object": "user",
            "url": f"{self.base_url}/user/{p.id}",
            "name": p.name,
            "preferredName": p.name.split()[0],
            "email": p.email,
            "title": p.title,
            "status": p.status,
            "isAdmin": False,
            "externalUserId": f"HRIS-{p.id}",
            "timezone": "America/Chicago",
            "startDate": p.start,
            "birthDate": None,
            "gender": None,
            "manager": self.ref("user", p.manager) if p.manager else None,
            "department": self.ref("department", p.department) if p.department else None,
            "directReports": self.list_ref(f"user/{p.id}/directReports"),
            "tasks": self.list_ref(f"user/{p.id}/tasks"),
            "customAttributes": self.list_ref(f"user/{p.id}/customAttributes"),
            "createdAt": EPOCH - 86_400 * 30,
            "updatedAt": p.updated,
        }

    def authenticate(self, seen: Seen, raw_query: str) -> Reply | None:
        if seen.headers.get("authorization") == f"Bearer {self.api_key}":
            return None
        return 401, {"error": "Unauthorized: invalid API key"}, {}

    def fault_body(self, status: int) -> Any:
        if status == 429:
            return {"error": "Too many requests"}
        return {"error": f"Internal server error ({status})"}

    def route(self, seen: Seen) -> Reply:
        if seen.method != "GET" or not seen.path.startswith("/v1/"):
            return 404, {"error": f"Not found: {seen.method} {seen.path}"}, {}
        path, q = seen.path[3:], {k: v[0] for k, v in seen.query.items()}
        s = self.store
        if path == "/me":
            return 200, self.user(next(iter(s.users.values()))), {}
        if m := re.fullmatch(r"/user/([^/]+)", path):
            found = s.users.get(m[1])
            return (200, self.user(found), {}) if found else (404, {"error": f"No user with id {m[1]}"}, {})
        lists: dict[str, Any] = {
            "/users": lambda: [
                self.user(p) for p in s.users.values() if q.get("status", "ACTIVE") in ("NULL", p.status)
            ],
            "/departments": lambda: [
                {
                    "id": d,
                    "object": "department",
                    "url": f"{self.base_url}/department/{d}",
                    "name": n,
                    "description": None,
                    "createdAt": EPOCH,
                }
                for d, n in s.departments.items()
            ],
            "/goals": lambda: [
                {k: v for k, v in g.items() if k != "_owners"}
                for g in s.goals.values()
                if "state" not in q or g["state"] == q["state"]
            ],
            "/reviewCycles": lambda: list(s.cycles.values()),
            "/feedbacks": lambda: sorted(s.feedbacks, key=lambda f: -f["createdAt"]),
        }
        if m := re.fullmatch(r"/goal/([^/]+)/owners", path):
            goal = s.goals.get(m[1])
            if goal is None:
                return 404, {"error": f"No goal with id {m[1]}"}, {}
            return self._page([self.user(s.users[u]) for u in goal["_owners"] if u in s.users], q)
        if m := re.fullmatch(r"/reviewCycle/([^/]+)/(reviewees|reviews)", path):
            if m[1] not in s.cycles:
                return 404, {"error": f"No review cycle with id {m[1]}"}, {}
            return self._page(list((s.reviewees if m[2] == "reviewees" else s.reviews)[m[1]]), q)
        if path in lists:
            return self._page(lists[path](), q)
        return 404, {"error": f"Not found: {seen.path}"}, {}

    def _page(self, items: list[dict[str, Any]], q: dict[str, str]) -> Reply:
        try:
            limit = int(q.get("limit") or LIMIT_DEFAULT)
        except ValueError:
            return 400, {"error": "limit must be a number"}, {}
        if not 1 <= limit <= LIMIT_MAX:
            return 422, {"error": f"limit must be between 1 and {LIMIT_MAX}"}, {}
        start = 0
        if q.get("startingAfter"):
            last = base64.urlsafe_b64decode(q["startingAfter"].encode()).decode()
            ids = [i["id"] for i in items]
            if last not in ids:
                return 400, {"error": "startingAfter is not a valid cursor"}, {}
            start = ids.index(last) + 1
        page = items[start : start + limit]
        more = start + limit < len(items)
        cursor = base64.urlsafe_b64encode(page[-1]["id"].encode()).decode() if page and more else None
        return 200, {"object": "list", "hasMore": more, "endingCursor": cursor, "data": page}, {}


def populate(fake: FakeLattice) -> None:
    """Two departments; eight people (one deactivated); goals in every state; a review cycle with one
    review per report (one declined, one on a 1-10 scale); public feedback to two people and a private one."""
    fake.store.departments = {"dep_sales": "Sales", "dep_eng": "Engineering"}
    ceo = fake.add_user("Avery Chief", title="CEO", department="dep_sales")
    vp = fake.add_user("Blake Vice", title="VP Sales", department="dep_sales", manager=ceo)
    cto = fake.add_user("Casey Tech", title="CTO", department="dep_eng", manager=ceo)
    reps = [fake.add_user(n, department="dep_sales", manager=vp) for n in ("Dana Rep", "Eli Rep", "Fran Rep")]
    eng = fake.add_user("Gale Dev", title="Engineer", department="dep_eng", manager=cto)
    fake.add_user("Hal Gone", department="dep_sales", manager=vp, status="DEACTIVATED")
    for i, owner in enumerate([vp, *reps, eng]):
        fake.add_goal(
            owner,
            f"Q2 goal {i}",
            status=["OnTrack", "Progressing", "OffTrack", "NotUpdated", "OnTrack"][i],
            current=20 * i,
        )
    fake.add_goal(cto, "Ship v2", state="Ended", current=100, completed=True)
    fake.add_goal(cto, "Draft idea", state="Draft")
    fake.add_goal(ceo, "Old plan", state="Archived")
    cycle = fake.add_cycle("2024 H1")
    for rep, rating in zip(reps, (4, 5, 3), strict=True):
        fake.add_review(cycle, rep, vp, rating=rating, comment=f"Review of {rep}")
    fake.add_review(cycle, eng, cto, rating=7, comment="On a ten-point scale")
    fake.add_review(cycle, vp, ceo, declined=True)
    fake.add_feedback(vp, [reps[0], reps[1]], "Great teamwork on the Acme deal", at=EPOCH + 1000)
    fake.add_feedback(reps[2], [vp], "Private note", public=False, at=EPOCH + 2000)


# ---- helpers shared by the Lattice tests ---------------------------------------------------------------

TEST_SETTINGS = {
    "page_size": "3",
    "requests_per_minute": "6000",
    "clock_margin_s": "0",
    "backoff_initial_s": "0.01",
    "backoff_max_s": "0.05",
    "max_attempts": "3",
}


def add_lattice(runtime: Any, fake: FakeLattice, *, name: str = "hr", **overrides: str) -> None:
    values = {"base_url": fake.base_url, "api_key": fake.api_key, **TEST_SETTINGS, **overrides}
    configure(runtime, kind="lattice", name=name, values=values)
