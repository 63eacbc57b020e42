"""The Estuary webhook as the materialization drives it: secrets, odd bodies, at-least-once delivery,
deletes, stale documents, quarantine and the change event on the real Redis."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.main import create_app
from connectors.registry import KINDS
from core import estuary
from core.bus import make_bus
from core.crypto import SecretBox
from core.db import models as m
from core.pipelines.configured import add_connector
from core.runtime import Runtime, open_runtime, prepare
from tests.conftest import make_settings
from tests.utils.services import redis_url_or_fail

UUID_OFFSET = 0x01B21DD213814000
T0_US = 1_746_093_600_000_000  # 2025-05-01T10:00:00Z


def flow_uuid(us: int) -> str:
    """A v1 UUID whose time is ``us`` microseconds after the epoch, as Flow's _meta.uuid."""
    t = us * 10 + UUID_OFFSET
    return str(
        uuid.UUID(
            fields=(t & 0xFFFFFFFF, (t >> 32) & 0xFFFF, ((t >> 48) & 0x0FFF) | 0x1000, 0x84, 0x00, 0x0F5C2B0A7B11)
        )
    )


def doc(id_: str, at_us: int, op: str = "u", **fields) -> dict:
    return {"id": id_, **fields, "_meta": {"uuid": flow_uuid(at_us), "op": op, "source": {"table": "accounts"}}}


def body(docs: list[dict]) -> str:
    return "[\n" + ",\n".join(json.dumps(d) for d in docs) + "\n]"  # as the materialization writes it


@pytest.fixture
def feed(runtime: Runtime) -> str:
    with runtime.session() as s:
        add_connector(
            session=s,
            box=SecretBox.from_settings(runtime.settings),
            kinds=KINDS,
            kind="hubspot",
            name="hub",
            values={"token": "pat-test-token"},
            actor="test",
        )
        _, secret = estuary.create_feed(
            session=s,
            name="crm",
            actor="test",
            bindings=[
                estuary.parse_binding("warehouse/accounts=entity:accounts@platform"),
                estuary.parse_binding("hubspot/companies=connector:hub/companies"),
            ],
        )
    return secret


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as c:
        yield c


def post(client: TestClient, secret: str | None, payload: str, path: str = "crm/warehouse/accounts"):
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["Authorization"] = f"Bearer {secret}"
    return client.post(f"/webhooks/estuary/{path}", content=payload, headers=headers)


def accounts(runtime: Runtime) -> dict[str, tuple]:
    with runtime.session() as s:
        rows = s.execute(
            select(
                m.Account.external_id, m.Account.name, m.Account.arr, m.Account.updated_at, m.Account.ingested_at
            ).where(m.Account.source == "platform")
        )
        return {r[0]: tuple(r[1:]) for r in rows}


def test_missing_or_wrong_secret_is_refused(client, feed, runtime) -> None:
    payload = body([doc("1", T0_US, name="Oakwood")])
    assert post(client, None, payload).status_code == 401
    assert post(client, "not-the-secret", payload).status_code == 401
    assert post(client, feed, payload, path="nosuchfeed/warehouse/accounts").status_code == 401
    assert client.post("/webhooks/estuary/s/wrong/crm/warehouse/accounts", content=payload).status_code == 401
    assert accounts(runtime) == {}


@pytest.mark.parametrize("payload", ["\n]", "", "   ", "[\n\n]"])
def test_bodies_without_documents_get_a_2xx(client, feed, payload) -> None:
    resp = post(client, feed, payload)
    assert resp.status_code == 200 and resp.json()["received"] == 0


def test_json_that_is_not_an_array_of_documents_is_refused(client, feed) -> None:
    resp = post(client, feed, '{"id": 1}')
    assert resp.status_code == 422 and "array" in resp.json()["error"]["message"]


def test_the_same_batch_twice_changes_nothing(client, feed, runtime) -> None:
    batch = body(
        [doc("1", T0_US, name="Oakwood Residential", arr=480000), doc("2", T0_US + 1, name="Birch Lane", arr=18000)]
    )
    first = post(client, feed, batch).json()
    assert (first["upserted"], first["skipped"]) == (2, 0)
    before = accounts(runtime)
    second = post(client, feed, batch).json()
    assert (second["upserted"], second["skipped"]) == (0, 2)
    assert accounts(runtime) == before  # not even the ingest time moved


