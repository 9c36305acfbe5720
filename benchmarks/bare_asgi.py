"""Benchmark only: the combined app without its outer middleware, to price that stack.

    uvicorn --factory benchmarks.bare_asgi:create_app

Starlette builds the middleware stack on the first request, so clearing the declared
middleware before then leaves only what Starlette always adds (its error and exception
handlers) around the router. Never serve this: it has no request ids and no body limit.
"""

from __future__ import annotations

from fastapi import FastAPI

from datalab.settings import Settings
from fastapi_app.main import create_app as create_full_app


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the combined app and strip every middleware added with `add_middleware`."""
    app = create_full_app(settings)
    app.user_middleware.clear()
    return app
