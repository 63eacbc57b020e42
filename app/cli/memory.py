"""`sophia memory ...`: what the agents remember of each user: add, search, list, forget (for good)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from app.cli.common import CLI_ACTOR, open_product, out, print_json
from core.errors import InvalidInput

if TYPE_CHECKING:
    from core.memory import MemoryItem

memory_app = typer.Typer(help="What the agents remember of each user: add, search, list, forget (for good).")
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON only")]
UserOpt = Annotated[str, typer.Option("--user", help="whose memories (a Sophia user)")]
AgentOpt = Annotated[str | None, typer.Option("--agent", help="one agent's (with the user's shared ones)")]


@memory_app.command("add")
def add(
    text: Annotated[str, typer.Argument(help="what to remember")],
    user: UserOpt,
    agent: Annotated[str | None, typer.Option("--agent", help="only this agent recalls it")] = None,
    category: Annotated[str | None, typer.Option("--category", help="e.g. preference, fact, task")] = None,
    expires: Annotated[str | None, typer.Option("--expires", help="forget it after this day (YYYY-MM-DD)")] = None,
    json_: JsonOpt = False,
) -> None:
    """Remember a fact for a user (and one agent)."""
    from core.memory import add_memory

    expires_on = _day(expires, "--expires") if expires else None
    rt = open_product(machine_output=json_)
    item = add_memory(
        runtime=rt, user=user, text=text, agent=agent, category=category, expires_on=expires_on, actor=CLI_ACTOR
    )
    if json_:
        print_json(item.as_json())
    else:
        out.print(f"Remembered for {escape(user)}: {item.id}")


@memory_app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="what to recall")],
    user: UserOpt,
    agent: AgentOpt = None,
    limit: Annotated[int, typer.Option("--limit", help="at most this many", min=1, max=100)] = 5,
    json_: JsonOpt = False,
) -> None:
    """The user's memories closest to the query (as an agent recalls them: this stamps them recalled)."""
    from core.memory import search_memories

    rt = open_product(machine_output=json_)
    items = search_memories(runtime=rt, user=user, query=query, agent=agent, limit=limit)
    if json_:
        print_json([i.as_json() for i in items])
    elif not items:
        out.print("Nothing recalled.")
    else:
        out.print(_table(items, scores=True))


@memory_app.command("list")
def list_(user: UserOpt, agent: AgentOpt = None, json_: JsonOpt = False) -> None:
    """Every memory of the user that has not expired, newest first."""
    from core.memory import list_memories

    rt = open_product(machine_output=json_)
    items = list_memories(runtime=rt, user=user, agent=agent)
    if json_:
        print_json([i.as_json() for i in items])
    elif not items:
        out.print(f"No memories of {escape(user)}.")
    else:
        out.print(_table(items, scores=False))


@memory_app.command("forget")
def forget(
    memory_id: Annotated[str | None, typer.Argument(metavar="[ID]", help="the memory to forget")] = None,
    user: Annotated[str | None, typer.Option("--user", help="whose memories (with --all: every one)")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every memory of --user")] = False,
    agent: Annotated[str | None, typer.Option("--agent", help="with --all: only this agent's own")] = None,
    json_: JsonOpt = False,
) -> None:
    """Forget for good: one memory by id, or every memory of a user (--user U --all)."""
    from core.memory import forget_all, forget_memory

    if memory_id and all_:
        raise InvalidInput("name a memory id or use --all, not both")
    if all_ and not user:
        raise InvalidInput("--all needs --user")
    if not memory_id and not all_:
        raise InvalidInput("name a memory id, or --user U --all")
    if agent and not all_:
        raise InvalidInput("--agent goes with --all")
    rt = open_product(machine_output=json_)
    if memory_id:
        forget_memory(runtime=rt, memory_id=memory_id, user=user, actor=CLI_ACTOR)
        deleted = 1
    else:
        assert user is not None
        deleted = forget_all(runtime=rt, user=user, agent=agent, actor=CLI_ACTOR)
    if json_:
        print_json({"deleted": deleted})
    else:
        out.print(f"Forgot {deleted} {'memory' if deleted == 1 else 'memories'}.")


def _table(items: list[MemoryItem], *, scores: bool) -> Table:
    """One row per memory: its text over its id (what ``forget`` takes), then its scope and use."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_lines=True)
    table.add_column("memory / id", overflow="fold", ratio=2, min_width=38)
    if scores:
        table.add_column("score", justify="right", no_wrap=True)
    table.add_column("scope / recalled", overflow="fold", ratio=1)
    for i in items:
        scope = [i.agent or "shared", *([i.category] if i.category else [])]
        scope += [f"conversation {i.conversation}"] if i.conversation else []
        scope += [f"until {i.expires_on}"] if i.expires_on else []
        used = f"{i.recall_count}x, last {i.last_recalled_at:%Y-%m-%d}" if i.last_recalled_at else "never"
        score = [f"{i.score:.2f}" if i.score is not None else ""] if scores else []
        table.add_row(f"{escape(i.text)}\n[dim]{i.id}[/dim]", *score, f"{escape(', '.join(scope))}\n[dim]{used}[/dim]")
    return table


def _day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{what}: {value!r} is not a date (YYYY-MM-DD)") from None
