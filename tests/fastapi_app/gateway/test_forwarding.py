"""Forwarding to a real upstream: what is sent, who may send it, and what is counted."""

from __future__ import annotations

import hashlib

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from datalab.settings import Settings
from shared_models import User
from tests.gateway_servers import UpstreamControl, gateway_app, service
from tests.helpers import Accounts, error_of


def test_forwards_method_path_query_body_and_identity(
    settings: Settings, upstream: UpstreamControl, user: User, user_headers: dict[str, str]
) -> None:
    body = b'{"rows": [1, 2, 3]}'
    sent_headers = {
        **user_headers,
        "X-User-Id": "1",  # forged: the gateway says who the caller is
        "X-User-Role": "admin",
        "X-User-Email": "boss@example.com",
        "X-Forwarded-For": "10.9.9.9",
        "Connection": "x-private",
        "X-Private": "hop-only",
        "Keep-Alive": "timeout=5",
        "User-Agent": "analysis-client/1.0",
        "X-Request-ID": "req-gw-1",
        "Content-Type": "application/json",
    }
    with gateway_app(settings, service("analysis", upstream.url)) as app, TestClient(app) as client:
        response = client.post("/api/v1/analysis/jobs/7/run?x=1&y=a%20b", content=body, headers=sent_headers)
    assert response.status_code == 200, response.text
    echo = response.json()
    headers = echo["headers"]
    assert (echo["method"], echo["path"], echo["query"]) == ("POST", "/jobs/7/run", "x=1&y=a%20b")
    assert echo["sha256"] == hashlib.sha256(body).hexdigest()
    assert headers["x-user-id"] == [str(user.id)]
    assert headers["x-user-role"] == ["user"]
    assert "x-user-email" not in headers
    assert headers["authorization"] == [user_headers["Authorization"]]
    assert headers["x-request-id"] == ["req-gw-1"] == [response.headers["X-Request-ID"]]
    assert headers["x-forwarded-for"] == ["testclient"]
    assert headers["x-forwarded-proto"] == ["http"]
    assert headers["x-forwarded-host"] == ["testserver"]
    assert headers["x-original-user-agent"] == ["analysis-client/1.0"]
    assert headers["content-type"] == ["application/json"]
    for hop in ("x-private", "keep-alive", "connection"):
        assert hop not in headers or headers[hop] != ["hop-only"], hop
    assert "x-private" not in headers
    assert response.headers["X-Served-By"] == "gateway:analysis"


def test_connection_header_cannot_strip_the_identity(
    settings: Settings, upstream: UpstreamControl, user: User, user_headers: dict[str, str]
) -> None:
    with gateway_app(settings, service("ai", upstream.url)) as app, TestClient(app) as client:
        response = client.get(
            "/api/v1/ai/x", headers={**user_headers, "Connection": "X-User-Id, X-User-Role"}
        )
    assert response.json()["headers"]["x-user-id"] == [str(user.id)]
    assert response.json()["headers"]["x-user-role"] == ["user"]


def test_no_token_401_and_nothing_forwarded(settings: Settings, upstream: UpstreamControl) -> None:
    with gateway_app(settings, service("compute", upstream.url)) as app, TestClient(app) as client:
        error_of(client.get("/api/v1/compute/jobs"), 401, "TOKEN_MISSING")
        error_of(
            client.get("/api/v1/compute/jobs", headers={"Authorization": "Bearer nope"}), 401, "TOKEN_INVALID"
        )
    assert upstream.seen("/jobs") == 0


def test_revoked_token_never_forwarded(
    settings: Settings, upstream: UpstreamControl, user_headers: dict[str, str]
) -> None:
    with gateway_app(settings, service("compute", upstream.url)) as app, TestClient(app) as client:
        assert client.get("/api/v1/compute/jobs", headers=user_headers).status_code == 200
        assert client.post("/api/v1/auth/logout", headers=user_headers).status_code == 204
        error_of(client.get("/api/v1/compute/jobs", headers=user_headers), 401, "TOKEN_REVOKED")
    assert upstream.seen("/jobs") == 1


def test_deactivated_user_never_forwarded(
    settings: Settings, upstream: UpstreamControl, accounts: Accounts, session: Session
) -> None:
    user = accounts.create("leaving@example.com")
    headers = accounts.headers(user)
    user.is_active = False
    session.commit()
    with gateway_app(settings, service("compute", upstream.url)) as app, TestClient(app) as client:
        response = client.delete("/api/v1/compute/jobs/1", headers=headers)
    assert response.status_code == 401, response.text
    assert upstream.seen("/jobs/1") == 0


