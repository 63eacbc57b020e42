"""Forms generated from a pydantic model: one input per field, typed from the field's annotation, and back from
the widgets to values ready for the model (or a core call that validates with it).

Used by the Connectors page for each kind's settings; any page with a pydantic settings model (agents,
notifications) uses the same calls:

    specs = field_specs(Model, secrets={"api_key"})
    with st.form("f"):
        draw_fields(specs, prefix="f_")
        st.form_submit_button("Save", on_click=save)
    # in save():
    values, missing = new_values(specs, "f_")         # or changed_values(specs, "f_", stored) for an edit
    checked = validate(Model, specs, values)          # the model instance, or errors naming the form's labels

Widgets keep their values in ``st.session_state`` under ``prefix + field name``. A secret is a password
input that is never filled back in; with a :class:`SecretEnv` the form also says which environment
variable can hold it instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from enum import Enum
from types import NoneType, UnionType
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
import streamlit as st
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import PydanticUndefined

Widget = Literal["secret", "text", "int", "float", "bool", "choice", "json"]


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    widget: Widget
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


@dataclass(frozen=True)
class SecretEnv:
    """Secrets that may come from the environment instead of the form: the variable of each secret field,
    and how to read one (None when unset)."""

    var: Callable[[str], str]
    read: Callable[[str], str | None]

    def is_set(self, field: str) -> bool:
        return self.read(self.var(field)) is not None


class FormError(Exception):
    """A value the form itself can tell is wrong (text in a JSON box that is not JSON)."""


@dataclass(frozen=True)
class Checked:
    """A form's values validated by its model: the instance, or one line per refused field."""

    model: BaseModel | None
    errors: list[str]


# ---- the fields of a model --------------------------------------------------------------------------

ACRONYMS = {"url": "URL", "id": "ID", "api": "API", "crm": "CRM", "ms": "(ms)", "s": "(s)"}
PER_UNIT = {"s": "second", "ms": "millisecond"}
TYPE_WORDS = {
    "secret": "secret",
    "text": "text",
    "int": "whole number",
    "float": "number",
    "bool": "yes/no",
    "choice": "one of the choices",
    "json": "JSON",
}


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


def _widget_of(base: Any) -> tuple[Widget, tuple[Any, ...]]:
    origin = get_origin(base)
    if base is bool:
        return "bool", ()
    if base is int:
        return "int", ()
    if base is float:
        return "float", ()
    if origin is Literal:
        return "choice", get_args(base)
    if isinstance(base, type) and issubclass(base, Enum):
        return "choice", tuple(m.value for m in base)
    if origin in (dict, list) or base in (dict, list) or (isinstance(base, type) and issubclass(base, BaseModel)):
        return "json", ()
    return "text", ()


def _bounds(metadata: list[Any], widget: Widget) -> tuple[float | None, float | None]:
    low = high = None
    for m in metadata:
        if isinstance(m, annotated_types.Ge):
            low = m.ge
        elif isinstance(m, annotated_types.Gt):
            low = m.gt + 1 if widget == "int" else m.gt
        elif isinstance(m, annotated_types.Le):
            high = m.le
        elif isinstance(m, annotated_types.Lt):
            high = m.lt - 1 if widget == "int" else m.lt
    return low, high


def field_specs(model: type[BaseModel], *, secrets: Collection[str] = ()) -> list[FieldSpec]:
    """One spec per field: first what must be given, then the model's own fields, then inherited ones."""
    specs = []
    for name, info in model.model_fields.items():
        widget, choices = _widget_of(_unwrap_optional(info.annotation)[0])
        widget = "secret" if name in secrets else widget
        low, high = _bounds(info.metadata, widget)
        default = info.default_factory() if info.default_factory is not None else info.default  # type: ignore[call-arg]
        specs.append(
            FieldSpec(name, field_label(name), widget, info.is_required(), default, info.annotation, low, high, choices)
        )
    own = set(getattr(model, "__annotations__", {}))
    return sorted(specs, key=lambda s: (not s.primary, not (s.required or s.widget == "secret"), s.name not in own))


