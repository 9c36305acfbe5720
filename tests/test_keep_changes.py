"""A domain error rolls its request's writes back, unless it says `keep_changes`: on both halves alike.

Each half gets a small app of its own on the test database with one route that writes an
audit entry and then raises, so the rule is checked where it lives (FastAPI's session
dependency, Flask's domain-error handler), apart from any particular route.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from flask import Flask
from sqlalchemy.orm import Session

from datalab import audit
from datalab.errors import DomainError
from fastapi_app import errors
from fastapi_app.database import AsyncDatabase
from fastapi_app.dependencies import SessionDep
from legacy_flask.app import create_app as create_flask_app
from legacy_flask.requests import db_session
from tests.helpers import audit_entries

ACTION = "test.refused"


def _refusal(keep: bool) -> DomainError:
    return DomainError("Refused", code="REFUSED", keep_changes=keep)


@pytest.fixture(scope="module")
def fastapi_half(app: FastAPI) -> FastAPI:
    """A FastAPI app with the real session dependency and error handlers, and one refusing route."""
    half = FastAPI()
    half.state.database = AsyncDatabase(app.state.runtime.settings)
    errors.init_app(half)

    @half.post("/api/v1/refuse/{keep}")
    async def refuse(keep: bool, session: SessionDep) -> None:
        def write(db_session: Session) -> None:
            audit.record(db_session, ACTION, user_id=None)
            db_session.flush()

        await session.run_sync(write)
        raise _refusal(keep)

    return half


@pytest.fixture(scope="module")
def flask_half(app: FastAPI) -> Flask:
    """The legacy Flask app on the test database, with one refusing route."""
    half = create_flask_app(app.state.runtime.settings, app.state.runtime, app.state.engine)

    @half.post("/api/refuse/<int:keep>")
    def refuse(keep: int) -> str:
        audit.record(db_session(), ACTION, user_id=None)
        db_session().flush()
        raise _refusal(bool(keep))

    return half


@pytest.fixture
def fastapi_client(fastapi_half: FastAPI, _clean_tables: None) -> Iterator[TestClient]:
    """A client of the FastAPI half."""
    with TestClient(fastapi_half) as test_client:
        yield test_client


@pytest.mark.parametrize(("keep", "kept"), [(True, 1), (False, 0)])
def test_fastapi_session_commits_only_an_error_that_keeps_changes(
    fastapi_client: TestClient, session: Session, keep: bool, kept: int
) -> None:
    response = fastapi_client.post(f"/api/v1/refuse/{str(keep).lower()}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "REFUSED"
    assert len(audit_entries(session, ACTION)) == kept


@pytest.mark.parametrize(("keep", "kept"), [(True, 1), (False, 0)])
def test_flask_handler_commits_only_an_error_that_keeps_changes(
    flask_half: Flask, session: Session, keep: bool, kept: int
) -> None:
    response = flask_half.test_client().post(f"/api/refuse/{int(keep)}")
    assert response.status_code == 400
    assert response.get_json() == {"msg": "Refused"}
    assert len(audit_entries(session, ACTION)) == kept
