"""`sophia ask QUESTION`: Ask Sophia from the terminal, streamed as it is answered, or the whole answer as JSON
(``--json``: ``core.agents.ask.AskResult.as_json``, the contract the API's ``POST /api/v1/ask`` returns too).

It runs as a real user (``--user``, default the first admin): memory, conversations and the month's budget are
per user, so the CLI's own pseudo-identity would not do. Writes the agents propose are listed with their ids;
``--approve`` runs them at once, ``sophia actions approve ID`` later."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.markup import escape

from app.cli.common import err, open_product, out, print_json
from core.auth import Identity, get_user
from core.errors import InvalidInput
from core.runtime import Runtime

UserOpt = Annotated[
    str | None, typer.Option("--user", help="ask as this user (role, memory, budget); default the first admin")
]
actions_app = typer.Typer(help="Writes the agents proposed: approve (run it) or reject.")


def user_identity(runtime: Runtime, username: str | None) -> Identity:
    """``username`` (default the first admin, ``SOPHIA_ADMIN_USER``) as an identity: an active user only."""
    name = (username or runtime.settings.admin_user).strip()
    with runtime.session() as session:
        user = get_user(session=session, username=name)
        if not user.active:
            raise InvalidInput(f"user {user.username!r} is deactivated")
        return Identity(username=user.username, role=user.role, via="cli", token_version=user.token_version)


def ask(
    question: Annotated[str, typer.Argument(help="the question, in your own words")],
    agent: Annotated[str | None, typer.Option("--agent", help="ask this specialist alone")] = None,
    as_user: UserOpt = None,
    conversation: Annotated[
        str | None, typer.Option("--conversation", help="continue this conversation (its id)")
    ] = None,
    approve: Annotated[bool, typer.Option("--approve", help="run the writes the answer proposes")] = False,
    json_: Annotated[bool, typer.Option("--json", help="print the whole answer as JSON only")] = False,
) -> None:
    """Ask Sophia a question about the business; the answer cites the records it rests on."""
    from core.agents.ask import ask as ask_once
    from core.agents.ask import ask_stream

    rt = open_product(machine_output=json_)
    identity = user_identity(rt, as_user)
    if json_:
        result = ask_once(
            runtime=rt,
            identity=identity,
            question=question,
            agent=agent,
            conversation_id=conversation,
            approve=approve,
        )
        print_json(result.as_json())
        return
    events = ask_stream(
        runtime=rt, identity=identity, question=question, agent=agent, conversation_id=conversation, approve=approve
    )
    citations: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    for event in events:
        data = event.data
        if event.type == "delta":
            sys.stdout.write(data["text"])
            sys.stdout.flush()
        elif event.type == "agent":
            err.print(f"[dim]· {escape(str(data.get('agent')))} is answering[/dim]")
        elif event.type == "tool":
            err.print(f"[dim]  · {escape(_call_line(data))}[/dim]")
        elif event.type == "citation":
            citations.append(data)
        elif event.type == "action":
            actions.append(data)
        elif event.type == "end":
            sys.stdout.write("\n")
            _tail(citations, actions, data, approve=approve)


def _call_line(call: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in (call.get("args") or {}).items())
    return f"{call.get('agent')} → {call.get('tool')}({args}) {call.get('ms', 0):.0f} ms"


def _tail(
    citations: list[dict[str, Any]], actions: list[dict[str, Any]], end: dict[str, Any], *, approve: bool
) -> None:
    if citations:
        out.print("\nSources:")
        for i, c in enumerate(citations, 1):
            out.print(f"  [{i}] {escape(c['title'])}  {escape(c['url'])}")
    if actions:
        out.print("\nProposed actions:" if not approve else "\nActions:")
        for a in actions:
            out.print(f"  {a['id']}  {escape('[' + a['status'] + ']')} {escape(a.get('summary') or a['tool'])}")
        if any(a["status"] == "proposed" for a in actions):
            out.print(
                "  Run one with `sophia actions approve ID` (or `sophia actions reject ID`); --approve runs them all."
            )
    result = end.get("result")
    if result is not None:
        usage = end.get("usage") or {}
        tokens = int(usage.get("prompt_tokens", 0)) + int(usage.get("completion_tokens", 0))
        engine = "offline engine" if result.offline else "language model"
        err.print(
            f"[dim]{engine} · {tokens:,} tokens · ${float(usage.get('cost_usd', 0)):.4f} · "
            f"conversation {result.conversation_id} (continue with --conversation)[/dim]"
        )


@actions_app.command("approve")
def approve_(action_id: str, as_user: UserOpt = None, json_: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Run a write an agent proposed, as the user who asked (their role is checked again)."""
    from core.agents.actions import approve_action

    rt = open_product(machine_output=json_)
    item = approve_action(runtime=rt, identity=user_identity(rt, as_user), action_id=action_id)
    _said(item, json_)
    if item.status == "failed":
        raise typer.Exit(1)


@actions_app.command("reject")
def reject_(action_id: str, as_user: UserOpt = None, json_: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Refuse a write an agent proposed; it never runs."""
    from core.agents.actions import reject_action

    rt = open_product(machine_output=json_)
    _said(reject_action(runtime=rt, identity=user_identity(rt, as_user), action_id=action_id), json_)


def _said(item: Any, json_: bool) -> None:  # core.agents.actions.ActionItem
    if json_:
        print_json(item.as_json() | {"summary": item.summary, "result": item.result})
        return
    out.print(f"{item.id} {item.status}: {escape(item.summary)}")
    if item.result.get("text"):
        out.print(escape(str(item.result["text"])))
    if item.result.get("error"):
        err.print(f"error: {escape(str(item.result['error']))}")
