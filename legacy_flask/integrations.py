"""Integrations under /api/integrations: the caller's own, or any for an admin."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from datalab.inputs import IntegrationCreate, parse_input
from datalab.services import integrations
from legacy_flask.requests import (
    current_user,
    db_session,
    json_body,
    page_request,
    require_role,
    runtime,
    token_required,
)
from legacy_flask.serializers import integration_json, page_json
from shared_models import Integration, Role

bp = Blueprint("integrations", __name__, url_prefix="/api/integrations")


def _json(integration: Integration) -> dict[str, object]:
    return integration_json(integration, runtime().cipher)


def _listed(integration: Integration) -> dict[str, object]:
    return integration_json(integration, runtime().cipher, listed=True)


@bp.get("")
@token_required()
def list_integrations() -> Response:
    """List the caller's own active integrations."""
    page = integrations.list_own(db_session(), current_user(), page_request())
    return jsonify(page_json("integrations", page, _listed))


@bp.post("")
@token_required()
def create_integration() -> tuple[Response, int]:
    """Create an integration (user and up)."""
    owner = require_role(Role.USER)
    data = parse_input(IntegrationCreate, json_body(), ignore_unknown=True)
    integration = integrations.create(db_session(), runtime().cipher, owner, data)
    db_session().commit()
    return jsonify(_json(integration)), 201


@bp.delete("/<int:integration_id>")
@token_required()
def delete_integration(integration_id: int) -> Response:
    """Soft-delete an integration (owner or admin)."""
    integration = integrations.get_owned(db_session(), current_user(), integration_id)
    actor = require_role(Role.USER)
    integrations.soft_delete(db_session(), actor, integration)
    db_session().commit()
    return jsonify(msg="Integration deleted")
