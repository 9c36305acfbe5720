"""The frozen /api contract as an OpenAPI document, made from the ports that serve it.

FastAPI describes the ports app (paths, methods, each port's declared `responses=` and
body, see `ports.contract`); this module keeps the routes the registry lists, in its
order, and makes the result say what the legacy API says: `{"msg"}` errors only (no
FastAPI validation error: a port never answers one), bearer tokens, GET without its
implied HEAD, and each route's deprecation and successor from the registry. A route
with no port yet is not in the document; `missing` names them.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from fastapi_app.migration.ports import PORTED, port_routes
from fastapi_app.migration.ports.contract import AUTH_401
from fastapi_app.migration.registry import Registry

PATH = "/api/openapi.json"
BEARER = "LegacyBearer"
_FASTAPI_ONLY = ("HTTPValidationError", "ValidationError")


def legacy_openapi(registry: Registry) -> dict[str, Any]:
    """Return the OpenAPI document of every legacy route that has a port."""
    ports = port_routes()
    listed = [_documented(ports[name]) for name in registry.routes if name in ports]
    # A copy: the ports' `openapi_extra` dicts end up inside FastAPI's document, and this edits it.
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
    by_operation = {
        (r.path_format, m.lower()): registry.routes[r.name] for r in listed for m in r.methods or ()
    }
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            entry = by_operation[(path, method)]
            operation["responses"] = {
                code: answer
                for code, answer in operation["responses"].items()
                if "HTTPValidationError" not in str(answer)
            }
            if AUTH_401 in operation["responses"].get("401", {}).get("description", ""):
                operation["security"] = [{BEARER: []}]
            if entry.deprecation is not None:
                operation["deprecated"] = True
            if entry.successor is not None:
                operation["x-successor"] = entry.successor
            _hoist_definitions(operation, schemas)
    return spec


def _documented(route: APIRoute) -> APIRoute:
    # GET implies HEAD, as in Flask's URL map and the contract; an id from the route's name.
    shown = copy.copy(route)
    shown.methods = {method for method in route.methods or () if method != "HEAD"}
    shown.operation_id = re.sub(r"\W+", "_", route.name).strip("_").lower()
    return shown


def missing(registry: Registry) -> list[str]:
    """Return the registry's routes the document cannot describe yet (no port)."""
    return [name for name in registry.routes if name not in PORTED]


def _hoist_definitions(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    # A body's schema comes from pydantic with its own `$defs`; its refs point at the components.
    for media in operation.get("requestBody", {}).get("content", {}).values():
        schemas.update(media.get("schema", {}).pop("$defs", {}))
