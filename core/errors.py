"""One domain error type with a stable code; each face maps it to its own format in one place."""

from __future__ import annotations


class SophiaError(Exception):
    """An error a user can act on. ``code`` is stable; ``message`` is safe to show."""

    code = "error"
    status = 400  # the HTTP status the API maps this code to

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code

    def __str__(self) -> str:
        return self.message


class ConfigError(SophiaError):
    code = "config_invalid"
    status = 500


class NotFound(SophiaError):
    code = "not_found"
    status = 404


class Conflict(SophiaError):
    code = "conflict"
    status = 409


class InvalidInput(SophiaError):
    code = "invalid_input"
    status = 422


class AuthError(SophiaError):
    code = "unauthenticated"
    status = 401


class Forbidden(SophiaError):
    code = "forbidden"
    status = 403


class BackendUnavailable(SophiaError):
    code = "backend_unavailable"
    status = 503


class TooLarge(SophiaError):
    code = "too_large"
    status = 413


class RateLimited(SophiaError):
    """Too many attempts; ``retry_after_s`` says when to try again (the API's ``Retry-After``)."""

    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, int(retry_after_s))
