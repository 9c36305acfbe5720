"""The benchmark-only app without its outer middleware."""

from __future__ import annotations

from fastapi.testclient import TestClient

from benchmarks.bare_asgi import create_app
from datalab.settings import Settings


def test_bare_app_serves_both_halves_without_the_middleware(settings: Settings, client: TestClient) -> None:
    with TestClient(create_app(settings)) as bare:
        legacy = bare.get("/api/health")
        unknown_v1 = bare.get("/api/v1/nowhere")
    assert legacy.status_code == 200
    assert legacy.json()["service"] == "legacy_flask"
    assert unknown_v1.status_code == 404
    for response in (legacy, unknown_v1):
        assert "x-request-id" not in response.headers
        assert "x-served-by" not in response.headers
    # The same request on the full app carries what the middleware adds.
    full = client.get("/api/health")
    assert {"x-request-id", "x-served-by"} <= set(full.headers)
