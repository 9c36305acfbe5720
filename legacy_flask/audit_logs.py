"""The audit log under /api/audit-logs (admin)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from datalab.errors import InvalidInput
from datalab.services import audit_logs
from datalab.services.pages import MAX_ID
from legacy_flask.requests import db_session, int_arg, page_request, require_role, token_required
from legacy_flask.serializers import audit_json, page_json
from shared_models import Role

bp = Blueprint("audit_logs", __name__, url_prefix="/api/audit-logs")


@bp.get("")
@token_required()
def list_entries() -> Response:
    """List audit entries newest first, optionally for one `user_id` or `action`."""
    require_role(Role.ADMIN)
    action = request.args.get("action")
    if action is not None and (len(action) > 64 or "\x00" in action):
        raise InvalidInput("action", "must be at most 64 characters")
    page = audit_logs.list_entries(
        db_session(), page_request(), user_id=int_arg("user_id", None, high=MAX_ID), action=action
    )
    return jsonify(page_json("audit_logs", page, audit_json))
