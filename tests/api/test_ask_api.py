"""Ask Sophia over HTTP on the small demo: exactly the `sophia ask --json` shape, conversations per caller, a
viewer's answer kept to a viewer's tools, the one error shape for no credentials, bad bodies, a question over the
limit and a body too large to read, the agents list, and approving a proposed write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.main import create_app
from connectors.demo import get_truth, load_demo
from core.db.models import Conversation, ProposedAction
from core.runtime import Runtime, open_runtime, prepare
from tests.api.conftest import api_key, bearer
from tests.conftest import make_settings
from tests.utils.ask import ASK_JSON_KEYS

URL = "/api/v1/ask"
KEYS = ASK_JSON_KEYS


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Runtime:
    rt = open_runtime(make_settings(tmp_path_factory.mktemp("ask-api")))
    prepare(rt)
    load_demo(runtime=rt, size="small", seed=42, as_of=datetime.now(UTC).date())
    yield rt
    rt.engine.dispose()


@pytest.fixture(scope="module")
def client(demo: Runtime) -> TestClient:
    with TestClient(create_app(demo)) as c:
        yield c


@pytest.fixture(scope="module")
def admin(client: TestClient) -> dict[str, str]:
    return bearer(client)


@pytest.fixture(scope="module")
def truth(demo: Runtime) -> dict:
    with demo.session() as s:
        return get_truth(session=s)


def test_the_answer_is_the_cli_json_shape(client: TestClient, admin, truth) -> None:
    resp = client.post(URL, json={"question": "which deals are stalled?"}, headers=admin)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == KEYS
    assert body["offline"] is True and body["agents"] == ["sales_coach"] and body["consensus"] is None
    deals = {c["external_id"] for c in body["citations"] if c["table"] == "deals"}
    assert deals == {d["external_id"] for d in truth["stalled_deals"]}  # the planted stalled deals, cited
    for c in body["citations"]:
        assert set(c) == {"doc_id", "table", "external_id", "title", "url"}
    assert [set(t) for t in body["tool_calls"]] == [{"agent", "tool", "args", "ms"}]
    assert body["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0}
    assert body["proposed_actions"] == []

    # a follow-up in the same conversation: a decision, with the consensus in its shape
    account = truth["stalled_deals"][0]["account"]
    follow = client.post(
        URL, json={"question": f"is {account} at risk?", "conversation_id": body["conversation_id"]}, headers=admin
    ).json()
    assert follow["conversation_id"] == body["conversation_id"]
    assert set(follow["consensus"]) == {"verdict", "agree", "of", "dissents"}
    assert all(set(d) == {"agent", "reason"} for d in follow["consensus"]["dissents"])


def test_a_viewer_asks_as_a_viewer_and_cannot_continue_anothers_conversation(
    demo: Runtime, client: TestClient, admin
) -> None:
    _, viewer = api_key(demo, "viewer")
    theirs = client.post(URL, json={"question": "which deals are stalled?"}, headers=admin).json()["conversation_id"]
    resp = client.post(URL, json={"question": "which reps talk too much on calls?"}, headers=viewer)
    assert resp.status_code == 200, resp.text
    assert "call analysis needs the analyst role" in resp.json()["answer"]  # call analysis is for analysts and up
    assert resp.json()["tool_calls"] == []
    with demo.session() as s:
        assert s.get(Conversation, resp.json()["conversation_id"]).username == "viewer-user"
    other = client.post(URL, json={"question": "and now?", "conversation_id": theirs}, headers=viewer)
    assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({}, 422, "field question: Field required"),
        ({"question": ""}, 422, "field question"),
        ({"question": "hi", "approve": True}, 422, "field approve: Extra inputs are not permitted"),
        ({"question": "   "}, 422, "the question is empty"),
        ({"question": "x" * 2001}, 422, "the question is longer than 2000 characters"),
        ({"question": "x" * 20_000}, 413, "the body is over"),
        ({"question": "hi", "agent": "nobody"}, 404, "no enabled specialist named 'nobody'"),
        ({"question": "hi", "conversation_id": "nope"}, 422, "is not a conversation id"),
    ],
)
def test_bad_requests_answer_in_the_one_error_shape(client: TestClient, admin, body, status, needle) -> None:
    resp = client.post(URL, json=body, headers=admin)
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert set(resp.json()) == {"error"} and needle in error["message"], error


def test_not_json_and_no_credentials(client: TestClient, admin) -> None:
    resp = client.post(URL, content=b"{not json", headers={**admin, "Content-Type": "application/json"})
    assert resp.status_code == 422 and resp.json()["error"]["message"].startswith("request body: Invalid JSON")
    resp = client.post(URL, json={"question": "which deals are stalled?"})
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "unauthenticated"
    declared = client.post(URL, content=b"{}", headers={**admin, "Content-Length": "10000000"})
    assert declared.status_code == 413  # refused on the declared length, before reading


def test_the_agents_list(client: TestClient, admin) -> None:
    resp = client.get("/api/v1/agents", headers=admin)
    assert resp.status_code == 200
    assert [a["name"] for a in resp.json()][:1] == ["strategy"]
    assert client.get("/api/v1/agents").status_code == 401


def test_a_proposed_write_is_approved_or_rejected_by_the_one_who_asked(
    demo: Runtime, client: TestClient, admin, truth
) -> None:
    account = truth["stalled_deals"][0]["account"]
    body = client.post(URL, json={"question": f"create a task for {account} to call their CFO"}, headers=admin).json()
    (task,) = body["proposed_actions"]
    assert task["tool"] == "crm_task" and task["status"] == "proposed"
    post = client.post(
        URL, json={"question": "post that to #revenue-ops", "conversation_id": body["conversation_id"]}, headers=admin
    ).json()["proposed_actions"][0]
    _, analyst = api_key(demo, "analyst")
    assert client.post(f"/api/v1/actions/{task['id']}/approve", headers=analyst).status_code == 404  # not theirs
    done = client.post(f"/api/v1/actions/{task['id']}/approve", headers=admin)
    assert done.status_code == 200, done.text
    assert set(done.json()) == {"id", "tool", "args", "status", "summary", "result"}
    assert done.json()["status"] == "executed" and done.json()["result"]["text"].startswith("Created task")
    assert client.post(f"/api/v1/actions/{task['id']}/reject", headers=admin).status_code == 409  # decided
    assert client.post(f"/api/v1/actions/{post['id']}/reject", headers=admin).json()["status"] == "rejected"
    with demo.session() as s:
        assert s.scalar(select(ProposedAction.status).where(ProposedAction.id == post["id"])) == "rejected"
