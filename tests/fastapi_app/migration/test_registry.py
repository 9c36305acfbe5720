"""The route registry: defaults from the file, ROUTE_STATES on top, and refusals that name the route."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from datalab.settings import Settings
from fastapi_app.main import create_app
from fastapi_app.migration.ports import PORTED
from fastapi_app.migration.registry import DEFAULT_FILE, RegistryError, check_url_map, load_registry

ROUTE = """
[routes."GET /api/users/me"]
state = "{state}"
successor = "/api/v1/auth/profile"
deprecation = {deprecation}
{extra}
"""


def registry_file(tmp_path: Path, text: str) -> Path:
    """Write a registry file and return its path."""
    path = tmp_path / "routes.toml"
    path.write_text(text, encoding="utf-8")
    return path


def one_route(
    tmp_path: Path, *, state: str = "legacy", deprecation: str = "2026-11-22T00:00:00Z", extra: str = ""
) -> Path:
    """Write a registry of only GET /api/users/me."""
    return registry_file(tmp_path, ROUTE.format(state=state, deprecation=deprecation, extra=extra))


def test_defaults_put_every_route_on_flask(settings: Settings) -> None:
    registry = load_registry(settings, ported=PORTED)
    assert {entry.state for entry in registry.routes.values()} == {"legacy"}
    assert registry.routes["GET /api/data-sources/<id>"].successor == "/api/v1/data-sources/<id>"


def test_registry_lists_exactly_flasks_routes(settings: Settings, flask_app: Flask) -> None:
    registry = load_registry(settings, ported=PORTED)
    flask_routes = {
        f"{method} {rule.rule}"
        for rule in flask_app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    rules = check_url_map(registry, (tuple(name.split(" ")) for name in flask_routes))  # type: ignore[misc]
    assert set(rules) == set(registry.routes)
    assert len(flask_routes) == len(registry.routes)
    assert rules["PUT /api/users/<id>/role"] == "/api/users/<int:user_id>/role"


def test_route_states_override_the_file(settings: Settings) -> None:
    overrides = {"GET /api/users/me": "migrated", "GET /api/data-sources": "shadow"}
    registry = load_registry(settings.model_copy(update={"route_states": overrides}), ported=PORTED)
    assert registry.routes["GET /api/users/me"].state == "migrated"
    assert registry.routes["GET /api/data-sources"].state == "shadow"
    assert registry.routes["PUT /api/users/me"].state == "legacy"


def test_every_route_of_the_registry_has_a_port(settings: Settings) -> None:
    assert PORTED == set(load_registry(settings, ported=PORTED).routes)
    assert len(PORTED) == 19


@pytest.mark.parametrize(
    ("states", "words"),
    [
        ({"GET /api/user/me": "migrated"}, "unknown route 'GET /api/user/me'"),
        ({"GET /api/users/me": "moved"}, "route 'GET /api/users/me': unknown state 'moved'"),
    ],
    ids=["unknown-route", "unknown-state"],
)
def test_bad_route_states_refuse_to_start(settings: Settings, states: dict[str, str], words: str) -> None:
    with pytest.raises(RegistryError, match=re.escape(words)):
        create_app(settings.model_copy(update={"route_states": states}))


@pytest.mark.parametrize("state", ["migrated", "shadow"])
def test_route_without_port_cannot_leave_flask(settings: Settings, state: str) -> None:
    # Every route has a port today; a route added to Flask and the registry would not.
    words = f"route 'GET /api/users' cannot be {state}: it has no FastAPI port"
    with pytest.raises(RegistryError, match=re.escape(words)):
        load_registry(
            settings.model_copy(update={"route_states": {"GET /api/users": state}}),
            ported=PORTED - {"GET /api/users"},
        )


def test_route_states_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTE_STATES", '{"GET /api/users/me": "migrated"}')
    assert Settings(_env_file=None, env="test").migration.route_states == {"GET /api/users/me": "migrated"}


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        (
            {"extra": "sunset = 2026-01-01T00:00:00Z"},
            "route 'GET /api/users/me': sunset 2026-01-01T00:00:00+00:00 is before",
        ),
        ({"state": "gone"}, "route 'GET /api/users/me': unknown state 'gone' in state"),
        ({"extra": 'colour = "red"'}, "route 'GET /api/users/me': unknown key 'colour'"),
        (
            {"deprecation": "2026-11-22"},
            "route 'GET /api/users/me': deprecation must be a date-time with an offset",
        ),
    ],
    ids=["sunset-before-deprecation", "unknown-state", "unknown-key", "date-without-time"],
)
def test_bad_registry_file_refuses_to_start(
    settings: Settings, tmp_path: Path, kwargs: dict[str, str], words: str
) -> None:
    path = one_route(tmp_path, **kwargs)
    with pytest.raises(RegistryError, match=re.escape(words)):
        create_app(settings.model_copy(update={"routes_file": path}))


def test_flask_route_missing_from_registry_refuses_to_start(settings: Settings, tmp_path: Path) -> None:
    path = one_route(tmp_path)
    with pytest.raises(
        RegistryError, match=r"^Flask serves GET /api/health but the route registry .* does not list it"
    ):
        create_app(settings.model_copy(update={"routes_file": path}))


def test_route_flask_does_not_serve_refuses_to_start(settings: Settings, tmp_path: Path) -> None:
    text = DEFAULT_FILE.read_text()
    path = registry_file(tmp_path, text + '\n[routes."GET /api/reports"]\nstate = "legacy"\n')
    with pytest.raises(
        RegistryError, match="^route 'GET /api/reports' is in the registry but Flask does not serve it"
    ):
        create_app(settings.model_copy(update={"routes_file": path}))


def test_unreadable_registry_refuses_to_start(settings: Settings, tmp_path: Path) -> None:
    path = registry_file(tmp_path, "[routes\n")
    with pytest.raises(RegistryError, match="cannot read the route registry"):
        create_app(settings.model_copy(update={"routes_file": path}))


def test_successor_gets_the_request_path_variables(settings: Settings) -> None:
    entry = load_registry(settings, ported=PORTED).routes["PUT /api/users/<id>/role"]
    assert entry.successor_for("/api/users/42/role") == "/api/v1/users/42"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            '[routes."GET /api/users/me"]\nsuccessor = "/api/v1/auth/profile"\n',
            "route 'GET /api/users/me': a route with a successor needs a deprecation date",
        ),
        (
            '[routes."GET /api/users/me"]\nsunset = 2027-01-01T00:00:00Z\n',
            "route 'GET /api/users/me': a sunset needs a deprecation date",
        ),
    ],
    ids=["successor-without-deprecation", "sunset-without-deprecation"],
)
def test_dates_a_route_needs(settings: Settings, tmp_path: Path, text: str, words: str) -> None:
    path = registry_file(tmp_path, text)
    with pytest.raises(RegistryError, match=re.escape(words)):
        load_registry(settings.model_copy(update={"routes_file": path}), ported=PORTED)
