"""Data sources under /api/data-sources: the caller's own, or any for an admin."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import Row

from datalab.connectors import service as connections
from datalab.inputs import parse_input
from datalab.legacy_input import LegacyDataSourceCreate, LegacyDataSourceUpdate, source_type_filter
from datalab.services import data_sources
from legacy_flask.requests import (
    current_user,
    db_session,
    json_body,
    page_request,
    require_role,
    runtime,
    token_required,
)
from legacy_flask.serializers import data_source_json, page_json
from shared_models import DataSource, Role

bp = Blueprint("data_sources", __name__, url_prefix="/api/data-sources")


def _json(source: DataSource) -> dict[str, object]:
    return data_source_json(source, runtime().cipher)


def _listed(source: Row[Any]) -> dict[str, object]:
    return data_source_json(source, runtime().cipher, listed=True)


@bp.get("")
@token_required()
def list_sources() -> Response:
    """List the caller's own active data sources, optionally of one `type`."""
    source_type = source_type_filter(request.args.get)
    page = data_sources.list_own(db_session(), current_user(), page_request(), source_type=source_type)
    return jsonify(page_json("data_sources", page, _listed))


@bp.post("")
@token_required()
def create_source() -> tuple[Response, int]:
    """Create a data source (user and up)."""
    owner = require_role(Role.USER)
    data = parse_input(LegacyDataSourceCreate, json_body(), ignore_unknown=True)
    source = data_sources.create(db_session(), runtime().cipher, owner, data, quota=runtime().source_quota)
    db_session().commit()
    return jsonify(_json(source)), 201


@bp.get("/<int:source_id>")
@token_required()
def read_source(source_id: int) -> Response:
    """Return one data source (owner or admin)."""
    return jsonify(_json(data_sources.get_owned(db_session(), current_user(), source_id)))


@bp.put("/<int:source_id>")
@token_required()
def update_source(source_id: int) -> Response:
    """Change a data source (owner or admin); a masked secret keeps its stored value."""
    source = data_sources.get_owned(db_session(), current_user(), source_id)
    actor = require_role(Role.USER)
    data = parse_input(LegacyDataSourceUpdate, json_body(), ignore_unknown=True)
    source = data_sources.update(
        db_session(), runtime().cipher, actor, source, data, quota=runtime().source_quota
    )
    db_session().commit()
    return jsonify(_json(source))


@bp.delete("/<int:source_id>")
@token_required()
def delete_source(source_id: int) -> Response:
    """Soft-delete a data source (owner or admin)."""
    source = data_sources.get_owned(db_session(), current_user(), source_id)
    actor = require_role(Role.USER)
    data_sources.soft_delete(db_session(), actor, source)
    db_session().commit()
    return jsonify(msg="Data source deleted")


@bp.post("/<int:source_id>/test")
@token_required()
def test_source(source_id: int) -> Response:
    """Connect to a data source (owner or admin); 200 whether or not it answers, as the contract says."""
    source = data_sources.get_owned(db_session(), current_user(), source_id)
    actor = require_role(Role.USER)
    rt = runtime()
    result = connections.test_source(db_session(), rt.cipher, rt.connectors, actor, source)
    db_session().commit()
    return jsonify(success=result.success, message=result.message, latency_ms=round(result.latency_ms, 1))
