"""Connectors: the sources Sophia syncs from. Add one (a form generated from its kind's settings model),
test it, schedule it, run it now with progress, edit or delete it; watch every stream's health, the run
history and the quarantined records.

Everything goes through ``core.pipelines`` with the signed-in admin as the actor (core validates, encrypts
secrets and audits). A sync started here runs in a background thread of the app server, so the page keeps
answering while it runs and its progress shows on every admin's page. The page checks the role itself.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from types import NoneType, UnionType
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
import pandas as pd
import streamlit as st
import structlog
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import PydanticUndefined

from app import ui
from app.auth import require_role
from connectors.registry import KINDS
from core import pipelines
from core.auth import Identity
from core.bus import make_bus
from core.crypto import SecretBox
from core.db.types import utcnow
from core.errors import SophiaError
from core.pipelines import manage
from core.pipelines.configured import DEFAULT_INTERVAL_MINUTES, MAX_INTERVAL_MINUTES, read_env_secret
from core.pipelines.health import StreamHealth
from core.pipelines.manage import ConnectorStatus
from core.pipelines.replay import replay_quarantined
from core.runtime import Runtime

log = structlog.get_logger(__name__)

TABS = ["Overview", "Manage", "Add a connector", "Run history", "Quarantine"]
TAB_KEY = "connectors_tab"
MANAGE_KEY = "manage_connector"
ALL = ""
HISTORY_LIMIT = 50
POLL_S = 1.0  # how often a page showing a running sync refreshes its progress

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


# ---- formatting -------------------------------------------------------------------------------


def span(seconds: float | None) -> str:
    """45 s, 4 min, 2 h 5 min, 3 d 4 h."""
    if seconds is None:
        return ui.DASH
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86_400:
        h, m = divmod(s // 60, 60)
        return f"{h} h {m} min" if m else f"{h} h"
    d, h = divmod(s // 3600, 24)
    if d >= 365:
        return f"{d / 365:.1f} years"
    if d >= 10:
        return f"{d} d"
    return f"{d} d {h} h" if h else f"{d} d"


def ago(when: datetime | None) -> str:
    if when is None:
        return ui.DASH
    seconds = (utcnow() - when).total_seconds()
    return "just now" if seconds < 5 else f"{span(seconds)} ago"


def stamp(when: datetime | None) -> str:
    return ui.DASH if when is None else f"{when:%b} {when.day}, {when:%H:%M:%S} UTC"


def every(minutes: int) -> str:
    if minutes % 1440 == 0:
        return f"every {ui.plural(minutes // 1440, 'day')}"
    if minutes % 60 == 0:
        return f"every {ui.plural(minutes // 60, 'hour')}"
    return f"every {minutes} min"


def short(text: str | None, limit: int = 90) -> str:
    if not text:
        return ""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


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


# ---- the settings form, generated from the kind's pydantic model ---------------------------------


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    widget: Literal["secret", "text", "int", "float", "bool", "choice", "json"]
    required: bool
    default: Any  # PydanticUndefined when there is none
    annotation: Any
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()

    @property
    def has_default(self) -> bool:
        return self.default is not PydanticUndefined

    @property
    def primary(self) -> bool:
        """Shown first; the others go under "Advanced settings"."""
        return self.required or self.widget == "secret" or self.name == "base_url"


ACRONYMS = {"url": "URL", "id": "ID", "api": "API", "crm": "CRM", "ms": "(ms)", "s": "(s)"}
PER_UNIT = {"s": "second", "ms": "millisecond"}


def field_label(name: str) -> str:
    """base_url -> Base URL, search_lag_s -> Search lag (s), search_requests_per_s -> Search requests per second."""
    parts = name.split("_")
    words = [
        PER_UNIT[w] if i and parts[i - 1] == "per" and w in PER_UNIT else ACRONYMS.get(w, w)
        for i, w in enumerate(parts)
    ]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    if get_origin(annotation) in (Union, UnionType):
        args = [a for a in get_args(annotation) if a is not NoneType]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def field_specs(model: type[BaseModel]) -> list[FieldSpec]:
    secrets = pipelines.secret_fields(model)
    specs = []
    for name, info in model.model_fields.items():
        base, _ = _unwrap_optional(info.annotation)
        origin = get_origin(base)
        choices: tuple[Any, ...] = ()
        if name in secrets:
            widget = "secret"
        elif base is bool:
            widget = "bool"
        elif base is int:
            widget = "int"
        elif base is float:
            widget = "float"
        elif origin is Literal:
            widget, choices = "choice", get_args(base)
        elif isinstance(base, type) and issubclass(base, Enum):
            widget, choices = "choice", tuple(m.value for m in base)
        elif origin in (dict, list) or base in (dict, list) or (isinstance(base, type) and issubclass(base, BaseModel)):
            widget = "json"
        else:
            widget = "text"
        low = high = None
        for m in info.metadata:
            if isinstance(m, annotated_types.Ge):
                low = m.ge
            elif isinstance(m, annotated_types.Gt):
                low = m.gt + 1 if widget == "int" else m.gt
            elif isinstance(m, annotated_types.Le):
                high = m.le
            elif isinstance(m, annotated_types.Lt):
                high = m.lt - 1 if widget == "int" else m.lt
        default = info.default_factory() if info.default_factory is not None else info.default
        specs.append(
            FieldSpec(name, field_label(name), widget, info.is_required(), default, info.annotation, low, high, choices)
        )
    # first what must be given, then the kind's own settings, then those every kind shares (HTTP, retries)
    own = set(getattr(model, "__annotations__", {}))
    return sorted(specs, key=lambda s: (not s.primary, not (s.required or s.widget == "secret"), s.name not in own))


TYPE_WORDS = {
    "secret": "secret",
    "text": "text",
    "int": "whole number",
    "float": "number",
    "bool": "yes/no",
    "choice": "one of the choices",
    "json": "JSON",
}


def field_help(spec: FieldSpec, kind: str) -> str:
    parts = [f"`{spec.name}` · {TYPE_WORDS[spec.widget]}"]
    if spec.required:
        parts.append("required")
    elif spec.has_default and spec.default not in (None, {}, [], ""):
        parts.append(f"default {json.dumps(spec.default) if spec.widget == 'json' else spec.default}")
    if spec.low is not None and spec.high is not None:
        parts.append(f"{spec.low}–{spec.high}")
    elif spec.low is not None:
        parts.append(f"at least {spec.low}")
    text = " · ".join(parts) + "."
    if spec.widget == "secret":
        var = pipelines.env_var_for(kind, spec.name)
        text += (
            f" Stored encrypted and only ever shown masked. To keep it out of the database, type "
            f"`env:{var}` and set that variable where Sophia runs."
        )
    return text


def _key(prefix: str, spec: FieldSpec) -> str:
    return f"{prefix}{spec.name}"


def _coerce(spec: FieldSpec, value: Any) -> Any:
    """A stored value (the CLI stores what was typed, e.g. "5") as the widget shows it; None if it won't go."""
    try:
        return TypeAdapter(spec.annotation).validate_python(value)
    except ValidationError:
        return None


