"""The front door: `GET /`, a small JSON index, and `/docs`, Swagger UI served from this process.

Swagger UI's script, style sheet and icon come from the `fastapi-offline` package (which
bundles them, MIT), mounted under /docs/assets, so the docs work without the internet and
the page's Content-Security-Policy allows only 'self'. ReDoc is not served.
"""

from __future__ import annotations

from importlib.metadata import version
from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

DOCS = "/docs"
ASSETS = "/docs/assets"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"


def add_front_routes(app: FastAPI, *, docs: bool) -> tuple[str, ...]:
    """Add `GET /` and, when `docs`, the Swagger UI page and its assets; return the docs paths."""
    links = {"health": "/api/health", "v1_health": "/api/v1/health", "openapi": app.openapi_url}
    if docs:
        links = {"docs": DOCS, **links}
    index = {"name": app.title, "version": version("datalab"), "links": links}

    @app.get("/", include_in_schema=False)
    async def front() -> JSONResponse:
        return JSONResponse(index)

    if not docs:
        return ()
    assets = str(files("fastapi_offline") / "static")
    app.mount(ASSETS, StaticFiles(directory=assets), name="docs-assets")

    @app.get(DOCS, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=str(app.openapi_url),
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=OAUTH2_REDIRECT,
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
        )

    @app.get(OAUTH2_REDIRECT, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    return (DOCS, OAUTH2_REDIRECT)
