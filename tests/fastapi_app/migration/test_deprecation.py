"""Deprecation (RFC 9745), Sunset (RFC 8594) and successor Link headers on legacy routes with a successor."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fastapi_app.migration.registry import DEFAULT_FILE
from tests.fastapi_app.migration.conftest import Build
from tests.helpers import Accounts

DEPRECATED_AT = "@1795305600"  # 2026-11-22T00:00:00Z


def test_legacy_route_names_its_successor(client: TestClient, user_headers: dict[str, str]) -> None:
    response = client.get("/api/users/me", headers=user_headers)

    assert response.headers["Deprecation"] == DEPRECATED_AT
    assert response.headers["Link"] == '</api/v1/auth/profile>; rel="successor-version"'
    assert "Sunset" not in response.headers


def test_successor_link_carries_the_id(client: TestClient, user_headers: dict[str, str]) -> None:
    response = client.get("/api/data-sources/7", headers=user_headers)

    assert response.status_code == 404
    assert response.headers["Link"] == '</api/v1/data-sources/7>; rel="successor-version"'


@pytest.mark.parametrize("state", ["legacy", "migrated"])
def test_sunset_is_sent_by_either_implementation(
    build: Build, accounts: Accounts, tmp_path: Path, state: str
) -> None:
    text = DEFAULT_FILE.read_text().replace(
        'successor = "/api/v1/auth/profile"\ndeprecation = 2026-11-22T00:00:00Z\n\n[routes."PUT',
        'successor = "/api/v1/auth/profile"\ndeprecation = 2026-11-22T00:00:00Z\n'
        'sunset = 2027-06-30T23:59:59+02:00\n\n[routes."PUT',
    )
    assert "sunset = 2027" in text
    (tmp_path / "routes.toml").write_text(text)
    _, client = build(routes_file=tmp_path / "routes.toml", route_states={"GET /api/users/me": state})

    response = client.get("/api/users/me", headers=accounts.headers(accounts.create("sun@example.com")))

    assert response.headers["X-Served-By"] == ("fastapi" if state == "migrated" else "legacy_flask")
    assert response.headers["Deprecation"] == DEPRECATED_AT
    assert response.headers["Sunset"] == "Wed, 30 Jun 2027 21:59:59 GMT"
    assert response.headers["Link"] == '</api/v1/auth/profile>; rel="successor-version"'


def test_v1_and_unknown_paths_carry_no_deprecation(client: TestClient, user_headers: dict[str, str]) -> None:
    assert "Deprecation" not in client.get("/api/v1/auth/profile", headers=user_headers).headers
    assert "Deprecation" not in client.get("/api/nothing-here").headers


def test_route_without_successor_is_not_deprecated(build: Build, tmp_path: Path, accounts: Accounts) -> None:
    text = DEFAULT_FILE.read_text().replace('successor = "/api/v1/health"\n', "")
    (tmp_path / "routes.toml").write_text(text)
    _, client = build(routes_file=tmp_path / "routes.toml")

    response = client.get("/api/health")

    assert response.status_code == 200
    assert "Deprecation" not in response.headers
    assert "Link" not in response.headers
