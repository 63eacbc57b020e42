"""The agents that answer questions (``core.agents.registry``), each as ``sophia agents list --json`` shows it: a
client picks a specialist's ``name`` for ``POST /api/v1/ask``'s ``agent``. Editing stays on the Agents page and
``sophia agents edit`` (admins)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from api.deps import SessionDep, require_role
from core.agents.registry import list_agents

router = APIRouter(prefix="/api/v1/agents", tags=["ask"], dependencies=[Depends(require_role("viewer"))])


@router.get("")
def agents(session: SessionDep) -> list[dict[str, Any]]:
    """Every agent: name, title, goal, backstory, tools, llm, manager, enabled, version, updated_by, updated_at."""
    return [a.as_json() for a in list_agents(session=session)]