def settings_widgets(specs: list[FieldSpec], *, kind: str, prefix: str, current: Mapping[str, Any] | None) -> None:
    """The inputs of a settings form. With ``current`` (a described config: secrets masked) they start at
    the connector's values; without, blank, each showing its default."""
    primary = [s for s in specs if s.primary]
    advanced = [s for s in specs if not s.primary]
    left, right = st.columns(2)
    for i, spec in enumerate(primary):
        with left if i % 2 == 0 else right:
            _widget(spec, kind=kind, prefix=prefix, current=current)
    if advanced:
        with st.expander("Advanced settings", icon=":material/tune:"):
            st.caption("Leave a field blank to use its default.")
            left, right = st.columns(2)
            for i, spec in enumerate(advanced):
                with left if i % 2 == 0 else right:
                    _widget(spec, kind=kind, prefix=prefix, current=current)


def _widget(spec: FieldSpec, *, kind: str, prefix: str, current: Mapping[str, Any] | None) -> None:
    key, help_ = _key(prefix, spec), field_help(spec, kind)
    label = spec.label
    have = current is not None and spec.name in current
    now = current.get(spec.name) if current is not None else None
    placeholder = (
        str(spec.default)
        if spec.has_default and spec.default not in (None, "")
        else ("required" if spec.required else "optional")
    )
    match spec.widget:
        case "secret":
            env_set = read_env_secret(pipelines.env_var_for(kind, spec.name)) is not None
            if current is not None:
                hint = f"{now} · leave blank to keep" if have else "not set"
            elif env_set:
                hint = f"blank: read from {pipelines.env_var_for(kind, spec.name)}"
            else:
                hint = "paste it here"
            st.text_input(
                label,
                type="password",
                key=key,
                placeholder=hint,
                help=help_,
                required=spec.required and current is None and not env_set,
                autocomplete="off",
            )
        case "bool":
            value = bool(_coerce(spec, now)) if have else bool(spec.default) if spec.has_default else False
            st.toggle(label, value=value, key=key, help=help_)
        case "int" | "float":
            cast = int if spec.widget == "int" else float
            value = _coerce(spec, now) if have else None
            st.number_input(
                label,
                key=key,
                value=value,
                placeholder=f"{placeholder} (default)" if spec.has_default else placeholder,
                min_value=None if spec.low is None else cast(spec.low),
                max_value=None if spec.high is None else cast(spec.high),
                step=1 if spec.widget == "int" else None,
                help=help_,
            )
        case "choice":
            options = list(spec.choices)
            index = (
                options.index(now)
                if have and now in options
                else (options.index(spec.default) if spec.has_default and spec.default in options else None)
            )
            st.selectbox(label, options, index=index, key=key, help=help_, placeholder="Choose")
        case "json":
            value = json.dumps(now) if have else ""
            example = '["value"]' if get_origin(_unwrap_optional(spec.annotation)[0]) is list else '{"key": "value"}'
            st.text_area(
                label,
                value=value,
                key=key,
                height=68,
                help=help_,
                placeholder=json.dumps(spec.default) if spec.has_default and spec.default else example,
            )
        case _:
            value = str(now) if have and now is not None else ""
            st.text_input(label, value=value, key=key, placeholder=placeholder, help=help_, required=spec.required)


class FormError(Exception):
    """A value the form itself can tell is wrong (text in a JSON box that is not JSON)."""


def _typed(spec: FieldSpec, raw: Any) -> Any:
    """A widget's value as core takes it, or None when the field is left blank."""
    if not isinstance(raw, str):
        return raw
    raw = raw.strip()
    if not raw:
        return None
    if spec.widget == "json":
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise FormError(f"**{spec.label}**: not valid JSON ({exc.msg} at character {exc.pos + 1}).") from None
    return raw


