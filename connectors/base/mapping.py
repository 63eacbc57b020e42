"""What the vendor mappings share: clean text, a column's length, numbers, dates, UTC, US states, units and
segments, stage maps and histories, and the envelope every record carries. Pure functions; a value that
cannot be read raises RecordError (the record is quarantined, the run goes on).

A vendor whose values need another reading keeps its own helper in its ``mapping.py``: Salesforce and Gong
refuse objects where text belongs (built on ``text``), Salesforce reads only two-letter state codes, Gong's numbers are required and non-negative, Lattice's are optional and never raise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from connectors.base.connector import RecordError
from core.db import models as m
from core.metrics.stages import BY_NAME, LOST, OPEN_STAGES, WON

# Our segments by units managed (core.db.models.business.SEGMENTS): <2,000 / <15,000 / more.
SEGMENT_LIMITS: tuple[tuple[int, str], ...] = ((2_000, "smb"), (15_000, "mid_market"))
LARGEST_SEGMENT = "enterprise"

# US state names -> the two-letter codes our ``state`` columns hold.
US_STATES: dict[str, str] = {
    "alabama": "AL",
    "alaska": "AK",
    "arizona": "AZ",
    "arkansas": "AR",
    "california": "CA",
    "colorado": "CO",
    "connecticut": "CT",
    "delaware": "DE",
    "district of columbia": "DC",
    "florida": "FL",
    "georgia": "GA",
    "hawaii": "HI",
    "idaho": "ID",
    "illinois": "IL",
    "indiana": "IN",
    "iowa": "IA",
    "kansas": "KS",
    "kentucky": "KY",
    "louisiana": "LA",
    "maine": "ME",
    "maryland": "MD",
    "massachusetts": "MA",
    "michigan": "MI",
    "minnesota": "MN",
    "mississippi": "MS",
    "missouri": "MO",
    "montana": "MT",
    "nebraska": "NE",
    "nevada": "NV",
    "new hampshire": "NH",
    "new jersey": "NJ",
    "new mexico": "NM",
    "new york": "NY",
    "north carolina": "NC",
    "north dakota": "ND",
    "ohio": "OH",
    "oklahoma": "OK",
    "oregon": "OR",
    "pennsylvania": "PA",
    "rhode island": "RI",
    "south carolina": "SC",
    "south dakota": "SD",
    "tennessee": "TN",
    "texas": "TX",
    "utah": "UT",
    "vermont": "VT",
    "virginia": "VA",
    "washington": "WA",
    "west virginia": "WV",
    "wisconsin": "WI",
    "wyoming": "WY",
}


def text(value: Any) -> str | None:
    """A value as clean text: NUL bytes dropped (PostgreSQL refuses them), blank -> None."""
    if value is None:
        return None
    out = str(value).replace("\x00", "").strip()
    return out or None


def fit(model: type[m.Base], column: str, value: str | None) -> str | None:
    """Text cut to the column's length: a long vendor value must not fail the whole batch."""
    if value is None:
        return None
    length = getattr(model.__table__.c[column].type, "length", None)
    return value[:length] if length else value


def parse_number(value: Any, what: str) -> float | None:
    """A number, as text (thousands separators allowed) or a JSON number; blank -> None. NaN and infinity,
    booleans and anything else that is not a number raise RecordError."""
    raw = text(value)
    if raw is None:
        return None
    try:
        number = float(raw.replace(",", ""))
    except ValueError:
        raise RecordError(f"{what}: {raw[:40]!r} is not a number") from None
    if not math.isfinite(number):
        raise RecordError(f"{what}: {raw[:40]!r} is not a number")
    return number


def parse_day(value: Any, what: str) -> date | None:
    """A ``YYYY-MM-DD`` date (anything after the tenth character, e.g. a time, is ignored); blank -> None."""
    raw = text(value)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise RecordError(f"{what}: {raw[:40]!r} is not a YYYY-MM-DD date") from None