def test_upstream_answer_passes_through_with_its_status(
    settings: Settings, upstream: UpstreamControl, user_headers: dict[str, str]
) -> None:
    with gateway_app(settings, service("visualization", upstream.url)) as app, TestClient(app) as client:
        response = client.get("/api/v1/visualizations/charts?status=418", headers=user_headers)
        whole = client.get("/api/v1/visualizations", headers=user_headers)
    assert response.status_code == 418
    assert response.json()["path"] == "/charts"
    assert whole.json()["path"] == "/"


def test_dot_segments_are_refused(
    settings: Settings, upstream: UpstreamControl, user_headers: dict[str, str]
) -> None:
    with gateway_app(settings, service("ai", upstream.url + "/v2")) as app, TestClient(app) as client:
        error_of(client.get("/api/v1/ai/%2e%2e/admin", headers=user_headers), 404, "NOT_FOUND")
    assert [path for path in upstream.stats()["seen"] if not path.endswith("/health")] == []


def test_metrics_count_requests_by_service_and_status(
    settings: Settings, upstream: UpstreamControl, user_headers: dict[str, str]
) -> None:
    with (
        gateway_app(settings, service("analysis", upstream.url), metrics_allow=["0.0.0.0/0"]) as app,
        TestClient(app, client=("127.0.0.1", 5000)) as client,
    ):
        client.get("/api/v1/analysis/a", headers=user_headers)
        client.get("/api/v1/analysis/b?status=404", headers=user_headers)
        text = client.get("/metrics").text
    assert 'datalab_gateway_requests_total{service="analysis",status="200"} 1.0' in text
    assert 'datalab_gateway_requests_total{service="analysis",status="404"} 1.0' in text
    assert 'route="/api/v1/analysis/{path}"' in text or 'route="/api/v1/analysis/{path:path}"' in text


def test_ready_lists_services_without_failing(
    settings: Settings, upstream: UpstreamControl, second_upstream: UpstreamControl
) -> None:
    second_upstream.down()
    services = (service("analysis", upstream.url), service("ai", second_upstream.url))
    with gateway_app(settings, *services, health_check_interval=0.05) as app, TestClient(app) as client:
        for _ in range(200):  # the first checks run as the app starts; bounded wait for them
            body = client.get("/health/ready").json()
            if all(i["healthy"] is not None for s in body["services"].values() for i in s["instances"]):
                break
            client.portal.call(_pause) if client.portal else None
        response = client.get("/health/ready")
    assert response.status_code == 200
    listed = response.json()["services"]
    assert listed["analysis"]["status"] == "ok"
    assert listed["ai"]["status"] == "down"
    assert listed["ai"]["instances"][0]["healthy"] is False


async def _pause() -> None:
    import anyio  # noqa: PLC0415

    await anyio.sleep(0.02)


def test_gateway_body_limit_declared_and_streamed(
    settings: Settings, upstream: UpstreamControl, user_headers: dict[str, str]
) -> None:
    small = {"gateway_max_body_bytes": 100_000, "max_body_bytes": 1_024}
    with gateway_app(settings, service("analysis", upstream.url), **small) as app, TestClient(app) as client:
        # MAX_BODY_BYTES (1 KiB here) does not apply to a service prefix; the gateway's own limit does.
        fits = client.put("/api/v1/analysis/up", headers=user_headers, content=b"x" * 50_000)
        declared = client.put("/api/v1/analysis/up", headers=user_headers, content=b"x" * 100_001)
        streamed = client.put("/api/v1/analysis/up", headers=user_headers, content=iter([b"x" * 60_000] * 3))
    assert fits.json()["size"] == 50_000
    error_of(declared, 413, "PAYLOAD_TOO_LARGE")
    error_of(streamed, 413, "PAYLOAD_TOO_LARGE")


def test_cookies_set_for_one_caller_never_reach_another(
    settings: Settings,
    upstream: UpstreamControl,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
) -> None:
    with gateway_app(settings, service("analysis", upstream.url)) as app, TestClient(app) as client:
        first = client.get("/api/v1/analysis/login?cookie=secret-of-user", headers=user_headers)
        client.cookies.clear()  # the second caller is someone else, with no cookie of their own
        second = client.get("/api/v1/analysis/next", headers=other_headers)
    assert first.headers["set-cookie"].startswith("sid=secret-of-user")  # the caller's own, passed on
    assert "cookie" not in second.json()["headers"]
