"""Testing, describing and querying a data source: off the request thread, bounded, audited.

Connector work runs on one dedicated pool of `CONNECTOR_THREADS` threads, apart from
a2wsgi's and AnyIO's, and a request waits for it at most the connect plus query
timeouts. When every connector thread is busy (slow or hung sources) a new request is
refused at once with 503 CONNECTORS_BUSY instead of queueing, so at most
`CONNECTOR_THREADS` request threads ever wait on sources and the rest keep serving.
One user holds at most `CONNECTOR_THREADS_PER_USER` of them (503 USER_CONNECTORS_BUSY
beyond), so one user's slow sources cannot refuse everyone else.
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
from functools import partial
from pathlib import Path
from typing import TypeVar

import structlog
from opentelemetry.trace import SpanKind
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from datalab import audit
from datalab.blocking import wait_for
from datalab.connectors import open_connector
from datalab.connectors.base import Connector, ConnectorError, Limits, QueryResult, SchemaInfo, TestResult
from datalab.connectors.configs import connection_config
from datalab.connectors.registry import KINDS
from datalab.connectors.rows import capped_schema
from datalab.crypto import ConfigCipher
from datalab.errors import Conflict, DomainError, InvalidInput
from datalab.rehearsal import refuse_outside_effect
from datalab.settings import Settings
from datalab.tracing import span
from shared_models import DataSource, SourceStatus, SourceType, User

T = TypeVar("T")
log = structlog.get_logger("datalab.connectors")
# The app's own database's port when its URL names none, by SQLAlchemy backend (MariaDB is MySQL's).
DEFAULT_PORTS = {name: kind.default_port for name, kind in KINDS.items() if kind.default_port is not None}
DEFAULT_PORTS["mariadb"] = DEFAULT_PORTS["mysql"]
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
    "PRIVILEGED_ACCOUNT": 403,
    "TIMEOUT": 504,
}
UPSTREAM_STATUS = 502
# Failures a connection test answers as a refusal (v1: 403) rather than as success=false:
# the source answered, but this server will not use it as configured.
REFUSED_ON_TEST = frozenset({"PRIVILEGED_ACCOUNT"})


class SourceFailed(DomainError):
    """A connector refused or failed; `message` is the connector's safe text, `code` its stable code."""

    def __init__(self, error: ConnectorError, *, keep_changes: bool = False) -> None:
        super().__init__(error.message, code=error.code, keep_changes=keep_changes)
        self.status_code = STATUS_OF_CODE.get(error.code, UPSTREAM_STATUS)


class ConnectorsBusy(DomainError):
    """Every connector thread is taken by sources still working."""

    status_code = 503
    code = "CONNECTORS_BUSY"

    def __init__(self) -> None:
        super().__init__("Too many data-source operations are running; try again shortly")


class UserConnectorsBusy(DomainError):
    """The caller already holds their share of connector threads (CONNECTOR_THREADS_PER_USER)."""

    status_code = 503
    code = "USER_CONNECTORS_BUSY"

    def __init__(self) -> None:
        super().__init__(
            "You already have as many data-source operations running as allowed; try again shortly"
        )


def limits_from(settings: Settings) -> Limits:
    """Return the bounds connectors work within, including the app's own database to refuse."""
    url = make_url(settings.database.database_url)
    backend = url.get_backend_name()
    endpoints: tuple[tuple[str, int], ...] = ()
    databases: tuple[tuple[str, int, str], ...] = ()
    files: tuple[Path, ...] = ()
    own_postgres_url = own_role = ""
    if backend == "sqlite":
        if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
            files = (Path(url.database).resolve(),)
    elif url.host:
        port = url.port or DEFAULT_PORTS.get(backend, 5432)
        endpoints = ((url.host, port),)
        databases = ((url.host, port, url.database or ""),)
        own_role = url.username or ""
        if backend.startswith("postgres"):
            own_postgres_url = url.render_as_string(hide_password=False)
    return Limits(
        query_timeout_s=settings.connectors.query_timeout_s,
        max_rows=settings.connectors.query_max_rows,
        connect_timeout_s=settings.connectors.connect_timeout_s,
        max_response_bytes=settings.connectors.rest_max_response_bytes,
        data_dir=settings.source_data_dir,
        allow_networks=tuple(settings.connectors.data_source_allow_networks),
        deny_networks=tuple(settings.connectors.data_source_deny_networks),
        own_endpoints=endpoints,
        own_files=files,
        own_databases=databases,
        own_postgres_url=own_postgres_url,
        own_role=own_role,
        extra_functions={
            d: frozenset(names) for d, names in settings.connectors.query_extra_functions.items()
        },
        allow_privileged=settings.connectors.data_source_allow_privileged,
        max_query_bytes=settings.connectors.query_max_bytes,
    )


