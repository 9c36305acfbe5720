"""Bad input on every legacy route that takes a body: always a 400 (or 413), never a write.

Bodies are sent as `json.dumps` text, which escapes NUL as `\\u0000` and a lone surrogate
as the raw JSON text `\\ud800`, exactly as a misbehaving client would send them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from shared_models import AuditLog, DataSource, Integration, User
from tests.helpers import NOT_AN_OBJECT, count

TOO_LARGE = {"msg": "Request body too large"}
MISSING = object()
LONG = "x" * 10_000
ONE_MIB = 1_048_576


@dataclass(frozen=True)
class Route:
    """A body-taking route, with a valid body for it."""

    method: str
    path: str
    body: dict[str, Any]
    authenticated: bool = True


Send = Callable[[Route, bytes | Iterator[bytes]], httpx2.Response]
Snapshot = Callable[[], tuple[object, ...]]
SOURCE_CONFIG = {"host": "db.internal", "database": "sales", "username": "reporter", "password": "Pw-1"}
ROUTES = {
    "create_source": Route(
        "POST",
        "/api/data-sources",
        {"name": "fresh", "type": "postgresql", "config": SOURCE_CONFIG, "description": "d", "tags": ["a"]},
    ),
    "update_source": Route(
        "PUT",
        "/api/data-sources/{source_id}",
        {
            "name": "changed",
            "type": "mysql",
            "config": {"host": "h2", "database": "d", "username": "u"},
            "description": "new",
            "tags": ["b"],
        },
    ),
    "create_integration": Route(
        "POST", "/api/integrations", {"name": "alerts", "provider": "slack", "config": {"token": "t"}}
    ),
    "register": Route(
        "POST",
        "/api/auth/register",
        {"email": "new@example.com", "password": "Another-Pass-77", "first_name": "N", "last_name": "M"},
        authenticated=False,
    ),
    "update_me": Route("PUT", "/api/users/me", {"first_name": "Ada", "department": "R&D", "language": "fr"}),
}


@pytest.fixture
def source_id(client: TestClient, user_headers: dict[str, str]) -> int:
    """The id of a data source `user` owns, to send PUTs to."""
    body = {"name": "existing", "type": "csv", "config": {"path": "a.csv"}}
    response = client.post("/api/data-sources", json=body, headers=user_headers)
    assert response.status_code == 201
    return int(response.json()["id"])


@pytest.fixture
def send(client: TestClient, user_headers: dict[str, str], source_id: int) -> Send:
    """A function that sends raw `content` to a route as the signed-in `user`."""

    def _send(route: Route, content: bytes | Iterator[bytes]) -> httpx2.Response:
        headers = {"Content-Type": "application/json", **(user_headers if route.authenticated else {})}
        path = route.path.format(source_id=source_id)
        return client.request(route.method, path, content=content, headers=headers)

    return _send


@pytest.fixture
def snapshot(client: TestClient, session: Session, user_headers: dict[str, str], source_id: int) -> Snapshot:
    """A function that captures every row count and the stored objects a bad request might change."""

    def _snapshot() -> tuple[object, ...]:
        return (
            count(session, User),
            count(session, DataSource),
            count(session, Integration),
            count(session, AuditLog),
            client.get(f"/api/data-sources/{source_id}", headers=user_headers).json(),
            client.get("/api/users/me", headers=user_headers).json(),
        )

    return _snapshot


def with_field(body: dict[str, Any], field: str, value: object) -> dict[str, Any]:
    """Return `body` with `field` set to `value`, or removed for MISSING."""
    changed = {k: v for k, v in body.items() if k != field}
    if value is not MISSING:
        changed[field] = value
    return changed


def encode(body: Any) -> bytes:
    """Encode like a client that escapes everything: NUL and lone surrogates become JSON escapes."""
    return json.dumps(body).encode()


def assert_field_error(response: httpx2.Response, field: str) -> None:
    """Check for the contract's 400 that names `field`."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"msg"}
    assert re.fullmatch(rf"{re.escape(field)}(\.\w+)*: .+", body["msg"], flags=re.DOTALL), body["msg"]