def new_values(specs: list[FieldSpec], prefix: str, kind: str) -> tuple[dict[str, Any], list[FieldSpec]]:
    """What an add form gives core (blank fields left out, so their defaults apply), and the required
    fields left blank."""
    values: dict[str, Any] = {}
    for spec in specs:
        raw = _typed(spec, st.session_state.get(_key(prefix, spec)))
        if spec.widget == "bool":
            if spec.has_default and raw == spec.default:
                continue
        if raw is not None:
            values[spec.name] = raw
    missing = [
        s
        for s in specs
        if s.required
        and s.name not in values
        and not (s.widget == "secret" and read_env_secret(pipelines.env_var_for(kind, s.name)))
    ]
    return values, missing


def changed_values(specs: list[FieldSpec], prefix: str, stored: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """What an edit form changes: the settings to set, and those cleared (back to their default)."""
    values: dict[str, Any] = {}
    reset: list[str] = []
    for spec in specs:
        raw = _typed(spec, st.session_state.get(_key(prefix, spec)))
        if spec.widget == "secret":
            if raw is not None:
                values[spec.name] = raw  # blank keeps the stored secret
            continue
        have = spec.name in stored
        if raw is None:
            if have:
                reset.append(spec.name)
            continue
        old = stored.get(spec.name)
        if spec.widget == "json":
            same = have and raw == old
        elif spec.widget == "bool" and not have:
            same = spec.has_default and raw == spec.default
        else:
            same = have and _coerce(spec, old) == _coerce(spec, raw)
        if not same:
            values[spec.name] = raw
    return values, reset


def field_error(message: str, specs: list[FieldSpec]) -> str:
    """Core's one-line refusal, with the form's label of the field it names."""
    m = re.match(r"^\w+ setting ([\w.]+): (.*)$", message)
    if m:
        name = m[1].split(".")[0]
        label = next((s.label for s in specs if s.name == name), name)
        return f"**{label}** (`{m[1]}`): {m[2]}"
    for spec in specs:
        if re.search(rf"(?<![\w.]){re.escape(spec.name)}(?![\w])", message):
            return f"**{spec.label}**: {message}"
    return message


# ---- flash messages: set by an action's callback, shown once where the action is --------------------


def flash(area: str, level: Literal["success", "error", "info", "warning"], text: str) -> None:
    st.session_state[f"flash_{area}"] = (level, text)


def show_flash(area: str) -> None:
    item = st.session_state.pop(f"flash_{area}", None)
    if item is None:
        return
    level, text = item
    icons = {
        "success": ":material/check_circle:",
        "error": ":material/error:",
        "info": ":material/info:",
        "warning": ":material/warning:",
    }
    getattr(st, level)(text, icon=icons[level])


# ---- syncs started from this page: background threads, progress shared with every session ------------


@dataclass
class SyncJob:
    id: str
    db: str
    connector: str
    started_by: str
    streams: list[str]
    started_at: datetime = field(default_factory=utcnow)
    stream: str | None = None
    read: int = 0
    total: int | None = None
    result: pipelines.SyncResult | None = None
    error: str | None = None
    finished_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self.finished_at is None

    def update(self, stream: str, read: int, total: int | None) -> None:
        """The runner's progress callback, called after each committed page."""
        self.stream, self.read, self.total = stream, read, total

    def fraction(self) -> float:
        if not self.streams or self.stream not in self.streams:
            return 0.0
        within = min(1.0, self.read / self.total) if self.total else 0.0
        return min(1.0, (self.streams.index(self.stream) + within) / len(self.streams))


@st.cache_resource(show_spinner=False)
def sync_jobs() -> dict[tuple[str, str], SyncJob]:
    """The latest sync started from the app, per (database, connector); shared by all sessions."""
    return {}


def _db(rt: Runtime) -> str:
    return rt.engine.url.render_as_string(hide_password=True)


def running_job(rt: Runtime, name: str) -> SyncJob | None:
    job = sync_jobs().get((_db(rt), name))
    return job if job is not None and job.running else None


def start_sync(rt: Runtime, name: str, streams: list[str], actor: str) -> None:
    if running_job(rt, name) is not None:
        return
    job = SyncJob(id=uuid.uuid4().hex, db=_db(rt), connector=name, started_by=actor, streams=streams)
    sync_jobs()[(job.db, name)] = job
    st.session_state.setdefault("my_syncs", []).append(job.id)
    threading.Thread(target=_sync_in_background, args=(rt, job), name=f"sync-{name}", daemon=True).start()


def _sync_in_background(rt: Runtime, job: SyncJob) -> None:
    bus = make_bus(rt.settings)
    try:
        job.result = pipelines.sync_connector(runtime=rt, kinds=KINDS, name=job.connector, bus=bus, progress=job.update)
    except SophiaError as exc:
        job.error = exc.message
    except Exception as exc:  # noqa: BLE001 - our bug: the run record says so too; shown, not raised into a thread
        job.error = f"unexpected {type(exc).__name__}; see the app's log"
        log.error("sync.unexpected", connector=job.connector, error=type(exc).__name__)
    finally:
        bus.close()
        job.finished_at = utcnow()


def sync_area(rt: Runtime) -> None:
    """Running syncs (anyone's) and the results of the ones this session started, above the tabs."""
    mine = set(st.session_state.get("my_syncs", []))
    dismissed = set(st.session_state.get("dismissed_syncs", []))
    jobs = [
        j for j in sync_jobs().values() if j.db == _db(rt) and (j.running or (j.id in mine and j.id not in dismissed))
    ]
    running = any(j.running for j in jobs)
    st.fragment(_sync_panels, run_every=POLL_S if running else None)(rt, [j.id for j in jobs])


def _sync_panels(rt: Runtime, ids: list[str]) -> None:
    jobs = [j for j in sync_jobs().values() if j.id in ids]
    seen = st.session_state.setdefault("seen_finished", [])
    for job in sorted(jobs, key=lambda j: j.started_at):
        if not job.running and job.id not in seen:
            seen.append(job.id)  # it finished since the last full run: redraw the page with its results
            st.rerun(scope="app")
        sync_panel(job)


def sync_panel(job: SyncJob) -> None:
    name = job.connector
    if job.running:
        where = "starting"
        if job.stream:
            where = f"{job.stream}: {job.read:,}" + (f" of {job.total:,}" if job.total else "") + " records"
        # not `with`: leaving the block would mark the status complete
        status = st.status(f"Syncing {name}… {where}", state="running", expanded=True)
        step = job.streams.index(job.stream) + 1 if job.stream in job.streams else 0
        status.progress(job.fraction(), text=f"Stream {step} of {len(job.streams)} · {where}")
        status.caption(
            f"Started by {job.started_by} {ago(job.started_at)}. It runs on the server: you can keep "
            "working, leave the page, or come back later."
        )
        return
    result = job.result
    if result is None:
        state, label = "error", f"The sync of {name} did not start"
    elif result.failed:
        state, label = "error", f"The sync of {name} failed at stream {result.failed.stream}"
    else:
        t = _total(result)
        state, label = (
            "complete",
            (
                f"Synced {name}: {t.read:,} read · {t.written:,} written · "
                f"{t.quarantined:,} quarantined · {t.deleted:,} deleted"
            ),
        )
    with st.status(label, state=state, expanded=state == "error"):
        if result is not None and result.runs:
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "stream": r.stream,
                            "status": r.status,
                            "read": r.tally.read,
                            "written": r.tally.written,
                            "quarantined": r.tally.quarantined,
                            "deleted": r.tally.deleted,
                        }
                        for r in result.runs
                    ]
                ),
                hide_index=True,
                key=f"sync_result_{job.id}",
                column_config={
                    "stream": "Stream",
                    "status": "Status",
                    "read": "Read",
                    "written": "Written",
                    "quarantined": "Quarantined",
                    "deleted": "Deleted",
                },
            )
        if job.error or (result and result.failed):
            st.error(job.error or result.failed.error, icon=":material/error:")
        took = (job.finished_at - job.started_at).total_seconds() if job.finished_at else None
        c1, c2 = st.columns([4, 1], vertical_alignment="center")
        c1.caption(f"Started by {job.started_by} at {stamp(job.started_at)} · took {span(took)}.")
        c2.button(
            "Dismiss",
            key=f"dismiss_{job.id}",
            icon=":material/close:",
            on_click=_dismiss,
            args=(job.id,),
            width="stretch",
        )


