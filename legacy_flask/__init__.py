"""The legacy Flask API under /api, whose contract (`docs/legacy-api.md`) is frozen."""

from legacy_flask.app import create_app

__all__ = ["create_app"]