def as_utc(parsed: datetime) -> datetime:
    """A time as aware UTC: one without a zone is taken to be UTC already."""
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def us_state(value: Any) -> str | None:
    """A two-letter code (any case) or a state's name -> its code; anything else -> None."""
    raw = text(value)
    if raw is None:
        return None
    if len(raw) == 2 and raw.isalpha():
        return raw.upper()
    return US_STATES.get(raw.lower())


def segment(units: int | None) -> str | None:
    """Our segment of an account by units managed."""
    if units is None:
        return None
    return next((name for limit, name in SEGMENT_LIMITS if units < limit), LARGEST_SEGMENT)


def units_and_segment(value: Any, what: str) -> dict[str, Any]:
    """An account's units managed, read from the tenant's own field (``what``), and the segment they give."""
    units = parse_number(value, what)
    units_managed = None if units is None else int(units)
    return {"units_managed": units_managed, "segment": segment(units_managed)}


def check_stage_map(stage_map: Mapping[str, str]) -> None:
    """A connector's ``stage_map`` setting (vendor stage -> ours) must name only our stages."""
    bad = sorted({s for s in stage_map.values() if s not in BY_NAME})
    if bad:
        raise ValueError(f"unknown stage {bad[0]!r}; ours are {', '.join(BY_NAME)}")


# Words in a closed stage's label that say how it closed, when its probability does not.
LOST_WORDS = ("lost", "churn", "cancel", "declin", "dead", "disqualif")
WON_WORDS = ("won", "signed", "renewed")


def infer_stage(*, label: str, is_closed: bool, probability: float | None, rank: float) -> str | None:
    """Our stage for a vendor pipeline stage, read from what the vendor says about it: a label that is one of
    ours; a closed stage by its probability (>= 0.5 won, else lost) or its label's words; an open stage by
    the nearest forecast probability, else by its place among the pipeline's open stages (``rank``: 0 for the
    first, 1 for the last). None when it says too little (a closed stage with no probability and plain words)."""
    by_label = label.strip().lower().replace(" ", "_")
    if by_label in BY_NAME:
        return by_label
    if is_closed:
        return _closed_stage(label.lower(), probability)
    if probability is not None:
        return nearest_open_stage(probability)
    return OPEN_STAGES[round(min(max(rank, 0.0), 1.0) * (len(OPEN_STAGES) - 1))]


def nearest_open_stage(probability: float) -> str:
    """The open stage whose forecast probability is nearest (the lower one on a tie): the weighted pipeline
    then counts a deal about as the vendor's own forecast does."""
    return min(OPEN_STAGES, key=lambda s: (abs(BY_NAME[s].probability - probability), BY_NAME[s].probability))


def _closed_stage(label: str, probability: float | None) -> str | None:
    if probability is not None:
        return WON if probability >= 0.5 else LOST
    if any(word in label for word in LOST_WORDS):
        return LOST
    if any(word in label for word in WON_WORDS):
        return WON
    return None


def collapse_stages(timed: Iterable[tuple[datetime, str]]) -> list[dict[str, Any]]:
    """(time, our stage) pairs as a stage history in time order: a stage repeated in a row (another change of
    the deal, or two vendor stages that are one of ours) keeps the time it was first entered."""
    history: list[dict[str, Any]] = []
    for at, stage in sorted(timed, key=lambda t: t[0]):
        if history and history[-1]["stage"] == stage:
            continue
        history.append({"stage": stage, "entered_at": at})
    return history


def record_envelope(
    external_id: str, raw: Mapping[str, Any], created_at: datetime | None, updated_at: datetime | None
) -> dict[str, Any]:
    """What every record carries: its id, the payload as received, and the source's timestamps when known."""
    record: dict[str, Any] = {"external_id": external_id, "raw": dict(raw)}
    if created_at:
        record["created_at"] = created_at
    if updated_at:
        record["updated_at"] = updated_at
    return record
