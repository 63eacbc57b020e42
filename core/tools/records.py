"""Tools over documents and records (search, one record), insights (list, explain, acknowledge) and the writes
an agent may propose (acknowledge an insight, post to Slack, create a CRM task)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import Field

from core.audit import audit
from core.db.models import SEVERITIES
from core.errors import ConfigError, InvalidInput, SophiaError
from core.insights.service import InsightFilters, acknowledge, get_insight, list_insights
from core.records import RECORD_TABLES, get_record
from core.tools.base import Citation, Tool, ToolArgs, ToolContext, ToolResult
from core.tools.lookup import find_account

# ---- search and records ------------------------------------------------------------------------------------------


class SearchArgs(ToolArgs):
    query: str = Field(description="What to look for, in plain words.", min_length=1, max_length=500)
    limit: int = Field(6, ge=1, le=20)
    source: str | None = Field(None, description="Only this source: gong, slack, hubspot, salesforce, netsuite ...")
    account: str | None = Field(None, description="Only records of this account (name or id).", max_length=255)


def search_records(ctx: ToolContext, args: SearchArgs) -> ToolResult:
    from core.search.backends.registry import query_backend
    from core.search.embeddings import make_embedder
    from core.search.service import SearchFilters, search

    settings = ctx.runtime.settings
    account_id = None
    if args.account:  # a name or an external id, like every other tool (search's own filter takes row ids)
        with ctx.runtime.session() as session:
            account_id = find_account(session, args.account).id
    backend = ctx.service("vector_backend", lambda: query_backend(settings))
    embedder = ctx.service("embedder", lambda: make_embedder(settings, threads=1))
    response = search(
        runtime=ctx.runtime,
        embedder=embedder,
        backend=backend,
        identity=ctx.identity,
        query=args.query,
        limit=args.limit,
        filters=SearchFilters(source=args.source, account=account_id),
    )
    hits = response.results
    if not hits:
        return ToolResult(text=f"Nothing found for {args.query!r}.", data={"hits": []})
    lines = [f"{len(hits)} results for {args.query!r}:"]
    lines += [f"- [{h.source} {h.type}] {h.title}: {h.snippet}" for h in hits]
    cites = [Citation(_table(h.type), h.external_id, h.title, int(h.doc_id)) for h in hits]
    data = {"hits": [h.as_json() | {"external_id": h.external_id, "account": h.account} for h in hits]}
    return ToolResult(text="\n".join(lines), data=data, citations=cites)


def _table(doc_type: str) -> str:
    """A search document's type to its record table (``call`` -> ``calls``); files stay ``documents``."""
    plural = {"call": "calls", "slack_thread": "slack_messages", "email": "activities", "meeting": "activities"}
    plural |= {"note": "activities", "task": "activities", "deal": "deals", "account": "accounts"}
    plural |= {"invoice": "invoices", "contact": "contacts", "review": "reviews", "goal": "goals"}
    plural |= {"job_change": "job_changes", "prospect": "prospects", "employee": "employees"}
    return plural.get(doc_type, "documents")


class RecordArgs(ToolArgs):
    table: Literal[tuple(sorted(RECORD_TABLES))] = Field(description="The record's table.")  # type: ignore[valid-type]
    external_id: str = Field(description="The record's id in its source.", max_length=191)


def read_record(ctx: ToolContext, args: RecordArgs) -> ToolResult:
    with ctx.runtime.session() as session:
        view = get_record(session=session, identity=ctx.identity, table=args.table, external_id=args.external_id)
    shown = {k: v for k, v in view.fields.items() if v not in (None, "", [], {})}
    text = f"{view.title} ({view.source})" + (f", account {view.account_name}" if view.account_name else "") + ":\n"
    text += "\n".join(f"- {k}: {v}" for k, v in shown.items())
    return ToolResult(
        text=text,
        data={"fields": {k: str(v) for k, v in shown.items()}},
        citations=[Citation(view.table, view.external_id, view.title, view.doc_id)],
    )


# ---- insights ----------------------------------------------------------------------------------------------------


class InsightListArgs(ToolArgs):
    type: str | None = Field(None, description="Only this insight type, e.g. deal_stalled, churn_risk.")
    account: str | None = Field(None, description="Only insights about this account (name or id).", max_length=255)
    severity: Literal[tuple(SEVERITIES)] | None = Field(None, description="Only this severity or worse.")  # type: ignore[valid-type]
    limit: int = Field(10, ge=1, le=50)


def insights_list(ctx: ToolContext, args: InsightListArgs) -> ToolResult:
    with ctx.runtime.session() as session:
        account = find_account(session, args.account).external_id if args.account else None
        filters = InsightFilters(type=args.type, account=account, severity=args.severity, status="open")
        rows, total = list_insights(
            session=session,
            identity=ctx.identity,
            filters=filters,
            now=ctx.runtime.clock.now(),
            limit=args.limit,
            offset=0,
        )
        if not rows:
            return ToolResult(text="No open insights match.", data={"items": [], "total": 0})
        lines = [f"{total} open insights" + (f" (the first {len(rows)})" if total > len(rows) else "") + ":"]
        lines += [f"- #{r.id} [{r.severity}] {r.title}" for r in rows]
        cites = [Citation(r.subject_table, r.subject_external_id, r.subject_name) for r in rows]
        data = {"items": [{"id": r.id, "type": r.type, "severity": r.severity, "title": r.title} for r in rows]}
    return ToolResult(text="\n".join(lines), data=data | {"total": total}, citations=cites)


class InsightArgs(ToolArgs):
    insight_id: int = Field(description="The insight's number.", ge=1, le=2**62)


