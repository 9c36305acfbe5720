"""Upstream services for the gateway tests: real uvicorn processes on 127.0.0.1, started once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gateway_servers import UpstreamControl, upstream_process


@pytest.fixture(scope="session")
def upstream_url() -> Iterator[str]:
    """The URL of a test upstream process."""
    with upstream_process() as (url, _):
        yield url


@pytest.fixture(scope="session")
def second_upstream_url() -> Iterator[str]:
    """The URL of another test upstream process."""
    with upstream_process() as (url, _):
        yield url


@pytest.fixture
def upstream(upstream_url: str) -> UpstreamControl:
    """The first upstream, reset before the test."""
    control = UpstreamControl(upstream_url)
    control.reset()
    return control


@pytest.fixture
def second_upstream(second_upstream_url: str) -> UpstreamControl:
    """The second upstream, reset before the test."""
    control = UpstreamControl(second_upstream_url)
    control.reset()
    return control
