"""Uploads from the Search page, imported in a child process: parsing a PDF or a Word file, chunking and
embedding run in `sophia ingest`, not in the Streamlit server, so a hostile or huge file costs a short-lived
process (its memory returned when it ends) and never the server every user shares."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.runtime import Runtime

ROOT = Path(__file__).resolve().parents[1]
#: The child is stopped if it takes longer (embedding a file at the size limit takes a few minutes here).
IMPORT_TIMEOUT_S = 900


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes


@dataclass(frozen=True)
class UploadResult:
    name: str
    ok: bool
    chunks: int = 0
    unchanged: bool = False
    error: str | None = None


def import_uploads(*, runtime: Runtime, uploads: Sequence[Upload]) -> list[UploadResult]:
    """Import uploaded files by name (a second upload of the same name replaces the first) in a child
    `sophia ingest --uploads --json`, which also pushes the new chunks to the vector backends."""
    with tempfile.TemporaryDirectory(prefix="sophia-upload-") as tmp:
        paths = []
        for up in uploads:
            path = Path(tmp) / Path(up.name).name
            path.write_bytes(up.data)
            paths.append(str(path))
        done = _run_ingest(runtime, paths)
    return _results(done, [Path(p).name for p in paths])


def _run_ingest(runtime: Runtime, paths: list[str]) -> subprocess.CompletedProcess[str] | None:
    argv = [sys.executable, "-m", "app.cli.main", "ingest", "--uploads", "--json", *paths]
    try:
        return subprocess.run(
            argv, cwd=ROOT, env=runtime.settings.child_env(), capture_output=True, text=True, timeout=IMPORT_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        return None


def _results(done: subprocess.CompletedProcess[str] | None, names: list[str]) -> list[UploadResult]:
    if done is None:
        return [
            UploadResult(n, False, error=f"the import took longer than {IMPORT_TIMEOUT_S // 60} minutes") for n in names
        ]
    try:
        files = json.loads(done.stdout)["files"]
    except (ValueError, KeyError, TypeError):
        reason = (done.stderr.strip().splitlines() or ["the import stopped"])[-1].removeprefix("error: ")
        return [UploadResult(n, False, error=reason) for n in names]
    return [
        UploadResult(f["name"], bool(f["ok"]), int(f.get("chunks") or 0), bool(f.get("unchanged")), f.get("error"))
        for f in files
    ]
