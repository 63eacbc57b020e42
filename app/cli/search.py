"""`sophia ingest PATH...`, `sophia search QUERY` and `sophia reindex [--full]` (documents, chunks and vectors
of the ingested records).

Each command that writes chunks goes through ``core.search.searchable.make_searchable``, which also pushes
the changes to the enabled vector backends (a backend that is down is reported and catches up later), so a
search right after it finds what was just written.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.text import Text

from app.cli.common import cli_identity, err, open_product, out, print_json, progress_bar
from core.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from core.search.searchable import Searchable
    from core.search.service import SearchHit

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON only")]
HIGHLIGHT = re.compile(r"\*\*(.+?)\*\*")  # how core marks a matched term in a snippet


# ---- shared steps -------------------------------------------------------------------------------------------


def warn_behind(done: Searchable, *, quiet: bool = False) -> None:
    """A backend that could not take the changes is a warning (it catches up later)."""
    for report in done.behind:
        if not quiet:
            err.print(
                f"warning: vector backend {report.backend} not updated ({report.error}); it catches up on the next sync"
            )


def highlighted(snippet: str, *, indent: str = "") -> Text:
    """A snippet's ``**term**`` marks as bold text: bold on a terminal, the bare words anywhere else."""
    text = Text(indent)
    for i, part in enumerate(HIGHLIGHT.split(snippet)):
        text.append(part, style="bold" if i % 2 else "")  # split() puts the captured terms at odd places
    return text


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
    from core.search.searchable import make_searchable

    rt = open_product(machine_output=json_)
    with progress_bar("Importing") as update:
        done = make_searchable(runtime=rt, paths=paths, progress=update, by_name=uploads)
    results = done.files
    warn_behind(done, quiet=json_)
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
    identity = cli_identity(rt, as_user)
    from core.search.backends.registry import query_backend

    backend = query_backend(rt.settings)
    try:
        response = run_search(
            runtime=rt,
            embedder=make_embedder(rt.settings, threads=1),  # one query: no thread pool to start
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
        print_hit(hit)
    err.print(f"{len(response.results)} results in {response.took_ms:.0f} ms")


def print_hit(hit: SearchHit) -> None:
    """One result for people: title, where it comes from, the snippet with its matched terms, the link."""
    when = hit.occurred_at.date().isoformat() if hit.occurred_at else None
    where = " · ".join(x for x in (hit.source, hit.type, hit.account, when) if x)
    out.print(f"[bold]{hit.rank}. {escape(hit.title)}[/bold]  [dim]{escape(where)}[/dim]")
    out.print(highlighted(hit.snippet, indent="   "))
    if hit.similar:
        out.print(f"   and {len(hit.similar)} similar (documents {', '.join(s.doc_id for s in hit.similar)})")
    if hit.url:
        out.print(f"   {hit.url}", markup=False)


def reindex(
    full: Annotated[bool, typer.Option("--full", help="rebuild and compare every record's document")] = False,
    json_: JsonOpt = False,
) -> None:
    """Make the records changed since the last run searchable now (documents, chunks, vectors).

    --full rebuilds and compares every record's document (unchanged ones do no work)."""
    from core.search.searchable import make_searchable

    rt = open_product(machine_output=json_)
    with progress_bar("Indexing") as update:
        done = make_searchable(runtime=rt, full=full, progress=update)
    warn_behind(done, quiet=json_)
    result = done.index
    assert result is not None  # records, not files
    if json_:
        print_json(result.as_dict())
        return
    out.print(
        f"{result.documents_seen} documents: {result.documents_added} added, {result.documents_updated} updated, "
        f"{result.documents_deleted} deleted, {result.documents_unchanged} unchanged; "
        f"{result.chunks_embedded} chunks embedded in {result.seconds:.1f} s"
    )
