"""The client's request body on its way upstream: held when small (a retry can replay it), else streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.types import Receive

REPLAY_LIMIT = 64 * 1024  # bodies up to this size are kept for a retry; bigger ones stream once


class BodyTooLarge(Exception):
    """The body passed GATEWAY_MAX_BODY_BYTES while it streamed."""


class ClientGone(Exception):
    """The client disconnected before its body was read."""


class RequestBody:
    """Reads the first REPLAY_LIMIT bytes up front; the rest, if any, streams to the upstream untouched."""

    def __init__(self, receive: Receive, max_bytes: int) -> None:
        self.receive = receive
        self.max_bytes = max_bytes
        self.head = b""
        self.complete = False
        self.started = False  # a streamed body began to go upstream: it cannot be sent again
        self.size = 0

    async def prime(self) -> None:
        """Read until the body ends or passes REPLAY_LIMIT."""
        chunks: list[bytes] = []
        while not self.complete and self.size <= REPLAY_LIMIT:
            chunk, more = await self._next()
            chunks.append(chunk)
            self.complete = not more
        self.head = b"".join(chunks)

    @property
    def replayable(self) -> bool:
        """Tell whether the whole body is in memory (or was never started), so it can be sent again."""
        return self.complete or not self.started

    def content(self) -> bytes | AsyncIterator[bytes]:
        """Return the body for httpx: the bytes, or an iterator that streams the rest from the client."""
        return self.head if self.complete else self._stream()

    async def _stream(self) -> AsyncIterator[bytes]:
        self.started = True
        yield self.head
        more = True
        while more:
            chunk, more = await self._next()
            if chunk:
                yield chunk

    async def _next(self) -> tuple[bytes, bool]:
        message = await self.receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk: bytes = message.get("body", b"")
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise BodyTooLarge
        return chunk, bool(message.get("more_body", False))
