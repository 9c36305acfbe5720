"""Forward one request to a service and stream its answer back, with retries and per-instance breakers.

Retries happen only before the first byte of an answer reached the client, only for
idempotent methods (or a POST/PATCH with `Idempotency-Key`), and only when the body can
be sent again. Answers stream through in both directions; nothing is buffered but the
first 64 KiB of a body, kept so a retry can replay it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import httpx
from opentelemetry.trace import SpanKind
from starlette.types import Receive, Scope, Send

from datalab.context import current_request
from datalab.tracing import inject, span
from fastapi_app.edges.guard import send_error
from fastapi_app.gateway.body import BodyTooLarge, ClientGone, RequestBody
from fastapi_app.gateway.clients import ClientPool
from fastapi_app.gateway.headers import ROUTE_HEADER, downstream_headers, upstream_headers
from fastapi_app.gateway.metrics import GatewayMetrics
from fastapi_app.gateway.upstream import Instance, Upstream

log = logging.getLogger("datalab.gateway")
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
RETRIED_STATUSES = frozenset({502, 503, 504})  # also what counts against a breaker, with transport errors
TIMEOUT = (504, "UPSTREAM_TIMEOUT", "The service did not answer in time")
UNAVAILABLE = (502, "UPSTREAM_UNAVAILABLE", "The service could not be reached")


class UpstreamBroken(Exception):
    """The upstream failed after its answer had started: the client's connection is aborted, not ended."""


@dataclass
class Forwarder:
    """Sends requests to services through one pooled client per event loop."""

    clients: ClientPool
    metrics: GatewayMetrics
    max_body_bytes: int

    async def forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        upstream: Upstream,
        path: str,
        identity: tuple[str, str] | None = None,
        on_route: Callable[[str], None] | None = None,
    ) -> None:
        """Answer the request in `scope` with `upstream`'s answer to it (at `path` there), or an error."""
        # One client span for the call, retries and relay included; it names the service, never the URL.
        attributes = {"http.request.method": scope["method"], "datalab.upstream": upstream.name}
        with span(f"{scope['method']} {upstream.name}", kind=SpanKind.CLIENT, attributes=attributes) as call:
            status = await self._forward(scope, receive, send, upstream, path, identity, on_route)
            if call is not None:
                call.set_attribute("http.response.status_code", status)
        self.metrics.requests.labels(upstream.name, str(status)).inc()

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        upstream: Upstream,
        path: str,
        identity: tuple[str, str] | None,
        on_route: Callable[[str], None] | None,
    ) -> int:
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            return await _error(scope, send, 413, "PAYLOAD_TOO_LARGE", "Request body too large")
        body = RequestBody(receive, self.max_body_bytes)
        try:
            await body.prime()
        except BodyTooLarge:
            return await _error(scope, send, 413, "PAYLOAD_TOO_LARGE", "Request body too large")
        except ClientGone:
            return 499
        method: str = scope["method"]
        retry_ok = method in IDEMPOTENT or (method in ("POST", "PATCH") and b"idempotency-key" in headers)
        attempts = 1 + upstream.retries if retry_ok else 1
        sent_headers = upstream_headers(
            scope["headers"],
            request_id=scope.get("state", {}).get("request_id") or "",
            client_ip=current_request().client_ip,
            scheme=scope.get("scheme", "http"),
            identity=identity,
            keep_length=not body.complete,
            trace_context=inject({}),
        )
        query = scope.get("query_string", b"").decode("latin-1")
        failure: tuple[int, str, str] | None = None
        tried: Instance | None = None
        client = self.clients.get()
        for attempt in range(attempts):
            instance = upstream.pick(avoid=tried)
            if instance is None:
                break
            if attempt:
                self.metrics.retries.labels(upstream.name).inc()
                await asyncio.sleep(_backoff(attempt))
            tried = instance
            request = client.build_request(
                method,
                f"{instance.url}{path}" + (f"?{query}" if query else ""),
                headers=sent_headers,
                content=body.content(),
                timeout=httpx.Timeout(upstream.timeout),
            )
            try:
                response = await client.send(request, stream=True)
            except BodyTooLarge:
                return await _error(scope, send, 413, "PAYLOAD_TOO_LARGE", "Request body too large")
            except ClientGone:
                return 499
            except httpx.PoolTimeout:
                # Our own pool is full: the instance did nothing wrong.
                return await _error(
                    scope, send, 503, "GATEWAY_BUSY", "Too many requests in flight; try again"
                )
            except httpx.TimeoutException:
                instance.breaker.failure()
                failure = TIMEOUT
            except httpx.TransportError:
                instance.breaker.failure()
                failure = UNAVAILABLE
            else:
                last = attempt + 1 == attempts or not body.replayable
                if response.status_code in RETRIED_STATUSES:
                    instance.breaker.failure()
                    if not last:
                        await response.aclose()
                        failure = None
                        continue
                else:
                    instance.breaker.success()
                if on_route is not None and ROUTE_HEADER.decode() in response.headers:
                    on_route(response.headers[ROUTE_HEADER.decode()])
                await _relay(receive, send, response, instance, upstream)
                return response.status_code
            log.warning("%s instance %s failed (attempt %d)", upstream.name, instance.label, attempt + 1)
            if not body.replayable:
                break
        if failure is None:
            retry_after = {"Retry-After": str(upstream.retry_after())}
            message = "The service is unavailable; try again later"
            return await _error(scope, send, 503, "SERVICE_UNAVAILABLE", message, retry_after)
        return await _error(scope, send, *failure)


async def _relay(
    receive: Receive, send: Send, response: httpx.Response, instance: Instance, up: Upstream
) -> None:
    """Stream `response` to the client; stop reading it as soon as the client goes away."""
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": downstream_headers(response.headers.raw),
        }
    )
    broken: httpx.TransportError | None = None
    try:
        async with anyio.create_task_group() as group:

            async def until_disconnect() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()

            group.start_soon(until_disconnect)
            try:
                async for chunk in response.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            except httpx.TransportError as exc:  # caught here, not as an exception group around the tasks
                broken = exc
            group.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await response.aclose()
    if broken is not None:
        instance.breaker.failure()
        raise UpstreamBroken(f"{up.name} instance {instance.label} broke off its answer") from broken


def _backoff(attempt: int) -> float:
    """Return a backoff with jitter: 50, 100, 200 ms... (at most 1 s), each drawn from its upper half."""
    ceiling = min(1.0, 0.05 * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not security)


async def _error(
    scope: Scope, send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> int:
    await send_error(scope, send, status, code, message, headers)
    return status
