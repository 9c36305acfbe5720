"""One token, two APIs: tokens from either half work on the other, and are refused alike.

Every refusal is checked on four doors: an access route and the refresh route of the
legacy /api (flask-jwt-extended's `{"msg"}` and status) and of /api/v1 (401 envelope).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from flask import Flask
from flask_jwt_extended import JWTManager, create_access_token, create_refresh_token
from flask_jwt_extended import decode_token as flask_decode_token
from httpx2 import Response
from pydantic import SecretStr
from sqlalchemy.orm import Session

from datalab import tokens
from datalab.errors import TokenError
from datalab.services.sessions import TokenPair
from shared_models import AuthSession, User
from tests.helpers import PASSWORD, Accounts, bearer

FLASK_JWT_CLAIMS = {"fresh", "iat", "jti", "type", "sub", "nbf", "exp"}
EXPIRED = "Token has expired"
REVOKED = "Token has been revoked"
NOT_ALLOWED_ALG = "The specified alg value is not allowed"


@dataclass(frozen=True)
class Door:
    """A route that checks a token: which half serves it and which token type it wants."""

    side: str
    kind: str
    call: Callable[[TestClient, str], Response]

    def __str__(self) -> str:
        return f"{self.side}-{self.kind}"


def _legacy_me(client: TestClient, token: str) -> Response:
    return client.get("/api/users/me", headers=bearer(token))


def _v1_profile(client: TestClient, token: str) -> Response:
    return client.get("/api/v1/auth/profile", headers=bearer(token))


def _legacy_refresh(client: TestClient, token: str) -> Response:
    return client.post("/api/auth/refresh", headers=bearer(token))


def _v1_refresh(client: TestClient, token: str) -> Response:
    return client.post("/api/v1/auth/refresh", json={"refresh_token": token})


LEGACY_ACCESS = Door("legacy", "access", _legacy_me)
V1_ACCESS = Door("v1", "access", _v1_profile)
LEGACY_REFRESH = Door("legacy", "refresh", _legacy_refresh)
V1_REFRESH = Door("v1", "refresh", _v1_refresh)
ACCESS_DOORS = [LEGACY_ACCESS, V1_ACCESS]
REFRESH_DOORS = [LEGACY_REFRESH, V1_REFRESH]
ALL_DOORS = [*ACCESS_DOORS, *REFRESH_DOORS]


def assert_refused(response: Response, door: Door, *, status: int, msg: str, code: str) -> None:
    """Check the legacy `{"msg"}` with flask-jwt-extended's status, or the v1 401 envelope."""
    if door.side == "legacy":
        assert (response.status_code, response.json()) == (status, {"msg": msg})
        return
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    error = response.json()["error"]
    assert (error["code"], error["message"]) == (code, msg)


def assert_accepted(response: Response, door: Door, user: User) -> None:
    """Check that `door` served the request for `user`."""
    assert response.status_code == 200, response.text
    body = response.json()
    if door.kind == "access":
        assert (body["id"], body["email"]) == (user.id, user.email)
    elif door.side == "legacy":
        assert set(body) == {"access_token"}
    else:
        assert {"access_token", "refresh_token"} <= set(body)


