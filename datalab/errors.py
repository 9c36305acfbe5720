"""Domain errors raised by services; each half maps them to its own response shape."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    status_code = 400
    code = "BAD_REQUEST"
    # True when what the request wrote before the refusal (an audit entry, a revocation) must
    # be committed all the same: FastAPI's session dependency and Flask's handler honour it.
    keep_changes = False

    def __init__(
        self, message: str, *, code: str | None = None, details: Any = None, keep_changes: bool | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        # Machine-readable help for the v1 envelope's `details`; the legacy shape has no place for it.
        self.details = details
        if code is not None:
            self.code = code
        if keep_changes is not None:
            self.keep_changes = keep_changes


class InvalidInput(DomainError):
    """The request names a field whose value is not acceptable."""

    status_code = 400
    code = "INVALID_INPUT"

    def __init__(self, field: str, reason: str, *, code: str | None = None) -> None:
        super().__init__(f"{field}: {reason}", code=code)
        self.field = field
        self.reason = reason


class BadCredentials(DomainError):
    """Email and password do not name an active account."""

    status_code = 401
    code = "BAD_CREDENTIALS"


class LoginRefused(BadCredentials):
    """A sign-in was refused; its `user.login_failed` audit entry is kept."""

    keep_changes = True

    def __init__(self) -> None:
        super().__init__("Bad email or password")


class Forbidden(DomainError):
    """The caller's role does not allow the action."""

    status_code = 403
    code = "FORBIDDEN"


class NotFound(DomainError):
    """The resource does not exist, or is not the caller's to see."""

    status_code = 404
    code = "NOT_FOUND"


class Conflict(DomainError):
    """The change clashes with existing data."""

    status_code = 409
    code = "CONFLICT"


class TokenError(DomainError):
    """A bearer token was missing or refused; `message` keeps flask-jwt-extended's text.

    `status_code` is the one flask-jwt-extended answers on the legacy API; /api/v1
    answers 401 for all of them.
    """

    def __init__(self, message: str, *, status_code: int, code: str) -> None:
        super().__init__(message, code=code)
        self.status_code = status_code
