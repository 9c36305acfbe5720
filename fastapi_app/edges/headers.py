"""Security headers, exactly once, on every answer of both halves, errors included."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The Swagger UI page loads its script, style and icon from this process and runs one inline script.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)


def security_headers(*, csp: str, hsts_seconds: int) -> list[tuple[bytes, bytes]]:
    """Return the headers every answer carries, with `csp` as its Content-Security-Policy."""
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"content-security-policy", csp.encode()),
        (b"permissions-policy", PERMISSIONS_POLICY.encode()),
        (b"cache-control", b"no-store"),
    ]
    if hsts_seconds > 0:
        headers.append((b"strict-transport-security", f"max-age={hsts_seconds}; includeSubDomains".encode()))
    return headers


class SecurityHeadersMiddleware:
    """Set the security headers on each response, replacing any a half set itself."""

    def __init__(self, app: ASGIApp, *, hsts_seconds: int = 0, docs_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.api_headers = security_headers(csp=API_CSP, hsts_seconds=hsts_seconds)
        self.docs_headers = security_headers(csp=DOCS_CSP, hsts_seconds=hsts_seconds)
        self.docs_paths = docs_paths
        self.names = {name for name, _ in self.api_headers}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ours = self.docs_headers if scope["path"] in self.docs_paths else self.api_headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [h for h in message.get("headers", []) if h[0].lower() not in self.names]
                message["headers"] = [*kept, *ours]
            await send(message)

        await self.app(scope, receive, send_with_headers)