def _dismiss(job_id: str) -> None:
    st.session_state.setdefault("dismissed_syncs", []).append(job_id)


def _total(result: pipelines.SyncResult) -> pipelines.Tally:
    total = pipelines.Tally()
    for run in result.runs:
        total = total.plus(run.tally)
    return total


# ---- overview -----------------------------------------------------------------------------------


def kpis(statuses: list[ConnectorStatus]) -> None:
    streams = [s for c in statuses for s in c.streams]
    enabled = [c for c in statuses if c.enabled]
    failing = [c for c in statuses if c.state == "failing"]
    quarantined = sum(c.quarantined for c in statuses)
    last = max((c.last_run_at for c in statuses if c.last_run_at), default=None)
    cols = st.columns(4)
    with cols[0]:
        ui.kpi(
            "Connectors",
            f"{len(statuses)}",
            delta=f"{len(enabled)} enabled · last run {ago(last)}",
            help="Configured connectors; the scheduler runs the enabled ones on their interval.",
        )
    with cols[1]:
        ok = sum(1 for s in streams if s.state == "ok")
        ui.kpi(
            "Streams ok",
            f"{ok} of {len(streams)}",
            delta=f"{sum(1 for s in streams if s.state == 'never_run')} never run" if streams else None,
            help="A stream is ok when its last run succeeded.",
        )
    with cols[2]:
        ui.kpi(
            "Failing",
            f"{len(failing)}",
            delta=", ".join(c.name for c in failing)[:60] if failing else "all clear",
            delta_color="red" if failing else "green",
            help="Connectors whose last run of some stream failed, or whose settings cannot be used.",
        )
    with cols[3]:
        ui.kpi(
            "Quarantined records",
            ui.count(quarantined),
            delta="see the Quarantine tab" if quarantined else "none",
            delta_color="orange" if quarantined else "off",
            help="Records a connector read but could not take in; the rest of their run landed.",
        )


