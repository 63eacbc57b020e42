"""The deal stage model: our canonical stages, their order and forecast probabilities, in one place.

Every deal is stored with one of the canonical stage names below. Connectors map their vendor's
stage ids here too (``canonical_stage(raw, source=...)``), so a stage name means the same thing
whichever CRM it came from.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    name: str
    label: str
    probability: float  # the chance an open deal in this stage closes won (weighted forecast)
    is_open: bool


STAGES: tuple[Stage, ...] = (
    Stage("lead", "Lead", 0.05, True),
    Stage("qualified", "Qualified", 0.10, True),
    Stage("discovery", "Discovery", 0.20, True),
    Stage("demo", "Demo", 0.35, True),
    Stage("proposal", "Proposal", 0.55, True),
    Stage("negotiation", "Negotiation", 0.75, True),
    Stage("closed_won", "Closed won", 1.0, False),
    Stage("closed_lost", "Closed lost", 0.0, False),
)
BY_NAME: dict[str, Stage] = {s.name: s for s in STAGES}
OPEN_STAGES: tuple[str, ...] = tuple(s.name for s in STAGES if s.is_open)
WON = "closed_won"
LOST = "closed_lost"

# Vendor stage ids -> canonical stage. These are the vendors' *default* pipelines; a tenant with a
# custom pipeline adds its ids here (or the connector maps them before ingest).
VENDOR_STAGES: dict[str, dict[str, str]] = {
    # HubSpot default sales pipeline (internal stage ids)
    "hubspot": {
        "appointmentscheduled": "qualified",  # first meeting booked (20 % in HubSpot)
        "qualifiedtobuy": "discovery",  # after the first meeting (40 %): keeps HubSpot order
        "presentationscheduled": "demo",
        "decisionmakerboughtin": "proposal",
        "contractsent": "negotiation",
        "closedwon": WON,
        "closedlost": LOST,
    },
    # Salesforce default Opportunity StageName picklist
    "salesforce": {
        "prospecting": "lead",
        "qualification": "qualified",
        "needs analysis": "discovery",
        "value proposition": "demo",
        "id. decision makers": "demo",
        "perception analysis": "proposal",
        "proposal/price quote": "proposal",
        "negotiation/review": "negotiation",
        "closed won": WON,
        "closed lost": LOST,
    },
}


def canonical_stage(raw: str | None, *, source: str | None = None) -> str | None:
    """The canonical stage for a stored or vendor stage name; None when it is not one we know."""
    if raw is None:
        return None
    key = raw.strip().lower()
    if key in BY_NAME:
        return key
    if source is not None:
        return VENDOR_STAGES.get(source, {}).get(key)
    for mapping in VENDOR_STAGES.values():
        if key in mapping:
            return mapping[key]
    return None


def probability(stage: str) -> float:
    """The forecast probability of a canonical stage (0 for a name we do not know)."""
    found = BY_NAME.get(stage)
    return found.probability if found else 0.0


def label(stage: str) -> str:
    found = BY_NAME.get(stage)
    return found.label if found else stage
