"""File import: txt, md, pdf, docx and csv files become searchable documents.

Each file becomes one document titled by its file name (source ``file``, type its extension), identified
by its path (an upload by its name): importing a changed file replaces its document, whose old chunks leave
the index and every vector backend. The original is kept in the object store under a content-addressed key
(``uploads/<sha256[:2]>/<sha256>.<ext>``); the text is extracted, chunked, embedded and written like any
other document. Importing the same bytes again does no work. A file that cannot be read gets a clear message
in its result and leaves nothing behind: the text is extracted before anything is stored, the object is
removed again when indexing fails, and the document and its chunks are written in one transaction.

Limits are checked before the work they bound: the file's size before it is read (``MAX_FILE_BYTES``), a
Word file's inflated size before it is parsed, a PDF's streams by pypdf's own limits, the extracted text and
the chunks before anything is embedded. A text file must read as text (strict UTF-8, else Windows-1252, with
almost no control characters), NUL byte or not.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import unicodedata
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from core.db.models import Chunk, Document
from core.errors import InvalidInput, NotFound, SophiaError
from core.search.documents import DocumentIn, chunk_paragraphs, chunk_turns
from core.search.indexing import delete_documents, index_documents

if TYPE_CHECKING:
    from pypdf import PdfReader

    from core.runtime import Runtime
    from core.search.embeddings import Embedder
    from core.storage import ObjectStore

__all__ = [
    "SUPPORTED",
    "FileDocument",
    "FileResult",
    "delete_file",
    "extract_text",
    "import_file_bytes",
    "import_files",
    "list_files",
]

SUPPORTED = {".txt": "txt", ".md": "md", ".markdown": "md", ".pdf": "pdf", ".docx": "docx", ".csv": "csv"}
CONTENT_TYPES = {
    "txt": "text/plain",
    "md": "text/markdown",
    "pdf": "application/pdf",
    "csv": "text/csv",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
MAX_FILE_BYTES = 50 * 1024 * 1024
#: What a Word file may inflate to (its zip members together) and a PDF stream to, before parsing.
MAX_INFLATED_BYTES = 50 * 1024 * 1024
#: Extracted text and chunks per file: a 2 MB text is about 1,700 chunks, some 20 s of embedding here.
MAX_TEXT_CHARS = 2_000_000
MAX_CHUNKS_PER_FILE = 2_000
MAX_PDF_PAGES = 2_000
#: A text file with more control characters than this share is binary (even without a NUL byte).
MAX_UNPRINTABLE = 0.01
SOURCE = "file"
Progress = Callable[[int, int, str], None]


class Unreadable(SophiaError):
    """The file's text cannot be extracted (the message says why, for the person who gave the file)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="unreadable_file")


@dataclass(frozen=True)
class FileResult:
    path: str
    name: str
    ok: bool
    doc_id: int | None = None
    chunks: int = 0
    key: str | None = None  # the object-store key of the original
    unchanged: bool = False  # the same bytes were imported before
    error: str | None = None

    def as_json(self) -> dict:
        return {
            "path": self.path,
            "name": self.name,
            "ok": self.ok,
            "doc_id": None if self.doc_id is None else str(self.doc_id),
            "chunks": self.chunks,
            "key": self.key,
            "unchanged": self.unchanged,
            "error": self.error,
        }


