"""Reaching the real PostgreSQL and Redis servers from tests.

With CI=true a missing server fails the test; elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

PG_ADMIN_URL = os.environ.get("SOPHIA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SOPHIA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def service_missing(what: str, exc: BaseException) -> None:
    msg = f"{what} unreachable: {exc}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{msg} (CI=true: the real server is required)")
    pytest.skip(msg)


@contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh, empty schema on the real PostgreSQL; yields a URL whose search_path points at it."""
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        service_missing("PostgreSQL at 127.0.0.1:5432", exc)
    sep = "&" if "?" in PG_ADMIN_URL else "?"
    try:
        yield f"{PG_ADMIN_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def redis_url_or_fail() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        service_missing("Redis at 127.0.0.1:6379", exc)
    return REDIS_URL
