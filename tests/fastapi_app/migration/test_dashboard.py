"""The migration dashboard in a real headless Chromium (Debian's, driven by Playwright), against uvicorn.

An admin signs in on the page, moves `GET /api/users/me` to migrated with its button
(accepting the confirmation), a real request to that route is then answered by the
FastAPI port (`X-Served-By`), and the roll-back button brings Flask back. The page must
run under its Content-Security-Policy without a single violation or script error. A
screenshot is kept in $ARTIFACTS_DIR (default tests/artifacts/).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from datalab.settings import Settings
from fastapi_app.main import create_app
from fastapi_app.migration.pages import DASHBOARD, DASHBOARD_CSP
from shared_models import Role
from tests.gateway_servers import served
from tests.helpers import PASSWORD, Accounts

CHROMIUM = "/usr/bin/chromium"
ROUTE = "GET /api/users/me"
ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR") or Path(__file__).resolve().parents[2] / "artifacts")


@pytest.fixture
def dashboard_app(settings: Settings, session: Session) -> Iterator[FastAPI]:
    """A fresh app (tables emptied after the test), its live states polled often."""
    app = create_app(settings.model_copy(update={"route_state_poll_seconds": 0.1}))
    yield app
    app.state.engine.dispose()


def _served_by(url: str, token: str, expected: str) -> str:
    """Return who answers a real request to the route, waiting (2 s at most) for `expected`."""
    deadline = time.monotonic() + 2.0
    while True:
        answer = httpx.get(f"{url}/api/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert answer.status_code == 200
        server = answer.headers["x-served-by"]
        # Every worker follows a change within its poll; the one that took it, at once.
        if server == expected or time.monotonic() > deadline:
            return server
        time.sleep(0.05)


def test_admin_flips_a_route_in_the_browser_and_rolls_it_back(
    dashboard_app: FastAPI, session: Session
) -> None:
    from playwright.sync_api import expect, sync_playwright

    assert shutil.which(CHROMIUM), "install Debian's chromium (.ci/run does)"
    accounts = Accounts(dashboard_app, session)
    admin = accounts.create("dashboard-admin@example.com", Role.ADMIN)
    user_token = accounts.tokens(accounts.create("someone@example.com", Role.USER)).access.token
    problems: list[str] = []
    with served(dashboard_app) as url, sync_playwright() as playwright:
        page_answer = httpx.get(f"{url}{DASHBOARD}", timeout=10)
        assert page_answer.headers["content-security-policy"] == DASHBOARD_CSP
        assert _served_by(url, user_token, "legacy_flask") == "legacy_flask"
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("dialog", lambda dialog: dialog.accept())  # the confirmation of each change
            page.goto(f"{url}{DASHBOARD}")
            page.fill("input[name=email]", admin.email)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            row = page.locator(f'tr[data-route="{ROUTE}"]')
            expect(row.locator("td.state")).to_have_text(re.compile(r"^legacy"), timeout=15_000)
            assert page.evaluate("document.documentElement.outerHTML").count("Bearer") == 0
            expect(page.locator("form#login")).to_be_hidden()

            row.locator("button[data-action=migrate]").click()
            expect(row.locator("td.state")).to_have_text(re.compile(r"^migrated"), timeout=15_000)
            assert _served_by(url, user_token, "fastapi") == "fastapi"
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "migration-dashboard.png"), full_page=True)

            row.locator("button[data-action=rollback]").click()
            expect(row.locator("td.state")).to_have_text(re.compile(r"^legacy"), timeout=15_000)
            assert _served_by(url, user_token, "legacy_flask") == "legacy_flask"
        finally:
            browser.close()
    assert not problems, problems
