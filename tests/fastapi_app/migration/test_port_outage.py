"""A database that does not answer is the same 503 from a FastAPI port as from the Flask view it replaces."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from datalab import tokens
from datalab.settings import Settings
from tests.edge_apps import edge_app, free_port

LIST = "GET /api/data-sources"


@pytest.mark.parametrize("state", ["legacy", "migrated"])
def test_list_with_database_down_is_the_legacy_503(settings: Settings, state: str) -> None:
    nowhere = f"postgresql+psycopg2://postgres@127.0.0.1:{free_port()}/datalab_down_test"
    token = tokens.issue_token(settings, user_id=1, kind="access", session_id="gone").token
    with edge_app(settings, database_url=nowhere, route_states=json.dumps({LIST: state})) as app:
        response = TestClient(app).get("/api/data-sources", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503
    assert response.content == b'{"msg":"Service unavailable: the database does not answer"}\n'
    assert response.headers["retry-after"] == "5"
    assert response.headers["x-served-by"] == ("fastapi" if state == "migrated" else "legacy_flask")