def test_updates_deletes_and_stale_documents(client, feed, runtime) -> None:
    post(client, feed, body([doc("1", T0_US, name="Oakwood"), doc("2", T0_US + 1, name="Birch")]))
    resp = post(
        client,
        feed,
        body(
            [
                doc("1", T0_US + 10, name="Oak"),
                doc("2", T0_US + 11, op="d"),
                doc(
                    "1", T0_US + 12, name="Oakwood Living"
                ),  # the same key twice in one POST: the last one is the state
            ]
        ),
    ).json()
    assert (resp["upserted"], resp["deleted"], resp["skipped"]) == (1, 1, 1)
    # a redelivered older document (a task restart replays an earlier transaction) is skipped
    stale = post(client, feed, body([doc("1", T0_US + 10, name="Oak"), doc("2", T0_US + 1, name="Birch")])).json()
    assert (stale["skipped"], stale["upserted"]) == (2, 0)
    rows = accounts(runtime)
    assert rows["1"][0] == "Oakwood Living" and "2" not in rows


def test_secret_in_the_path(client, feed, runtime) -> None:
    resp = client.post(
        f"/webhooks/estuary/s/{feed}/crm/warehouse/accounts", content=body([doc("9", T0_US, name="Aspen")])
    )
    assert resp.status_code == 200 and accounts(runtime)["9"][0] == "Aspen"


def test_bad_documents_are_quarantined_and_the_rest_applied(client, feed, runtime) -> None:
    resp = post(
        client,
        feed,
        body(
            [
                doc("1", T0_US, name="Oakwood"),
                doc("2", T0_US + 1, name="Birch", arr="a lot"),
                {"name": "no key", "_meta": {"uuid": flow_uuid(T0_US + 2), "op": "c"}},
            ]
        ),
    )
    assert resp.status_code == 200 and resp.json()["quarantined"] == 2
    assert set(accounts(runtime)) == {"1"}
    with runtime.session() as s:
        errors = [
            q.error
            for q in s.scalars(select(m.QuarantinedRecord).where(m.QuarantinedRecord.connector == "estuary:crm"))
        ]
    assert any("arr" in e for e in errors) and any("collection key" in e for e in errors)


def test_unknown_collection_is_a_clear_404(client, feed) -> None:
    resp = post(client, feed, body([doc("1", T0_US, name="x")]), path="crm/warehouse/nope")
    assert resp.status_code == 404 and "no binding" in resp.json()["error"]["message"]


def test_vendor_shaped_documents_use_the_connectors_mapping(client, feed, runtime) -> None:
    company = {
        "id": "501",
        "properties": {"name": "Maple Ridge PM", "domain": "mapleridge.com", "state": "TX"},
        "_meta": {"uuid": flow_uuid(T0_US), "op": "c"},
    }
    resp = post(client, feed, body([company]), path="crm/hubspot/companies")
    assert resp.status_code == 200, resp.text
    with runtime.session() as s:
        acct = s.scalar(select(m.Account).where(m.Account.source == "hubspot", m.Account.external_id == "501"))
    assert (acct.name, acct.domain) == ("Maple Ridge PM", "mapleridge.com")


def test_applied_changes_are_published_on_redis(tmp_path) -> None:
    url = redis_url_or_fail()
    rt = open_runtime(make_settings(tmp_path, redis_url=url))
    prepare(rt)
    with rt.session() as s:
        _, secret = estuary.create_feed(
            session=s,
            name="crm",
            actor="test",
            bindings=[estuary.parse_binding("warehouse/accounts=entity:accounts@platform")],
        )
    bus = make_bus(rt.settings)
    before = bus.read("records", count=100_000)
    with TestClient(create_app(rt)) as c:
        assert post(c, secret, body([doc("1", T0_US, name="Oakwood")])).status_code == 200
    events = [
        e
        for e in bus.read("records", before[-1].id if before else None, count=1000)
        if e.data.get("via") == "estuary:crm"
    ]
    assert events and events[-1].data["entity"] == "accounts" and events[-1].data["count"] == 1
    with rt.session() as s:
        assert s.scalar(select(func.count()).select_from(m.Account)) == 1
    bus.close()
    rt.engine.dispose()


# ---- the body: the secret before the body, a cap on what is read ---------------------------------

MIB = 2**20


def asgi_post(app, path: str, chunks: Iterator[bytes], headers: dict[str, str] | None = None) -> tuple[int, int]:
    """POST ``chunks`` through the app's ASGI interface as a client streaming them would; returns the
    status and how many chunks the app asked for (what a server would have had to hold)."""
    read, status = 0, 0

    async def receive() -> dict:
        nonlocal read
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        read += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("203.0.113.7", 50000),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    return status, read


def megabytes(count: int) -> Iterator[bytes]:
    chunk = b" " * MIB
    return (chunk for _ in range(count))


def test_an_unauthenticated_post_is_refused_before_its_body_is_read(runtime, feed) -> None:
    app = create_app(runtime)
    wrong = {"Authorization": "Bearer not-the-secret"}
    assert asgi_post(app, "/webhooks/estuary/crm/warehouse/accounts", megabytes(512), wrong) == (401, 0)
    assert asgi_post(app, "/webhooks/estuary/s/wrong/crm/warehouse/accounts", megabytes(512)) == (401, 0)


