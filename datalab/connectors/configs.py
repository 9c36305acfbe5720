"""What each data-source type's config may hold: one pydantic model per type, unknown keys refused.

The models are both the check (`validate_config`) and the published JSON schema
(`config_schema`), so the v1 OpenAPI document says exactly what the server accepts.
Where a file lives (the DATA_DIR jail) and which hosts may be reached are decided by
the connectors when they open, not here: this module only refuses malformed values.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema

from datalab.connectors.fields import (
    HEADERS_SCHEMA,
    MAX_HEADERS,
    BaseUrl,
    DatabaseName,
    FilePath,
    HeaderName,
    HeaderValue,
    Host,
    Port,
    Secret,
    UserName,
)
from datalab.errors import InvalidInput
from shared_models import SourceType


class SourceConfig(BaseModel):
    """Base of every config: strict types, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


class PostgresConfig(SourceConfig):
    """A PostgreSQL server; `sslmode` as libpq spells it."""

    host: Host
    port: Port = 5432
    database: DatabaseName
    username: UserName
    password: Secret = ""
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "prefer"


class MySQLConfig(SourceConfig):
    """A MySQL or MariaDB server; `sslmode` require encrypts, verify-ca also checks the certificate."""

    host: Host
    port: Port = 3306
    database: DatabaseName
    username: UserName
    password: Secret = ""
    sslmode: Literal["disable", "require", "verify-ca"] = "disable"


class FileConfig(SourceConfig):
    """A SQLite, CSV or JSON file inside the data folder (DATA_DIR)."""

    path: FilePath


class RestConfig(SourceConfig):
    """A JSON API: queries are GETs of paths relative to `base_url`."""

    base_url: BaseUrl
    headers: Annotated[dict[HeaderName, HeaderValue], WithJsonSchema(HEADERS_SCHEMA)] = Field(
        default_factory=dict, max_length=MAX_HEADERS
    )
    timeout: float | None = Field(None, gt=0, le=300, description="Seconds; default CONNECT_TIMEOUT_S")


CONFIG_MODELS: dict[SourceType, type[SourceConfig]] = {
    SourceType.POSTGRESQL: PostgresConfig,
    SourceType.MYSQL: MySQLConfig,
    SourceType.SQLITE: FileConfig,
    SourceType.CSV: FileConfig,
    SourceType.JSON: FileConfig,
    SourceType.REST_API: RestConfig,
}


def validate_config(source_type: SourceType, config: dict[str, Any]) -> dict[str, Any]:
    """Return `config` as sent if it fits `source_type`, or raise InvalidInput naming `config.<key>`."""
    return _model(source_type, config).model_dump(mode="json", exclude_unset=True)


def connection_config(source_type: SourceType, config: dict[str, Any]) -> dict[str, Any]:
    """Return a stored config checked again and completed with every default, for a connector."""
    return _model(source_type, config).model_dump(mode="json", exclude_none=True)


def fits_some_type(config: dict[str, Any]) -> bool:
    """Tell whether `config` is a valid config of at least one type."""
    for model in set(CONFIG_MODELS.values()):
        try:
            model.model_validate(config)
        except ValidationError:
            continue
        return True
    return False


def _model(source_type: SourceType, config: dict[str, Any]) -> SourceConfig:
    try:
        return CONFIG_MODELS[source_type].model_validate(config)
    except ValidationError as exc:
        raise _invalid(exc) from None


def config_schema(source_type: SourceType) -> dict[str, Any]:
    """Return the JSON schema of a config of `source_type`, self-contained (no references)."""
    schema = CONFIG_MODELS[source_type].model_json_schema()
    schema.pop("title", None)
    schema["description"] = f"Connection settings of a {source_type.value} source"
    return schema


def _invalid(exc: ValidationError) -> InvalidInput:
    error = exc.errors()[0]
    field = ".".join(["config", *(str(part) for part in error["loc"])])
    if error["type"] == "extra_forbidden":
        return InvalidInput(field, "unknown field")
    if error["type"] == "missing":
        return InvalidInput(field, "is required")
    reason = error["msg"].removeprefix("Value error, ")
    return InvalidInput(field, reason[:1].lower() + reason[1:])
