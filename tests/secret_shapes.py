"""A corpus of secrets as users paste them into configs: by key name and by shape.

Each shape is (key, value, secret): the config key, the value stored under it, and the part
of the value no answer may ever show.
"""

from __future__ import annotations

from typing import NamedTuple


class Shape(NamedTuple):
    """One secret as it sits in a config."""

    key: str
    value: str
    secret: str


def _named(key: str, n: int) -> Shape:
    secret = f"named-secret-{n:02d}-Zq8"
    return Shape(key, secret, secret)


# Keys (and header names) that say they hold a secret, in the spellings clients use.
SECRET_NAMES = [
    "password", "db_password", "passwd", "pwd", "passphrase", "secret", "client_secret", "token",
    "access_token", "refreshToken", "api_key", "apiKey", "APIKEY", "x-api-key", "X-Auth-Token",
    "Authorization", "Proxy-Authorization", "auth", "oauth_state", "signature", "X-Hub-Signature-256",
    "session", "SESSIONID", "sessionToken", "cookie", "Set-Cookie", "passcode", "credential",
    "credentials", "AWS_SECRET_ACCESS_KEY", "private_key", "signingKey", "Ocp-Apim-Subscription-Key",
    "dsn", "AccountKey", "X-Session-Id",
]  # fmt: skip
NAMED = [_named(key, n) for n, key in enumerate(SECRET_NAMES)]

# Values that are secrets by their shape, stored under keys that say nothing.
SHAPED = [
    Shape("site", "https://alice:url-pass-01@example.com/path", "url-pass-01"),
    Shape("primary", "postgresql://app:pg-pass-02@db.example.com:5432/prod", "pg-pass-02"),
    Shape("replica", "mysql://root:my-pass-03@10.0.0.5/db", "my-pass-03"),
    Shape(
        "documents",
        "mongodb+srv://svc:mongo-pass-04@cluster0.example.net/db?retryWrites=true",
        "mongo-pass-04",
    ),
    Shape("cache", "redis://:redis-pass-05@cache.example.com:6379/0", "redis-pass-05"),
    Shape("queue", "amqp://guest:amqp-pass-06@mq.example.com/vhost", "amqp-pass-06"),
    Shape("repository", "https://ghtoken-userinfo-07@github.com/org/repo.git", "ghtoken-userinfo-07"),
    Shape(
        "mssql",
        "Server=tcp:sql.example.com,1433;Database=prod;User ID=app;Password=ado-pass-08;Encrypt=true",
        "ado-pass-08",
    ),
    Shape("odbc", "Driver={ODBC Driver 18};Server=h;Uid=u;Pwd={odbc-pass-09};", "odbc-pass-09"),
    Shape(
        "libpq", "host=db.example.com port=5432 dbname=prod user=app password=libpq-pass-10", "libpq-pass-10"
    ),
    Shape("jdbc", "jdbc:mysql://db.example.com:3306/prod?user=app&password=jdbc-pass-11", "jdbc-pass-11"),
    Shape(
        "storage",
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=azure-key-12==;EndpointSuffix=core.windows.net",
        "azure-key-12",
    ),
    Shape(
        "bus",
        "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=sb-key-13=",
        "sb-key-13",
    ),
    Shape("blob", "https://acct.blob.core.windows.net/c?sv=2022-11-02&ss=b&sig=sas-sig-14%3D", "sas-sig-14"),
    Shape(
        "presigned",
        "https://bucket.s3.amazonaws.com/o?X-Amz-Credential=cred-15a&X-Amz-Signature=s3-sig-15",
        "s3-sig-15",
    ),
    Shape("presigned_credential", "https://b.s3.amazonaws.com/o?X-Amz-Credential=cred-15b", "cred-15b"),
    Shape("slack", "https://hooks.slack.com/services/T0001/B0002/slackhook16xyz", "slackhook16xyz"),
    Shape("slack_workflow", "https://hooks.slack.com/workflows/T1/A2/3/slackflow16b", "slackflow16b"),
    Shape(
        "teams",
        "https://acme.webhook.office.com/webhookb2/aaaa-bbbb@cccc/IncomingWebhook/teamshook17/dddd",
        "teamshook17",
    ),
    Shape("discord", "https://discord.com/api/webhooks/123456/discordhook18-abc", "discordhook18-abc"),
    Shape("discord_old", "https://discordapp.com/api/webhooks/999/discordhook19", "discordhook19"),
    Shape(
        "outlook", "https://outlook.office.com/webhook/x@y/IncomingWebhook/outlookhook20/z", "outlookhook20"
    ),
    Shape("zapier", "https://hooks.zapier.com/hooks/catch/123/zapierhook21/", "zapierhook21"),
    Shape("telegram", "https://api.telegram.org/bot123456:telegramtok22/sendMessage", "telegramtok22"),
    Shape("header_value", "Bearer bearer-tok-23abcdef", "bearer-tok-23abcdef"),
    Shape("basic_header", "Basic YWxpY2U6YmFzaWMyNA==", "YWxpY2U6YmFzaWMyNA=="),
    Shape("jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.jwtsig25xyz", "eyJzdWIiOiIxIn0.jwtsig25xyz"),
    Shape("github", "ghp_githubtoken26AAAAAAAAAAAAAAAAAAAAAAA", "githubtoken26"),
    Shape("slack_bot", "xoxb-1234-5678-slackbot27token", "slackbot27token"),
    Shape("stripe", "sk_live_stripe28abcdefghij", "stripe28abcdefghij"),
    Shape("gitlab", "glpat-gitlab29abcdefghijk", "gitlab29abcdefghijk"),
    Shape("google", "AIzaSyGoogle30-abcdefghijklmnopqrstuvwxy", "Google30-abcdefghijklmnopqrstuvwxy"),
    Shape(
        "pem",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpem31secret\n-----END RSA PRIVATE KEY-----",
        "MIIEpem31secret",
    ),
    Shape("mirrors", "ftp://mirror:ftp-pass-32@ftp.example.com/pub", "ftp-pass-32"),
]

CORPUS = NAMED + SHAPED

# Shapes a REST source can hold as a header (a token name and visible ASCII), and as its base URL.
HEADER_SHAPES = [
    *NAMED,
    Shape("X-Custom", "Bearer custom-header-33abcdef", "custom-header-33abcdef"),
]
BASE_URL_SHAPES = [shape for shape in SHAPED if shape.key in {"slack", "teams", "discord", "zapier"}]


def chunks(shapes: list[Shape], size: int = 20) -> list[dict[str, str]]:
    """Return the shapes as configs of at most `size` keys each."""
    return [
        {shape.key: shape.value for shape in shapes[start : start + size]}
        for start in range(0, len(shapes), size)
    ]
