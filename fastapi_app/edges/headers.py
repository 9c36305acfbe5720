"""Security headers, exactly once, on every answer of both halves, errors included."""

from __future__ import annotations

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
