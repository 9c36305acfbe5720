"""The front door: `GET /` says where things are, and /docs works with no network at all."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from datalab.settings import Settings
from tests.edge_apps import edge_client

CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


class References(HTMLParser):
    """Collects every src and href of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Keep the tag's src and href values."""
        self.found += [value for name, value in attrs if name in {"src", "href"} and value]


def test_docs_page_and_every_asset_it_references_come_from_the_app(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    parser = References()
    parser.feed(page.text)
    assert len(parser.found) == 3  # script, style sheet, icon
    for reference in parser.found:
        assert reference.startswith("/"), f"{reference} is not served by this process"
        asset = client.get(reference)
        assert asset.status_code == 200, reference
        expected = next(kind for suffix, kind in CONTENT_TYPES.items() if reference.endswith(suffix))
        assert expected in asset.headers["content-type"], reference
    # The page loads the document it describes from the app too.
    assert "'/api/v1/openapi.json'" in page.text
    assert "self" in page.headers["content-security-policy"]
    assert "https:" not in page.headers["content-security-policy"]


def test_front_page_is_a_json_index(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.json() == {
        "name": "Datalab API",
        "version": "0.1.0",
        "links": {
            "docs": "/docs",
            "health": "/api/health",
            "v1_health": "/api/v1/health",
            "openapi": "/api/v1/openapi.json",
        },
    }
    for link in response.json()["links"].values():
        assert client.get(link).status_code == 200, link


@pytest.mark.parametrize("path", ["/docs", "/docs/assets/swagger-ui-bundle.js"])
def test_production_serves_no_docs_but_the_index(settings: Settings, path: str) -> None:
    with edge_client(settings, env="production") as production:
        assert production.get(path).status_code == 404
        assert "docs" not in production.get("/").json()["links"]
