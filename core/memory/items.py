"""What a memory is to the rest of Sophia (``MemoryItem``) and the checks every input passes before storing."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from core.db.types import json_ready
from core.errors import InvalidInput

#: mem0's payload keys that hold the scope, the text and the dates: kept in their own columns.
SCOPE_KEYS = frozenset(
    {"data", "user_id", "agent_id", "run_id", "category", "expiration_date", "created_at", "updated_at"}
)
#: mem0's own payload keys kept in the payload column but not shown as the caller's metadata.
MEM0_KEYS = frozenset({"hash", "role", "actor_id", "attributed_to", "memory_type", "text_lemmatized"})
#: Keys a caller's metadata may not use: mem0 would read them as its own.
RESERVED_KEYS = SCOPE_KEYS | MEM0_KEYS | {"id", "memory", "score", "metadata"}
#: The longest agent name, conversation id and category (the columns' widths).
MAX_SCOPE_CHARS = 128
MAX_CATEGORY_CHARS = 64
#: The caller's metadata, as JSON, at most this long: it is recalled with every search.
MAX_METADATA_CHARS = 4000


@dataclass(frozen=True)
class MemoryItem:
    """One remembered fact. ``agent`` None: the user's own, shared by every agent; ``conversation`` None: not
    tied to one conversation. ``score`` is set on search results only (higher is closer, at most 1)."""

    id: str
    text: str
    user: str
    agent: str | None
    conversation: str | None
    category: str | None
    metadata: dict[str, Any] = field(hash=False)
    created_at: datetime
    updated_at: datetime
    expires_on: date | None
    last_recalled_at: datetime | None
    recall_count: int
    score: float | None = None

    def as_json(self) -> dict[str, Any]:
        """The item as JSON-ready values: dates and datetimes as ISO strings (what the CLI and the API print)."""
        return {
            "id": self.id,
            "text": self.text,
            "user": self.user,
            "agent": self.agent,
            "conversation": self.conversation,
            "category": self.category,
            "metadata": json_ready(self.metadata),
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "expires_on": self.expires_on.isoformat() if self.expires_on else None,
            "last_recalled_at": self.last_recalled_at.isoformat() if self.last_recalled_at else None,
            "recall_count": self.recall_count,
            "score": None if self.score is None else round(self.score, 4),
        }


def item_from_row(row: Mapping[Any, Any], *, score: float | None = None) -> MemoryItem:
    """A ``memories`` row (a mapping of its columns) as a ``MemoryItem``."""
    payload = row["payload"] or {}
    return MemoryItem(
        id=row["id"],
        text=row["text"],
        user=row["username"],
        agent=row["agent"],
        conversation=row["conversation"],
        category=row["category"],
        metadata={k: v for k, v in payload.items() if k not in MEM0_KEYS},
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        expires_on=row["expires_on"],
        last_recalled_at=row["last_recalled_at"],
        recall_count=row["recall_count"] or 0,
        score=score,
    )


# ---- input checks ---------------------------------------------------------------------------------------


def check_text(text: str, *, max_chars: int) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("a memory needs some text")
    text = text.strip()
    if len(text) > max_chars:
        raise InvalidInput(
            f"the memory is {len(text)} characters; at most {max_chars} are kept (SOPHIA_MEMORY_MAX_CHARS)"
        )
    return text


def check_query(query: str, *, max_chars: int) -> str:
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput("the search needs a query")
    return query.strip()[: max_chars * 4]  # the model reads 256 word pieces at most anyway


def check_scope(value: str | None, what: str, *, max_chars: int = MAX_SCOPE_CHARS) -> str | None:
    """An agent name, conversation id or category: None, or a non-empty name without whitespace (mem0 refuses
    whitespace in its ids) and not longer than its column."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{what} must not be empty")
    value = value.strip()
    if any(c.isspace() for c in value):
        raise InvalidInput(f"{what} {value!r} must not contain spaces")
    if len(value) > max_chars:
        raise InvalidInput(f"{what} is longer than {max_chars} characters")
    return value


def check_category(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("the category must not be empty")
    value = value.strip()
    if len(value) > MAX_CATEGORY_CHARS:
        raise InvalidInput(f"the category is longer than {MAX_CATEGORY_CHARS} characters")
    return value


def check_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """The caller's metadata: a JSON object with string keys, none of mem0's own, not too large."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidInput("metadata must be a mapping of names to values")
    clash = sorted(str(k) for k in metadata if str(k) in RESERVED_KEYS)
    if clash:
        raise InvalidInput(f"metadata key {clash[0]!r} is reserved; use another name")
    ready = json_ready(dict(metadata))
    try:
        encoded = json.dumps(ready, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"metadata must be plain JSON values: {exc}") from None
    if len(encoded) > MAX_METADATA_CHARS:
        raise InvalidInput(f"metadata is {len(encoded)} characters as JSON; at most {MAX_METADATA_CHARS}")
    return dict(ready)


def check_expiry(expires_on: date | None, *, today: date) -> date | None:
    if expires_on is None:
        return None
    if isinstance(expires_on, datetime):
        expires_on = expires_on.date()
    if not isinstance(expires_on, date):
        raise InvalidInput("the expiry must be a date")
    if expires_on < today:
        raise InvalidInput(f"the expiry {expires_on.isoformat()} is in the past (today is {today.isoformat()})")
    return expires_on


def check_limit(limit: int, min_score: float | None) -> None:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100:
        raise InvalidInput("limit must be between 1 and 100")
    if min_score is not None and not (isinstance(min_score, int | float) and math.isfinite(min_score)):
        raise InvalidInput("min_score must be a number")
    if min_score is not None and not 0 <= min_score <= 1:
        raise InvalidInput("min_score must be between 0 and 1")
