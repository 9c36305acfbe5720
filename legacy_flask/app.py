"""The Flask application factory."""

from __future__ import annotations

import re

from flask import Flask, request
from sqlalchemy import Engine

from datalab.context import current_route
from datalab.db import make_engine
from datalab.runtime import Runtime, build_runtime
from datalab.settings import Settings
from legacy_flask import audit_logs, auth, data_sources, errors, health, integrations, users
from legacy_flask.extensions import ENGINE_KEY, db


def create_app(settings: Settings, runtime: Runtime | None = None, engine: Engine | None = None) -> Flask:
    """Build the legacy app on `engine` (built when omitted); Flask never reads the environment."""
    app = Flask(__name__)
    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI=settings.database.database_url,
        MAX_CONTENT_LENGTH=settings.edges.max_body_bytes,
        PROPAGATE_EXCEPTIONS=False,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["datalab"] = runtime or build_runtime(settings)
    # The combined app passes its own engine, so a worker holds one sync pool, not two.
    app.extensions[ENGINE_KEY] = engine or make_engine(settings)
    db.init_app(app)
    errors.init_app(app)
    app.before_request(_name_route)
    for blueprint in (
        health.bp,
        auth.bp,
        users.bp,
        data_sources.bp,
        integrations.bp,
        audit_logs.bp,
    ):
        app.register_blueprint(blueprint)
    return app


_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def legacy_route_path(rule: str) -> str:
    """Spell a Werkzeug rule as the contract does: `/api/x/<int:id>` becomes `/api/x/<id>`."""
    return _CONVERTER.sub(r"<\1>", rule)


def _name_route() -> None:
    # Runs before routing errors are raised, so 404s and 405s are named "legacy_flask" too.
    info = current_route()
    if info is None:
        return
    info.served_by = "legacy_flask"
    if request.url_rule is not None:
        info.template = legacy_route_path(request.url_rule.rule)
