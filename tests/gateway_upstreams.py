"""A small upstream service for the gateway tests and benchmark, run under uvicorn in its own process.

Paths under /_ control it and are not counted: `/_stats` (requests seen per path, bytes
streamed so far), `/_reset`, `/_fail?count=N` (the next N requests answer 503) and
`/_down` / `/_up` (every request answers 503 until `/_up`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
from collections import Counter
from typing import Any

from starlette.types import Receive, Scope, Send

PATTERN = bytes(range(256)) * 256  # 64 KiB of known bytes, repeated to any size
_seen: Counter[str] = Counter()
_state: dict[str, Any] = {"fail": 0, "down": False, "sent": 0, "received": 0}


def pattern_bytes(size: int) -> bytes:
    """Return the first `size` bytes of the repeated pattern (for checking a download)."""
    whole, rest = divmod(size, len(PATTERN))
    return PATTERN * whole + PATTERN[:rest]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Serve the test upstream."""
    if scope["type"] != "http":
        return
    path: str = scope["path"]
    query = dict(p.split("=", 1) for p in scope["query_string"].decode().split("&") if "=" in p)
    if path.startswith("/_"):
        await _control(path, query, send)
        return
    _seen[path] += 1
    if _state["down"] or _state["fail"] > 0:
        _state["fail"] = max(0, _state["fail"] - 1)
        await _json(send, {"error": "failing on purpose"}, 503)
        return
    if path == "/health":
        await _json(send, {"status": "ok"})
    elif path == "/json":
        await _json(send, {"ok": True, "items": list(range(10))})
    elif path == "/bytes":
        await _bytes(send, int(query.get("size", "0")))
    elif path == "/slow":
        await asyncio.sleep(float(query.get("seconds", "1")))
        await _json(send, {"slept": True})
    elif path == "/die":
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1000000")]}
        )
        await send({"type": "http.response.body", "body": b"x" * 1000, "more_body": True})
        await asyncio.sleep(0.2)
        os.kill(os.getpid(), signal.SIGKILL)  # an upstream that dies in the middle of its answer
    else:
        await _echo(scope, receive, send, query)


async def _echo(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    digest, size, more = hashlib.sha256(), 0, True
    _state["received"] = 0
    while more:
        message = await receive()
        chunk = message.get("body", b"")
        digest.update(chunk)
        size += len(chunk)
        _state["received"] = size
        more = message.get("more_body", False)
    headers: dict[str, list[str]] = {}
    for name, value in scope["headers"]:
        headers.setdefault(name.decode("latin-1"), []).append(value.decode("latin-1"))
    answer = {
        "method": scope["method"],
        "path": scope["path"],
        "raw_path": scope.get("raw_path", b"").decode("latin-1"),
        "query": scope["query_string"].decode("latin-1"),
        "headers": headers,
        "size": size,
        "sha256": digest.hexdigest(),
    }
    cookie = [(b"set-cookie", f"sid={query['cookie']}; Path=/".encode())] if "cookie" in query else []
    await _json(send, answer, int(query.get("status", "200")), cookie)


async def _bytes(send: Send, size: int) -> None:
    _state["sent"] = 0
    headers = [(b"content-type", b"application/octet-stream"), (b"content-length", str(size).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    while _state["sent"] < size:
        chunk = PATTERN[: min(len(PATTERN), size - _state["sent"])]
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
        _state["sent"] += len(chunk)
    await send({"type": "http.response.body", "body": b""})


async def _control(path: str, query: dict[str, str], send: Send) -> None:
    if path == "/_reset":
        _seen.clear()
        _state.update(fail=0, down=False, sent=0, received=0)
    elif path == "/_fail":
        _state["fail"] = int(query.get("count", "1"))
    elif path in ("/_down", "/_up"):
        _state["down"] = path == "/_down"
    await _json(send, {"seen": dict(_seen), "sent": _state["sent"], "received": _state["received"]})


async def _json(
    send: Send, payload: object, status: int = 200, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += extra or []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