def overview_tab(statuses: list[ConnectorStatus]) -> None:
    rows = [
        {
            "name": c.name,
            "kind": kind_label(c.kind),
            "enabled": c.enabled,
            "schedule": every(c.interval_minutes),
            "state": state_cell(c.state),
            "last_run": "syncing now" if c.syncing else ago(c.last_run_at),
            "lag": span(c.lag_s),
            "freshness": span(c.freshness_s),
            "quarantined": c.quarantined,
            "last_error": short(c.last_error),
        }
        for c in statuses
    ]
    with st.container(border=True):
        st.markdown(f"**Configured connectors** · {len(rows)}")
        st.caption(
            "Lag: time since the stream furthest behind last synced successfully. "
            "Freshness: time since the newest record any of its streams brought in."
        )
        st.dataframe(
            styled(pd.DataFrame(rows)),
            hide_index=True,
            key="connectors_table",
            column_config={
                "name": "Name",
                "kind": "Kind",
                "enabled": st.column_config.CheckboxColumn("Enabled"),
                "schedule": "Schedule",
                "state": "State",
                "last_run": "Last run",
                "lag": "Lag",
                "freshness": "Freshness",
                "quarantined": st.column_config.NumberColumn("Quarantined"),
                "last_error": st.column_config.TextColumn("Last error", width="large"),
            },
        )
    with st.container(border=True):
        st.markdown("**Streams**")
        for c in statuses:
            counts = {s: sum(1 for x in c.streams if x.state == s) for s in STATE_LABEL}
            summary = ", ".join(f":{STATE_BADGE[s]}[{n} {STATE_LABEL[s]}]" for s, n in counts.items() if n)
            summary = summary or (":red[settings unusable]" if c.problem else "no streams")
            with st.expander(
                f"{c.name} · {kind_label(c.kind)} — {ui.plural(len(c.streams), 'stream')}: {summary}",
                icon=STATE_ICON[c.state],
            ):
                if c.problem:
                    st.error(c.problem, icon=":material/error:")
                    continue
                stream_table(c.name, c.streams)


def stream_table(name: str, streams: list[StreamHealth]) -> None:
    st.dataframe(
        styled(
            pd.DataFrame(
                [
                    {
                        "stream": s.stream,
                        "entity": s.entity,
                        "state": state_cell(s.state),
                        "last_run": ago(s.last_run_at),
                        "last_success": ago(s.last_success_at),
                        "lag": span(s.lag_s),
                        "freshness": span(s.freshness_s) if s.last_success_at or s.records_written else ui.DASH,
                        "written": s.records_written,
                        "failed_24h": s.failed_runs_24h,
                        "last_error": short(s.last_error),
                    }
                    for s in streams
                ]
            )
        ),
        hide_index=True,
        key=f"streams_{name}",
        column_config={
            "stream": "Stream",
            "entity": "Becomes",
            "state": "State",
            "last_run": "Last run",
            "last_success": "Last success",
            "lag": "Lag",
            "freshness": "Freshness",
            "written": st.column_config.NumberColumn("Written (all runs)"),
            "failed_24h": st.column_config.NumberColumn("Failed runs (24 h)"),
            "last_error": st.column_config.TextColumn("Last error", width="large"),
        },
    )


# ---- manage one connector -------------------------------------------------------------------------


