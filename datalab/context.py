"""Per-request facts (request id, client IP) that the audit writer needs on either side.

The outer ASGI middleware sets them; a2wsgi copies context variables into the
thread that runs Flask, so Flask views see the same values.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    """Who is asking, from where, in which request."""

    request_id: str | None = None
    client_ip: str | None = None


# RequestContext is frozen, so sharing one default instance is safe.
_current: ContextVar[RequestContext] = ContextVar(
    "datalab_request",
    default=RequestContext(),  # noqa: B039
)


def current_request() -> RequestContext:
    """Return the context of the request being served."""
    return _current.get()


def bind_request(request_id: str | None, client_ip: str | None) -> None:
    """Record the request id and client IP for everything this request runs."""
    _current.set(RequestContext(request_id=request_id, client_ip=client_ip))
