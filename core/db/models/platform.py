"""The platform's own tables: search documents, sync state, runs, identity, audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db.models.base import Base
from core.db.types import utcnow

# ---- search -------------------------------------------------------------------------------


class Document(Base):
    """Text that search can find: one per text-bearing record or imported file."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_documents_record", "record_table", "record_id"),  # a record's document; records gone
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(191))
    type: Mapped[str] = mapped_column(String(32), index=True)  # call | email | note | slack_thread | invoice | file ...
    title: Mapped[str] = mapped_column(String(512))
    text: Mapped[str] = mapped_column(Text)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    author: Mapped[str | None] = mapped_column(String(255))
    owner: Mapped[str | None] = mapped_column(String(255), index=True)  # the account/deal owner's email
    occurred_at: Mapped[datetime | None] = mapped_column(index=True)  # when it happened (call, email, message)
    min_role: Mapped[str] = mapped_column(
        String(16), default="viewer", server_default="viewer"
    )  # the least role that may see it
    url: Mapped[str | None] = mapped_column(String(1024))
    record_table: Mapped[str | None] = mapped_column(String(64))
    record_id: Mapped[int | None] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)
    chunks: Mapped[list[Chunk]] = relationship(cascade="all, delete-orphan", order_by="Chunk.position")


class Chunk(Base):
    __tablename__ = "chunks"
    __table_args__ = (UniqueConstraint("document_id", "position"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)  # float32 little-endian
    embedding_model: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ChunkChange(Base):
    """The change log of the chunks table, written in the same transaction as the chunks: every vector
    backend consumes it after its own position, so a backend that was down catches up with nothing lost."""

    __tablename__ = "chunk_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chunk_id: Mapped[int] = mapped_column(Integer, index=True)  # no FK: the chunk may be gone (op "d")
    op: Mapped[str] = mapped_column(String(1))  # u (inserted or updated) | d (deleted)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class IndexSyncState(Base):
    """Per vector backend: how far it has consumed chunk_changes, and its last error."""

    __tablename__ = "index_sync_state"
    backend: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_change_id: Mapped[int] = mapped_column(Integer, default=0)
    chunks_indexed: Mapped[int] = mapped_column(Integer, default=0)
    last_sync_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    error_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))  # core.leases: one run per backend
    lease_expires_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# ---- ingestion ----------------------------------------------------------------------------


class SyncState(Base):
    """The saved cursor of one connector stream; written only after the batch it covers commits."""

    __tablename__ = "sync_state"
    __table_args__ = (UniqueConstraint("connector", "stream"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connector: Mapped[str] = mapped_column(String(128))
    stream: Mapped[str] = mapped_column(String(128))
    cursor: Mapped[dict[str, Any] | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PipelineRun(Base):
    __tablename__ = "pipeline_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connector: Mapped[str] = mapped_column(String(128), index=True)
    stream: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | succeeded | failed
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None]
    records_read: Mapped[int] = mapped_column(Integer, default=0)
    records_written: Mapped[int] = mapped_column(Integer, default=0)
    records_quarantined: Mapped[int] = mapped_column(Integer, default=0)
    cursor_before: Mapped[dict[str, Any] | None]
    cursor_after: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)


# ---- identity and audit -------------------------------------------------------------------


class Role(Base):
    __tablename__ = "roles"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    rank: Mapped[int] = mapped_column(Integer)  # higher rank includes what lower ranks may do


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(ForeignKey("roles.name"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # bumped when the password, the role or the active flag changes: tokens and the app's re-login cookie
    # carry the version they were issued under and stop working once it moves on
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # public key id, e.g. ak_1f3e9c0d2b7a
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the whole key
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    user: Mapped[User] = relationship()


class AuditLog(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128))  # username, "cli", "system" or "api-key:<id>"
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Meta(Base):
    """Small named facts about this installation (e.g. the loaded demo and its planted truth)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
