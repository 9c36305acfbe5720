"""Sign-up, sign-in, refresh and sign-out under /api/auth."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from datalab.inputs import LoginIn, RegisterIn, parse_input
from datalab.services import sessions, users
from legacy_flask.requests import (
    current_session,
    current_user,
    db_session,
    json_body,
    runtime,
    token_required,
)
from legacy_flask.serializers import user_json

bp = Blueprint("auth", __name__, url_prefix="/api/auth")


@bp.post("/register")
def register() -> tuple[Response, int]:
    """Create an account with the `user` role."""
    data = parse_input(RegisterIn, json_body(), ignore_unknown=True)
    user = users.register(db_session(), runtime().passwords, **data.model_dump())
    db_session().commit()
    return jsonify(user_json(user)), 201


@bp.post("/login")
def login() -> tuple[Response, int]:
    """Exchange email and password for an access and a refresh token."""
    data = parse_input(LoginIn, json_body(), ignore_unknown=True)
    user = sessions.authenticate(db_session(), runtime().passwords, data.email, data.password)
    pair = sessions.sign_in(
        db_session(), runtime().settings, user, user_agent=request.headers.get("User-Agent")
    )
    db_session().commit()
    body = {"access_token": pair.access.token, "refresh_token": pair.refresh.token, "user": user_json(user)}
    return jsonify(body), 200


@bp.post("/refresh")
@token_required("refresh")
def refresh() -> tuple[Response, int]:
    """Mint a new access token from a refresh token."""
    found = sessions.resolve_refresh(db_session(), g.claims)  # a reuse's error keeps the revocation
    db_session().commit()
    access = sessions.issue_access(runtime().settings, *found)
    return jsonify(access_token=access.token), 200


@bp.post("/logout")
@token_required()
def logout() -> tuple[Response, int]:
    """Revoke the presented access token and end its login session."""
    sessions.sign_out(db_session(), current_user(), current_session(), g.claims)
    db_session().commit()
    return jsonify(msg="Successfully logged out"), 200
