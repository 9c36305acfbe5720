"""Legacy POST /api/data-sources/<id>/test on a privileged account: a failed test, like any other."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.sources import mysql_source, postgres_source, privileged_config

URL = "/api/data-sources"


@pytest.mark.parametrize("source_type", ["postgresql", "mysql"])
def test_privileged_account_is_a_failed_test_200(
    client: TestClient, user_headers: dict[str, str], source_type: str
) -> None:
    config = postgres_source() if source_type == "postgresql" else mysql_source()
    body = {
        "name": "privileged",
        "type": source_type,
        "config": privileged_config(source_type, config),
    }
    created = client.post(URL, json=body, headers=user_headers)
    assert created.status_code == 201, created.text

    response = client.post(f"{URL}/{created.json()['id']}/test", headers=user_headers)

    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"success", "message", "latency_ms"}
    assert answer["success"] is False
    assert "read-only role" in answer["message"]
