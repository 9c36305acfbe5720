"""Rate limits with the `limits` library, one policy for /api and /api/v1.

Every request counts against a default per-client limit; sign-in, sign-up and password
reset also count against strict limits per client IP and per account (the email in the
body). Sign-in's account bucket (RATE_LIMIT_LOGIN_ACCOUNT) is much wider than its address
bucket, so failures from other addresses do not refuse the owner's correct password.
The legacy and v1 routes of one action share their buckets, so switching API version
buys an attacker nothing. Memory storage by default; Redis (shared by every
worker) when REDIS_URL is set, called on a worker thread so a slow Redis never stalls
the event loop.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass

import anyio.to_thread
import structlog
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from datalab.context import current_route
from datalab.settings import Settings
from fastapi_app.edges.guard import send_error

log = structlog.get_logger("datalab.ratelimit")

# (method, path) -> the action whose buckets it shares, and whether the body names the account.
AUTH_ROUTES: dict[tuple[str, str], tuple[str, bool]] = {
    ("POST", "/api/auth/login"): ("login", True),
    ("POST", "/api/v1/auth/login"): ("login", True),
    ("POST", "/api/auth/register"): ("register", True),
    ("POST", "/api/v1/auth/register"): ("register", True),
    ("POST", "/api/v1/auth/reset-password"): ("reset", True),
    # The confirm body holds a token, not an email: limited per IP in the same bucket.
    ("POST", "/api/v1/auth/reset-password/confirm"): ("reset", False),
}
STORAGE_DOWN = -1  # what `RateLimiter.hit` answers when a strict bucket cannot be counted
EXEMPT = frozenset({"/health", "/health/live", "/health/ready", "/metrics", "/api/health", "/api/v1/health"})


@dataclass(frozen=True)
class Check:
    """One bucket to hit: which limits, and the identifiers of the bucket."""

    items: tuple[RateLimitItem, ...]
    key: tuple[str, ...]
    strict: bool


class RateLimiter:
    """The limits of the settings over one storage."""

    def __init__(self, settings: Settings) -> None:
        redis_url = None if settings.edges.rate_limit_storage == "memory" else settings.edges.redis_url
        self.shared = redis_url is not None
        self.storage = storage_from_string(redis_url or "memory://")
        self.strategy = MovingWindowRateLimiter(self.storage)
        self.default = tuple(parse_many(settings.edges.rate_limit_default))
        self.actions = {
            "login": tuple(parse_many(settings.edges.rate_limit_login)),
            "register": tuple(parse_many(settings.edges.rate_limit_register)),
            "reset": tuple(parse_many(settings.edges.rate_limit_reset)),
        }
        # Sign-in per account sits far above the per-address limit: a stranger failing on
        # someone's account from one address must not lock its owner out from another.
        self.account_limits = self.actions | {
            "login": tuple(parse_many(settings.edges.rate_limit_login_account))
        }

    def checks(self, ip: str, action: str | None, account: str | None) -> list[Check]:
        """Return the buckets a request from `ip` for `action` (on `account`) counts against."""
        checks = [Check(self.default, ("default", "ip", ip), strict=False)]
        if action is not None:
            checks.append(Check(self.actions[action], (action, "ip", ip), strict=True))
            if account is not None:
                # Hashed: the storage (Redis) never holds the email itself.
                digest = hashlib.sha256(account.encode()).hexdigest()[:32]
                checks.append(Check(self.account_limits[action], (action, "account", digest), strict=True))
        return checks

    def hit(self, checks: list[Check]) -> int | None:
        """Count one request in each bucket; return seconds to wait if one is full, else None.

        STORAGE_DOWN means a strict bucket could not be counted (the storage failed).
        """
        for check in checks:
            for item in check.items:
                try:
                    allowed = self.strategy.hit(item, *check.key)
                except Exception:
                    # Fail open for the default limit, closed for sign-in: no brute force while blind.
                    log.exception("rate limit storage failed", bucket=check.key[0])
                    if check.strict:
                        return STORAGE_DOWN
                    continue
                if not allowed:
                    reset = self.strategy.get_window_stats(item, *check.key).reset_time
                    return max(1, math.ceil(reset - time.time()))
        return None


class RateLimitMiddleware:
    """Refuse requests over their limits with 429 and `Retry-After`, in each API's error shape."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "").rstrip("/") or "/"
        if scope["type"] != "http" or path in EXEMPT or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        action, names_account = AUTH_ROUTES.get((scope["method"], path), (None, False))
        info = current_route()
        if action is not None and info is not None:
            info.template = path  # named even when refused here, before any router saw it
        account = None
        if names_account:
            body, receive = await _read_body(receive)
            account = _account_of(body)
        client = scope.get("client")
        checks = self.limiter.checks(client[0] if client else "unknown", action, account)
        if self.limiter.shared:
            wait = await anyio.to_thread.run_sync(self.limiter.hit, checks)
        else:
            wait = self.limiter.hit(checks)
        if wait == STORAGE_DOWN:
            await send_error(scope, send, 503, "RATE_LIMITER_UNAVAILABLE", "Service temporarily unavailable")
        elif wait is not None:
            log.warning("rate limited", action=action or "default")
            await send_error(
                scope, send, 429, "RATE_LIMITED", "Too many requests", headers={"Retry-After": str(wait)}
            )
        else:
            await self.app(scope, receive, send)


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    # The body limit outside this middleware has already capped the size.
    body = bytearray()
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return bytes(body), replay


def _account_of(body: bytes) -> str | None:
    # Normalised as the login form does (datalab.fields.LoginEmail): stripped and lower-cased.
    # A body nesting deeper than the parser's recursion limit names no account; the half that
    # serves the route refuses it in its own shape.
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    email = data.get("email") if isinstance(data, dict) else None
    return email.strip().lower() if isinstance(email, str) and email.strip() else None
