"""The Flask application factory."""

from __future__ import annotations

from flask import Flask

from datalab.db import engine_options, watch_sqlite
from datalab.runtime import Runtime, build_runtime
from datalab.settings import Settings
from legacy_flask import audit_logs, auth, data_sources, errors, health, integrations, users
from legacy_flask.extensions import db


def create_app(settings: Settings, runtime: Runtime | None = None) -> Flask:
    """Build the legacy app from `settings`; Flask never reads the environment itself."""
    app = Flask(__name__)
    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(settings),
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        PROPAGATE_EXCEPTIONS=False,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["datalab"] = runtime or build_runtime(settings)
    db.init_app(app)
    with app.app_context():
        watch_sqlite(db.engine)
    errors.init_app(app)
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
