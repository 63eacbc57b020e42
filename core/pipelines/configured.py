"""Configured connectors: add, list, describe (secrets masked) and load their settings for a run.

Settings are validated at this edge by the kind's pydantic model. Fields typed ``SecretStr`` are secrets
and never stored in clear; each is stored as one of

- ``{"$secret": "<Fernet token>"}``: the value, encrypted with a key derived from SOPHIA_SECRET_KEY;
- ``{"$env": "SOPHIA_HUBSPOT_TOKEN"}``: the name of an environment variable read when the connector runs.

Adding (here) and updating (``manage.update_settings``) store secrets, fill them from the environment and
validate the result through the same public helpers: ``store_secret``, ``env_secrets``, ``validate_stored``.

Environment secrets are read here, in ``read_env_secret``, and nowhere else. They are not Settings fields
because their names depend on the configured kinds; to keep a connector's settings from pointing a
token at an unrelated variable (``SOPHIA_SECRET_KEY``, cloud credentials), the variable must be named
``SOPHIA_<KIND>_...``; when a required secret is not given, ``SOPHIA_<KIND>_<FIELD>`` is used if set.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import audit
from core.crypto import SecretBox, mask
from core.db.models import ConfiguredConnector
from core.errors import ConfigError, Conflict, InvalidInput, NotFound
from core.pipelines.contract import KindInfo

SECRET = "$secret"
ENV = "$env"
ENV_REF_PREFIX = "env:"  # --set token=env:SOPHIA_HUBSPOT_TOKEN
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
DEFAULT_INTERVAL_MINUTES = 60
MAX_INTERVAL_MINUTES = 7 * 24 * 60


# ---- kinds and fields ---------------------------------------------------------------------


def get_kind(kinds: Mapping[str, KindInfo], kind: str) -> KindInfo:
    info = kinds.get(kind)
    if info is None:
        raise InvalidInput(f"unknown connector kind {kind!r}; expected one of {', '.join(kinds)}")
    if not info.available:
        ready = ", ".join(k for k, i in kinds.items() if i.available)
        raise InvalidInput(f"{info.label} connectors are not yet available (available now: {ready})")
    return info


def secret_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields of a config model typed ``SecretStr`` (optional or not)."""
    found = set()
    for name, field in model.model_fields.items():
        ann = field.annotation
        if ann is SecretStr or SecretStr in getattr(ann, "__args__", ()):
            found.add(name)
    return frozenset(found)


def env_var_for(kind: str, field: str) -> str:
    return f"SOPHIA_{kind.upper()}_{field.upper()}"


def read_env_secret(var: str) -> str | None:
    """The one place connector secrets are read from the environment (see the module docstring)."""
    value = os.environ.get(var)
    return value or None


def check_env_name(kind: str, field: str, var: str) -> str:
    prefix = f"SOPHIA_{kind.upper()}_"
    if not re.fullmatch(r"[A-Z][A-Z0-9_]*", var) or not var.startswith(prefix):
        raise InvalidInput(f"{field}: an environment variable for a {kind} secret must be named {prefix}...")
    return var


# ---- storing secrets: the one way, for adding and updating alike ---------------------------------

KEPT_SECRET = "kept"  # what a stored secret stands for while settings are validated