def nested(depth: int) -> dict[str, Any]:
    """Return a config nested `depth` objects deep."""
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        value = {"a": value}
    return value


def cases(field: str, *values: tuple[object, str]) -> list[Any]:
    """Return parametrize cases for `field`, one per (value, label)."""
    return [pytest.param(field, value, id=f"{field}-{label}") for value, label in values]


def text_cases(field: str, *, nullable: bool = False) -> list[Any]:
    """Return the bad values every bounded text field refuses."""
    values: list[tuple[object, str]] = [
        (5, "int"),
        (True, "bool"),
        ([], "list"),
        ({}, "object"),
        (LONG, "10000-chars"),
        ("a\x00b", "nul"),
        ("\ud800", "lone-surrogate"),
        ("ok\udfff", "trailing-surrogate"),
    ]
    if not nullable:
        values.append((None, "null"))
    return cases(field, *values)


CONFIG_CASES = cases(
    "config",
    ([], "list"),
    ("x", "string"),
    (5, "int"),
    ({"password": "a\x00b"}, "nul-in-value"),
    ({"pass\x00word": "x"}, "nul-in-key"),
    ({"\ud800": 1}, "surrogate-in-key"),
    ({"host": "\ud800"}, "surrogate-in-value"),
    ({"hosts": ["ok", "b\x00d"]}, "nul-in-list"),
    ({"auth": {"inner": {"password": "\x00"}}}, "nul-nested"),
    (nested(10), "10-levels-deep"),
    ({"rows": [[[[[[[["deep"]]]]]]]]}, "deep-lists"),
    (nested(200), "200-levels-deep"),
    ({"blob": "x" * 17_000}, "over-16KiB"),
    ({f"k{i}": "v" * 100 for i in range(200)}, "many-keys-over-16KiB"),
)
NAME_CASES = [*text_cases("name"), *cases("name", ("", "empty"), ("   ", "blank"))]
TAGS_CASES = cases(
    "tags",
    ("x", "string"),
    ({"a": 1}, "object"),
    ([5], "int-item"),
    ([None], "null-item"),
    (["x" * 51], "51-chars"),
    ([LONG], "10000-chars"),
    ([f"t{i}" for i in range(21)], "21-items"),
    ([""], "empty-item"),
    (["  "], "blank-item"),
    (["a\x00"], "nul-item"),
    (["\ud800"], "surrogate-item"),
)
TYPE_CASES = cases(
    "type",
    ("oracle", "unknown"),
    ("", "empty"),
    (5, "int"),
    ([], "list"),
    (LONG, "10000-chars"),
    ("csv\x00", "nul"),
    ("\ud800", "surrogate"),
)
SOURCE_CREATE_CASES = [
    *NAME_CASES,
    *cases("type", (None, "null")),
    *TYPE_CASES,
    *CONFIG_CASES,
    *cases("config", (None, "null")),
    *text_cases("description", nullable=True),
    *TAGS_CASES,
    *cases("tags", (None, "null")),
    *cases("name", (MISSING, "missing")),
    *cases("type", (MISSING, "missing")),
    *cases("config", (MISSING, "missing")),
]
# On update a null name, type, config or tags means "unchanged", so it is no bad input there.
SOURCE_UPDATE_CASES = [c for c in SOURCE_CREATE_CASES if c.values[1] not in (None, MISSING)]
INTEGRATION_CASES = [
    *NAME_CASES,
    *text_cases("provider"),
    *cases("provider", ("", "empty"), ("   ", "blank"), ("p" * 101, "101-chars")),
    *CONFIG_CASES,
    *cases("config", (None, "null")),
    *cases("name", (MISSING, "missing")),
    *cases("provider", (MISSING, "missing")),
    *cases("config", (MISSING, "missing")),
]
REGISTER_CASES = [
    *text_cases("email"),
    *cases(
        "email",
        ("", "empty"),
        ("not-an-email", "no-at"),
        ("a\x00@example.com", "nul-local"),
        ("\ud800@example.com", "surrogate-local"),
        (MISSING, "missing"),
    ),
    *text_cases("password"),
    *cases("password", (MISSING, "missing")),
    *text_cases("first_name", nullable=True),
    *text_cases("last_name", nullable=True),
]
# Names, department and organization may be cleared with null; timezone and language may not.
PROFILE_CASES = [
    *text_cases("first_name", nullable=True),
    *text_cases("last_name", nullable=True),
    *text_cases("department", nullable=True),
    *text_cases("organization", nullable=True),
    *text_cases("timezone"),
    *cases("timezone", ("Mars/Olympus_Mons", "unknown"), ("", "empty")),
    *text_cases("language"),
    *cases("language", ("english!", "bad-pattern"), ("", "empty")),
    *cases("email", ("evil@example.com", "unknown-field")),
    *cases("role", ("admin", "unknown-field")),
    *cases("password", ("New-Pass-99", "unknown-field")),
    *cases("is_active", (False, "unknown-field")),
    *cases("id", (999, "unknown-field")),
]
BODY_CASES = [
    pytest.param(b"", id="empty"),
    pytest.param(b"{", id="truncated"),
    pytest.param(b'{"name": "x",}', id="trailing-comma"),
    pytest.param(b"{'name': 'x'}", id="single-quotes"),
    pytest.param(b"not json at all", id="text"),
    pytest.param(b"[]", id="empty-array"),
    pytest.param(b'[{"name": "x"}]', id="array-of-object"),
    pytest.param(b'"name"', id="string"),
    pytest.param(b"42", id="number"),
    pytest.param(b"null", id="null"),
    pytest.param(b"true", id="true"),
    pytest.param(b"\xff\xfe{}", id="invalid-utf8"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, id="array-100000-deep"),
]


