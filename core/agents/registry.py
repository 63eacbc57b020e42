"""The agent registry: each agent in the database (role, goal, instructions, tools, model settings, enabled),
every change a new version (who, when, what changed) that can be reverted. The seeded specialists are written
on first use; an admin edits them on the Agents page or with ``sophia agents edit``. Agents are never deleted,
only disabled, so every version stays readable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import audit
from core.db.models import Agent, AgentVersion
from core.errors import InvalidInput, NotFound

__all__ = [
    "EDITABLE",
    "SEED",
    "AgentSpec",
    "agent_spec",
    "agent_versions",
    "edit_agent",
    "ensure_agents",
    "get_agent",
    "list_agents",
    "revert_agent",
]

MEMORY_TOOLS = ["recall_memory", "store_memory"]

SEED: list[dict[str, Any]] = [
    {
        "name": "strategy",
        "title": "Strategy Lead",
        "manager": True,
        "goal": "Answer the question completely and correctly by delegating each part to the right specialist, "
        "then compose one answer that cites the records it rests on.",
        "backstory": "You lead PayReady's revenue operations analysis. You know which specialist knows what: "
        "the Sales Coach for calls and reps, Client Health for customer risk, Finance & Payments for invoices "
        "and rent payments, People for reviews and goals, Research for search, prospects and job changes. You "
        "never invent numbers: every figure comes from a specialist's tools.",
        "tools": [],
    },
    {
        "name": "sales_coach",
        "title": "Sales Coach",
        "goal": "Coach reps from their real calls: talk share, questions asked, sentiment, competitors, and the "
        "deals behind them.",
        "backstory": "A former top-performing account executive who reviews Gong calls every day. You quote the "
        "calls you base advice on and keep advice to what the numbers show.",
        "tools": ["call_analysis", "deal_pipeline", "search", "get_record", *MEMORY_TOOLS],
    },
    {
        "name": "client_health",
        "title": "Client Health Analyst",
        "goal": "Say which customers are healthy or at risk, and exactly why, from usage, payments, engagement "
        "and relationships.",
        "backstory": "You run customer success analytics for a payments company serving property managers. "
        "You explain health with the signals behind it and propose the next step.",
        "tools": [
            "account_overview",
            "account_risk",
            "insights_list",
            "insight_explain",
            "search",
            "get_record",
            "insight_acknowledge",
            "crm_task",
            *MEMORY_TOOLS,
        ],
    },
    {
        "name": "finance",
        "title": "Finance & Payments Analyst",
        "goal": "Report on invoices, rent payment volumes and failures, late payers and accounts stuck before "
        "going live.",
        "backstory": "You own PayReady's billing and payment operations data (NetSuite and the platform). You "
        "state amounts and dates exactly.",
        "tools": ["payment_metrics", "account_overview", "get_record", "search", *MEMORY_TOOLS],
    },
    {
        "name": "people",
        "title": "People Partner",
        "goal": "Summarise employees' reviews and goals for the managers allowed to see them.",
        "backstory": "An HR business partner who is careful with personal data and factual about performance.",
        "tools": ["people_overview", "search", *MEMORY_TOOLS],
    },
    {
        "name": "research",
        "title": "Research Analyst",
        "goal": "Find what was said, decided or changed: search across every source, prospects and buyers' job "
        "changes.",
        "backstory": "You are the team's researcher: you find the exact thread, call or note and quote it.",
        "tools": ["search", "research", "account_risk", "get_record", "slack_post", *MEMORY_TOOLS],
    },
]
SEED_BY_NAME = {a["name"]: a for a in SEED}

#: what ``edit`` may change: field -> kind
EDITABLE = {
    "title": "text",
    "goal": "text",
    "backstory": "text",
    "tools": "tools",
    "enabled": "bool",
    "llm.model": "text",
    "llm.temperature": "float",
    "llm.max_tokens": "int",
}
MAX_TEXT = 4000


@dataclass(frozen=True)
class AgentSpec:
    """An agent as the engines use it (a plain value: no session needed)."""

    name: str
    title: str
    goal: str
    backstory: str
    tools: tuple[str, ...]
    llm: dict[str, Any]
    manager: bool
    enabled: bool
    version: int
    updated_by: str
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "goal": self.goal,
            "backstory": self.backstory,
            "tools": list(self.tools),
            "llm": dict(self.llm),
            "manager": self.manager,
            "enabled": self.enabled,
            "version": self.version,
            "updated_by": self.updated_by,
            "updated_at": self.updated_at.isoformat(),
        }


def agent_spec(row: Agent) -> AgentSpec:
    return AgentSpec(
        name=row.name,
        title=row.title,
        goal=row.goal,
        backstory=row.backstory,
        tools=tuple(str(t) for t in row.tools or []),
        llm=dict(row.llm or {}),
        manager=row.manager,
        enabled=row.enabled,
        version=row.version,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


def _snapshot(row: Agent) -> dict[str, Any]:
    return {k: v for k, v in agent_spec(row).as_json().items() if k not in ("version", "updated_by", "updated_at")}


def ensure_agents(session: Session) -> None:
    """Write the seeded agents that are not in the database yet (version 1 each)."""
    have = set(session.scalars(select(Agent.name)))
    for seed in SEED:
        if seed["name"] in have:
            continue
        row = Agent(
            name=seed["name"],
            title=seed["title"],
            goal=seed["goal"],
            backstory=seed["backstory"],
            tools=list(seed["tools"]),
            llm={},
            manager=bool(seed.get("manager")),
            enabled=True,
            version=1,
            updated_by="system",
        )
        session.add(row)
        session.flush()
        session.add(
            AgentVersion(
                agent_id=row.id, version=1, snapshot=_snapshot(row), changed=[], changed_by="system", note="seeded"
            )
        )
    session.flush()


def list_agents(*, session: Session, enabled_only: bool = False) -> list[AgentSpec]:
    ensure_agents(session)
    q = select(Agent).order_by(Agent.manager.desc(), Agent.name)
    if enabled_only:
        q = q.where(Agent.enabled.is_(True))
    return [agent_spec(r) for r in session.scalars(q)]


def _row(session: Session, name: str) -> Agent:
    ensure_agents(session)
    row = session.scalars(select(Agent).where(Agent.name == name.strip().lower())).first()
    if row is None:
        known = ", ".join(session.scalars(select(Agent.name).order_by(Agent.name)))
        raise NotFound(f"no agent named {name!r}; the agents are: {known}")
    return row


def get_agent(*, session: Session, name: str) -> AgentSpec:
    return agent_spec(_row(session, name))


def _parse(field: str, value: str) -> Any:
    kind = EDITABLE.get(field)
    if kind is None:
        raise InvalidInput(f"cannot edit {field!r}; editable: {', '.join(EDITABLE)}")
    value = value.strip()
    if kind == "text":
        if not value and field != "llm.model":
            raise InvalidInput(f"{field} cannot be empty")
        if len(value) > MAX_TEXT:
            raise InvalidInput(f"{field} is longer than {MAX_TEXT} characters")
        return value
    if kind == "bool":
        if value.lower() in ("true", "yes", "1", "on"):
            return True
        if value.lower() in ("false", "no", "0", "off"):
            return False
        raise InvalidInput(f"{field} takes true or false, not {value!r}")
    if kind == "tools":
        from core.tools.catalogue import CATALOGUE

        names = [t.strip() for t in value.split(",") if t.strip()]
        unknown = [t for t in names if t not in CATALOGUE]
        if unknown:
            raise InvalidInput(f"unknown tool(s) {', '.join(unknown)}; the catalogue has: {', '.join(CATALOGUE)}")
        return list(dict.fromkeys(names))
    try:
        number: float = float(value) if kind == "float" else int(value)
    except ValueError:
        raise InvalidInput(f"{field} takes a number, not {value!r}") from None
    if field == "llm.temperature" and not 0 <= number <= 2:
        raise InvalidInput("llm.temperature must be between 0 and 2")
    if field == "llm.max_tokens" and not 1 <= number <= 200_000:
        raise InvalidInput("llm.max_tokens must be between 1 and 200000")
    return number


def edit_agent(
    *, session: Session, name: str, changes: dict[str, str], actor: str, note: str | None = None
) -> AgentSpec:
    """Apply ``field -> text value`` changes (all checked first; none applied if one is bad) as a new version."""
    if not changes:
        raise InvalidInput("nothing to change: give KEY=VALUE pairs")
    row = _row(session, name)
    parsed = {f: _parse(f, v) for f, v in changes.items()}
    llm = dict(row.llm or {})
    changed = []
    for field, value in parsed.items():
        if field.startswith("llm."):
            key = field.removeprefix("llm.")
            if llm.get(key) != value:
                llm[key] = value
                changed.append(field)
            if key == "model" and not value:
                llm.pop("model", None)
        elif getattr(row, field) != value:
            setattr(row, field, value)
            changed.append(field)
    if not changed:
        return agent_spec(row)
    if row.manager and parsed.get("enabled") is False:
        raise InvalidInput("the manager cannot be disabled: it composes every crew answer")
    row.llm = llm
    return _new_version(session, row, changed, actor, note)


def _new_version(session: Session, row: Agent, changed: list[str], actor: str, note: str | None) -> AgentSpec:
    row.version += 1
    row.updated_by = actor
    session.add(
        AgentVersion(
            agent_id=row.id, version=row.version, snapshot=_snapshot(row), changed=changed, changed_by=actor, note=note
        )
    )
    audit(
        session=session,
        actor=actor,
        action="agent.edit",
        target=row.name,
        details={"version": row.version, "changed": changed},
    )
    session.flush()
    return agent_spec(row)


@dataclass(frozen=True)
class VersionItem:
    version: int
    changed: list[str]
    changed_by: str
    changed_at: datetime
    note: str | None
    snapshot: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "changed": self.changed,
            "changed_by": self.changed_by,
            "changed_at": self.changed_at.isoformat(),
            "note": self.note,
        }


def agent_versions(*, session: Session, name: str) -> list[VersionItem]:
    """Newest first."""
    row = _row(session, name)
    rows = session.scalars(
        select(AgentVersion).where(AgentVersion.agent_id == row.id).order_by(AgentVersion.version.desc())
    )
    return [
        VersionItem(v.version, list(v.changed or []), v.changed_by, v.changed_at, v.note, dict(v.snapshot))
        for v in rows
    ]


def revert_agent(*, session: Session, name: str, version: int, actor: str) -> AgentSpec:
    """Make the agent what it was at ``version``, as a new version (history is never rewritten)."""
    row = _row(session, name)
    old = session.scalars(
        select(AgentVersion).where(AgentVersion.agent_id == row.id, AgentVersion.version == version)
    ).first()
    if old is None:
        raise NotFound(f"agent {row.name} has no version {version}")
    snap = old.snapshot
    changed: list[str] = []
    for field in ("title", "goal", "backstory", "tools", "llm", "enabled"):
        if field in snap and getattr(row, field) != snap[field]:
            setattr(row, field, snap[field])
            changed.append(field)
    if not changed:
        return agent_spec(row)
    return _new_version(session, row, changed, actor, f"reverted to version {version}")