def store_secret(*, box: SecretBox, kind: str, field: str, value: Any) -> dict[str, str]:
    """A secret as it is stored: ``{"$secret": <encrypted>}``, or ``{"$env": "SOPHIA_<KIND>_..."}`` for a
    value given as ``env:VARIABLE``."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{field} is a secret: give it as text, or as env:VARIABLE")
    if value.startswith(ENV_REF_PREFIX):
        return {ENV: check_env_name(kind, field, value.removeprefix(ENV_REF_PREFIX))}
    return {SECRET: box.encrypt(value)}


def env_secrets(*, kind: str, missing: Iterable[str]) -> dict[str, dict[str, str]]:
    """For secrets not given: a reference to ``SOPHIA_<KIND>_<FIELD>`` where that variable is set."""
    found = {field: env_var_for(kind, field) for field in sorted(missing)}
    return {field: {ENV: var} for field, var in found.items() if read_env_secret(var) is not None}


def validate_stored(
    *, kind: str, model: type[BaseModel], stored: Mapping[str, Any], clear: Mapping[str, str] | None = None
) -> None:
    """Settings about to be stored, validated as a whole by the kind's model: each secret by its clear value
    when given now (``clear``), else by a stand-in (a variable's value, or ``KEPT_SECRET``)."""
    secrets = secret_fields(model)
    clear = clear or {}
    candidate = {f: ((clear.get(f) or _stand_in(v)) if f in secrets else v) for f, v in stored.items()}
    try:
        model.model_validate(candidate)
    except ValidationError as exc:
        raise InvalidInput(validation_line(exc, kind, model)) from None


def _stand_in(stored: Any) -> str:
    if isinstance(stored, dict) and ENV in stored:
        return read_env_secret(stored[ENV]) or "set-at-run-time"
    return KEPT_SECRET


# ---- parsing what a person typed ------------------------------------------------------------


def _parse_value(raw: Any) -> Any:
    """``--set`` values are strings; JSON objects and lists are decoded, the rest the model coerces."""
    if isinstance(raw, str) and raw.strip()[:1] in ("{", "["):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            raise InvalidInput(f"{raw!r} looks like JSON but is not valid JSON") from None
    return raw


def parse_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """Settings as a person typed them: ``{"stage_map.123": "demo"}`` -> ``{"stage_map": {"123": "demo"}}``,
    JSON text decoded."""
    out: dict[str, Any] = {}
    for key, raw in values.items():
        if not key:
            raise InvalidInput("a setting needs a name: KEY=VALUE")
        field, _, rest = key.partition(".")
        value = _parse_value(raw)
        if rest:
            target = out.setdefault(field, {})
            if not isinstance(target, dict):
                raise InvalidInput(f"{field} is given both as a value and as {key}")
            target[rest] = value
        else:
            out[field] = value
    return out


def validation_line(exc: ValidationError, kind: str, model: type[BaseModel]) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "settings"
    if err["type"] == "extra_forbidden":
        return f"unknown setting {loc!r} for {kind}; known: {', '.join(model.model_fields)}"
    if err["type"] == "missing":
        return f"{kind} needs {loc}: --set {loc}=VALUE"
    return f"{kind} setting {loc}: {err['msg'].removeprefix('Value error, ')}"


# ---- add / get / list -----------------------------------------------------------------------


def add_connector(
    *,
    session: Session,
    box: SecretBox,
    kinds: Mapping[str, KindInfo],
    kind: str,
    name: str,
    values: Mapping[str, Any],
    interval_minutes: int = DEFAULT_INTERVAL_MINUTES,
    enabled: bool = True,
    actor: str,
) -> ConfiguredConnector:
    """Validate and store a connector; secrets are encrypted (or kept as env-var references)."""
    info = get_kind(kinds, kind)
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidInput(f"connector name {name!r}: use 1-64 lowercase letters, digits, '-' or '_'")
    if not 1 <= interval_minutes <= MAX_INTERVAL_MINUTES:
        raise InvalidInput(f"interval must be between 1 and {MAX_INTERVAL_MINUTES} minutes")
    if session.scalar(select(ConfiguredConnector.id).where(ConfiguredConnector.name == name)) is not None:
        raise Conflict(f"a connector named {name!r} already exists")

    model = info.config_model
    secrets = secret_fields(model)
    given = parse_settings(values)
    stored = {f: store_secret(box=box, kind=kind, field=f, value=v) if f in secrets else v for f, v in given.items()}
    stored.update(env_secrets(kind=kind, missing=secrets - given.keys()))
    for field in sorted(secrets - stored.keys()):
        if model.model_fields[field].is_required():
            var = env_var_for(kind, field)
            raise InvalidInput(f"{kind} needs {field}: --set {field}=VALUE, --set {field}=env:{var}, or set {var}")
    clear = {f: v for f, v in given.items() if f in secrets and ENV not in stored[f]}
    validate_stored(kind=kind, model=model, stored=stored, clear=clear)

    row = ConfiguredConnector(name=name, kind=kind, config=stored, enabled=enabled, interval_minutes=interval_minutes)
    session.add(row)
    session.flush()
    audit(session=session, actor=actor, action="connector.add", target=name, details={"kind": kind})
    return row


def get_connector(*, session: Session, name: str) -> ConfiguredConnector:
    row = session.scalar(select(ConfiguredConnector).where(ConfiguredConnector.name == name))
    if row is None:
        raise NotFound(f"no connector named {name!r}; add one with `sophia connectors add KIND --name {name}`")
    return row


def list_connectors(*, session: Session) -> list[ConfiguredConnector]:
    return list(session.scalars(select(ConfiguredConnector).order_by(ConfiguredConnector.name)))


# ---- reading settings back ------------------------------------------------------------------


def load_config(*, row: ConfiguredConnector, box: SecretBox, kinds: Mapping[str, KindInfo]) -> BaseModel:
    """The connector's validated settings with secrets revealed, for building it (never for display)."""
    info = get_kind(kinds, row.kind)
    model = info.config_model
    secrets = secret_fields(model)
    values: dict[str, Any] = {}
    for field, value in row.config.items():
        values[field] = _reveal(row, field, value, box) if field in secrets else value
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(f"connector {row.name!r}: {validation_line(exc, row.kind, model)}") from None


# A connection test answers fast: one attempt (a check that fails is not retried) and a short timeout.
CHECK_SETTINGS: dict[str, float] = {"max_attempts": 1, "timeout_s": 10.0}


def check_settings(config: BaseModel) -> BaseModel:
    """The settings a connection test runs with: ``CHECK_SETTINGS`` over the connector's own (a timeout
    only ever shortened), for the fields its kind has."""
    fields = type(config).model_fields
    update: dict[str, Any] = {k: v for k, v in CHECK_SETTINGS.items() if k in fields}
    if "timeout_s" in update:
        current = getattr(config, "timeout_s")  # noqa: B009 - a field of the kind's model, not of BaseModel
        update["timeout_s"] = min(update["timeout_s"], current)
    return config.model_copy(update=update)


def _reveal(row: ConfiguredConnector, field: str, value: Any, box: SecretBox) -> str:
    if isinstance(value, dict) and SECRET in value:
        return box.decrypt(value[SECRET], what=f"the {field} of connector {row.name!r}")
    if isinstance(value, dict) and ENV in value:
        found = read_env_secret(value[ENV])
        if found is None:
            raise ConfigError(f"connector {row.name!r} reads its {field} from {value[ENV]}, which is not set")
        return found
    raise ConfigError(f"connector {row.name!r}: the stored {field} is not an encrypted value; set it again")


def describe(*, row: ConfiguredConnector, box: SecretBox, kinds: Mapping[str, KindInfo]) -> dict[str, Any]:
    """The connector as it may be shown: secrets masked (``••••1234``) or named by their variable."""
    info = kinds.get(row.kind)
    secrets = secret_fields(info.config_model) if info is not None and info.available else frozenset()
    config: dict[str, Any] = {}
    for field, value in row.config.items():
        if field not in secrets and not (isinstance(value, dict) and (SECRET in value or ENV in value)):
            config[field] = value
        elif isinstance(value, dict) and ENV in value:
            config[field] = f"{ENV_REF_PREFIX}{value[ENV]}"
        else:
            try:
                config[field] = mask(box.decrypt(value[SECRET]))
            except (ConfigError, KeyError, TypeError):
                config[field] = "•••• (unreadable: set it again)"
    return {
        "name": row.name,
        "kind": row.kind,
        "enabled": row.enabled,
        "interval_minutes": row.interval_minutes,
        "config": config,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }
