"""Logs: one JSON object per line in production, the request id on every line of a request, no secrets."""

from __future__ import annotations

import http.client
import json
import logging
import re
import threading
import time
from collections.abc import Iterator

import pytest
import structlog
import uvicorn
from fastapi.testclient import TestClient
from flask import Flask

from datalab.settings import Settings
from fastapi_app.edges.redaction import scrub
from shared_models import User
from tests.edge_apps import captured_logs, edge_app, edge_client, free_port, json_lines
from tests.helpers import PASSWORD

UTC_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+Z")


@pytest.fixture
def logged(settings: Settings, _clean_tables: None) -> Iterator[tuple[TestClient, list[str]]]:
    """A client whose app has a Flask and a FastAPI view that log from their threads."""
    threads: list[str] = []
    with edge_client(settings, rate_limit_enabled=False) as client:
        app = client.app
        flask_app: Flask = app.state.flask_app  # type: ignore[attr-defined]

        def flask_logs() -> dict[str, str]:
            threads.append(threading.current_thread().name)
            logging.getLogger("legacy_flask.test").info("flask view ran")
            return {}

        def fastapi_logs() -> dict[str, str]:
            threads.append(threading.current_thread().name)
            structlog.get_logger("fastapi_app.test").info("fastapi view ran", detail="x")
            return {}

        flask_app.add_url_rule("/api/logs-here", view_func=flask_logs)
        app.add_api_route("/api/v1/logs-here", fastapi_logs)  # type: ignore[attr-defined]
        yield client, threads


def _by_request(lines: list[dict[str, object]], request_id: str) -> list[dict[str, object]]:
    return [line for line in lines if line.get("request_id") == request_id]


def test_production_lines_are_json_with_utc_timestamps_and_request_ids(
    logged: tuple[TestClient, list[str]], settings: Settings
) -> None:
    client, threads = logged
    with captured_logs(settings, log_format="json") as buffer:
        client.get("/api/logs-here", headers={"X-Request-ID": "req-flask"})
        client.get("/api/v1/logs-here", headers={"X-Request-ID": "req-fastapi"})
    lines = json_lines(buffer)  # every line is one JSON object
    assert all(UTC_ISO.fullmatch(str(line["timestamp"])) for line in lines)
    flask_lines = _by_request(lines, "req-flask")
    assert {line["event"] for line in flask_lines} >= {"flask view ran", "request"}
    fastapi_lines = _by_request(lines, "req-fastapi")
    assert {line["event"] for line in fastapi_lines} >= {"fastapi view ran", "request"}
    # Each view ran on a worker thread (a2wsgi's, AnyIO's), not the event loop's.
    assert threading.main_thread().name not in threads
    assert len(threads) == 2


def test_one_access_line_per_request_with_route_template(
    logged: tuple[TestClient, list[str]], settings: Settings, user: User
) -> None:
    client, _ = logged
    with captured_logs(settings, log_format="json") as buffer:
        client.get("/api/data-sources/12345", headers={"X-Request-ID": "req-legacy"})
        client.get("/api/v1/users/98765", headers={"X-Request-ID": "req-v1"})
    access = [line for line in json_lines(buffer) if line["logger"] == "datalab.access"]
    assert len(access) == 2
    legacy, v1 = access
    assert legacy | {"duration_ms": 0} == {
        "event": "request",
        "level": "info",
        "logger": "datalab.access",
        "timestamp": legacy["timestamp"],
        "request_id": "req-legacy",
        "method": "GET",
        "path": "/api/data-sources/12345",
        "route": "/api/data-sources/<source_id>",
        "status": 401,
        "duration_ms": 0,
        "served_by": "legacy_flask",
        "client_ip": "203.0.113.7",
    }
    assert (v1["route"], v1["served_by"], v1["status"]) == ("/api/v1/users/{user_id}", "fastapi", 401)


def test_sqlalchemy_lines_carry_the_request_id_and_never_parameters(
    logged: tuple[TestClient, list[str]], settings: Settings, user: User
) -> None:
    client, _ = logged
    engine_log = logging.getLogger("sqlalchemy.engine")
    level = engine_log.level
    engine_log.setLevel(logging.INFO)
    try:
        with captured_logs(settings, log_format="json") as buffer:
            for path in ("/api/auth/login", "/api/v1/auth/login"):
                client.post(
                    path,
                    json={"email": user.email, "password": PASSWORD},
                    headers={"X-Request-ID": f"sql-{path[5:7]}"},
                )
    finally:
        engine_log.setLevel(level)
    for request_id in ("sql-au", "sql-v1"):
        sql = [
            line
            for line in _by_request(json_lines(buffer), request_id)
            if str(line["logger"]).startswith("sqlalchemy")
        ]
        assert any("SELECT" in str(line["event"]) for line in sql)
    assert "[parameters hidden]" in buffer.getvalue()
    assert user.email not in buffer.getvalue()
    assert user.password_hash not in buffer.getvalue()


