"""Rate limits: one policy for /api and /api/v1, per client IP and per account, in memory or Redis."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from datalab.settings import Settings
from fastapi_app.edges.client import ClientAddress
from shared_models import AuditLog, User
from tests.edge_apps import client_for, edge_app, edge_client
from tests.helpers import PASSWORD, Accounts, count, error_of

REDIS_URL = "redis://127.0.0.1:6379/5"
LEGACY_LOGIN, V1_LOGIN = "/api/auth/login", "/api/v1/auth/login"


def _login(client: TestClient, path: str, email: str = "user@example.com") -> int:
    return client.post(path, json={"email": email, "password": PASSWORD}).status_code


def test_legacy_and_v1_login_share_one_bucket(settings: Settings, user: User) -> None:
    with edge_client(settings, rate_limit_login="4/minute") as client:
        statuses = [_login(client, path) for path in (LEGACY_LOGIN, V1_LOGIN) * 3]
    assert statuses == [200, 200, 200, 200, 429, 429]


def test_429_in_each_half_shape_with_retry_after(settings: Settings, user: User) -> None:
    with edge_client(settings, rate_limit_login="1/minute") as client:
        assert _login(client, LEGACY_LOGIN) == 200
        legacy = client.post(LEGACY_LOGIN, json={"email": user.email, "password": PASSWORD})
        v1 = client.post(
            V1_LOGIN, json={"email": user.email, "password": PASSWORD}, headers={"X-Request-ID": "r-429"}
        )
    assert (legacy.status_code, legacy.json()) == (429, {"msg": "Too many requests"})
    assert 1 <= int(legacy.headers["retry-after"]) <= 60
    assert error_of(v1, 429, "RATE_LIMITED")["request_id"] == "r-429"
    assert 1 <= int(v1.headers["retry-after"]) <= 60


def test_account_limit_holds_across_addresses_and_spellings(
    settings: Settings, user: User, session: Session
) -> None:
    with edge_app(settings, rate_limit_login="2/minute", rate_limit_login_account="2/minute") as app:
        _account_limit(app, session)


def test_failures_from_other_addresses_do_not_refuse_the_owner(settings: Settings, user: User) -> None:
    # Each address gets RATE_LIMIT_LOGIN; the account as a whole the much wider RATE_LIMIT_LOGIN_ACCOUNT.
    with edge_app(settings, rate_limit_login="2/minute", rate_limit_login_account="5/minute") as app:
        stranger, owner = client_for(app, "198.51.100.66"), client_for(app, "203.0.113.10")

        def attempt(client: TestClient, path: str, password: str) -> int:
            return client.post(path, json={"email": user.email, "password": password}).status_code

        wrong = "Not-the-passw0rd"
        # The stranger fails twice on the owner's account (both halves), then is held back.
        assert [attempt(stranger, p, wrong) for p in (LEGACY_LOGIN, V1_LOGIN, LEGACY_LOGIN)] == [
            401,
            401,
            429,
        ]
        # The owner, from another address, still signs in on either half.
        assert [attempt(owner, p, PASSWORD) for p in (V1_LOGIN, LEGACY_LOGIN)] == [200, 200]
        # Past the account-wide threshold (5 attempts from every address), even the owner waits.
        assert attempt(client_for(app, "198.51.100.67"), V1_LOGIN, wrong) == 401
        assert attempt(client_for(app, "203.0.113.11"), LEGACY_LOGIN, PASSWORD) == 429


def _account_limit(app: FastAPI, session: Session) -> None:
    spellings = ["user@example.com", " USER@example.com", "User@Example.com "]
    statuses = [
        _login(client_for(app, f"198.51.100.{n}"), path, email)
        for n, (path, email) in enumerate(zip((LEGACY_LOGIN, V1_LOGIN, LEGACY_LOGIN), spellings, strict=True))
    ]
    assert statuses == [200, 200, 429]
    # Another account from a fresh address is not affected.
    Accounts(app, session).create("second@example.com")
    assert _login(client_for(app, "198.51.100.99"), V1_LOGIN, "second@example.com") == 200


def test_ip_limit_holds_across_accounts(settings: Settings, accounts: Accounts) -> None:
    for n in range(3):
        accounts.create(f"u{n}@example.com")
    with edge_client(settings, rate_limit_login="2/minute") as client:
        statuses = [_login(client, LEGACY_LOGIN, f"u{n}@example.com") for n in range(3)]
    assert statuses == [200, 200, 429]


def test_register_buckets_are_shared_and_refusals_write_nothing(settings: Settings, session: Session) -> None:
    with edge_client(settings, rate_limit_register="2/minute") as client:
        first = client.post("/api/auth/register", json={"email": "a@example.com", "password": PASSWORD})
        second = client.post("/api/v1/auth/register", json={"email": "b@example.com", "password": PASSWORD})
        third = client.post("/api/v1/auth/register", json={"email": "c@example.com", "password": PASSWORD})
    assert [first.status_code, second.status_code, third.status_code] == [201, 201, 429]
    assert count(session, User) == 2


def test_reset_request_is_limited_per_account(settings: Settings, user: User) -> None:
    with edge_app(settings, rate_limit_reset="2/minute") as app:
        statuses = [
            client_for(app, f"192.0.2.{n}")
            .post("/api/v1/auth/reset-password", json={"email": user.email})
            .status_code
            for n in range(3)
        ]
    assert statuses == [202, 202, 429]


def test_default_limit_covers_both_halves_and_spares_health(settings: Settings) -> None:
    with edge_client(settings, rate_limit_default="3/minute") as client:
        paths = ["/api/users/me", "/api/v1/auth/profile", "/api/users/me", "/api/v1/auth/profile"]
        statuses = [client.get(path).status_code for path in paths]
        assert statuses == [401, 401, 401, 429]
        for path in ("/health", "/health/live", "/health/ready", "/api/health", "/api/v1/health"):
            assert client.get(path).status_code == 200, path


def test_limits_off_when_disabled(settings: Settings, user: User) -> None:
    with edge_client(settings, rate_limit_enabled=False, rate_limit_login="1/minute") as client:
        assert [_login(client, LEGACY_LOGIN) for _ in range(3)] == [200, 200, 200]


def test_forwarded_for_counts_only_behind_a_trusted_proxy(settings: Settings, accounts: Accounts) -> None:
    for n in range(4):
        accounts.create(f"p{n}@example.com")
    with edge_app(settings, rate_limit_login="1/minute", trusted_proxies=["10.0.0.0/8"]) as app:
        _forwarded_for(app)


def _forwarded_for(app: FastAPI) -> None:
    proxy = client_for(app, "10.1.2.3")
    # Behind the proxy, each client has its own bucket.
    for n, client_ip in enumerate(("203.0.113.1", "203.0.113.2")):
        response = proxy.post(
            LEGACY_LOGIN,
            json={"email": f"p{n}@example.com", "password": PASSWORD},
            headers={"X-Forwarded-For": f"{client_ip}, 10.9.9.9"},
        )
        assert response.status_code == 200
    # An untrusted peer cannot pick its bucket by sending the header.
    direct = client_for(app, "198.51.100.5")
    for n in (2, 3):
        response = direct.post(
            LEGACY_LOGIN,
            json={"email": f"p{n}@example.com", "password": PASSWORD},
            headers={"X-Forwarded-For": f"203.0.113.{50 + n}"},
        )
        assert response.status_code == (200 if n == 2 else 429)


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # untrusted peer: the header is ignored
        ("10.0.0.1", "1.2.3.4", "1.2.3.4"),
        ("10.0.0.1", "6.6.6.6, 1.2.3.4, 10.0.0.2", "1.2.3.4"),  # right-most untrusted hop
        ("10.0.0.1", "not-an-ip", "10.0.0.1"),
        ("10.0.0.1", None, "10.0.0.1"),
        ("10.0.0.1", "10.0.0.3, 10.0.0.2", "10.0.0.3"),  # all trusted: the first
    ],
)
def test_client_address_rule(peer: str, forwarded: str | None, expected: str) -> None:
    assert ClientAddress(["10.0.0.0/8"]).of(peer, forwarded) == expected


def test_client_address_reaches_the_audit_log(settings: Settings, session: Session) -> None:
    with edge_app(settings, trusted_proxies=["10.0.0.0/8"]) as app:
        response = client_for(app, "10.0.0.1").post(
            "/api/auth/register",
            json={"email": "behind@example.com", "password": PASSWORD},
            headers={"X-Forwarded-For": "203.0.113.77"},
        )
    assert response.status_code == 201
    entry = session.query(AuditLog).filter_by(action="user.register").one()
    assert entry.ip_address == "203.0.113.77"


@pytest.fixture
def redis_db() -> Iterator[redis.Redis]:
    """Redis database 5, emptied before and after the test."""
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.ConnectionError:
        pytest.skip("Redis does not answer at 127.0.0.1:6379")
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


def test_redis_storage_shares_buckets_between_app_instances(
    settings: Settings, user: User, redis_db: redis.Redis
) -> None:
    # Two apps, as two worker processes would have: one bucket between them.
    shared = {"rate_limit_login": "3/minute", "redis_url": REDIS_URL}
    with edge_app(settings, **shared) as first, edge_app(settings, **shared) as second:
        clients = [client_for(first, "203.0.113.5"), client_for(second, "203.0.113.5")]
        statuses = [_login(clients[n % 2], (LEGACY_LOGIN, V1_LOGIN)[n % 2]) for n in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert redis_db.keys("*")  # the counters live in Redis, not in the processes
    assert not any(b"user@example.com" in key for key in redis_db.keys("*"))


def test_sign_in_fails_closed_when_redis_is_down(settings: Settings, user: User) -> None:
    with edge_app(settings, redis_url="redis://127.0.0.1:1/0") as app:
        client = client_for(app, "203.0.113.5")
        response = client.post(V1_LOGIN, json={"email": user.email, "password": PASSWORD})
        error_of(response, 503, "RATE_LIMITER_UNAVAILABLE")
        # Everything else fails open: an outage of Redis is not an outage of the API.
        assert client.get("/api/users/me").status_code == 401


@pytest.mark.parametrize("path", ["/api/auth/register", "/api/v1/auth/register"])
def test_body_read_for_the_account_key_still_reaches_the_half(
    settings: Settings, session: Session, path: str
) -> None:
    body = json.dumps({"email": "Chunked@Example.com", "password": PASSWORD}).encode()
    chunks = (body[start : start + 7] for start in range(0, len(body), 7))  # sent chunked, no length
    with edge_client(settings) as client:
        response = client.post(path, content=chunks, headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    assert count(session, User) == 1


NESTED = ("[" * 100_000 + "]" * 100_000).encode()


@pytest.mark.parametrize(
    "path",
    [
        "/api/auth/login",
        "/api/v1/auth/login",
        "/api/auth/register",
        "/api/v1/auth/register",
        "/api/v1/auth/reset-password",
    ],
)
def test_deeply_nested_json_is_a_4xx_with_limits_on(
    settings: Settings, session: Session, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The account key is read from the body; a body nesting past the parser's depth is no 500."""
    with edge_client(settings) as client:
        response = client.post(path, content=NESTED, headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert "Traceback" not in caplog.text
