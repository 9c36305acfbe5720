"""Secret masking in configs and the "masked means unchanged" update rule."""

from __future__ import annotations

import pytest

from datalab.errors import InvalidInput
from datalab.masking import MASK, is_secret_key, mask_secrets, mask_text, merge_masked


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
        "X-Auth-Token",
        "oauth_state",
        "SESSIONID",
        "sessionToken",
        "Set-Cookie",
        "X-Hub-Signature-256",
        "passcode",
        "AWS_CREDENTIAL",
        "APIKEY",
        "AccountKey",
        "Ocp-Apim-Subscription-Key",
    ],
)
def test_secret_keys_are_recognised(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key", ["host", "port", "username", "database", "keyspace", "monkey", "passport", "author", "authority"]
)
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
    merged, kept = merge_masked(stored, {"host": "new", "password": MASK, "headers": {"token": MASK}})
    assert merged == {"host": "new", "password": "s3cret", "headers": {"token": "t0k"}}
    assert kept == [("password",), ("headers", "token")]


def test_merge_takes_a_new_secret_and_drops_keys_not_sent() -> None:
    merged, kept = merge_masked({"password": "old", "port": 5432}, {"password": "new"})
    assert (merged, kept) == ({"password": "new"}, [])


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://alice:pw1@example.com/x", f"https://alice:{MASK}@example.com/x"),
        ("redis://:pw2@cache:6379/0", f"redis://:{MASK}@cache:6379/0"),
        ("https://ghp_abc@github.com/o/r.git", f"https://{MASK}@github.com/o/r.git"),
        ("Server=h;User ID=u;Password=pw3;", f"Server=h;User ID=u;Password={MASK};"),
        ("host=h user=u password=pw4", f"host=h user=u password={MASK}"),
        (
            "https://a.blob.core.windows.net/c?sv=1&sig=pw5",
            f"https://a.blob.core.windows.net/c?sv=1&sig={MASK}",
        ),
        ("https://hooks.slack.com/services/T1/B2/pw6", MASK),
        ("https://discord.com/api/webhooks/1/pw7", MASK),
        ("https://acme.webhook.office.com/webhookb2/a@b/IncomingWebhook/pw8/c", MASK),
        ("Bearer abcdefgh12345", MASK),
        ("https://example.com/path?page=2", "https://example.com/path?page=2"),
        ("plain words, no secret", "plain words, no secret"),
    ],
)
def test_secrets_are_recognised_by_shape(text: str, shown: str) -> None:
    assert mask_text(text) == shown
    assert mask_secrets({"endpoint": text}) == {"endpoint": shown}


def test_sending_back_what_was_shown_keeps_a_shape_masked_value() -> None:
    stored = {"dsn_like": "x", "target": "postgresql://app:pw@db.example.com/prod"}
    shown = mask_secrets(stored)
    merged, kept = merge_masked(stored, shown)
    assert (merged, kept) == (stored, [("dsn_like",), ("target",)])


def test_a_shown_mask_around_a_changed_text_is_refused() -> None:
    stored = {"target": "postgresql://app:pw@db.example.com/prod"}
    with pytest.raises(InvalidInput) as error:
        merge_masked(stored, {"target": f"postgresql://app:{MASK}@evil.example.com/prod"})
    assert (error.value.field, error.value.code) == ("config.target", "SECRET_REQUIRED")
