"""`GET /api/openapi.json` says what docs/legacy-api.md says: every route, status, body and token error.

The contract's route table is parsed here: each row's method and path, the status codes
written in its `success` and `notes` cells, and who may call it (any caller but `anyone`
needs a token, so gets flask-jwt-extended's 401 and 422). A route without a port yet is
not in the document, and only such a route may be missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fastapi_app.migration.openapi import legacy_openapi, missing
from fastapi_app.migration.registry import Registry, shape

CONTRACT = Path(__file__).resolve().parents[3] / "docs" / "legacy-api.md"
_ROW = re.compile(r"\|\s*(GET|POST|PUT|PATCH|DELETE)\s*\|\s*(/api/\S*)\s*\|([^|]*)\|([^|]*)\|([^|]*)\|")
_STATUS = re.compile(r"(?<![\w.])([1-5]\d\d)(?![\w.])")
MESSAGE = "#/components/schemas/LegacyError"


@dataclass(frozen=True)
class ContractRoute:
    """One row of the contract's route table."""

    method: str
    path: str
    who: str
    statuses: frozenset[str]
    body: bool

    @property
    def name(self) -> str:
        """Return the registry name, e.g. `GET /api/data-sources/<id>`."""
        return f"{self.method} {self.path}"


def contract_routes() -> list[ContractRoute]:
    """Parse the route table of docs/legacy-api.md."""
    section = CONTRACT.read_text(encoding="utf-8").split("## Routes", 1)[1]
    routes = []
    for method, path, who, success, notes in _ROW.findall(section):
        routes.append(
            ContractRoute(
                method=method,
                path=path,
                who=who.strip(),
                statuses=frozenset(_STATUS.findall(success + notes)),
                body="body `" in notes,
            )
        )
    return routes


ROUTES = contract_routes()


def _key(method: str, path: str) -> tuple[str, str]:
    return method.upper(), shape(re.sub(r"\{([^}]+)\}", r"<\1>", path))


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    """The legacy OpenAPI document as the app serves it."""
    with TestClient(app) as client:
        answer = client.get("/api/openapi.json")
    assert answer.status_code == 200
    assert answer.headers["x-served-by"] == "fastapi"
    return answer.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """The document's operations by (method, path shape)."""
    return {_key(m, path): op for path, item in document["paths"].items() for m, op in item.items()}


def test_the_table_is_parsed() -> None:
    assert len(ROUTES) == 19
    login = next(r for r in ROUTES if r.name == "POST /api/auth/login")
    assert login.statuses == {"200", "401"}
    create = next(r for r in ROUTES if r.name == "POST /api/data-sources")
    assert create.statuses == {"201", "409", "413"}
    assert create.body


def test_contract_routes_are_the_registry(app: FastAPI) -> None:
    registry: Registry = app.state.migration.registry
    assert sorted(r.name for r in ROUTES) == sorted(registry.routes)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_contract_route_is_described(
    app: FastAPI, operations: dict[tuple[str, str], dict[str, Any]], route: ContractRoute
) -> None:
    operation = operations.get(_key(route.method, route.path))
    if route.name in missing(app.state.migration.registry):
        # Described once ported (its `responses=`); until then it is exactly what is missing.
        assert operation is None
        return
    assert operation is not None, f"{route.name} is not in /api/openapi.json"
    responses = operation["responses"]
    assert route.statuses <= set(responses), f"{route.name}: codes the contract lists are missing"
    if route.who != "anyone":
        assert {"401", "422"} <= set(responses), f"{route.name}: token errors are not described"
        assert operation["security"] == [{"LegacyBearer": []}]
    if route.body:
        assert {"400", "413"} <= set(responses)
        assert operation["requestBody"]["content"]["application/json"]["schema"]
    for code, answer in responses.items():
        if code >= "400":
            assert answer["content"]["application/json"]["schema"] == {"$ref": MESSAGE}, (route.name, code)
    assert operation["deprecated"] is True
    assert operation["x-successor"].startswith("/api/v1/")


def test_document_has_only_contract_routes(operations: dict[tuple[str, str], dict[str, Any]]) -> None:
    assert set(operations) <= {_key(r.method, r.path) for r in ROUTES}


def test_document_is_the_generated_one(app: FastAPI, document: dict[str, Any]) -> None:
    assert document == legacy_openapi(app.state.migration.registry)
    assert document["components"]["securitySchemes"]["LegacyBearer"]["scheme"] == "bearer"
    # FastAPI's own validation error is never a legacy answer: ports answer {"msg"} (400) instead.
    assert "HTTPValidationError" not in str(document)


def test_token_errors_name_flask_jwt_extended_texts(
    operations: dict[tuple[str, str], dict[str, Any]],
) -> None:
    refresh = operations[("POST", "/api/auth/refresh")]["responses"]
    assert "Token has been revoked" in refresh["401"]["description"]
    assert "Only refresh tokens are allowed" in refresh["422"]["description"]
    me = operations[("GET", "/api/users/me")]["responses"]
    assert "Only non-refresh tokens are allowed" in me["422"]["description"]
