"""A local HubSpot CRM v3/v4 speaking the documented shapes (../shared/reference/hubspot.md), on 127.0.0.1.

Real HTTP (keep-alive, HTTP/1.1), Bearer auth, the list endpoint with ``paging.next.after`` and
``archived=true``, the search API (filterGroups limits, one sort, ``limit`` <= 200, the 10,000-result
cap answered with HTTP 400), batch read with ``propertiesWithHistory``, v4 batch associations, owners and
deal pipelines. Faults are injected at the wire: a status (429 + Retry-After, 5xx, 401) or a dropped
connection, after N matching requests, once or forever, and a hang (for killing a client mid-request).
"""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.contract.fake_server import Fault, Reply, Seen, WireFake

SEARCH_CAP = 10_000
SEARCH_LIMIT_MAX = 200
LIST_LIMIT_MAX = 100
BATCH_MAX = 100
MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 10, 25
OBJECT_TYPES = ("companies", "contacts", "deals", "notes", "emails", "meetings", "calls")
DATE_PROPERTIES = {
    "createdate",
    "hs_lastmodifieddate",
    "lastmodifieddate",
    "hs_timestamp",
    "closedate",
    "hs_createdate",
}
# association type ids HubSpot defines (primary ones first where there is one)
ASSOCIATION_TYPES: dict[tuple[str, str], tuple[int, int | None]] = {
    ("contacts", "companies"): (279, 1),
    ("deals", "companies"): (341, 5),
    ("notes", "companies"): (190, None),
    ("notes", "contacts"): (202, None),
    ("notes", "deals"): (214, None),
    ("emails", "companies"): (186, None),
    ("emails", "contacts"): (198, None),
    ("emails", "deals"): (210, None),
    ("meetings", "companies"): (188, None),
    ("meetings", "contacts"): (200, None),
    ("meetings", "deals"): (212, None),
    ("calls", "companies"): (182, None),
    ("calls", "contacts"): (194, None),
    ("calls", "deals"): (206, None),
}
DEFAULT_STAGES = [
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
]
# A second pipeline as portals set one up: numeric stage ids, its own labels and probabilities, in the same
# order as the default one's (so a deal's path can be drawn in either).
RENEWAL_STAGES = [  # (id, label, probability); the last two are closed
    ("1131911", "Renewal due", "0.1"),
    ("1131912", "Usage review", "0.2"),
    ("1131913", "Renewal in discussion", "0.4"),
    ("1131914", "Expansion proposal sent", "0.6"),
    ("1131915", "Verbal commit", "0.8"),
    ("1131916", "Renewed", "1.0"),
    ("1131917", "Churned", "0.0"),
]
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def parse_ms(value: str) -> int:
    return int(value) if value.isdigit() else ms(datetime.fromisoformat(value.replace("Z", "+00:00")))


@dataclass
class FakeObject:
    id: str
    type: str
    properties: dict[str, str | None]
    created: datetime
    updated: datetime
    archived_at: datetime | None = None
    history: dict[str, list[tuple[str, datetime]]] = field(default_factory=dict)  # oldest first

    def envelope(self, props: list[str] | None, with_history: list[str] | None = None) -> dict[str, Any]:
        base = {
            "hs_object_id": self.id,
            "createdate": iso(self.created),
            modified_property(self.type): iso(self.updated),
        }
        shown = {**{p: self.properties.get(p) for p in props}, **base} if props else {**self.properties, **base}
        out: dict[str, Any] = {
            "id": self.id,
            "properties": shown,
            "createdAt": iso(self.created),
            "updatedAt": iso(self.updated),
            "archived": self.archived_at is not None,
        }
        if self.archived_at is not None:
            out["archivedAt"] = iso(self.archived_at)
        if with_history:
            out["propertiesWithHistory"] = {
                p: [
                    {
                        "value": v,
                        "timestamp": iso(t),
                        "sourceType": "CRM_UI",
                        "sourceId": "userId:123",
                        "sourceLabel": None,
                        "updatedByUserId": 123,
                    }
                    for v, t in reversed(self.history.get(p, []))
                ]
                for p in with_history
            }
        return out


def modified_property(object_type: str) -> str:
    return "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"


