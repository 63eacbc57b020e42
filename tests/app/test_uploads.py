"""The Search page's uploads are imported by a child `sophia ingest --uploads`, never parsed in the app
server: a good file is indexed under its name (a second upload of the name replaces it), a bad one gets its
own error."""

from __future__ import annotations

import os

from sqlalchemy import select

from app.uploads import Upload, import_uploads
from core.db.models import Document
from core.runtime import Runtime


def test_uploads_are_imported_in_a_child_process_by_name(runtime: Runtime) -> None:
    noise = bytes(b for b in os.urandom(50_000) if b)  # binary without a NUL byte
    results = import_uploads(
        runtime=runtime,
        uploads=[
            Upload("runbook.md", b"# Runbook\n\nRestart the ledger worker on error LS-7731."),
            Upload("noise.txt", noise),
        ],
    )
    by_name = {r.name: r for r in results}
    assert by_name["runbook.md"].ok and by_name["runbook.md"].chunks == 1
    assert not by_name["noise.txt"].ok and "binary" in by_name["noise.txt"].error
    again = import_uploads(runtime=runtime, uploads=[Upload("runbook.md", b"Restart the ledger worker twice.")])
    assert again[0].ok and not again[0].unchanged
    with runtime.session() as s:
        docs = s.execute(select(Document.title, Document.external_id, Document.text)).all()
    assert [(t, e) for t, e, _ in docs] == [("runbook.md", "upload:runbook.md")]
    assert "twice" in docs[0].text  # replaced, not added beside
