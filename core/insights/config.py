"""Per-type settings of the detectors: enabled, and thresholds. The defaults are PayReady's own operating
thresholds (in each detector's ``DEFAULTS``); an admin's changes live in the ``meta`` row ``insights_config``
and every change is audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from core.audit import audit
from core.db.models import Meta
from core.errors import InvalidInput, NotFound
from core.insights.detectors import Detector, all_detectors

META_KEY = "insights_config"


def _stored(session: Session) -> dict[str, dict[str, Any]]:
    row = session.get(Meta, META_KEY)
    return dict(row.value) if row is not None else {}


def effective_params(*, session: Session, detectors: dict[str, Detector] | None = None) -> dict[str, dict[str, Any]]:
    """Every type's parameters: its defaults overlaid with what an admin set (``enabled`` included)."""
    detectors = detectors or all_detectors()
    stored = _stored(session)
    return {t: {"enabled": True, **d.defaults, **stored.get(t, {})} for t, d in detectors.items()}


def set_param(*, session: Session, type_: str, key: str, value: str, actor: str) -> dict[str, Any]:
    """Set one parameter of one type from its text form (the CLI's and the page's ``KEY=VALUE``), checked
    against the default's type. Returns the type's parameters after the change."""
    detectors = all_detectors()
    if type_ not in detectors:
        raise NotFound(f"no insight type {type_!r}; expected one of {', '.join(sorted(detectors))}")
    defaults = {"enabled": True, **detectors[type_].defaults}
    if key not in defaults:
        raise InvalidInput(f"{type_} has no setting {key!r}; it has {', '.join(sorted(defaults))}")
    parsed = _parse(value, like=defaults[key], what=f"{type_}.{key}")
    stored = _stored(session)
    stored[type_] = {**stored.get(type_, {}), key: parsed}
    row = session.get(Meta, META_KEY)
    if row is None:
        session.add(Meta(key=META_KEY, value=stored))
    else:
        row.value = stored
    audit(session=session, actor=actor, action="insights.config", target=type_, details={key: parsed})
    return {**defaults, **stored[type_]}


def _parse(value: str, *, like: Any, what: str) -> Any:
    text = value.strip()
    try:
        if isinstance(like, bool):
            if text.lower() in ("true", "yes", "on", "1"):
                return True
            if text.lower() in ("false", "no", "off", "0"):
                return False
            raise ValueError
        if isinstance(like, int):
            return int(text)
        if isinstance(like, float):
            return float(text)
        if isinstance(like, list):
            return [part.strip() for part in text.split(",") if part.strip()]
    except ValueError:
        raise InvalidInput(f"{what}: {value!r} is not a {type(like).__name__}") from None
    return text
