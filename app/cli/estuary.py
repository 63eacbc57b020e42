"""`sophia estuary ...`: the feeds that Estuary Flow's webhook materialization pushes to."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.common import CLI_ACTOR, err, open_product, out, print_json
from core import estuary

estuary_app = typer.Typer(help="Estuary Flow feeds: real-time change documents via webhook.", no_args_is_help=True)

BIND_HELP = "COLLECTION=TARGET, TARGET being connector:NAME/STREAM or entity:ENTITY@SOURCE (repeatable)"


def _show_secret(name: str, secret: str) -> None:
    err.print(f"Feed {name}: give the materialization this secret now; it is not shown again.")
    err.print("  header:  Authorization: Bearer <secret>   (customHeaders)")
    err.print(f"  endpoint address: http(s)://<api-host>/webhooks/estuary/{name}/   (relativePath = the collection)")
    err.print(f"  or, without headers: http(s)://<api-host>/webhooks/estuary/s/<secret>/{name}/")
    out.print(secret)


@estuary_app.command("add-feed")
def add_feed(
    name: str,
    bind: Annotated[list[str], typer.Option("--bind", help=BIND_HELP)],
    key: Annotated[str, typer.Option("--key", help="the collections' key as JSON pointer(s), comma separated")] = "/id",
) -> None:
    """Add a feed. The secret is printed alone on the last line, once."""
    bindings = [estuary.parse_binding(b, key=key) for b in bind]
    rt = open_product()
    with rt.session() as session:
        feed, secret = estuary.create_feed(session=session, name=name, bindings=bindings, actor=CLI_ACTOR)
    _show_secret(feed.name, secret)


@estuary_app.command("rotate-secret")
def rotate(name: str) -> None:
    """Replace a feed's secret. The new one is printed alone on the last line, once."""
    rt = open_product()
    with rt.session() as session:
        secret = estuary.rotate_secret(session=session, name=name, actor=CLI_ACTOR)
    _show_secret(name, secret)


@estuary_app.command("list")
def list_(json_: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """List feeds and their bindings."""
    rt = open_product(machine_output=json_)
    with rt.session() as session:
        rows = [
            {"name": f.name, "enabled": f.enabled, "bindings": f.bindings} for f in estuary.list_feeds(session=session)
        ]
    if json_:
        print_json(rows)
        return
    for r in rows:
        out.print(f"{r['name']}  ({'enabled' if r['enabled'] else 'disabled'})")
        for collection, b in r["bindings"].items():
            out.print(f"  {collection} -> {b['target']}  key {b.get('key', '/id')}")
