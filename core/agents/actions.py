"""Writes an agent proposed: stored with the answer, run only when the person who asked approves (in the chat,
or ``sophia ask --approve``), refused otherwise. Every approval and rejection is audited."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import audit
from core.auth import Identity
from core.db.models import ProposedAction
from core.db.types import json_ready
from core.errors import Conflict, NotFound, SophiaError
from core.tools.base import Proposal, ToolContext

if TYPE_CHECKING:
    from core.runtime import Runtime


@dataclass(frozen=True)
class ActionItem:
    id: str
    tool: str
    args: dict[str, Any]
    status: str
    summary: str
    agent: str
    result: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        """The ``proposed_actions`` item of ``sophia ask --json``."""
        return {"id": self.id, "tool": self.tool, "args": self.args, "status": self.status}


def action_item(row: ProposedAction) -> ActionItem:
    return ActionItem(row.id, row.tool, dict(row.args), row.status, row.summary, row.agent, dict(row.result or {}))


def store_proposals(
    *, session: Session, identity: Identity, conversation_id: str, proposals: list[Proposal], now: datetime
) -> list[ProposedAction]:
    rows = []
    for p in proposals:
        row = ProposedAction(
            id=str(uuid.uuid4()),
            conversation_id=conversation_id,
            username=identity.username,
            agent=p.agent,
            tool=p.tool,
            args=json_ready(p.args),
            summary=p.summary[:512],
            status="proposed",
            result={},
            created_at=now,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def _pending(session: Session, identity: Identity, action_id: str) -> ProposedAction:
    row = session.get(ProposedAction, action_id)
    if row is None or row.username != identity.username:
        raise NotFound(f"no proposed action {action_id}")
    if row.status != "proposed":
        raise Conflict(f"action {action_id} is already {row.status}")
    return row


def approve_action(*, runtime: Runtime, identity: Identity, action_id: str) -> ActionItem:
    """Run the proposed write as the person approving it (their role is checked again by the tool's door)."""
    from core.tools.catalogue import CATALOGUE

    with runtime.session() as session:
        row = _pending(session, identity, action_id)
        tool, args, agent = CATALOGUE.get(row.tool), dict(row.args), row.agent
        now = runtime.clock.now()
        row.decided_at, row.decided_by = now, identity.actor
        audit(
            session=session,
            actor=identity.actor,
            action="agent.action.approve",
            target=action_id,
            details={"tool": row.tool, "args": args, "agent": agent},
        )
        row.status = "executing"
        session.commit()
    status, result = "executed", {}
    try:
        if tool is None:
            raise NotFound(f"the tool {row.tool} no longer exists")
        if not identity.can(tool.role):
            raise SophiaError(f"{row.tool} needs the {tool.role} role", code="forbidden")
        ctx = ToolContext(runtime=runtime, identity=identity, agent=agent)
        out = tool.run(ctx, tool.parse(args))
        result = {"text": out.text, "data": json_ready(out.data)}
    except SophiaError as exc:
        status, result = "failed", {"error": exc.message}
    with runtime.session() as session:
        done = session.get(ProposedAction, action_id)
        assert done is not None
        done.status, done.result = status, result
        audit(session=session, actor=identity.actor, action=f"agent.action.{status}", target=action_id, details=result)
        session.commit()
        return action_item(done)


def reject_action(*, runtime: Runtime, identity: Identity, action_id: str) -> ActionItem:
    with runtime.session() as session:
        row = _pending(session, identity, action_id)
        row.status, row.decided_at, row.decided_by = "rejected", runtime.clock.now(), identity.actor
        audit(
            session=session,
            actor=identity.actor,
            action="agent.action.reject",
            target=action_id,
            details={"tool": row.tool},
        )
        session.commit()
        return action_item(row)


def conversation_actions(*, session: Session, identity: Identity, conversation_id: str) -> list[ActionItem]:
    q = (
        select(ProposedAction)
        .where(ProposedAction.conversation_id == conversation_id, ProposedAction.username == identity.username)
        .order_by(ProposedAction.created_at)
    )
    return [action_item(r) for r in session.scalars(q)]
