"""REST APIs over httpx: a query is a GET of a path under the base URL that answers JSON rows."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from datalab.connectors.base import Column, ConnectorError, Limits, QueryResult, SchemaInfo, Table, TestResult
from datalab.connectors.http_guard import check_url, fetch, guarded_client
from datalab.connectors.rows import Rows, elapsed_ms, row_cap

SAMPLE_ROWS = 100
_ROW_KEYS = ("data", "items", "results", "rows", "records")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def rows_of(payload: Any) -> list[dict[str, Any]]:
    """The rows of a JSON answer: a list, or the one list an object holds (or its `data`/`items`)."""
    if isinstance(payload, dict):
        lists = {k: v for k, v in payload.items() if isinstance(v, list)}
        preferred = [k for k in _ROW_KEYS if k in lists]
        if len(lists) == 1:
            payload = next(iter(lists.values()))
        elif preferred:
            payload = lists[preferred[0]]
        elif not lists:
            payload = [payload]
        else:
            raise ConnectorError(
                "BAD_RESPONSE", "The API's answer holds several lists; query a path with one."
            )
    if not isinstance(payload, list):
        raise ConnectorError("BAD_RESPONSE", "The API's answer is not a list of rows.")
    return [item if isinstance(item, dict) else {"value": item} for item in payload]


def infer_columns(rows: list[dict[str, Any]]) -> list[Column]:
    """Columns seen in a sample of rows, each with its JSON type (`mixed` when rows disagree)."""
    types: dict[str, set[str]] = {}
    present: dict[str, int] = {}
    for row in rows:
        for key, value in row.items():
            types.setdefault(str(key), set()).add(_json_type(value))
            present[str(key)] = present.get(str(key), 0) + 1
    columns = []
    for name, seen in types.items():
        # Counted, not searched row by row: linear in the sample, however many keys it has.
        nullable = "null" in seen or present[name] < len(rows)
        kinds = seen - {"null"}
        if kinds == {"integer", "number"}:
            kinds = {"number"}
        kind = kinds.pop() if len(kinds) == 1 else ("null" if not kinds else "mixed")
        columns.append(Column(name, kind, nullable))
    return columns


class RestApiConnector:
    """A JSON API under `base_url`, reached only through the guarded client."""

    def __init__(self, config: dict[str, Any], limits: Limits) -> None:
        self._base_text = str(config.get("base_url") or "")
        self._headers = {str(k): str(v) for k, v in (config.get("headers") or {}).items()}
        self._timeout = min(float(config.get("timeout") or limits.query_timeout_s), limits.query_timeout_s)
        self._limits = limits
        self._client: httpx.Client | None = None

    @property
    def _base(self) -> httpx.URL:
        # Parsed on use, so that opening a connector never raises.
        try:
            return httpx.URL(self._base_text)
        except (httpx.InvalidURL, TypeError, ValueError):
            raise ConnectorError("HOST_REFUSED", "The base URL is not a valid URL.") from None

    def _get(self, url: httpx.URL) -> tuple[int, Any]:
        check_url(url)
        if self._client is None:
            self._client = guarded_client(self._limits, self._timeout)
        status, body, _type = fetch(self._client, url, self._headers, self._limits, self._timeout)
        if status in (401, 403):
            raise ConnectorError("BAD_CREDENTIALS", f"The API refused the credentials (HTTP {status}).")
        if status >= 400:
            raise ConnectorError("BAD_RESPONSE", f"The API answered HTTP {status}.")
        try:
            return status, json.loads(body) if body else None
        except (ValueError, RecursionError):
            raise ConnectorError(
                "BAD_RESPONSE", "The API's answer is not JSON (or nests too deeply)."
            ) from None

    def _url_of(self, path: str) -> httpx.URL:
        path = path.strip()
        if not path or "\\" in path or path.startswith("//") or "://" in path.split("?")[0]:
            raise ConnectorError(
                "QUERY_REFUSED", "The query must be a path under the base URL, like /items?x=1."
            )
        base = self._base
        try:
            url = httpx.URL(str(base).rstrip("/") + "/" + path.lstrip("/"))
        except httpx.InvalidURL:
            raise ConnectorError("QUERY_REFUSED", "The query is not a valid URL path.") from None
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
            raise ConnectorError("QUERY_REFUSED", "The query must stay under the base URL.")
        return url

    def test(self) -> TestResult:
        """GET the base URL."""
        started = time.perf_counter()
        try:
            status, _payload = self._get(self._base)
        except ConnectorError as exc:
            return TestResult(False, exc.message, elapsed_ms(started), error_code=exc.code)
        return TestResult(
            True, f"The API answered HTTP {status}.", elapsed_ms(started), {"status_code": status}
        )

    def schema(self) -> SchemaInfo:
        """Infer columns from a sample of the rows the base URL answers."""
        _status, payload = self._get(self._base)
        rows = rows_of(payload)[:SAMPLE_ROWS]
        return SchemaInfo(tables=[Table(name="data", columns=infer_columns(rows))])

    def query(self, sql: str, limit: int) -> QueryResult:
        """GET the path `sql` under the base URL and return its rows, cut at the row cap."""
        url = self._url_of(sql)
        cap = row_cap(limit, self._limits)
        started = time.perf_counter()
        _status, payload = self._get(url)
        rows = rows_of(payload)
        # A dict keeps first-seen order with O(1) membership: the work stays linear in the answer
        # (a list scan here cost 47 s of CPU for one object of 100,000 keys).
        names: dict[str, None] = {}
        for row in rows:
            for key in row:
                names.setdefault(str(key))
        answer = Rows(list(names), cap, self._limits.max_query_bytes)
        keys = list(names)
        for row in rows:
            if not answer.add([row.get(k) for k in keys]):
                break
        return answer.result(started)

    def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            self._client.close()
            self._client = None
