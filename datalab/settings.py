"""One settings object for both halves, read from the environment and `.env`."""

from __future__ import annotations

import ipaddress
import json
import secrets
from collections.abc import Callable
from functools import lru_cache
from ipaddress import ip_network
from pathlib import Path
from typing import Annotated, Any, Literal

from cryptography.fernet import Fernet
from limits import parse_many
from pydantic import (
    AliasChoices,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError
from sqlalchemy.engine import make_url

from datalab.settings_env import (
    SettingsProblems,
    alias_values,
    environment,
    problem_lines,
    settings_error_lines,
)

PLACEHOLDER_MARKERS = ("change-me", "changeme", "placeholder", "secret-key", "example")
MIN_SECRET_BYTES = 32


def _split_commas(value: object) -> object:
    # Lists are written in the environment as "a, b, c"; JSON would be easy to get wrong in a shell.
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


CommaList = Annotated[list[str], NoDecode, BeforeValidator(_split_commas)]
# The driver each database's bare URL scheme means here: the one the project installs.
DRIVER_OF_SCHEME = {"postgresql": "postgresql+psycopg2", "postgres": "postgresql+psycopg2"}


def _json_object(value: object) -> object:
    # Parsed here rather than by pydantic-settings, so a broken one is reported with the others
    # and says where it breaks, never what it holds.
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})"
        ) from None


JsonObject = Annotated[dict[str, str], NoDecode, BeforeValidator(_json_object)]


