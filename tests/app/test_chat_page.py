"""The Chat page through AppTest on the small demo: a question answered (the answer, the agents and tool calls,
the sources that open their records, token use), feedback stored for review, the conversation listed and
reopened for a follow-up, a viewer's chat kept to a viewer's tools and conversations, a proposed write approved
and one rejected (both proposed by the engine), and the memories panel."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.db.models import Activity, AuditLog, ChatFeedback, ChatMessage, Conversation, ProposedAction
from core.runtime import Runtime
from tests.app.test_insights_page import open_page, signed_in, user
from tests.conftest import ADMIN_PASSWORD

CHAT = "../pages/chat.py"
STALLED = "which deals are stalled?"


@pytest.fixture
def demo(app_db: Runtime) -> Runtime:
    from connectors.demo import load_demo

    load_demo(runtime=app_db, size="small", seed=42, as_of=datetime.now(UTC).date())
    return app_db


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input(key="chat_q").set_value(question).run()
    assert not at.exception, at.exception
    return at


def text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def conversations(rt: Runtime, username: str) -> list[Conversation]:
    with rt.session() as s:
        rows = list(s.scalars(select(Conversation).where(Conversation.username == username)))
        s.expunge_all()
        return rows


def stalled_deals(rt: Runtime) -> list[dict]:
    from connectors.demo import get_truth

    with rt.session() as s:
        return get_truth(session=s)["stalled_deals"]


def test_a_question_is_answered_with_its_trace_sources_and_usage(demo: Runtime) -> None:
    at = open_page(signed_in("admin", ADMIN_PASSWORD), CHAT)
    assert any("Ask Sophia" in m.value for m in at.markdown)  # the welcome, with example questions
    assert any(b.label == "Which deals are stalled?" for b in at.button)
    ask(at, STALLED)
    body = text(at)
    assert "**Stalled deals**" in body
    truth = stalled_deals(demo)
    for deal in truth:
        assert deal["name"] in body
    # the agents and tools, collapsed once answered
    (status,) = at.status
    assert status.label == "Answered by Sales Coach · 1 tool call" and status.state == "complete"
    assert any("deal_pipeline" in m.value for m in at.markdown)
    # each stalled deal opens its record page
    targets = {(pl.proto.page, pl.proto.query_string) for pl in at.get("page_link")}
    for deal in truth:
        assert ("record", f"table=deals&id={deal['external_id']}") in targets
    assert any(c.value.startswith("Offline engine (no language model) · 0 tokens") for c in at.caption)
    assert any(c.value.endswith("· $0.0000") for c in at.caption)
    # stored for this user, and listed
    (convo,) = conversations(demo, "admin")
    assert convo.title == STALLED
    assert f"chat_open_{convo.id}" in [b.key for b in at.button]


def test_feedback_is_stored_with_its_note(demo: Runtime) -> None:
    at = ask(open_page(signed_in("admin", ADMIN_PASSWORD), CHAT), STALLED)
    with demo.session() as s:
        answer_id = s.scalar(select(ChatMessage.id).where(ChatMessage.role == "assistant"))
    at.get("feedback")[0].set_value(0).run()  # thumbs down
    assert not at.exception, at.exception
    at.text_input(key=f"fb_note_{answer_id}").input("it should say who owns each deal").run()
    assert any("feedback is saved" in c.value for c in at.caption)
    with demo.session() as s:
        (row,) = s.scalars(select(ChatFeedback))
        assert (row.message_id, row.username, row.helpful, row.note) == (
            answer_id,
            "admin",
            False,
            "it should say who owns each deal",
        )
    at.get("feedback")[0].set_value(1).run()  # changed their mind: one row, now helpful, the note kept
    with demo.session() as s:
        (row,) = s.scalars(select(ChatFeedback))
        assert row.helpful is True and row.note == "it should say who owns each deal"


def test_a_conversation_is_reopened_and_continued(demo: Runtime) -> None:
    ask(open_page(signed_in("admin", ADMIN_PASSWORD), CHAT), STALLED)
    (convo,) = conversations(demo, "admin")
    truth = stalled_deals(demo)
    account = truth[0]["account"]

    at = open_page(signed_in("admin", ADMIN_PASSWORD), CHAT)  # a new session: nothing open
    assert "**Stalled deals**" not in text(at)
    at.button(key=f"chat_open_{convo.id}").click().run()
    assert "**Stalled deals**" in text(at)  # the stored answer, with its trace collapsed
    assert any(e.label.startswith("Answered by Sales Coach") for e in at.expander)
    ask(at, f"is {account} at risk?")
    assert f"**{account}: " in text(at)
    assert len(conversations(demo, "admin")) == 1  # the follow-up stayed in the conversation
    with demo.session() as s:
        roles = list(s.scalars(select(ChatMessage.role).where(ChatMessage.conversation_id == convo.id)))
    assert roles == ["user", "assistant", "user", "assistant"]

    at.button(key="chat_new").click().run()
    assert any("Ask Sophia" in m.value for m in at.markdown)


def test_a_viewer_chats_with_a_viewers_tools_and_sees_only_their_conversations(demo: Runtime) -> None:
    ask(open_page(signed_in("admin", ADMIN_PASSWORD), CHAT), STALLED)
    (admins,) = conversations(demo, "admin")
    at = open_page(signed_in("vera", user(demo, "vera", "viewer")), CHAT)
    assert f"chat_open_{admins.id}" not in [b.key for b in at.button]
    ask(at, "which reps talk too much on calls?")  # call analysis is for analysts and up
    assert "Not shown with your role (viewer)" in text(at)
    assert [c.username for c in conversations(demo, "vera")] == ["vera"]


def test_proposed_writes_run_only_when_approved(demo: Runtime) -> None:
    account = stalled_deals(demo)[0]["account"]
    at = ask(open_page(signed_in("admin", ADMIN_PASSWORD), CHAT), f"create a task for {account} to call their CFO")
    ask(at, "post that to #revenue-ops")
    with demo.session() as s:
        task, post = s.scalars(select(ProposedAction).order_by(ProposedAction.created_at)).all()
        assert (task.tool, post.tool) == ("crm_task", "slack_post") and {task.status, post.status} == {"proposed"}
        assert s.scalar(select(Activity.id).where(Activity.source == "sophia")) is None  # nothing ran yet
    assert "nothing runs until you approve it" in text(at)
    at.button(key=f"approve_{task.id}").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == ["Approved and done."]
    assert any(c.value.startswith("Created task 'call their CFO' on ") for c in at.caption)  # what it did, kept
    at.button(key=f"reject_{post.id}").click().run()
    assert [i.value for i in at.info] == [f"Rejected: {post.summary}"]
    with demo.session() as s:
        assert s.get(ProposedAction, task.id).status == "executed"
        assert s.get(ProposedAction, post.id).status == "rejected"
        assert s.scalar(select(Activity.subject).where(Activity.source == "sophia")) == "call their CFO"
        actions = set(s.scalars(select(AuditLog.action).where(AuditLog.actor == "admin")))
    assert {"agent.action.approve", "agent.action.executed", "agent.action.reject"} <= actions
    buttons = [b.key for b in at.button]
    assert f"approve_{task.id}" not in buttons and f"approve_{post.id}" not in buttons  # decided: no buttons


def test_your_memories_lists_what_you_asked_sophia_to_remember_and_forgets_it(demo: Runtime) -> None:
    from core.memory import add_memory, list_memories

    user(demo, "vera", "viewer")
    add_memory(runtime=demo, user="vera", text="Vera's own note", actor="test")  # another user's: never listed
    at = ask(open_page(signed_in("admin", ADMIN_PASSWORD), CHAT), "please remember that Trailhead prefers email")
    assert "I'll remember: Trailhead prefers email" in text(at)
    panel = next(e for e in at.expander if e.label == "Your memories")
    shown = "\n".join(m.value for m in panel.markdown)
    assert "Trailhead prefers email" in shown and "Vera" not in shown
    (item,) = list_memories(runtime=demo, user="admin")
    at.button(key=f"forget_{item.id}").click().run()
    assert not at.exception, at.exception
    assert list_memories(runtime=demo, user="admin") == []
    assert len(list_memories(runtime=demo, user="vera")) == 1