class FakeHubSpot(WireFake):
    content_type = "application/json;charset=utf-8"
    keep_blank_values = False

    def __init__(self, *, token: str = "pat-na1-fake-token-0123456789", search_cap: int = SEARCH_CAP) -> None:
        super().__init__()
        self.token = token
        self.search_cap = search_cap
        self.objects: dict[str, dict[str, FakeObject]] = {t: {} for t in OBJECT_TYPES}
        self.links: dict[
            tuple[str, str, str], dict[str, bool]
        ] = {}  # (from type, from id, to type) -> {to id: primary}
        self.owners: list[dict[str, Any]] = []
        self.pipelines: list[dict[str, Any]] = [default_pipeline(), renewals_pipeline()]
        self._next_id = 1000

    # ---- data -----------------------------------------------------------------------------------

    def add(
        self,
        object_type: str,
        properties: dict[str, Any],
        *,
        created: datetime | None = None,
        modified: datetime | None = None,
        links: dict[str, list[str]] | None = None,
        history: dict[str, list[tuple[str, datetime]]] | None = None,
    ) -> str:
        with self._lock:
            self._next_id += 1
            oid = str(self._next_id)
            created = created or EPOCH
            obj = FakeObject(
                oid,
                object_type,
                {k: None if v is None else str(v) for k, v in properties.items()},
                created,
                modified or created,
                history=dict(history or {}),
            )
            self.objects[object_type][oid] = obj
            for to_type, ids in (links or {}).items():
                for i, to_id in enumerate(ids):
                    self.link(object_type, oid, to_type, to_id, primary=i == 0)
            return oid

    def link(self, from_type: str, from_id: str, to_type: str, to_id: str, *, primary: bool = False) -> None:
        self.links.setdefault((from_type, from_id, to_type), {})[to_id] = primary

    def update(self, object_type: str, oid: str, properties: dict[str, Any], *, at: datetime | None = None) -> None:
        with self._lock:
            obj = self.objects[object_type][oid]
            at = at or datetime.now(UTC)
            for key, value in properties.items():
                obj.properties[key] = None if value is None else str(value)
                if key in obj.history:
                    obj.history[key].append((str(value), at))
            obj.updated = at

    def archive(self, object_type: str, oid: str, *, at: datetime | None = None) -> None:
        with self._lock:
            self.objects[object_type][oid].archived_at = at or datetime.now(UTC)

    def live(self, object_type: str) -> list[FakeObject]:
        return [o for o in self.objects[object_type].values() if o.archived_at is None]

    # ---- what the client sent ------------------------------------------------------------------

    def searches(self, object_type: str | None = None) -> list[dict[str, Any]]:
        return [
            s.body
            for s in self.requests
            if s.method == "POST"
            and s.path.endswith("/search")
            and (object_type is None or s.path == f"/crm/v3/objects/{object_type}/search")
        ]

    # ---- the wire -------------------------------------------------------------------------------

    def authenticate(self, seen: Seen, raw_query: str) -> Reply | None:
        if seen.headers.get("authorization") != f"Bearer {self.token}":
            return 401, error("INVALID_AUTHENTICATION", "Authentication credentials not found."), {}
        return None

    def route(self, seen: Seen) -> Reply:
        try:
            status, out = self.handle(seen.method, seen.path, seen.query, seen.body)
        except ApiError as exc:
            status, out = exc.status, exc.body
        return status, out, {}

    def fault_body(self, status: int) -> Any:
        return _fault_body(status)

    def fault_payload(self, fault: Fault) -> Any:
        return fault.body or self.fault_body(fault.status)

    # ---- the API --------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        routes = [
            ("POST", r"/crm/v3/objects/([^/]+)/search", self._search),
            ("POST", r"/crm/v3/objects/([^/]+)/batch/read", self._batch_read),
            ("GET", r"/crm/v3/objects/([^/]+)", self._list),
            ("POST", r"/crm/v4/associations/([^/]+)/([^/]+)/batch/read", self._associations),
            ("GET", r"/crm/v3/owners/?", self._owners),
            ("GET", r"/crm/v3/pipelines/deals", self._pipelines),
        ]
        for verb, pattern, fn in routes:
            match = re.fullmatch(pattern, path)
            if verb == method and match:
                with self._lock:
                    return fn(*match.groups(), query=query, body=body)
        return 404, error("OBJECT_NOT_FOUND", f"no route {method} {path}")

    def _known(self, object_type: str) -> None:
        if object_type not in self.objects:
            raise ApiError(400, error("VALIDATION_ERROR", f"Unable to infer object type from: {object_type}"))

    def _search(self, object_type: str, *, query: dict, body: Any) -> tuple[int, Any]:
        self._known(object_type)
        if not isinstance(body, dict):
            return 400, error("VALIDATION_ERROR", "Invalid input JSON")
        groups = body.get("filterGroups") or []
        filters_total = sum(len(g.get("filters", [])) for g in groups)
        if (
            len(groups) > MAX_GROUPS
            or filters_total > MAX_FILTERS
            or any(len(g.get("filters", [])) > MAX_FILTERS_PER_GROUP for g in groups)
        ):
            return 400, error("VALIDATION_ERROR", "too many filters")
        limit = int(body.get("limit") or 10)
        if limit > SEARCH_LIMIT_MAX:
            return 400, error("VALIDATION_ERROR", f"limit must be <= {SEARCH_LIMIT_MAX}")
        after = int(body.get("after") or 0)
        if after >= self.search_cap:
            return 400, error("VALIDATION_ERROR", f"offset {after} is past the {self.search_cap} result limit")
        sorts = body.get("sorts") or []
        if len(sorts) > 1:
            return 400, error("VALIDATION_ERROR", "only one sort is allowed")
        found = [o for o in self.live(object_type) if not groups or any(_matches(o, g["filters"]) for g in groups)]
        if sorts:
            key = sorts[0]["propertyName"]
            found.sort(key=lambda o: _sort_value(o, key), reverse=sorts[0].get("direction") == "DESCENDING")
        else:
            found.sort(key=lambda o: int(o.id))
        found = found[: self.search_cap]
        page = found[after : after + limit]
        out: dict[str, Any] = {"total": len(found), "results": [o.envelope(body.get("properties")) for o in page]}
        if after + limit < len(found):
            out["paging"] = {"next": {"after": str(after + limit)}}
        return 200, out

    def _list(self, object_type: str, *, query: dict, body: Any) -> tuple[int, Any]:
        self._known(object_type)
        limit = int(_q(query, "limit") or 10)
        if limit > LIST_LIMIT_MAX:
            return 400, error("VALIDATION_ERROR", f"limit must be <= {LIST_LIMIT_MAX}")
        archived = (_q(query, "archived") or "false").lower() == "true"
        objs = sorted(
            (o for o in self.objects[object_type].values() if (o.archived_at is not None) == archived),
            key=lambda o: int(o.id),
        )
        after = _q(query, "after")
        if after:
            objs = [o for o in objs if int(o.id) >= int(after)]
        page, rest = objs[:limit], objs[limit:]
        props = _multi(query, "properties")
        out: dict[str, Any] = {"results": [o.envelope(props, _multi(query, "propertiesWithHistory")) for o in page]}
        if rest:
            out["paging"] = {"next": {"after": rest[0].id, "link": f"?after={rest[0].id}"}}
        return 200, out

    def _batch_read(self, object_type: str, *, query: dict, body: Any) -> tuple[int, Any]:
        self._known(object_type)
        inputs = body.get("inputs") or []
        if len(inputs) > BATCH_MAX:
            return 400, error("VALIDATION_ERROR", f"at most {BATCH_MAX} inputs")
        found = [self.objects[object_type].get(str(i["id"])) for i in inputs]
        results = [
            o.envelope(body.get("properties") or None, body.get("propertiesWithHistory"))
            for o in found
            if o is not None and o.archived_at is None
        ]
        now = iso(datetime.now(UTC))
        return 200, {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}

    def _associations(self, from_type: str, to_type: str, *, query: dict, body: Any) -> tuple[int, Any]:
        inputs = body.get("inputs") or []
        if len(inputs) > 1000:
            return 400, error("VALIDATION_ERROR", "at most 1000 inputs")
        unlabeled, primary_id = ASSOCIATION_TYPES.get((from_type, to_type), (1, None))
        results, errors = [], []
        for item in inputs:
            targets = self.links.get((from_type, str(item["id"]), to_type), {})
            if not targets:
                errors.append(
                    {
                        "status": "error",
                        "category": "OBJECT_NOT_FOUND",
                        "message": f"No {to_type} is associated with {from_type} {item['id']}.",
                    }
                )
                continue
            to = []
            for tid, primary in targets.items():
                kinds = [{"category": "HUBSPOT_DEFINED", "typeId": unlabeled, "label": None}]
                if primary and primary_id is not None:
                    kinds.insert(0, {"category": "HUBSPOT_DEFINED", "typeId": primary_id, "label": "Primary"})
                to.append({"toObjectId": int(tid), "associationTypes": kinds})
            results.append({"from": {"id": str(item["id"])}, "to": to})
        out: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if errors:
            out.update(numErrors=len(errors), errors=errors)
        return (207 if errors else 200), out

    def _owners(self, *, query: dict, body: Any) -> tuple[int, Any]:
        limit = int(_q(query, "limit") or 100)
        start = int(_q(query, "after") or 0)
        out: dict[str, Any] = {"results": self.owners[start : start + limit]}
        if start + limit < len(self.owners):
            out["paging"] = {"next": {"after": str(start + limit)}}
        return 200, out

    def _pipelines(self, *, query: dict, body: Any) -> tuple[int, Any]:
        return 200, {"results": self.pipelines}


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body