def field_help(spec: FieldSpec, env: SecretEnv | None = None) -> str:
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
        text += " Stored encrypted and only ever shown masked."
        if env is not None:
            text += f" To keep it out of the database, type `env:{env.var(spec.name)}` and set that variable where Sophia runs."
    return text


def key(prefix: str, spec: FieldSpec) -> str:
    """The session-state key of a field's widget."""
    return f"{prefix}{spec.name}"


def _coerce(spec: FieldSpec, value: Any) -> Any:
    """A stored value (the CLI stores what was typed, e.g. "5") as the widget shows it; None if it won't go."""
    try:
        return TypeAdapter(spec.annotation).validate_python(value)
    except ValidationError:
        return None


# ---- drawing ----------------------------------------------------------------------------------------


def draw_fields(
    specs: list[FieldSpec], *, prefix: str, current: Mapping[str, Any] | None = None, env: SecretEnv | None = None
) -> None:
    """The inputs of a form, in two columns, the secondary ones in an "Advanced settings" expander. With
    ``current`` (stored values, secrets masked) they start at those values; without, blank, each showing
    its default."""
    primary = [s for s in specs if s.primary]
    advanced = [s for s in specs if not s.primary]
    _two_columns(primary, prefix=prefix, current=current, env=env)
    if advanced:
        with st.expander("Advanced settings", icon=":material/tune:"):
            st.caption("Leave a field blank to use its default.")
            _two_columns(advanced, prefix=prefix, current=current, env=env)


def _two_columns(specs: list[FieldSpec], **kw: Any) -> None:
    left, right = st.columns(2)
    for i, spec in enumerate(specs):
        with left if i % 2 == 0 else right:
            _widget(spec, **kw)


def _placeholder(spec: FieldSpec) -> str:
    if spec.has_default and spec.default not in (None, ""):
        return str(spec.default)
    return "required" if spec.required else "optional"


def _widget(spec: FieldSpec, *, prefix: str, current: Mapping[str, Any] | None, env: SecretEnv | None) -> None:
    have = current is not None and spec.name in current
    now = current.get(spec.name) if current is not None else None
    kw = {"key": key(prefix, spec), "help": field_help(spec, env)}
    match spec.widget:
        case "secret":
            _secret_input(spec, kw, editing=current is not None, shown=now if have else None, env=env)
        case "bool":
            value = bool(_coerce(spec, now)) if have else bool(spec.default) if spec.has_default else False
            st.toggle(spec.label, value=value, **kw)
        case "int" | "float":
            _number_input(spec, kw, _coerce(spec, now) if have else None)
        case "choice":
            options = list(spec.choices)
            wanted = now if have and now in options else spec.default if spec.has_default else None
            index = options.index(wanted) if wanted in options else None
            st.selectbox(spec.label, options, index=index, placeholder="Choose", **kw)
        case "json":
            _json_input(spec, kw, json.dumps(now) if have else "")
        case _:
            value = str(now) if have and now is not None else ""
            st.text_input(spec.label, value=value, placeholder=_placeholder(spec), required=spec.required, **kw)


def _secret_input(spec: FieldSpec, kw: dict, *, editing: bool, shown: Any, env: SecretEnv | None) -> None:
    env_set = env is not None and env.is_set(spec.name)
    if editing:
        hint = f"{shown} · leave blank to keep" if shown is not None else "not set"
    elif env_set:
        hint = f"blank: read from {env.var(spec.name)}"  # type: ignore[union-attr]
    else:
        hint = "paste it here"
    required = spec.required and not editing and not env_set
    st.text_input(spec.label, type="password", placeholder=hint, required=required, autocomplete="off", **kw)


def _number_input(spec: FieldSpec, kw: dict, value: Any) -> None:
    cast = int if spec.widget == "int" else float
    placeholder = _placeholder(spec)
    st.number_input(
        spec.label,
        value=value,
        placeholder=f"{placeholder} (default)" if spec.has_default else placeholder,
        min_value=None if spec.low is None else cast(spec.low),
        max_value=None if spec.high is None else cast(spec.high),
        step=1 if spec.widget == "int" else None,
        **kw,
    )


