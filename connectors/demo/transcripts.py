"""Speaker-attributed call transcripts.

A call is laid out first (who speaks, in which beat, how many sentences, for how long) from its own
random stream, with no text: that is cheap, so the planner can compute each call's talk share up
front. The text is written later from a second stream, sentence by sentence from ``call_lines``.
Talk share (owner seconds / all seconds) is held inside a band: talkative calls above TALKATIVE_MIN,
all others (counting every internal speaker) below NORMAL_MAX, so the 70 % rule is never borderline.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from connectors.demo.call_lines import CHECKIN_QA, CUST_MORE, DEMO_QA, GROUP, LINES, PROBES, REP_MORE, SMALLTALK
from connectors.demo.common import rng_for

if TYPE_CHECKING:
    from connectors.demo.calls import CallPlan

TALKATIVE_MIN, TALKATIVE_MAX = 0.74, 0.90
NORMAL_MIN, NORMAL_MAX = 0.30, 0.58
SHORT = {"ack"}
FIXED = {
    "ack",
    "greet",
    "greet_reply",
    "bye",
    "close_reply",
    "greet_escalation",  # always one sentence
    *(f"{qa}_{key}" for key in SMALLTALK for qa in ("q", "a")),
}
INTERNAL = ("rep", "se")


@dataclass(slots=True)
class Turn:
    role: str  # rep (the call owner) | se (a colleague) | cust | cust2
    kind: str  # a key of call_lines.LINES
    n: int  # sentences
    ds: int  # duration in tenths of a second


def tone(sentiment: float) -> str:
    return "pos" if sentiment >= 0.35 else "neg" if sentiment < 0.0 else "neutral"


# ---- scripts: the beats of a call by type ----------------------------------------------------


def _script(rng: random.Random, plan: CallPlan) -> list[tuple[str, str]]:
    beats = {
        "discovery": _discovery,
        "demo": _demo,
        "renewal": _renewal,
        "escalation": _escalation,
        "check_in": _check_in,
    }[plan.call_type](rng, plan)
    if plan.competitor:
        at = max(4, len(beats) - 3)
        beats[at:at] = [("cust", "competitor_mention"), ("rep", "competitor_response")]
    return beats


def _cust(rng: random.Random, plan: CallPlan) -> str:
    return "cust2" if len(plan.contacts) > 1 and rng.random() < 0.3 else "cust"


def _opening(rng: random.Random) -> list[tuple[str, str]]:
    beats = [("rep", "greet"), ("cust", "greet_reply")]
    if rng.random() < 0.6:
        key = rng.choice(list(SMALLTALK))
        beats += [("rep", f"q_{key}"), ("cust", f"a_{key}")]
    return beats


def _probe(rng: random.Random, plan: CallPlan, asked: set[str]) -> list[tuple[str, str]]:
    fresh = [k for k in PROBES if k not in asked]
    if not fresh or rng.random() < 0.45:
        return []
    key = rng.choice(fresh)
    asked.add(key)
    return [("rep", f"q_{key}"), (_cust(rng, plan), f"a_{key}")]


def _discovery(rng: random.Random, plan: CallPlan) -> list[tuple[str, str]]:
    beats = _opening(rng) + [("rep", "agenda"), ("cust", "ack")]
    topics = ["portfolio", "pms"] + rng.sample(
        ["payments", "delinquency", "evictions", "collections", "comms"], k=rng.randint(3, 5)
    )
    asked: set[str] = set()
    for t in topics:
        beats += [("rep", f"q_{t}"), (_cust(rng, plan), f"a_{t}")] + _probe(rng, plan, asked)
        if rng.random() < 0.3:
            beats.append(("rep", "ack"))
    beats += [("rep", "pitch"), ("cust", "ack"), ("rep", "pitch")]
    if rng.random() < 0.5:
        beats += [("cust", f"reaction_{tone(plan.sentiment)}"), ("rep", "pitch")]
    for q in rng.sample(["pricing", "integration", "timeline"], k=rng.randint(1, 3)):
        beats += [(_cust(rng, plan), f"q_{q}"), ("rep", f"a_{q}")]
    beats += [
        ("cust", f"reaction_{tone(plan.sentiment)}"),
        ("rep", "next_steps"),
        ("cust", "close_reply"),
        ("rep", "bye"),
    ]
    return beats


def _demo(rng: random.Random, plan: CallPlan) -> list[tuple[str, str]]:
    answerer = "se" if plan.colleague else "rep"
    beats = _opening(rng) + [("rep", "demo_recap"), ("cust", "ack")]
    shows = ["show_rescenter"] + rng.sample(["show_buzz", "show_evictions", "show_collections"], k=rng.randint(1, 2))
    questions = rng.sample(list(DEMO_QA), k=len(shows) + 1)
    for show, q in zip(shows, questions):
        beats += [("rep", show), ("cust", "ack"), ("rep", show), (_cust(rng, plan), f"q_{q}"), (answerer, f"a_{q}")]
        if rng.random() < 0.5:
            beats.append(("cust", f"reaction_{tone(plan.sentiment)}"))
    q = questions[-1]
    beats += [(_cust(rng, plan), f"q_{q}"), ("rep", f"a_{q}"), ("cust", "q_pricing"), ("rep", "a_pricing")]
    beats += _probe(rng, plan, set())
    beats += [
        ("cust", f"reaction_{tone(plan.sentiment)}"),
        ("rep", "demo_next"),
        ("cust", "close_reply"),
        ("rep", "bye"),
    ]
    return beats


def _renewal(rng: random.Random, plan: CallPlan) -> list[tuple[str, str]]:
    mood = tone(plan.sentiment)
    beats = _opening(rng) + [
        ("rep", "usage_review"),
        ("cust", "ack"),
        ("rep", "usage_review"),
        (_cust(rng, plan), f"feedback_{mood}"),
    ]
    beats += _probe(rng, plan, set())
    if mood == "neg":
        beats += [("rep", "apology"), ("rep", "remediation"), ("cust", "ack")]
    beats += [("rep", "renewal_terms"), ("cust", "negotiate"), ("rep", "counter")]
    if rng.random() < 0.5:
        beats += [(_cust(rng, plan), "negotiate"), ("rep", "counter")]
    if rng.random() < 0.5:
        beats += [("rep", "expansion_pitch"), ("cust", "expansion_reply")]
    return beats + [("rep", "renewal_next"), ("cust", "close_reply"), ("rep", "bye")]


def _escalation(rng: random.Random, plan: CallPlan) -> list[tuple[str, str]]:
    fixer = "se" if plan.colleague else "rep"
    beats = [
        ("rep", "greet_escalation"),
        ("cust", "complaint"),
        ("rep", "ack"),
        (_cust(rng, plan), "impact"),
        ("rep", "apology"),
        (fixer, "root_cause"),
        ("cust", "q_fix"),
        ("rep", "remediation"),
    ]
    if rng.random() < 0.6:
        beats += [(_cust(rng, plan), "q_fix"), ("rep", "remediation")]
    reply = "escalation_reply_pos" if plan.sentiment > -0.3 else "escalation_reply_neg"
    return beats + [("cust", reply), ("rep", "follow_up"), ("cust", "close_reply")]


def _check_in(rng: random.Random, plan: CallPlan) -> list[tuple[str, str]]:
    mood = tone(plan.sentiment)
    beats = _opening(rng) + [("rep", "q_how_going"), ("cust", f"status_{mood}")]
    if plan.acct.lifecycle == "onboarding":
        reply = "a_onboarding_neg" if "stuck" in plan.acct.flags or mood == "neg" else "a_onboarding_pos"
        for _ in range(rng.randint(2, 3)):
            beats += [("rep", "q_onboarding"), (_cust(rng, plan), reply), ("rep", "ack")]
    else:
        topics = ["adoption", "delinquency_trend", "move_ins", *CHECKIN_QA]
        topics += [
            t for p, t in (("Buzz", "buzz"), ("Collect Central", "collections_results")) if p in plan.acct.products
        ]
        for t in rng.sample(topics, k=min(len(topics), rng.randint(3, 5))):
            beats += [("rep", f"q_{t}"), (_cust(rng, plan), f"a_{t}")]
    return beats + [("rep", "qbr"), ("cust", "close_reply"), ("rep", "bye")]


# ---- layout and talk share ---------------------------------------------------------------------


def layout(seed: int, plan: CallPlan) -> list[Turn]:
    rng = rng_for(seed, "call-layout", plan.ext_id)
    turns = [_turn(rng, role, kind, plan.talkative) for role, kind in _script(rng, plan)]
    _fit_share(rng, turns, plan.talkative)
    return turns


def _turn(rng: random.Random, role: str, kind: str, talkative: bool) -> Turn:
    if kind in SHORT:
        return Turn(role, kind, 1, rng.randint(6, 18))
    if role == "se" or kind in FIXED:
        n = 1
    elif role == "rep":
        n = rng.randint(2, 4) if talkative else rng.choices((1, 2), weights=(7, 3))[0]
    else:
        n = 1 if talkative else rng.randint(1, 3)
    return Turn(role, kind, n, sum(rng.randint(32, 62) for _ in range(n)))


def shares(turns: list[Turn]) -> tuple[float, float]:
    """(owner's share, all internal speakers' share) of the talk time."""
    total = sum(t.ds for t in turns)
    owner = sum(t.ds for t in turns if t.role == "rep")
    internal = sum(t.ds for t in turns if t.role in INTERNAL)
    return owner / total, internal / total


def _fit_share(rng: random.Random, turns: list[Turn], talkative: bool) -> None:
    """Lengthen turns until the owner's share lies inside the call's band."""
    lo, hi = (TALKATIVE_MIN, TALKATIVE_MAX) if talkative else (NORMAL_MIN, NORMAL_MAX)
    reps = [t for t in turns if t.role == "rep" and t.kind not in FIXED]
    custs = [t for t in turns if t.role.startswith("cust") and t.kind not in FIXED]
    for _ in range(1_000):
        owner, internal = shares(turns)
        if owner < lo:
            grow = rng.choice(reps)
        elif (owner if talkative else internal) > hi:
            grow = rng.choice(custs)
        else:
            return
        grow.n += 1
        grow.ds += rng.randint(32, 62)
    raise RuntimeError("talk share did not converge")  # pragma: no cover - bands are wide


# ---- text ----------------------------------------------------------------------------------


def render(seed: int, plan: CallPlan, slots: dict[str, str]) -> tuple[list[dict], list[dict], int]:
    """The call's participants, segments and duration (seconds)."""
    turns = layout(seed, plan)
    rng = rng_for(seed, "call-text", plan.ext_id)
    speakers = _speakers(plan)
    used: set[str] = set()
    segments, talk = [], dict.fromkeys(speakers, 0)
    at = rng.randint(20, 150)
    for pos, turn in enumerate(turns):
        text = _text(rng, turn, plan.call_type, slots, used)
        segments.append(
            {
                "position": pos,
                "speaker_id": speakers[turn.role]["speaker_id"],
                "start_s": at / 10,
                "end_s": (at + turn.ds) / 10,
                "text": text,
            }
        )
        talk[turn.role] += turn.ds
        at += turn.ds + rng.randint(2, 14)
    participants = [dict(p, talk_time_s=talk[role] / 10) for role, p in speakers.items()]
    return participants, segments, at // 10 + rng.randint(5, 40)


