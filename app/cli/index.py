"""`sophia index status|sync|rebuild|reconcile`: the vector backends kept in sync with the chunks table."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Annotated

import typer

from app.cli.common import err, open_product, out, print_json, progress_bar
from core.errors import SophiaError
from core.runtime import Runtime
from core.search.backends.base import VectorBackend
from core.search.backends.registry import enabled_backends, make_backend, make_backends
from core.search.searchable import indexing_status
from core.search.sync import index_status, rebuild, reconcile, sync_backend, table_counts

index_app = typer.Typer(help="Vector indexes: sync state, sync, rebuild and reconcile.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
BackendOpt = Annotated[str | None, typer.Option("--backend", help="one backend (default: every enabled one)")]


@contextmanager
def _backends(rt: Runtime, name: str | None) -> Iterator[list[VectorBackend]]:
    backends = [make_backend(rt.settings, name)] if name else make_backends(rt.settings)
    try:
        yield backends
    finally:
        for backend in backends:
            backend.close()


@contextmanager
def _progress(label: str, quiet: bool) -> Iterator[Callable[[int, int, str], None] | None]:
    if quiet:
        yield None
        return
    with progress_bar(label) as update:
        yield update


@index_app.command("status")
def status(json_: JsonOpt = False) -> None:
    """Records not searchable yet (and when they should be), then per backend: chunks indexed, pending
    changes, last sync, last error (read from the database only)."""
    rt = open_product(machine_output=json_)
    rows = index_status(runtime=rt, backends=list(enabled_backends(rt.settings)))
    chunks = table_counts(runtime=rt)["chunks"]
    records = indexing_status(runtime=rt)
    if json_:
        print_json({"records": records.as_json(), "backends": rows, "chunks": chunks})
        return
    out.print(records.summary, markup=False)
    out.print(f"{chunks} chunks in the table")
    for row in rows:
        last = row["last_sync"][:19].replace("T", " ") if row["last_sync"] else "never"
        state = "[red]error[/red]" if row["error"] else "ok"
        out.print(
            f"  {row['name']:<10} {state:<5} {row['chunks']:>8} indexed {row['pending']:>8} pending   last sync {last}"
        )
        if row["error"]:
            out.print(f"    {row['error']}", markup=False)


@index_app.command("sync")
def sync(backend: BackendOpt = None, json_: JsonOpt = False) -> None:
    """Push the chunk changes each backend has not received yet."""
    rt = open_product(machine_output=json_)
    with _backends(rt, backend) as backends:
        reports = []
        for b in backends:
            with _progress(f"sync {b.name}", json_) as update:
                reports.append(sync_backend(runtime=rt, backend=b, progress=update))
    if json_:
        print_json({"backends": [asdict(r) for r in reports]})
    else:
        for r in reports:
            what = (
                r.skipped
                or r.error
                or (
                    f"{r.upserted} upserted, {r.deleted} deleted{' (full push)' if r.full_push else ''}, {r.pending} pending"
                )
            )
            out.print(f"{r.backend}: {what}", markup=False)
    failed = [r for r in reports if r.error]
    if failed:
        raise SophiaError("; ".join(f"{r.backend}: {r.error}" for r in failed))


@index_app.command("rebuild")
def rebuild_cmd(backend: BackendOpt = None, json_: JsonOpt = False) -> None:
    """Clear each backend and push every chunk from the chunks table again."""
    rt = open_product(machine_output=json_)
    with _backends(rt, backend) as backends:
        reports = []
        for b in backends:
            with _progress(f"rebuild {b.name}", False) as update:  # on stderr: --json output stays clean
                reports.append(rebuild(runtime=rt, backend=b, progress=update))
            if not json_:
                out.print(f"{b.name}: rebuilt, {reports[-1].pushed} chunks pushed in {reports[-1].seconds:.1f} s")
    if json_:
        print_json({"backends": [asdict(r) for r in reports]})


@index_app.command("reconcile")
def reconcile_cmd(
    backend: BackendOpt = None,
    sample: Annotated[int, typer.Option("--sample", min=0, help="stored vectors to compare with the table")] = 256,
    full: Annotated[bool, typer.Option("--full", help="compare every stored vector")] = False,
    json_: JsonOpt = False,
) -> None:
    """Find and repair drift: missing and extra ids, and stale vectors in a sample."""
    rt = open_product(machine_output=json_)
    with _backends(rt, backend) as backends:
        reports = []
        for b in backends:
            with _progress(f"reconcile {b.name}", json_) as update:
                reports.append(reconcile(runtime=rt, backend=b, sample=None if full else sample, progress=update))
            r = reports[-1]
            if not json_:
                out.print(
                    f"{b.name}: {r.backend_count} held, {r.chunks} in the table; pushed {len(r.missing)} missing, "
                    f"deleted {len(r.extra)} extra, re-pushed {len(r.stale)} stale of {r.checked} checked"
                )
    if json_:
        print_json({"backends": [{**asdict(r), "repaired": r.repaired} for r in reports]})
    elif not any(r.repaired for r in reports):
        err.print("no drift found")
