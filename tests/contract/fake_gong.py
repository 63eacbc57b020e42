"""A local Gong API v2 speaking the documented shapes (../shared/reference/gong.md), on 127.0.0.1.

Real HTTP/1.1 with Basic auth (access key + secret) or a Bearer token; ``GET /v2/users``, ``GET /v2/calls``,
``POST /v2/calls/extensive`` (filter, contentSelector: parties, CRM context, speakers) and
``POST /v2/calls/transcript`` (by call ids and/or dates); pages of ``page_size`` records with an opaque,
expiring ``records.cursor`` that is only valid with the identical request; an empty window answered with
404 "No calls found corresponding to the provided filters"; errors as ``{"requestId", "errors": [...]}``.
Faults are injected at the wire: a status (429 + Retry-After, 5xx, 401), a dropped connection or a hang,
after N matching requests, once or forever.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.contract.fake_server import Fault, Reply, Seen, WireFake

NO_CALLS = "No calls found corresponding to the provided filters"
CURSOR_TTL_S = 600.0
WEB_CONFERENCES = {"Zoom", "Google Meet", "Microsoft Teams", "Webex"}


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


@dataclass
class FakeCall:
    meta: dict[str, Any]
    parties: list[dict[str, Any]]
    context: list[dict[str, Any]]
    transcript: list[dict[str, Any]] | None  # monologues; None: no transcript yet
    # the time date filters apply to: the scheduled time of web conferences, the start of other calls
    # (gong.md 2.1); fixed when the call is made, so a test may break the metadata without moving the call
    filter_time: datetime

    @property
    def id(self) -> str:
        return self.meta["id"]

    def talk_times(self) -> list[dict[str, Any]]:
        by_speaker: dict[str, float] = {}
        for mono in self.transcript or []:
            for s in mono["sentences"]:
                if isinstance(s["start"], int) and isinstance(s["end"], int):
                    by_speaker[mono["speakerId"]] = (
                        by_speaker.get(mono["speakerId"], 0) + (s["end"] - s["start"]) / 1000
                    )
        return [
            {"id": p["id"], "userId": p.get("userId"), "talkTime": round(by_speaker.get(p["speakerId"], 0))}
            for p in self.parties
            if p.get("speakerId")
        ]

    def extensive(self, selector: dict[str, Any]) -> dict[str, Any]:
        fields = selector.get("exposedFields") or {}
        out: dict[str, Any] = {"metaData": dict(self.meta)}
        if (selector.get("context") or "None") != "None":
            out["context"] = self.context
        if fields.get("parties"):
            out["parties"] = self.parties
        if (fields.get("interaction") or {}).get("speakers"):
            out["interaction"] = {"speakers": self.talk_times()}
        return out


class FakeGong(WireFake):
    content_type = "application/json; charset=utf-8"
    keep_blank_values = False

    def __init__(
        self,
        *,
        access_key: str = "GONGKEY0123456789",
        access_key_secret: str = "gong-secret-abcdefghijklmnop",
        page_size: int = 100,
        oauth_token: str | None = None,
    ) -> None:
        super().__init__()
        self.oauth_token = oauth_token  # also accepted as Bearer when set (an OAuth app's access token)
        self.access_key = access_key
        self.access_key_secret = access_key_secret
        self.page_size = page_size
        self.users: list[dict[str, Any]] = []
        self.calls: dict[str, FakeCall] = {}
        self._next = 7_700_000_000_000_000_000

    # ---- data -----------------------------------------------------------------------------------

    def new_id(self) -> str:
        with self._lock:
            self._next += 1_234_567
            return str(self._next)

    def add_user(self, first: str, last: str, email: str) -> str:
        uid = self.new_id()
        self.users.append(
            {
                "id": uid,
                "emailAddress": email,
                "created": "2021-02-17T02:30:00-08:00",
                "active": True,
                "emailAliases": [],
                "trustedEmailAddress": email,
                "firstName": first,
                "lastName": last,
                "title": "Account Executive",
                "phoneNumber": None,
                "extension": None,
                "personalMeetingUrls": [],
                "settings": {"webConferencesRecorded": True},
                "managerId": None,
                "meetingConsentPageUrl": None,
                "spokenLanguages": [{"language": "en-US", "primary": True}],
            }
        )
        return uid

    def add_call(
        self,
        *,
        started: datetime,
        title: str | None,
        owner: str,
        customers: list[tuple[str, str]],
        system: str = "Zoom",
        scheduled: datetime | None = None,
        crm: tuple[str, str, str | None] | None = None,
        turns: int = 4,
        transcript: bool = True,
        meta: dict[str, Any] | None = None,
        rnd: random.Random | None = None,
    ) -> str:
        """A call run by the user ``owner`` with external ``customers`` (name, email); ``crm`` is (system,
        account id, deal id)."""
        rnd = rnd or random.Random(len(self.calls))
        cid = self.new_id()
        user = next(u for u in self.users if u["id"] == owner)
        parties = [
            {
                "id": self.new_id(),
                "emailAddress": user["emailAddress"],
                "name": f"{user['firstName']} {user['lastName']}",
                "title": user["title"],
                "userId": owner,
                "speakerId": self.new_id(),
                "affiliation": "Internal",
                "phoneNumber": None,
                "methods": ["Invitee", "Attendee"],
                "context": [],
            }
        ]
        for name, email in customers:
            parties.append(
                {
                    "id": self.new_id(),
                    "emailAddress": email,
                    "name": name,
                    "title": "VP Operations",
                    "userId": None,
                    "speakerId": self.new_id(),
                    "affiliation": "External",
                    "phoneNumber": None,
                    "methods": ["Attendee"],
                    "context": [],
                }
            )
        monologues: list[dict[str, Any]] = []
        at = rnd.randint(1_000, 9_000)
        for t in range(turns):
            speaker = parties[t % len(parties)]["speakerId"]
            sentences = []
            for k in range(rnd.randint(1, 3)):
                length = rnd.randint(1_500, 6_000)
                sentences.append({"start": at, "end": at + length, "text": f"Sentence {t}.{k} about rent payments."})
                at += length + rnd.randint(100, 700)
            monologues.append(
                {"speakerId": speaker, "topic": rnd.choice([None, "Pricing", "Objections"]), "sentences": sentences}
            )
            at += rnd.randint(200, 1_500)
        context = []
        if crm is not None:
            crm_system, account_id, deal_id = crm
            account_type, deal_type = ("Account", "Opportunity") if crm_system == "Salesforce" else ("Company", "Deal")
            objects = [{"objectType": account_type, "objectId": account_id, "timing": "Now", "fields": []}]
            if deal_id:
                objects.append({"objectType": deal_type, "objectId": deal_id, "timing": "Now", "fields": []})
            context = [{"system": crm_system, "objects": objects}]
        conference = system in WEB_CONFERENCES
        if scheduled is None and conference:
            scheduled = started - timedelta(minutes=2)
        self.calls[cid] = FakeCall(
            meta={
                "id": cid,
                "url": f"https://app.gong.io/call?id={cid}",
                "title": title,
                "scheduled": iso(scheduled) if scheduled else None,
                "started": iso(started),
                "duration": at // 1000 + 30,
                "primaryUserId": owner,
                "direction": "Conference" if conference else "Outbound",
                "system": system,
                "scope": "External",
                "media": "Video",
                "language": "eng",
                "workspaceId": "623457276584334",
                "sdrDisposition": None,
                "clientUniqueId": None,
                "customData": None,
                "purpose": None,
                "meetingUrl": None,
                "isPrivate": False,
                "calendarEventId": None,
                **(meta or {}),
            },
            parties=parties,
            context=context,
            transcript=monologues if transcript else None,
            filter_time=scheduled if conference and scheduled else started,
        )
        return cid

    def delete_call(self, cid: str) -> None:
        with self._lock:
            del self.calls[cid]

    # ---- what the client sent ------------------------------------------------------------------

    def bodies(self, path: str) -> list[Any]:
        return [s.body for s in self.requests if s.path == path and s.status == 200]

    def authorized(self, header: str | None) -> bool:
        basic = base64.b64encode(f"{self.access_key}:{self.access_key_secret}".encode()).decode()
        return header == f"Basic {basic}" or (self.oauth_token is not None and header == f"Bearer {self.oauth_token}")

    # ---- the wire -------------------------------------------------------------------------------

    def authenticate(self, seen: Seen, raw_query: str) -> Reply | None:
        if not self.authorized(seen.headers.get("authorization")):
            return 401, errors("Unauthorized: invalid access key or secret"), {}
        return None

    def route(self, seen: Seen) -> Reply:
        status, out = self.handle(seen.method, seen.path, seen.query, seen.body)
        return status, out, {}

    def fault_body(self, status: int) -> Any:
        return _fault_body(status)

    def fault_payload(self, fault: Fault) -> Any:
        return fault.body or self.fault_body(fault.status)

    # ---- the API --------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        routes = {
            ("GET", "/v2/users"): self._users,
            ("GET", "/v2/calls"): self._list_calls,
            ("POST", "/v2/calls/extensive"): self._extensive,
            ("POST", "/v2/calls/transcript"): self._transcripts,
        }
        fn = routes.get((method, path))
        if fn is None:
            return 404, errors("The requested resource was not found")
        with self._lock:
            try:
                return fn(query=query, body=body)
            except ApiError as exc:
                return exc.status, exc.body

    def _page(self, items: list[Any], request: Any, cursor: str | None) -> tuple[list[Any], dict[str, Any]]:
        """The page of ``items`` a cursor points at; a cursor is valid only with the identical request."""
        digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:16]
        offset = 0
        if cursor:
            try:
                claims = json.loads(base64.urlsafe_b64decode(cursor.split(".")[1] + "=="))
            except (ValueError, IndexError):
                raise ApiError(400, "cursor is not valid") from None
            if claims.get("h") != digest:
                raise ApiError(400, "cursor does not match the request")
            if claims.get("exp", 0) < time.time():
                raise ApiError(400, "cursor has expired")
            offset = int(claims["o"])
        page = items[offset : offset + self.page_size]
        records: dict[str, Any] = {
            "totalRecords": len(items),
            "currentPageSize": len(page),
            "currentPageNumber": offset // self.page_size,
        }
        if offset + self.page_size < len(items):
            claims = {"h": digest, "o": offset + self.page_size, "exp": time.time() + CURSOR_TTL_S}
            payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
            records["cursor"] = f"eyJhbGciOiJIUzI1NiJ9.{payload}.{uuid.uuid4().hex[:20]}"
        return page, records

    def _users(self, *, query: dict, body: Any) -> tuple[int, Any]:
        request = {k: v for k, v in query.items() if k != "cursor"}
        page, records = self._page(self.users, request, _q(query, "cursor"))
        return 200, {"requestId": _rid(), "records": records, "users": page}

    def _window(self, flt: dict[str, Any]) -> list[FakeCall]:
        try:
            start = parse_iso(flt["fromDateTime"]) if flt.get("fromDateTime") else None
            end = parse_iso(flt["toDateTime"]) if flt.get("toDateTime") else None
        except (ValueError, TypeError):
            raise ApiError(400, "fromDateTime/toDateTime must be ISO-8601 date-times") from None
        ids = flt.get("callIds")
        found = [
            c
            for c in self.calls.values()
            if (start is None or c.filter_time >= start)
            and (end is None or c.filter_time < end)
            and (ids is None or c.id in ids)
            and (not flt.get("workspaceId") or c.meta.get("workspaceId") == flt["workspaceId"])
        ]
        return sorted(found, key=lambda c: (c.filter_time, c.id))

    def _list_calls(self, *, query: dict, body: Any) -> tuple[int, Any]:
        if not _q(query, "fromDateTime") or not _q(query, "toDateTime"):
            return 400, errors("fromDateTime and toDateTime are required")
        found = self._window({"fromDateTime": _q(query, "fromDateTime"), "toDateTime": _q(query, "toDateTime")})
        if not found:
            return 404, errors(NO_CALLS)
        request = {k: v for k, v in query.items() if k != "cursor"}
        page, records = self._page(found, request, _q(query, "cursor"))
        return 200, {"requestId": _rid(), "records": records, "calls": [dict(c.meta) for c in page]}

    def _extensive(self, *, query: dict, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("filter"), dict):
            return 400, errors("filter is required")
        found = self._window(body["filter"])
        if not found:
            return 404, errors(NO_CALLS)
        request = {k: v for k, v in body.items() if k != "cursor"}
        page, records = self._page(found, request, body.get("cursor"))
        selector = body.get("contentSelector") or {}
        return 200, {"requestId": _rid(), "records": records, "calls": [c.extensive(selector) for c in page]}

    def _transcripts(self, *, query: dict, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("filter"), dict):
            return 400, errors("filter is required")
        found = self._window(body["filter"])
        found = [c for c in found if c.transcript is not None]
        if not found:
            return 404, errors(NO_CALLS)
        request = {k: v for k, v in body.items() if k != "cursor"}
        page, records = self._page(found, request, body.get("cursor"))
        return 200, {
            "requestId": _rid(),
            "records": records,
            "callTranscripts": [{"callId": c.id, "transcript": c.transcript} for c in page],
        }


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status, self.body = status, errors(message)


def errors(*messages: str) -> dict[str, Any]:
    return {"requestId": _rid(), "errors": list(messages)}


def _rid() -> str:
    return uuid.uuid4().hex[:19]


def _q(query: dict[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    return values[0] if values else None


def _fault_body(status: int) -> dict[str, Any]:
    if status == 429:
        return errors("API request limit exceeded")
    if status == 401:
        return errors("Unauthorized: the access key was revoked")
    return errors(f"An error has occurred ({status})")


# ---- a believable company ------------------------------------------------------------------------


def populate(fake: FakeGong, *, calls: int, now: datetime | None = None, seed: int = 11) -> dict[str, Any]:
    """Reps (Gong users), and ``calls`` calls over the last 40 days, each linked to a HubSpot company and deal
    (or, every fourth, a Salesforce account), most with a transcript. Returns what was planted."""
    rnd = random.Random(seed)
    now = now or datetime.now(UTC)
    reps = [fake.add_user(f"Rep{i}", "Smith", f"Rep{i}.Smith@PayReady.com") for i in range(3)]
    planted: dict[str, Any] = {"reps": reps, "hubspot": {}, "salesforce": {}}
    for i in range(calls):
        step = (40 * 24 - 2) / max(calls - 1, 1)  # the first 40 days ago, the last two hours ago
        started = (now - timedelta(days=40) + timedelta(hours=i * step + rnd.random())).replace(microsecond=0)
        if i % 4 == 3:
            crm = ("Salesforce", f"001{i:015d}", f"006{i:015d}")
        else:
            crm = ("HubSpot", str(9000 + i), str(5000 + i) if i % 2 == 0 else None)
        cid = fake.add_call(
            started=started,
            title=f"Property Co {i} <> PayReady - Discovery",
            owner=reps[i % len(reps)],
            customers=[(f"Pat{i} Lee", f"pat{i}@propco{i}.com")]
            + ([(f"Sam{i} Roe", f"sam{i}@propco{i}.com")] if i % 3 == 0 else []),
            system="Zoom" if i % 2 == 0 else "RingCentral",
            crm=crm,
            turns=rnd.randint(3, 6),
            transcript=i % 5 != 4,
            rnd=rnd,
        )
        planted["hubspot" if crm[0] == "HubSpot" else "salesforce"][cid] = crm[1]
    return planted
