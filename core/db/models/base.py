"""Declarative base and the columns every ingested record carries."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import FromClause, Integer, MetaData, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from core.db.types import Json, UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: Json, list[Any]: Json}


class SourceRecord:
    """Every record a source brings: its source, the source's id (unique together), the raw payload,
    the source's created/updated timestamps, and when we last wrote it.

    Always mixed into a ``Base`` table (``class Account(SourceRecord, Base)``), so ``type[SourceRecord]``
    is the type of any source table; the table attributes are declared for the type checker only."""

    if TYPE_CHECKING:  # as DeclarativeBase declares them
        __table__: ClassVar[FromClause]
        __tablename__: Any

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(191))
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    ingested_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)  # search follows it

    @declared_attr.directive
    def __table_args__(cls) -> tuple:  # noqa: N805
        return (UniqueConstraint("source", "external_id"),)
