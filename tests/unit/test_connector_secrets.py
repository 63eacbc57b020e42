"""Secrets at rest and in messages."""

from __future__ import annotations

import pytest

from connectors.base import SecretFilter
from core.crypto import SecretBox, mask
from core.errors import ConfigError

KEY = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"


def test_encrypt_decrypt_and_a_key_of_its_own() -> None:
    box = SecretBox(KEY)
    token = box.encrypt("pat-na1-1234")
    assert "pat-na1" not in token and box.decrypt(token) == "pat-na1-1234"
    assert box.encrypt("pat-na1-1234") != token  # Fernet: a fresh IV every time
    with pytest.raises(ConfigError, match="stored under another SOPHIA_SECRET_KEY"):
        SecretBox(KEY + "x").decrypt(token)


def test_mask() -> None:
    assert mask("pat-na1-abcd-1234") == "••••1234"
    assert mask("short-one") == "••••" and mask("") == ""


def test_the_filter_hides_the_secret_and_credential_shaped_text() -> None:
    redact = SecretFilter(["pat-na1-abcd-1234", None, "ab"])
    text = "token pat-na1-abcd-1234 refused; Authorization: Bearer eyJhbGciOi.x.y; url?hapikey=999&x=1; the token lacks a scope"
    assert (
        redact(text) == "token •••• refused; Authorization: Bearer ••••; url?hapikey=••••&x=1; the token lacks a scope"
    )