# ---- text extraction --------------------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    """The text of a text file: UTF-8 (strict), else Windows-1252, and only if it reads as text (a file of
    which more than ``MAX_UNPRINTABLE`` is control characters is binary, NUL byte or not)."""
    if b"\x00" in data[:8192]:
        raise Unreadable("it looks binary, not text")
    if len(data) > MAX_TEXT_CHARS * 4:  # no encoding spends more than 4 bytes on a character
        raise _too_long(len(data) // 4)
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _unprintable_share(text) <= MAX_UNPRINTABLE:
            return _capped(text)
        raise Unreadable("it looks binary, not text (too many control characters)")
    raise Unreadable("it looks binary, not text (neither UTF-8 nor Windows-1252)")


def _unprintable_share(text: str) -> float:
    """The share of the text that is control characters other than tabs and line breaks."""
    sample = text[:200_000]
    if not sample:
        return 0.0
    bad = sum(1 for ch in sample if unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") and ch not in "\t\n\r\f")
    return bad / len(sample)


def _too_long(chars: int) -> Unreadable:
    return Unreadable(
        f"its text is too long to index ({chars:,} characters; at most {MAX_TEXT_CHARS:,}): split it into smaller files"
    )


def _capped(text: str) -> str:
    if len(text) > MAX_TEXT_CHARS:
        raise _too_long(len(text))
    return text


#: pypdf's own limits (its ``Configuration``, 75 MB per stream and 300 MB of decoding work by default),
#: lowered to ours for the extraction only.
PDF_LIMITS = {
    "maximum_declared_stream_length": MAX_INFLATED_BYTES,
    "zlib_maximum_output_length": MAX_INFLATED_BYTES,
    "lzw_maximum_output_length": MAX_INFLATED_BYTES,
    "run_length_maximum_output_length": MAX_INFLATED_BYTES,
    "array_based_stream_maximum_output_length": MAX_INFLATED_BYTES,
    "flate_maximum_row_length": MAX_INFLATED_BYTES,
    "stream_decoding_work_maximum_length": 2 * MAX_INFLATED_BYTES,
}


def _pdf(data: bytes) -> str:
    try:
        from pypdf import PdfReader, apply_configuration
        from pypdf.errors import PyPdfError
    except ModuleNotFoundError:
        raise Unreadable("PDF import needs pypdf; install it: pip install pypdf==7.1.1") from None
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings about damaged files go to the result
    try:
        with apply_configuration(None, **PDF_LIMITS):
            return _pdf_text(PdfReader(io.BytesIO(data)))
    except Unreadable:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, MemoryError) as exc:
        raise Unreadable(f"not a readable PDF ({type(exc).__name__}: {str(exc)[:120]})") from None


def _pdf_text(reader: PdfReader) -> str:
    if reader.is_encrypted:
        try:
            reader.decrypt("")
        except Exception:  # noqa: BLE001
            raise Unreadable("the PDF is encrypted") from None
    if len(reader.pages) > MAX_PDF_PAGES:
        raise Unreadable(f"it has {len(reader.pages):,} pages; at most {MAX_PDF_PAGES:,}: split it")
    pages, size = [], 0
    for page in reader.pages:  # stop as soon as the text is too long, not after reading it all
        pages.append((page.extract_text() or "").strip())
        size += len(pages[-1]) + 2
        if size > MAX_TEXT_CHARS:
            raise _too_long(size)
    return "\n\n".join(p for p in pages if p)


def _docx(data: bytes) -> str:
    try:
        import docx
    except ModuleNotFoundError:
        raise Unreadable("Word import needs python-docx; install it: pip install python-docx==1.2.0") from None
    _check_zip(data)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - python-docx raises zipfile/KeyError/ValueError/lxml errors
        raise Unreadable(f"not a readable Word document ({type(exc).__name__})") from None
    parts = [p.text.strip() for p in document.paragraphs if p.text.strip()]
    for table in document.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells]
            if any(cells):
                parts.append(" | ".join(cells))
    return _capped("\n\n".join(parts))


def _check_zip(data: bytes) -> None:
    """A Word file is a zip: its members' sizes, as the zip declares them, are checked before anything is
    inflated (the zip reader never inflates a member past its declared size, so the check holds)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            inflated = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise Unreadable(f"not a readable Word document ({type(exc).__name__})") from None
    if inflated > MAX_INFLATED_BYTES:
        raise Unreadable(
            f"it inflates to {inflated / 2**20:,.0f} MB of XML; at most {MAX_INFLATED_BYTES // 2**20} MB are read"
        )


def _csv_rows(text: str) -> tuple[list[str], list[str]]:
    """(header, one line per row as "column: value; ...")."""
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = list(csv.reader(io.StringIO(text), dialect))
    except csv.Error as exc:
        raise Unreadable(f"not a readable CSV file ({exc})") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        return [], []
    header = [h.strip() or f"column {i + 1}" for i, h in enumerate(rows[0])]
    lines = []
    for r in rows[1:]:
        pairs = [
            f"{header[i] if i < len(header) else f'column {i + 1}'}: {v.strip()}" for i, v in enumerate(r) if v.strip()
        ]
        lines.append("; ".join(pairs))
    return header, lines


def extract_text(kind: str, data: bytes) -> str:
    """The text of a file of this kind (``SUPPORTED`` values); ``Unreadable`` says why not."""
    if kind in ("txt", "md"):
        return _decode(data)
    if kind == "pdf":
        return _pdf(data)
    if kind == "docx":
        return _docx(data)
    if kind == "csv":
        header, lines = _csv_rows(_decode(data))
        return ", ".join(header) + "\n\n" + "\n".join(lines) if header else ""
    raise Unreadable(f"unsupported file type {kind!r}")


