"""What the Connectors page's tabs share: widget keys, state colours and labels, a connector kind's form."""

from __future__ import annotations

from functools import partial
from typing import Any

import pandas as pd

from app import ui
from app.forms import FieldSpec, SecretEnv, field_specs
from connectors.registry import KINDS
from core import pipelines
from core.pipelines.configured import read_env_secret
from core.runtime import Runtime

TAB_KEY = "connectors_tab"
MANAGE_KEY = "manage_connector"
ALL = ""
HISTORY_LIMIT = 50

STATE_LABEL = {"ok": "ok", "failing": "failing", "never_run": "never run", "disabled": "disabled"}
STATE_COLOR = {"ok": ui.TEAL, "failing": ui.RED, "never_run": ui.SLATE, "disabled": "#A7B1BE"}
STATE_BADGE = {"ok": "green", "failing": "red", "never_run": "gray", "disabled": "gray"}
STATE_ICON = {
    "ok": ":material/check_circle:",
    "failing": ":material/error:",
    "never_run": ":material/schedule:",
    "disabled": ":material/pause_circle:",
}
RUN_ICON = {"succeeded": ":material/check_circle:", "failed": ":material/error:", "running": ":material/sync:"}


def every(minutes: int) -> str:
    if minutes % 1440 == 0:
        return f"every {ui.plural(minutes // 1440, 'day')}"
    if minutes % 60 == 0:
        return f"every {ui.plural(minutes // 60, 'hour')}"
    return f"every {minutes} min"


def kind_label(kind: str) -> str:
    info = KINDS.get(kind)
    return info.label if info else kind


def state_cell(state: str) -> str:
    return f"● {STATE_LABEL.get(state, state)}"


def _state_style(cell: str) -> str:
    for state in STATE_LABEL:
        if cell == state_cell(state):
            return f"color: {STATE_COLOR[state]}; font-weight: 600"
    return ""


def styled(frame: pd.DataFrame, column: str = "state") -> Any:
    return frame.style.map(_state_style, subset=[column]) if not frame.empty else frame


def scope(rt: Runtime) -> str:
    """What a background sync runs against: the database, so two apps in one process never share jobs."""
    return rt.engine.url.render_as_string(hide_password=True)


# ---- a kind's settings form --------------------------------------------------------------------------


def settings_specs(kind: str) -> list[FieldSpec]:
    """The form fields of a kind's settings model (KeyError for a kind this version does not know)."""
    model = KINDS[kind].config_model
    return field_specs(model, secrets=pipelines.secret_fields(model))


def secret_env(kind: str) -> SecretEnv:
    """A kind's secrets may be ``env:`` references instead, read from ``SOPHIA_<KIND>_<FIELD>``-style variables."""
    return SecretEnv(var=partial(pipelines.env_var_for, kind), read=read_env_secret)
