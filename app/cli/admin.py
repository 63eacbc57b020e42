"""`sophia users ...` and `sophia api-keys ...`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from app.cli.common import CLI_ACTOR, err, open_product, out, print_json
from core import auth
from core.errors import InvalidInput

users_app = typer.Typer(help="Manage users and their roles.", no_args_is_help=True)
keys_app = typer.Typer(help="Create and revoke API keys for the sidecar API.", no_args_is_help=True)

RoleOpt = Annotated[str, typer.Option("--role", help="admin, analyst or viewer")]


def _ask_password() -> str:
    if not sys.stdin.isatty():
        raise InvalidInput("no password given: use --password when there is no terminal to prompt on")
    try:
        return typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    except typer.Abort:
        raise InvalidInput("no password given (use --password when there is no terminal)") from None


@users_app.command("add")
def users_add(
    username: str,
    role: RoleOpt,
    password: Annotated[str | None, typer.Option(help="prompted for when absent")] = None,
    name: Annotated[str | None, typer.Option(help="display name")] = None,
    email: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Add a user with a role."""
    rt = open_product()
    if role not in auth.ROLES:
        raise InvalidInput(f"unknown role {role!r}; expected one of {', '.join(auth.ROLES)}")
    password = password if password is not None else _ask_password()
    with rt.session() as session:
        user = auth.create_user(
            session=session,
            username=username,
            role=role,
            password=password,
            actor=CLI_ACTOR,
            display_name=name,
            email=email,
        )
    out.print(f"Added {user.username} ({user.role})")


@users_app.command("list")
def users_list(json_: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """List users and their roles."""
    rt = open_product(machine_output=json_)
    with rt.session() as session:
        users = auth.list_users(session=session)
    rows = [
        {
            "username": u.username,
            "display_name": u.display_name,
            "role": u.role,
            "active": u.active,
            "created_at": u.created_at.isoformat(),
            "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
        }
        for u in users
    ]
    if json_:
        print_json(rows)
        return
    for r in rows:
        out.print(f"{r['username']:<24} {r['role']:<8} {'active' if r['active'] else 'disabled'}")


@users_app.command("set-role")
def users_set_role(username: str, role: str) -> None:
    """Change a user's role."""
    rt = open_product()
    with rt.session() as session:
        user = auth.set_role(session=session, username=username, role=role, actor=CLI_ACTOR)
    out.print(f"{user.username} is now {user.role}")


@users_app.command("set-password")
def users_set_password(
    username: str, password: Annotated[str | None, typer.Option(help="prompted for when absent")] = None
) -> None:
    """Set a user's password."""
    rt = open_product()
    password = password if password is not None else _ask_password()
    with rt.session() as session:
        auth.set_password(session=session, username=username, password=password, actor=CLI_ACTOR)
    out.print(f"Password of {username} changed")


@keys_app.command("create")
def keys_create(
    user: Annotated[str, typer.Option("--user", help="the user the key acts as")],
    name: Annotated[str, typer.Option("--name", help="a label to recognise it by")] = "",
) -> None:
    """Create an API key. The key is printed alone on the last line, once."""
    rt = open_product()
    with rt.session() as session:
        row, key = auth.create_api_key(session=session, username=user, name=name, actor=CLI_ACTOR)
    err.print(f"Created API key {row.id} for {user}. Store it now: it is not shown again.")
    out.print(f"key id: {row.id}")
    out.print(key)


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key by its id."""
    rt = open_product()
    with rt.session() as session:
        auth.revoke_api_key(session=session, key_id=key_id, actor=CLI_ACTOR)
    out.print(f"Revoked {key_id}")


@keys_app.command("list")
def keys_list(json_: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """List API keys (never the keys themselves)."""
    rt = open_product(machine_output=json_)
    with rt.session() as session:
        rows = [
            {
                "id": k.id,
                "user": k.user.username,
                "name": k.name,
                "created_at": k.created_at.isoformat(),
                "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
                "revoked": k.revoked_at is not None,
            }
            for k in auth.list_api_keys(session=session)
        ]
    if json_:
        print_json(rows)
        return
    for r in rows:
        out.print(f"{r['id']:<16} {r['user']:<20} {r['name']:<24} {'revoked' if r['revoked'] else 'active'}")