def insight_explain(ctx: ToolContext, args: InsightArgs) -> ToolResult:
    with ctx.runtime.session() as session:
        row = get_insight(session=session, identity=ctx.identity, insight_id=args.insight_id)
        lines = [f"#{row.id} [{row.severity}, {row.status}] {row.title}"] + [f"- {r}" for r in row.reasons]
        cites = [Citation(row.subject_table, row.subject_external_id, row.subject_name)]
        cites += [
            Citation(e["table"], str(e["external_id"]), e.get("label") or str(e["external_id"]), e.get("doc_id"))
            for e in row.evidence
            if isinstance(e, dict) and e.get("table") and e.get("external_id")
        ]
    return ToolResult(
        text="\n".join(lines), data={"id": args.insight_id, "reasons": list(row.reasons)}, citations=cites
    )


def insight_acknowledge(ctx: ToolContext, args: InsightArgs) -> ToolResult:
    with ctx.runtime.session() as session:
        row = acknowledge(
            session=session, identity=ctx.identity, insight_id=args.insight_id, now=ctx.runtime.clock.now()
        )
        title = row.title
        session.commit()
    return ToolResult(text=f"Acknowledged insight #{args.insight_id}: {title}.", data={"id": args.insight_id})


# ---- writes to the outside: Slack and the CRM --------------------------------------------------------------------


class SlackArgs(ToolArgs):
    channel: str = Field(description="The Slack channel, e.g. #revenue-ops, or a channel id.", max_length=80)
    text: str = Field(description="The message.", min_length=1, max_length=3000)


def slack_post(ctx: ToolContext, args: SlackArgs) -> ToolResult:
    from core.notify.slack import call, make_client, resolve_token

    token = resolve_token(ctx.runtime.settings)
    if not token:
        raise ConfigError("Slack is not configured: set SOPHIA_SLACK_BOT_TOKEN")
    client = make_client(ctx.runtime.settings, token)
    result, data = call(client, ctx.runtime.clock, "chat_postMessage", channel=args.channel, text=args.text)
    if not result.ok:
        raise SophiaError(f"Slack refused the message: {result.error or result.kind}", code="slack_failed")
    return ToolResult(text=f"Posted to {args.channel}.", data={"channel": args.channel, "ts": data.get("ts")})


class TaskArgs(ToolArgs):
    account: str = Field(description="The account the task is about (name or id).", max_length=255)
    subject: str = Field(description="What to do.", min_length=3, max_length=300)
    due_in_days: int = Field(7, ge=0, le=365, description="Due in this many days.")
    owner: str | None = Field(None, description="Who should do it (email); the account owner by default.")


def crm_task(ctx: ToolContext, args: TaskArgs) -> ToolResult:
    """A task recorded in Sophia's own activity stream (source ``sophia``), linked to the account; it shows on
    the account page and in search like the CRM's tasks."""
    from core.ingest import ingest_records

    with ctx.runtime.session() as session:
        acct = find_account(session, args.account)
        due: date = ctx.day.date() + timedelta(days=args.due_in_days)
        ext = f"task-{uuid.uuid4().hex[:12]}"
        record: dict[str, Any] = {
            "external_id": ext,
            "account_ref": {"source": acct.source, "external_id": acct.external_id},
            "type": "task",
            "subject": args.subject,
            "body": f"Due {due.isoformat()}. Created by Sophia for {ctx.identity.username}.",
            "occurred_at": ctx.runtime.clock.now(),
            "owner": args.owner or acct.owner,
            "status": "open",
        }
        result = ingest_records(session=session, source="sophia", entity="activities", records=[record])
        if result.failures:
            raise InvalidInput(f"the task was not created: {result.failures[0].error}")
        audit(
            session=session,
            actor=ctx.identity.actor,
            action="crm.task.create",
            target=ext,
            details=record | {"occurred_at": str(record["occurred_at"])},
        )
        session.commit()
    return ToolResult(
        text=f"Created task {args.subject!r} on {acct.name}, due {due:%Y-%m-%d}.",
        data={"external_id": ext, "account": acct.external_id},
        citations=[Citation("activities", ext, args.subject)],
    )


TOOLS = [
    Tool(
        "search",
        "Hybrid keyword and semantic search over everything Sophia holds: calls and transcripts, Slack threads, "
        "emails, notes, deals, invoices, documents. Use it for what was said or decided.",
        SearchArgs,
        "viewer",
        search_records,
    ),
    Tool("get_record", "One record in full, by its table and external id.", RecordArgs, "viewer", read_record),
    Tool(
        "insights_list",
        "The open insights (what needs attention), filtered by type, account or severity.",
        InsightListArgs,
        "viewer",
        insights_list,
    ),
    Tool(
        "insight_explain",
        "One insight's reasons, with the numbers and thresholds, and its evidence.",
        InsightArgs,
        "viewer",
        insight_explain,
    ),
    Tool(
        "insight_acknowledge",
        "Acknowledge an insight (a write: proposed, runs after the user approves).",
        InsightArgs,
        "analyst",
        insight_acknowledge,
        write=True,
        propose=lambda a: f"acknowledge insight #{a.insight_id}",
    ),
    Tool(
        "slack_post",
        "Post a message to a Slack channel (a write: proposed, runs after the user approves).",
        SlackArgs,
        "analyst",
        slack_post,
        write=True,
        propose=lambda a: f"post to {a.channel}: {a.text[:120]}",
    ),
    Tool(
        "crm_task",
        "Create a follow-up task on an account (a write: proposed, runs after the user approves).",
        TaskArgs,
        "analyst",
        crm_task,
        write=True,
        propose=lambda a: f"create task {a.subject!r} on {a.account}, due in {a.due_in_days} days",
    ),
]
