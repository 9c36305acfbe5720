"""The audit log under /api/audit-logs (admin)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from datalab.legacy_input import audit_log_query
from datalab.services import audit_logs
from legacy_flask.requests import db_session, require_role, token_required
from legacy_flask.serializers import audit_json, page_json
from shared_models import Role

bp = Blueprint("audit_logs", __name__, url_prefix="/api/audit-logs")


@bp.get("")
@token_required()
def list_entries() -> Response:
    """List audit entries newest first, optionally for one `user_id` or `action`."""
    require_role(Role.ADMIN)
    query = audit_log_query(request.args.get)
    page = audit_logs.list_entries(db_session(), query.page, user_id=query.user_id, action=query.action)
    return jsonify(page_json("audit_logs", page, audit_json))
