"""Consensus for a decision, offline: each specialist judges the subject independently by its own rules over
its own tools; the verdict is the majority, stated with the agreement ("3 of 4") and each dissent's reason.
A specialist whose tools the caller's role does not allow abstains and is named as such."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from core.agents.consensus import Vote, tally
from core.agents.offline.entities import Entity, tokens
from core.tools.lookup import adding_reason

if TYPE_CHECKING:
    from core.agents.offline.engine import Answering


Rule = Callable[["Answering", Entity, Entity | None], Vote]


def _first_reason(result_data: dict[str, Any]) -> str:
    items = result_data.get("items") or []
    if not items:
        return ""
    item = items[0]
    detail = adding_reason(item["title"], item.get("reasons") or [])
    return f"{item['title']}" + (f" ({detail})" if detail else "")


def _findings_vote(
    a: Answering, agent: str, calls: list[tuple[str, dict[str, Any]]], yes_lead: str, no_reason: str
) -> Vote:
    judged, hits = False, []
    for tool, args in calls:
        result = a.call(agent, tool, args)
        if result is None:
            continue
        judged = True
        if result.data.get("total"):
            hits.append(_first_reason(result.data))
    if not judged:
        return Vote(agent, None, "could not assess with your role")
    if hits:
        return Vote(agent, True, yes_lead + "; ".join(h for h in hits if h))
    return Vote(agent, False, no_reason)


def client_health(a: Answering, acct: Entity, deal: Entity | None) -> Vote:
    return _findings_vote(
        a,
        "client_health",
        [("account_risk", {"signal": "churn_risk", "account": acct.key})],
        "",
        "no churn signals: usage, payments and engagement hold",
    )


def finance(a: Answering, acct: Entity, deal: Entity | None) -> Vote:
    calls = [
        ("payment_metrics", {"view": v, "account": acct.key}) for v in ("volume_drops", "failure_rate", "late_payers")
    ]
    return _findings_vote(a, "finance", calls, "", "payments are steady and invoices are paid on time")


def sales_coach(a: Answering, acct: Entity, deal: Entity | None) -> Vote:
    calls = [("deal_pipeline", {"view": v, "account": acct.key}) for v in ("stalled", "slipping")]
    calls.append(("call_analysis", {"view": "competitors", "account": acct.key}))
    return _findings_vote(a, "sales_coach", calls, "", "its deals are moving and no competitor came up on calls")


def research(a: Answering, acct: Entity, deal: Entity | None) -> Vote:
    calls = [("account_risk", {"signal": s, "account": acct.key}) for s in ("champion_left", "engagement_decline")]
    return _findings_vote(a, "research", calls, "", "the champions are still there and engagement holds")


RULES: list[tuple[str, Rule]] = [
    ("client_health", client_health),
    ("finance", finance),
    ("sales_coach", sales_coach),
    ("research", research),
]


def _deal_of(a: Answering, acct: Entity) -> Entity | None:
    named = a.first("deal")
    if named is not None:
        return named
    from core.agents.offline.entities import entity_index

    words = set(tokens(a.turn.question))
    deals = entity_index(a.turn.ctx.runtime).deals_of(acct.key)
    scored = sorted(deals, key=lambda d: -len(words & set(tokens(d.name.split("—")[-1]))))
    if scored and words & set(tokens(scored[0].name.split("—")[-1])):
        return scored[0]
    return None


def decide(a: Answering) -> Iterator[str]:
    acct = a.first("account")
    escalate = a.intent.kind == "decision_escalate"
    if acct is None:
        yield 'Which account or deal? Name it, e.g. "is Harbor Point at risk?".'
        return
    deal = _deal_of(a, acct)
    votes = [rule(a, acct, deal) for _, rule in RULES]
    subject = deal.name if (escalate and deal) else acct.name
    if not any(v.yes is not None for v in votes):
        yield f"None of the specialists could assess {subject} with your role."
        return
    text, a.turn.consensus = tally(votes, escalate=escalate, subject=subject, titles=TITLES)
    yield text


TITLES = {
    "client_health": "Client Health",
    "finance": "Finance & Payments",
    "sales_coach": "Sales Coach",
    "research": "Research",
}
