"""GET /api/health."""

from fastapi.testclient import TestClient


def test_health_answers_ok(client: TestClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "legacy_flask"}


def test_unknown_legacy_path_is_json_404(client: TestClient) -> None:
    response = client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"msg": "Not found"}


def test_wrong_method_is_json_405(client: TestClient) -> None:
    response = client.delete("/api/health")
    assert response.status_code == 405
    assert response.json() == {"msg": "Method not allowed"}
    assert "GET" in response.headers["Allow"]
