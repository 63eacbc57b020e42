"""What a question asks, recognised by meaning: the question's embedding (the local MiniLM) against example
phrasings of each kind of question; the nearest examples vote. A question near none of them, or nearest the
out-of-scope examples, is one the offline engine cannot answer. The examples' vectors are computed once per
model and kept in the data folder's cache."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: kind -> example phrasings ({account}, {rep}, {person}, {competitor} are left as words: meaning, not slots)
EXAMPLES: dict[str, list[str]] = {
    "risk_list": [
        "which accounts are at risk this month and why?",
        "who might churn?",
        "show me customers at risk of churning",
        "which customers are in trouble",
        "list the accounts likely to cancel",
        "churn risk across our book",
        "what clients could we lose this quarter",
    ],
    "account_brief": [
        "tell me about this account",
        "how is the customer doing?",
        "give me a brief on the account before my call",
        "account summary",
        "what's going on with this customer",
        "prep me for my meeting with them",
        "overview of the client's health, payments and deals",
    ],
    "decision_risk": [
        "is this account at risk?",
        "should we be worried about this customer?",
        "is the customer going to churn?",
        "is this client healthy or in danger?",
        "are they at risk of leaving us",
    ],
    "decision_escalate": [
        "should this deal be escalated?",
        "do we need to escalate this opportunity",
        "should I escalate the renewal to leadership",
        "does this account need an executive escalation",
    ],
    "coaching_rep": [
        "coach me on her last calls",
        "how are his recent calls going",
        "review the rep's latest sales calls",
        "give feedback on her call performance",
        "what should he improve on calls",
        "how much does she talk on calls",
    ],
    "coaching_team": [
        "which reps talk too much on calls?",
        "who needs coaching?",
        "which sellers ask too few questions",
        "talk ratio by rep",
        "which of my reps dominate the conversation",
        "which salespeople should listen more and talk less",
        "reps who talk more than the customer",
    ],
    "competitors": [
        "who mentioned the competitor?",
        "which calls mention competitors?",
        "where did a rival come up in conversations",
        "are prospects talking about other payment vendors",
        "competitive mentions in calls",
        "which customers are evaluating alternatives",
    ],
    "stalled": [
        "which deals are stalled?",
        "deals stuck in the same stage for weeks",
        "what opportunities haven't moved",
        "show me stuck deals",
        "which deals have been sitting idle in a stage",
        "stuck opportunities that have not advanced",
        "deals with no stage progress for a month",
        "pipeline deals that are not moving forward",
    ],
    "slipping": [
        "which deals are slipping?",
        "deals past their close date",
        "which opportunities keep getting pushed out",
        "deals that went quiet with no activity",
        "what deals are at risk of missing their close date",
    ],
    "pipeline": [
        "what's our pipeline?",
        "what is the forecast for the quarter",
        "how much pipeline does she have",
        "weighted forecast",
        "open deals by stage",
        "how is the pipeline looking",
    ],
    "volume_drop": [
        "whose rent volume dropped?",
        "which customers processed less rent last month",
        "payment volume declines by account",
        "accounts with falling rent payments",
        "where did processed volume go down",
    ],
    "failure_rate": [
        "which accounts have high payment failure rates?",
        "where are rent payments failing",
        "failed payments spike",
        "which customers have too many declined or returned payments",
        "accounts with many failed rent payments",
        "high rate of failed transactions",
    ],
    "late_payers": [
        "who pays late?",
        "which customers are late on their invoices",
        "chronic late payers",
        "which accounts have overdue invoices again and again",
        "customers who don't pay us on time",
    ],
    "stuck_onboarding": [
        "which accounts are stuck in onboarding?",
        "customers not live yet after many weeks",
        "slow implementations",
        "whose onboarding is taking too long",
        "which customers have not gone live yet",
        "implementations that are dragging",
        "accounts still waiting to launch",
    ],
    "engagement": [
        "which accounts are disengaging?",
        "where is engagement dropping",
        "customers going quiet on us",
        "declining sentiment and fewer touches",
        "which clients are we talking to less and less",
        "who is pulling away from us",
        "customers losing interest in us",
    ],
    "champions": [
        "which champions left?",
        "did any of our champions change jobs?",
        "buyers who moved to another company",
        "we lost our main contact at which customers",
        "which sponsors departed their company",
    ],
    "people": [
        "how is she doing on her goals?",
        "show his performance review",
        "what are her goals this quarter",
        "review ratings for the employee",
        "how did he do in the last review cycle",
    ],
    "insights": [
        "what needs my attention?",
        "show open insights",
        "what's new today",
        "top alerts right now",
        "anything urgent I should know about",
    ],
    "recall": [
        "what did we decide about the renewal?",
        "what was agreed with the customer",
        "what did we say about the pricing",
        "find the discussion about the contract",
        "what was discussed about the migration",
        "search for the thread about the discount",
        "what do I know about the negotiation",
    ],
    "remember": [
        "remember that the renewal is due in March",
        "note that they prefer email",
        "keep in mind that the customer wants a discount",
        "please remember this for later",
        "save this fact",
        "remember that the customer prefers to be called in the morning",
        "note that their budget is frozen until next quarter",
    ],
    "job_changes": [
        "show recent job changes",
        "which buyers changed jobs recently",
        "new roles of our former contacts",
    ],
    "prospects": [
        "which prospects use Yardi?",
        "find prospects with many units",
        "show me the prospect list",
        "companies we could sell to",
    ],
    "create_task": [
        "create a follow-up task for the customer",
        "remind me to call them next week",
        "add a task to check in with the account",
        "open a CRM task to send the renewal quote",
        "create a task for the customer to call their CFO about the invoices",
        "add a to-do to follow up on the late payment",
    ],
    "post_slack": [
        "post this to the revenue channel in Slack",
        "send that to #sales",
        "share the answer in slack",
        "let the team know in the channel",
        "post that to #ops",
        "share this in #general",
    ],
    "acknowledge": [
        "acknowledge insight 42",
        "mark that alert as seen",
        "I've seen insight number 7, acknowledge it",
    ],
    "help": [
        "what can you do?",
        "hello",
        "help",
        "what questions can I ask you",
        "how do I use this chat",
    ],
    "out_of_scope": [
        "what's the weather tomorrow",
        "write me a poem",
        "tell me a joke",
        "what is the capital of France",
        "translate this into Spanish",
        "who won the game last night",
        "book me a flight",
        "what is the meaning of life",
        "how do I cook pasta",
    ],
}
THRESHOLD = 0.38  # below this, nothing is near enough: "I can't answer that yet"
TOP_K = 3


@dataclass(frozen=True)
class IntentMatch:
    kind: str
    score: float
    runner_up: str | None = None

    @property
    def answerable(self) -> bool:
        return self.kind != "out_of_scope" and self.score >= THRESHOLD


class IntentModel:
    """Each kind's example vectors; a question is scored by the mean of its top matches per kind."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        from core.search.embeddings import local_embedder

        self._embedder = local_embedder(threads=1)  # one query at a time: one thread is faster on busy cores
        self._kinds: list[str] = []
        texts: list[str] = []
        for kind, examples in EXAMPLES.items():
            self._kinds += [kind] * len(examples)
            texts += examples
        self._kinds_arr = np.array(self._kinds)
        self._vectors = self._load(cache_dir, texts)

    def _load(self, cache_dir: Path | None, texts: list[str]) -> np.ndarray:
        digest = hashlib.sha256(json.dumps([self._embedder.model_name, texts]).encode()).hexdigest()[:16]
        path = cache_dir / f"intents-{digest}.npy" if cache_dir else None
        if path is not None and path.exists():
            try:
                cached = np.load(path)
                if cached.shape[0] == len(texts):
                    return cached
            except (OSError, ValueError):
                pass
        vectors = self._embedder.embed(texts).astype(np.float32)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp.npy")
                np.save(tmp, vectors)
                tmp.replace(path)
            except OSError:
                pass  # a read-only data folder: computed again next time
        return vectors

    def classify(self, question: str) -> IntentMatch:
        q = self._embedder.embed_query(question).astype(np.float32)
        sims = self._vectors @ q
        scores: dict[str, float] = {}
        for kind in EXAMPLES:
            mine = np.sort(sims[self._kinds_arr == kind])[::-1][:TOP_K]
            scores[kind] = float(0.6 * mine[0] + 0.4 * mine[1:].mean()) if len(mine) > 1 else float(mine[0])
        ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
        return IntentMatch(ranked[0][0], round(ranked[0][1], 4), ranked[1][0] if len(ranked) > 1 else None)


_models: dict[str, IntentModel] = {}
_lock = threading.Lock()


def intent_model(cache_dir: Path | None) -> IntentModel:
    key = str(cache_dir)
    with _lock:
        if key not in _models:
            _models[key] = IntentModel(cache_dir)
        return _models[key]
