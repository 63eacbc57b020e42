"""File import: txt, md, pdf, docx and csv files become searchable documents.

Each file becomes one document titled by its file name (source ``file``, type its extension); the original
is kept in the object store under a content-addressed key (``uploads/<sha256[:2]>/<sha256>.<ext>``); the text
is extracted, chunked, embedded and written like any other document. Importing the same bytes again does no
work. A file that cannot be read gets a clear message in its result and leaves nothing behind: the text is
extracted before anything is stored, the object is removed again when indexing fails, and the document and
its chunks are written in one transaction.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from core.db.models import Document
from core.errors import InvalidInput, SophiaError
from core.search.documents import DocumentIn, chunk_paragraphs, chunk_turns
from core.search.indexing import index_documents

if TYPE_CHECKING:
    from core.runtime import Runtime
    from core.search.embeddings import Embedder
    from core.storage import ObjectStore

__all__ = ["SUPPORTED", "FileResult", "extract_text", "import_file_bytes", "import_files"]

SUPPORTED = {".txt": "txt", ".md": "md", ".markdown": "md", ".pdf": "pdf", ".docx": "docx", ".csv": "csv"}
CONTENT_TYPES = {
    "txt": "text/plain",
    "md": "text/markdown",
    "pdf": "application/pdf",
    "csv": "text/csv",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
MAX_FILE_BYTES = 50 * 1024 * 1024
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
    if b"\x00" in data[:8192]:
        raise Unreadable("it looks binary, not text")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _pdf(data: bytes) -> str:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError
    except ModuleNotFoundError:
        raise Unreadable("PDF import needs pypdf; install it: pip install pypdf==7.1.1") from None
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings about damaged files go to the result
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                reader.decrypt("")
            except Exception:  # noqa: BLE001
                raise Unreadable("the PDF is encrypted") from None
        pages = [page.extract_text() or "" for page in reader.pages]
    except Unreadable:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise Unreadable(f"not a readable PDF ({type(exc).__name__}: {str(exc)[:120]})") from None
    return "\n\n".join(p.strip() for p in pages if p.strip())


def _docx(data: bytes) -> str:
    try:
        import docx
    except ModuleNotFoundError:
        raise Unreadable("Word import needs python-docx; install it: pip install python-docx==1.2.0") from None
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
    return "\n\n".join(parts)


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


def _document(name: str, kind: str, data: bytes, digest: str, key: str, now: datetime) -> DocumentIn:
    if kind == "csv":
        header, lines = _csv_rows(_decode(data))
        text = ", ".join(header) + "\n\n" + "\n".join(lines)
        chunks = chunk_turns(f"{name} (columns: {', '.join(header)})", lines)
    else:
        text = extract_text(kind, data)
        chunks = chunk_paragraphs(name, text)
    if not text.strip():
        raise Unreadable("no text found in it" + (" (a scanned PDF needs OCR first)" if kind == "pdf" else ""))
    return DocumentIn(
        source=SOURCE,
        external_id=f"sha256:{digest}",
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
    """Import one file given as bytes (an upload); never raises for a bad file: the result says why."""
    shown = path or name
    kind = SUPPORTED.get(Path(name).suffix.lower())
    if kind is None:
        return FileResult(
            shown, name, False, error=f"unsupported file type (expected one of {', '.join(sorted(SUPPORTED))})"
        )
    if len(data) > MAX_FILE_BYTES:
        return FileResult(shown, name, False, error=f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    digest = hashlib.sha256(data).hexdigest()
    key = f"uploads/{digest[:2]}/{digest}.{kind}"
    try:
        doc = _document(name, kind, data, digest, key, runtime.clock.now())  # 1. extract: nothing stored yet
    except Unreadable as exc:
        return FileResult(shown, name, False, error=exc.message)
    with runtime.session() as session:  # imported before: it keeps its first import time (and its hash)
        first = session.scalar(
            select(Document.occurred_at).where(Document.source == SOURCE, Document.external_id == doc.external_id)
        )
    if first is not None:
        doc = replace(doc, occurred_at=first)
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
    return FileResult(
        shown,
        name,
        True,
        doc_id=result.document_ids.get(doc.key),
        chunks=len(doc.chunks),
        key=key,
        unchanged=result.documents_unchanged == 1,
    )


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
) -> list[FileResult]:
    """Import files, and the supported files in folders (walked recursively); one result per file."""
    if not paths:
        raise InvalidInput("name at least one file or folder")
    items = _expand(paths)
    results = []
    for i, (path, error) in enumerate(items, start=1):
        if error is not None:
            results.append(FileResult(str(path), path.name, False, error=error))
        else:
            try:
                data = path.read_bytes()
            except OSError as exc:
                results.append(FileResult(str(path), path.name, False, error=f"cannot read it: {exc.strerror}"))
            else:
                results.append(
                    import_file_bytes(
                        runtime=runtime, embedder=embedder, store=store, name=path.name, data=data, path=str(path)
                    )
                )
        if progress is not None:
            progress(i, len(items), path.name)
    return results
