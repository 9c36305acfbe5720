"""What the legacy contract's routes answer on success and read, by route name, for the OpenAPI document.

Each port declares its `{"msg"}` errors on its decorator (`ports.common.legacy_responses`);
what a port reads is parsed from the raw body after the token check (as Flask does), so
FastAPI cannot see it, and a port returns a ready `Response`: both are written here, once
per route, and `fastapi_app.migration.openapi` puts them in the document. The shapes and
texts are docs/legacy-api.md's.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from datalab.inputs import IntegrationCreate, LoginIn, ProfileUpdate, RegisterIn, RoleChange
from datalab.legacy_input import LegacyDataSourceCreate, LegacyDataSourceUpdate

SCHEMAS_REF = "#/components/schemas/{model}"
# flask-jwt-extended's texts, for a route that takes a token.
AUTH_401 = "Missing Authorization Header; Token has expired; Token has been revoked"
AUTH_422 = "Signature verification failed (or another bad token); Only non-refresh tokens are allowed"
REFRESH_422 = "Signature verification failed (or another bad token); Only refresh tokens are allowed"


def object_schema(*keys: str, **typed: dict[str, Any]) -> dict[str, Any]:
    """Return the schema of a JSON object that always has `keys` (any value) and the `typed` ones."""
    properties: dict[str, Any] = {key: {} for key in keys} | typed
    return {"type": "object", "required": list(properties), "properties": properties}


USER = object_schema(
    "first_name",
    "last_name",
    "department",
    "organization",
    "last_login",
    "created_at",
    id={"type": "integer"},
    email={"type": "string"},
    role={"type": "string", "enum": ["admin", "analyst", "user", "viewer"]},
    is_active={"type": "boolean"},
    timezone={"type": "string"},
    language={"type": "string"},
)
DATA_SOURCE = object_schema(
    "description",
    "config",
    "last_test",
    "last_used",
    "error_message",
    "created_at",
    "updated_at",
    id={"type": "integer"},
    owner_id={"type": "integer"},
    name={"type": "string"},
    type={"type": "string"},
    status={"type": "string"},
    tags={"type": "array", "items": {"type": "string"}},
    is_active={"type": "boolean"},
    usage_count={"type": "integer"},
)


INTEGRATION = object_schema(
    "config",
    "created_at",
    id={"type": "integer"},
    owner_id={"type": "integer"},
    name={"type": "string"},
    provider={"type": "string"},
    is_active={"type": "boolean"},
)
AUDIT_ENTRY = object_schema(
    "user_id",
    "action",
    "resource_type",
    "resource_id",
    "details",
    "ip_address",
    "request_id",
    "created_at",
    id={"type": "integer"},
)
MESSAGE = object_schema(msg={"type": "string"})


def page_of(key: str, item: dict[str, Any]) -> dict[str, Any]:
    """Return the schema of a list answer: `key` holds the items, with total, page and per_page."""
    counts = {name: {"type": "integer"} for name in ("total", "page", "per_page")}
    return object_schema(**{key: {"type": "array", "items": item}}, **counts)


# Each route's success: its status and body.
SUCCESS: dict[str, tuple[int, dict[str, Any]]] = {
    "GET /api/health": (200, object_schema(status={"type": "string"}, service={"type": "string"})),
    "POST /api/auth/register": (201, USER),
    "POST /api/auth/login": (
        200,
        object_schema(access_token={"type": "string"}, refresh_token={"type": "string"}, user=USER),
    ),
    "POST /api/auth/refresh": (200, object_schema(access_token={"type": "string"})),
    "POST /api/auth/logout": (200, MESSAGE),
    "GET /api/users/me": (200, USER),
    "PUT /api/users/me": (200, USER),
    "GET /api/users": (200, page_of("users", USER)),
    "PUT /api/users/<id>/role": (200, USER),
    "GET /api/data-sources": (200, page_of("data_sources", DATA_SOURCE)),
    "POST /api/data-sources": (201, DATA_SOURCE),
    "GET /api/data-sources/<id>": (200, DATA_SOURCE),
    "PUT /api/data-sources/<id>": (200, DATA_SOURCE),
    "DELETE /api/data-sources/<id>": (200, MESSAGE),
    "POST /api/data-sources/<id>/test": (
        200,
        object_schema("latency_ms", success={"type": "boolean"}, message={"type": "string"}),
    ),
    "GET /api/integrations": (200, page_of("integrations", INTEGRATION)),
    "POST /api/integrations": (201, INTEGRATION),
    "DELETE /api/integrations/<id>": (200, MESSAGE),
    "GET /api/audit-logs": (200, page_of("audit_logs", AUDIT_ENTRY)),
}
# The JSON body each route reads, by the model that parses it.
BODIES: dict[str, type[BaseModel]] = {
    "POST /api/auth/register": RegisterIn,
    "POST /api/auth/login": LoginIn,
    "PUT /api/users/me": ProfileUpdate,
    "PUT /api/users/<id>/role": RoleChange,
    "POST /api/data-sources": LegacyDataSourceCreate,
    "PUT /api/data-sources/<id>": LegacyDataSourceUpdate,
    "POST /api/integrations": IntegrationCreate,
}
# The one body whose unknown keys are refused (400); every other route ignores them, as Flask does.
STRICT_BODIES = frozenset({"PUT /api/users/me"})
# Routes that take a refresh token rather than an access token.
REFRESH = frozenset({"POST /api/auth/refresh"})


def request_body(model: type[BaseModel], *, strict: bool) -> dict[str, Any]:
    """Return the OpenAPI request body of JSON parsed by `model` (its `$defs` still inside).

    Unless `strict`, other keys are allowed: the route ignores them.
    """
    schema = model.model_json_schema(ref_template=SCHEMAS_REF)
    if not strict:
        for variant in [schema, *schema.get("oneOf", [])]:
            variant.pop("additionalProperties", None)
    return {"required": True, "content": {"application/json": {"schema": schema}}}
