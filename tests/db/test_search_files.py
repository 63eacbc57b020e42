"""File import: txt, md, pdf, docx and csv become searchable documents titled by their file names, the
original kept in the object store; a file that cannot be read gets a clear message and leaves nothing."""

from __future__ import annotations

import io
import random
import tracemalloc
import zipfile
from pathlib import Path

import docx
import pytest
from sqlalchemy import func, select

from core.auth import Identity
from core.clock import ManualClock
from core.db.models import Chunk, ChunkChange, Document
from core.errors import InvalidInput, NotFound
from core.runtime import Runtime
from core.search.backends.embedded import EmbeddedBackend
from core.search.embeddings import make_embedder
from core.search.files import delete_file, import_files, list_files
from core.search.service import SearchFilters, search
from core.search.sync import sync_backend
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


# ---- limits checked before the work they bound (finding 6) -------------------------------------------------


def _peak_mb(fn):  # noqa: ANN001, ANN202
    """(result, peak Python memory in MB while fn ran)."""
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_a_huge_file_is_refused_before_it_is_read_and_the_rest_of_the_folder_imports(
    runtime: Runtime, tmp_path
) -> None:
    embedder, store = make_embedder(runtime.settings), make_object_store(runtime.settings)
    folder = tmp_path / "in"
    folder.mkdir()
    with (folder / "huge.txt").open("wb") as f:  # sparse: 2 GB on paper, nothing on disk
        f.truncate(2 * 2**30)
    (folder / "fine.md").write_text("Escalation runbook: ACH returns with code R09 go to the payments team.")
    results, peak = _peak_mb(lambda: import_files(runtime=runtime, embedder=embedder, store=store, paths=[folder]))
    by_name = {r.name: r for r in results}
    assert not by_name["huge.txt"].ok and "larger than 50 MB" in by_name["huge.txt"].error
    assert by_name["fine.md"].ok
    assert peak < 64, peak  # the 2 GB were never read (before: 2.3 GB)


