"""Logging for the whole process through structlog: JSON lines in production, console lines otherwise.

Our own loggers, uvicorn's, Flask's and SQLAlchemy's all end in one handler whose
formatter adds the request id (from `datalab.context`, which a2wsgi copies into
Flask's threads), with tracing on the trace and span ids, the level, the logger name
and a UTC timestamp, then masks secrets.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from datalab.context import current_request
from datalab.settings import Settings
from datalab.tracing import trace_ids
from fastapi_app.edges.redaction import redactor

_HANDLER_MARK = "_datalab_edges"
_REVEALED = frozenset({"datalab.mail"})
# Loggers that configure their own handlers; they are routed to ours instead.
_FOREIGN = ("uvicorn", "uvicorn.error", "uvicorn.access", "gunicorn.error", "gunicorn.access")


def add_request_id(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Add the id of the request being served, if any (a structlog processor)."""
    request_id = current_request().request_id
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
    return event_dict


def add_trace_ids(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Add the current trace and span ids, if a span is current (a structlog processor)."""
    ids = trace_ids()
    if ids is not None:
        event_dict.setdefault("trace_id", ids[0])
        event_dict.setdefault("span_id", ids[1])
    return event_dict


class HideSqlParameters(logging.Filter):
    """Drop the bound parameters SQLAlchemy logs at INFO: they hold hashes, emails and tokens."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the parameter part of SQLAlchemy's parameter lines."""
        if record.name.startswith("sqlalchemy.engine") and record.msg == "[%s] %r" and record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = (args[0], "[parameters hidden]")
        return True


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Route every logger of the process through structlog's formatter; safe to call again."""
    # In development the log mailer writes reset links to the log on purpose (README).
    redact = redactor(spare=_REVEALED if settings.env == "development" else frozenset())
    shared: list[Any] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_request_id,
        # Always in the chain (outside a span it adds nothing): loggers cache the chain on first use,
        # so one left out here would stay out of loggers made before tracing was turned on.
        add_trace_ids,
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            # Masked here too, so handlers other than ours (pytest's, a library's) never see a secret.
            redact,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.logs_as_json
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Tracebacks become text first, so the redaction sees them too.
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(HideSqlParameters())
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.edges.log_level.upper())
    for name in _FOREIGN:
        foreign = logging.getLogger(name)
        foreign.handlers.clear()
        foreign.propagate = True
    # The access line comes from our middleware, with the route template and without the query.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
