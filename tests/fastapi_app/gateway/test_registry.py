"""The service registry: read from SERVICES or SERVICES_FILE, and refused at start-up, by name, when wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import BaseRoute

from datalab.settings import Settings
from fastapi_app.gateway.registry import GatewayConfigError
from tests.edge_apps import edge_app
from tests.gateway_servers import gateway_app, service

URL = "http://127.0.0.1:9"


def _paths(routes: list[BaseRoute]) -> set[str]:
    return {getattr(route, "path", "") for route in routes}


def test_no_services_by_default(settings: Settings) -> None:
    with edge_app(settings) as app:
        assert not [p for p in _paths(app.routes) if "{path:path}" in p]
        assert app.state.gateway.upstreams == []


def test_planned_prefixes_for_the_known_services(settings: Settings) -> None:
    names = ("analysis", "ai", "visualization", "compute")
    with gateway_app(settings, *(service(name, URL) for name in names)) as app:
        paths = _paths(app.routes)
    for prefix in ("analysis", "ai", "visualizations", "compute"):
        assert f"/api/v1/{prefix}" in paths
        assert f"/api/v1/{prefix}/{{path:path}}" in paths


def test_services_file_in_toml(settings: Settings, tmp_path: Path) -> None:
    registry = tmp_path / "services.toml"
    registry.write_text(
        '[[services]]\nname = "reports"\nurls = ["http://127.0.0.1:9", "http://127.0.0.1:10"]\n'
        'prefix = "/reports"\ntimeout = 5\nretries = 1\nhealth_path = "/ping"\n'
    )
    with gateway_app(settings, services_file=registry) as app:
        (upstream,) = app.state.gateway.services
    assert (upstream.name, upstream.prefix, upstream.timeout, upstream.retries) == (
        "reports",
        "/api/v1/reports",
        5,
        1,
    )
    assert [i.label for i in upstream.instances] == ["127.0.0.1:9", "127.0.0.1:10"]
    assert upstream.health_path == "/ping"


BAD: list[tuple[Any, str]] = [
    ([service("analysis")], "service 'analysis': urls"),
    ([service("analysis", "ftp://127.0.0.1")], "service 'analysis': urls: urls[0] is not an http(s) URL"),
    (
        [service("analysis", "http://admin:hunter2@10.0.0.1")],
        "service 'analysis': urls: urls[0] carries credentials",
    ),
    ([service("reports", URL)], "service 'reports': no prefix given"),
    ([service("users", URL, prefix="/users")], "service 'users': prefix /api/v1/users collides with route"),
    ([service("h", URL, prefix="/health")], "collides with route /api/v1/health"),
    (
        [service("ai", URL), service("ml", URL, prefix="/ai/models")],
        "service 'ml': prefix /api/v1/ai/models overlaps",
    ),
    ([service("ai", URL), service("ai", URL, prefix="/ai2")], "service 'ai': the name is used twice"),
    ([service("ai", URL, retries=99)], "service 'ai': retries:"),
    ([service("ai", URL, colour="blue")], "service 'ai': colour: Extra inputs are not permitted"),
    ([service("Bad Name", URL)], "service 'Bad Name': name:"),
    ({"name": "ai"}, "SERVICES must be a list"),
]


@pytest.mark.parametrize(("entries", "message"), BAD)
def test_bad_registry_stops_start_up_naming_the_entry(settings: Settings, entries: Any, message: str) -> None:
    with pytest.raises(GatewayConfigError) as caught, edge_app(settings, services=json.dumps(entries)):
        pass
    assert message in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert "\n" not in str(caught.value)


def test_services_not_json(settings: Settings) -> None:
    with pytest.raises(GatewayConfigError, match="SERVICES is not JSON"), edge_app(settings, services="[{"):
        pass


def test_bad_legacy_upstream(settings: Settings) -> None:
    with (
        pytest.raises(GatewayConfigError, match="LEGACY_UPSTREAM"),
        edge_app(settings, legacy_upstream="tcp://x"),
    ):
        pass
