"""What a tool is, what it returns, and the one door every call goes through (``ToolContext.call``).

A tool is a typed function: pydantic arguments (their JSON schema is what a model or an MCP client sees), a
description written for a model, the least role it needs, and a result that carries its citations (the
records it read). A tool marked ``write`` changes something: called by an agent it only *proposes*; it runs
when the person who asked approves it (``core.agents.actions``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import time as dtime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, ValidationError

from core.auth import Identity
from core.errors import Forbidden, InvalidInput, NotFound
from core.observability.logging import get_logger

if TYPE_CHECKING:
    from core.runtime import Runtime

log = get_logger(__name__)

__all__ = ["Citation", "Proposal", "Tool", "ToolArgs", "ToolCall", "ToolContext", "ToolResult"]


class ToolArgs(BaseModel):
    """Arguments of a tool: unknown keys are refused, so a model's typo is an error it can read, not a no-op."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Citation:
    """A record an answer rests on; it opens the record's page in Sophia."""

    table: str
    external_id: str
    title: str
    doc_id: int | None = None

    def path(self) -> str:
        """Sophia's page for it, relative to the app's address."""
        if self.table == "accounts":
            return "account?" + urlencode({"account": self.external_id})
        if self.doc_id is not None:
            return "record?" + urlencode({"doc": self.doc_id})
        return "record?" + urlencode({"table": self.table, "id": self.external_id})

    def as_json(self, public_url: str = "") -> dict[str, Any]:
        return {
            "doc_id": str(self.doc_id) if self.doc_id is not None else None,
            "table": self.table,
            "external_id": self.external_id,
            "title": self.title,
            "url": f"{public_url.rstrip('/')}/{self.path()}" if public_url else self.path(),
        }


@dataclass
class ToolResult:
    """``text``: what the tool found, in sentences with the numbers (what a model reads); ``data``: the same as
    structured values (what the offline engine composes from); ``citations``: the records behind it."""

    text: str
    data: dict[str, Any] = field(default_factory=dict)
    citations: list[Citation] = field(default_factory=list)


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args: type[ToolArgs]
    role: str  # the least role that may call it
    run: Callable[[ToolContext, Any], ToolResult]
    write: bool = False
    #: a write's one-line description for the approval prompt, from its arguments
    propose: Callable[[Any], str] | None = None

    def schema(self) -> dict[str, Any]:
        """The JSON schema of the arguments (for a model's function calling and for MCP)."""
        return self.args.model_json_schema()

    def parse(self, raw: dict[str, Any] | ToolArgs) -> ToolArgs:
        if isinstance(raw, self.args):
            return raw
        try:
            return self.args.model_validate(raw if isinstance(raw, dict) else dict(raw))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'args'}: {e['msg']}" for e in exc.errors())
            raise InvalidInput(f"tool {self.name}: {problems}") from exc


@dataclass(frozen=True)
class ToolCall:
    agent: str
    tool: str
    args: dict[str, Any]
    ms: float
    ok: bool = True
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"agent": self.agent, "tool": self.tool, "args": self.args, "ms": self.ms}


@dataclass(frozen=True)
class Proposal:
    """A write an agent asked for; stored by the ask as a ``proposed_actions`` row."""

    agent: str
    tool: str
    args: dict[str, Any]
    summary: str


