"""app.forms reads any pydantic model: the widget each field gets, its label and bounds, and validation errors
named by the form's labels (the engine the Connectors page uses, for the Agents and Notification pages next)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app import forms


class Notify(BaseModel):
    webhook_url: str
    api_key: str
    retries: int = Field(3, ge=0, le=10)
    timeout_s: float = Field(5.0, gt=0)
    channel: Literal["email", "slack"] = "email"
    enabled: bool = True
    headers: dict[str, str] = {}


def test_each_field_gets_a_widget_label_and_bounds() -> None:
    specs = {s.name: s for s in forms.field_specs(Notify, secrets={"api_key"})}
    assert {n: s.widget for n, s in specs.items()} == {
        "webhook_url": "text",
        "api_key": "secret",
        "retries": "int",
        "timeout_s": "float",
        "channel": "choice",
        "enabled": "bool",
        "headers": "json",
    }
    assert specs["webhook_url"].label == "Webhook URL" and specs["timeout_s"].label == "Timeout (s)"
    assert (specs["retries"].low, specs["retries"].high) == (0, 10)
    assert specs["channel"].choices == ("email", "slack") and specs["channel"].default == "email"
    # what must be given comes first; the rest go under "Advanced settings"
    ordered = [s.name for s in forms.field_specs(Notify, secrets={"api_key"})]
    assert ordered[:2] == ["webhook_url", "api_key"] and not specs["retries"].primary


def test_validation_errors_name_the_forms_labels() -> None:
    specs = forms.field_specs(Notify, secrets={"api_key"})
    ok = forms.validate(Notify, specs, {"webhook_url": "https://x", "api_key": "k", "retries": "4"})
    assert ok.errors == [] and ok.model.retries == 4
    bad = forms.validate(Notify, specs, {"webhook_url": "https://x", "retries": 11})
    assert bad.model is None
    assert any(e.startswith("**API key**:") for e in bad.errors) and any(
        e.startswith("**Retries**:") for e in bad.errors
    )
    assert forms.field_error("notify setting retries: too many", specs) == "**Retries** (`retries`): too many"
