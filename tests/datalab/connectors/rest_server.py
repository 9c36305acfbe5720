"""A small JSON API on 127.0.0.1 for the REST connector tests (stdlib http.server in a thread)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ITEMS = [
    {"id": i, "name": f"item {i}", "price": i * 1.5, "tags": ["a"] if i % 2 else None} for i in range(1, 31)
]
TOKEN = "rest-secret-token"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        """Keep test output quiet."""

    def _send(self, status: int, body: bytes, content_type: str = "application/json", **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its time or byte cap), as the tests expect

    def _json(self, payload: Any, status: int = 200) -> None:
        self._send(status, json.dumps(payload).encode())

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        """Answer the routes the tests use."""
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        self.server.seen.append((url.path, dict(self.headers)))
        routes: dict[str, Callable[[], None]] = {
            "/": lambda: self._json({"name": "test api", "items": ITEMS[:3]}),
            "/items": lambda: self._json(ITEMS[: int(query.get("n", ["30"])[0])]),
            "/wrapped": lambda: self._json({"total": 3, "data": ITEMS[:3]}),
            "/scalars": lambda: self._json([1, 2, 3]),
            "/deep": lambda: self._send(200, b"[" * 20000 + b"]" * 20000),
            "/deep-row": lambda: self._send(200, b'[{"a": ' + b"[" * 900 + b"]" * 900 + b"}]"),
            "/private": self._private,
            "/not-json": lambda: self._send(200, b"<html>hello</html>", "text/html"),
            "/missing": lambda: self._json({"error": "nope"}, 404),
            "/huge": lambda: self._json([{"blob": "x" * 1000} for _ in range(200)]),
            "/huge-chunked": self._huge_chunked,
            "/slow": self._slow,
            "/redirect": lambda: self._send(302, b"", Location=query["to"][0]),
            "/loop": lambda: self._send(302, b"", Location="/loop"),
            "/bad-location": lambda: self._send(302, b"", Location="http://[::1"),
            "/wide": lambda: self._json({f"k{i}": i for i in range(int(query.get("n", ["10"])[0]))}),
        }
        routes.get(url.path, lambda: self._json({"error": "no route"}, 404))()

    def _private(self) -> None:
        if self.headers.get("X-Token") == TOKEN:
            self._json(ITEMS[:2])
        else:
            self._json({"error": "unauthorized"}, 401)

    def _slow(self) -> None:
        time.sleep(2.5)
        self._json(ITEMS[:1])

    def _huge_chunked(self) -> None:
        # No Content-Length: the client must count the bytes itself.
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"x" * 8192
        try:
            for _ in range(100):
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading at its cap, as it should


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    seen: list[tuple[str, dict[str, str]]]


class RestServer:
    """The API running on a free port; `url` is its base URL, `seen` the requests it answered."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.seen = []
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def seen(self) -> list[tuple[str, dict[str, str]]]:
        """The (path, headers) of each request, in order."""
        return self._server.seen

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
