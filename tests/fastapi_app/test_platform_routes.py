"""The platform's route table on v1: PUT data source, bearer refresh, /auth/me, avatar and preferences."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from datalab.fields import MAX_PREFERENCES_BYTES
from shared_models import User
from tests.helpers import PASSWORD, PROFILE_KEYS, USER_KEYS, bearer, error_of, valid_config

URL = "/api/v1/data-sources"
PROFILE = "/api/v1/auth/profile"
REFRESH = "/api/v1/auth/refresh"
SECRET = "stored-secret-1"  # noqa: S105 - a test value
FULL = {
    "name": "Sales replica",
    "type": "postgresql",
    "config": valid_config("postgresql", "********"),
    "description": None,
    "tags": ["sales"],
}


def _source(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    body = {
        "name": "Sales",
        "type": "postgresql",
        "config": valid_config("postgresql", SECRET),
        "description": "x",
    }
    response = client.post(URL, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_put_replaces_every_field_and_keeps_a_masked_secret(
    client: TestClient, user_headers: dict[str, str], session: Session
) -> None:
    source = _source(client, user_headers)
    response = client.put(f"{URL}/{source['id']}", json=FULL, headers=user_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["description"], body["tags"]) == ("Sales replica", None, ["sales"])
    assert body["config"]["password"] == "********"  # noqa: S105
    # PATCH still changes only what it is sent.
    patched = client.patch(f"{URL}/{source['id']}", json={"tags": []}, headers=user_headers)
    assert (patched.status_code, patched.json()["name"]) == (200, "Sales replica")


@pytest.mark.parametrize("missing", ["name", "type", "config", "description", "tags"])
def test_put_needs_every_updatable_field(
    client: TestClient, user_headers: dict[str, str], missing: str
) -> None:
    source = _source(client, user_headers)
    body = {key: value for key, value in FULL.items() if key != missing}
    error = error_of(
        client.put(f"{URL}/{source['id']}", json=body, headers=user_headers), 422, "VALIDATION_FAILED"
    )
    assert any(detail["field"].endswith(missing) for detail in error["details"]), error


def _tokens(client: TestClient, user: User) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    return response.json()  # type: ignore[no-any-return]


def test_refresh_token_as_a_bearer_header(client: TestClient, user: User) -> None:
    tokens = _tokens(client, user)
    response = client.post(REFRESH, headers=bearer(tokens["refresh_token"]))
    assert response.status_code == 200, response.text
    assert client.get(PROFILE, headers=bearer(response.json()["access_token"])).status_code == 200
    # Both ways at once: the same token is fine.
    again = response.json()["refresh_token"]
    both = client.post(REFRESH, json={"refresh_token": again}, headers=bearer(again))
    assert both.status_code == 200, both.text


def test_refresh_token_in_header_and_body_must_match(client: TestClient, user: User) -> None:
    first, second = _tokens(client, user), _tokens(client, user)
    response = client.post(
        REFRESH, json={"refresh_token": first["refresh_token"]}, headers=bearer(second["refresh_token"])
    )
    error_of(response, 401, "TOKEN_MISMATCH")
    # Neither token was used up by the refused call.
    assert client.post(REFRESH, json={"refresh_token": first["refresh_token"]}).status_code == 200


def test_refresh_without_any_token_401(client: TestClient) -> None:
    error = error_of(client.post(REFRESH), 401, "TOKEN_MISSING")
    assert "Authorization: Bearer" in error["message"]


def test_me_is_the_profile(client: TestClient, user_headers: dict[str, str]) -> None:
    me = client.get("/api/v1/auth/me", headers=user_headers)
    assert me.status_code == 200
    assert me.json() == client.get(PROFILE, headers=user_headers).json()
    assert set(me.json()) == PROFILE_KEYS
    error_of(client.get("/api/v1/auth/me"), 401, "TOKEN_MISSING")


def test_avatar_and_preferences_are_kept_and_not_in_the_legacy_user(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    assert client.get(PROFILE, headers=user_headers).json()["preferences"] == {}
    changes = {
        "avatar_url": "https://cdn.example.com/a/b.png?s=64",
        "preferences": {"theme": "dark", "n": [1]},
    }
    response = client.put(PROFILE, json=changes, headers=user_headers)
    assert response.status_code == 200, response.text
    assert {key: response.json()[key] for key in changes} == changes
    assert {key: client.get(PROFILE, headers=user_headers).json()[key] for key in changes} == changes
    legacy = client.get("/api/users/me", headers=user_headers)
    assert set(legacy.json()) == USER_KEYS  # the frozen contract: no new keys
    refused = client.put("/api/users/me", json={"avatar_url": changes["avatar_url"]}, headers=user_headers)
    assert refused.status_code == 400


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"avatar_url": "http://example.com/a.png"}, "avatar_url"),
        ({"avatar_url": "javascript:alert(1)"}, "avatar_url"),
        ({"avatar_url": "https://example.com/" + "a" * 2048}, "avatar_url"),
        ({"preferences": {"blob": ["x" * 4000] * (MAX_PREFERENCES_BYTES // 4000 + 1)}}, "preferences"),
        ({"preferences": [1]}, "preferences"),
        ({"preferences": None}, "preferences"),
    ],
)
def test_bad_avatar_or_preferences_422(
    client: TestClient, user_headers: dict[str, str], changes: dict[str, Any], field: str
) -> None:
    error = error_of(client.put(PROFILE, json=changes, headers=user_headers), 422, "VALIDATION_FAILED")
    assert error["details"][0]["field"] == f"body.{field}"


def test_new_routes_are_documented(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "put" in paths["/api/v1/data-sources/{source_id}"]
    assert "patch" in paths["/api/v1/data-sources/{source_id}"]
    assert "get" in paths["/api/v1/auth/me"]
    refresh = paths["/api/v1/auth/refresh"]["post"]
    assert refresh["security"] == [{}, {"HTTPBearer": []}]
    assert refresh["requestBody"].get("required") is not True
    profile = client.get("/api/v1/openapi.json").json()["components"]["schemas"]["ProfileChange"]
    assert profile["properties"]["avatar_url"]["anyOf"][0]["pattern"].startswith("^https://")


def test_refresh_mismatch_with_non_ascii_body_is_401_not_500(client: TestClient, user: User) -> None:
    tokens = _tokens(client, user)
    body = json.dumps({"refresh_token": "é-not-a-token"})
    headers = {**bearer(tokens["refresh_token"]), "Content-Type": "application/json"}
    error_of(client.post(REFRESH, content=body, headers=headers), 401, "TOKEN_MISMATCH")
