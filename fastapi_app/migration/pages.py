"""What the migration serves outside /api/v1: the legacy contract's OpenAPI and the operators' dashboard.

Both are FastAPI routes added ahead of the Flask mount, so neither needs Flask. The
dashboard is one server-rendered page plus its script and style sheet, all from this
process (no CDN, no build step); its data comes from `GET /api/v1/admin/migration`
after an admin signs in on the page, and its buttons call `PATCH` on the same path.
"""

from __future__ import annotations

import html
from importlib.resources import files
from string import Template
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, JSONResponse, Response

from fastapi_app.migration import Migration
from fastapi_app.migration.openapi import PATH as OPENAPI_PATH
from fastapi_app.migration.openapi import legacy_openapi
from fastapi_app.migration.stats import LATENCY_WINDOW

DASHBOARD = "/admin/migration"
ASSETS = f"{DASHBOARD}/assets"
REPORT = "/api/v1/admin/migration"
LOGIN = "/api/v1/auth/login"
# Script and style only from this origin (no inline code at all), API calls to it, an empty icon.
DASHBOARD_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
_FILES = files("fastapi_app.migration") / "dashboard"
_MEDIA = {"dashboard.js": "text/javascript; charset=utf-8", "dashboard.css": "text/css; charset=utf-8"}


def add_migration_pages(app: FastAPI, migration: Migration) -> dict[str, str]:
    """Add `GET /api/openapi.json` and the dashboard; return the Content-Security-Policy of each page."""
    document: dict[str, Any] = {}

    @app.get(OPENAPI_PATH, include_in_schema=False)
    async def legacy_contract() -> JSONResponse:
        # Public, like /api/v1/openapi.json: it describes what every old client already calls.
        if not document:
            document.update(legacy_openapi(migration.registry))
        return JSONResponse(document)

    page = dashboard_html(app.title)

    @app.get(DASHBOARD, include_in_schema=False)
    async def dashboard() -> HTMLResponse:
        return HTMLResponse(page)

    assets = {name: (_FILES / name).read_bytes() for name in _MEDIA}

    @app.get(f"{ASSETS}/{{name}}", include_in_schema=False)
    async def dashboard_asset(name: str) -> Response:
        if name not in assets:
            raise HTTPException(404)
        return Response(assets[name], media_type=_MEDIA[name])

    return {DASHBOARD: DASHBOARD_CSP}


def dashboard_html(service: str) -> str:
    """Return the dashboard page; every value put into it is HTML-escaped."""
    values = {
        "title": f"{service}: route migration",
        "assets": ASSETS,
        "login": LOGIN,
        "report": REPORT,
        "window": str(LATENCY_WINDOW),
    }
    template = Template((_FILES / "page.html").read_text(encoding="utf-8"))
    return template.substitute({key: html.escape(value) for key, value in values.items()})
