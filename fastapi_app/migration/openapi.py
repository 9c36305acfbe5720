"""The frozen /api contract as an OpenAPI document, made from the ports that serve it.

FastAPI describes the ports (paths, methods, each port's `{"msg"}` errors from its
`responses=`); this module keeps the routes the registry lists, in its order, and makes
the result say what the legacy API says: each route's success and body (`ports.contract`),
no FastAPI validation error (a port never answers one), flask-jwt-extended's token
errors, GET without its implied HEAD, and each route's deprecation and successor. A route
with no port yet is not in the document; `missing` names them.
"""

from __future__ import annotations

import copy
import re
from http import HTTPStatus
from typing import Any

from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from fastapi_app.migration.ports import PORTED, port_routes
from fastapi_app.migration.ports.contract import (
    AUTH_401,
    AUTH_422,
    BODIES,
    REFRESH,
    REFRESH_422,
    STRICT_BODIES,
    SUCCESS,
    request_body,
)
from fastapi_app.migration.registry import Registry, RouteEntry

PATH = "/api/openapi.json"
BEARER = "LegacyBearer"
_FASTAPI_ONLY = ("HTTPValidationError", "ValidationError")


def legacy_openapi(registry: Registry) -> dict[str, Any]:
    """Return the OpenAPI document of every legacy route that has a port."""
    ports = port_routes()
    listed = [_documented(ports[name]) for name in registry.routes if name in ports]
    # A copy: FastAPI's document shares dicts with the routes' declarations, and this edits it.
    spec = copy.deepcopy(
        get_openapi(
            title="Datalab legacy API",
            version="frozen",
            summary="The frozen /api contract (docs/legacy-api.md), served by Flask or its FastAPI ports.",
            description="Every route is deprecated; its `x-successor` is the /api/v1 route that replaces it.",
            routes=listed,
        )
    )
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in _FASTAPI_ONLY:
        schemas.pop(name, None)
    components["securitySchemes"] = {BEARER: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
    by_operation = {(r.path_format, m.lower()): r.name for r in listed for m in r.methods or ()}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            _describe(operation, registry.routes[by_operation[(path, method)]], schemas)
    return spec


def _describe(operation: dict[str, Any], entry: RouteEntry, schemas: dict[str, Any]) -> None:
    # FastAPI's default answers go (no port gives them); the contract's success, body and tokens come in.
    responses = {
        code: answer
        for code, answer in operation["responses"].items()
        if "HTTPValidationError" not in str(answer) and answer.get("description") != "Successful Response"
    }
    if entry.name in SUCCESS:
        status, schema = SUCCESS[entry.name]
        success = {
            "description": HTTPStatus(status).phrase,
            "content": {"application/json": {"schema": schema}},
        }
        responses = {str(status): success, **responses}
    if "422" in responses:  # only a bad token is a 422 on /api: the route takes a token
        operation["security"] = [{BEARER: []}]
        responses["401"]["description"] = f"{AUTH_401}. {responses['401']['description']}"
        responses["422"]["description"] = REFRESH_422 if entry.name in REFRESH else AUTH_422
    operation["responses"] = responses
    if entry.name in BODIES:
        body = request_body(BODIES[entry.name], strict=entry.name in STRICT_BODIES)
        schemas.update(body["content"]["application/json"]["schema"].pop("$defs", {}))
        operation["requestBody"] = body
    if entry.deprecation is not None:
        operation["deprecated"] = True
    if entry.successor is not None:
        operation["x-successor"] = entry.successor


def _documented(route: APIRoute) -> APIRoute:
    # GET implies HEAD, as in Flask's URL map and the contract; an id from the route's name.
    shown = copy.copy(route)
    shown.methods = {method for method in route.methods or () if method != "HEAD"}
    shown.operation_id = re.sub(r"\W+", "_", route.name).strip("_").lower()
    return shown


def missing(registry: Registry) -> list[str]:
    """Return the registry's routes the document cannot describe yet (no port)."""
    return [name for name in registry.routes if name not in PORTED]
