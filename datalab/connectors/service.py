"""Testing, describing and querying a data source: off the request thread, bounded, audited.

Connector work runs on one dedicated pool of `CONNECTOR_THREADS` threads, apart from
a2wsgi's and AnyIO's, and a request waits for it at most the connect plus query
timeouts. When every connector thread is busy (slow or hung sources) a new request is
refused at once with 503 CONNECTORS_BUSY instead of queueing, so at most
`CONNECTOR_THREADS` request threads ever wait on sources and the rest keep serving.
A job whose caller gave up keeps its slot until the driver returns (its own timeouts
end it), so hung sources cannot pile up threads either.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from datalab import audit
from datalab.connectors import open_connector
from datalab.connectors.base import Connector, ConnectorError, Limits, QueryResult, SchemaInfo, TestResult
from datalab.connectors.configs import connection_config
from datalab.crypto import ConfigCipher
from datalab.errors import Conflict, DomainError, InvalidInput
from datalab.settings import Settings
from shared_models import DataSource, SourceStatus, SourceType, User

T = TypeVar("T")
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}
# Seconds a request waits beyond the connector's own timeouts before it answers TIMEOUT.
GRACE_S = 5.0
# What each connector code answers. What this server's rules refuse (a write, a host or file
# outside what sources may reach) is 403, like any refusal no schema can predict; what the source
# itself answers with an error (the query failed there too) is 502, and no answer in time 504.
STATUS_OF_CODE = {
    # The query names a table or column the source lacks, or is not SQL it parses: the caller's to fix.
    "QUERY_INVALID": 400,
    "QUERY_REFUSED": 403,
    "HOST_REFUSED": 403,
    "PATH_REFUSED": 403,
    "TIMEOUT": 504,
}
UPSTREAM_STATUS = 502


class SourceFailed(DomainError):
    """A connector refused or failed; `message` is the connector's safe text, `code` its stable code."""

    def __init__(self, error: ConnectorError) -> None:
        super().__init__(error.message, code=error.code)
        self.status_code = STATUS_OF_CODE.get(error.code, UPSTREAM_STATUS)


class ConnectorsBusy(DomainError):
    """Every connector thread is taken by sources still working."""

    status_code = 503
    code = "CONNECTORS_BUSY"

    def __init__(self) -> None:
        super().__init__("Too many data-source operations are running; try again shortly")


def limits_from(settings: Settings) -> Limits:
    """Return the bounds connectors work within, including the app's own database to refuse."""
    url = make_url(settings.database_url)
    backend = url.get_backend_name()
    endpoints: tuple[tuple[str, int], ...] = ()
    databases: tuple[tuple[str, int, str], ...] = ()
    files: tuple[Path, ...] = ()
    if backend == "sqlite":
        if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
            files = (Path(url.database).resolve(),)
    elif url.host:
        port = url.port or DEFAULT_PORTS.get(backend, 5432)
        endpoints = ((url.host, port),)
        databases = ((url.host, port, url.database or ""),)
    return Limits(
        query_timeout_s=settings.query_timeout_s,
        max_rows=settings.query_max_rows,
        connect_timeout_s=settings.connect_timeout_s,
        max_response_bytes=settings.rest_max_response_bytes,
        data_dir=settings.source_data_dir,
        allow_networks=settings.allow_networks,
        deny_networks=settings.deny_networks,
        own_endpoints=endpoints,
        own_files=files,
        own_databases=databases,
    )


class ConnectorRunner:
    """Runs connector work on its own bounded thread pool, with an overall timeout."""

    def __init__(self, settings: Settings) -> None:
        self.limits = limits_from(settings)
        self._executor = ThreadPoolExecutor(
            max_workers=settings.connector_threads, thread_name_prefix="connector"
        )
        self._slots = threading.BoundedSemaphore(settings.connector_threads)

    def run(self, source_type: SourceType, config: dict[str, object], work: Callable[[Connector], T]) -> T:
        """Open a connector, apply `work`, close it; raise ConnectorError, or ConnectorsBusy when full."""
        if not self._slots.acquire(blocking=False):
            raise ConnectorsBusy
        try:
            future = self._executor.submit(
                contextvars.copy_context().run, self._job, source_type, dict(config), work
            )
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        timeout = self.limits.connect_timeout_s + self.limits.query_timeout_s + GRACE_S
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            raise ConnectorError("TIMEOUT", "The data source did not answer in time") from None

    def _job(self, source_type: SourceType, config: dict[str, object], work: Callable[[Connector], T]) -> T:
        connector = open_connector(source_type.value, config, self.limits)
        try:
            return work(connector)
        finally:
            connector.close()


