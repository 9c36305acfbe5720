"""Streaming both ways through a gateway served by uvicorn, and an upstream killed mid-answer.

Flat memory is shown by what the far side has seen while the transfer is under way: the
client holds the first part of a 200 MB download while the upstream has not finished
sending it, and the upstream has received part of a 200 MB upload while the client is
still sending. A buffering gateway could do neither. (RSS is measured in the benchmark.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import httpx
import pytest

from datalab.settings import Settings
from tests.gateway_servers import UpstreamControl, gateway_app, served, service, upstream_process
from tests.gateway_upstreams import pattern_bytes

SIZE = 200 * 1024 * 1024
CHUNK = 256 * 1024


@pytest.fixture
def gateway_url(settings: Settings, upstream: UpstreamControl) -> Iterator[str]:
    """A gateway under uvicorn with the upstream as `analysis`."""
    with gateway_app(settings, service("analysis", upstream.url)) as app, served(app) as url:
        yield url


def test_download_streams_without_buffering(
    gateway_url: str, upstream: UpstreamControl, user_headers: dict[str, str]
) -> None:
    received, digest, sent_when_first_arrived = 0, hashlib.sha256(), None
    with httpx.stream(
        "GET", f"{gateway_url}/api/v1/analysis/bytes?size={SIZE}", headers=user_headers
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-length"] == str(SIZE)
        for chunk in response.iter_raw(CHUNK):
            if sent_when_first_arrived is None:
                sent_when_first_arrived = upstream.stats()["sent"]
            received += len(chunk)
            digest.update(chunk)
    assert received == SIZE
    assert digest.hexdigest() == hashlib.sha256(pattern_bytes(SIZE)).hexdigest()
    assert sent_when_first_arrived is not None
    assert sent_when_first_arrived < SIZE // 2


def test_upload_streams_without_buffering(
    gateway_url: str, upstream: UpstreamControl, user_headers: dict[str, str]
) -> None:
    seen_mid_upload: list[int] = []

    def body() -> Iterator[bytes]:
        for sent in range(0, SIZE, len(pattern_bytes(CHUNK))):
            if sent == SIZE // 2:
                seen_mid_upload.append(upstream.stats()["received"])
            yield pattern_bytes(CHUNK)

    response = httpx.put(
        f"{gateway_url}/api/v1/analysis/upload", content=body(), headers=user_headers, timeout=120
    )
    assert response.status_code == 200, response.text
    assert response.json()["size"] == SIZE
    assert response.json()["sha256"] == hashlib.sha256(pattern_bytes(CHUNK) * (SIZE // CHUNK)).hexdigest()
    assert response.json()["headers"]["transfer-encoding"] == ["chunked"]
    assert seen_mid_upload
    assert 0 < seen_mid_upload[0] < SIZE


def test_upstream_killed_mid_answer_aborts_the_client_and_counts(
    settings: Settings, user_headers: dict[str, str]
) -> None:
    with upstream_process() as (url, process):
        options = {"circuit_breaker_threshold": 1}
        with (
            gateway_app(settings, service("compute", url, retries=0), **options) as app,
            served(app) as gateway,
        ):
            with pytest.raises(httpx.RemoteProtocolError):  # cut short, not ended as if complete; no hang
                httpx.get(f"{gateway}/api/v1/compute/die", headers=user_headers, timeout=30)
            process.wait(timeout=30)
            breaker = app.state.gateway.services[0].instances[0].breaker
            assert breaker.state == "open"
            refused = httpx.get(f"{gateway}/api/v1/compute/jobs", headers=user_headers, timeout=30)
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