def test_no_secret_reaches_the_log(
    logged: tuple[TestClient, list[str]], settings: Settings, user: User
) -> None:
    client, _ = logged
    engine_log = logging.getLogger("sqlalchemy.engine")
    level = engine_log.level
    engine_log.setLevel(logging.INFO)
    secrets: list[str] = [
        PASSWORD,
        settings.security.jwt_secret,
        *settings.security.fernet_keys,
        user.password_hash,
    ]
    try:
        with captured_logs(settings, log_format="json", log_level="DEBUG") as buffer:
            for path in ("/api/auth/login", "/api/v1/auth/login"):
                tokens = client.post(path, json={"email": user.email, "password": PASSWORD}).json()
                secrets += [tokens["access_token"], tokens["refresh_token"]]
            bearer = {"Authorization": f"Bearer {secrets[-2]}"}
            client.get("/api/users/me", headers=bearer)
            client.get("/api/v1/auth/profile", headers=bearer)
            client.post(
                "/api/v1/data-sources",
                headers=bearer,
                json={"name": "s", "type": "postgresql", "config": {"host": "h", "password": "db-Pass-777"}},
            )
            secrets.append("db-Pass-777")
            client.post("/api/auth/logout", headers=bearer)
            # What a careless log call could pass: secret-named keys, headers, URLs, SQL errors.
            log = structlog.get_logger("careless")
            log.info("config", password="pw-123456", config={"api_key": "key-123456", "host": "h"})
            logging.getLogger("careless").warning("header Authorization: Bearer tok-abcdef-123 from %s", "x")
            logging.getLogger("careless").warning("dsn postgresql://u:pg-secret-9@db/x token=reset-tok-42")
            logging.getLogger("careless").error(
                "(IntegrityError)\n[SQL: INSERT]\n[parameters: ('pw-in-sql-1',)]"
            )
            secrets += [
                "pw-123456",
                "key-123456",
                "tok-abcdef-123",
                "pg-secret-9",
                "reset-tok-42",
                "pw-in-sql-1",
            ]
    finally:
        engine_log.setLevel(level)
    output = buffer.getvalue()
    assert len(json_lines(buffer)) > 20
    leaked = [secret for secret in secrets if secret in output]
    assert leaked == []
    assert '"password": "********"' in output


def test_development_lines_are_readable_console_text(
    logged: tuple[TestClient, list[str]], settings: Settings
) -> None:
    client, _ = logged
    with captured_logs(settings, env="development") as buffer:
        client.get("/api/logs-here", headers={"X-Request-ID": "req-console"})
    line = next(line for line in buffer.getvalue().splitlines() if "flask view ran" in line)
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)
    assert "request_id=req-console" in line
    assert "[legacy_flask.test]" in line


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Bearer abc.def-ghi", "Bearer ********"),
        ('{"password": "x1", "name": "n"}', '"name": "n"'),
        ("client_secret=abc&x=1", "client_secret=********&x=1"),
        ("postgresql://u:p4ss@db:5432/x", "postgresql://u:********@db:5432/x"),
    ],
)
def test_scrub_masks_secret_looking_text(text: str, kept: str) -> None:
    assert kept in scrub(text)
    assert not any(secret in scrub(text) for secret in ("abc.def-ghi", "x1", "abc&", "p4ss"))


def test_uvicorn_lines_of_a_request_carry_its_id(settings: Settings) -> None:
    with edge_app(settings) as app:

        def explode() -> None:
            raise RuntimeError("boom, password=hunter2-secret")

        app.add_api_route("/api/v1/explode", explode)
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        with captured_logs(settings, log_format="json") as buffer:
            thread.start()
            try:
                deadline = time.monotonic() + 10
                while not server.started and time.monotonic() < deadline:
                    time.sleep(0.05)
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                connection.request("GET", "/api/v1/explode", headers={"X-Request-ID": "req-uvicorn"})
                response = connection.getresponse()
                response.read()
                connection.close()
            finally:
                server.should_exit = True
                thread.join(timeout=10)
    assert response.status == 500
    assert response.getheader("x-request-id") == "req-uvicorn"
    lines = _by_request(json_lines(buffer), "req-uvicorn")
    uvicorn_lines = [line for line in lines if line["logger"] == "uvicorn.error"]
    assert uvicorn_lines
    assert "Exception in ASGI application" in str(uvicorn_lines[0]["event"])
    assert "RuntimeError" in str(uvicorn_lines[0]["exception"])
    assert "hunter2-secret" not in buffer.getvalue()


@pytest.mark.parametrize(("env", "revealed"), [("development", True), ("test", False), ("production", False)])
def test_only_the_development_mail_log_shows_a_reset_link(
    settings: Settings, env: str, revealed: bool
) -> None:
    with captured_logs(settings, env=env) as buffer:
        logging.getLogger("datalab.mail").warning(
            "mail to a@example.com: Reset\nhttp://x/reset?token=tok-777"
        )
        logging.getLogger("datalab.other").warning("http://x/reset?token=tok-888")
    assert ("tok-777" in buffer.getvalue()) is revealed
    assert "tok-888" not in buffer.getvalue()