@pytest.mark.parametrize("route_name", ROUTES)
@pytest.mark.parametrize("content", BODY_CASES)
def test_body_not_json_object_400(send: Send, snapshot: Snapshot, route_name: str, content: bytes) -> None:
    before = snapshot()

    response = send(ROUTES[route_name], content)

    assert response.status_code == 400
    assert response.json() == NOT_AN_OBJECT
    assert snapshot() == before


@pytest.mark.parametrize("route_name", ["create_source", "update_source", "create_integration"])
@pytest.mark.parametrize(
    "config_json",
    [
        pytest.param(b'{"timeout": NaN}', id="NaN"),
        pytest.param(b'{"timeout": Infinity}', id="Infinity"),
        pytest.param(b'{"timeout": 1e999}', id="1e999-overflows-to-infinity"),
        pytest.param(b'{"a":' * 5_000 + b"1" + b"}" * 5_000, id="5000-levels-deep"),
    ],
)
def test_config_not_representable_400(
    send: Send, snapshot: Snapshot, route_name: str, config_json: bytes
) -> None:
    # NaN and Infinity are not JSON; echoing them back would break every strict JSON parser.
    route = ROUTES[route_name]
    before = snapshot()
    body = encode(with_field(route.body, "config", "@CONFIG@")).replace(b'"@CONFIG@"', config_json)

    response = send(route, body)

    assert response.status_code == 400, response.text
    assert response.json() == NOT_AN_OBJECT or response.json()["msg"].startswith("config: ")
    assert snapshot() == before


@pytest.mark.parametrize(("field", "value"), SOURCE_CREATE_CASES)
def test_create_source_bad_field_400(send: Send, snapshot: Snapshot, field: str, value: object) -> None:
    before = snapshot()

    response = send(ROUTES["create_source"], encode(with_field(ROUTES["create_source"].body, field, value)))

    assert_field_error(response, field)
    assert snapshot() == before