def manage_tab(rt: Runtime, me: Identity, box: SecretBox, statuses: list[ConnectorStatus]) -> None:
    by_name = {c.name: c for c in statuses}
    if st.session_state.get(MANAGE_KEY) not in by_name:
        st.session_state.pop(MANAGE_KEY, None)
    name = st.selectbox(
        "Connector", list(by_name), key=MANAGE_KEY, format_func=lambda n: f"{n} · {kind_label(by_name[n].kind)}"
    )
    show_flash("manage")
    if name is None:
        return
    c = by_name[name]
    with rt.session() as s:
        row = pipelines.get_connector(session=s, name=name)
        shown = pipelines.describe(row=row, box=box, kinds=KINDS)
        stored = dict(row.config)

    with st.container(border=True, key=f"compact_card_{name}"):
        head, badges = st.columns([3, 2], vertical_alignment="center")
        head.subheader(name, anchor=False)
        with badges, st.container(horizontal=True, horizontal_alignment="right"):
            st.badge(STATE_LABEL[c.state], icon=STATE_ICON[c.state], color=STATE_BADGE[c.state])
            st.badge(kind_label(c.kind), color="blue")
            st.badge(
                every(c.interval_minutes) if c.enabled else "not scheduled", icon=":material/schedule:", color="gray"
            )
        ok = sum(1 for x in c.streams if x.state == "ok")
        for col, (label, value, help_) in zip(
            st.columns(5),
            (
                ("Streams", f"{ok} of {len(c.streams)} ok", "Streams whose last run succeeded."),
                ("Last run", "now" if c.syncing else ago(c.last_run_at), None),
                ("Lag", span(c.lag_s), "Time since the stream furthest behind last synced successfully."),
                ("Freshness", span(c.freshness_s), "Time since the newest record any of its streams brought in."),
                ("Quarantined", ui.count(c.quarantined), "Records it read but could not take in."),
            ),
            strict=True,
        ):
            col.metric(label, value, help=help_)
        job = running_job(rt, name)
        busy = job is not None or c.syncing
        with st.container(horizontal=True):
            test = st.button(
                "Test connection",
                key=f"test_{name}",
                icon=":material/network_check:",
                help="Check the credentials and that the source answers; one line either way.",
            )
            st.button(
                "Syncing…" if busy else "Run now",
                key=f"run_{name}",
                icon=":material/sync:",
                type="primary",
                disabled=busy,
                on_click=start_sync,
                args=(rt, name, [s.stream for s in c.streams], me.username),
                help="Sync every stream now, from where the last run stopped. Progress shows above.",
            )
            with st.popover("Delete", icon=":material/delete:"):
                st.markdown(
                    f"Delete **{name}** with its saved cursors, run history and quarantined records? "
                    "The records it synced stay. This cannot be undone."
                )
                typed = st.text_input(f"Type {name} to confirm", key=f"delete_confirm_{name}")
                st.button(
                    f"Delete {name}",
                    key=f"delete_{name}",
                    type="primary",
                    icon=":material/delete_forever:",
                    disabled=typed != name,
                    on_click=_delete,
                    args=(rt, me, name),
                )
        if test:
            with st.spinner(f"Checking {name}…"):
                try:
                    line = pipelines.check_connector(runtime=rt, kinds=KINDS, name=name)
                    st.session_state[f"checked_{name}"] = ("success", line, utcnow())
                except SophiaError as exc:
                    st.session_state[f"checked_{name}"] = ("error", exc.message, utcnow())
        checked = st.session_state.get(f"checked_{name}")
        if checked:
            level, line, at = checked
            icon = ":material/check_circle:" if level == "success" else ":material/error:"
            getattr(st, level)(
                f"{'Connection works' if level == 'success' else 'Connection failed'}: {line}  \n*Checked {ago(at)}.*",
                icon=icon,
            )
        if c.last_error and not checked:
            st.warning(f"Last error: {c.last_error}", icon=":material/warning:")

    schedule_col, settings_col = st.columns([1, 2])
    with schedule_col, st.container(border=True):
        st.markdown("**Schedule**")
        with st.form(f"schedule_{name}", border=False):
            st.toggle(
                "Run on schedule",
                value=c.enabled,
                key=f"sched_enabled_{name}",
                help="A disabled connector is not run by the scheduler; Run now still works.",
            )
            st.number_input(
                "Every (minutes)",
                min_value=1,
                max_value=MAX_INTERVAL_MINUTES,
                step=1,
                value=c.interval_minutes,
                key=f"sched_interval_{name}",
                help=f"Between 1 and {MAX_INTERVAL_MINUTES:,} (a week).",
            )
            st.form_submit_button(
                "Save schedule", icon=":material/event_repeat:", on_click=_save_schedule, args=(rt, me, name)
            )
        st.caption(f"Added {stamp(row.created_at)} · changed {ago(row.updated_at)}.")
    with settings_col, st.container(border=True):
        st.markdown("**Settings**")
        try:
            specs = field_specs(KINDS[c.kind].config_model)
        except (KeyError, LookupError):
            st.info(
                f"{kind_label(c.kind)} connectors are not available in this version; their settings cannot be edited.",
                icon=":material/info:",
            )
            return
        with st.form(f"settings_{name}", border=False):
            settings_widgets(specs, kind=c.kind, prefix=f"edit_{name}_", current=shown["config"])
            st.form_submit_button(
                "Save settings",
                icon=":material/save:",
                on_click=_save_settings,
                args=(rt, me, box, name, c.kind, stored),
            )
        st.caption("Secrets are stored encrypted and shown masked; leave a secret blank to keep it.")


def _save_schedule(rt: Runtime, me: Identity, name: str) -> None:
    enabled = bool(st.session_state[f"sched_enabled_{name}"])
    interval = st.session_state[f"sched_interval_{name}"]
    try:
        with rt.session() as s:
            manage.set_interval(session=s, name=name, interval_minutes=int(interval), actor=me.username)
            manage.set_enabled(session=s, name=name, enabled=enabled, actor=me.username)
    except SophiaError as exc:
        flash("manage", "error", exc.message)
        return
    flash(
        "manage",
        "success",
        f"{name} runs {every(int(interval))}."
        if enabled
        else f"{name} is disabled: it runs only when you press Run now.",
    )


def _save_settings(rt: Runtime, me: Identity, box: SecretBox, name: str, kind: str, stored: dict[str, Any]) -> None:
    specs = field_specs(KINDS[kind].config_model)
    prefix = f"edit_{name}_"
    try:
        values, reset = changed_values(specs, prefix, stored)
    except FormError as exc:
        flash("manage", "error", str(exc))
        return
    if not values and not reset:
        flash("manage", "info", "Nothing changed.")
        return
    try:
        with rt.session() as s:
            manage.update_settings(
                session=s, box=box, kinds=KINDS, name=name, values=values, reset=reset, actor=me.username
            )
    except SophiaError as exc:
        flash("manage", "error", field_error(exc.message, specs))
        return
    for spec in specs:
        if spec.widget == "secret":
            st.session_state.pop(_key(prefix, spec), None)  # the new secret is not kept in the form
    st.session_state.pop(f"checked_{name}", None)  # a connection check of the old settings says nothing now
    names = ", ".join(s.label for s in specs if s.name in values or s.name in reset)
    flash("manage", "success", f"Saved the settings of {name} ({names}).")


def _delete(rt: Runtime, me: Identity, name: str) -> None:
    try:
        with rt.session() as s:
            gone = manage.delete_connector(session=s, name=name, actor=me.username)
    except SophiaError as exc:
        flash("manage", "error", exc.message)
        return
    st.session_state.pop(MANAGE_KEY, None)
    st.session_state.pop(f"delete_confirm_{name}", None)
    flash(
        "manage",
        "success",
        f"Deleted {name} with {ui.plural(gone.runs, 'run')}, "
        f"{ui.plural(gone.quarantined, 'quarantined record')} and {ui.plural(gone.cursors, 'saved cursor')}. "
        "The records it synced stay.",
    )


