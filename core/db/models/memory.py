"""Long-term memory of the agents (``core.memory``): one row per remembered fact, with its vector.

mem0 reaches this table through ``core.memory.mem0_parts.SqlVectorStore``; every read is scoped by ``username``
in SQL, so no query can return another user's memory, and forgetting is a DELETE.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models.base import Base
from core.db.types import utcnow


class MemoryRow(Base):
    __tablename__ = "memories"
    __table_args__ = (Index("ix_memories_username_version", "username", "version"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # mem0's uuid4
    username: Mapped[str] = mapped_column(ForeignKey("users.username", ondelete="CASCADE"))
    agent: Mapped[str | None] = mapped_column(String(128))  # None: the user's, shared by every agent
    conversation: Mapped[str | None] = mapped_column(String(128))  # mem0's run_id; None: every conversation
    category: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the caller's metadata and mem0's own keys
    embedding: Mapped[bytes] = mapped_column(LargeBinary)  # float32 little-endian, unit length
    embedding_model: Mapped[str] = mapped_column(String(128))
    expires_on: Mapped[date | None] = mapped_column(Date, index=True)  # hidden from that day on, deleted after
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)  # text, vector or scope changed (not recalls)
    version: Mapped[int] = mapped_column(Integer)  # the user's MemoryVersion when this row was last written
    last_recalled_at: Mapped[datetime | None]
    recall_count: Mapped[int] = mapped_column(Integer, default=0)


class MemoryVersion(Base):
    """Per user, a number raised in the same transaction as every write of their memories (add, change,
    delete; not a recall): a process's recall cache is up to date while the number is the one it read, and
    reads only the rows of a higher ``version`` when it moved. The row lock orders writers, so versions
    commit in order on PostgreSQL too."""

    __tablename__ = "memory_versions"
    username: Mapped[str] = mapped_column(ForeignKey("users.username", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
