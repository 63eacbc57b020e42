"""Objects as files under one folder; each write lands whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from core.errors import BackendUnavailable, InvalidInput, NotFound
from core.storage.base import check_key, check_prefix

STAGING_DIR = ".staging"  # temp files are written here, then renamed into place; never a key


class LocalObjectStore:
    """The embedded object store: ``<root>/<key>``, written via a temp file and an atomic rename."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def put(self, key: str, data: bytes, content_type: str | None = None) -> str:
        """Store ``data``; ``content_type`` is not kept by the local store."""
        path = self._path(key)
        staging = self.root / STAGING_DIR
        try:
            staging.mkdir(parents=True, exist_ok=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=staging)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except (IsADirectoryError, NotADirectoryError, FileExistsError):
            raise InvalidInput(f"object key {key!r} clashes with an existing folder or object") from None
        except OSError as exc:
            raise BackendUnavailable(f"cannot write to {self.root}: {exc.strerror}") from exc
        return key

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(f"no object {key!r}") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        if path.is_file():
            path.unlink(missing_ok=True)

    def list(self, prefix: str = "") -> list[str]:
        check_prefix(prefix)
        folder = prefix.rpartition("/")[0]
        start = self.root / folder if folder else self.root
        if not start.resolve().is_relative_to(self.root):
            return []
        keys = []
        for dirpath, dirnames, filenames in os.walk(start):
            if Path(dirpath) == self.root and STAGING_DIR in dirnames:
                dirnames.remove(STAGING_DIR)
            rel = Path(dirpath).relative_to(self.root).as_posix()
            keys += [name if rel == "." else f"{rel}/{name}" for name in filenames]
        return sorted(k for k in keys if k.startswith(prefix))

    def url_for(self, key: str) -> str:
        return self._path(key).as_uri()

    def _path(self, key: str) -> Path:
        check_key(key)
        if key.split("/", 1)[0] == STAGING_DIR:
            raise InvalidInput(f"object keys cannot start with {STAGING_DIR!r}")
        path = self.root / key
        if not path.resolve().is_relative_to(self.root):  # a symlink inside the root pointing out
            raise InvalidInput(f"object key {key!r} leads outside the store")
        return path