class Settings(BaseSettings):
    """Every setting Datalab reads; documented in `.env.example`."""

    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    var_dir: Path = Path("var")
    database_url: str = Field("", validate_default=True)
    jwt_secret_key: SecretStr | None = Field(None, validate_default=True)
    # DATA_ENCRYPTION_KEYS is the documented name; ENCRYPTION_KEYS stays accepted for existing installs.
    encryption_keys: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("data_encryption_keys", "encryption_keys"),
        validate_default=True,
    )
    access_ttl: int = Field(900, ge=60, le=86_400)
    refresh_ttl: int = Field(604_800, ge=3_600, le=90 * 86_400)
    jwt_leeway: int = Field(10, ge=0, le=120)
    bcrypt_rounds: int = Field(12, ge=10, le=16)
    max_body_bytes: int = Field(1_048_576, ge=1_024)
    wsgi_workers: int = Field(10, ge=1, le=200)
    db_pool_size: int = Field(10, ge=1, le=200)
    db_max_overflow: int = Field(10, ge=0, le=200)
    log_level: str = "INFO"
    reset_ttl: int = Field(1_800, ge=300, le=86_400)
    password_reset_url: str = "http://127.0.0.1:8000/reset-password?token={token}"  # noqa: S105
    smtp_host: str | None = None
    smtp_port: int = Field(587, ge=1, le=65_535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_from: str = "Datalab <no-reply@localhost>"
    # --- connectors (issue 4): settings for data-source connectors go here.
    data_dir: Path | None = None  # default <var_dir>/data
    query_timeout_s: float = Field(30.0, gt=0, le=3_600)
    query_max_rows: int = Field(1_000, ge=1, le=100_000)
    connect_timeout_s: float = Field(10.0, gt=0, le=300)
    rest_max_response_bytes: int = Field(10 * 1024 * 1024, ge=1_024, le=1024 * 1024 * 1024)
    data_source_allow_networks: str = ""
    data_source_deny_networks: str = ""
    connector_threads: int = Field(8, ge=1, le=200)

    # --- edges (issue 6): settings for middleware, rate limits, health, metrics go here.
    log_format: Literal["json", "console"] | None = None
    cors_origins: CommaList = []
    cors_allow_credentials: bool = False
    allowed_hosts: CommaList = ["*"]
    hsts_seconds: int = Field(0, ge=0, le=2 * 31_536_000)
    trusted_proxies: CommaList = []
    rate_limit_enabled: bool = True
    rate_limit_default: str = "300/minute"
    rate_limit_login: str = "10/minute"
    rate_limit_register: str = "5/minute"
    rate_limit_reset: str = "5/minute"
    redis_url: str | None = None
    health_timeout: float = Field(2.0, gt=0, le=30)
    metrics_token: SecretStr | None = None
    metrics_allow: CommaList = []

    @model_validator(mode="after")
    def _check_edges(self) -> Settings:
        # A wildcard origin with credentials lets any site act with the user's cookies.
        if self.cors_allow_credentials and "*" in self.cors_origins:
            raise ValueError("CORS_ORIGINS may not contain '*' when CORS_ALLOW_CREDENTIALS is true")
        return self

    @field_validator("trusted_proxies", "metrics_allow")
    @classmethod
    def _valid_addresses(cls, value: list[str]) -> list[str]:
        for position, network in enumerate(value, start=1):
            try:
                ip_network(network, strict=False)
            except ValueError:
                raise ValueError(
                    f"entry {position} is not an IP address or a network in CIDR form such as 10.0.0.0/8"
                ) from None
        return value

    @field_validator("rate_limit_default", "rate_limit_login", "rate_limit_register", "rate_limit_reset")
    @classmethod
    def _valid_limit(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError:
            raise ValueError("must be N/second|minute|hour|day, several separated by ';'") from None
        return value

    @property
    def logs_as_json(self) -> bool:
        """Tell whether log lines are JSON objects (production's default) or console text."""
        return (self.log_format or ("json" if self.env == "production" else "console")) == "json"

    # --- migration (issue 5): settings for the route registry and shadow mode go here.
    # JSON object from route name ("GET /api/users/me") to state; overrides the registry file.
    route_states: JsonObject = Field(default_factory=dict)
    routes_file: Path | None = None  # None: the committed datalab/migration/routes.toml
    shadow_sample_rate: float = Field(1.0, ge=0.0, le=1.0)
    shadow_timeout: float = Field(2.0, gt=0.0, le=30.0)
    shadow_max_concurrent: int = Field(4, ge=1, le=64)
    migration_flush_seconds: float = Field(5.0, ge=0.05, le=300.0)

    # --- first run (issue 12): start-up checks and the older services' variables.
    jwt_algorithm: Literal["HS256"] = Field(
        "HS256", description="Token signing algorithm; only HS256, checked so older configs fail loudly."
    )
    rate_limit_storage: Literal["redis", "memory"] | None = Field(
        None,
        description=(
            "Where rate-limit counters live; default redis when REDIS_URL is set, else memory. "
            "`memory` with several production workers must be chosen on purpose."
        ),
    )

    @model_validator(mode="after")
    def _rate_limit_storage_reachable(self) -> Settings:
        if self.rate_limit_storage == "redis" and not self.redis_url:
            raise ValueError("RATE_LIMIT_STORAGE=redis needs REDIS_URL")
        return self

    @field_validator("data_source_allow_networks", "data_source_deny_networks")
    @classmethod
    def _valid_networks(cls, value: str) -> str:
        for position, item in enumerate(_split(value), start=1):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"entry {position} is not a network in CIDR form such as 10.0.0.0/8"
                ) from None
        return value

    # Field validators, not one model validator, so every missing secret is reported at once.
    @field_validator("jwt_secret_key")
    @classmethod
    def _strong_jwt_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if info.data.get("env") == "production":
            _require_strong(value, "JWT_SECRET_KEY")
        return value

    @field_validator("encryption_keys")
    @classmethod
    def _strong_encryption_keys(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if info.data.get("env") == "production":
            _require_strong(value, "DATA_ENCRYPTION_KEYS")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            if info.data.get("env") == "production":
                raise ValueError("DATABASE_URL must be set when ENV=production")
            return value
        scheme, separator, rest = value.partition("://")
        if not separator:
            raise ValueError("must be a URL such as postgresql://user@host/db")
        return f"{DRIVER_OF_SCHEME.get(scheme, scheme)}://{rest}"

    @model_validator(mode="after")
    def _fill_development_defaults(self) -> Settings:
        if self.env == "production":
            return self
        self.var_dir = self.var_dir.resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.var_dir / 'datalab.db').as_posix()}"
        self.database_url = _absolute_sqlite(self.database_url)
        # Kept in var/ so tokens and encrypted configs survive a restart of the dev server.
        if self.jwt_secret_key is None:
            self.jwt_secret_key = SecretStr(
                _kept_secret(self.var_dir / "jwt_secret", lambda: secrets.token_urlsafe(48))
            )
        if self.encryption_keys is None:
            self.encryption_keys = SecretStr(
                _kept_secret(self.var_dir / "encryption_key", lambda: Fernet.generate_key().decode())
            )
        return self

    @property
    def jwt_secret(self) -> str:
        """Return the HS256 signing secret."""
        assert self.jwt_secret_key is not None, "filled in by the validator"
        return self.jwt_secret_key.get_secret_value()

    @property
    def fernet_keys(self) -> list[str]:
        """Return the encryption keys, newest first."""
        assert self.encryption_keys is not None, "filled in by the validator"
        return _split(self.encryption_keys.get_secret_value())

    @property
    def source_data_dir(self) -> Path:
        """Return the folder file data sources live in (the jail of their `path`)."""
        return (self.data_dir or self.var_dir / "data").resolve()

    @property
    def allow_networks(self) -> tuple[str, ...]:
        """Return the networks connectors may reach even where the default refuses."""
        return tuple(_split(self.data_source_allow_networks))

    @property
    def deny_networks(self) -> tuple[str, ...]:
        """Return the networks connectors may never reach."""
        return tuple(_split(self.data_source_deny_networks))


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _absolute_sqlite(url: str) -> str:
    # Flask-SQLAlchemy reads relative SQLite paths from its instance folder; pin them to the cwd.
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return url
    if parsed.database.startswith("file:") or Path(parsed.database).is_absolute():
        return url
    return parsed.set(database=str(Path(parsed.database).resolve())).render_as_string(hide_password=False)


def _require_strong(value: SecretStr | None, name: str) -> None:
    text = value.get_secret_value() if value else ""
    if len(text.encode()) < MIN_SECRET_BYTES:
        raise ValueError(f"{name} must be set to at least {MIN_SECRET_BYTES} bytes when ENV=production")
    if any(marker in text.lower() for marker in PLACEHOLDER_MARKERS):
        raise ValueError(f"{name} looks like a placeholder; generate a random one")


def _kept_secret(path: Path, generate: Callable[[], str]) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = generate()
    path.touch(mode=0o600)
    path.write_text(value)
    return value


def load_settings(env_file: Path | None = Path(".env")) -> Settings:
    """Read the settings from the environment and `env_file`, older variable names included.

    Raise SettingsProblems naming every problem, one line each, and never a value: the
    validation error is not chained, so no traceback can show pydantic's `input_value`.
    """
    values, origin = alias_values(environment(env_file))
    problems: list[str]
    try:
        given: dict[str, Any] = {name.lower(): value for name, value in values.items()}
        return Settings(_env_file=env_file, **given)
    except ValidationError as exc:
        problems = problem_lines(exc, origin)
    except SettingsError as exc:
        problems = settings_error_lines(exc)
    raise SettingsProblems(problems)


@lru_cache
def get_settings() -> Settings:
    """Read the settings once per process; raise SettingsProblems when they are not usable."""
    return load_settings()
