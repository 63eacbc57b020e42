"""The memory calls the agents, the Chat page, the CLI and the retention job make.

Scope: every call names the user, and nothing returns another user's memory. ``agent`` and ``conversation``
narrow what is recalled and listed to what that agent in that conversation may see: its own memories and
the user's shared ones (stored without an agent, or without a conversation), never another agent's or
another conversation's. ``None`` does not narrow (the user's own view of everything they have).

Adding and searching go through mem0 (``mem0_bridge``); listing, reading, forgetting and the policy read and
delete the table directly, without importing mem0. Forgetting deletes the row and whatever mem0 kept of it
(``history.purge_mem0_copies``); every write is audited, without the memory's text.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from core.audit import audit
from core.db.models import MemoryRow
from core.errors import BackendUnavailable, InvalidInput, NotFound
from core.memory.history import purge_mem0_copies
from core.memory.items import (
    MemoryItem,
    check_category,
    check_expiry,
    check_limit,
    check_metadata,
    check_query,
    check_scope,
    check_text,
    item_from_row,
)
from core.memory.store import store_for
from core.observability.logging import get_logger
from core.runtime import Runtime

__all__ = [
    "DEFAULT_MIN_SCORE",
    "add_memory",
    "apply_memory_policy",
    "forget_all",
    "forget_memory",
    "get_memory",
    "list_memories",
    "search_memories",
]

log = get_logger("memory")

#: mem0's own default threshold: memories less similar than this (cosine) to the query are not recalled.
DEFAULT_MIN_SCORE = 0.1


def add_memory(
    *,
    runtime: Runtime,
    user: str,
    text: str,
    agent: str | None = None,
    conversation: str | None = None,
    category: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    expires_on: date | None = None,
    actor: str,
) -> MemoryItem:
    """Remember ``text`` for ``user`` (and ``agent``, ``conversation``). Stored as said, embedded by the local
    model; with ``SOPHIA_MEMORY_INFER`` an LLM extracts the facts instead (the first one is returned, and
    InvalidInput when it found nothing new). A text past ``SOPHIA_MEMORY_MAX_CHARS`` is refused."""
    settings = runtime.settings
    text = check_text(text, max_chars=settings.memory_max_chars)
    agent = check_scope(agent, "the agent")
    conversation = check_scope(conversation, "the conversation")
    category = check_category(category)
    extra = check_metadata(metadata)
    expires_on = check_expiry(expires_on, today=runtime.clock.now().date())
    _require_user(runtime, user)
    if category:
        extra["category"] = category  # mem0 keeps metadata in the payload; the store puts this in its column

    from core.memory.mem0_bridge import mem0_for, memory_infers

    memory = mem0_for(runtime)  # sets mem0's environment, then imports it
    from mem0.exceptions import LLMError
    from mem0.exceptions import ValidationError as Mem0ValidationError

    try:
        result = memory.add(
            text,
            user_id=user,
            agent_id=agent,
            run_id=conversation,
            metadata=extra or None,
            expiration_date=expires_on,
            infer=memory_infers(settings),
        )
    except (ValueError, Mem0ValidationError) as exc:
        raise InvalidInput(f"memory not stored: {exc}") from None
    except LLMError as exc:  # SOPHIA_MEMORY_INFER: the LLM did not answer
        raise BackendUnavailable(f"memory not stored: the LLM could not extract its facts ({exc})") from None
    ids = [r["id"] for r in result.get("results", []) if r.get("event") == "ADD"]
    if not ids:
        raise InvalidInput("nothing new to remember in this text: the language model found no new fact")
    store = store_for(runtime)
    items = [item for item in (store.get(i) for i in ids) if item is not None]
    with runtime.session() as session:
        audit(
            session=session,
            actor=actor,
            action="memory.add",
            target=ids[0],
            details={"user": user, "agent": agent, "conversation": conversation, "category": category, "ids": ids},
        )
    return items[0]


def search_memories(
    *,
    runtime: Runtime,
    user: str,
    query: str,
    agent: str | None = None,
    conversation: str | None = None,
    limit: int = 5,
    min_score: float | None = None,
) -> list[MemoryItem]:
    """The user's memories closest to ``query`` in this scope (see the module notes), closest first, at most
    ``limit``, none below ``min_score`` (default ``DEFAULT_MIN_SCORE``) and none expired. Each returned memory
    is stamped recalled (``last_recalled_at``, ``recall_count``): what is used does not decay."""
    query = check_query(query, max_chars=runtime.settings.memory_max_chars)
    agent = check_scope(agent, "the agent")
    conversation = check_scope(conversation, "the conversation")
    check_limit(limit, min_score)
    _require_user(runtime, user)

    from core.memory.mem0_bridge import mem0_for

    threshold = DEFAULT_MIN_SCORE if min_score is None else float(min_score)
    found = mem0_for(runtime).search(
        query, top_k=limit, filters=_filters(user, agent, conversation), threshold=threshold
    )
    scores = {r["id"]: float(r["score"]) for r in found.get("results", [])}
    rows = store_for(runtime).recalled(list(scores), runtime.clock.now())
    items = [item_from_row(rows[i]._mapping, score=s) for i, s in scores.items() if i in rows]
    return [item for item in items if item.user == user]  # the store scopes by user; this says so here too


def list_memories(
    *, runtime: Runtime, user: str, agent: str | None = None, conversation: str | None = None
) -> list[MemoryItem]:
    """Every memory of the user in this scope that has not expired, newest first."""
    agent = check_scope(agent, "the agent")
    conversation = check_scope(conversation, "the conversation")
    _require_user(runtime, user)
    rows = store_for(runtime).list_rows(_filters(user, agent, conversation), today=runtime.clock.now().date())
    return [item_from_row(r._mapping) for r in rows]


def get_memory(*, runtime: Runtime, memory_id: str, user: str | None = None) -> MemoryItem:
    """One memory by id; NotFound when there is none, or when ``user`` is given and it is not theirs (the same
    answer, so an id says nothing about another user's memories)."""
    item = store_for(runtime).get(str(memory_id)) if memory_id else None
    if item is None or (user is not None and item.user != user):
        raise NotFound(f"no memory {memory_id!r}" + (f" of user {user!r}" if user is not None else ""))
    return item


def forget_memory(*, runtime: Runtime, memory_id: str, user: str | None, actor: str) -> None:
    """Delete one memory for good: its row, and mem0's copies of it (``user`` given: only if it is theirs)."""
    item = get_memory(runtime=runtime, memory_id=memory_id, user=user)
    store_for(runtime).delete([item.id])
    scope = {"user_id": item.user, "agent_id": item.agent, "run_id": item.conversation}
    purge_mem0_copies(runtime.settings, memory_ids=[item.id], scopes=[scope])
    with runtime.session() as session:
        audit(
            session=session,
            actor=actor,
            action="memory.forget",
            target=item.id,
            details={"user": item.user, "agent": item.agent, "conversation": item.conversation},
        )


def forget_all(*, runtime: Runtime, user: str, agent: str | None = None, actor: str) -> int:
    """Delete every memory of the user (``agent`` given: only that agent's own), for good; how many."""
    agent = check_scope(agent, "the agent")
    _require_user(runtime, user)
    filters = {"user_id": user} | ({"agent_id": agent} if agent else {})
    store = store_for(runtime)
    ids = [r.id for r in store.list_rows(filters)]
    deleted = store.delete(ids)
    within = {"user_id": user} | ({"agent_id": agent} if agent else {})
    purge_mem0_copies(runtime.settings, memory_ids=ids, within=within)
    with runtime.session() as session:
        audit(
            session=session,
            actor=actor,
            action="memory.forget_all",
            target=user,
            details={"user": user, "agent": agent, "deleted": deleted},
        )
    return deleted


def apply_memory_policy(*, runtime: Runtime, now: datetime | None = None) -> dict[str, int]:
    """Delete, for good, the memories that expired (``expires_on`` before today) and those unused for
    ``SOPHIA_MEMORY_DECAY_DAYS`` (never recalled since added that long ago, or last recalled that long ago;
    0 turns decay off). Audited when something went; returns the counts."""
    now = now or runtime.clock.now()
    days = runtime.settings.memory_decay_days
    columns = (MemoryRow.id, MemoryRow.username, MemoryRow.agent, MemoryRow.conversation)
    with runtime.engine.connect() as conn:
        expired = conn.execute(select(*columns).where(MemoryRow.expires_on < now.date())).all()
        decayed: list[Any] = []
        if days:
            cutoff = now - timedelta(days=days)
            unused = or_(
                MemoryRow.last_recalled_at.is_(None) & (MemoryRow.created_at < cutoff),
                MemoryRow.last_recalled_at < cutoff,
            )
            gone = {r.id for r in expired}
            decayed = [r for r in conn.execute(select(*columns).where(unused)) if r.id not in gone]
    doomed = [*expired, *decayed]
    counts = {"memories_expired": 0, "memories_decayed": 0}
    if not doomed:
        return counts
    store = store_for(runtime)
    counts["memories_expired"] = store.delete([r.id for r in expired])
    counts["memories_decayed"] = store.delete([r.id for r in decayed])
    purge_mem0_copies(
        runtime.settings,
        memory_ids=[r.id for r in doomed],
        scopes=[{"user_id": r.username, "agent_id": r.agent, "run_id": r.conversation} for r in doomed],
    )
    with runtime.session() as session:
        audit(
            session=session,
            actor="system",
            action="memory.retention",
            details={**counts, "decay_days": days, "users": len({r.username for r in doomed})},
        )
    log.info("memory policy applied", **counts)
    return counts


# ---- helpers -----------------------------------------------------------------------------------------------


def _filters(user: str, agent: str | None, conversation: str | None) -> dict[str, str]:
    filters = {"user_id": user}
    if agent:
        filters["recall_agent"] = agent
    if conversation:
        filters["recall_run"] = conversation
    return filters


def _require_user(runtime: Runtime, user: str) -> None:
    """NotFound ("no user named ...") unless ``user`` is a Sophia user."""
    if not isinstance(user, str) or not user:
        raise InvalidInput("a memory always belongs to a user: name one")
    if not store_for(runtime).user_exists(user):
        raise NotFound(f"no user named {user!r}")