def _document(name: str, kind: str, data: bytes, identity: str, key: str, now: datetime) -> DocumentIn:
    if kind == "csv":
        header, lines = _csv_rows(_decode(data))
        text = ", ".join(header) + "\n\n" + "\n".join(lines)
        chunks = chunk_turns(f"{name} (columns: {', '.join(header)})", lines)
    else:
        text = extract_text(kind, data)
        chunks = chunk_paragraphs(name, text)
    if not text.strip():
        raise Unreadable("no text found in it" + (" (a scanned PDF needs OCR first)" if kind == "pdf" else ""))
    if len(chunks) > MAX_CHUNKS_PER_FILE:
        raise Unreadable(
            f"it makes {len(chunks):,} chunks; at most {MAX_CHUNKS_PER_FILE:,}: split it into smaller files"
        )
    return DocumentIn(
        source=SOURCE,
        external_id=identity,
        type=kind,
        title=name,
        text=text,
        chunks=chunks,
        occurred_at=now.replace(microsecond=0),
        url=f"object:{key}",
    )


# ---- importing --------------------------------------------------------------------------------------------


def import_file_bytes(
    *,
    runtime: Runtime,
    embedder: Embedder,
    store: ObjectStore,
    name: str,
    data: bytes,
    path: str | None = None,
) -> FileResult:
    """Import one file given as bytes (an upload); never raises for a bad file: the result says why.

    A file is identified by ``path`` (an upload by its name): importing it again with other content
    replaces its document (the old chunks leave the index and, through the change log, every vector
    backend); the same bytes again do no work."""
    shown = path or name
    kind = SUPPORTED.get(Path(name).suffix.lower())
    if kind is None:
        return FileResult(
            shown, name, False, error=f"unsupported file type (expected one of {', '.join(sorted(SUPPORTED))})"
        )
    if len(data) > MAX_FILE_BYTES:
        return FileResult(shown, name, False, error=_too_big(len(data)))
    digest = hashlib.sha256(data).hexdigest()
    key = f"uploads/{digest[:2]}/{digest}.{kind}"
    try:
        doc = _document(
            name, kind, data, _identity(path, name), key, runtime.clock.now()
        )  # 1. extract: nothing stored yet
    except Unreadable as exc:
        return FileResult(shown, name, False, error=exc.message)
    previous = _previous(runtime, doc)
    if previous is not None and previous.url == doc.url:  # the same bytes: it keeps its first import time
        doc = replace(doc, occurred_at=previous.occurred_at)
    existed = store.exists(key)
    try:
        store.put(key, data, content_type=CONTENT_TYPES.get(kind))  # 2. the original
        result = index_documents(runtime=runtime, embedder=embedder, documents=[doc])  # 3. one transaction
    except BaseException as exc:
        if not existed:
            store.delete(key)
        if isinstance(exc, SophiaError):
            return FileResult(shown, name, False, error=exc.message)
        raise
    if previous is not None and previous.url != doc.url:
        _forget_original(runtime, store, previous.url)
    return FileResult(
        shown,
        name,
        True,
        doc_id=result.document_ids.get(doc.key),
        chunks=len(doc.chunks),
        key=key,
        unchanged=result.documents_unchanged == 1,
    )


def _too_big(size: int) -> str:
    return f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB ({size / 2**20:,.1f} MB)"


def _identity(path: str | None, name: str) -> str:
    """What names a file across imports: its full path, or an upload's name."""
    return f"path:{Path(path).expanduser().resolve()}" if path else f"upload:{name}"


@dataclass(frozen=True)
class _Previous:
    url: str | None
    occurred_at: datetime | None


def _previous(runtime: Runtime, doc: DocumentIn) -> _Previous | None:
    """The document this file had from an earlier import, if any."""
    with runtime.session() as session:
        row = session.execute(
            select(Document.url, Document.occurred_at).where(
                Document.source == SOURCE, Document.external_id == doc.external_id
            )
        ).first()
    return _Previous(row.url, row.occurred_at) if row else None


def _forget_original(runtime: Runtime, store: ObjectStore, url: str | None) -> None:
    """Remove a replaced original from the object store, unless another document still refers to it."""
    if not url or not url.startswith("object:"):
        return
    with runtime.session() as session:
        still_used = session.scalar(select(func.count()).select_from(Document).where(Document.url == url))
    if not still_used:
        store.delete(url.removeprefix("object:"))