# ---- add a connector ------------------------------------------------------------------------------


def add_section(rt: Runtime, me: Identity, box: SecretBox, taken: set[str]) -> None:
    available = [k for k, info in KINDS.items() if info.available]
    later = [info.label for info in KINDS.values() if not info.available]
    with st.container(border=True):
        st.markdown("**Add a connector**")
        kind = st.pills(
            "Kind",
            available,
            format_func=kind_label,
            key="add_kind",
            default=available[0] if available else None,
            required=True,
        )
        if later:
            st.caption("Not yet available: " + " ".join(f":gray-badge[{label}]" for label in later))
        if not kind:
            return
        specs = field_specs(KINDS[kind].config_model)
        prefix = f"add_{kind}_"
        with st.form(f"add_{kind}", border=False):
            c1, c2 = st.columns([2, 1])
            c1.text_input(
                "Name",
                key=f"{prefix}name",
                value=kind if kind not in taken else "",
                placeholder=f"e.g. {kind}-prod",
                required=True,
                help="How Sophia refers to it: 1-64 lowercase letters, digits, '-' or '_'.",
            )
            c2.number_input(
                "Sync every (minutes)",
                min_value=1,
                max_value=MAX_INTERVAL_MINUTES,
                step=1,
                value=DEFAULT_INTERVAL_MINUTES,
                key=f"{prefix}interval",
                help=f"The scheduler runs it this often; between 1 and {MAX_INTERVAL_MINUTES:,} (a week).",
            )
            settings_widgets(specs, kind=kind, prefix=f"{prefix}f_", current=None)
            st.form_submit_button(
                "Add connector", type="primary", icon=":material/add_link:", on_click=_add, args=(rt, me, box, kind)
            )
        show_flash("add")


def _add(rt: Runtime, me: Identity, box: SecretBox, kind: str) -> None:
    specs = field_specs(KINDS[kind].config_model)
    prefix = f"add_{kind}_"
    name = (st.session_state.get(f"{prefix}name") or "").strip()
    try:
        values, missing = new_values(specs, f"{prefix}f_", kind)
    except FormError as exc:
        flash("add", "error", str(exc))
        return
    if not name:
        flash("add", "error", "**Name** is required.")
        return
    if missing:
        flash("add", "error", " ".join(f"**{s.label}** is required." for s in missing))
        return
    try:
        with rt.session() as s:
            row = pipelines.add_connector(
                session=s,
                box=box,
                kinds=KINDS,
                kind=kind,
                name=name,
                values=values,
                interval_minutes=int(st.session_state.get(f"{prefix}interval") or DEFAULT_INTERVAL_MINUTES),
                actor=me.username,
            )
            shown = pipelines.describe(row=row, box=box, kinds=KINDS)
    except SophiaError as exc:
        flash("add", "error", field_error(exc.message, specs))
        return
    for spec in specs:  # start the next add from a blank form
        st.session_state.pop(_key(f"{prefix}f_", spec), None)
    st.session_state.pop(f"{prefix}name", None)
    st.session_state[MANAGE_KEY] = name
    st.session_state[TAB_KEY] = "Manage"
    secrets = pipelines.secret_fields(KINDS[kind].config_model)
    settings = ", ".join(f"{k} {v}" for k, v in shown["config"].items() if k in secrets or k == "base_url")
    flash(
        "manage",
        "success",
        f"Added {kind_label(kind)} connector **{name}** ({settings}). "
        "Test the connection, then run it now or let the schedule pick it up.",
    )


# ---- run history and quarantine ----------------------------------------------------------------------


def _connector_filter(key: str, names: list[str]) -> str | None:
    chosen = st.selectbox(
        "Connector", [ALL, *names], key=key, format_func=lambda n: "All connectors" if n == ALL else n
    )
    return chosen or None


RUN_COLOR = {"succeeded": "green", "failed": "red", "running": "orange"}


def history_tab(rt: Runtime, names: list[str]) -> None:
    left, right = st.columns([2, 1], vertical_alignment="bottom")
    with left:
        connector = _connector_filter("runs_connector", names)
    only = right.segmented_control(
        "Show", ["All", "Failed", "With quarantined"], default="All", required=True, key="runs_show"
    )
    with rt.session() as s:
        runs = [
            pipelines.run_record(r) for r in pipelines.list_runs(session=s, connector=connector, limit=HISTORY_LIMIT)
        ]
    if only == "Failed":
        runs = [r for r in runs if r["status"] == "failed"]
    elif only == "With quarantined":
        runs = [r for r in runs if r["records_quarantined"]]
    with st.container(border=True):
        st.markdown(
            f"**Run history** · {ui.plural(len(runs), 'run')}"
            + (f" of the latest {HISTORY_LIMIT}" if only != "All" else "")
        )
        st.caption("One run per stream per sync, newest first. Open a run for its cursors and error.")
        if not runs:
            st.markdown(
                '<div class="sophia-muted">No runs to show. Press Run now on the Manage tab, or wait for '
                "the schedule.</div>",
                unsafe_allow_html=True,
            )
        for r in runs:
            started = datetime.fromisoformat(r["started_at"])
            finished = datetime.fromisoformat(r["finished_at"]) if r["finished_at"] else None
            quarantined = f"quarantined {r['records_quarantined']:,}"
            label = (
                f"{stamp(started)} · {r['connector']} · {r['stream'] or '—'} · "
                f":{RUN_COLOR.get(r['status'], 'gray')}[{r['status']}] — "
                f"read {r['records_read']:,} · written {r['records_written']:,} · "
                + (f":orange[{quarantined}]" if r["records_quarantined"] else quarantined)
            )
            with st.expander(label, icon=RUN_ICON.get(r["status"], ":material/help:")):
                took = span((finished - started).total_seconds()) if finished else "still running"
                st.caption(
                    f"Run #{r['id']} · started {stamp(started)} · "
                    f"{'finished ' + stamp(finished) + ' · took ' + took if finished else took}"
                )
                if r["error"]:
                    st.error(r["error"], icon=":material/error:")
                before, after = st.columns(2)
                for col, title, cursor, none in (
                    (before, "Cursor before", r["cursor_before"], "None: from the beginning."),
                    (after, "Cursor after", r["cursor_after"], "None."),
                ):
                    with col:
                        st.markdown(f"**{title}**")
                        if cursor:
                            st.json(cursor, expanded=True)
                        else:
                            st.caption(none)