def _json_input(spec: FieldSpec, kw: dict, value: str) -> None:
    example = '["value"]' if get_origin(_unwrap_optional(spec.annotation)[0]) is list else '{"key": "value"}'
    placeholder = json.dumps(spec.default) if spec.has_default and spec.default else example
    st.text_area(spec.label, value=value, height=68, placeholder=placeholder, **kw)


# ---- reading back -----------------------------------------------------------------------------------


def _typed(spec: FieldSpec, raw: Any) -> Any:
    """A widget's value as the model takes it, or None when the field is left blank."""
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


def new_values(
    specs: list[FieldSpec], prefix: str, env: SecretEnv | None = None
) -> tuple[dict[str, Any], list[FieldSpec]]:
    """What a new-item form gives (blank fields left out, so their defaults apply), and the required
    fields left blank (a secret its environment variable provides is not missing). Raises FormError."""
    values: dict[str, Any] = {}
    for spec in specs:
        raw = _typed(spec, st.session_state.get(key(prefix, spec)))
        if spec.widget == "bool" and spec.has_default and raw == spec.default:
            continue
        if raw is not None:
            values[spec.name] = raw
    missing = [
        s
        for s in specs
        if s.required and s.name not in values and not (s.widget == "secret" and env is not None and env.is_set(s.name))
    ]
    return values, missing


def changed_values(specs: list[FieldSpec], prefix: str, stored: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """What an edit form changes: the values to set, and the fields cleared (back to their default). A blank
    secret keeps the stored one. Raises FormError."""
    values: dict[str, Any] = {}
    reset: list[str] = []
    for spec in specs:
        raw = _typed(spec, st.session_state.get(key(prefix, spec)))
        if spec.widget == "secret" or raw is None:
            if raw is not None:
                values[spec.name] = raw
            elif spec.widget != "secret" and spec.name in stored:
                reset.append(spec.name)
            continue
        if not _same(spec, raw, stored):
            values[spec.name] = raw
    return values, reset


def _same(spec: FieldSpec, raw: Any, stored: Mapping[str, Any]) -> bool:
    have, old = spec.name in stored, stored.get(spec.name)
    if spec.widget == "json":
        return have and raw == old
    if spec.widget == "bool" and not have:
        return spec.has_default and raw == spec.default
    return have and _coerce(spec, old) == _coerce(spec, raw)


def validate(model: type[BaseModel], specs: list[FieldSpec], values: Mapping[str, Any]) -> Checked:
    """The values checked by the model: its instance, or one line per refused field with the form's label."""
    try:
        return Checked(model.model_validate(dict(values)), [])
    except ValidationError as exc:
        labels = {s.name: s.label for s in specs}
        lines = []
        for err in exc.errors():
            name = str(err["loc"][0]) if err.get("loc") else ""
            lines.append(f"**{labels.get(name, name or 'Form')}**: {err['msg'].removeprefix('Value error, ')}")
        return Checked(None, lines)


def field_error(message: str, specs: list[FieldSpec]) -> str:
    """A core refusal of one line (``<kind> setting <field>: <why>``, or naming a field), with the form's label."""
    m = re.match(r"^\w+ setting ([\w.]+): (.*)$", message)
    if m:
        name = m[1].split(".")[0]
        label = next((s.label for s in specs if s.name == name), name)
        return f"**{label}** (`{m[1]}`): {m[2]}"
    for spec in specs:
        if re.search(rf"(?<![\w.]){re.escape(spec.name)}(?![\w])", message):
            return f"**{spec.label}**: {message}"
    return message


def forget(specs: list[FieldSpec], prefix: str, *, secrets_only: bool = False) -> None:
    """Clear the form's widgets (the next form starts blank; a saved secret is not kept in the form)."""
    for spec in specs:
        if not secrets_only or spec.widget == "secret":
            st.session_state.pop(key(prefix, spec), None)