def test_source(
    session: Session, cipher: ConfigCipher, runner: ConnectorRunner, actor: User, source: DataSource
) -> TestResult:
    """Connect to `source` and record the outcome (status, last_test, error_message, audit)."""
    try:
        config = _config_of(cipher, source)
        result = runner.run(SourceType(source.type), config, lambda c: c.test())
    except ConnectorError as exc:
        result = TestResult(success=False, message=exc.message, latency_ms=0.0, error_code=exc.code)
    source.status = (SourceStatus.CONNECTED if result.success else SourceStatus.FAILED).value
    source.last_test = datetime.now(UTC)
    source.error_message = None if result.success else result.message[:1000]
    audit.record(
        session,
        "data_source.test",
        user_id=actor.id,
        resource_type="data_source",
        resource_id=source.id,
        details={
            "success": result.success,
            "latency_ms": round(result.latency_ms, 1),
            "error_code": result.error_code,
        },
    )
    session.flush()
    return result


def describe_source(
    session: Session, cipher: ConfigCipher, runner: ConnectorRunner, actor: User, source: DataSource
) -> SchemaInfo:
    """Read the tables of `source`; raise SourceFailed with a safe message (recorded first)."""
    return _use(session, cipher, runner, actor, source, {"operation": "schema"}, lambda c: c.schema())


def query_source(
    session: Session,
    cipher: ConfigCipher,
    runner: ConnectorRunner,
    actor: User,
    source: DataSource,
    *,
    sql: str,
    limit: int,
) -> QueryResult:
    """Run one read-only statement on `source`; the audit keeps the text, never the rows."""
    limit = min(limit, runner.limits.max_rows)
    details = {"operation": "query", "query": sql[:4000], "limit": limit}
    return _use(session, cipher, runner, actor, source, details, lambda c: c.query(sql, limit))


def _use(
    session: Session,
    cipher: ConfigCipher,
    runner: ConnectorRunner,
    actor: User,
    source: DataSource,
    details: dict[str, object],
    work: Callable[[Connector], T],
) -> T:
    failure: ConnectorError | None = None
    try:
        value = runner.run(SourceType(source.type), _config_of(cipher, source), work)
    except ConnectorError as exc:
        failure = exc
    source.last_used = datetime.now(UTC)
    source.usage_count = (source.usage_count or 0) + 1
    if failure is None:
        source.status, source.error_message = SourceStatus.CONNECTED.value, None
    elif failure.code not in ("QUERY_REFUSED", "QUERY_FAILED", "QUERY_INVALID"):
        # The source itself failed; a refused or wrong query says nothing about it.
        source.status, source.error_message = SourceStatus.FAILED.value, failure.message[:1000]
    outcome = {"success": failure is None, "error_code": failure.code if failure else None}
    audit.record(
        session,
        "data_source.query",
        user_id=actor.id,
        resource_type="data_source",
        resource_id=source.id,
        details={**details, **outcome},
    )
    session.flush()
    if failure is not None:
        raise SourceFailed(failure)
    return value


def _config_of(cipher: ConfigCipher, source: DataSource) -> dict[str, object]:
    try:
        return connection_config(SourceType(source.type), cipher.decrypt(source.config_encrypted))
    except InvalidInput as exc:
        # Saved before configs were checked per type: the owner must fix it first.
        raise Conflict(
            f"The stored config is not valid ({exc.message}); update the data source", code="CONFIG_INVALID"
        ) from None
