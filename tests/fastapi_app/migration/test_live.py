"""Moving routes at run time: PATCH /api/v1/admin/migration and `datalab routes set`, all or nothing."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy.orm import Session

from datalab.cli import main
from datalab.errors import InvalidInput
from fastapi_app.migration.live import LiveRoute, check_wanted
from shared_models import User
from tests.fastapi_app.migration.conftest import Build, migration_of
from tests.helpers import audit_entries, error_of, fields_of

ME = "GET /api/users/me"
PATH = "/api/v1/admin/migration"


def patch(
    client: TestClient, headers: dict[str, str], routes: dict[str, Any], reason: str = "test"
) -> Response:
    """Ask the admin API to move `routes`."""
    return client.patch(PATH, json={"routes": routes, "reason": reason}, headers=headers)


def served_by(client: TestClient, headers: dict[str, str]) -> str:
    """Return who served GET /api/users/me."""
    response = client.get("/api/users/me", headers=headers)
    assert response.status_code == 200
    return response.headers["X-Served-By"]


def state_of(client: TestClient, headers: dict[str, str], route: str = ME) -> dict[str, Any]:
    """Return the report line of `route`."""
    lines = client.get(PATH, headers=headers).json()["routes"]
    return next(line for line in lines if line["route"] == route)


def test_patch_moves_a_route_at_once_and_audits_it(
    client: TestClient,
    admin: User,
    admin_headers: dict[str, str],
    user_headers: dict[str, str],
    session: Session,
) -> None:
    assert served_by(client, user_headers) == "legacy_flask"

    response = patch(client, admin_headers, {ME: {"state": "migrated"}}, "the port is ready")

    assert response.status_code == 200
    line = next(line for line in response.json()["routes"] if line["route"] == ME)
    assert (line["state"], line["percent"], line["ported"]) == ("migrated", None, True)
    assert (line["changed_by"], line["reason"]) == (admin.email, "the port is ready")
    assert served_by(client, user_headers) == "fastapi"
    [entry] = audit_entries(session, "route.state_changed")
    assert entry.user_id == admin.id
    assert (entry.resource_type, entry.resource_id) == ("route", ME)
    assert entry.details == {
        "route": ME,
        "from": "legacy",
        "to": "migrated",
        "by": admin.email,
        "reason": "the port is ready",
    }

    patch(client, admin_headers, {ME: {"state": "legacy"}}, "back")
    assert served_by(client, user_headers) == "legacy_flask"
    assert [e.details["to"] for e in audit_entries(session, "route.state_changed")] == ["migrated", "legacy"]


@pytest.mark.parametrize(
    ("routes", "field"),
    [
        ({"GET /api/nope": {"state": "migrated"}}, "routes.GET /api/nope"),
        ({ME: {"state": "migrated"}, "GET /api/nope": {"state": "migrated"}}, "routes.GET /api/nope"),
        ({ME: {"state": "canary"}}, f"routes.{ME}"),
        ({ME: {"state": "canary", "percent": 0}}, f"routes.{ME}"),
        ({ME: {"state": "canary", "percent": 100}}, f"routes.{ME}"),
        ({ME: {"state": "migrated", "percent": 30}}, f"routes.{ME}"),
    ],
)
def test_patch_refusal_names_the_route_and_changes_nothing(
    client: TestClient,
    admin_headers: dict[str, str],
    user_headers: dict[str, str],
    session: Session,
    routes: dict[str, Any],
    field: str,
) -> None:
    error = error_of(patch(client, admin_headers, routes), 422, "INVALID_INPUT")

    assert fields_of(error) == [field]
    assert state_of(client, admin_headers)["state"] == "legacy"
    assert served_by(client, user_headers) == "legacy_flask"
    assert audit_entries(session, "route.state_changed") == []


def test_patch_refuses_an_unknown_state(client: TestClient, admin_headers: dict[str, str]) -> None:
    error = error_of(patch(client, admin_headers, {ME: {"state": "gone"}}), 422, "VALIDATION_FAILED")

    assert fields_of(error) == [f"body.routes.{ME}.state"]


def test_a_state_needing_a_port_is_refused_for_a_route_without_one(app: FastAPI) -> None:
    registry = migration_of(app).registry
    without_port = replace(registry, ported=registry.ported - {ME})

    for state in ("shadow", "migrated"):
        with pytest.raises(InvalidInput, match="has no FastAPI port") as refused:
            check_wanted(without_port, {ME: LiveRoute(state)})
        assert refused.value.field == f"routes.{ME}"
    check_wanted(without_port, {ME: LiveRoute("legacy")})


def test_patch_is_for_admins_only(client: TestClient, user_headers: dict[str, str]) -> None:
    error_of(patch(client, user_headers, {ME: {"state": "migrated"}}), 403, "FORBIDDEN")
    error_of(patch(client, {}, {ME: {"state": "migrated"}}), 401, "TOKEN_MISSING")


def test_cli_sets_a_canary_the_server_follows(
    client: TestClient,
    app: FastAPI,
    admin_headers: dict[str, str],
    session: Session,
    cli_env: dict[str, str],
) -> None:
    command = ["routes", "set", ME, "canary", "--percent", "30", "--reason", "10 % first"]

    result = CliRunner().invoke(main, command, env=cli_env)

    assert result.exit_code == 0, result.output
    assert result.output == f"{ME}: legacy -> canary:30\n"
    migration_of(app).live.refresh()  # what the watcher does every ROUTE_STATE_POLL_SECONDS
    assert migration_of(app).live.current.of(ME) == LiveRoute("canary", 30)
    line = state_of(client, admin_headers)
    assert (line["state"], line["percent"], line["reason"]) == ("canary", 30, "10 % first")
    assert line["changed_by"].startswith("cli:")
    [entry] = audit_entries(session, "route.state_changed")
    assert (entry.user_id, entry.details["to"]) == (None, "canary:30")
    report = json.loads(CliRunner().invoke(main, ["routes", "--json"], env=cli_env).output)
    assert next(r for r in report["routes"] if r["route"] == ME)["percent"] == 30


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["GET /api/nope", "migrated"], "unknown route"),
        ([ME, "canary"], "a canary needs a percent from 1 to 99"),
        ([ME, "canary", "--percent", "120"], "a canary needs a percent from 1 to 99"),
    ],
)
def test_cli_refusal_changes_nothing(
    client: TestClient,
    admin_headers: dict[str, str],
    cli_env: dict[str, str],
    arguments: list[str],
    message: str,
) -> None:
    result = CliRunner().invoke(main, ["routes", "set", *arguments, "--reason", "x"], env=cli_env)

    assert result.exit_code == 1
    assert message in result.output
    assert state_of(client, admin_headers)["state"] == "legacy"


def test_route_states_wins_at_start_up(
    client: TestClient, build: Build, admin_headers: dict[str, str], session: Session
) -> None:
    patch(client, admin_headers, {ME: {"state": "shadow"}})

    built, _ = build(route_states={ME: "migrated"})

    assert migration_of(built).live.current.of(ME).state == "migrated"
    assert state_of(client, admin_headers)["state"] == "migrated"
    changes = [
        (e.details["from"], e.details["to"], e.details["by"])
        for e in audit_entries(session, "route.state_changed")
    ]
    assert changes[-1] == ("shadow", "migrated", "ROUTE_STATES")
