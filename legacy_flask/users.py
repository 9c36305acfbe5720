"""The caller's profile and, for admins, user management under /api/users."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from datalab.inputs import ProfileUpdate, RoleChange, parse_input
from datalab.services import users
from legacy_flask.requests import (
    current_user,
    db_session,
    json_body,
    page_request,
    require_role,
    token_required,
)
from legacy_flask.serializers import page_json, user_json
from shared_models import Role

bp = Blueprint("users", __name__, url_prefix="/api/users")


@bp.get("/me")
@token_required()
def read_me() -> Response:
    """Return the caller's profile."""
    return jsonify(user_json(current_user()))


@bp.put("/me")
@token_required()
def update_me() -> Response:
    """Change the caller's own profile fields; any other key is refused."""
    data = parse_input(ProfileUpdate, json_body())
    user = users.update_profile(db_session(), current_user(), data.model_dump(exclude_unset=True))
    db_session().commit()
    return jsonify(user_json(user))


@bp.get("")
@token_required()
def list_users() -> Response:
    """List every user (admin)."""
    require_role(Role.ADMIN)
    page = users.list_users(db_session(), page_request())
    return jsonify(page_json("users", page, user_json))


@bp.put("/<int:user_id>/role")
@token_required()
def change_role(user_id: int) -> Response:
    """Give a user another role (admin); their tokens stop working."""
    actor = require_role(Role.ADMIN)
    data = parse_input(RoleChange, json_body(), ignore_unknown=True)
    user = users.change_role(db_session(), actor=actor, user_id=user_id, role=data.role)
    db_session().commit()
    return jsonify(user_json(user))