def replay_area(rt: Runtime, me: Identity, connectors: list[str]) -> None:
    """Take the listed connectors' quarantined records in again (after fixing what failed them)."""
    left, right = st.columns([1, 3])
    go = left.button(
        "Take them in again",
        icon=":material/replay:",
        key="quarantine_replay",
        help="Maps and stores each record again with the connector's current settings. Records that "
        "still fail stay here with their new error; one stored newer meanwhile is not overwritten.",
    )
    right.caption("Fixed what failed them (a stage_map entry, a missing record they point at)? Take them in again.")
    if not go:
        return
    for name in connectors:
        try:
            r = replay_quarantined(runtime=rt, kinds=KINDS, name=name, actor=me.username)
        except SophiaError as exc:
            st.error(f"{name}: {exc.message}", icon=":material/error:")
            continue
        text = (
            f"{name}: {r.taken:,} taken in, {r.superseded:,} superseded by newer data, "
            f"{r.still_failing:,} still failing"
        )
        (st.warning if r.still_failing else st.success)(text, icon=":material/replay:")


def quarantine_tab(rt: Runtime, me: Identity, names: list[str]) -> None:
    connector = _connector_filter("quarantine_connector", names)
    with rt.session() as s:
        records = [
            {
                "id": q.id,
                "connector": q.connector,
                "stream": q.stream,
                "external_id": q.external_id,
                "error": q.error,
                "payload": q.payload,
                "run_id": q.run_id,
                "created_at": q.created_at,
            }
            for q in pipelines.list_quarantined(session=s, connector=connector, limit=HISTORY_LIMIT)
        ]
    with st.container(border=True):
        st.markdown(
            f"**Quarantined records** · {'latest ' if len(records) == HISTORY_LIMIT else ''}"
            f"{ui.plural(len(records), 'record')}"
        )
        st.caption(
            "Records a connector read but could not take in, each with its error and the payload as the "
            "vendor sent it. The rest of their run landed."
        )
        if not records:
            st.markdown('<div class="sophia-muted">Nothing quarantined.</div>', unsafe_allow_html=True)
        else:
            replay_area(
                rt, me, sorted({q["connector"] for q in records} & set(names)) if connector is None else [connector]
            )
        for q in records:
            label = (
                f"{stamp(q['created_at'])} · {q['connector']} · {q['stream']} · "
                f"{q['external_id'] or 'no id'} — {short(q['error'], 80)}"
            )
            with st.expander(label, icon=":material/report:"):
                st.caption(f"Record #{q['id']}" + (f" · run #{q['run_id']}" if q["run_id"] else ""))
                st.error(q["error"], icon=":material/error:")
                st.markdown("**Payload**")
                st.json(q["payload"], expanded=True)


# ---- the page ----------------------------------------------------------------------------------------


EMPTY_BODY = (
    "Connect the first source Sophia should read from: choose its kind below, give it a name and its "
    "credentials (stored encrypted), and press **Add connector**. Then **Test connection** and **Run now**; "
    "from there it syncs on its own at the interval you set."
)


def main() -> None:
    rt = ui.runtime()
    ui.page_header(
        "Connectors",
        "The sources Sophia syncs from: add, test, schedule and run them, and watch "
        "their health. Every change is recorded in the audit log.",
    )
    me = require_role(rt, "admin", "connectors")
    box = SecretBox.from_settings(rt.settings)
    statuses = manage.connector_statuses(runtime=rt, kinds=KINDS)
    names = [c.name for c in statuses]
    if not statuses:
        show_flash("manage")  # e.g. the last connector was just deleted
        ui.empty_state("No connectors yet", EMPTY_BODY)
        add_section(rt, me, box, set())
        return
    kpis(statuses)
    sync_area(rt)
    tabs = st.tabs(TABS, key=TAB_KEY, on_change="rerun")
    overview, manage_, add, history, quarantine = tabs
    with overview:
        if overview.open is not False:
            overview_tab(statuses)
    with manage_:
        if manage_.open is not False:
            manage_tab(rt, me, box, statuses)
    with add:
        if add.open is not False:
            add_section(rt, me, box, set(names))
    with history:
        if history.open is not False:
            history_tab(rt, names)
    with quarantine:
        if quarantine.open is not False:
            quarantine_tab(rt, me, names)


main()
