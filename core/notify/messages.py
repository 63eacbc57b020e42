"""Block Kit messages (``slack_sdk.models.blocks``, whose objects check Slack's limits when serialized): one insight
at once, or a digest of several. Each has its ``text`` fallback (mobile notifications and screen readers read only
that). Links point back into Sophia (``SOPHIA_PUBLIC_URL``): the insight ``/insights?insight=<id>``, its account
``/account?account=<external_id>``, each evidence record ``/record?doc=<doc_id>``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import Account, Insight

__all__ = ["Card", "Links", "Message", "cards_for", "digest_messages", "insight_message", "probe_message"]

MAX_BLOCKS = 50  # per message (Block Kit)
HEADER_MAX = 150
SECTION_MAX = 3000
DIGEST_PER_MESSAGE = 10  # 1 header + 2 blocks each + a divider = 22 blocks; ~10k characters at worst (cap ~12k)
EVIDENCE_SHOWN = 8
TEXT_MAX = 3000
SEVERITY_ICON = {"critical": ":red_circle:", "high": ":large_orange_circle:", "medium": ":large_yellow_circle:"}
SEVERITY_ICON_DEFAULT = ":white_circle:"


def escape(text: str) -> str:
    """Untrusted text in mrkdwn: only &, < and > are escaped (Slack's formatting rules)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class Links:
    base: str  # SOPHIA_PUBLIC_URL, no trailing slash

    def insight(self, insight_id: int) -> str:
        return f"{self.base}/insights?insight={insight_id}"

    def account(self, external_id: str) -> str:
        return f"{self.base}/account?account={quote(external_id, safe='')}"

    def record(self, doc_id: int) -> str:
        return f"{self.base}/record?doc={doc_id}"


@dataclass(frozen=True)
class Card:
    """What a message says about one insight (read once from the database, posted from memory)."""

    id: int
    type: str
    severity: str
    title: str
    reasons: list[str]
    evidence: list[dict[str, Any]]
    subject_table: str
    subject_external_id: str
    subject_name: str
    owner: str | None
    account_external_id: str | None = None
    account_name: str | None = None


@dataclass
class Message:
    text: str
    blocks: list[Block] = field(default_factory=list)
    insight_ids: list[int] = field(default_factory=list)  # the insights it tells about

    def block_dicts(self) -> list[dict[str, Any]]:
        """The blocks as sent; raises ``SlackObjectFormationError`` on a limit (checked when serialized)."""
        if len(self.blocks) > MAX_BLOCKS:
            raise ValueError(f"{len(self.blocks)} blocks: a message holds {MAX_BLOCKS} at most")
        return [b.to_dict() for b in self.blocks]


def cards_for(session: Session, insight_ids: Sequence[int]) -> dict[int, Card]:
    rows = session.execute(
        select(Insight, Account.external_id, Account.name)
        .outerjoin(Account, Account.id == Insight.account_id)
        .where(Insight.id.in_(list(insight_ids)))
    ).all()
    return {
        row.id: Card(
            id=row.id,
            type=row.type,
            severity=row.severity,
            title=row.title,
            reasons=[str(r) for r in row.reasons or []],
            evidence=[dict(e) for e in row.evidence or []],
            subject_table=row.subject_table,
            subject_external_id=row.subject_external_id,
            subject_name=row.subject_name,
            owner=row.owner,
            account_external_id=account_ext,
            account_name=account_name,
        )
        for row, account_ext, account_name in rows
    }


def _account(card: Card, links: Links) -> str | None:
    if card.account_external_id:
        name = escape(card.account_name or card.account_external_id)
        return f"<{links.account(card.account_external_id)}|{name}>"
    if card.subject_table == "accounts":
        return f"<{links.account(card.subject_external_id)}|{escape(card.subject_name)}>"
    return None


def _evidence_line(item: dict[str, Any], links: Links) -> str:
    label = escape(str(item.get("label") or f"{item.get('table', 'record')} {item.get('external_id', '')}".strip()))
    if item.get("doc_id"):
        return f"<{links.record(int(item['doc_id']))}|{label}>"
    if item.get("table") == "accounts" and item.get("external_id"):
        return f"<{links.account(str(item['external_id']))}|{label}>"
    return label


def _context_items(card: Card, links: Links) -> list[str]:
    items = [f"*{escape(card.type)}*", f"{SEVERITY_ICON.get(card.severity, SEVERITY_ICON_DEFAULT)} {card.severity}"]
    account = _account(card, links)
    if account:
        items.append(f"Account: {account}")
    if card.owner:
        items.append(f"Owner: {escape(card.owner)}")
    return items


def _bullets(lines: Sequence[str], limit: int) -> str:
    out: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        entry = f"• {line}"
        if used + len(entry) + 1 > limit - 20:
            out.append(f"_…and {len(lines) - i} more_")
            break
        out.append(entry)
        used += len(entry) + 1
    return "\n".join(out)


def insight_message(card: Card, *, links: Links) -> Message:
    """One insight: its title, reasons, evidence (links into Sophia), a context line (type, severity, account,
    owner) and two link buttons to its page."""
    icon = SEVERITY_ICON.get(card.severity, SEVERITY_ICON_DEFAULT)
    blocks: list[Block] = [HeaderBlock(text=clip(f"{icon} {card.title}", HEADER_MAX))]
    if card.reasons:
        reasons = _bullets([escape(r) for r in card.reasons], SECTION_MAX)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"*Why*\n{reasons}")))
    if card.evidence:
        shown = [_evidence_line(e, links) for e in card.evidence[:EVIDENCE_SHOWN]]
        more = len(card.evidence) - len(shown)
        body = _bullets(shown, SECTION_MAX - 40) + (f"\n_…and {more} more in Sophia_" if more > 0 else "")
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"*Evidence*\n{body}")))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(t, 2000)) for t in _context_items(card, links)]))
    url = links.insight(card.id)
    blocks.append(
        ActionsBlock(
            elements=[
                ButtonElement(text="Open in Sophia", url=url, action_id=f"open_insight_{card.id}", style="primary"),
                ButtonElement(text="Acknowledge", url=url, action_id=f"ack_insight_{card.id}"),
            ]
        )
    )
    first = f" {card.reasons[0]}" if card.reasons else ""
    text = clip(f"[{card.severity}] {card.title}.{first} {url}", TEXT_MAX)
    return Message(text=text, blocks=blocks, insight_ids=[card.id])


