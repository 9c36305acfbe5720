"""Moving a route between states changes who serves it (`X-Served-By`) and nothing else a client can see."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response

from datalab.context import RouteInfo, bind_route
from fastapi_app.edges import front
from fastapi_app.migration.ports import PORTED
from fastapi_app.migration.ports import users as user_ports
from legacy_flask import users as legacy_users
from shared_models import Role
from tests.fastapi_app.migration.conftest import Build, drain, migration_of
from tests.helpers import PASSWORD, Accounts, bearer, valid_config
from tests.tables import empty_tables

TIMESTAMP = re.compile(rb"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00")
JWT = re.compile(rb"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# Audit entries name the request that wrote them: a fresh id on every run.
REQUEST_ID = re.compile(rb'"request_id":"[^"]*"')
# Per request by design; everything else of an answer is compared.
NOT_COMPARED = {"x-request-id", "x-served-by"}


@dataclass(frozen=True)
class Seen:
    """What a client sees of one answer, with times and tokens (different in every run) normalised."""

    request: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def seen(request: str, response: Response) -> Seen:
    """Record an answer as a client sees it."""
    headers = tuple(sorted((k, v) for k, v in response.headers.items() if k not in NOT_COMPARED))
    body = REQUEST_ID.sub(
        b'"request_id":"<id>"', JWT.sub(b"<token>", TIMESTAMP.sub(b"<time>", response.content))
    )
    return Seen(request, response.status_code, headers, body)


def scenario(client: TestClient, accounts: Accounts) -> tuple[list[Seen], dict[str, str]]:
    """Use every ported route, with successes and errors; return what was seen and who served each."""
    accounts.create("flip@example.com")
    admin = accounts.headers(accounts.create("flip-admin@example.com", Role.ADMIN))
    log: list[Seen] = []
    served: dict[str, str] = {}

    def call(method: str, path: str, label: str | None = None, **kwargs: Any) -> Response:
        response = client.request(method, path, **kwargs)
        # A shadow call reads the rows after Flask has answered: let it finish before the next
        # request changes them, or the comparison races the scenario instead of comparing halves.
        drain(client, client.app)  # type: ignore[arg-type]
        key = label or f"{method} {path}"
        log.append(seen(key, response))
        served[key] = response.headers["X-Served-By"]
        return response

    call(
        "POST",
        "/api/auth/login",
        "login-wrong",
        json={"email": "flip@example.com", "password": "Wrong-Pass-1"},
    )
    tokens = call("POST", "/api/auth/login", json={"email": "flip@example.com", "password": PASSWORD}).json()
    access, refresh = bearer(tokens["access_token"]), bearer(tokens["refresh_token"])
    call("GET", "/api/users/me", "me-no-token")
    call("GET", "/api/users/me", headers=access)
    call("HEAD", "/api/users/me", headers=access)
    call("PUT", "/api/users/me", json={"first_name": "Ada", "language": "fr"}, headers=access)
    call("PUT", "/api/users/me", "me-not-json", content=b"{", headers=access)
    call("PUT", "/api/users/me", "me-bad-key", json={"role": "admin"}, headers=access)
    body = {"name": "warehouse", "type": "postgresql", "config": valid_config("postgresql", "Pw-1")}
    source = call("POST", "/api/data-sources", json=body, headers=access).json()
    call("POST", "/api/data-sources", "create-twice", json=body, headers=access)
    one = f"/api/data-sources/{source['id']}"
    call("GET", "/api/data-sources?page=1&per_page=5&type=postgresql", headers=access)
    call("GET", "/api/data-sources?per_page=500", headers=access)
    call("GET", one, headers=access)
    call("GET", one, "get-with-refresh-token", headers=refresh)
    call(
        "PUT",
        one,
        json={"description": "main", "config": {**valid_config("postgresql", "********"), "host": "db2"}},
        headers=access,
    )
    call("DELETE", one, headers=access)
    call("GET", one, "get-deleted", headers=access)
    call("GET", "/api/data-sources/abc", "get-not-a-number", headers=access)
    call("GET", "/api/health")
    joined = call(
        "POST",
        "/api/auth/register",
        json={"email": "New@Example.com", "password": PASSWORD, "first_name": "N"},
    ).json()
    call(
        "POST",
        "/api/auth/register",
        "register-twice",
        json={"email": "new@example.com", "password": PASSWORD},
    )
    call("GET", "/api/users", headers=admin)
    call("GET", "/api/users", "users-not-admin", headers=access)
    call("PUT", f"/api/users/{joined['id']}/role", json={"role": "analyst"}, headers=admin)
    call("PUT", f"/api/users/{joined['id']}/role", "role-unknown", json={"role": "boss"}, headers=admin)
    hook = {"name": "alerts", "provider": "slack", "config": {"channel": "#data"}}
    integration = call("POST", "/api/integrations", json=hook, headers=access).json()
    call("GET", "/api/integrations", headers=access)
    call("DELETE", f"/api/integrations/{integration['id']}", headers=access)
    call("DELETE", f"/api/integrations/{integration['id']}", "delete-integration-twice", headers=access)
    call("GET", "/api/audit-logs?action=user.role_change", headers=admin)
    call("POST", "/api/auth/refresh", headers=refresh)
    call("POST", "/api/auth/refresh", "refresh-with-access-token", headers=access)
    call("POST", "/api/auth/logout", headers=access)
    call("GET", "/api/users/me", "me-after-logout", headers=access)
    return log, served


def run(build: Build, app: FastAPI, accounts: Accounts, state: str) -> tuple[list[Seen], dict[str, str]]:
    """Run the scenario from empty tables with every ported route in `state`."""
    built, client = build(route_states=dict.fromkeys(PORTED, state))
    empty_tables(app.state.engine)
    result = scenario(client, Accounts(built, accounts.session))
    drain(client, built)
    _, mismatches = migration_of(built).counter.pending()
    assert not mismatches, [m.diff for m in mismatches]
    return result


def test_flipping_states_changes_only_who_serves(build: Build, app: FastAPI, accounts: Accounts) -> None:
    legacy, legacy_served = run(build, app, accounts, "legacy")
    migrated, migrated_served = run(build, app, accounts, "migrated")
    shadow, shadow_served = run(build, app, accounts, "shadow")
    rolled_back, rolled_back_served = run(build, app, accounts, "legacy")

    assert migrated == legacy
    assert shadow == legacy
    assert rolled_back == legacy
    assert set(legacy_served.values()) == {"legacy_flask"}
    assert set(shadow_served.values()) == {"legacy_flask"}
    assert rolled_back_served == legacy_served
    # Every request of the scenario reached a port once migrated, except a path Flask's rule refuses.
    assert {k for k, v in migrated_served.items() if v == "legacy_flask"} == {"get-not-a-number"}


def test_migrating_one_route_leaves_its_neighbours_on_flask(build: Build, accounts: Accounts) -> None:
    _, client = build(route_states={"GET /api/users/me": "migrated"})
    headers = accounts.headers(accounts.create("one@example.com"))

    assert client.get("/api/users/me", headers=headers).headers["X-Served-By"] == "fastapi"
    assert client.head("/api/users/me", headers=headers).headers["X-Served-By"] == "fastapi"
    put = client.put("/api/users/me", json={"first_name": "B"}, headers=headers)
    assert put.status_code == 200
    assert put.headers["X-Served-By"] == "legacy_flask"
    assert client.get("/api/data-sources", headers=headers).headers["X-Served-By"] == "legacy_flask"
    options = client.options("/api/users/me")
    assert options.headers["X-Served-By"] == "legacy_flask"


@pytest.mark.parametrize("state", ["legacy", "migrated"])
def test_route_template_and_server_are_named_alike_by_both(
    build: Build, accounts: Accounts, monkeypatch: pytest.MonkeyPatch, state: str
) -> None:
    # What logs and metrics read: the same route template whichever implementation served.
    _, client = build(route_states={"GET /api/data-sources/<id>": state})
    bound: list[RouteInfo] = []

    def recording_bind_route() -> RouteInfo:
        bound.append(bind_route())
        return bound[-1]

    monkeypatch.setattr(front, "bind_route", recording_bind_route)
    response = client.get("/api/data-sources/41", headers=accounts.headers(accounts.create("t@example.com")))

    assert response.status_code == 404
    assert bound[-1].template == "/api/data-sources/<source_id>"
    assert bound[-1].served_by == ("fastapi" if state == "migrated" else "legacy_flask")


@pytest.mark.parametrize("state", ["legacy", "migrated"])
def test_unexpected_error_answers_the_same_500(
    build: Build, accounts: Accounts, monkeypatch: pytest.MonkeyPatch, state: str
) -> None:
    built, _ = build(route_states={"GET /api/users/me": state})
    headers = accounts.headers(accounts.create("err@example.com"))

    def broken(user: object) -> dict[str, object]:
        raise RuntimeError("bug")

    # The same serializer bug in whichever implementation serves the route.
    monkeypatch.setattr(legacy_users, "user_json", broken)
    monkeypatch.setattr(user_ports, "user_json", broken)
    with TestClient(built, raise_server_exceptions=False) as lenient:
        response = lenient.get("/api/users/me", headers=headers)

    assert response.status_code == 500
    assert response.json() == {"msg": "Internal server error"}
    assert response.headers["X-Served-By"] == ("fastapi" if state == "migrated" else "legacy_flask")
