"""The audit log: every write by a person or a tool leaves a row."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from core.db.models import AuditLog


def audit(
    *, session: Session, actor: str, action: str, target: str | None = None, details: dict[str, Any] | None = None
) -> None:
    session.add(AuditLog(actor=actor, action=action, target=target, details=details or {}))
