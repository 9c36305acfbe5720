"""One pooled httpx client per event loop (a server has one; test clients each bring their own)."""

from __future__ import annotations

import asyncio
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx


class ClientPool:
    """Hands out the current event loop's client, made on first use, closed with `close()`."""

    def __init__(self, max_connections: int) -> None:
        self.limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}

    def get(self) -> httpx.AsyncClient:
        """Return this loop's client."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            # No proxy variables from the environment, no redirects followed: the answer is the client's.
            client = httpx.AsyncClient(
                limits=self.limits,
                trust_env=False,
                follow_redirects=False,
                timeout=None,  # noqa: S113 - set per request
                # No cookie kept: one user's Set-Cookie must never ride along on another user's request.
                cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            )
            client.headers = httpx.Headers()  # no default Accept-Encoding or User-Agent of httpx's own
            self._clients[loop] = client
        return client

    async def close(self) -> None:
        """Close this loop's client, if it made one."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