def valid_claims(pair: TokenPair, user: User, kind: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Claims of a token the app would accept: the pair's own jti, so a refresh is not a reuse."""
    now = now or datetime.now(UTC)
    return {
        "fresh": False,
        "iat": now,
        "jti": pair.access.jti if kind == "access" else pair.refresh.jti,
        "type": kind,
        "sub": str(user.id),
        "nbf": now,
        "exp": now + timedelta(minutes=15),
        "sid": pair.session_id,
    }


@pytest.fixture
def secret(app: FastAPI) -> str:
    """The HS256 secret the app signs with."""
    return app.state.settings.security.jwt_secret  # type: ignore[no-any-return]


@pytest.fixture
def leeway(app: FastAPI) -> int:
    """The seconds of clock skew the app tolerates."""
    return app.state.settings.security.jwt_leeway  # type: ignore[no-any-return]


@pytest.fixture
def pair(accounts: Accounts, user: User) -> TokenPair:
    """An open login session of `user`."""
    return accounts.tokens(user)


def legacy_login(client: TestClient, user: User) -> dict[str, Any]:
    response = client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def v1_login(client: TestClient, user: User) -> dict[str, Any]:
    response = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


# --- Issued on one half, used on the other ---------------------------------------------------------


def test_legacy_login_tokens_work_on_v1_profile_and_logout(client: TestClient, user: User) -> None:
    tokens = legacy_login(client, user)
    profile = client.get("/api/v1/auth/profile", headers=bearer(tokens["access_token"]))
    assert profile.status_code == 200
    assert profile.json()["id"] == user.id

    logout = client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"]))
    assert logout.status_code == 204
    assert_refused(
        _legacy_me(client, tokens["access_token"]),
        LEGACY_ACCESS,
        status=401,
        msg=REVOKED,
        code="TOKEN_REVOKED",
    )


def test_v1_login_tokens_work_on_legacy_me_and_refresh(client: TestClient, user: User) -> None:
    tokens = v1_login(client, user)
    me = client.get("/api/users/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert me.json()["email"] == user.email

    refreshed = client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert refreshed.status_code == 200
    new_access = refreshed.json()["access_token"]
    assert client.get("/api/v1/auth/profile", headers=bearer(new_access)).status_code == 200
    assert client.get("/api/users/me", headers=bearer(new_access)).status_code == 200


def test_legacy_refresh_token_accepted_by_v1_refresh(client: TestClient, user: User) -> None:
    tokens = legacy_login(client, user)
    # The legacy refresh does not rotate, so the token is still the session's current one.
    assert client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 200

    response = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert response.status_code == 200, response.text
    rotated = response.json()
    assert client.get("/api/users/me", headers=bearer(rotated["access_token"])).status_code == 200
    assert client.post("/api/auth/refresh", headers=bearer(rotated["refresh_token"])).status_code == 200


def test_v1_refresh_token_accepted_by_legacy_refresh(client: TestClient, user: User) -> None:
    tokens = v1_login(client, user)
    response = client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert response.status_code == 200, response.text
    access = response.json()["access_token"]
    assert client.get("/api/v1/auth/profile", headers=bearer(access)).json()["id"] == user.id


def test_refresh_token_retired_on_v1_is_refused_by_legacy_refresh(client: TestClient, user: User) -> None:
    tokens = legacy_login(client, user)
    rotated = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200

    reuse = client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert_refused(reuse, LEGACY_REFRESH, status=401, msg=REVOKED, code="TOKEN_REVOKED")
    # The reuse ended the session: the rotated pair dies with it.
    assert_refused(
        _v1_profile(client, rotated.json()["access_token"]),
        V1_ACCESS,
        status=401,
        msg=REVOKED,
        code="TOKEN_REVOKED",
    )


LOGOUTS = {
    "legacy": lambda client, token: client.post("/api/auth/logout", headers=bearer(token)),
    "v1": lambda client, token: client.post("/api/v1/auth/logout", headers=bearer(token)),
}


@pytest.mark.parametrize(
    ("logout_side", "door"),
    [
        ("legacy", V1_ACCESS),
        ("legacy", V1_REFRESH),
        ("v1", LEGACY_ACCESS),
        ("v1", LEGACY_REFRESH),
        ("legacy", LEGACY_ACCESS),
        ("v1", V1_REFRESH),
    ],
    ids=str,
)
def test_logout_on_one_side_revokes_tokens_on_the_other(
    client: TestClient, user: User, logout_side: str, door: Door
) -> None:
    tokens = legacy_login(client, user) if logout_side == "v1" else v1_login(client, user)
    logged_out = LOGOUTS[logout_side](client, tokens["access_token"])
    assert logged_out.status_code == (200 if logout_side == "legacy" else 204)

    token = tokens["access_token"] if door.kind == "access" else tokens["refresh_token"]
    assert_refused(door.call(client, token), door, status=401, msg=REVOKED, code="TOKEN_REVOKED")


# --- Refused alike on both halves -------------------------------------------------------------------


@pytest.mark.parametrize("door", ALL_DOORS, ids=str)
def test_app_minted_token_accepted_on_both_sides(
    client: TestClient, user: User, pair: TokenPair, secret: str, door: Door
) -> None:
    """The control for the refusals below: the same recipe with nothing wrong is accepted."""
    token = jwt.encode(valid_claims(pair, user, door.kind), secret, algorithm="HS256")
    assert_accepted(door.call(client, token), door, user)


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("door", ALL_DOORS, ids=str)
def test_clock_skew_within_leeway_accepted_on_both_sides(
    client: TestClient, user: User, pair: TokenPair, secret: str, leeway: int, door: Door, claim: str
) -> None:
    skew = timedelta(seconds=max(leeway - 5, 0))
    claims = valid_claims(pair, user, door.kind)
    if claim == "exp":
        claims["iat"] = claims["nbf"] = datetime.now(UTC) - timedelta(hours=1)
        claims["exp"] = datetime.now(UTC) - skew
    else:
        claims[claim] = datetime.now(UTC) + skew
    token = jwt.encode(claims, secret, algorithm="HS256")
    assert_accepted(door.call(client, token), door, user)


@pytest.mark.parametrize("door", ALL_DOORS, ids=str)
def test_forged_token_refused_on_both_sides(
    client: TestClient, user: User, pair: TokenPair, door: Door
) -> None:
    token = jwt.encode(valid_claims(pair, user, door.kind), "another-secret-" + "x" * 40, algorithm="HS256")
    assert_refused(
        door.call(client, token), door, status=422, msg="Signature verification failed", code="TOKEN_INVALID"
    )


@pytest.mark.parametrize("door", ALL_DOORS, ids=str)
def test_expired_token_refused_on_both_sides(
    client: TestClient, user: User, pair: TokenPair, secret: str, leeway: int, door: Door
) -> None:
    claims = valid_claims(pair, user, door.kind, now=datetime.now(UTC) - timedelta(hours=1))
    claims["exp"] = datetime.now(UTC) - timedelta(seconds=leeway + 30)
    token = jwt.encode(claims, secret, algorithm="HS256")
    assert_refused(door.call(client, token), door, status=401, msg=EXPIRED, code="TOKEN_EXPIRED")


@pytest.mark.parametrize("door", ACCESS_DOORS, ids=str)
def test_token_accepted_then_expired_is_refused_on_both_sides(
    client: TestClient, user: User, pair: TokenPair, secret: str, leeway: int, door: Door
) -> None:
    """A token verified once is remembered, but its expiry still counts on every request."""
    claims = valid_claims(pair, user, door.kind)
    claims["exp"] = datetime.now(UTC) + timedelta(seconds=1.5 - leeway)
    token = jwt.encode(claims, secret, algorithm="HS256")
    assert_accepted(door.call(client, token), door, user)

    time.sleep(2)

    assert_refused(door.call(client, token), door, status=401, msg=EXPIRED, code="TOKEN_EXPIRED")


def test_a_verified_token_is_refused_under_another_secret(app: FastAPI, user: User, pair: TokenPair) -> None:
    """A token checked under one secret is not taken on trust once the secret changes."""
    settings = app.state.settings
    assert tokens.decode_token(settings, pair.access.token, expected="access")["sub"] == str(user.id)
    rotated = settings.model_copy(
        update={"security": settings.security.model_copy(update={"jwt_secret_key": SecretStr("n" * 64)})}
    )

    with pytest.raises(TokenError, match="Signature verification failed"):
        tokens.decode_token(rotated, pair.access.token, expected="access")


@pytest.mark.parametrize("claim", ["nbf", "iat"])
@pytest.mark.parametrize("door", ALL_DOORS, ids=str)
def test_not_yet_valid_token_refused_on_both_sides(
    client: TestClient, user: User, pair: TokenPair, secret: str, leeway: int, door: Door, claim: str
) -> None:
    claims = valid_claims(pair, user, door.kind)
    claims[claim] = datetime.now(UTC) + timedelta(seconds=leeway + 60)
    token = jwt.encode(claims, secret, algorithm="HS256")
    assert_refused(
        door.call(client, token),
        door,
        status=422,
        msg=f"The token is not yet valid ({claim})",
        code="TOKEN_INVALID",
    )


@pytest.mark.parametrize("door", ALL_DOORS, ids=str)
def test_wrong_type_token_refused_on_both_sides(
    client: TestClient, user: User, pair: TokenPair, door: Door
) -> None:
    if door.kind == "access":
        token, msg = pair.refresh.token, "Only non-refresh tokens are allowed"
    else:
        token, msg = pair.access.token, "Only refresh tokens are allowed"
    assert_refused(door.call(client, token), door, status=422, msg=msg, code="TOKEN_WRONG_TYPE")


def _sign_none(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, "", algorithm="none")


def _sign_hs512(claims: dict[str, Any], secret: str) -> str:
    # The right secret, the wrong algorithm.
    return jwt.encode(claims, secret * 2, algorithm="HS512")


def _sign_rs256(claims: dict[str, Any]) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, key, algorithm="RS256")


@pytest.mark.parametrize("alg", ["none", "HS512", "RS256"])
@pytest.mark.parametrize("door", ALL_DOORS, ids=str)
def test_other_alg_token_refused_on_both_sides(
    client: TestClient, user: User, pair: TokenPair, secret: str, door: Door, alg: str
) -> None:
    claims = valid_claims(pair, user, door.kind)
    signers: dict[str, Callable[[], str]] = {
        "none": lambda: _sign_none(claims),
        "HS512": lambda: _sign_hs512(claims, secret),
        "RS256": lambda: _sign_rs256(claims),
    }
    token = signers[alg]()
    assert_refused(door.call(client, token), door, status=422, msg=NOT_ALLOWED_ALG, code="TOKEN_INVALID")


@pytest.mark.parametrize(
    ("token", "msg"),
    [("garbage", "Not enough segments"), ("a.b", "Not enough segments"), ("a.b.c", "Invalid header padding")],
)
@pytest.mark.parametrize("door", ALL_DOORS, ids=str)
def test_garbage_token_refused_on_both_sides(
    client: TestClient, user: User, door: Door, token: str, msg: str
) -> None:
    assert_refused(door.call(client, token), door, status=422, msg=msg, code="TOKEN_INVALID")


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf", "jti", "type", "sub", "sid"])
@pytest.mark.parametrize("door", ALL_DOORS, ids=str)
def test_token_missing_claim_refused_on_both_sides(
    client: TestClient, user: User, pair: TokenPair, secret: str, door: Door, claim: str
) -> None:
    claims = valid_claims(pair, user, door.kind)
    del claims[claim]
    token = jwt.encode(claims, secret, algorithm="HS256")
    msg = "Missing claim: sid" if claim == "sid" else f'Token is missing the "{claim}" claim'
    assert_refused(door.call(client, token), door, status=422, msg=msg, code="TOKEN_INVALID")


@pytest.mark.parametrize("door", ALL_DOORS, ids=str)
def test_non_string_sub_refused_on_both_sides(
    client: TestClient, user: User, pair: TokenPair, secret: str, door: Door
) -> None:
    claims = valid_claims(pair, user, door.kind)
    claims["sub"] = user.id
    token = jwt.encode(claims, secret, algorithm="HS256")
    assert_refused(
        door.call(client, token), door, status=422, msg="Subject must be a string", code="TOKEN_INVALID"
    )


@pytest.mark.parametrize("sub", ["0", "-1", "01", "1.0", " 1", "abc", ""])
@pytest.mark.parametrize("door", ALL_DOORS, ids=str)
def test_malformed_sub_refused_on_both_sides(
    client: TestClient, user: User, pair: TokenPair, secret: str, door: Door, sub: str
) -> None:
    claims = valid_claims(pair, user, door.kind)
    claims["sub"] = sub
    token = jwt.encode(claims, secret, algorithm="HS256")
    assert_refused(
        door.call(client, token), door, status=422, msg="Invalid token claims", code="TOKEN_INVALID"
    )


@pytest.mark.parametrize("offset", [1, 10**9, 10**17])
@pytest.mark.parametrize("door", ALL_DOORS, ids=str)
def test_unknown_user_id_refused_on_both_sides(
    client: TestClient, user: User, pair: TokenPair, secret: str, door: Door, offset: int
) -> None:
    claims = valid_claims(pair, user, door.kind)
    claims["sub"] = str(user.id + offset)
    token = jwt.encode(claims, secret, algorithm="HS256")
    assert_refused(door.call(client, token), door, status=401, msg=REVOKED, code="TOKEN_REVOKED")


@pytest.mark.parametrize("door", ALL_DOORS, ids=str)
def test_token_of_another_users_session_refused_on_both_sides(
    client: TestClient, accounts: Accounts, user: User, secret: str, door: Door
) -> None:
    other = accounts.create("other@example.com")
    other_pair = accounts.tokens(other)
    # Signed correctly, but `sub` names a user the session does not belong to.
    claims = valid_claims(other_pair, user, door.kind)
    token = jwt.encode(claims, secret, algorithm="HS256")
    assert_refused(door.call(client, token), door, status=401, msg=REVOKED, code="TOKEN_REVOKED")


@pytest.mark.parametrize("door", ALL_DOORS, ids=str)
def test_unknown_session_id_refused_on_both_sides(
    client: TestClient, user: User, pair: TokenPair, secret: str, door: Door
) -> None:
    claims = valid_claims(pair, user, door.kind)
    claims["sid"] = str(uuid.uuid4())
    token = jwt.encode(claims, secret, algorithm="HS256")
    assert_refused(door.call(client, token), door, status=401, msg=REVOKED, code="TOKEN_REVOKED")


@pytest.mark.parametrize("door", ALL_DOORS, ids=str)
def test_ended_session_id_refused_on_both_sides(
    client: TestClient, session: Session, user: User, pair: TokenPair, door: Door
) -> None:
    auth_session = session.get(AuthSession, pair.session_id)
    assert auth_session is not None
    auth_session.revoked_at = datetime.now(UTC)
    auth_session.revoked_reason = "test"
    session.commit()
    token = pair.access.token if door.kind == "access" else pair.refresh.token
    assert_refused(door.call(client, token), door, status=401, msg=REVOKED, code="TOKEN_REVOKED")


@pytest.mark.parametrize("door", ALL_DOORS, ids=str)
def test_token_of_deactivated_user_refused_on_both_sides(
    client: TestClient, session: Session, user: User, pair: TokenPair, door: Door
) -> None:
    user.is_active = False
    session.commit()
    token = pair.access.token if door.kind == "access" else pair.refresh.token
    assert_refused(door.call(client, token), door, status=401, msg=REVOKED, code="TOKEN_REVOKED")


@pytest.mark.parametrize("sid", [123, None, ["a"]])
@pytest.mark.parametrize("door", ALL_DOORS, ids=str)
def test_non_string_sid_refused_on_both_sides(
    client: TestClient, user: User, pair: TokenPair, secret: str, door: Door, sid: object
) -> None:
    claims = valid_claims(pair, user, door.kind)
    claims["sid"] = sid
    token = jwt.encode(claims, secret, algorithm="HS256")
    assert_refused(door.call(client, token), door, status=422, msg="Missing claim: sid", code="TOKEN_INVALID")


def _authorization(value: str) -> dict[str, str]:
    # An empty value stands for no header at all.
    return {"Authorization": value} if value else {}


HEADER_DOORS = [
    Door(
        "legacy", "access", lambda client, value: client.get("/api/users/me", headers=_authorization(value))
    ),
    Door(
        "v1",
        "access",
        lambda client, value: client.get("/api/v1/auth/profile", headers=_authorization(value)),
    ),
    Door(
        "legacy",
        "refresh",
        lambda client, value: client.post("/api/auth/refresh", headers=_authorization(value)),
    ),
]


@pytest.mark.parametrize(
    ("header", "status", "msg", "code"),
    [
        ("", 401, "Missing Authorization Header", "TOKEN_MISSING"),
        (
            "Basic dXNlcjpwYXNz",
            401,
            "Missing 'Bearer' type in 'Authorization' header. Expected 'Authorization: Bearer <JWT>'",
            "TOKEN_MISSING",
        ),
        (
            "Bearer a b",
            422,
            "Bad Authorization header. Expected 'Authorization: Bearer <JWT>'",
            "TOKEN_INVALID",
        ),
        ("Bearer", 422, "Bad Authorization header. Expected 'Authorization: Bearer <JWT>'", "TOKEN_INVALID"),
    ],
)
@pytest.mark.parametrize("door", HEADER_DOORS, ids=str)
def test_bad_authorization_header_refused_on_both_sides(
    client: TestClient, door: Door, header: str, status: int, msg: str, code: str
) -> None:
    assert_refused(door.call(client, header), door, status=status, msg=msg, code=code)


# --- The same format as flask-jwt-extended ---------------------------------------------------------


@pytest.fixture
def jwt_flask_app(secret: str) -> Flask:
    """A bare Flask app with flask-jwt-extended configured with our secret."""
    flask_app = Flask(__name__)
    flask_app.config.update(JWT_SECRET_KEY=secret, JWT_ALGORITHM="HS256")
    JWTManager(flask_app)
    return flask_app


@pytest.mark.parametrize("kind", ["access", "refresh"])
def test_flask_jwt_extended_decodes_our_tokens(
    jwt_flask_app: Flask, user: User, pair: TokenPair, kind: str
) -> None:
    token = pair.access.token if kind == "access" else pair.refresh.token
    with jwt_flask_app.app_context():
        claims = flask_decode_token(token)
    assert FLASK_JWT_CLAIMS <= set(claims)
    assert claims["type"] == kind
    assert claims["sub"] == str(user.id)
    assert claims["sid"] == pair.session_id
    assert claims["fresh"] is (kind == "access")


@pytest.mark.parametrize("door", ACCESS_DOORS, ids=str)
def test_flask_jwt_extended_access_token_accepted_on_both_sides(
    client: TestClient, jwt_flask_app: Flask, user: User, pair: TokenPair, door: Door
) -> None:
    with jwt_flask_app.app_context():
        token = create_access_token(identity=str(user.id), additional_claims={"sid": pair.session_id})
    assert_accepted(door.call(client, token), door, user)


@pytest.mark.parametrize("door", ACCESS_DOORS, ids=str)
def test_flask_jwt_extended_token_without_sid_refused_on_both_sides(
    client: TestClient, jwt_flask_app: Flask, user: User, door: Door
) -> None:
    with jwt_flask_app.app_context():
        token = create_access_token(identity=str(user.id))
    assert_refused(door.call(client, token), door, status=422, msg="Missing claim: sid", code="TOKEN_INVALID")


@pytest.mark.parametrize("door", REFRESH_DOORS, ids=str)
def test_flask_jwt_extended_refresh_token_accepted_on_both_sides(
    client: TestClient, jwt_flask_app: Flask, user: User, pair: TokenPair, door: Door
) -> None:
    with jwt_flask_app.app_context():
        token = create_refresh_token(
            identity=str(user.id), additional_claims={"sid": pair.session_id, "jti": pair.refresh.jti}
        )
    assert_accepted(door.call(client, token), door, user)
