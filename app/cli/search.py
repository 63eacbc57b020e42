"""`sophia ingest PATH...`, `sophia search QUERY` and `sophia reindex` (documents, chunks and vectors of
every ingested record).

Each command that writes chunks then pushes the changes to the enabled vector backends (the scheduler's
index sync does the same on its schedule; a backend that is down is reported and catches up later), so a
search right after it finds what was just written.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import typer

from app.cli.common import CLI_ACTOR, err, open_product, out, print_json, progress_bar
from core.auth import Identity, get_user
from core.errors import InvalidInput, NotFound
from core.runtime import Runtime

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON only")]


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
    app.command("search")(search)
    app.command("reindex")(reindex)


# ---- shared steps -------------------------------------------------------------------------------------------


def sync_vectors(runtime: Runtime, *, quiet: bool = False) -> None:
    """Push pending chunk changes to every enabled backend; a failure is a warning (it catches up later)."""
    from core.search.sync import sync_enabled

    for report in sync_enabled(runtime=runtime):
        if report.error and not quiet:
            err.print(
                f"warning: vector backend {report.backend} not updated ({report.error}); it catches up on the next sync"
            )


def index_after_demo(runtime: Runtime, *, json_output: bool = False) -> None:
    """Index every ingested record and push the vectors (for `sophia up --demo`, after loading the demo)."""
    from core.search.embeddings import make_embedder
    from core.search.indexing import index_records

    with progress_bar("Indexing for search") as update:
        index_records(runtime=runtime, embedder=make_embedder(runtime.settings), progress=update)
    sync_vectors(runtime, quiet=json_output)


def _identity(runtime: Runtime, as_user: str | None) -> Identity:
    if not as_user:
        return Identity(username=CLI_ACTOR, role="admin", via="cli")
    with runtime.session() as session:
        user = get_user(session=session, username=as_user)
        if not user.active:
            raise InvalidInput(f"user {as_user!r} is deactivated")
        return Identity(username=user.username, role=user.role, via="cli")


def _day(value: str | None, flag: str) -> date | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).date() if "T" in value else date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{flag}: {value!r} is not a date (YYYY-MM-DD)") from None


# ---- commands -----------------------------------------------------------------------------------------------


def ingest(
    paths: Annotated[list[str], typer.Argument(help="files, or folders walked recursively (txt, md, pdf, docx, csv)")],
    json_: JsonOpt = False,
    uploads: Annotated[
        bool,
        typer.Option("--uploads", hidden=True, help="name each file by its name alone (the Search page's uploads)"),
    ] = False,
) -> None:
    """Import files: each becomes one searchable document titled by its file name; a changed file replaces it."""
    from core.search.embeddings import make_embedder
    from core.search.files import import_files
    from core.storage import make_object_store

    rt = open_product(machine_output=json_)
    with progress_bar("Importing") as update:
        results = import_files(
            runtime=rt,
            embedder=make_embedder(rt.settings),
            store=make_object_store(rt.settings),
            paths=paths,
            progress=update,
            by_name=uploads,
        )
    if any(r.ok for r in results):
        sync_vectors(rt, quiet=json_)
    failed = [r for r in results if not r.ok]
    if json_:
        print_json(
            {"files": [r.as_json() for r in results], "imported": len(results) - len(failed), "failed": len(failed)}
        )
    else:
        for r in results:
            if r.ok:
                note = " (already imported)" if r.unchanged else ""
                out.print(f"imported {r.path}: document {r.doc_id}, {r.chunks} chunk{'s' * (r.chunks != 1)}{note}")
        for r in failed:
            err.print(f"could not import {r.path}: {r.error}")
    if not results:
        raise NotFound("no supported files found (txt, md, pdf, docx, csv)")
    if failed:
        raise typer.Exit(1)


def search(
    query: Annotated[str, typer.Argument(help="what to look for")],
    limit: Annotated[int, typer.Option(help="how many results (1-100)")] = 10,
    source: Annotated[str | None, typer.Option(help="only this source (e.g. gong, slack, hubspot, file)")] = None,
    type_: Annotated[
        str | None, typer.Option("--type", help="only this type (e.g. call, email, slack_thread, invoice)")
    ] = None,
    account: Annotated[str | None, typer.Option(help="only this account (id or name)")] = None,
    owner: Annotated[str | None, typer.Option(help="only records this person owns (email)")] = None,
    since: Annotated[str | None, typer.Option(help="from this date (YYYY-MM-DD)")] = None,
    until: Annotated[str | None, typer.Option(help="up to this date, inclusive (YYYY-MM-DD)")] = None,
    as_user: Annotated[str | None, typer.Option("--as", help="search with this user's permissions")] = None,
    json_: JsonOpt = False,
) -> None:
    """Hybrid (keyword + vector) search over everything indexed."""
    from core.search.embeddings import make_embedder
    from core.search.service import SearchFilters
    from core.search.service import search as run_search

    filters = SearchFilters(
        source=source,
        type=type_,
        account=account,
        owner=owner,
        since=_day(since, "--since"),
        until=_day(until, "--until"),
    )
    rt = open_product(machine_output=json_)
    identity = _identity(rt, as_user)
    from core.search.backends.registry import query_backend

    backend = query_backend(rt.settings)
    try:
        response = run_search(
            runtime=rt,
            embedder=make_embedder(rt.settings),
            backend=backend,
            identity=identity,
            query=query,
            limit=limit,
            filters=filters,
        )
    finally:
        backend.close()
    if response.degraded:
        err.print(f"warning: {response.degraded}")
    if json_:
        print_json(response.as_json())
        return
    if not response.results:
        out.print(f"No results for {response.query!r}.")
        err.print("Try fewer words, drop a filter, or check that data is indexed: sophia reindex")
        return
    for hit in response.results:
        where = " · ".join(
            x
            for x in (
                hit.source,
                hit.type,
                hit.account,
                hit.occurred_at.date().isoformat() if hit.occurred_at else None,
            )
            if x
        )
        out.print(f"[bold]{hit.rank}. {hit.title}[/bold]  [dim]{where}[/dim]")
        out.print(f"   {hit.snippet}", markup=False)
        if hit.similar:
            out.print(f"   and {len(hit.similar)} similar (documents {', '.join(s.doc_id for s in hit.similar)})")
        if hit.url:
            out.print(f"   {hit.url}", markup=False)
    err.print(f"{len(response.results)} results in {response.took_ms:.0f} ms")


def reindex(json_: JsonOpt = False) -> None:
    """Build or update the documents, chunks and vectors of every ingested record (unchanged ones do no work)."""
    from core.search.embeddings import make_embedder
    from core.search.indexing import index_records

    rt = open_product(machine_output=json_)
    with progress_bar("Indexing") as update:
        result = index_records(runtime=rt, embedder=make_embedder(rt.settings), progress=update)
    sync_vectors(rt, quiet=json_)
    if json_:
        print_json(result.as_dict())
        return
    out.print(
        f"{result.documents_seen} documents: {result.documents_added} added, {result.documents_updated} updated, "
        f"{result.documents_deleted} deleted, {result.documents_unchanged} unchanged; "
        f"{result.chunks_embedded} chunks embedded in {result.seconds:.1f} s"
    )