def _speakers(plan: CallPlan) -> dict[str, dict]:
    people = {"rep": (plan.owner.name, plan.owner.email, "internal")}
    if plan.colleague:
        people["se"] = (plan.colleague.name, plan.colleague.email, "internal")
    people["cust"] = (plan.contacts[0].name, plan.contacts[0].email, "external")
    if len(plan.contacts) > 1:
        people["cust2"] = (plan.contacts[1].name, plan.contacts[1].email, "external")
    return {
        role: {"speaker_id": f"{plan.ext_id}:{i + 1}", "name": name, "email": email, "affiliation": aff}
        for i, (role, (name, email, aff)) in enumerate(people.items())
    }


def _text(rng: random.Random, turn: Turn, call_type: str, slots: dict[str, str], used: set[str]) -> str:
    first = _pick(rng, LINES[turn.kind], used)
    pools = REP_MORE if turn.role in INTERNAL else CUST_MORE
    group = GROUP[call_type]
    more: list[str] = []
    for _ in range(turn.n - 1):
        fresh = [x for x in pools[group] if x not in used] or [x for p in pools.values() for x in p if x not in used]
        more.append(_pick(rng, fresh or [x for x in pools[group] if x not in more], used))
    parts = more + [first] if turn.kind.startswith("q_") else [first] + more
    text = " ".join(parts).format_map(slots)
    return text if turn.kind in FIXED else _with_marker(rng, turn.role, text)


