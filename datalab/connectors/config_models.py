"""What each data-source type's config may hold: one pydantic model per shape, unknown keys refused.

Which type uses which model is the registry's to say (registry.py). Where a file lives (the
DATA_DIR jail) and which hosts may be reached are decided by the connectors when they open, not
here: these models only refuse malformed values.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

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
    """A file inside the data folder (DATA_DIR): SQLite, CSV, JSON, Parquet or XLSX."""

    path: FilePath


class RestConfig(SourceConfig):
    """A JSON API: queries are GETs of paths relative to `base_url`."""

    base_url: BaseUrl
    headers: Annotated[dict[HeaderName, HeaderValue], WithJsonSchema(HEADERS_SCHEMA)] = Field(
        default_factory=dict, max_length=MAX_HEADERS
    )
    timeout: float | None = Field(None, gt=0, le=300, description="Seconds; default CONNECT_TIMEOUT_S")
