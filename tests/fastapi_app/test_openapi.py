"""The v1 OpenAPI document describes every operation: summary, bodies, errors and security."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from datalab.settings import Settings
from fastapi_app.main import create_app

PUBLIC = {
    "GET /api/v1/health",
    "POST /api/v1/auth/register",
    "POST /api/v1/auth/login",
    "POST /api/v1/auth/refresh",
    "POST /api/v1/auth/reset-password",
    "POST /api/v1/auth/reset-password/confirm",
}
WITHOUT_BODY = {
    "POST /api/v1/auth/logout",
    "POST /api/v1/data-sources/{source_id}/test",
    "POST /api/v1/tasks/{task_id}/cancel",
}
# Answers that are a file's bytes, not JSON.
BINARY_ANSWERS = {"GET /api/v1/datasets/{dataset_id}/download"}
# Operations whose success answer is a file in one of several media types.
FILE_ANSWERS = {"GET /api/v1/tasks/{task_id}/download"}


def _operations(app: FastAPI) -> list[tuple[str, dict[str, Any]]]:
    spec = app.openapi()
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]


def test_document_declares_the_bearer_scheme(app: FastAPI) -> None:
    schemes = app.openapi()["components"]["securitySchemes"]
    assert [s["scheme"] for s in schemes.values() if s["type"] == "http"] == ["bearer"]


def test_every_v1_operation_is_documented(app: FastAPI) -> None:
    names = [name for name, _ in _operations(app)]
    assert len(names) >= 24
    assert all(name.split(" ")[1].startswith("/api/v1/") for name in names)
    assert PUBLIC <= set(names)


def _problems(name: str, operation: dict[str, Any]) -> list[str]:
    found = []
    if not operation.get("summary"):
        found.append("no summary")
    responses = operation["responses"]
    success = [code for code in responses if code.startswith("2")]
    if len(success) != 1:
        found.append(f"success answers {success}")
    elif name in BINARY_ANSWERS:
        if "application/octet-stream" not in responses[success[0]].get("content", {}):
            found.append("binary answer is not application/octet-stream")
    elif name in FILE_ANSWERS:
        if not responses[success[0]].get("content"):
            found.append("file answer has no media type")
    elif success[0] != "204" and "$ref" not in str(responses[success[0]].get("content")):
        found.append("success answer has no model")
    errors = [code for code in responses if code[0] in "45"]
    if not errors:
        found.append("no error answer documented")
    for code in errors:
        schema = responses[code].get("content", {}).get("application/json", {}).get("schema")
        if schema != {"$ref": "#/components/schemas/ErrorEnvelope"}:
            found.append(f"{code} is not the error envelope")
    if name.split(" ")[0] in {"POST", "PUT", "PATCH"} and name not in WITHOUT_BODY:
        if "$ref" not in str(operation.get("requestBody")):
            found.append("no request model")
    if name in PUBLIC:
        security = operation.get("security", [])
        # [] is no token; a list holding {} makes the token optional (refresh takes it either way).
        if security and {} not in security:
            found.append("public route asks for a token")
    elif operation.get("security") != [{"HTTPBearer": []}] or "401" not in responses:
        found.append("bearer security or its 401 missing")
    return [f"{name}: {problem}" for problem in found]


def test_every_operation_has_summary_models_errors_and_security(app: FastAPI) -> None:
    problems = [problem for name, operation in _operations(app) for problem in _problems(name, operation)]
    assert problems == []


def test_health_says_503_when_the_database_does_not_answer(app: FastAPI) -> None:
    broken = create_engine("sqlite:////nonexistent-dir/none.db")
    working = app.state.sessionmaker
    app.state.sessionmaker = sessionmaker(broken)
    try:
        response = TestClient(app).get("/api/v1/health")
    finally:
        app.state.sessionmaker = working
        broken.dispose()
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "DATABASE_UNAVAILABLE"


def test_unexpected_error_is_a_500_envelope_without_internals(settings: Settings) -> None:
    app = create_app(settings)

    def explode() -> None:
        raise RuntimeError("SELECT secret FROM vault -- internal detail")

    app.add_api_route("/api/v1/explode", explode)
    response = TestClient(app, raise_server_exceptions=False).get("/api/v1/explode")
    assert response.status_code == 500
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("INTERNAL_ERROR", "Internal server error")
    assert "secret" not in response.text
    assert "Traceback" not in response.text
