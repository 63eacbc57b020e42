"""Objects in an S3 bucket (or any S3-compatible server) through boto3."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from core.config import Settings
from core.errors import BackendUnavailable, NotFound
from core.storage.base import check_key, check_prefix

URL_TTL_S = 3600  # how long a link from url_for works
MISSING_CODES = {"NoSuchKey", "404", "NotFound"}
CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=60, retries={"mode": "standard", "max_attempts": 3})


def make_s3_client(settings: Settings) -> Any:
    """A boto3 S3 client; credentials come from boto3's usual chain (env, profile, instance role)."""
    config = CLIENT_CONFIG
    if settings.s3_endpoint_url:  # MinIO, moto and most S3-compatible servers want path-style URLs
        config = config.merge(Config(s3={"addressing_style": "path"}))
    return boto3.client("s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region, config=config)


class S3ObjectStore:
    """``s3://<bucket>/<prefix><key>``; a missing object is ``NotFound``, an unusable bucket is
    ``BackendUnavailable``."""

    def __init__(self, client: Any, *, bucket: str, prefix: str = "") -> None:
        self._s3 = client
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""

    def put(self, key: str, data: bytes, content_type: str | None = None) -> str:
        extra = {"ContentType": content_type} if content_type else {}
        with self._errors():
            self._s3.put_object(Bucket=self.bucket, Key=self._name(key), Body=data, **extra)
        return key

    def get(self, key: str) -> bytes:
        with self._errors(missing=key):
            reply = self._s3.get_object(Bucket=self.bucket, Key=self._name(key))
            return reply["Body"].read()

    def exists(self, key: str) -> bool:
        try:
            with self._errors(missing=key):
                self._s3.head_object(Bucket=self.bucket, Key=self._name(key))
        except NotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        with self._errors():
            self._s3.delete_object(Bucket=self.bucket, Key=self._name(key))

    def list(self, prefix: str = "") -> list[str]:
        check_prefix(prefix)
        pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix + prefix)
        with self._errors():
            names = [obj["Key"] for page in pages for obj in page.get("Contents", [])]
        return sorted(name.removeprefix(self.prefix) for name in names)

    def url_for(self, key: str) -> str:
        params = {"Bucket": self.bucket, "Key": self._name(key)}
        return self._s3.generate_presigned_url("get_object", Params=params, ExpiresIn=URL_TTL_S)

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    @contextmanager
    def _errors(self, missing: str | None = None) -> Iterator[None]:
        """S3 failures as our errors: a missing object, or a bucket we cannot use."""
        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            if missing is not None and code in MISSING_CODES:
                raise NotFound(f"no object {missing!r}") from None
            detail = f"{code}: {error['Message']}" if error.get("Message") else code or str(exc)
            raise BackendUnavailable(f"S3 bucket {self.bucket!r} refused the request ({detail})") from exc
        except BotoCoreError as exc:
            raise BackendUnavailable(f"S3 bucket {self.bucket!r} cannot be reached: {exc}") from exc
