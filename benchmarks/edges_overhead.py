"""Cost of the edge middleware per request, and of one rate-limit check in memory and in Redis.

uv run python benchmarks/edges_overhead.py   (in process, no HTTP; Redis at 127.0.0.1:6379 db 6)

The ASGI app is called directly with a minimal scope, once with our middleware (request
context, edges, body limit) and once with Starlette's and FastAPI's own layers only, on
`/health/live` (no I/O), so the difference is what our middleware costs. Rounds
alternate so both see the same machine noise.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from datalab.settings import Settings
from fastapi_app.edges.logs import configure_logging
from fastapi_app.edges.ratelimit import RateLimiter
from fastapi_app.main import create_app

ROUNDS, REQUESTS = 5, 2000


def _scope() -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/health/live",
        "raw_path": b"/health/live",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("203.0.113.7", 5000),
        "server": ("testserver", 80),
    }


async def _per_request_us(app: Any) -> float:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_: dict[str, Any]) -> None:
        return None

    start = time.perf_counter()
    for _ in range(REQUESTS):
        await app(_scope(), receive, send)
    return (time.perf_counter() - start) / REQUESTS * 1e6


def _hit_us(limiter: RateLimiter, action: str | None) -> float:
    start = time.perf_counter()
    for n in range(REQUESTS):
        limiter.hit(limiter.checks(f"10.0.{n % 200}.1", action, "bench@example.com" if action else None))
    return (time.perf_counter() - start) / REQUESTS * 1e6


def main() -> None:
    """Print the medians of each measure."""
    folder = Path(tempfile.mkdtemp())
    base: dict[str, Any] = {"_env_file": None, "env": "test", "var_dir": folder, "log_level": "WARNING"}
    settings = Settings(**base, rate_limit_default="1000000/minute", rate_limit_login="1000000/minute")
    app = create_app(settings)
    full_stack = app.build_middleware_stack()
    ours, app.user_middleware = app.user_middleware, []
    bare_stack = app.build_middleware_stack()  # Starlette's and FastAPI's own layers only
    app.user_middleware = ours
    whole, router = [], []
    for _ in range(ROUNDS):
        whole.append(asyncio.run(_per_request_us(full_stack)))
        router.append(asyncio.run(_per_request_us(bare_stack)))
    print(f"/health/live with our middleware:      {statistics.median(whole):.0f} us")
    print(f"/health/live without it:               {statistics.median(router):.0f} us")
    cost = statistics.median(whole) - statistics.median(router)
    print(f"middleware cost per request:           {cost:.0f} us (access log off: LOG_LEVEL=WARNING)")
    with open(os.devnull, "w") as devnull:
        configure_logging(Settings(**base | {"log_level": "INFO", "log_format": "json"}), stream=devnull)
        logged = statistics.median(asyncio.run(_per_request_us(full_stack)) for _ in range(ROUNDS))
        configure_logging(settings)
    print(f"... with the JSON access line written:  {logged - statistics.median(router):.0f} us")
    redis_settings = Settings(**base, redis_url="redis://127.0.0.1:6379/6", rate_limit_login="1000000/minute")
    for name, limiter in (("memory", RateLimiter(settings)), ("redis", RateLimiter(redis_settings))):
        default = statistics.median(_hit_us(limiter, None) for _ in range(ROUNDS))
        login = statistics.median(_hit_us(limiter, "login") for _ in range(ROUNDS))
        print(f"rate-limit checks, {name}: default {default:.0f} us, login (3 buckets) {login:.0f} us")
    RateLimiter(redis_settings).storage.reset()


if __name__ == "__main__":
    main()
