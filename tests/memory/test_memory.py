"""Long-term memory over a real database and the real local model: scoped recall, expiry, decay and forgetting
that really delete (the row and mem0's copies), and inputs refused before anything is stored."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.db.models import AuditLog, MemoryRow
from core.errors import InvalidInput, NotFound
from core.memory import (
    add_memory,
    apply_memory_policy,
    forget_all,
    forget_memory,
    get_memory,
    list_memories,
    search_memories,
)
from core.memory.history import history_db_path, purge_mem0_copies, session_scope
from core.retention import apply_retention
from core.runtime import Runtime, open_runtime
from tests.utils.memory import add_users, mem0_file_text


def remember(rt: Runtime, user: str, text: str, **kw) -> str:  # noqa: ANN003
    """Add a memory, then move the clock a second (so "newest first" has an order to show)."""
    memory_id = add_memory(runtime=rt, user=user, text=text, actor="test", **kw).id
    if hasattr(rt.clock, "advance"):
        rt.clock.advance(1)
    return memory_id


def recalled(rt: Runtime, user: str, query: str, **kw) -> list[str]:  # noqa: ANN003
    return [m.text for m in search_memories(runtime=rt, user=user, query=query, min_score=0.0, limit=20, **kw)]


def rows(rt: Runtime) -> int:
    with rt.engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(MemoryRow))


def test_no_user_or_agent_recalls_another_ones_memories(any_runtime: Runtime) -> None:
    rt = add_users(any_runtime)
    shared = remember(rt, "vera", "Vera prefers the weekly summary on Monday mornings", category="preference")
    remember(rt, "vera", "Vera's analyst tracks the Oakwood renewal", agent="analyst")
    remember(rt, "vera", "Vera's planner books the QBR for June", agent="planner")
    remember(rt, "vera", "In this chat Vera compares Q2 and Q3 churn", agent="analyst", conversation="c1")
    omars = remember(rt, "omar", "Omar prefers the weekly summary on Monday mornings")

    everything = recalled(rt, "vera", "weekly summary Monday")
    assert len(everything) == 4 and "Omar" not in " ".join(everything)  # the same words, another user: never
    assert recalled(rt, "omar", "Oakwood renewal QBR churn summary") == [
        "Omar prefers the weekly summary on Monday mornings"
    ]
    as_analyst = recalled(rt, "vera", "what is planned and tracked", agent="analyst")
    assert sorted(as_analyst) == [
        "In this chat Vera compares Q2 and Q3 churn",
        "Vera prefers the weekly summary on Monday mornings",  # the user's own: every agent recalls it
        "Vera's analyst tracks the Oakwood renewal",
    ]
    in_c2 = recalled(rt, "vera", "what is planned and tracked", agent="analyst", conversation="c2")
    assert "In this chat Vera compares Q2 and Q3 churn" not in in_c2 and len(in_c2) == 2
    assert "Vera's analyst tracks the Oakwood renewal" not in recalled(rt, "vera", "Oakwood", agent="planner")

    listed = list_memories(runtime=rt, user="vera", agent="planner")
    assert [m.text for m in listed] == [
        "Vera's planner books the QBR for June",
        "Vera prefers the weekly summary on Monday mornings",
    ]  # newest first
    assert [m.id for m in list_memories(runtime=rt, user="omar")] == [omars]

    with pytest.raises(NotFound):
        get_memory(runtime=rt, memory_id=shared, user="omar")
    with pytest.raises(NotFound):
        forget_memory(runtime=rt, memory_id=shared, user="omar", actor="omar")
    assert get_memory(runtime=rt, memory_id=shared, user="vera").category == "preference"
    assert forget_all(runtime=rt, user="vera", agent="analyst", actor="test") == 2  # that agent's own only
    assert forget_all(runtime=rt, user="omar", actor="test") == 1
    assert {m.text for m in list_memories(runtime=rt, user="vera")} == {
        "Vera prefers the weekly summary on Monday mornings",
        "Vera's planner books the QBR for June",
    }


def test_search_ranks_by_meaning_and_stamps_what_it_recalls(rt: Runtime) -> None:
    remember(rt, "vera", "Vera wants the rent collection report every Friday", metadata={"source": "chat"})
    remember(rt, "vera", "Vera's favourite team sport is cricket")
    found = search_memories(runtime=rt, user="vera", query="when should the collections report go out?")
    assert found[0].text == "Vera wants the rent collection report every Friday"
    assert found[0].metadata == {"source": "chat"} and found[0].score is not None and 0 < found[0].score <= 1
    assert all(a.score >= b.score for a, b in zip(found, found[1:]))
    assert (found[0].recall_count, found[0].last_recalled_at) == (1, rt.clock.now())
    again = search_memories(runtime=rt, user="vera", query="rent collections report day", limit=1)
    assert [m.recall_count for m in again] == [2]
    assert search_memories(runtime=rt, user="vera", query="collections report", min_score=0.99) == []
    shown = found[0].as_json()
    assert shown["created_at"] == found[0].created_at.isoformat() and shown["expires_on"] is None


def test_another_process_sees_adds_and_forgets_at_once(rt: Runtime) -> None:
    """Two runtimes on one database stand for the app and the CLI: each keeps its own recall cache."""
    other = open_runtime(rt.settings)
    try:
        first = remember(rt, "vera", "Vera runs the onboarding calls")
        assert recalled(rt, "vera", "onboarding") == ["Vera runs the onboarding calls"]  # rt's cache is built
        second = remember(other, "vera", "Vera escalates NSF returns to finance")
        assert set(recalled(rt, "vera", "onboarding NSF")) == {
            "Vera runs the onboarding calls",
            "Vera escalates NSF returns to finance",
        }
        forget_memory(runtime=other, memory_id=first, user="vera", actor="test")
        assert recalled(rt, "vera", "onboarding NSF") == ["Vera escalates NSF returns to finance"]
        forget_memory(runtime=other, memory_id=second, user=None, actor="test")
        remember(other, "vera", "Vera owns the Yardi integration")
        assert recalled(rt, "vera", "onboarding NSF Yardi") == ["Vera owns the Yardi integration"]
    finally:
        other.engine.dispose()


def test_forget_deletes_the_row_and_every_copy_mem0_kept(rt: Runtime) -> None:
    secret = "Vera's door code is 4417"
    doomed = remember(rt, "vera", secret, agent="analyst", conversation="c9")
    kept = remember(rt, "vera", "Vera likes short answers")
    search_memories(runtime=rt, user="vera", query="door code")
    forget_memory(runtime=rt, memory_id=doomed, user="vera", actor="vera")

    with pytest.raises(NotFound):
        get_memory(runtime=rt, memory_id=doomed)
    assert rows(rt) == 1 and recalled(rt, "vera", "door code") == ["Vera likes short answers"]
    assert secret not in mem0_file_text(rt) and doomed not in mem0_file_text(rt)
    with rt.session() as s:
        entry = s.scalars(select(AuditLog).where(AuditLog.action == "memory.forget")).one()
        assert (entry.actor, entry.target, entry.details["user"]) == ("vera", doomed, "vera")
        assert secret not in repr([e.details for e in s.scalars(select(AuditLog))])  # audited without the text
    with pytest.raises(NotFound):
        forget_memory(runtime=rt, memory_id=doomed, user=None, actor="test")

    assert forget_all(runtime=rt, user="vera", actor="test") == 1
    assert rows(rt) == 0 and kept not in mem0_file_text(rt)
    assert forget_all(runtime=rt, user="vera", actor="test") == 0


def test_expired_memories_are_hidden_then_really_deleted_by_retention(rt: Runtime) -> None:
    today = rt.clock.now().date()
    temporary = remember(rt, "vera", "Vera is on leave this week", expires_on=today + timedelta(days=2))
    remember(rt, "vera", "Vera manages the West region")
    assert len(recalled(rt, "vera", "leave region")) == 2
    rt.clock.advance(2 * 86400)  # the last day it holds
    assert len(list_memories(runtime=rt, user="vera")) == 2

    rt.clock.advance(86400)
    assert recalled(rt, "vera", "leave region") == ["Vera manages the West region"]
    assert [m.text for m in list_memories(runtime=rt, user="vera")] == ["Vera manages the West region"]
    assert get_memory(runtime=rt, memory_id=temporary).expires_on == today + timedelta(days=2)  # hidden, not gone

    counts = apply_retention(runtime=rt)  # the daily retention job
    assert (counts["memories_expired"], counts["memories_decayed"]) == (1, 0)
    assert rows(rt) == 1
    assert temporary not in mem0_file_text(rt) and "on leave" not in mem0_file_text(rt)
    with rt.session() as s:
        entry = s.scalars(select(AuditLog).where(AuditLog.action == "memory.retention")).one()
        assert entry.actor == "system" and entry.details["memories_expired"] == 1
    assert apply_memory_policy(runtime=rt) == {"memories_expired": 0, "memories_decayed": 0}


def test_unused_memories_decay_and_recalled_ones_stay(tmp_path) -> None:
    from core.runtime import prepare
    from tests.conftest import make_settings

    rt = open_runtime(make_settings(tmp_path, memory_decay_days=30))
    prepare(rt)
    add_users(rt)
    try:
        used = remember(rt, "vera", "Vera reviews the pipeline every Tuesday")
        remember(rt, "vera", "Vera once asked about the 2019 board deck")
        rt.clock.advance(20 * 86400)
        assert search_memories(runtime=rt, user="vera", query="pipeline review day", limit=1)[0].id == used
        rt.clock.advance(15 * 86400)  # 35 days after both were added, 15 after one was recalled
        assert apply_memory_policy(runtime=rt) == {"memories_expired": 0, "memories_decayed": 1}
        assert [m.id for m in list_memories(runtime=rt, user="vera")] == [used]
        rt.clock.advance(31 * 86400)
        assert apply_memory_policy(runtime=rt)["memories_decayed"] == 1 and rows(rt) == 0
    finally:
        rt.engine.dispose()

    off = open_runtime(make_settings(tmp_path / "off", memory_decay_days=0))
    prepare(off)
    add_users(off)
    try:
        remember(off, "vera", "Vera's fiscal year starts in February")
        off.clock.advance(3650 * 86400)
        assert apply_memory_policy(runtime=off) == {"memories_expired": 0, "memories_decayed": 0}
    finally:
        off.engine.dispose()


@pytest.mark.parametrize(
    ("kwargs", "error", "needle"),
    [
        ({"user": "ghost"}, NotFound, "no user named 'ghost'"),
        ({"text": "x" * 2001}, InvalidInput, "SOPHIA_MEMORY_MAX_CHARS"),
        ({"text": "   "}, InvalidInput, "needs some text"),
        ({"metadata": {"user_id": "omar"}}, InvalidInput, "reserved"),
        ({"metadata": {"n": float("nan")}}, InvalidInput, "plain JSON"),
        ({"agent": "the analyst"}, InvalidInput, "must not contain spaces"),
        ({"expires_on": "yesterday"}, InvalidInput, "must be a date"),
    ],
)
def test_bad_input_is_refused_before_anything_is_stored(rt: Runtime, kwargs, error, needle) -> None:
    args = {"user": "vera", "text": "Vera likes tables", **kwargs}
    with pytest.raises(error, match=needle):
        add_memory(runtime=rt, actor="test", **args)
    assert rows(rt) == 0


def test_past_expiry_and_unknown_users_are_clear_errors(rt: Runtime) -> None:
    with pytest.raises(InvalidInput, match="is in the past"):
        remember(rt, "vera", "old news", expires_on=rt.clock.now().date() - timedelta(days=1))
    for call in (list_memories, search_memories, forget_all):
        kwargs = {"query": "anything"} if call is search_memories else {"actor": "t"} if call is forget_all else {}
        with pytest.raises(NotFound, match="no user named 'ghost'"):
            call(runtime=rt, user="ghost", **kwargs)
    with pytest.raises(InvalidInput, match="limit"):
        search_memories(runtime=rt, user="vera", query="x", limit=0)


def test_purge_takes_forgotten_memories_out_of_mem0s_own_file(rt: Runtime) -> None:
    """mem0's history and kept messages, written by mem0's own storage class, purged by memory id and scope."""
    from core.memory.mem0_bridge import prepare_mem0_env

    prepare_mem0_env(rt.settings)
    from mem0.memory.main import _build_session_scope
    from mem0.memory.storage import SQLiteManager

    for scope in ({"user_id": "vera"}, {"user_id": "a&b=c%", "agent_id": "x", "run_id": "r 1"}):
        assert session_scope(scope) == _build_session_scope(scope)  # our key is mem0's key
    db = SQLiteManager(str(history_db_path(rt.settings)))
    db.add_history("m1", None, "Vera's door code is quokka-vermilion", "ADD")
    db.add_history("m2", None, "Vera likes short answers", "ADD")
    db.save_messages([{"role": "user", "content": "the code is quokka-vermilion"}], "agent_id=analyst&user_id=vera")
    db.save_messages([{"role": "user", "content": "a chat in c2"}], "run_id=c2&user_id=vera")
    db.save_messages([{"role": "user", "content": "Omar says hello"}], "user_id=omar")
    db.close()

    purge_mem0_copies(rt.settings, memory_ids=["m1"], scopes=[{"user_id": "vera", "agent_id": "analyst"}])
    kept = mem0_file_text(rt)
    assert "quokka" not in kept and "short answers" in kept and "a chat in c2" in kept and "Omar" in kept
    purge_mem0_copies(rt.settings, memory_ids=["m2"], within={"user_id": "vera"})
    kept = mem0_file_text(rt)
    assert "Vera" not in kept and "a chat in c2" not in kept and "Omar says hello" in kept


def test_fact_extraction_without_an_llm_is_a_configuration_error(tmp_path) -> None:
    from core.errors import ConfigError
    from core.runtime import prepare
    from tests.conftest import make_settings

    rt = open_runtime(make_settings(tmp_path, memory_infer=True))
    prepare(rt)
    add_users(rt)
    try:
        with pytest.raises(ConfigError, match="SOPHIA_MEMORY_INFER: extracting facts needs an LLM"):
            remember(rt, "vera", "Vera likes tables")
        assert rows(rt) == 0
    finally:
        rt.engine.dispose()
