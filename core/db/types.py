"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Numeric
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes in and out, on both backends (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime (UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Money in the account currency: exact NUMERIC on PostgreSQL, returned as float for arithmetic.
Money = Numeric(16, 2, asdecimal=False)
# A ratio or score with four decimals.
Ratio = Numeric(8, 4, asdecimal=False)
# JSON that is JSONB on PostgreSQL.
Json = JSON().with_variant(JSONB(), "postgresql")


# The largest integer either database stores (a signed 64-bit BIGINT): an id or offset beyond it names no row.
BIGINT_MAX = 2**63 - 1


def row_id(value: object) -> int | None:
    """``value`` (an int or its text, e.g. a query parameter) as a row id; None when it cannot name a row:
    not a whole number, below 1, or beyond ``BIGINT_MAX`` (the database would overflow, not answer)."""
    try:
        number = int(str(value).strip()) if isinstance(value, (int, str)) else None
    except ValueError:
        return None
    return number if number is not None and 1 <= number <= BIGINT_MAX else None


def utcnow() -> datetime:
    return datetime.now(UTC)


def json_ready(value: Any) -> Any:
    """``value`` for a JSON column: mappings and sequences walked, dates and datetimes as ISO strings."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, date):  # datetime is a date too
        return value.isoformat()
    return value
