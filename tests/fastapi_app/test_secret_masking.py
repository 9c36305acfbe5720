"""No answer of either API shows a secret: a corpus of 70 secret names and shapes, every answer read."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy.orm import Session

from shared_models import DataSource, Integration
from tests.secret_shapes import BASE_URL_SHAPES, CORPUS, HEADER_SHAPES, chunks

V1, LEGACY = "/api/v1", "/api"


def _created(response: Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _integration_answers(client: TestClient, headers: dict[str, str]) -> list[Response]:
    answers = []
    for n, config in enumerate(chunks(CORPUS)):
        for prefix in (V1, LEGACY):
            body = {"name": f"{prefix}-{n}", "provider": "webhook", "config": config}
            created = client.post(f"{prefix}/integrations", json=body, headers=headers)
            _created(created)
            answers.append(created)
            if prefix == V1:
                answers.append(client.get(f"{V1}/integrations/{created.json()['id']}", headers=headers))
    answers += [
        client.get(f"{V1}/integrations", headers=headers),
        client.get(f"{LEGACY}/integrations", headers=headers),
    ]
    return answers


def _source_configs() -> list[dict[str, Any]]:
    configs: list[dict[str, Any]] = [
        {"base_url": "https://api.example.com", "headers": headers} for headers in chunks(HEADER_SHAPES)
    ]
    configs += [{"base_url": shape.value} for shape in BASE_URL_SHAPES]
    configs.append({"host": "db.example.com", "database": "d", "username": "u", "password": CORPUS[0].value})
    return configs


def _source_answers(client: TestClient, headers: dict[str, str]) -> list[Response]:
    answers = []
    for n, config in enumerate(_source_configs()):
        for prefix in (V1, LEGACY):
            kind = "postgresql" if "host" in config else "rest_api"
            body = {"name": f"{prefix}-{n}", "type": kind, "config": config}
            created = client.post(f"{prefix}/data-sources", json=body, headers=headers)
            answers += [
                created,
                client.get(f"{prefix}/data-sources/{_created(created)['id']}", headers=headers),
            ]
    answers += [
        client.get(f"{V1}/data-sources", params={"limit": 100}, headers=headers),
        client.get(f"{LEGACY}/data-sources", params={"per_page": 100}, headers=headers),
    ]
    return answers


def test_no_answer_shows_any_secret_of_the_corpus(
    client: TestClient, user_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    assert len(CORPUS) >= 50
    answers = _integration_answers(client, user_headers) + _source_answers(client, user_headers)
    answers += [
        client.get(f"{V1}/audit-logs", params={"limit": 100}, headers=admin_headers),
        client.get(f"{LEGACY}/audit-logs", params={"per_page": 100}, headers=admin_headers),
    ]
    for answer in answers:
        assert answer.status_code in {200, 201}, answer.text
    text = "\n".join(answer.text for answer in answers)
    shown = [shape.key for shape in [*CORPUS, *HEADER_SHAPES] if shape.secret in text]
    assert shown == []
    assert text.count("********") >= len(CORPUS)


def test_sending_back_the_shown_config_keeps_every_secret(
    client: TestClient, app: FastAPI, session: Session, user_headers: dict[str, str]
) -> None:
    cipher = app.state.runtime.cipher
    for n, config in enumerate(chunks(CORPUS)):
        body = {"name": f"round-{n}", "provider": "webhook", "config": config}
        shown = _created(client.post(f"{V1}/integrations", json=body, headers=user_headers))
        changed = client.patch(
            f"{V1}/integrations/{shown['id']}", json={"config": shown["config"]}, headers=user_headers
        )
        assert changed.status_code == 200, changed.text
        session.expire_all()
        integration = session.get(Integration, shown["id"])
        assert integration is not None
        assert cipher.decrypt(integration.config_encrypted) == config
    for n, config in enumerate(_source_configs()):
        kind = "postgresql" if "host" in config else "rest_api"
        body = {"name": f"round-{n}", "type": kind, "config": config}
        shown = _created(client.post(f"{LEGACY}/data-sources", json=body, headers=user_headers))
        changed = client.put(
            f"{LEGACY}/data-sources/{shown['id']}", json={"config": shown["config"]}, headers=user_headers
        )
        assert changed.status_code == 200, changed.text
        session.expire_all()
        source = session.get(DataSource, shown["id"])
        assert source is not None
        assert cipher.decrypt(source.config_encrypted) == config
