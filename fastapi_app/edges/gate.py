"""The inner edge, in one ASGI layer: the last word on unexpected errors, the Host check, the body limit.

These were three layers (error guard, Starlette's TrustedHostMiddleware, body limit).
The Host check is still Starlette's own, but only where ALLOWED_HOSTS restricts hosts
(with "*" it let everything through anyway). The order of the checks is the one the
layers had: a bad Host is a 400 before a body is looked at, and an unhandled error in
anything inside is a 500 in the caller's API shape that the outer layers still see
(request id, security headers, CORS).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastapi_app.edges.guard import send_error
from fastapi_app.middleware import read_chunked_body, too_large

log = structlog.get_logger("datalab.errors")


@dataclass(frozen=True)
class StreamedBodies:
    """Routes that count their own large bodies as they stream, instead of the general limit.

    `uploads` (POST paths, regexes) are the dataset uploads: `upload_max_bytes` is checked here
    on Content-Length only. `prefixes` are the gateway's services: their proxy streams and limits
    the body itself.
    """

    uploads: tuple[re.Pattern[str], ...] = ()
    upload_max_bytes: int = 0
    prefixes: tuple[str, ...] = ()

    def passes(self, path: str) -> bool:
        """Tell whether the path belongs to a gateway service (its proxy limits the body)."""
        return any(path == p or path.startswith(p + "/") for p in self.prefixes)

    def upload(self, method: str, path: str) -> bool:
        """Tell whether this is a dataset upload, limited by `upload_max_bytes`."""
        return method == "POST" and any(p.fullmatch(path) for p in self.uploads)


class GateMiddleware:
    """Guard against unhandled errors, refuse unknown Host headers and bodies over `max_bytes`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_hosts: Sequence[str],
        max_bytes: int,
        streamed: StreamedBodies = StreamedBodies(),  # noqa: B008 - frozen
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.streamed = streamed
        self.checked: ASGIApp = self._limited
        if "*" not in allowed_hosts:
            self.checked = TrustedHostMiddleware(
                self._limited, allowed_hosts=allowed_hosts, www_redirect=False
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.checked(scope, receive, watch)
        except Exception:
            log.exception("unhandled error", path=scope["path"])
            if not started:
                await send_error(scope, send, 500, "INTERNAL_ERROR", "Internal server error")
            raise

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.streamed.passes(scope["path"]):
            await self.app(scope, receive, send)
            return
        upload = self.streamed.upload(scope["method"], scope["path"])
        limit = self.streamed.upload_max_bytes if upload else self.max_bytes
        length = encoding = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                encoding = value
        if length is not None:
            if not length.isdigit() or int(length) > limit:
                await too_large(scope, send)
                return
        elif not upload and encoding is not None and b"chunked" in encoding.lower():
            replayed = await read_chunked_body(scope, receive, send, self.max_bytes)
            if replayed is None:
                return
            scope, receive = replayed
        await self.app(scope, receive, send)
