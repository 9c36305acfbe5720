"""Sign-up, sign-in, refresh and sign-out under /api/auth."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from datalab.inputs import LoginIn, RegisterIn, parse_input
from datalab.services import sessions, users
from legacy_flask.errors import error_response
from legacy_flask.extensions import db
from legacy_flask.requests import current_session, current_user, json_body, runtime, token_required
from legacy_flask.serializers import user_json

bp = Blueprint("auth", __name__, url_prefix="/api/auth")
BAD_CREDENTIALS = "Bad email or password"


@bp.post("/register")
def register() -> tuple[Response, int]:
    """Create an account with the `user` role."""
    data = parse_input(RegisterIn, json_body(), ignore_unknown=True)
    user = users.register(db.session, runtime().passwords, **data.model_dump())
    db.session.commit()
    return jsonify(user_json(user)), 201


@bp.post("/login")
def login() -> tuple[Response, int]:
    """Exchange email and password for an access and a refresh token."""
    data = parse_input(LoginIn, json_body(), ignore_unknown=True)
    user = sessions.authenticate(db.session, runtime().passwords, data.email, data.password)
    if user is None:
        db.session.commit()  # keep the user.login_failed entry
        return error_response(BAD_CREDENTIALS, 401)
    pair = sessions.sign_in(
        db.session, runtime().settings, user, user_agent=request.headers.get("User-Agent")
    )
    db.session.commit()
    body = {"access_token": pair.access.token, "refresh_token": pair.refresh.token, "user": user_json(user)}
    return jsonify(body), 200


@bp.post("/refresh")
@token_required("refresh")
def refresh() -> tuple[Response, int]:
    """Mint a new access token from a refresh token."""
    outcome = sessions.resolve_refresh(db.session, g.claims)
    db.session.commit()
    if outcome.error is not None:
        raise outcome.error
    assert outcome.user is not None and outcome.auth_session is not None
    access = sessions.issue_access(runtime().settings, outcome.user, outcome.auth_session)
    return jsonify(access_token=access.token), 200


@bp.post("/logout")
@token_required()
def logout() -> tuple[Response, int]:
    """Revoke the presented access token and end its login session."""
    sessions.sign_out(db.session, current_user(), current_session(), g.claims)
    db.session.commit()
    return jsonify(msg="Successfully logged out"), 200
