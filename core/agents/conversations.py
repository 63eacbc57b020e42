"""Conversations per user: their messages (an answer's message carries the whole ask result), what a follow-up
refers to (``state``), feedback on answers, and the per-user cost of the month (for the budget)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.audit import audit
from core.auth import Identity
from core.db.models import ChatFeedback, ChatMessage, Conversation, LlmUsage
from core.db.types import json_ready
from core.errors import InvalidInput, NotFound

TITLE_CHARS = 80
MAX_NOTE = 2000


def _owned(session: Session, identity: Identity, conversation_id: str) -> Conversation:
    row = session.get(Conversation, conversation_id)
    if row is None or row.username != identity.username:  # another user's conversation does not exist for you
        raise NotFound(f"no conversation {conversation_id}")
    return row


def open_conversation(
    *, session: Session, identity: Identity, conversation_id: str | None, question: str, now: datetime
) -> Conversation:
    """The caller's conversation ``conversation_id``, or a new one titled by the question."""
    if conversation_id:
        try:
            uuid.UUID(conversation_id)
        except ValueError:
            raise InvalidInput(f"conversation id {conversation_id!r} is not a conversation id") from None
        return _owned(session, identity, conversation_id)
    title = " ".join(question.split())
    title = title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1] + "…"
    row = Conversation(
        id=str(uuid.uuid4()), username=identity.username, title=title, state={}, created_at=now, updated_at=now
    )
    session.add(row)
    session.flush()
    return row


def add_message(
    *, session: Session, conversation: Conversation, role: str, text: str, payload: dict[str, Any] | None, now: datetime
) -> ChatMessage:
    msg = ChatMessage(
        conversation_id=conversation.id, role=role, text=text, payload=json_ready(payload or {}), created_at=now
    )
    session.add(msg)
    conversation.updated_at = now
    session.flush()
    return msg


@dataclass(frozen=True)
class ConversationItem:
    id: str
    title: str
    updated_at: datetime
    messages: int


def list_conversations(*, session: Session, identity: Identity, limit: int = 50) -> list[ConversationItem]:
    counts = (
        select(ChatMessage.conversation_id, func.count(ChatMessage.id).label("n"))
        .group_by(ChatMessage.conversation_id)
        .subquery()
    )
    q = (
        select(Conversation.id, Conversation.title, Conversation.updated_at, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.conversation_id == Conversation.id)
        .where(Conversation.username == identity.username)
        .order_by(Conversation.updated_at.desc())
        .limit(limit)
    )
    return [ConversationItem(i, t, u, int(n)) for i, t, u, n in session.execute(q)]


def conversation_messages(*, session: Session, identity: Identity, conversation_id: str) -> list[ChatMessage]:
    _owned(session, identity, conversation_id)
    q = select(ChatMessage).where(ChatMessage.conversation_id == conversation_id).order_by(ChatMessage.id)
    return list(session.scalars(q))


def recent_turns(session: Session, conversation_id: str, limit: int = 6) -> list[tuple[str, str]]:
    """(role, text) of the conversation's last messages, oldest first: the context a model gets."""
    q = (
        select(ChatMessage.role, ChatMessage.text)
        .where(ChatMessage.conversation_id == conversation_id)
        .order_by(ChatMessage.id.desc())
        .limit(limit)
    )
    return [(r, t) for r, t in reversed(session.execute(q).all())]


def delete_conversation(*, session: Session, identity: Identity, conversation_id: str) -> None:
    row = _owned(session, identity, conversation_id)
    session.execute(delete(ChatMessage).where(ChatMessage.conversation_id == row.id))
    session.delete(row)
    audit(session=session, actor=identity.actor, action="conversation.delete", target=conversation_id)


def give_feedback(
    *, session: Session, identity: Identity, message_id: int, helpful: bool, note: str | None, now: datetime
) -> ChatFeedback:
    """Helpful or not (with a note) on one of the caller's answers; giving it again replaces it."""
    msg = session.get(ChatMessage, message_id)
    if msg is None or msg.role != "assistant":
        raise NotFound(f"no answer {message_id}")
    _owned(session, identity, msg.conversation_id)
    note = (note or "").strip() or None
    if note and len(note) > MAX_NOTE:
        raise InvalidInput(f"the note is longer than {MAX_NOTE} characters")
    row = session.scalars(
        select(ChatFeedback).where(ChatFeedback.message_id == message_id, ChatFeedback.username == identity.username)
    ).first()
    if row is None:
        row = ChatFeedback(
            message_id=message_id, username=identity.username, helpful=helpful, note=note, created_at=now
        )
        session.add(row)
    else:
        row.helpful, row.note, row.created_at = helpful, note, now
    session.flush()
    return row


def feedback_for(session: Session, message_ids: list[int], username: str) -> dict[int, ChatFeedback]:
    if not message_ids:
        return {}
    q = select(ChatFeedback).where(ChatFeedback.message_id.in_(message_ids), ChatFeedback.username == username)
    return {f.message_id: f for f in session.scalars(q)}


def month_cost(session: Session, username: str, now: datetime) -> float:
    """What ``username``'s answers cost this calendar month (UTC)."""
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    q = select(func.coalesce(func.sum(LlmUsage.cost_usd), 0.0)).where(
        LlmUsage.username == username, LlmUsage.created_at >= start
    )
    return float(session.scalar(q) or 0.0)
