"""Listed configs come from a bounded cache of masked forms: right after changes, never the plaintext."""

from __future__ import annotations

from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from datalab.crypto import ConfigCipher
from datalab.masking import MASK

SECRET = "Cache-Must-Not-Hold-This"
CONFIG = {"host": "db.internal", "port": 5432, "database": "sales", "username": "r", "password": SECRET}


def _cipher(size: int = 8) -> ConfigCipher:
    return ConfigCipher([Fernet.generate_key().decode()], masked_cache_size=size)


def test_a_listed_config_is_decrypted_once_then_served_from_the_cache() -> None:
    cipher = _cipher()
    token = cipher.encrypt(CONFIG)
    first = cipher.masked(token)
    assert first == {**CONFIG, "password": MASK}
    assert cipher.masked(token) is first  # the same masked object: no second decryption


def test_the_cache_holds_masked_forms_only() -> None:
    cipher = _cipher()
    cipher.masked(cipher.encrypt(CONFIG))
    assert SECRET not in repr(vars(cipher._masked))


def test_the_cache_is_bounded() -> None:
    cipher = _cipher(size=2)
    tokens = [cipher.encrypt({**CONFIG, "database": f"db{n}"}) for n in range(3)]
    for token in tokens:
        cipher.masked(token)
    assert len(cipher._masked._entries) == 2
    assert cipher.masked(tokens[0]) == {**CONFIG, "database": "db0", "password": MASK}


def test_a_config_no_key_opens_stays_null_and_other_keys_start_empty() -> None:
    lost = _cipher().encrypt(CONFIG)
    cipher = _cipher()
    assert cipher.masked(lost) is None
    assert cipher.masked(lost) is None


def test_list_shows_a_changed_config_at_once(client: TestClient, user_headers: dict[str, str]) -> None:
    body = {"name": "s", "type": "postgresql", "config": CONFIG}
    created = client.post("/api/v1/data-sources", json=body, headers=user_headers)
    assert created.status_code == 201, created.text
    source_id = created.json()["id"]
    for path in ("/api/v1/data-sources", "/api/data-sources"):
        assert client.get(path, headers=user_headers).status_code == 200
    changed = client.patch(
        f"/api/v1/data-sources/{source_id}",
        # Another user name at the same destination: the mask keeps the stored password.
        json={"config": {**CONFIG, "password": MASK, "username": "finance"}},
        headers=user_headers,
    )
    assert changed.status_code == 200, changed.text
    v1 = client.get("/api/v1/data-sources", headers=user_headers).json()["items"][0]["config"]
    legacy = client.get("/api/data-sources", headers=user_headers).json()["data_sources"][0]["config"]
    assert v1 == legacy == {**CONFIG, "username": "finance", "password": MASK}
