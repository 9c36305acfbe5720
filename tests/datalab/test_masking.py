"""Secret masking in configs and the "masked means unchanged" update rule."""

from __future__ import annotations

import pytest

from datalab.masking import MASK, is_secret_key, mask_secrets, merge_masked


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "db_password",
        "passwd",
        "secret",
        "client_secret",
        "token",
        "access_token",
        "api_key",
        "apiKey",
        "API_KEY",
        "x-api-key",
        "key",
        "private_key",
        "credentials",
        "Authorization",
    ],
)
def test_secret_keys_are_recognised(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["host", "port", "username", "database", "keyspace", "monkey", "passport"])
def test_ordinary_keys_are_not_secrets(key: str) -> None:
    assert not is_secret_key(key)


def test_mask_reaches_nested_configs_and_lists() -> None:
    config = {
        "host": "h",
        "password": "p",
        "headers": {"Authorization": "Bearer t", "Accept": "json"},
        "replicas": [{"host": "r", "api_key": "k"}],
    }
    assert mask_secrets(config) == {
        "host": "h",
        "password": MASK,
        "headers": {"Authorization": MASK, "Accept": "json"},
        "replicas": [{"host": "r", "api_key": MASK}],
    }
    assert config["password"] == "p", "masking must not change the stored config"


def test_merge_keeps_stored_secret_where_mask_is_sent_back() -> None:
    stored = {"host": "old", "password": "s3cret", "headers": {"token": "t0k"}}
    merged = merge_masked(stored, {"host": "new", "password": MASK, "headers": {"token": MASK}})
    assert merged == {"host": "new", "password": "s3cret", "headers": {"token": "t0k"}}


def test_merge_takes_a_new_secret_and_drops_keys_not_sent() -> None:
    merged = merge_masked({"password": "old", "port": 5432}, {"password": "new"})
    assert merged == {"password": "new"}