def read_bounded(path: Path) -> bytes:
    """The file's bytes, its size checked before reading and the read itself bounded (a file that grows
    meanwhile, or a device or pipe that reports no size, is not read past the limit)."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise Unreadable(_too_big(size))
    with path.open("rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise Unreadable(_too_big(len(data)))
    return data


def _expand(paths: Sequence[str | os.PathLike[str]]) -> list[tuple[Path, str | None]]:
    """(file, error) for each named file and each supported file under each named folder (hidden files and
    folders skipped), in a stable order."""
    out: list[tuple[Path, str | None]] = []
    for p in paths:
        path = Path(p).expanduser()
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for f in sorted(files):
                    if not f.startswith(".") and Path(f).suffix.lower() in SUPPORTED:
                        out.append((Path(root) / f, None))
        elif path.is_file():
            out.append((path, None))
        else:
            out.append((path, "no such file or folder"))
    return out


def import_files(
    *,
    runtime: Runtime,
    embedder: Embedder,
    store: ObjectStore,
    paths: Sequence[str | os.PathLike[str]],
    progress: Progress | None = None,
    by_name: bool = False,
) -> list[FileResult]:
    """Import files, and the supported files in folders (walked recursively); one result per file. A file is
    identified by its path, or by its name alone with ``by_name`` (uploads, written to a temporary folder)."""
    if not paths:
        raise InvalidInput("name at least one file or folder")
    items = _expand(paths)
    results = []
    for i, (path, error) in enumerate(items, start=1):
        if error is not None:
            results.append(FileResult(str(path), path.name, False, error=error))
        else:
            try:
                data = read_bounded(path)
            except Unreadable as exc:
                results.append(FileResult(str(path), path.name, False, error=exc.message))
            except OSError as exc:
                results.append(FileResult(str(path), path.name, False, error=f"cannot read it: {exc.strerror}"))
            else:
                results.append(
                    import_file_bytes(
                        runtime=runtime,
                        embedder=embedder,
                        store=store,
                        name=path.name,
                        data=data,
                        path=None if by_name else str(path),
                    )
                )
        if progress is not None:
            progress(i, len(items), path.name)
    return results


# ---- imported documents -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileDocument:
    """An imported file as a document."""

    doc_id: int
    name: str
    type: str
    origin: str  # the path it was imported from, or "upload"
    chunks: int
    imported_at: datetime | None

    def as_json(self) -> dict:
        return {
            "doc_id": str(self.doc_id),
            "name": self.name,
            "type": self.type,
            "origin": self.origin,
            "chunks": self.chunks,
            "imported_at": self.imported_at.isoformat() if self.imported_at else None,
        }


def _origin(external_id: str) -> str:
    kind, _, rest = external_id.partition(":")
    return rest if kind == "path" else "upload" if kind == "upload" else "earlier import"


def list_files(*, runtime: Runtime) -> list[FileDocument]:
    """Every imported file's document, newest first."""
    chunks = select(Chunk.document_id, func.count().label("n")).group_by(Chunk.document_id).subquery()
    stmt = (
        select(Document.id, Document.title, Document.type, Document.external_id, chunks.c.n, Document.occurred_at)
        .outerjoin(chunks, chunks.c.document_id == Document.id)
        .where(Document.source == SOURCE)
        .order_by(Document.occurred_at.desc(), Document.id.desc())
    )
    with runtime.session() as session:
        rows = session.execute(stmt).all()
    return [FileDocument(i, title, kind, _origin(ext), n or 0, at) for i, title, kind, ext, n, at in rows]


def delete_file(*, runtime: Runtime, store: ObjectStore, doc_id: str | int) -> FileDocument:
    """Delete an imported file's document: its chunks leave the index (and, through the change log, every
    vector backend), its original leaves the object store. Documents built from records are refused: the
    next indexing run would build them again from their record."""
    try:
        did = int(doc_id)
    except (TypeError, ValueError):
        raise InvalidInput(f"{doc_id!r} is not a document id") from None
    found = next((f for f in list_files(runtime=runtime) if f.doc_id == did), None)
    with runtime.session() as session:
        doc = session.get(Document, did) if found is None and 0 < did < 2**63 else None
        if found is None:
            if doc is None:
                raise NotFound(f"no document {doc_id}")
            raise InvalidInput(
                f"document {did} comes from {doc.source} ({doc.type}): it is built from that record and comes "
                "back at the next indexing; only imported files can be deleted here"
            )
        url = session.get(Document, did).url  # type: ignore[union-attr]
        delete_documents(session=session, document_ids=[did])
    _forget_original(runtime, store, url)
    return found
