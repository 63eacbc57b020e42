"""Object storage: S3 when ``SOPHIA_S3_BUCKET`` is set, else a folder under the data dir."""

from __future__ import annotations

from core.config import Settings
from core.storage.base import ObjectStore
from core.storage.local import LocalObjectStore

__all__ = ["LocalObjectStore", "ObjectStore", "make_object_store"]


def make_object_store(settings: Settings) -> ObjectStore:
    """The configured object store. Nothing is contacted until first use."""
    if settings.s3_bucket:
        from core.storage.s3 import S3ObjectStore, make_s3_client  # boto3 is slow to import

        return S3ObjectStore(make_s3_client(settings), bucket=settings.s3_bucket, prefix=settings.s3_prefix)
    return LocalObjectStore(settings.files_dir)
