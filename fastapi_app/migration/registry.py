"""The legacy route registry: every route of the /api contract, its state, successor and dates.

Defaults live in `routes.toml` next to this module (or `ROUTES_FILE`); `ROUTE_STATES`
overrides any state. It is read once, at start-up, and a bad one raises `RegistryError`
naming the route, so a typo can never silently leave a route on the wrong side.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, cast

from datalab.settings import Settings

State = Literal["legacy", "shadow", "canary", "migrated"]
STATES: tuple[State, ...] = ("legacy", "shadow", "canary", "migrated")
# States in which the FastAPI port runs, so the route needs one.
PORT_STATES: frozenset[State] = frozenset({"shadow", "canary", "migrated"})
DEFAULT_FILE = Path(__file__).with_name("routes.toml")
SAFE_METHODS = ("GET", "HEAD")
_NAME = re.compile(r"(GET|POST|PUT|PATCH|DELETE) (/[^\s]*)")
_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_ROUTE_KEYS = {"state", "successor", "deprecation", "sunset", "ignore"}


class RegistryError(ValueError):
    """The registry or its overrides are wrong; the message names the route."""


@dataclass(frozen=True)
class RouteEntry:
    """One legacy route: `GET /api/data-sources/<id>`, who serves it, and what replaces it."""

    name: str
    state: State
    percent: int | None = None  # the port's share of requests, in state `canary` only
    successor: str | None = None
    deprecation: datetime | None = None
    sunset: datetime | None = None
    ignore: tuple[str, ...] = ()

    @property
    def method(self) -> str:
        """Return the HTTP method, e.g. `GET`."""
        return self.name.split(" ", 1)[0]

    @property
    def path(self) -> str:
        """Return the path as the contract writes it, e.g. `/api/data-sources/<id>`."""
        return self.name.split(" ", 1)[1]

    def successor_for(self, path: str) -> str | None:
        """Return the successor's path for a request to `path`, its variables filled in."""
        if self.successor is None:
            return None
        parts = _VARIABLE.split(self.path)  # literal, variable name, literal, ...
        pattern = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(parts))
        found = re.fullmatch(pattern, path)
        values = found.groupdict() if found else {}
        return _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), self.successor)


@dataclass(frozen=True)
class Registry:
    """Every legacy route by name, plus what shadow mode compares."""

    routes: dict[str, RouteEntry]
    compared_headers: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    source: str = ""
    ported: frozenset[str] = frozenset()  # the routes with a FastAPI port
    from_environment: frozenset[str] = frozenset()  # the routes ROUTE_STATES sets
    _by_shape: dict[tuple[str, str], RouteEntry] = field(default_factory=dict, repr=False)

    def entry_for(self, method: str, template: str | None) -> RouteEntry | None:
        """Return the route a request was routed to, from its method and route template (any spelling)."""
        if template is None:
            return None
        method = "GET" if method == "HEAD" else method
        return self._by_shape.get((method, shape(template)))

    def ported_names(self) -> frozenset[str]:
        """Return the names of the routes a FastAPI port can serve."""
        return self.ported

    def in_state(self, state: State) -> list[RouteEntry]:
        """Return the routes in `state`, in registry order."""
        return [entry for entry in self.routes.values() if entry.state == state]


def shape(path: str) -> str:
    """Return `path` with every variable anonymised, so `<int:source_id>` and `<id>` compare equal."""
    return _VARIABLE.sub("<>", path)


def load_registry(settings: Settings, *, ported: Iterable[str]) -> Registry:
    """Read the registry file, apply `ROUTE_STATES` and check it; `ported` names the routes with a port."""
    path = settings.migration.routes_file or DEFAULT_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RegistryError(f"cannot read the route registry {path}: {exc}") from None
    routes = {name: _entry(name, spec) for name, spec in _table(raw, "routes", path).items()}
    for name, state in settings.migration.route_states.items():
        if name not in routes:
            raise RegistryError(f"ROUTE_STATES names an unknown route {name!r}; see {path}")
        state_name, percent = parse_state(name, state, "ROUTE_STATES")
        routes[name] = replace(routes[name], state=state_name, percent=percent)
    available = set(ported)
    for entry in routes.values():
        if entry.state in PORT_STATES and entry.name not in available:
            raise RegistryError(f"route {entry.name!r} cannot be {entry.state}: it has no FastAPI port")
    shadow = _table(raw, "shadow", path)
    return Registry(
        routes=routes,
        compared_headers=tuple(h.lower() for h in _strings(shadow.get("headers", []), "[shadow] headers")),
        ignore=tuple(_strings(shadow.get("ignore", []), "[shadow] ignore")),
        source=str(path),
        ported=frozenset(available),
        from_environment=frozenset(settings.migration.route_states),
        _by_shape={(e.method, shape(e.path)): e for e in routes.values()},
    )


