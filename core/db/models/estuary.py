"""Estuary Flow feeds: the webhook materializations that push change documents to us."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models.base import Base
from core.db.types import utcnow


class EstuaryFeed(Base):
    """One webhook materialization: its secret (hashed) and its bindings, collection path -> target."""

    __tablename__ = "estuary_feeds"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the shared secret
    bindings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EstuaryDocState(Base):
    """The newest document applied per collection key, so a replayed or stale document changes nothing."""

    __tablename__ = "estuary_doc_state"
    __table_args__ = (UniqueConstraint("feed", "collection", "doc_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed: Mapped[str] = mapped_column(String(64))
    collection: Mapped[str] = mapped_column(String(255))
    doc_key: Mapped[str] = mapped_column(String(191))
    published_us: Mapped[int] = mapped_column(BigInteger)  # from the document's _meta.uuid (v1 time)
    op: Mapped[str] = mapped_column(String(1))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
