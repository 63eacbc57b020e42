"""The offline engine on the demo: every planted truth asked as a question, in phrasings that are not among the
intent examples (core/agents/offline/intents.py), gets the right entities, cited; questions outside its reach
get the honest refusal and nothing invented."""

from __future__ import annotations

import pytest

from core.agents.ask import ask
from core.agents.offline.intents import EXAMPLES
from tests.agents.conftest import ADMIN

#: truth key -> phrasings (none of them an intent example)
PHRASINGS = {
    "stalled_deals": ["list deals idle in the same stage", "which opportunities are not progressing?"],
    "payment_volume_drops": [
        "which clients processed lower rent volume recently?",
        "show accounts with a payment volume decline",
    ],
    "high_failure_rate": [
        "which customers have an unusually high share of failed payments?",
        "accounts where too many rent payments fail",
    ],
    "declining_engagement": [
        "which accounts are engaging with us less?",
        "where has customer sentiment and activity declined",
    ],
    "champions_left": ["did we lose any champions to job changes?", "which champion contacts changed companies"],
    "chronic_late_payers": [
        "which customers are chronically late on payments?",
        "who pays their invoices past due regularly",
    ],
    "talkative_reps": ["which reps talk the most on calls?", "reps who need to talk less on calls"],
    "stuck_accounts": ["which accounts have been onboarding for too long?", "customers whose onboarding is stuck"],
}
COMPETITOR_PHRASINGS = ["who mentioned {c}?", "which calls brought up {c}", "where did {c} come up on calls"]
OUT_OF_REACH = [
    "what's the weather in Chicago today?",
    "write a haiku about rent day",
    "who will win the next election?",
]


def _cited(result) -> set[str]:
    return {c["external_id"] for c in result.citations}


def test_the_phrasings_are_not_the_examples() -> None:
    examples = {e.lower().rstrip("?") for es in EXAMPLES.values() for e in es}
    asked = [p for ps in PHRASINGS.values() for p in ps] + COMPETITOR_PHRASINGS + OUT_OF_REACH
    assert not {p.lower().rstrip("?") for p in asked} & examples


@pytest.mark.parametrize("key", sorted(PHRASINGS))
def test_every_planted_truth_is_found_and_cited(demo_rt, truth, key) -> None:
    expected = {item["external_id"] for item in truth[key]}
    assert expected, f"the demo plants no {key}"
    for question in PHRASINGS[key]:
        result = ask(runtime=demo_rt, identity=ADMIN, question=question)
        missing = expected - _cited(result)
        assert not missing, f"{question!r}: not cited {sorted(missing)}\n{result.answer}"
        assert result.offline and "no language model was used" in result.answer
        for c in result.citations:
            assert c["url"].startswith("http://localhost:8501/"), c


def test_each_competitor_question_cites_the_accounts_whose_calls_named_it(demo_rt, truth) -> None:
    by_competitor: dict[str, set[str]] = {}
    for item in truth["competitor_mentions"]:
        by_competitor.setdefault(item["competitor"], set()).add(item["account_external_id"])
    assert len(by_competitor) >= 3
    for competitor, accounts in sorted(by_competitor.items()):
        for phrasing in COMPETITOR_PHRASINGS:
            result = ask(runtime=demo_rt, identity=ADMIN, question=phrasing.format(c=competitor))
            missing = accounts - _cited(result)
            assert not missing, f"{phrasing.format(c=competitor)!r}: not cited {sorted(missing)}\n{result.answer}"
            others = {c for c, accts in by_competitor.items() if c != competitor}
            assert not any(f"({o})" in result.answer for o in others), result.answer


@pytest.mark.parametrize("question", OUT_OF_REACH)
def test_questions_out_of_reach_get_the_honest_refusal(demo_rt, question) -> None:
    result = ask(runtime=demo_rt, identity=ADMIN, question=question)
    assert result.answer.startswith("I can't answer that yet")
    assert result.consensus is None and result.proposed_actions == []


def test_a_decision_states_the_verdict_the_agreement_and_each_dissent(demo_rt, truth) -> None:
    dropped = truth["payment_volume_drops"][0]  # the finance specialist must call this one at risk
    result = ask(runtime=demo_rt, identity=ADMIN, question=f"is {dropped['name']} at risk?")
    c = result.consensus
    assert c is not None and set(c) == {"verdict", "agree", "of", "dissents"}
    assert c["of"] == 4 and set(result.agents) >= {"client_health", "finance", "sales_coach", "research"}
    assert "Finance & Payments: at risk" in result.answer
    assert c["agree"] + len(c["dissents"]) == c["of"] or c["verdict"].startswith("split")
    assert all(d["agent"] and d["reason"] for d in c["dissents"])
    assert dropped["external_id"] in _cited(result)


def test_an_escalation_names_the_deal_and_the_coach_sees_it_stalled(demo_rt, truth) -> None:
    stalled = truth["stalled_deals"][0]
    renewal = stalled["name"].split("—")[-1].strip()
    result = ask(
        runtime=demo_rt, identity=ADMIN, question=f"should the {stalled['account']} {renewal} deal be escalated?"
    )
    assert result.consensus is not None
    assert result.answer.startswith(f"**{stalled['name']}:")
    assert "Sales Coach: escalate" in result.answer