def test_a_body_over_the_cap_is_413_and_read_no_further(runtime, feed) -> None:
    cap_chunks = estuary.MAX_BODY_BYTES // MIB
    status, read = asgi_post(
        create_app(runtime),
        "/webhooks/estuary/crm/warehouse/accounts",
        megabytes(512),
        {"Authorization": f"Bearer {feed}"},
    )
    assert status == 413 and read == cap_chunks + 1


def test_a_declared_length_over_the_cap_is_413_unread(runtime, feed) -> None:
    headers = {"Authorization": f"Bearer {feed}", "Content-Length": str(estuary.MAX_BODY_BYTES + 1)}
    status, read = asgi_post(create_app(runtime), "/webhooks/estuary/crm/warehouse/accounts", megabytes(40), headers)
    assert (status, read) == (413, 0)


def test_a_body_at_the_cap_is_read(client, feed) -> None:
    payload = body([doc("1", T0_US, name="Oakwood")])
    padded = payload + " " * (estuary.MAX_BODY_BYTES - len(payload))
    resp = post(client, feed, padded)
    assert resp.status_code == 200 and resp.json()["upserted"] == 1


# ---- documents the database must not take: each quarantined alone, the rest applied ---------------


def deep(levels: int) -> str:
    return '{"a": ' * levels + "1" + "}" * levels


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ('{"id": "2", "name": "Birch", "arr": NaN}', "NaN is not a finite number"),
        ('{"id": "2", "name": "Birch", "arr": Infinity}', "Infinity is not a finite number"),
        ('{"id": "2", "name": "Birch", "arr": -Infinity}', "-Infinity is not a finite number"),
        ('{"id": "2", "name": "Birch", "arr": 1e400}', "1e400 is not a finite number"),
        ('{"id": "2", "name": "Birch", "extra": ' + deep(100) + "}", "nested deeper than 64 levels"),
        ('{"id": "2", "name": "Birch", "extra": ' + deep(100_000) + "}", "nested deeper than 64 levels"),
        ('"not an object"', "must be a JSON object"),
    ],
)
def test_a_bad_document_is_quarantined_alone(client, feed, runtime, bad: str, why: str) -> None:
    good = [json.dumps(doc("1", T0_US, name="Oakwood", arr=1000)), json.dumps(doc("3", T0_US, name="Cedar"))]
    resp = post(client, feed, "[\n" + ",\n".join([good[0], bad, good[1]]) + "\n]")
    assert resp.status_code == 200, resp.text
    assert (resp.json()["upserted"], resp.json()["quarantined"], resp.json()["received"]) == (2, 1, 3)
    assert set(accounts(runtime)) == {"1", "3"}
    with runtime.session() as s:
        errors = [q.error for q in s.scalars(select(m.QuarantinedRecord))]
    assert len(errors) == 1 and why in errors[0], errors


def test_a_body_nested_too_deep_to_be_an_array_is_413(client, feed) -> None:
    resp = post(client, feed, deep(100_000))
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "too_large"


def test_a_record_the_database_refuses_is_quarantined_alone(client, feed, runtime) -> None:
    """A number beyond the column (units_managed is a 64-bit integer) passes validation but not the
    database: that record alone is quarantined, the others in the same POST are applied."""
    docs = [
        doc("1", T0_US, name="Oakwood"),
        doc("2", T0_US, name="Birch", units_managed=2**64),
        doc("3", T0_US, name="Cedar"),
    ]
    resp = post(client, feed, body(docs))
    assert resp.status_code == 200, resp.text
    assert (resp.json()["upserted"], resp.json()["quarantined"]) == (2, 1)
    assert set(accounts(runtime)) == {"1", "3"}
    with runtime.session() as s:
        quarantined = s.scalar(select(m.QuarantinedRecord))
    assert quarantined.external_id == "2" and "database refused" in quarantined.error
    # the binding moves on: the next POST is applied as usual
    assert post(client, feed, body([doc("4", T0_US, name="Dogwood")])).json()["upserted"] == 1


def test_quarantine_per_record_on_both_databases(any_runtime: Runtime) -> None:
    with any_runtime.session() as s:
        feed, _ = estuary.create_feed(
            session=s, name="crm", actor="test", bindings=[estuary.parse_binding("w/a=entity:accounts@platform")]
        )
        s.expunge(feed)
    docs = [doc("1", T0_US, name="Oakwood"), doc("2", T0_US, name="Birch", units_managed=2**64)]
    result = estuary.apply_documents(runtime=any_runtime, kinds=KINDS, feed=feed, collection="w/a", docs=docs)
    assert (result.upserted, result.quarantined) == (1, 1)
    assert set(accounts(any_runtime)) == {"1"}
