"""The settings, one model per concern; each field is read from the variable of its own name."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from limits import parse_many
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from datalab.settings.types import CommaList, JsonObject, NetworkList

# The driver each database's bare URL scheme means here: the one the project installs.
DRIVER_OF_SCHEME = {"postgresql": "postgresql+psycopg2", "postgres": "postgresql+psycopg2"}


PLACEHOLDER_MARKERS = ("change-me", "changeme", "placeholder", "secret-key", "example")
MIN_SECRET_BYTES = 32


def weakness(value: SecretStr | None, name: str) -> str | None:
    """Say why a production secret is too weak, naming its variable and never its value; None if strong."""
    text = value.get_secret_value() if value else ""
    if len(text.encode()) < MIN_SECRET_BYTES:
        return f"{name} must be set to at least {MIN_SECRET_BYTES} bytes when ENV=production"
    if any(marker in text.lower() for marker in PLACEHOLDER_MARKERS):
        return f"{name} looks like a placeholder; generate a random one"
    return None


class Group(BaseModel):
    """A part of the settings; field names are the environment variables, lower-cased."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DatabaseSettings(Group):
    """The application database."""

    # Set from ENV by Settings, not read from a variable: which rules apply to the fields below.
    production: bool = Field(False, exclude=True)
    database_url: str = Field(
        "",
        validate_default=True,
        description="SQLAlchemy URL; postgresql:// and postgres:// use psycopg2. "
        "Default in development: sqlite:///<VAR_DIR>/datalab.db.",
        examples=["postgresql+psycopg2://postgres@127.0.0.1:5432/datalab"],
    )
    db_pool_size: int = Field(10, ge=1, le=200, description="Connections each pool keeps (PostgreSQL).")
    db_max_overflow: int = Field(10, ge=0, le=200, description="Connections a pool may open beyond its size.")
    db_application_name: str = Field(
        "datalab",
        max_length=63,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="PostgreSQL application_name of every pooled connection (pg_stat_activity).",
    )
    db_async_pool_size: int = Field(
        10, ge=1, le=200, description="Connections the async engine (FastAPI's routes) keeps per worker."
    )
    db_async_max_overflow: int = Field(
        10, ge=0, le=200, description="Connections the async engine may open beyond its pool under load."
    )

    @field_validator("database_url")
    @classmethod
    def _installed_driver(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            if info.data.get("production"):
                raise ValueError("DATABASE_URL must be set when ENV=production")
            return value  # filled in for development by Settings
        scheme, separator, rest = value.partition("://")
        if not separator:
            raise ValueError("must be a URL such as postgresql://user@host/db")
        return f"{DRIVER_OF_SCHEME.get(scheme, scheme)}://{rest}"


class SecuritySettings(Group):
    """Tokens, passwords and the keys that encrypt stored configs."""

    # Set from ENV by Settings, not read from a variable: production requires strong secrets.
    production: bool = Field(False, exclude=True)
    jwt_secret_key: SecretStr | None = Field(
        None,
        validate_default=True,
        description="HS256 secret shared by /api and /api/v1, at least 32 bytes in production. "
        "Default in development: generated once and kept in <VAR_DIR>/jwt_secret. "
        'Make one with: python -c "import secrets; print(secrets.token_urlsafe(48))"',
    )
    # DATA_ENCRYPTION_KEYS is the documented name; ENCRYPTION_KEYS stays accepted for existing installs.
    encryption_keys: SecretStr | None = Field(
        None,
        validate_default=True,
        validation_alias=AliasChoices("data_encryption_keys", "encryption_keys"),
        description="Fernet keys that encrypt stored data-source and integration configs, comma-separated, "
        "newest first: the first encrypts, all decrypt. To rotate, put a new key first, run "
        "`uv run datalab rotate-keys`, then drop the old keys. Default in development: generated once "
        "and kept in <VAR_DIR>/encryption_key.",
    )
    jwt_algorithm: Literal["HS256"] = Field(
        "HS256", description="Token signing algorithm; only HS256, checked so older configs fail loudly."
    )
    access_ttl: int = Field(900, ge=60, le=86_400, description="Access token lifetime, in seconds.")
    refresh_ttl: int = Field(
        604_800, ge=3_600, le=90 * 86_400, description="Refresh token lifetime, in seconds."
    )
    jwt_leeway: int = Field(
        10, ge=0, le=120, description="Clock skew tolerated on exp, nbf and iat, in seconds."
    )
    password_threads: int = Field(
        4, ge=1, le=64, description="Threads per worker that hash and check passwords for FastAPI's routes."
    )
    masked_config_cache_size: int = Field(
        4096, ge=1, le=1_000_000, description="Masked configs a worker keeps for lists (never the plaintext)."
    )
    bcrypt_rounds: int = Field(12, ge=10, le=16, description="bcrypt cost; each step doubles a login's time.")
    reset_ttl: int = Field(1_800, ge=300, le=86_400, description="Password reset token lifetime, in seconds.")
    password_reset_url: str = Field(
        "http://127.0.0.1:8000/reset-password?token={token}",
        description="Link mailed for a password reset; {token} is replaced by the token.",
    )

    # Field validators, not one model validator, so every weak secret is reported with the rest.
    @field_validator("jwt_secret_key", "encryption_keys")
    @classmethod
    def _strong_in_production(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if info.data.get("production"):
            name = "JWT_SECRET_KEY" if info.field_name == "jwt_secret_key" else "DATA_ENCRYPTION_KEYS"
            problem = weakness(value, name)
            if problem:
                raise ValueError(problem)
        return value

    @property
    def jwt_secret(self) -> str:
        """Return the HS256 signing secret."""
        assert self.jwt_secret_key is not None, "filled in by Settings"
        return self.jwt_secret_key.get_secret_value()

    @property
    def fernet_keys(self) -> list[str]:
        """Return the encryption keys, newest first."""
        assert self.encryption_keys is not None, "filled in by Settings"
        return [key.strip() for key in self.encryption_keys.get_secret_value().split(",") if key.strip()]


class MailSettings(Group):
    """Outgoing mail. Without SMTP_HOST, mail goes to the log in development and is dropped in production."""

    smtp_host: str | None = Field(None, description="SMTP server; unset: no mail is sent.")
    smtp_port: int = Field(587, ge=1, le=65_535, description="SMTP port.")
    smtp_username: str | None = Field(None, description="SMTP login, if the server wants one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_starttls: bool = Field(True, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_from: str = Field("Datalab <no-reply@localhost>", description="From header of every mail.")


class ConnectorSettings(Group):
    """Data-source connectors: where files live, timeouts, caps and the networks they may reach."""

    data_dir: Path | None = Field(
        None,
        description="Folder that file sources live in; their `path` is relative to it and may not leave it. "
        "Default: <VAR_DIR>/data.",
    )
    query_timeout_s: float = Field(
        30.0, gt=0, le=3_600, description="Per-statement timeout on a source, in seconds."
    )
    query_max_rows: int = Field(
        1_000, ge=1, le=100_000, description="Most rows one query returns (a cut answer says has_more)."
    )
    connect_timeout_s: float = Field(
        10.0, gt=0, le=300, description="Seconds to open a connection to a source."
    )
    rest_max_response_bytes: int = Field(
        10 * 1024 * 1024,
        ge=1_024,
        le=1024 * 1024 * 1024,
        description="Largest REST API answer read, in bytes.",
    )
    data_source_allow_networks: NetworkList = Field(
        [],
        description="CIDRs connectors may reach although the default refuses them (loopback, link-local, "
        "reserved, the app's own database), e.g. 127.0.0.0/8,::1/128 for local sources.",
    )
    data_source_deny_networks: NetworkList = Field(
        [], description="CIDRs connectors may never reach, beyond the default refusals."
    )
    query_extra_functions: dict[str, list[str]] = Field(
        {},
        description="Functions to allow beyond the built-in read-only list, per dialect "
        '(JSON: {"postgresql": ["my_fn"], "mysql": ["mydb.fn"]}); the hard refusal list still wins.',
    )
    data_source_allow_privileged: bool = Field(
        False,
        description="UNSAFE: let sources connect as superusers or accounts with file, process or "
        "server-program rights, which can read server files whatever the query guard does.",
    )
    query_max_bytes: int = Field(
        10 * 1024 * 1024,
        ge=1_024,
        le=1024 * 1024 * 1024,
        description="Bytes of rows one query or schema answer may hold; beyond it the answer is cut.",
    )
    connector_threads_per_user: int | None = Field(
        None,
        ge=1,
        le=200,
        description="Connector threads one user may hold at once; default half of CONNECTOR_THREADS.",
    )
    max_sources_per_user: int = Field(
        100, ge=1, le=100_000, description="Active data sources one user may own; one more is a 409."
    )
    config_max_bytes: int = Field(
        64 * 1024,
        ge=1_024,
        le=1024 * 1024,
        description="Bytes of a data-source config as JSON; more is a 413.",
    )
    connector_threads: int = Field(
        8,
        ge=1,
        le=200,
        description="Threads that run source work; when all are busy more work gets 503 CONNECTORS_BUSY. "
        "Keep it below WSGI_WORKERS.",
    )

    @property
    def user_connector_threads(self) -> int:
        """Return the connector threads one user may hold: the setting, or half the pool (at least 1)."""
        share = self.connector_threads_per_user or max(1, self.connector_threads // 2)
        return min(share, self.connector_threads)

    @field_validator("query_extra_functions")
    @classmethod
    def _known_dialects(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = set(value) - {"postgresql", "mysql", "sqlite", "duckdb"}
        if unknown:
            raise ValueError("QUERY_EXTRA_FUNCTIONS: dialects must be postgresql, mysql, sqlite or duckdb")
        return value


class EdgeSettings(Group):
    """What wraps both halves: serving, logs, headers, CORS, hosts, rate limits, health and metrics."""

    max_body_bytes: int = Field(1_048_576, ge=1_024, description="Largest request body, in bytes (else 413).")
    wsgi_workers: int = Field(10, ge=1, le=200, description="Threads a2wsgi runs the legacy Flask app on.")
    web_concurrency: int | None = Field(
        None, ge=1, le=64, description="Worker processes of `datalab serve` when --workers is not given."
    )
    log_level: str = Field("INFO", description="Lowest level logged.")
    log_format: Literal["json", "console"] | None = Field(
        None, description="json (one object per line) or console. Default: json in production, else console."
    )
    cors_origins: CommaList = Field(
        [], description="Browser origins allowed to call the APIs; empty: no CORS."
    )
    cors_allow_credentials: bool = Field(
        False, description="Allow credentials cross-origin; refused together with a '*' origin."
    )
    allowed_hosts: CommaList = Field(
        ["*"], description="Host names answered; others get 400. '*' accepts any."
    )
    hsts_seconds: int = Field(
        0, ge=0, le=2 * 31_536_000, description="Strict-Transport-Security max-age; 0 sends none."
    )
    trusted_proxies: NetworkList = Field(
        [], description="Proxies whose X-Forwarded-For is believed (addresses or CIDRs)."
    )
    rate_limit_enabled: bool = Field(True, description="Apply the rate limits below.")
    rate_limit_default: str = Field("300/minute", description="Every request, per client IP (health exempt).")
    rate_limit_login: str = Field("10/minute", description="Logins per client IP and per account.")
    rate_limit_register: str = Field("5/minute", description="Sign-ups per client IP and per account.")
    rate_limit_reset: str = Field(
        "5/minute", description="Password reset requests per client IP and per account."
    )
    rate_limit_login_account: str = Field(
        "100/minute",
        description="Sign-in attempts on one account from all addresses together (each address alone "
        "is held to RATE_LIMIT_LOGIN); far above it, so failures elsewhere do not lock the owner out.",
    )
    rate_limit_storage: Literal["redis", "memory"] | None = Field(
        None,
        description="Where rate-limit counters live; default redis when REDIS_URL is set, else memory. "
        "`memory` with several production workers must be chosen on purpose.",
    )
    redis_url: str | None = Field(
        None, description="Redis for counters shared by every worker; without it each process counts alone."
    )
    health_timeout: float = Field(2.0, gt=0, le=30, description="Seconds readiness waits for the database.")
    metrics_token: SecretStr | None = Field(None, description="Bearer token that may read /metrics.")
    metrics_allow: NetworkList = Field([], description="Client networks that may read /metrics.")
    prometheus_multiproc_dir: Path | None = Field(
        None, description="Folder for prometheus_client's multiprocess files, needed with several workers."
    )

    @field_validator(
        "rate_limit_default",
        "rate_limit_login",
        "rate_limit_register",
        "rate_limit_reset",
        "rate_limit_login_account",
    )
    @classmethod
    def _valid_limit(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError:
            raise ValueError("must be N/second|minute|hour|day, several separated by ';'") from None
        return value

    @model_validator(mode="after")
    def _no_wildcard_with_credentials(self) -> EdgeSettings:
        # A wildcard origin with credentials lets any site act with the user's cookies.
        if self.cors_allow_credentials and "*" in self.cors_origins:
            raise ValueError("CORS_ORIGINS may not contain '*' when CORS_ALLOW_CREDENTIALS is true")
        if self.rate_limit_storage == "redis" and not self.redis_url:
            raise ValueError("RATE_LIMIT_STORAGE=redis needs REDIS_URL")
        return self


class MigrationSettings(Group):
    """Route migration: the registry, shadow mode and the report's counters."""

    route_states: JsonObject = Field(
        {},
        description="JSON object from route name to legacy | shadow | canary:<1-99> | migrated; "
        "wins over the stored live state at start-up.",
        examples=['{"GET /api/users/me": "migrated"}'],
    )
    routes_file: Path | None = Field(
        None, description="Registry file; default fastapi_app/migration/routes.toml."
    )
    shadow_sample_rate: float = Field(
        1.0, ge=0.0, le=1.0, description="Share of shadowed requests run on the port."
    )
    shadow_timeout: float = Field(2.0, gt=0.0, le=30.0, description="Seconds a shadow call may take.")
    shadow_max_concurrent: int = Field(4, ge=1, le=64, description="Shadow calls at once per process.")
    migration_flush_seconds: float = Field(
        5.0, ge=0.05, le=300.0, description="Seconds between writes of each process's route counters."
    )
    legacy_mount: Literal["on", "off"] = Field(
        "on",
        description="off: serve /api from the FastAPI ports alone, without loading Flask; "
        "refused while any route is not migrated.",
    )
    route_state_poll_seconds: float = Field(
        1.0,
        ge=0.05,
        le=1.5,
        description="Seconds between each process's checks for a live route state change (< 2 s).",
    )
    rollback_enabled: bool = Field(
        True, description="Let the rollback guard move a misbehaving ported route back to Flask."
    )
    rollback_window_requests: int = Field(
        200, ge=10, le=100_000, description="Requests per side (Flask, port) the guard keeps per route."
    )
    rollback_window_seconds: float = Field(
        300.0, gt=0.0, le=86_400.0, description="Age in seconds past which the guard forgets a request."
    )
    rollback_min_requests: int = Field(
        20, ge=1, le=100_000, description="Port requests (or shadow comparisons) before the guard judges."
    )
    rollback_max_error_delta: float = Field(
        2.0, ge=0.0, le=100.0, description="Points by which the port's 5xx rate may exceed Flask's."
    )
    rollback_max_latency_ratio: float = Field(
        2.0, gt=1.0, le=1_000.0, description="How many times Flask's p99 the port's p99 may reach."
    )
    rollback_max_mismatches: float = Field(
        1.0, ge=0.0, le=100.0, description="Percent of shadow comparisons that may differ."
    )


class StorageSettings(Group):
    """Uploaded datasets and the object store they live in."""

    storage_url: str | None = Field(
        None,
        description="Where dataset objects are kept: file:///path or s3://bucket/prefix; "
        "default file://<VAR_DIR>/storage (outside the file-source jail, so no source path reaches it).",
    )
    s3_endpoint_url: str | None = Field(
        None, description="Endpoint of an S3-compatible server (MinIO, Ceph...); unset for AWS itself."
    )
    aws_access_key_id: SecretStr | None = Field(
        None, description="S3 access key; unset: boto3's default chain."
    )
    aws_secret_access_key: SecretStr | None = Field(None, description="S3 secret key.")
    aws_region: str | None = Field(None, description="S3 region; unset: boto3's default.")
    dataset_max_bytes: int = Field(
        1024**3, ge=1_024, description="Largest dataset upload in bytes (replaces MAX_BODY_BYTES there)."
    )
    xlsx_max_entries: int = Field(10_000, ge=1, description="Most members an XLSX (zip) upload may hold.")
    xlsx_max_uncompressed_bytes: int = Field(
        512 * 1024 * 1024, ge=1_024, description="Largest total uncompressed size of an XLSX upload."
    )
    xlsx_max_ratio: int = Field(
        100, ge=1, description="Largest compression ratio of any XLSX member (a zip-bomb defence)."
    )
    storage_gc_grace_s: int = Field(
        3_600, ge=0, description="Age in seconds before `datalab storage gc` removes an uncommitted upload."
    )


class TaskSettings(Group):
    """Analysis tasks: the broker, the workers' limits, and maintenance."""

    task_broker_url: SecretStr | None = Field(
        None,
        description="Celery broker (redis://... or amqp://...); unset runs tasks in the server process.",
    )
    task_queue: str = Field(
        "datalab-tasks", pattern=r"^[A-Za-z0-9._-]{1,100}$", description="The broker queue tasks go to."
    )
    task_local_threads: int = Field(
        2, ge=1, le=64, description="Threads of the in-process executor used when no broker is set."
    )
    task_time_limit_s: float = Field(
        3_600.0, gt=0, le=7 * 86_400, description="Longest a task's query may run, in seconds."
    )
    task_max_rows: int = Field(10_000_000, ge=1, description="Rows a task's result keeps at most.")
    task_max_bytes: int = Field(
        2 * 1024**3, ge=1_024, description="Bytes a task's stored result may reach; the rest is cut."
    )
    task_max_attempts: int = Field(
        3, ge=1, le=20, description="Deliveries a task may start before it fails with WORKER_LOST."
    )
    task_lease_s: float = Field(
        30.0,
        gt=0,
        le=3_600,
        description="Seconds without a heartbeat after which another delivery may take a running task over.",
    )
    task_visibility_timeout_s: float | None = Field(
        None,
        gt=0,
        description="Redis: seconds until an unacknowledged task is redelivered (default: limit + 600).",
    )
    task_broker_options: dict[str, float | int | str | bool] = Field(
        {}, description="Extra kombu transport options as JSON, e.g. Redis unacked_restore_interval."
    )
    task_results_dir: Path | None = Field(
        None, description="Folder of stored task results (default <VAR_DIR>/task-results)."
    )
    task_maintenance_interval_s: float = Field(
        3_600.0, ge=1, le=7 * 86_400, description="How often beat runs the maintenance jobs."
    )
    audit_retention_days: int | None = Field(
        None, ge=1, description="Delete audit_log and shadow_mismatch rows older than this; unset keeps all."
    )


class GatewaySettings(Group):
    """The services behind /api/v1, their failure handling, and a legacy app served elsewhere."""

    services: str = Field(
        "", description="JSON list of services behind the gateway (see docs/gateway.md); empty: none."
    )
    services_file: Path | None = Field(
        None, description="TOML file with [[services]] tables, read instead of SERVICES."
    )
    circuit_breaker_threshold: int = Field(
        5, ge=1, le=1_000, description="Consecutive failures of an instance that open its circuit."
    )
    circuit_breaker_cooldown: float = Field(
        30.0, gt=0, le=3_600, description="Seconds an open circuit waits before one probe request."
    )
    health_check_interval: float = Field(
        10.0, gt=0, le=3_600, description="Seconds between active health checks of every instance."
    )
    gateway_timeout: float = Field(
        30.0, gt=0, le=3_600, description="Default per-service timeout in seconds (connect and each read)."
    )
    gateway_retries: int = Field(2, ge=0, le=10, description="Default per-service retry budget.")
    gateway_max_body_bytes: int = Field(
        2 * 1024**3, ge=1_024, description="Largest body forwarded to a service; streamed, never buffered."
    )
    gateway_max_connections: int = Field(
        100, ge=1, le=10_000, description="Upstream connections per worker process, all services together."
    )
    legacy_upstream: str | None = Field(
        None, description="http(s)://host:port of a legacy Flask server; replaces the in-process mount."
    )
    legacy_upstream_timeout: float = Field(
        60.0, gt=0, le=3_600, description="Timeout in seconds for requests forwarded to LEGACY_UPSTREAM."
    )