def check_url_map(registry: Registry, rules: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Check the registry lists exactly Flask's routes; return each route's Flask rule by name.

    `rules` are (method, Werkzeug rule) pairs; HEAD and OPTIONS come with GET and every route.
    """
    served: dict[str, str] = {}
    for method, rule in rules:
        if method in ("HEAD", "OPTIONS"):
            continue
        entry = registry.entry_for(method, rule)
        if entry is None:
            raise RegistryError(
                f"Flask serves {method} {rule} but the route registry ({registry.source}) does not list it"
            )
        served[entry.name] = rule
    missing = [name for name in registry.routes if name not in served]
    if missing:
        raise RegistryError(f"route {missing[0]!r} is in the registry but Flask does not serve it")
    return served


def _entry(name: str, spec: object) -> RouteEntry:
    if not _NAME.fullmatch(name):
        raise RegistryError(f"route {name!r}: a route is named `METHOD /path`, e.g. 'GET /api/users/me'")
    if not isinstance(spec, dict):
        raise RegistryError(f"route {name!r}: expected a table")
    unknown = set(spec) - _ROUTE_KEYS
    if unknown:
        raise RegistryError(f"route {name!r}: unknown key {sorted(unknown)[0]!r}")
    successor = spec.get("successor")
    if successor is not None and not (isinstance(successor, str) and successor.startswith("/")):
        raise RegistryError(f"route {name!r}: successor must be a path starting with /")
    deprecation = _moment(name, spec.get("deprecation"), "deprecation")
    sunset = _moment(name, spec.get("sunset"), "sunset")
    if successor is not None and deprecation is None:
        raise RegistryError(f"route {name!r}: a route with a successor needs a deprecation date")
    if sunset is not None and deprecation is None:
        raise RegistryError(f"route {name!r}: a sunset needs a deprecation date (RFC 9745)")
    if sunset is not None and deprecation is not None and sunset < deprecation:
        raise RegistryError(f"route {name!r}: sunset {sunset.isoformat()} is before its deprecation")
    state, percent = parse_state(name, spec.get("state", "legacy"), "state")
    return RouteEntry(
        name=name,
        state=state,
        percent=percent,
        successor=successor,
        deprecation=deprecation,
        sunset=sunset,
        ignore=tuple(_strings(spec.get("ignore", []), f"route {name!r}: ignore")),
    )


def parse_state(name: str, value: object, where: str) -> tuple[State, int | None]:
    """Read a state as configured: `legacy`, `shadow`, `migrated`, or `canary:<percent>` (1 to 99)."""
    text = value if isinstance(value, str) else ""
    state, _, percent = text.partition(":")
    if state not in STATES or (state == "canary") != bool(percent):
        choices = ", ".join(s if s != "canary" else "canary:<1-99>" for s in STATES)
        raise RegistryError(f"route {name!r}: unknown state {value!r} in {where}; use one of {choices}")
    if state != "canary":
        return cast(State, state), None
    if not percent.isdigit() or not 1 <= int(percent) <= 99:
        raise RegistryError(f"route {name!r}: canary percent {percent!r} in {where} must be 1 to 99")
    return "canary", int(percent)


def _moment(name: str, value: object, key: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        example = "2027-01-01T00:00:00Z"
        raise RegistryError(f"route {name!r}: {key} must be a date-time with an offset, e.g. {example}")
    return value


def _table(raw: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise RegistryError(f"{path}: [{key}] must be a table")
    return value


def _strings(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise RegistryError(f"{where} must be a list of strings")
    return cast(list[str], value)
