"""Memory as tools: recall what the caller (and this agent) was told before, store a fact for later. The scope is
always the caller's own user: a tool cannot name another user."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from core.tools.base import Tool, ToolArgs, ToolContext, ToolResult


class RecallArgs(ToolArgs):
    query: str = Field(description="What to remember about, in plain words.", min_length=1, max_length=500)
    limit: int = Field(5, ge=1, le=20)


def recall_memory(ctx: ToolContext, args: RecallArgs) -> ToolResult:
    from core.memory import search_memories

    found = search_memories(runtime=ctx.runtime, user=ctx.identity.username, query=args.query, limit=args.limit)
    if not found:
        return ToolResult(text="Nothing remembered about that.", data={"memories": []})
    lines = [f"- ({m.created_at:%Y-%m-%d}) {m.text}" for m in found]
    return ToolResult(text="Remembered:\n" + "\n".join(lines), data={"memories": [m.as_json() for m in found]})


class StoreArgs(ToolArgs):
    text: str = Field(description="The fact to remember, as one sentence.", min_length=3, max_length=2000)
    category: str | None = Field(None, description="A category, e.g. decision, preference, account.", max_length=64)
    expires_on: date | None = Field(None, description="Forget it after this day.")


def store_memory(ctx: ToolContext, args: StoreArgs) -> ToolResult:
    from core.memory import add_memory

    item = add_memory(
        runtime=ctx.runtime,
        user=ctx.identity.username,
        text=args.text,
        agent=ctx.agent if ctx.agent != "sophia" else None,
        conversation=ctx.conversation_id,
        category=args.category,
        expires_on=args.expires_on,
        actor=ctx.identity.actor,
    )
    return ToolResult(text=f"Remembered: {item.text}", data={"memory": item.as_json()})


TOOLS = [
    Tool(
        "recall_memory",
        "Recall facts this user told Sophia before (decisions, preferences, context), most relevant first.",
        RecallArgs,
        "viewer",
        recall_memory,
    ),
    Tool(
        "store_memory",
        "Remember a fact for this user's later conversations (only what the user asked to remember).",
        StoreArgs,
        "viewer",
        store_memory,
    ),
]
