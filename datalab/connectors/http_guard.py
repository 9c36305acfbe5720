"""An httpx client whose every TCP connection goes to an address the network guard checked.

The check lives in the network backend's `connect_tcp`, the one place httpcore opens a socket,
so the first request, each redirect hop and every reconnection are all checked when they
connect, against the address they connect to. TLS SNI and certificate checks still use the
host name: httpcore starts TLS on the stream with the URL's host.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import httpcore
import httpx

from datalab.connectors.base import ConnectorError, Limits
from datalab.connectors.network import checked_address

MAX_REDIRECTS = 5
_SCHEMES = {"http", "https"}


class GuardedBackend(httpcore.SyncBackend):
    """A network backend that resolves, checks and connects to the checked address."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Connect to `host` only through an address the guard allows."""
        address = checked_address(host, port, self._limits)
        return super().connect_tcp(address, port, timeout, local_address, socket_options)


def guarded_client(limits: Limits, timeout: float) -> httpx.Client:
    """An httpx client: no proxies from the environment, no automatic redirects, guarded sockets."""
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx has no public hook for the network backend; its pool is the documented httpcore one.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=4,
        network_backend=GuardedBackend(limits),
    )
    return httpx.Client(
        transport=transport,
        trust_env=False,
        follow_redirects=False,
        timeout=httpx.Timeout(timeout, connect=min(timeout, limits.connect_timeout_s)),
    )


def check_url(url: httpx.URL) -> None:
    """Refuse schemes other than http(s) and URLs carrying credentials."""
    if url.scheme not in _SCHEMES:
        raise ConnectorError("HOST_REFUSED", "Only http and https URLs are allowed.")
    try:
        host = url.host
    except ValueError:  # an IDNA label that does not decode, e.g. `xn--zz`
        raise ConnectorError("HOST_REFUSED", "The URL's host is not a valid name.") from None
    if not host:
        raise ConnectorError("HOST_REFUSED", "The URL has no host.")
    if url.userinfo:
        raise ConnectorError("HOST_REFUSED", "Put credentials in headers, not in the URL.")


def _same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def fetch(
    client: httpx.Client, url: httpx.URL, headers: dict[str, str], limits: Limits, timeout: float
) -> tuple[int, bytes, str]:
    """GET `url`, following at most MAX_REDIRECTS checked hops; return status, body and content type.

    The body is capped at `limits.max_response_bytes` and the whole exchange at `timeout` seconds.
    The source's headers (its credentials) are sent to its own origin only.
    """
    deadline = time.monotonic() + timeout
    origin, current = url, url
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            check_url(current)
            sent = headers if _same_origin(current, origin) else {}
            with client.stream("GET", current, headers=sent) as response:
                if response.has_redirect_location:
                    current = _redirect_target(current, response.headers["location"])
                    continue
                return response.status_code, _read_capped(response, limits, deadline), _content_type(response)
    except httpx.TimeoutException:
        raise ConnectorError("TIMEOUT", "The API did not answer in time.") from None
    except (httpx.RemoteProtocolError, httpx.InvalidURL, ValueError):
        # httpx builds the next request from Location before we see it: an unparsable one is
        # RemoteProtocolError, an IDNA host such as `xn--zz` a bare ValueError (IDNAError).
        raise ConnectorError("BAD_RESPONSE", "The API's answer is not valid HTTP.") from None
    except httpx.HTTPError:
        raise ConnectorError("UNREACHABLE", "The API could not be reached.") from None
    raise ConnectorError("BAD_RESPONSE", f"The API redirected more than {MAX_REDIRECTS} times.")


def _redirect_target(current: httpx.URL, location: str) -> httpx.URL:
    # httpx.InvalidURL is not an httpx.HTTPError, and a host such as `xn--zz` only fails when it
    # is decoded (IDNAError, a ValueError): a malformed Location must not escape as a 500.
    try:
        target = current.join(location)
        _ = target.host
        return target
    except (httpx.InvalidURL, TypeError, ValueError):
        raise ConnectorError("BAD_RESPONSE", "The API redirected to an address that is not a URL.") from None


def _content_type(response: httpx.Response) -> str:
    return str(response.headers.get("content-type", "")).split(";")[0].strip()


def _read_capped(response: httpx.Response, limits: Limits, deadline: float) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_response_bytes:
        raise ConnectorError("RESPONSE_TOO_LARGE", "The API's answer is larger than the configured limit.")
    body = bytearray()
    for chunk in response.iter_bytes():
        body.extend(chunk)
        if len(body) > limits.max_response_bytes:
            raise ConnectorError(
                "RESPONSE_TOO_LARGE", "The API's answer is larger than the configured limit."
            )
        if time.monotonic() > deadline:
            raise ConnectorError("TIMEOUT", "The API did not finish answering in time.")
    return bytes(body)