@dataclass
class ToolContext:
    """One caller's use of the catalogue: who (their role decides which tools exist for them), when, and the
    log of what ran: calls, citations (in order, once each) and proposed writes. ``on_call`` hears each call
    as it finishes (the chat streams it)."""

    runtime: Runtime
    identity: Identity
    agent: str = "sophia"
    conversation_id: str | None = None
    now: datetime | None = None
    allowed: frozenset[str] | None = None  # the agent's own tools; None: every tool the role allows
    calls: list[ToolCall] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    proposals: list[Proposal] = field(default_factory=list)
    on_call: Callable[[ToolCall, ToolResult | None], None] | None = None
    _services: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.now is None:
            self.now = self.runtime.clock.now()

    @property
    def day(self) -> datetime:
        """The start of today (UTC): what detectors measure from."""
        assert self.now is not None
        return datetime.combine(self.now.astimezone(UTC).date(), dtime(0), tzinfo=UTC)

    def for_agent(self, agent: str, allowed: frozenset[str] | None) -> ToolContext:
        """The same log and caller, seen as another agent with its own tools."""
        return ToolContext(
            runtime=self.runtime,
            identity=self.identity,
            agent=agent,
            conversation_id=self.conversation_id,
            now=self.now,
            allowed=allowed,
            calls=self.calls,
            citations=self.citations,
            proposals=self.proposals,
            on_call=self.on_call,
            _services=self._services,
        )

    def service(self, name: str, make: Callable[[], Any]) -> Any:
        """A shared helper (embedder, vector backend) made once per context."""
        if name not in self._services:
            self._services[name] = make()
        return self._services[name]

    def close(self) -> None:
        for svc in self._services.values():
            closer = getattr(svc, "close", None)
            if callable(closer):
                try:
                    closer()
                except Exception:  # noqa: BLE001 - closing a helper must not hide the answer
                    log.warning("tool service close failed", exc_info=True)
        self._services.clear()

    def cite(self, citations: list[Citation]) -> None:
        seen = {(c.table, c.external_id) for c in self.citations}
        for c in citations:
            if (c.table, c.external_id) not in seen:
                seen.add((c.table, c.external_id))
                self.citations.append(c)

    def visible(self, tool: Tool) -> bool:
        return self.identity.can(tool.role) and (self.allowed is None or tool.name in self.allowed)

    def call(self, name: str, raw_args: dict[str, Any] | ToolArgs | None = None) -> ToolResult:
        """Run a tool as this caller: the role (and the agent's tool list) checked here, whoever asks."""
        from core.tools.catalogue import CATALOGUE

        tool = CATALOGUE.get(name)
        if tool is None:
            raise NotFound(f"no tool named {name!r}")
        if not self.visible(tool):
            raise Forbidden(f"tool {name} is not available to {self.identity.username} ({self.identity.role})")
        args = tool.parse(raw_args or {})
        shown = args.model_dump(mode="json", exclude_none=True)
        started = time.perf_counter()
        if tool.write:
            summary = tool.propose(args) if tool.propose else f"{name} {shown}"
            self.proposals.append(Proposal(agent=self.agent, tool=name, args=shown, summary=summary))
            result = ToolResult(text=f"Proposed, not done: {summary}. It runs when the user approves it.")
            self._log(ToolCall(self.agent, name, shown, _ms(started)), result)
            return result
        try:
            result = tool.run(self, args)
        except Exception as exc:
            self._log(ToolCall(self.agent, name, shown, _ms(started), ok=False, error=str(exc)[:300]), None)
            raise
        result.citations = self._permitted(result.citations)
        self.cite(result.citations)
        self._log(ToolCall(self.agent, name, shown, _ms(started)), result)
        return result

    def _permitted(self, citations: list[Citation]) -> list[Citation]:
        """Drop what the caller's role may not open (a record table's role, a document's role), whichever tool
        produced it: the one place that keeps a viewer's answer free of citations above the viewer."""
        from sqlalchemy import select

        from core.db.models import Document
        from core.records import RECORD_TABLES

        table_ok = [
            c for c in citations if c.table not in RECORD_TABLES or self.identity.can(RECORD_TABLES[c.table].min_role)
        ]
        docs = {c.doc_id for c in table_ok if c.doc_id is not None}
        if not docs:
            return table_ok
        with self.runtime.session() as session:
            roles = dict(session.execute(select(Document.id, Document.min_role).where(Document.id.in_(docs))).all())
        return [c for c in table_ok if c.doc_id is None or self.identity.can(roles.get(c.doc_id, "admin"))]

    def _log(self, call: ToolCall, result: ToolResult | None) -> None:
        self.calls.append(call)
        if self.on_call is not None:
            self.on_call(call, result)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
