"""Secrets filtered out of every message built from a vendor response or a transport error."""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "••••"
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words
# credential-shaped text whatever the connector: an Authorization value, or a secret in a query string
_AUTH_VALUE = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{8,}")
_QUERY_SECRET = re.compile(r"(?i)\b(access_token|token|api_?key|password|secret|hapikey)(=)[^&\s'\"]+")


class SecretFilter:
    """Replaces the connector's own secrets, and anything shaped like a credential, with a mask."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        found = {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}
        self._secrets = sorted(found, key=len, reverse=True)  # longest first: a secret containing another

    def __call__(self, text: object) -> str:
        out = str(text)
        for secret in self._secrets:
            out = out.replace(secret, MASK)
        for pattern in (_AUTH_VALUE, _QUERY_SECRET):
            out = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", out)
        return out
