"""Consensus, however the votes were reached: each specialist's verdict (yes / no / could not judge) tallied
into the answer's verdict, the agreement ("3 of 4"), each dissent with its reason, and who abstained. The
offline engine votes by rules (``offline/consensus.py``), the crew by asking each specialist alone
(``crew.py``); both state the result here, the same way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Vote", "tally"]


@dataclass(frozen=True)
class Vote:
    agent: str
    yes: bool | None  # None: could not judge (its tools are closed to the role, or no clear verdict)
    reason: str


def tally(
    votes: list[Vote], *, escalate: bool, subject: str | None, titles: dict[str, str]
) -> tuple[str, dict[str, Any] | None]:
    """The answer's text and its ``consensus`` (verdict, agree, of, dissents). A majority decides; a tie is said
    as a split ("split: watch closely"), not dressed up as agreement."""
    judged = [v for v in votes if v.yes is not None]
    yes = [v for v in judged if v.yes]
    no = [v for v in judged if not v.yes]
    abstained = [v for v in votes if v.yes is None]
    tail = (
        "\n\nNot assessed: " + ", ".join(f"{titles.get(v.agent, v.agent)} ({v.reason})" for v in abstained) + "."
        if abstained
        else ""
    )
    if not judged:
        return f"None of the specialists could give a verdict on {subject or 'this'}.{tail}", None
    positive, tie = len(yes) > len(no), len(yes) == len(no)
    if escalate:
        verdict = "escalate" if positive else ("split: consider escalating" if tie else "do not escalate")
    else:
        verdict = "at risk" if positive else ("split: watch closely" if tie else "not at risk")
    majority, minority = (yes, no) if (positive or tie) else (no, yes)
    consensus = {
        "verdict": verdict,
        "agree": len(majority),
        "of": len(judged),
        "dissents": [{"agent": v.agent, "reason": v.reason} for v in minority],
    }
    agreed = (
        f"the specialists split {len(yes)}–{len(no)}" if tie else f"{len(majority)} of {len(judged)} specialists agree"
    )
    lines = [f"**{subject or 'The question'}: {verdict}** — {agreed}.\n"]
    for v in judged:
        mark = ("escalate" if v.yes else "no need") if escalate else ("at risk" if v.yes else "fine")
        lines.append(f"\n- {titles.get(v.agent, v.agent)}: {mark} — {v.reason}")
    if minority:
        lines.append("\n\n**Dissent:** " + "; ".join(f"{titles.get(v.agent, v.agent)} ({v.reason})" for v in minority))
    return "".join(lines) + tail, consensus
