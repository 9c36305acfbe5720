"""Config encryption keys: rotate-keys re-encrypts every row, and a row no key opens is a clear error."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.orm import Session

from datalab.cli import main
from datalab.crypto import ConfigCipher
from datalab.settings import Settings
from fastapi_app.main import create_app
from shared_models import DataSource, Integration, User
from tests.helpers import Accounts, error_of

SECRET = "Rotate-Me-Plaintext-Secret"
CONFIG = {"host": "db.internal", "database": "sales", "username": "reporter", "password": SECRET}
UNREADABLE = {
    "msg": "The stored config cannot be decrypted with the configured keys; "
    "an operator must restore the key it was encrypted with"
}


@pytest.fixture
def cli_env(cli_env: dict[str, str]) -> dict[str, str]:
    """The CLI environment without encryption keys: each test sets its own."""
    return {name: value for name, value in cli_env.items() if name != "ENCRYPTION_KEYS"}


def add_source(session: Session, owner: User, cipher: ConfigCipher, name: str, *, active: bool = True) -> int:
    """Store a PostgreSQL source whose config is encrypted by `cipher`."""
    source = DataSource(
        owner_id=owner.id,
        name=name,
        type="postgresql",
        is_active=active,
        config_encrypted=cipher.encrypt(CONFIG),
    )
    session.add(source)
    session.commit()
    return source.id


def add_integration(session: Session, owner: User, cipher: ConfigCipher) -> int:
    """Store an integration whose config is encrypted by `cipher`."""
    integration = Integration(
        owner_id=owner.id, name="hook", provider="slack", config_encrypted=cipher.encrypt({"token": SECRET})
    )
    session.add(integration)
    session.commit()
    return integration.id


def test_rotate_keys_reencrypts_every_row_so_old_keys_can_go(
    app: FastAPI, settings: Settings, session: Session, user: User, cli_env: dict[str, str]
) -> None:
    old_key = settings.security.fernet_keys[0]
    new_key = Fernet.generate_key().decode()
    old = ConfigCipher([old_key])
    live = add_source(session, user, old, "live")
    deleted = add_source(session, user, old, "deleted", active=False)
    integration = add_integration(session, user, old)
    lost_key = ConfigCipher([Fernet.generate_key().decode()])
    lost = add_source(session, user, lost_key, "lost")
    lost_token = session.get_one(DataSource, lost).config_encrypted
    updated_at = session.get_one(DataSource, live).updated_at

    result = CliRunner().invoke(
        main, ["rotate-keys"], env={**cli_env, "DATA_ENCRYPTION_KEYS": f"{new_key},{old_key}"}
    )

    assert result.exit_code == 1, result.output
    assert "re-encrypted 2 data_source configs" in result.output
    assert "re-encrypted 1 integration configs" in result.output
    assert f"left untouched: ids {lost}" in result.output
    assert SECRET not in result.output
    session.expire_all()
    only_new = ConfigCipher([new_key])
    assert only_new.decrypt(session.get_one(DataSource, live).config_encrypted) == CONFIG
    assert only_new.decrypt(session.get_one(DataSource, deleted).config_encrypted) == CONFIG
    assert only_new.decrypt(session.get_one(Integration, integration).config_encrypted) == {"token": SECRET}
    assert session.get_one(DataSource, lost).config_encrypted == lost_token
    assert session.get_one(DataSource, live).updated_at == updated_at

    # Served with the new key alone, the rotated sources read as before.
    new_settings = settings.model_copy(update={"encryption_keys": SecretStr(new_key)})
    with TestClient(create_app(new_settings)) as client:
        response = client.get(f"/api/data-sources/{live}", headers=Accounts(app, session).headers(user))
    assert response.status_code == 200, response.text
    assert response.json()["config"]["password"] == "********"


def test_rotate_keys_exits_0_when_every_row_opens(
    settings: Settings, session: Session, user: User, cli_env: dict[str, str]
) -> None:
    add_source(session, user, ConfigCipher(settings.security.fernet_keys), "live")
    keys = ",".join([Fernet.generate_key().decode(), *settings.security.fernet_keys])
    result = CliRunner().invoke(main, ["rotate-keys"], env={**cli_env, "ENCRYPTION_KEYS": keys})
    assert result.exit_code == 0, result.output
    assert "re-encrypted 1 data_source configs" in result.output


@pytest.fixture
def lost_source(session: Session, user: User) -> int:
    """A source of `user` whose config was encrypted under a key the server does not have."""
    return add_source(session, user, ConfigCipher([Fernet.generate_key().decode()]), "lost")


def test_unreadable_config_is_a_clear_409_on_v1(
    client: TestClient, lost_source: int, user_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    url = f"/api/v1/data-sources/{lost_source}"
    answers = [
        client.get(url, headers=user_headers),
        client.patch(url, json={"config": CONFIG}, headers=user_headers),
        client.post(f"{url}/test", headers=user_headers),
        client.get(f"{url}/schema", headers=admin_headers),
        client.post(f"{url}/query", json={"query": "SELECT 1"}, headers=admin_headers),
    ]
    for answer in answers:
        error = error_of(answer, 409, "CONFIG_UNREADABLE")
        assert "decrypted" in error["message"]
    listed = client.get("/api/v1/data-sources", headers=user_headers).json()["items"]
    assert [(s["id"], s["config"]) for s in listed] == [(lost_source, None)]
    # Deleting needs no config.
    assert client.delete(url, headers=user_headers).status_code == 204


def test_unreadable_config_is_a_clear_409_on_legacy(
    client: TestClient, session: Session, lost_source: int, user_headers: dict[str, str]
) -> None:
    url = f"/api/data-sources/{lost_source}"
    answers = [
        client.get(url, headers=user_headers),
        client.put(url, json={"config": CONFIG}, headers=user_headers),
        client.post(f"{url}/test", headers=user_headers),
    ]
    for answer in answers:
        assert (answer.status_code, answer.json()) == (409, UNREADABLE)
    listed = client.get("/api/data-sources", headers=user_headers).json()["data_sources"]
    assert [(s["id"], s["config"]) for s in listed] == [(lost_source, None)]
    session.expire_all()
    assert session.get_one(DataSource, lost_source).status == "pending"


def test_rotate_keys_dry_run_counts_and_changes_nothing(
    settings: Settings, session: Session, user: User, cli_env: dict[str, str]
) -> None:
    old = ConfigCipher(settings.security.fernet_keys)
    live = add_source(session, user, old, "live")
    integration = add_integration(session, user, old)
    before = (
        session.get_one(DataSource, live).config_encrypted,
        session.get_one(Integration, integration).config_encrypted,
    )
    keys = ",".join([Fernet.generate_key().decode(), *settings.security.fernet_keys])
    result = CliRunner().invoke(main, ["rotate-keys", "--dry-run"], env={**cli_env, "ENCRYPTION_KEYS": keys})
    assert result.exit_code == 0, result.output
    assert "would re-encrypt 1 data_source configs under the first key" in result.output
    assert "would re-encrypt 1 integration configs under the first key" in result.output
    assert "dry run: nothing was changed" in result.output
    session.expire_all()
    after = (
        session.get_one(DataSource, live).config_encrypted,
        session.get_one(Integration, integration).config_encrypted,
    )
    assert after == before
