"""The legacy contract's answers as OpenAPI, for each port's `responses=` and `openapi_extra=`.

A port declares what it answers (`legacy_responses(...)`) and what it reads
(`legacy_body(Model)`); `fastapi_app.migration.openapi` turns the ports app's own
OpenAPI into the document of the frozen /api, so the description comes from the code
that serves it. The texts are docs/legacy-api.md's.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Literal

from pydantic import BaseModel, Field

TokenKind = Literal["access", "refresh"]
SCHEMAS_REF = "#/components/schemas/{model}"
# flask-jwt-extended's texts and codes, for a route that takes a token.
AUTH_401 = "Missing Authorization Header; Token has expired; Token has been revoked"
AUTH_422 = {
    "access": "Signature verification failed (or another bad token); Only non-refresh tokens are allowed",
    "refresh": "Signature verification failed (or another bad token); Only refresh tokens are allowed",
}
BODY_400 = 'Request body must be a JSON object, or a field is invalid (`msg` names it: "email: ...")'
BODY_413 = "Request body too large"


class LegacyMessage(BaseModel):
    """Every legacy error answer, and a few successes: one human-readable message."""

    msg: str = Field(description="What happened, e.g. `Token has expired` or `Data source not found`")


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


def page_of(key: str, item: dict[str, Any]) -> dict[str, Any]:
    """Return the schema of a list answer: `key` holds the items, with total, page and per_page."""
    counts = {name: {"type": "integer"} for name in ("total", "page", "per_page")}
    return object_schema(**{key: {"type": "array", "items": item}}, **counts)


def legacy_responses(
    success: int,
    schema: dict[str, Any] | type[BaseModel],
    *errors: int,
    needs: TokenKind | None = None,
    body: bool = False,
) -> dict[int | str, dict[str, Any]]:
    """Describe a legacy route's answers: its success, its `{"msg"}` errors, token and body errors."""
    content = {"model": schema} if isinstance(schema, type) else {"content": _json(schema)}
    described: dict[int, str] = {code: HTTPStatus(code).phrase for code in errors}
    if body:
        described[400] = BODY_400 if 400 not in errors else f"{described[400]}: {BODY_400}"
        described[413] = BODY_413
    if needs is not None:  # the kind of token the route needs
        described[401] = AUTH_401 + (f"; {described[401]}" if 401 in errors else "")
        described[422] = AUTH_422[needs]
    answers: dict[int | str, dict[str, Any]] = {
        success: {"description": HTTPStatus(success).phrase, **content}
    }
    for code in sorted(described):
        answers[code] = {"description": described[code], "model": LegacyMessage}
    return answers


def legacy_body(model: type[BaseModel]) -> dict[str, Any]:
    """Return the `openapi_extra` declaring the JSON body a port parses itself (after its token check)."""
    schema = model.model_json_schema(ref_template=SCHEMAS_REF)
    return {"requestBody": {"required": True, "content": _json(schema)}}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}
