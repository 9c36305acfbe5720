"""Retiring Flask: with every route migrated, LEGACY_MOUNT=off serves /api without Flask in the process."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient
from flask import Flask
from sqlalchemy import delete
from sqlalchemy.orm import Session

from datalab.cli import main
from datalab.settings import Settings
from fastapi_app.main import create_app
from fastapi_app.migration.ports import PORTED, legacy_template, port_routes
from fastapi_app.migration.registry import RegistryError, check_url_map, load_registry
from fastapi_app.migration.report import FLASK_MODULES, flask_modules
from legacy_flask.app import legacy_route_path
from shared_models import Role, RouteState
from tests.edge_apps import free_port
from tests.fastapi_app.migration.conftest import Build
from tests.gateway_servers import VENV_BIN, settings_env, start, stop, wait_for_port
from tests.helpers import PASSWORD, Accounts

ALL_MIGRATED = dict.fromkeys(PORTED, "migrated")


@pytest.fixture
def server_without_flask(settings: Settings, migrated: None) -> Iterator[str]:
    """The production ASGI app under uvicorn, every route migrated and LEGACY_MOUNT=off; yield its URL."""
    port = free_port()
    env = settings_env(settings) | {"LEGACY_MOUNT": "off", "ROUTE_STATES": json.dumps(ALL_MIGRATED)}
    command = [str(VENV_BIN / "uvicorn"), "fastapi_app.asgi:app", "--host", "127.0.0.1", "--port", str(port)]
    process = start(command, env)
    try:
        wait_for_port(port, process, timeout=120)  # a whole app's imports, on a shared CI machine
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def test_server_without_flask_serves_the_contract_with_no_flask_module(
    server_without_flask: str, accounts: Accounts
) -> None:
    accounts.create("retire@example.com", Role.ADMIN)
    with httpx.Client(base_url=server_without_flask, timeout=10) as http:
        login = http.post("/api/auth/login", json={"email": "retire@example.com", "password": PASSWORD})
        assert login.status_code == 200, login.text
        assert login.headers["X-Served-By"] == "fastapi"
        token = {"Authorization": f"Bearer {login.json()['access_token']}"}

        report = http.get("/api/v1/admin/migration", headers=token).json()
        unknown = http.get("/api/no-such-thing")
        wrong_method = http.delete("/api/health")

    # Read in the server process itself. uvicorn's own config module imports a2wsgi whenever it is
    # installed, before it loads any app; the app's part is proven alone below, a2wsgi included.
    assert set(report["flask_modules"]) <= {"a2wsgi"}
    assert (report["flask_retirable"], report["flask_blockers"]) == (True, [])
    assert (unknown.status_code, unknown.content) == (404, b'{"msg":"Not found"}\n')
    assert (wrong_method.status_code, wrong_method.json()) == (405, {"msg": "Method not allowed"})
    assert wrong_method.headers["Allow"] == "GET, HEAD, OPTIONS"


STARTED_APP = """
import json, sys
from fastapi.testclient import TestClient
from fastapi_app.asgi import app
from fastapi_app.migration.report import flask_modules
with TestClient(app) as client:
    answer = client.get("/api/health")
seen = {"status": answer.status_code, "served_by": answer.headers["x-served-by"]}
print(json.dumps({**seen, "loaded": flask_modules()}))
"""


def test_started_app_without_flask_imports_none_of_it(settings: Settings, migrated: None) -> None:
    env = settings_env(settings) | {"LEGACY_MOUNT": "off", "ROUTE_STATES": json.dumps(ALL_MIGRATED)}
    done = subprocess.run(  # noqa: S603  # a fresh interpreter: this test process has Flask loaded
        [sys.executable, "-c", STARTED_APP], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == {"status": 200, "served_by": "fastapi", "loaded": []}


def test_flask_off_refuses_to_start_while_a_route_is_not_migrated(settings: Settings) -> None:
    states = {**ALL_MIGRATED, "GET /api/audit-logs": "shadow", "GET /api/health": "legacy"}
    with pytest.raises(RegistryError, match=r"^LEGACY_MOUNT=off needs every route migrated") as refused:
        create_app(settings.model_copy(update={"legacy_mount": "off", "route_states": states}))
    assert "GET /api/health (legacy); GET /api/audit-logs (shadow)" in str(refused.value)


def test_ports_name_routes_as_flask_does(settings: Settings, flask_app: Flask) -> None:
    registry = load_registry(settings, ported=PORTED)
    rules = check_url_map(
        registry,
        (
            (method, rule.rule)
            for rule in flask_app.url_map.iter_rules()
            if rule.endpoint != "static"
            for method in rule.methods or ()
        ),
    )
    flask_templates = {name: legacy_route_path(rule) for name, rule in rules.items()}
    assert {name: legacy_template(route) for name, route in port_routes().items()} == flask_templates


def test_cli_says_what_keeps_flask(cli_env: dict[str, str], migrated: None, session: Session) -> None:
    # The report reads the live states: none yet, so every route is in its registry state (legacy).
    session.execute(delete(RouteState))
    session.commit()
    try:
        kept = CliRunner().invoke(main, ["routes"], env=cli_env)
        for name in ALL_MIGRATED:
            moved = CliRunner().invoke(
                main, ["routes", "set", name, "migrated", "--reason", "t"], env=cli_env
            )
            assert moved.exit_code == 0, moved.output
        retirable = CliRunner().invoke(main, ["routes", "--json"], env=cli_env)
    finally:
        session.execute(delete(RouteState))
        session.commit()

    assert "Flask cannot be retired yet: 19 route(s) not migrated:" in kept.output
    assert "  GET /api/health (legacy)" in kept.output
    payload = json.loads(retirable.output)
    assert (payload["flask_retirable"], payload["flask_blockers"]) == (True, [])


def test_flask_module_probe_finds_a_mounted_flask(app: FastAPI) -> None:
    # This process mounts Flask (flask-jwt-extended is only a test dependency, never the app's).
    assert {"flask", "werkzeug", "flask_sqlalchemy", "a2wsgi", "legacy_flask"} <= set(flask_modules())
    assert set(flask_modules()) <= set(FLASK_MODULES)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("OPTIONS", "/api/health"),
        ("PATCH", "/api/data-sources/1"),
        ("GET", "/api/nope"),
        ("GET", "/api/users/"),
    ],
)
def test_without_flask_unserved_requests_get_flasks_answer(
    build: Build, client: TestClient, method: str, path: str
) -> None:
    _, retired = build(legacy_mount="off", route_states=ALL_MIGRATED)
    flask, fallback = client.request(method, path), retired.request(method, path)

    assert (flask.headers["X-Served-By"], fallback.headers["X-Served-By"]) == ("legacy_flask", "fastapi")
    assert (fallback.status_code, fallback.content) == (flask.status_code, flask.content)
    assert fallback.headers["content-type"] == flask.headers["content-type"]
    allowed = [set(r.headers.get("Allow", "").split(", ")) for r in (flask, fallback)]
    assert allowed[0] == allowed[1]
