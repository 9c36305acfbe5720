"""The shadow comparison: status, chosen headers and JSON body, with ignored paths and no secrets shown."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fastapi_app.migration.diff import Answer, compare

HEADERS = ("content-type",)


def answer(body: Any, status: int = 200, content_type: str = "application/json") -> Answer:
    """Return a JSON answer."""
    return Answer(status, {"content-type": content_type}, json.dumps(body).encode())


def diff(flask: Answer, port: Answer, *ignore: str) -> str | None:
    """Compare with the content type and `ignore` patterns."""
    return compare(flask, port, headers=HEADERS, ignore=ignore)


def test_same_answers_agree() -> None:
    body = {"users": [{"id": 1, "tags": ["a"]}], "total": 1}
    assert diff(answer(body), answer(body)) is None


def test_key_order_and_whitespace_do_not_matter() -> None:
    flask = Answer(200, {"content-type": "application/json"}, b'{"a":1,"b":2}\n')
    port = Answer(200, {"content-type": "application/json"}, b'{"b": 2, "a": 1}')
    assert diff(flask, port) is None


def test_status_headers_and_values_are_reported_with_paths() -> None:
    flask = answer({"data_sources": [{"name": "a", "tags": ["x"]}], "total": 1})
    port = answer({"data_sources": [{"name": "b", "tags": []}], "total": 1}, 201, "text/plain")
    assert diff(flask, port) == "\n".join(
        [
            "status: flask 200, fastapi 201",
            "header content-type: flask 'application/json', fastapi 'text/plain'",
            'data_sources[0].name: flask "a", fastapi "b"',
            "data_sources[0].tags: flask has 1 items, fastapi 0",
        ]
    )


def test_missing_and_extra_keys_are_reported() -> None:
    assert diff(answer({"a": 1, "b": 2}), answer({"a": 1, "c": 3})) == (
        "b: only flask has it (2)\nc: only fastapi has it (3)"
    )


def test_true_and_one_differ() -> None:
    assert diff(answer({"is_active": True}), answer({"is_active": 1})) == "is_active: flask true, fastapi 1"


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("last_login", 'users[0].last_login: flask "t1", fastapi "t2"'),  # anchored at the top
        ("users.*.last_login", None),
        ("users[*].last_login", None),
        ("**.last_login", None),
        ("users.0.last_login", None),
        ("users.1.last_login", 'users[0].last_login: flask "t1", fastapi "t2"'),
    ],
)
def test_ignored_paths(pattern: str, expected: str | None) -> None:
    flask = answer({"users": [{"id": 1, "last_login": "t1"}]})
    port = answer({"users": [{"id": 1, "last_login": "t2"}]})
    assert diff(flask, port, pattern) == expected


def test_ignored_path_also_hides_missing_keys() -> None:
    assert diff(answer({"id": 1, "updated_at": "t"}), answer({"id": 1}), "**.updated_at") is None


def test_key_only_the_port_answers_is_a_mismatch_unless_ignored() -> None:
    flask, port = answer({"id": 1}), answer({"id": 1, "updated_at": "t", "debug": True})
    assert diff(flask, port) == 'updated_at: only fastapi has it ("t")\ndebug: only fastapi has it (true)'
    assert diff(flask, port, "**.updated_at") == "debug: only fastapi has it (true)"
    assert diff(flask, port, "**.updated_at", "debug") is None


def test_secret_values_are_never_shown() -> None:
    flask = answer({"access_token": "eyJ.a.b", "config": {"password": "********"}})
    port = answer({"access_token": "eyJ.c.d", "config": {"password": "hunter2"}})
    text = diff(flask, port)
    assert text is not None
    assert "eyJ" not in text
    assert "hunter2" not in text
    assert "access_token: flask (a secret, not shown), fastapi (a secret, not shown)" in text


def test_bodies_that_are_not_json_compare_as_bytes() -> None:
    flask = Answer(200, {}, b"<html>a</html>")
    assert compare(flask, Answer(200, {}, b"<html>a</html>"), headers=(), ignore=()) is None
    assert compare(flask, Answer(200, {}, b"<html>b</html>"), headers=(), ignore=()) == (
        "body: not JSON and different (14 and 14 bytes)"
    )


def test_long_diffs_are_cut() -> None:
    text = diff(answer({f"k{i}": i for i in range(30)}), answer({f"k{i}": -i for i in range(1, 31)}))
    assert text is not None
    assert text.splitlines()[-1] == "... and 11 more differences"
