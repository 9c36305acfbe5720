"""Liveness of the legacy API."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("health", __name__, url_prefix="/api")


@bp.get("/health")
def health() -> dict[str, str]:
    """Answer that the legacy API is up."""
    return {"status": "ok", "service": "legacy_flask"}