def test_a_text_file_at_the_size_limit_is_refused_for_its_length_not_chunked(runtime: Runtime, tmp_path) -> None:
    embedder, store = make_embedder(runtime.settings), make_object_store(runtime.settings)
    big = tmp_path / "exactly-50MiB.txt"
    line = b"Residents paid rent by ACH and some payments were returned by the bank.\n"
    big.write_bytes((line * (50 * 2**20 // len(line) + 1))[: 50 * 2**20])
    results, peak = _peak_mb(lambda: import_files(runtime=runtime, embedder=embedder, store=store, paths=[big]))
    assert not results[0].ok and "too long to index" in results[0].error
    assert peak < 160, peak  # the bytes once, never decoded nor chunked (before: 3.2 GB)
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 0
    assert store.list() == []


def test_a_word_file_that_inflates_too_far_is_refused_before_parsing(runtime: Runtime, tmp_path) -> None:
    embedder, store = make_embedder(runtime.settings), make_object_store(runtime.settings)
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(make_docx(["Hello"]))) as src, zipfile.ZipFile(buf, "w") as bomb:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "word/document.xml":  # 60 MB of XML that deflates to a few dozen KB
                body = body.replace(b"<w:body>", b"<w:body>" + b" " * (60 * 2**20), 1)
            bomb.writestr(item.filename, body, compress_type=zipfile.ZIP_DEFLATED)
    (tmp_path / "bomb.docx").write_bytes(buf.getvalue())
    assert (tmp_path / "bomb.docx").stat().st_size < 1 * 2**20
    results = import_files(runtime=runtime, embedder=embedder, store=store, paths=[tmp_path / "bomb.docx"])
    assert not results[0].ok and "inflates to 61 MB of XML; at most 50 MB" in results[0].error


def test_binary_without_a_nul_byte_is_not_taken_for_text(runtime: Runtime, tmp_path) -> None:
    embedder, store = make_embedder(runtime.settings), make_object_store(runtime.settings)
    rng = random.Random(6)
    noise = bytes(rng.randrange(1, 256) for _ in range(200_000))  # no NUL: the old check let it through
    (tmp_path / "noise.txt").write_bytes(noise)
    cp1252_safe = bytes(b for b in range(1, 256) if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D))
    (tmp_path / "decodable.txt").write_bytes(bytes(rng.choice(cp1252_safe) for _ in range(200_000)))
    (tmp_path / "latin.txt").write_bytes("Café déjà vu: résumé of the façade work, 12 €.\n".encode("cp1252"))
    results = import_files(
        runtime=runtime,
        embedder=embedder,
        store=store,
        paths=[tmp_path / n for n in ("noise.txt", "decodable.txt", "latin.txt")],
    )
    by_name = {r.name: r for r in results}
    assert not by_name["noise.txt"].ok and "binary" in by_name["noise.txt"].error
    assert not by_name["decodable.txt"].ok and "binary" in by_name["decodable.txt"].error
    assert by_name["latin.txt"].ok  # real Windows-1252 text still reads
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 1


# ---- a changed file replaces its document (finding 22) -----------------------------------------------------


def test_a_changed_file_replaces_its_document_and_its_old_chunks_leave_the_vector_index(
    runtime: Runtime, tmp_path
) -> None:
    embedder, store = make_embedder(runtime.settings), make_object_store(runtime.settings)
    backend = EmbeddedBackend.from_settings(runtime.settings)
    path = tmp_path / "pricing.md"
    path.write_text("\n\n".join(f"Old tariff {i}: zebra pricing applies to {i} units." for i in range(40)))
    first = import_files(runtime=runtime, embedder=embedder, store=store, paths=[path])[0]
    assert sync_backend(runtime=runtime, backend=backend).ok
    with runtime.session() as s:
        old_chunks = set(s.scalars(select(Chunk.id).where(Chunk.document_id == int(first.doc_id))))
    assert first.ok and old_chunks <= set(backend.ids())

    path.write_text("New tariff: giraffe pricing for every community.")
    second = import_files(runtime=runtime, embedder=embedder, store=store, paths=[path])[0]
    assert second.ok and not second.unchanged and second.doc_id == first.doc_id
    assert sync_backend(runtime=runtime, backend=backend).ok
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 1
        assert s.scalar(select(func.count()).select_from(Chunk)) == 1
        deleted = set(s.scalars(select(ChunkChange.chunk_id).where(ChunkChange.op == "d")))
        current = set(s.scalars(select(Chunk.id)))
    stale = old_chunks - current
    assert stale and stale <= deleted  # logged, so every backend's sync removes them
    assert not stale & set(backend.ids())
    assert store.list() == [second.key]  # the replaced original is gone

    def titles(query: str) -> list[str]:
        return [
            h.title
            for h in search(
                runtime=runtime, embedder=embedder, backend=backend, identity=ADMIN, query=query, mode="keyword"
            ).results
        ]

    assert titles("zebra") == [] and titles("giraffe") == ["pricing.md"]
    backend.close()


def test_an_imported_file_can_be_deleted_and_records_cannot(runtime: Runtime, tmp_path) -> None:
    embedder, store = make_embedder(runtime.settings), make_object_store(runtime.settings)
    (tmp_path / "a.txt").write_text("Quokka onboarding checklist.")
    (tmp_path / "b.txt").write_text("Wombat renewal notes.")
    done = import_files(runtime=runtime, embedder=embedder, store=store, paths=[tmp_path])
    listed = list_files(runtime=runtime)
    assert {f.name for f in listed} == {"a.txt", "b.txt"} and all(f.origin.endswith(f.name) for f in listed)
    gone = delete_file(runtime=runtime, store=store, doc_id=done[0].doc_id)
    assert gone.name == "a.txt" and [f.name for f in list_files(runtime=runtime)] == ["b.txt"]
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(Chunk).where(Chunk.document_id == gone.doc_id)) == 0
        assert set(s.scalars(select(ChunkChange.op))) == {"u", "d"}
    assert store.list() == [done[1].key]
    with pytest.raises(NotFound):
        delete_file(runtime=runtime, store=store, doc_id=gone.doc_id)
    with pytest.raises(InvalidInput):
        delete_file(runtime=runtime, store=store, doc_id="x")