def _digest_entry(card: Card, links: Links) -> list[Block]:
    icon = SEVERITY_ICON.get(card.severity, SEVERITY_ICON_DEFAULT)
    head = f"{icon} *<{links.insight(card.id)}|{escape(clip(card.title, 200))}>*"
    reasons = "\n".join(f"• {escape(clip(r, 200))}" for r in card.reasons[:2])
    body = f"{head}\n{reasons}" if reasons else head  # at most ~800 characters: each part is clipped
    context = ContextBlock(elements=[MarkdownTextObject(text=clip(t, 2000)) for t in _context_items(card, links)])
    return [SectionBlock(text=MarkdownTextObject(text=body)), context]


def digest_messages(cards: Sequence[Card], *, links: Links, per_message: int = DIGEST_PER_MESSAGE) -> list[Message]:
    """A digest: the insights most severe first, ``per_message`` to a message (the rest continue in the next,
    so no message passes 50 blocks)."""
    if not 1 <= per_message <= (MAX_BLOCKS - 3) // 2:
        raise ValueError("per_message must keep a digest within 50 blocks")
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    ranked = sorted(cards, key=lambda c: (order.get(c.severity, 9), c.id))
    parts = [ranked[i : i + per_message] for i in range(0, len(ranked), per_message)]
    messages = []
    for n, part in enumerate(parts, start=1):
        counted = f"{len(ranked)} insight{'s' if len(ranked) != 1 else ''}"
        title = f"Sophia digest: {counted}" + (f" ({n}/{len(parts)})" if len(parts) > 1 else "")
        blocks: list[Block] = [HeaderBlock(text=clip(title, HEADER_MAX))]
        for card in part:
            blocks.extend(_digest_entry(card, links))
        blocks.append(DividerBlock())
        text_items = "; ".join(f"[{c.severity}] {c.title}" for c in part)
        text = clip(f"{title}: {text_items}. Open them in Sophia: {links.base}/insights", TEXT_MAX)
        messages.append(Message(text=text, blocks=blocks, insight_ids=[c.id for c in part]))
    return messages


def probe_message(*, links: Links, channel: str) -> Message:
    text = f"Sophia can post to {channel}: insights routed here will arrive like this. {links.base}/insights"
    blocks: list[Block] = [
        HeaderBlock(text="Sophia test message"),
        SectionBlock(text=MarkdownTextObject(text=escape(text.split(" " + links.base)[0]) + ".")),
        ContextBlock(elements=[MarkdownTextObject(text=f"<{links.base}/insights|Open the insights in Sophia>")]),
    ]
    return Message(text=text, blocks=blocks)
