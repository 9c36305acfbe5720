"""Per-request facts (request id, client IP) that the audit writer needs on either side.

The outer ASGI middleware sets them; a2wsgi copies context variables into the
thread that runs Flask, so Flask views see the same values.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field


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


@dataclass
class RouteInfo:
    """Which route template served the request, and which implementation (filled while serving).

    Mutable on purpose: the outer middleware binds one per request, the half that serves
    it fills it in (Flask on a2wsgi's thread sees the same object through the copied
    context), and the outer middleware reads it back for headers, logs and metrics.
    """

    template: str | None = None
    served_by: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


_route: ContextVar[RouteInfo | None] = ContextVar("datalab_route", default=None)


def bind_route() -> RouteInfo:
    """Start a fresh RouteInfo for the current request and return it."""
    info = RouteInfo()
    _route.set(info)
    return info


def current_route() -> RouteInfo | None:
    """Return the RouteInfo of the request being served, if the middleware bound one."""
    return _route.get()
