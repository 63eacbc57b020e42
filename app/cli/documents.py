"""`sophia documents list|delete`: the imported files, as searchable documents.

A delete removes the document, its chunks (logged in the change log) and its original, then pushes the
change to the enabled vector backends, so the file stops being found at once."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.common import open_product, out, print_json
from app.cli.search import JsonOpt, warn_behind

documents_app = typer.Typer(help="Imported files, as searchable documents.", no_args_is_help=True)


@documents_app.command("list")
def list_(json_: JsonOpt = False) -> None:
    """Every imported file's document, newest first."""
    from core.search.files import list_files

    files = list_files(runtime=open_product(machine_output=json_))
    if json_:
        print_json({"documents": [f.as_json() for f in files]})
        return
    if not files:
        out.print("No imported files. Import some: sophia ingest PATH")
        return
    for f in files:
        when = f.imported_at.strftime("%Y-%m-%d %H:%M") if f.imported_at else "?"
        out.print(f"{f.doc_id:>6}  {f.name}  ({f.type}, {f.chunks} chunk{'s' * (f.chunks != 1)}, {when})  {f.origin}")


@documents_app.command("delete")
def delete(
    doc_id: Annotated[str, typer.Argument(help="the document's id (see `sophia documents list`)")],
    json_: JsonOpt = False,
) -> None:
    """Delete an imported file's document: it leaves search and every vector backend."""
    from core.search.files import delete_file
    from core.search.searchable import Searchable
    from core.search.sync import sync_enabled
    from core.storage import make_object_store

    rt = open_product(machine_output=json_)
    gone = delete_file(runtime=rt, store=make_object_store(rt.settings), doc_id=doc_id)
    warn_behind(Searchable(vectors=sync_enabled(runtime=rt)), quiet=json_)  # gone from every backend now
    if json_:
        print_json({"deleted": gone.as_json()})
    else:
        out.print(f"deleted document {gone.doc_id} ({gone.name}, {gone.chunks} chunk{'s' * (gone.chunks != 1)})")
