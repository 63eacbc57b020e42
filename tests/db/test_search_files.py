"""File import: txt, md, pdf, docx and csv become searchable documents titled by their file names, the
original kept in the object store; a file that cannot be read gets a clear message and leaves nothing."""

from __future__ import annotations

import io
from pathlib import Path

import docx
from sqlalchemy import func, select

from core.auth import Identity
from core.clock import ManualClock
from core.db.models import Chunk, Document
from core.runtime import Runtime
from core.search.embeddings import make_embedder
from core.search.files import import_files
from core.search.service import SearchFilters, search
from core.storage import make_object_store

ADMIN = Identity("admin", "admin", "cli")


def make_pdf(text: str) -> bytes:
    """A one-page PDF whose content stream draws ``text`` (built by hand, with a correct xref table)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def make_docx(paragraphs: list[str]) -> bytes:
    document = docx.Document()
    for p in paragraphs:
        document.add_paragraph(p)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Owner", "Dana Whitfield"
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def _folder(root: Path) -> Path:
    (root / "docs" / "nested").mkdir(parents=True)
    (root / "docs" / "notes.txt").write_text("Quarterly planning notes: renewal pricing for Harbor Point Living.")
    (root / "docs" / "runbook.md").write_text(
        "# Runbook\n\nIf the ledger sync fails with error LS-7731, restart the worker."
    )
    (root / "docs" / "nested" / "customers.csv").write_text(
        "name,region,units\nHarbor Point Living,West,1200\nBolt Living,East,800\n"
    )
    (root / "docs" / "nested" / "contract.docx").write_bytes(
        make_docx(["Master services agreement.", "Termination needs 90 days notice."])
    )
    (root / "docs" / "nested" / "report.pdf").write_bytes(make_pdf("Chargeback ratio fell to 0.2 percent in March"))
    (root / "docs" / ".hidden.txt").write_text("never imported")
    (root / "docs" / "picture.png").write_bytes(b"\x89PNG not imported from a folder")
    return root / "docs"


def test_a_folder_is_imported_and_every_file_is_searchable(runtime: Runtime, tmp_path) -> None:
    runtime.clock = clock = ManualClock()
    embedder, store = make_embedder(runtime.settings), make_object_store(runtime.settings)
    results = import_files(runtime=runtime, embedder=embedder, store=store, paths=[_folder(tmp_path)])
    assert [r.name for r in results] == ["notes.txt", "runbook.md", "contract.docx", "customers.csv", "report.pdf"]
    assert all(r.ok and r.chunks >= 1 and r.doc_id for r in results), results
    with runtime.session() as s:
        docs = {d.title: d for d in s.scalars(select(Document))}
    assert set(docs) == {r.name for r in results}
    assert {d.source for d in docs.values()} == {"file"}
    assert {d.type for d in docs.values()} == {"txt", "md", "docx", "csv", "pdf"}
    assert "Dana Whitfield" in docs["contract.docx"].text and "Chargeback ratio" in docs["report.pdf"].text
    for r in results:
        assert store.get(r.key) == Path(r.path).read_bytes()

    def top(query: str):  # noqa: ANN202
        return search(
            runtime=runtime,
            embedder=embedder,
            backend=None,
            identity=ADMIN,
            query=query,
            filters=SearchFilters(source="file"),
        ).results[0]

    assert top("LS-7731").title == "runbook.md"
    assert top("termination notice").title == "contract.docx"
    assert top("chargeback ratio").title == "report.pdf"
    hit = top("Bolt Living units")
    assert hit.title == "customers.csv" and hit.url.startswith("file://") and hit.url.endswith(".csv")

    imported_at = docs["notes.txt"].occurred_at
    clock.advance(1.0)  # the same bytes again, in a later second
    again = import_files(runtime=runtime, embedder=embedder, store=store, paths=[tmp_path / "docs" / "notes.txt"])
    assert again[0].ok and again[0].unchanged and again[0].doc_id == results[0].doc_id
    with runtime.session() as s:
        assert s.get(Document, int(results[0].doc_id)).occurred_at == imported_at  # first import time kept


def test_a_file_that_cannot_be_read_leaves_nothing_behind(runtime: Runtime, tmp_path) -> None:
    embedder, store = make_embedder(runtime.settings), make_object_store(runtime.settings)
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (tmp_path / "broken.docx").write_bytes(b"PK not a zip")
    (tmp_path / "empty.txt").write_text("   \n")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    names = ["broken.pdf", "broken.docx", "empty.txt", "binary.txt", "image.png", "missing.md"]
    results = import_files(runtime=runtime, embedder=embedder, store=store, paths=[tmp_path / n for n in names])
    errors = {r.name: r.error for r in results}
    assert not any(r.ok for r in results)
    assert "not a readable PDF" in errors["broken.pdf"]
    assert "not a readable Word document" in errors["broken.docx"]
    assert "no text" in errors["empty.txt"]
    assert "binary" in errors["binary.txt"]
    assert "unsupported file type" in errors["image.png"]
    assert "no such file" in errors["missing.md"]
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 0
        assert s.scalar(select(func.count()).select_from(Chunk)) == 0
    assert store.list() == []
