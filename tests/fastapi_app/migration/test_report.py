"""The migration report, at GET /api/v1/admin/migration and from `datalab routes`, shows the real state."""

from __future__ import annotations

import json
import tomllib
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from datalab.cli import main
from datalab.legacy_json import user_json
from fastapi_app.migration.ports import users as user_ports
from fastapi_app.migration.registry import DEFAULT_FILE as ROUTES_FILE
from shared_models import Role
from tests.fastapi_app.migration.conftest import Build, drain, migration_of
from tests.helpers import Accounts, error_of

STATES = {"GET /api/users/me": "shadow", "GET /api/data-sources": "migrated"}


@pytest.fixture
def cli_env(cli_env: dict[str, str]) -> dict[str, str]:
    """The CLI environment with the same route states as the server."""
    return {**cli_env, "ROUTE_STATES": json.dumps(STATES)}


def traffic(
    build: Build, accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> tuple[TestClient, dict[str, str]]:
    """Serve some requests on a server with STATES, one of them a shadow mismatch; return its client."""
    app, client = build(route_states=STATES)
    admin_headers = accounts.headers(accounts.create("boss@example.com", Role.ADMIN))
    user_headers = accounts.headers(accounts.create("u@example.com"))
    client.get("/api/users/me", headers=user_headers)
    drain(client, app)
    monkeypatch.setattr(user_ports, "user_json", lambda user: {**user_json(user), "id": "wrong"})
    client.get("/api/users/me", headers=user_headers)
    for _ in range(3):
        client.get("/api/data-sources", headers=user_headers)
    drain(client, app)
    migration_of(app).counter.flush()
    return client, admin_headers


def by_route(routes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Index report lines by route name."""
    return {line["route"]: line for line in routes}


def test_admin_report_shows_states_and_counts(
    build: Build, accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, admin_headers = traffic(build, accounts, monkeypatch)

    response = client.get("/api/v1/admin/migration", headers=admin_headers)

    assert response.status_code == 200
    lines = by_route(response.json()["routes"])
    assert set(lines) == set(tomllib.loads(ROUTES_FILE.read_text())["routes"])
    me = lines["GET /api/users/me"]
    assert (me["state"], me["live_state"]) == ("shadow", "shadow")
    assert (me["served_legacy_flask"], me["served_fastapi"]) == (2, 0)
    assert (me["shadow_compared"], me["shadow_mismatches"]) == (2, 1)
    assert me["last_mismatch"].startswith("id: flask ")
    assert me["successor"] == "/api/v1/auth/profile"
    assert me["deprecation"] == "2026-11-22T00:00:00Z"
    assert me["sunset"] is None
    sources = lines["GET /api/data-sources"]
    assert (sources["state"], sources["served_fastapi"], sources["served_legacy_flask"]) == ("migrated", 3, 0)
    assert lines["POST /api/auth/register"]["state"] == "legacy"


def test_admin_report_is_for_admins_only(client: TestClient, user_headers: dict[str, str]) -> None:
    error_of(client.get("/api/v1/admin/migration", headers=user_headers), 403, "FORBIDDEN")
    error_of(client.get("/api/v1/admin/migration"), 401, "TOKEN_MISSING")


def test_cli_prints_the_report(
    build: Build, accounts: Accounts, monkeypatch: pytest.MonkeyPatch, cli_env: dict[str, str]
) -> None:
    traffic(build, accounts, monkeypatch)

    result = CliRunner().invoke(main, ["routes"], env=cli_env)

    assert result.exit_code == 0, result.output
    header, *rows = result.output.splitlines()
    assert header.split() == [
        "route", "state", "successor", "flask", "fastapi", "fastapi", "%", "compared", "mismatches",
        "deprecation", "sunset",
    ]  # fmt: skip
    me = next(row for row in rows if row.startswith("GET /api/users/me "))
    assert me.split() == [
        "GET",
        "/api/users/me",
        "shadow",
        "/api/v1/auth/profile",
        "2",
        "0",
        "0",
        "2",
        "1",
        "2026-11-22",
        "-",
    ]
    assert any(row.strip().startswith("| id: flask ") for row in rows)
    sources = next(row for row in rows if row.startswith("GET /api/data-sources "))
    assert sources.split()[2:7] == ["migrated", "/api/v1/data-sources", "0", "3", "100"]


def test_cli_json_report(
    build: Build, accounts: Accounts, monkeypatch: pytest.MonkeyPatch, cli_env: dict[str, str]
) -> None:
    traffic(build, accounts, monkeypatch)

    result = CliRunner().invoke(main, ["routes", "--json"], env=cli_env)

    assert result.exit_code == 0, result.output
    lines = by_route(json.loads(result.output)["routes"])
    assert lines["GET /api/users/me"]["shadow_mismatches"] == 1
    assert lines["GET /api/data-sources"]["served_fastapi"] == 3


def test_cli_shows_when_servers_run_another_state(
    build: Build, accounts: Accounts, monkeypatch: pytest.MonkeyPatch, cli_env: dict[str, str]
) -> None:
    traffic(build, accounts, monkeypatch)
    # Moved back while no server has reported counts since: they last served it migrated.
    CliRunner().invoke(
        main, ["routes", "set", "GET /api/data-sources", "legacy", "--reason", "r"], env=cli_env
    )

    result = CliRunner().invoke(main, ["routes", "--json"], env=cli_env)

    lines = by_route(json.loads(result.output)["routes"])
    assert (lines["GET /api/data-sources"]["state"], lines["GET /api/data-sources"]["live_state"]) == (
        "legacy",
        "migrated",
    )
    table = CliRunner().invoke(main, ["routes"], env=cli_env).output
    assert "legacy (servers: migrated)" in table


def test_cli_refuses_a_bad_registry(cli_env: dict[str, str], session: Session) -> None:
    result = CliRunner().invoke(
        main, ["routes"], env={**cli_env, "ROUTE_STATES": '{"GET /api/nope": "migrated"}'}
    )

    assert result.exit_code == 1
    assert "unknown route 'GET /api/nope'" in result.output
