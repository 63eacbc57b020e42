"""`sophia agents ...`: the agent registry (``core.agents.registry``): list, show, edit (a new version, audited),
the version history and revert. Editing is for admins: the CLI itself, or ``--user`` an admin."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from app.cli.common import cli_identity, open_product, out, print_json
from core.auth import require_role
from core.errors import InvalidInput

agents_app = typer.Typer(help="The agents that answer questions: list, show, edit, versions, revert.")
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON only")]
UserOpt = Annotated[
    str | None, typer.Option("--user", help="act as this admin (the audit names them); default the CLI")
]


@agents_app.command("list")
def list_(json_: JsonOpt = False) -> None:
    """Every agent: the manager first, then the specialists by name."""
    from core.agents.registry import list_agents

    rt = open_product(machine_output=json_)
    with rt.session() as session:
        agents = list_agents(session=session)
    if json_:
        print_json([a.as_json() for a in agents])
        return
    for a in agents:
        state = "enabled " if a.enabled else "[yellow]disabled[/yellow]"
        kind = "manager" if a.manager else f"{len(a.tools)} tools"
        out.print(f"{a.name:<14} {state}  v{a.version:<3} {escape(a.title):<28} [dim]{kind}[/dim]")


@agents_app.command("show")
def show(name: str, json_: JsonOpt = False) -> None:
    """One agent: title, goal, backstory, tools, model settings, version."""
    from core.agents.registry import get_agent

    rt = open_product(machine_output=json_)
    with rt.session() as session:
        agent = get_agent(session=session, name=name)
    if json_:
        print_json(agent.as_json())
        return
    out.print(f"[bold]{escape(agent.title)}[/bold] ({agent.name}) · version {agent.version}")
    out.print(f"  enabled: {'yes' if agent.enabled else 'no'}{' · manager' if agent.manager else ''}")
    out.print(f"  goal: {escape(agent.goal)}")
    out.print(f"  backstory: {escape(agent.backstory)}")
    out.print(f"  tools: {', '.join(agent.tools) or '(none: it delegates)'}")
    llm = ", ".join(f"{k}={v}" for k, v in agent.llm.items()) or "the defaults (SOPHIA_LLM_MODEL)"
    out.print(f"  model: {escape(llm)}")
    out.print(f"  [dim]last changed by {escape(agent.updated_by)} at {agent.updated_at:%Y-%m-%d %H:%M} UTC[/dim]")


def _pairs(values: list[str]) -> dict[str, str]:
    changes: dict[str, str] = {}
    for raw in values:
        key, sep, value = raw.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"--set takes KEY=VALUE, not {raw!r}")
        if key.strip() in changes:
            raise InvalidInput(f"--set {key.strip()} is given twice")
        changes[key.strip()] = value
    return changes


@agents_app.command("edit")
def edit(
    name: str,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="KEY=VALUE (repeatable): title, goal, backstory, tools (comma list), enabled, "
            "llm.model, llm.temperature, llm.max_tokens",
        ),
    ] = None,
    note: Annotated[str | None, typer.Option(help="why (kept with the version)")] = None,
    as_user: UserOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Change an agent: every change is a new version (who, when, what), audited."""
    from core.agents.registry import edit_agent, get_agent

    if not set_:
        raise InvalidInput("give at least one --set KEY=VALUE")
    changes = _pairs(set_)
    rt = open_product(machine_output=json_)
    identity = cli_identity(rt, as_user)
    require_role(identity, "admin")
    with rt.session() as session:
        before = get_agent(session=session, name=name).version
        agent = edit_agent(session=session, name=name, changes=changes, actor=identity.actor, note=note)
    if json_:
        print_json(agent.as_json())
    elif agent.version == before:
        out.print(f"{agent.name}: nothing changed (still version {agent.version}).")
    else:
        out.print(f"{agent.name} is now version {agent.version}.")


@agents_app.command("versions")
def versions(name: str, json_: JsonOpt = False) -> None:
    """An agent's versions, newest first: who changed what, when."""
    from core.agents.registry import agent_versions

    rt = open_product(machine_output=json_)
    with rt.session() as session:
        items = agent_versions(session=session, name=name)
    if json_:
        print_json([v.as_json() for v in items])
        return
    for v in items:
        what = ", ".join(v.changed) or "-"
        why = f"  [dim]{escape(v.note)}[/dim]" if v.note else ""
        out.print(f"v{v.version:<4} {v.changed_at:%Y-%m-%d %H:%M}  {escape(v.changed_by):<12} {escape(what)}{why}")


@agents_app.command("revert")
def revert(
    name: str,
    version: Annotated[int, typer.Option("--version", help="make the agent what it was at this version", min=1)],
    as_user: UserOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Make an agent what it was at a version, as a new version (the history stays)."""
    from core.agents.registry import revert_agent

    rt = open_product(machine_output=json_)
    identity = cli_identity(rt, as_user)
    require_role(identity, "admin")
    with rt.session() as session:
        agent = revert_agent(session=session, name=name, version=version, actor=identity.actor)
    if json_:
        print_json(agent.as_json())
    else:
        out.print(f"{agent.name} is now version {agent.version} (as at version {version}).")
