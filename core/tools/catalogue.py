"""The one tool catalogue: CrewAI agents, the offline engine and MCP clients all reach Sophia through it."""

from __future__ import annotations

from core.auth import Identity
from core.tools import business, memory, records
from core.tools.base import Tool

CATALOGUE: dict[str, Tool] = {t.name: t for t in (*records.TOOLS, *business.TOOLS, *memory.TOOLS)}


def tools_for(identity: Identity, names: list[str] | None = None) -> list[Tool]:
    """The tools ``identity`` may call (of ``names``, when given), in catalogue order."""
    wanted = set(names) if names is not None else None
    return [t for t in CATALOGUE.values() if identity.can(t.role) and (wanted is None or t.name in wanted)]
