"""Secrets at rest: Fernet, with its key derived from the installation's signing key.

The key is HKDF-SHA256 over ``Settings.signing_key()`` with a purpose label, so the signing key itself
never encrypts anything and another purpose can derive its own independent key. Changing
``SOPHIA_SECRET_KEY`` makes stored secrets unreadable: they must be set again (there is no rotation yet).
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.config import Settings
from core.errors import ConfigError

PURPOSE = b"sophia/connector-secrets/v1"
SALT = b"sophia"  # fixed: the input key is already high-entropy; the purpose label separates uses
MASK = "••••"
MASK_SHOWS_LAST = 4
MASK_MIN_LENGTH = 12  # shorter secrets are shown as the mask alone: four characters would be a third of it


class SecretBox:
    """Encrypts and decrypts short secrets (tokens, passwords) for storage in the database."""

    def __init__(self, signing_key: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=SALT, info=PURPOSE).derive(signing_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        return cls(settings.signing_key())

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str, *, what: str = "a stored secret") -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, ValueError):
            raise ConfigError(
                f"cannot decrypt {what}: it was stored under another SOPHIA_SECRET_KEY; set it again"
            ) from None


def mask(secret: str | None) -> str:
    """A secret as it may be shown back: ``••••1234`` (or just ``••••`` when it is short)."""
    if not secret:
        return ""
    if len(secret) < MASK_MIN_LENGTH:
        return MASK
    return MASK + secret[-MASK_SHOWS_LAST:]