@pytest.mark.parametrize(("field", "value"), SOURCE_UPDATE_CASES)
def test_update_source_bad_field_400(send: Send, snapshot: Snapshot, field: str, value: object) -> None:
    before = snapshot()

    response = send(ROUTES["update_source"], encode(with_field(ROUTES["update_source"].body, field, value)))

    assert_field_error(response, field)
    assert snapshot() == before


@pytest.mark.parametrize(("field", "value"), INTEGRATION_CASES)
def test_create_integration_bad_field_400(send: Send, snapshot: Snapshot, field: str, value: object) -> None:
    before = snapshot()

    response = send(
        ROUTES["create_integration"], encode(with_field(ROUTES["create_integration"].body, field, value))
    )

    assert_field_error(response, field)
    assert snapshot() == before


@pytest.mark.parametrize(("field", "value"), REGISTER_CASES)
def test_register_bad_field_400(send: Send, snapshot: Snapshot, field: str, value: object) -> None:
    before = snapshot()

    response = send(ROUTES["register"], encode(with_field(ROUTES["register"].body, field, value)))

    assert_field_error(response, field)
    assert snapshot() == before


@pytest.mark.parametrize(("field", "value"), PROFILE_CASES)
def test_update_me_bad_field_400(send: Send, snapshot: Snapshot, field: str, value: object) -> None:
    before = snapshot()

    response = send(ROUTES["update_me"], encode(with_field(ROUTES["update_me"].body, field, value)))

    assert_field_error(response, field)
    assert snapshot() == before


@pytest.mark.parametrize("route_name", ROUTES)
def test_body_over_1mib_413(send: Send, snapshot: Snapshot, route_name: str) -> None:
    route = ROUTES[route_name]
    before = snapshot()
    content = encode({**route.body, "padding": "x" * ONE_MIB})

    response = send(route, content)

    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert snapshot() == before


@pytest.mark.parametrize("route_name", ["create_source", "register"])
def test_chunked_body_over_1mib_413(send: Send, snapshot: Snapshot, route_name: str) -> None:
    route = ROUTES[route_name]
    before = snapshot()
    content = encode({**route.body, "padding": "x" * ONE_MIB})

    response = send(route, iter([content[i : i + 65_536] for i in range(0, len(content), 65_536)]))

    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert snapshot() == before


def test_body_just_under_1mib_is_read_400(send: Send, snapshot: Snapshot) -> None:
    route = ROUTES["create_source"]
    before = snapshot()
    content = encode({**route.body, "description": "x" * (ONE_MIB - 200)})
    assert len(content) <= ONE_MIB

    response = send(route, content)

    assert_field_error(response, "description")
    assert snapshot() == before


@pytest.mark.parametrize(
    "text",
    ["Zoë 🧪🚀 👩🏽‍🔬", "مرحبا", "e\u0301te\u0301", "张伟"],
    ids=["emoji", "arabic", "combining", "cjk"],
)
def test_update_me_unicode_round_trips(client: TestClient, user_headers: dict[str, str], text: str) -> None:
    body = {"first_name": text, "last_name": text, "department": text, "organization": text}

    response = client.put("/api/users/me", content=encode(body), headers=user_headers)

    assert response.status_code == 200
    assert {k: response.json()[k] for k in body} == body
    me = client.get("/api/users/me", headers=user_headers).json()
    assert {k: me[k] for k in body} == body


@pytest.mark.parametrize(
    "text",
    ["Zoë 🧪", "مرحبا", "e\u0301te\u0301", "张伟"],
    ids=["emoji", "arabic", "combining", "cjk"],
)
def test_register_unicode_names_round_trip(client: TestClient, text: str) -> None:
    body = {"email": "zoe@example.com", "password": "Another-Pass-77", "first_name": text, "last_name": text}

    response = client.post("/api/auth/register", content=encode(body))

    assert response.status_code == 201
    assert (response.json()["first_name"], response.json()["last_name"]) == (text, text)
