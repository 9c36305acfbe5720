"""The one token module: JWTs in flask-jwt-extended's format, issued and checked for both halves.

Claims are the ones flask-jwt-extended writes (`fresh, iat, jti, type, sub, nbf,
exp`) plus `sid`, the login session a token belongs to. Unlike flask-jwt-extended,
every claim is required and only HS256 is accepted. Errors keep flask-jwt-extended's
texts and status codes, so a route answers the same whichever half serves it.
"""

from __future__ import annotations

import functools
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt

from datalab.errors import TokenError
from datalab.settings import Settings

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["exp", "iat", "nbf", "jti", "type", "sub"]
HEADER_TYPE = "Bearer"
USER_ID = re.compile(r"[1-9][0-9]{0,17}")
TokenType = Literal["access", "refresh"]


@dataclass(frozen=True)
class IssuedToken:
    """An encoded token and the claims a caller needs to track it."""

    token: str
    jti: str
    expires_at: datetime


def issue_token(
    settings: Settings,
    *,
    user_id: int,
    kind: TokenType,
    session_id: str,
    fresh: bool = False,
    now: datetime | None = None,
) -> IssuedToken:
    """Mint an access or refresh token for `user_id` within login session `session_id`."""
    now = now or datetime.now(UTC)
    ttl = settings.security.access_ttl if kind == "access" else settings.security.refresh_ttl
    expires_at = now + timedelta(seconds=ttl)
    jti = str(uuid.uuid4())
    claims = {
        "fresh": fresh,
        "iat": now,
        "jti": jti,
        "type": kind,
        "sub": str(user_id),
        "nbf": now,
        "exp": expires_at,
        "sid": session_id,
    }
    token = jwt.encode(claims, settings.security.jwt_secret, algorithm=ALGORITHM)
    return IssuedToken(token=token, jti=jti, expires_at=expires_at.replace(microsecond=0))


def bearer_token(header: str | None) -> str:
    """Take the token out of an `Authorization` header as flask-jwt-extended does."""
    value = (header or "").strip().strip(",")
    if not value:
        raise TokenError("Missing Authorization Header", status_code=401, code="TOKEN_MISSING")
    candidates = [s for s in re.split(r",\s*", value) if s and s.split()[0] == HEADER_TYPE]
    if len(candidates) != 1:
        raise TokenError(
            "Missing 'Bearer' type in 'Authorization' header. Expected 'Authorization: Bearer <JWT>'",
            status_code=401,
            code="TOKEN_MISSING",
        )
    parts = candidates[0].split()
    if len(parts) != 2:
        raise TokenError(
            "Bad Authorization header. Expected 'Authorization: Bearer <JWT>'",
            status_code=422,
            code="TOKEN_INVALID",
        )
    return parts[1]


def decode_token(settings: Settings, token: str, *, expected: TokenType) -> dict[str, Any]:
    """Verify signature, times, claims and type; return the claims or raise `TokenError`."""
    secret, leeway = settings.security.jwt_secret, settings.security.jwt_leeway
    try:
        claims = _signed_claims(secret, token)
        if not _in_time(claims, leeway):
            # PyJWT decides, and words, what is wrong with the times.
            jwt.decode(
                token, secret, algorithms=[ALGORITHM], leeway=leeway, options={"require": REQUIRED_CLAIMS}
            )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("Token has expired", status_code=401, code="TOKEN_EXPIRED") from exc
    except jwt.PyJWTError as exc:
        raise TokenError(str(exc), status_code=422, code="TOKEN_INVALID") from exc
    if not isinstance(claims.get("sid"), str):
        raise TokenError("Missing claim: sid", status_code=422, code="TOKEN_INVALID")
    if claims["type"] not in ("access", "refresh") or not USER_ID.fullmatch(claims["sub"]):
        raise TokenError("Invalid token claims", status_code=422, code="TOKEN_INVALID")
    if expected == "access" and claims["type"] == "refresh":
        raise TokenError("Only non-refresh tokens are allowed", status_code=422, code="TOKEN_WRONG_TYPE")
    if expected == "refresh" and claims["type"] != "refresh":
        raise TokenError("Only refresh tokens are allowed", status_code=422, code="TOKEN_WRONG_TYPE")
    return dict(claims)


# A token's signature and claims never change: verified once per process, not on every request
# (the HMAC and base64 work were ~10% of a list request). Only verified tokens are kept, keyed by
# the secret too; their times are checked on every call, and revocation is the database's.
@functools.lru_cache(maxsize=4096)
def _signed_claims(secret: str, token: str) -> dict[str, Any]:
    """Return the claims of `token` once its signature and required claims check out (times aside)."""
    options = {
        "require": REQUIRED_CLAIMS,
        "verify_sub": True,
        "verify_jti": True,
        "verify_exp": False,
        "verify_nbf": False,
        "verify_iat": False,
    }
    claims: dict[str, Any] = jwt.decode(token, secret, algorithms=[ALGORITHM], options=options)  # type: ignore[arg-type]
    return claims


def _in_time(claims: dict[str, Any], leeway: int) -> bool:
    """Tell whether PyJWT would accept the token's exp, nbf and iat now."""
    now = time.time()
    try:
        return (
            float(claims["iat"]) <= now + leeway
            and float(claims["nbf"]) <= now + leeway
            and now - leeway < float(claims["exp"])
        )
    except (TypeError, ValueError):
        return False  # not numbers: PyJWT says so in its words


def revoked_error() -> TokenError:
    """Return the error for a token that was revoked, or whose user or session is gone."""
    return TokenError("Token has been revoked", status_code=401, code="TOKEN_REVOKED")