MARKERS = {
    "rep": ("So, ", "Yeah, ", "Right, so ", "Okay, so ", "Great question. ", "Sure. ", "Good. ", "Yep. "),
    "cust": ("Yeah, ", "Honestly, ", "I mean, ", "So ", "Well, ", "Hmm. ", "Okay. ", "Right. ", "To be honest, "),
}
LOWER_OK = {
    "we",
    "it",
    "our",
    "the",
    "that",
    "most",
    "what",
    "how",
    "can",
    "and",
    "so",
    "mostly",
    "yes",
    "a",
    "this",
    "there",
    "when",
    "if",
    "every",
    "let",
    "honestly",
    "they",
    "you",
    "your",
    "some",
    "one",
    "not",
    "just",
    "before",
    "last",
    "for",
    "per",
    "on",
    "typically",
    "over",
    "first",
    "who",
    "where",
    "are",
    "is",
    "do",
    "does",
    "has",
    "have",
    "any",
    "walk",
    "tell",
    "quick",
    "looking",
    "pretty",
    "probably",
    "hard",
    "mapping",
    "returns",
    "payments",
    "residents",
    "fine",
    "good",
    "really",
    "great",
    "it's",
    "we're",
    "that's",
    "i'd",
    "i'll",
    "we've",
    "there's",
    "what's",
    "how's",
}


def _with_marker(rng: random.Random, role: str, text: str) -> str:
    """Now and then start a turn the way people do ("So, ...", "Honestly, ...")."""
    if rng.random() > 0.3:
        return text
    marker = rng.choice(MARKERS["rep" if role in INTERNAL else "cust"])
    word = text.split(" ", 1)[0].rstrip(",.?!")
    if marker.endswith(". "):
        return marker + text
    if word.lower() not in LOWER_OK:
        return text
    return marker + text[0].lower() + text[1:]


def _pick(rng: random.Random, pool: list[str], used: set[str]) -> str:
    fresh = [s for s in pool if s not in used]
    choice = rng.choice(fresh or pool)
    used.add(choice)
    return choice
