"""Flask extensions, created unbound and attached by the factory."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Engine

from shared_models import Base

# Where the factory leaves the engine Flask-SQLAlchemy must use instead of building its own.
ENGINE_KEY = "datalab.engine"


class SharedEngineSQLAlchemy(SQLAlchemy):
    """Flask-SQLAlchemy on the app's one sync engine: one pool per worker, not one per half."""

    def _make_engine(self, bind_key: str | None, options: dict[str, Any], app: Flask) -> Engine:
        # `_make_engine` is Flask-SQLAlchemy 3.1's private hook (pinned <3.2, tested by
        # tests/legacy_flask/test_shared_engine.py): the only way to hand it an existing engine.
        shared = app.extensions.get(ENGINE_KEY)
        if bind_key is None and isinstance(shared, Engine):
            return shared
        return super()._make_engine(bind_key, options, app)


db = SharedEngineSQLAlchemy(model_class=Base)
