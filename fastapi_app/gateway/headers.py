"""Which headers cross the gateway, each way (RFC 9110 7.6.1), and the ones it adds.

Order matters: everything the client may not set is stripped first (hop-by-hop fields,
fields named in `Connection`, identity and forwarding headers), then ours are added, so
`Connection: X-User-Id` cannot make the gateway drop the identity it set itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"proxy-connection",
        b"keep-alive",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authorization",
        b"proxy-authenticate",
    }
)
# Set by the gateway alone: a client's copy would be a forgery.
OURS_UPSTREAM = frozenset(
    {
        b"host",
        b"x-request-id",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"x-forwarded-port",
        b"forwarded",
        b"x-real-ip",
        b"x-original-user-agent",
    }
)
# Set again by this server (request id, served-by, date) or meant for the gateway only (the route name).
OURS_DOWNSTREAM = frozenset({b"x-request-id", b"x-served-by", b"date", b"server", b"x-datalab-route"})
ROUTE_HEADER = b"x-datalab-route"
TRACE_CONTEXT = frozenset({b"traceparent", b"tracestate"})

Headers = list[tuple[bytes, bytes]]


def _connection_tokens(headers: Iterable[tuple[bytes, bytes]]) -> set[bytes]:
    return {
        token.strip().lower()
        for name, value in headers
        if name.lower() == b"connection"
        for token in value.split(b",")
        if token.strip()
    }


def end_to_end(headers: Iterable[tuple[bytes, bytes]], also: frozenset[bytes] = frozenset()) -> Headers:
    """Return `headers` without hop-by-hop fields, fields `Connection` names, and `also`."""
    headers = list(headers)
    drop = HOP_BY_HOP | _connection_tokens(headers) | also
    return [(name.lower(), value) for name, value in headers if name.lower() not in drop]


def upstream_headers(
    sent: Iterable[tuple[bytes, bytes]],
    *,
    request_id: str,
    client_ip: str | None,
    scheme: str,
    identity: tuple[str, str] | None,
    keep_length: bool,
    trace_context: Mapping[str, str] | None = None,
) -> Headers:
    """Return the headers to send upstream: the client's end-to-end ones, then the gateway's.

    With tracing on, `trace_context` (our span's traceparent) replaces whatever trace the client sent.
    """
    sent = list(sent)
    original = {name.lower(): value for name, value in sent}
    also = OURS_UPSTREAM if keep_length else OURS_UPSTREAM | {b"content-length"}
    if trace_context:
        also |= TRACE_CONTEXT
    headers = [(n, v) for n, v in end_to_end(sent, also) if not n.startswith(b"x-user-")]
    headers.append((b"x-request-id", request_id.encode()))
    if client_ip:
        headers.append((b"x-forwarded-for", client_ip.encode("latin-1")))
    headers.append((b"x-forwarded-proto", scheme.encode()))
    if b"host" in original:
        headers.append((b"x-forwarded-host", original[b"host"]))
    if b"user-agent" in original:
        headers.append((b"x-original-user-agent", original[b"user-agent"]))
    if identity is not None:
        headers += [(b"x-user-id", identity[0].encode()), (b"x-user-role", identity[1].encode())]
    for name, value in (trace_context or {}).items():
        headers.append((name.encode(), value.encode("latin-1")))
    return headers


def downstream_headers(received: Iterable[tuple[bytes, bytes]]) -> Headers:
    """Return the upstream answer's headers to pass on to the client."""
    return end_to_end(received, OURS_DOWNSTREAM)
