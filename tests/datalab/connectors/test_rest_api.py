"""The REST connector against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from datalab.connectors import Connector, ConnectorError, Limits, open_connector
from tests.datalab.connectors.rest_server import ITEMS, TOKEN, RestServer


def rest(base_url: str, limits: Limits, **config: Any) -> Connector:
    """A REST connector on `base_url`."""
    return open_connector("rest_api", {"base_url": base_url, "headers": {}, **config}, limits)


@pytest.fixture
def api(rest_server: RestServer, limits: Limits) -> Iterator[Connector]:
    """A connector on the test API."""
    connector = rest(rest_server.url, limits)
    yield connector
    connector.close()


def test_connection_succeeds(api: Connector) -> None:
    result = api.test()
    assert result.success, result.message
    assert result.metadata == {"status_code": 200}


@pytest.mark.parametrize(
    ("path", "code"),
    [("/missing", "BAD_RESPONSE"), ("/private", "BAD_CREDENTIALS"), ("/not-json", "BAD_RESPONSE")],
)
def test_connection_failures_are_clear(rest_server: RestServer, limits: Limits, path: str, code: str) -> None:
    result = rest(rest_server.url + path, limits).test()
    assert (result.success, result.error_code) == (False, code)


def test_unreachable_port(limits: Limits) -> None:
    result = rest("http://127.0.0.1:1", limits).test()
    assert (result.success, result.error_code) == (False, "UNREACHABLE")


def test_auth_header_is_sent(rest_server: RestServer, limits: Limits) -> None:
    connector = rest(rest_server.url, limits, headers={"X-Token": TOKEN})
    result = connector.query("/private", 10)
    connector.close()
    assert result.rows == ITEMS[:2]


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0/",
    ],
)
def test_refused_hosts(strict_limits: Limits, url: str) -> None:
    result = rest(url, strict_limits).test()
    assert (result.success, result.error_code) == (False, "HOST_REFUSED")


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "http://user:pw@10.0.0.1/"])
def test_refused_urls(limits: Limits, url: str) -> None:
    result = rest(url, limits).test()
    assert (result.success, result.error_code) == (False, "HOST_REFUSED")


def test_schema_inferred_from_a_sample(api: Connector) -> None:
    tables = api.schema().tables
    assert [t.name for t in tables] == ["data"]
    assert [(c.name, c.type, c.nullable) for c in tables[0].columns] == [
        ("id", "integer", False),
        ("name", "string", False),
        ("price", "number", False),
        ("tags", "array", True),
    ]


@pytest.mark.parametrize("path", ["/items?n=3", "items?n=3", "/wrapped"])
def test_query_is_a_get_of_a_path(api: Connector, path: str) -> None:
    result = api.query(path, 100)
    assert result.columns == ["id", "name", "price", "tags"]
    assert result.rows == ITEMS[:3]
    assert (result.row_count, result.has_more) == (3, False)


def test_scalars_become_value_rows(api: Connector) -> None:
    assert api.query("/scalars", 10).rows == [{"value": 1}, {"value": 2}, {"value": 3}]


@pytest.mark.parametrize(("limit", "expected"), [(5, 5), (500, 20)])
def test_has_more_at_the_cap(api: Connector, limit: int, expected: int) -> None:
    result = api.query("/items", limit)
    assert (result.row_count, result.has_more) == (expected, True)


@pytest.mark.parametrize(
    "path", ["http://10.0.0.1/x", "//evil.example/x", "https://169.254.169.254/", "\\\\evil\\x", ""]
)
def test_query_must_stay_under_the_base_url(api: Connector, path: str) -> None:
    with pytest.raises(ConnectorError) as caught:
        api.query(path, 10)
    assert caught.value.code == "QUERY_REFUSED"


def test_redirect_under_the_same_server_followed(api: Connector) -> None:
    assert api.query("/redirect?to=/items%3Fn%3D2", 10).row_count == 2


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://127.0.0.2/",
        "http://0x7f.0.0.2/",
        "http://2130706434:6379/",
        "http://[::1]:6379/",
        "http://[::ffff:127.0.0.2]/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_INFO",
    ],
)
def test_redirect_to_refused_address_refused(rest_server: RestServer, limits: Limits, target: str) -> None:
    # Only the test server's own address is allowed: every target is refused, checked at connect.
    narrow = replace(limits, allow_networks=("127.0.0.1/32",))
    connector = rest(rest_server.url, narrow)
    with pytest.raises(ConnectorError) as caught:
        connector.query(f"/redirect?to={target}", 10)
    connector.close()
    assert caught.value.code == "HOST_REFUSED"


def test_redirect_loop_stops(api: Connector) -> None:
    with pytest.raises(ConnectorError, match="redirected more than 5"):
        api.query("/loop", 10)


@pytest.mark.parametrize("path", ["/bad-location", "/redirect?to=http%3A%2F%2Fxn--zz%2F"])
def test_malformed_redirect_is_a_bad_response(api: Connector, path: str) -> None:
    with pytest.raises(ConnectorError) as caught:
        api.query(path, 10)
    assert caught.value.code == "BAD_RESPONSE"


def test_credentials_not_sent_to_another_origin(
    rest_server: RestServer, other_rest_server: RestServer, limits: Limits
) -> None:
    connector = rest(rest_server.url, limits, headers={"X-Token": TOKEN})
    connector.query(f"/redirect?to={other_rest_server.url}/items%3Fn%3D1", 10)
    connector.close()
    path, headers = other_rest_server.seen[-1]
    assert path == "/items"
    assert "X-Token" not in headers


@pytest.mark.parametrize("path", ["/huge", "/huge-chunked"])
def test_response_capped_in_bytes(api: Connector, path: str) -> None:
    """The cap is 64 KiB in these limits; both answers are bigger, one without Content-Length."""
    with pytest.raises(ConnectorError) as caught:
        api.query(path, 10)
    assert caught.value.code == "RESPONSE_TOO_LARGE"


def test_response_capped_in_time(api: Connector) -> None:
    with pytest.raises(ConnectorError) as caught:
        api.query("/slow", 10)
    assert caught.value.code == "TIMEOUT"


def test_source_timeout_may_be_shorter(rest_server: RestServer, limits: Limits) -> None:
    connector = rest(rest_server.url, replace(limits, query_timeout_s=5.0), timeout=0.5)
    with pytest.raises(ConnectorError, match="in time"):
        connector.query("/slow", 10)
    connector.close()


@pytest.mark.parametrize("base_url", ["http://[not-an-ip/", "http://exa mple.com/", ""])
def test_invalid_base_url_is_a_clear_failure(limits: Limits, base_url: str) -> None:
    connector = rest(base_url, limits)
    result = connector.test()
    assert not result.success
    assert result.error_code in {"HOST_REFUSED", "UNREACHABLE"}
    with pytest.raises(ConnectorError):
        connector.query("/items", 1)


@pytest.mark.parametrize("path", ["/deep", "/deep-row"])
def test_deeply_nested_answer_is_a_clear_error(api: Connector, path: str) -> None:
    with pytest.raises(ConnectorError) as caught:
        api.query(path, 10)
    assert caught.value.code == "BAD_RESPONSE"