def error(category: str, message: str) -> dict[str, Any]:
    return {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        "errors": [],
        "context": {},
        "links": {},
    }


def _q(query: dict[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    return values[0] if values else None


def _multi(query: dict[str, list[str]], key: str) -> list[str] | None:
    """HubSpot takes a comma list or the key repeated (the official client repeats it)."""
    values = [v for raw in query.get(key, []) for v in raw.split(",") if v]
    return values or None


def _value(obj: FakeObject, prop: str) -> Any:
    if prop == "hs_object_id":
        return int(obj.id)
    if prop == modified_property(obj.type):
        return ms(obj.updated)
    if prop == "createdate":
        return ms(obj.created)
    raw = obj.properties.get(prop)
    if raw is not None and prop in DATE_PROPERTIES:
        return parse_ms(raw)
    return raw


def _sort_value(obj: FakeObject, prop: str) -> Any:
    value = _value(obj, prop)
    return (value is None, value if value is not None else 0)


def _matches(obj: FakeObject, filters: list[dict[str, Any]]) -> bool:
    for f in filters:
        prop, op = f["propertyName"], f["operator"]
        have = _value(obj, prop)
        if op == "HAS_PROPERTY":
            ok = have is not None
        elif op == "NOT_HAS_PROPERTY":
            ok = have is None
        elif op in ("IN", "NOT_IN"):
            ok = (str(have) in {str(v) for v in f.get("values", [])}) == (op == "IN")
        else:
            want = f.get("value")
            if have is None:
                return False
            if isinstance(have, int):
                want = (
                    parse_ms(str(want)) if prop in DATE_PROPERTIES or prop.endswith("lastmodifieddate") else int(want)
                )
            ok = {
                "EQ": lambda: have == want,
                "NEQ": lambda: have != want,
                "LT": lambda: have < want,
                "LTE": lambda: have <= want,
                "GT": lambda: have > want,
                "GTE": lambda: have >= want,
                "BETWEEN": lambda: want <= have <= _coerce(have, f.get("highValue")),
            }[op]()
        if not ok:
            return False
    return True


def _coerce(like: Any, value: Any) -> Any:
    return parse_ms(str(value)) if isinstance(like, int) and not str(value).lstrip("-").isdigit() else int(value)


def _fault_body(status: int) -> dict[str, Any]:
    if status == 429:
        return {
            "status": "error",
            "message": "You have reached your secondly limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()),
            "policyName": "SECONDLY",
            "requestId": str(uuid.uuid4()),
        }
    if status == 401:
        return error("INVALID_AUTHENTICATION", "The OAuth token used to make this call expired.")
    return error("INTERNAL_ERROR", f"internal error ({status})")


def default_pipeline() -> dict[str, Any]:
    probabilities = ["0.2", "0.4", "0.6", "0.8", "0.9", "1.0", "0.0"]
    return {
        "id": "default",
        "label": "Sales Pipeline",
        "displayOrder": 0,
        "archived": False,
        "stages": [
            {
                "id": sid,
                "label": sid.title(),
                "displayOrder": i,
                "archived": False,
                "metadata": {
                    "isClosed": "true" if sid.startswith("closed") else "false",
                    "probability": probabilities[i],
                },
            }
            for i, sid in enumerate(DEFAULT_STAGES)
        ],
    }


def renewals_pipeline() -> dict[str, Any]:
    return pipeline(
        "1131900",
        "Renewals & Expansion",
        [(sid, label, prob, i >= 5) for i, (sid, label, prob) in enumerate(RENEWAL_STAGES)],
    )


def pipeline(
    pid: str, label: str, stages: list[tuple[str, str, str | None, bool]], *, order: int = 1
) -> dict[str, Any]:
    """A pipeline as ``GET /crm/v3/pipelines/deals`` lists it, from (id, label, probability, closed) per stage."""
    return {
        "id": pid,
        "label": label,
        "displayOrder": order,
        "archived": False,
        "stages": [
            {
                "id": sid,
                "label": name,
                "displayOrder": i,
                "archived": False,
                "metadata": {"isClosed": str(closed).lower(), **({"probability": prob} if prob is not None else {})},
            }
            for i, (sid, name, prob, closed) in enumerate(stages)
        ],
    }


# ---- a believable portal ------------------------------------------------------------------------


def populate(fake: FakeHubSpot, *, companies: int, seed: int = 7, engagements: bool = True) -> None:
    """Companies with contacts, deals (stage history; every third in the second pipeline) and engagements, all
    modified in the past."""
    rnd = random.Random(seed)
    fake.owners = [
        {
            "id": str(51_000_000 + i),
            "email": f"rep{i}@payready.com",
            "firstName": f"Rep{i}",
            "lastName": "Smith",
            "userId": 9000 + i,
            "archived": False,
        }
        for i in range(5)
    ]
    states = ["Texas", "CA", "Florida", "GA", "New York", "Colorado"]
    at = EPOCH
    for c in range(companies):
        at += timedelta(minutes=rnd.randint(1, 90))
        owner = rnd.choice(fake.owners)["id"]
        cid = fake.add(
            "companies",
            {
                "name": f"Property Co {c}",
                "domain": f"propco{c}.com",
                "city": "Austin",
                "state": rnd.choice(states),
                "lifecyclestage": rnd.choice(["lead", "opportunity", "customer"]),
                "hubspot_owner_id": owner,
            },
            created=at,
            modified=at,
        )
        contact_ids = []
        for k in range(2):
            at += timedelta(minutes=1)
            contact_ids.append(
                fake.add(
                    "contacts",
                    {
                        "firstname": f"Pat{c}",
                        "lastname": f"Lee{k}",
                        "email": f"Pat{c}.Lee{k}@propco{c}.com",
                        "jobtitle": "VP Operations",
                        "phone": "+1 512 555 0100",
                    },
                    created=at,
                    modified=at,
                    links={"companies": [cid]},
                )
            )
        at += timedelta(minutes=1)
        path = DEFAULT_STAGES[: rnd.randint(1, 5)] + (
            [rnd.choice(["closedwon", "closedlost"])] if rnd.random() < 0.4 else []
        )
        renewal = c % 3 == 2  # every third deal is in the second pipeline
        if renewal:
            path = [RENEWAL_STAGES[DEFAULT_STAGES.index(sid)][0] for sid in path]
        history = [(sid, at + timedelta(days=i)) for i, sid in enumerate(path)]
        did = fake.add(
            "deals",
            {
                "dealname": f"Property Co {c} - payments",
                "amount": str(rnd.randint(5, 90) * 1000),
                "dealstage": path[-1],
                "pipeline": "1131900" if renewal else "default",
                "closedate": iso(at + timedelta(days=60)),
                "dealtype": rnd.choice(["newbusiness", "existingbusiness"]),
                "hubspot_owner_id": owner,
                "deal_currency_code": "USD",
            },
            created=at,
            modified=history[-1][1],
            links={"companies": [cid]},
            history={"dealstage": history},
        )
        if not engagements:
            continue
        for kind, props in (
            ("notes", {"hs_note_body": f"<p>Spoke with <b>Pat{c}</b> about rent payments.</p>"}),
            (
                "emails",
                {
                    "hs_email_subject": f"Follow-up {c}",
                    "hs_email_text": "Thanks for the call.",
                    "hs_email_status": "SENT",
                },
            ),
            (
                "meetings",
                {"hs_meeting_title": f"Demo {c}", "hs_meeting_body": "Portal demo", "hs_meeting_outcome": "COMPLETED"},
            ),
            (
                "calls",
                {
                    "hs_call_title": f"Discovery {c}",
                    "hs_call_body": "Talked about collections",
                    "hs_call_status": "COMPLETED",
                    "hs_call_duration": "600000",
                },
            ),
        ):
            at += timedelta(minutes=1)
            fake.add(
                kind,
                {**props, "hs_timestamp": iso(at), "hubspot_owner_id": owner},
                created=at,
                modified=at,
                links={"companies": [cid], "contacts": [contact_ids[0]], "deals": [did]},
            )