class ConnectorRunner:
    """Runs connector work on its own bounded thread pool, with an overall timeout."""

    def __init__(self, settings: Settings) -> None:
        self.limits = limits_from(settings)
        self._executor = ThreadPoolExecutor(
            max_workers=settings.connectors.connector_threads, thread_name_prefix="connector"
        )
        self._slots = threading.BoundedSemaphore(settings.connectors.connector_threads)
        # Fair shares: a user's slow sources may fill their share, never the whole pool.
        self._share = settings.connectors.user_connector_threads
        self._held: dict[int, int] = {}
        self._held_lock = threading.Lock()

    def run(
        self,
        source_type: SourceType,
        config: dict[str, object],
        work: Callable[[Connector], T],
        *,
        user_id: int | None = None,
    ) -> T:
        """Open a connector, apply `work`, close it; raise ConnectorError, or a Busy error when full.

        ConnectorsBusy when the pool is full, UserConnectorsBusy when `user_id` already holds
        their share.
        """
        opener = partial(open_connector, source_type.value, dict(config), self.limits)
        return self.run_with(opener, work, user_id=user_id)

    def run_with(
        self, opener: Callable[[], Connector], work: Callable[[Connector], T], *, user_id: int | None = None
    ) -> T:
        """Like `run`, for a connector `opener` makes (a dataset's, say), on the same bounded pool."""
        refuse_outside_effect("a data source")  # a shadowed write must never touch a source
        # A full pool is everyone's answer; a pool with room refuses only the user past their share.
        if not self._slots.acquire(blocking=False):
            raise ConnectorsBusy
        if not self._take_share(user_id):
            self._slots.release()
            raise UserConnectorsBusy
        try:
            future = self._executor.submit(contextvars.copy_context().run, self._job, opener, work)
        except BaseException:
            self._slots.release()
            self._return_share(user_id)
            raise
        # Released when the job ends, not when the caller gives up: a hung source keeps its slot.
        future.add_done_callback(lambda _: self._release(user_id))
        timeout = self.limits.connect_timeout_s + self.limits.query_timeout_s + GRACE_S
        try:
            # Awaited, not blocked on, when an async route runs this service (datalab.blocking).
            return wait_for(future, timeout)
        except FutureTimeout:
            raise ConnectorError("TIMEOUT", "The data source did not answer in time") from None

    def _release(self, user_id: int | None) -> None:
        self._slots.release()
        self._return_share(user_id)

    def _take_share(self, user_id: int | None) -> bool:
        if user_id is None:
            return True
        with self._held_lock:
            if self._held.get(user_id, 0) >= self._share:
                return False
            self._held[user_id] = self._held.get(user_id, 0) + 1
            return True

    def _return_share(self, user_id: int | None) -> None:
        if user_id is None:
            return
        with self._held_lock:
            left = self._held.get(user_id, 0) - 1
            if left > 0:
                self._held[user_id] = left
            else:
                self._held.pop(user_id, None)

    def _job(self, opener: Callable[[], Connector], work: Callable[[Connector], T]) -> T:
        with span("connector", kind=SpanKind.CLIENT) as current:
            connector = opener()
            if current is not None:
                current.update_name(f"connector {type(connector).__name__}")
            return self._work(connector, work)

    def _work(self, connector: Connector, work: Callable[[Connector], T]) -> T:
        try:
            return work(connector)
        except ConnectorError:
            raise
        except Exception as exc:
            # A driver or parser error no connector maps (psycopg2 raises a bare ValueError for a
            # date past year 9999): the caller gets the connector's failure answer, recorded and
            # audited like any other, and the log one line naming the error's type, no traceback.
            log.warning("connector error", connector=type(connector).__name__, error=type(exc).__name__)
            raise ConnectorError(
                "QUERY_FAILED", "The source's answer could not be read (a value out of range or malformed)."
            ) from None
        finally:
            connector.close()


def test_source(
    session: Session, cipher: ConfigCipher, runner: ConnectorRunner, actor: User, source: DataSource
) -> TestResult:
    """Connect to `source` and record the outcome (status, last_test, error_message, audit)."""
    try:
        config = _config_of(cipher, source)
        result = runner.run(SourceType(source.type), config, lambda c: c.test(), user_id=actor.id)
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
    max_bytes = runner.limits.max_query_bytes
    work: Callable[[Connector], SchemaInfo] = lambda c: capped_schema(c.schema(), max_bytes)  # noqa: E731
    return _use(session, cipher, runner, actor, source, {"operation": "schema"}, work)


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
        value = runner.run(SourceType(source.type), _config_of(cipher, source), work, user_id=actor.id)
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
        raise SourceFailed(failure, keep_changes=True)  # the recorded failure (status, audit) stays
    return value


def _config_of(cipher: ConfigCipher, source: DataSource) -> dict[str, object]:
    try:
        return connection_config(SourceType(source.type), cipher.decrypt(source.config_encrypted))
    except InvalidInput as exc:
        # Saved before configs were checked per type: the owner must fix it first.
        raise Conflict(
            f"The stored config is not valid ({exc.message}); update the data source", code="CONFIG_INVALID"
        ) from None
