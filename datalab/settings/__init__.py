"""One settings object for both halves, grouped by concern, read from the environment and `.env`.

Every variable keeps its documented flat name (QUERY_TIMEOUT_S); it fills the field of that
name in its group (`settings.connectors.query_timeout_s`). Consumers take the group they need.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Self

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError
from sqlalchemy.engine import make_url

from datalab.settings.groups import (
    ConnectorSettings,
    DatabaseSettings,
    EdgeSettings,
    GatewaySettings,
    MailSettings,
    MigrationSettings,
    SecuritySettings,
    StorageSettings,
    TaskSettings,
    TracingSettings,
)
from datalab.settings.sources import FlatVariables, fold, groups
from datalab.settings.types import CommaList, NetworkList
from datalab.settings_env import (
    SettingsProblems,
    alias_values,
    environment,
    problem_lines,
    settings_error_lines,
)

__all__ = ["CommaList", "NetworkList", "Settings", "SettingsProblems", "get_settings", "load_settings"]


class Settings(BaseSettings):
    """Every setting Datalab reads, by concern; `.env.example` is generated from it."""

    # "ignore" keeps the flat names allowed as arguments for type checkers; _fold_flat_names refuses
    # any name that is no variable, so a typo still fails.
    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore")

    env: Literal["development", "test", "production"] = Field(
        "development", description="development | test | production."
    )
    var_dir: Path = Field(
        Path("var"),
        description="Folder for the development database and the secrets generated in development.",
    )
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    mail: MailSettings = Field(default_factory=MailSettings)
    connectors: ConnectorSettings = Field(default_factory=ConnectorSettings)
    edges: EdgeSettings = Field(default_factory=EdgeSettings)
    migration: MigrationSettings = Field(default_factory=MigrationSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    tasks: TaskSettings = Field(default_factory=TaskSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read arguments first, then the flat variables of the environment and `.env`."""
        env_file = getattr(dotenv_settings, "env_file", None)
        return init_settings, FlatVariables(
            settings_cls, env_file if isinstance(env_file, str | Path) else None
        )

    @model_validator(mode="before")
    @classmethod
    def _fold_flat_names(cls, data: Any) -> Any:
        # Arguments may use the variables' flat names too: Settings(database_url=...).
        if not isinstance(data, Mapping):
            return data
        folded = fold(cls, data)
        unknown = sorted(key for key in folded if key not in cls.model_fields)
        if unknown:
            raise ValueError(f"no such setting: {', '.join(name.upper() for name in unknown)}")
        # Production's rules are checked field by field inside the parts, so all are reported at once.
        production = folded.get("env") == "production"
        for part in ("database", "security"):
            group = folded.setdefault(part, {})
            if isinstance(group, dict):
                folded[part] = {**group, "production": production}
        return folded

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if self.env != "production":
            self._fill_development_defaults()
        self.connectors.data_dir = (self.connectors.data_dir or self.var_dir / "data").resolve()
        return self

    def _fill_development_defaults(self) -> None:
        self.var_dir = self.var_dir.resolve()
        if not self.database.database_url:
            self.database.database_url = f"sqlite:///{(self.var_dir / 'datalab.db').as_posix()}"
        self.database.database_url = _absolute_sqlite(self.database.database_url)
        # Kept in var/ so tokens and encrypted configs survive a restart of the dev server.
        if self.security.jwt_secret_key is None:
            self.security.jwt_secret_key = SecretStr(
                _kept_secret(self.var_dir / "jwt_secret", lambda: secrets.token_urlsafe(48))
            )
        if self.security.encryption_keys is None:
            self.security.encryption_keys = SecretStr(
                _kept_secret(self.var_dir / "encryption_key", lambda: Fernet.generate_key().decode())
            )

    def flat(self) -> dict[str, Any]:
        """Return every setting by its variable's name, lower-cased."""
        values: dict[str, Any] = {}
        for group, name, _ in groups(type(self)):
            owner: Any = self if group is None else getattr(self, group)
            values[name] = getattr(owner, name)  # a field's name is always one of its variables
        return values

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """Copy, with `update` given by variable names and validated as the environment would be."""
        if not update:
            return super().model_copy(deep=deep)
        return self.model_validate({**self.flat(), **update})

    @property
    def logs_as_json(self) -> bool:
        """Tell whether log lines are JSON objects (production's default) or console text."""
        return (self.edges.log_format or ("json" if self.env == "production" else "console")) == "json"

    @property
    def source_data_dir(self) -> Path:
        """Return the folder file data sources live in (the jail of their `path`)."""
        assert self.connectors.data_dir is not None, "filled in by the validator"
        return self.connectors.data_dir

    @property
    def object_storage_url(self) -> str:
        """Return the object store's URL: STORAGE_URL, or a folder under the var directory."""
        return self.storage.storage_url or (self.var_dir / "storage").resolve().as_uri()

    @property
    def results_dir(self) -> Path:
        """Return the local folder task results are spooled in on their way to the object store."""
        return (self.tasks.task_results_dir or self.var_dir / "task-results").resolve()

    @property
    def upload_spool_dir(self) -> Path:
        """Return the folder uploads are spooled to while they are checked (next to the file store)."""
        return (self.var_dir / "spool").resolve()


def _absolute_sqlite(url: str) -> str:
    # Flask-SQLAlchemy reads relative SQLite paths from its instance folder; pin them to the cwd.
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return url
    if parsed.database.startswith("file:") or Path(parsed.database).is_absolute():
        return url
    return parsed.set(database=str(Path(parsed.database).resolve())).render_as_string(hide_password=False)


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
