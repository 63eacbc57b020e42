"""The object-store contract and the key rules every backend enforces."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from core.errors import InvalidInput

MAX_KEY_LENGTH = 1024  # S3's limit, applied everywhere so a key that works locally works on S3


@runtime_checkable
class ObjectStore(Protocol):
    """Bytes by ``/``-separated relative key."""

    def put(self, key: str, data: bytes, content_type: str | None = None) -> str:
        """Store ``data`` under ``key`` (replacing any previous object) and return the key."""

    def get(self, key: str) -> bytes:
        """The object's bytes; raises ``NotFound`` when there is none."""

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the object; removing a missing one is not an error."""

    def list(self, prefix: str = "") -> list[str]:
        """Every key starting with ``prefix``, sorted."""

    def url_for(self, key: str) -> str:
        """A URL the object can be fetched from (a file:// path, or a time-limited S3 link)."""


def check_key(key: str) -> str:
    """``key`` if it is a clean relative path; anything that could escape the store is refused."""
    if not isinstance(key, str) or not key:
        raise InvalidInput("an object key is a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(f"object key is longer than {MAX_KEY_LENGTH} characters")
    if key.startswith("/") or "\\" in key or "\x00" in key:
        raise InvalidInput(f"object key {key!r} must be a relative path with '/' separators")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise InvalidInput(f"object key {key!r} has an empty, '.' or '..' segment")
    return key


def check_prefix(prefix: str) -> str:
    """A listing prefix: empty, or the start of a valid key (it may end with '/')."""
    if prefix:
        check_key(prefix.removesuffix("/") or "/")
    return prefix
