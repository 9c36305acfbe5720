"""A 50 MB upload over real HTTP (uvicorn) is written to disk while it arrives, never held whole.

The body is sent chunked with no Content-Length, so nothing can size a buffer in advance. Before
the client sends the last part, the server's spool file must already hold most of the file:
a server that read the body whole first (Starlette's form parser, or the general body-limit
middleware buffering chunked bodies) would have written nothing yet.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from datalab.storage import ObjectStore
from tests.edge_apps import free_port

MiB = 1024 * 1024
BOUNDARY = "datalab-stream-test"
ROW = b"1,abcdefghijklmnopqrstuvwxyzabcd\n"  # 32 bytes
BLOCK = ROW * (MiB // len(ROW))


@pytest.fixture
def live_url(app: FastAPI, client: object) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, in a thread of this process."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _spooled_bytes(spool: Path) -> int:
    return max((p.stat().st_size for p in spool.glob("upload-*")), default=0) if spool.exists() else 0


def test_50mb_upload_is_spooled_while_it_streams(
    app: FastAPI, live_url: str, analyst_headers: dict[str, str], object_store: ObjectStore
) -> None:
    spool = app.state.settings.upload_spool_dir
    blocks = 50
    seen_before_end: list[int] = []
    digest = hashlib.sha256(b"id,name\n")

    def body() -> Iterator[bytes]:
        yield (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="name"\r\n\r\nbig\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
            "Content-Type: text/csv\r\n\r\nid,name\n"
        ).encode()
        for index in range(blocks):
            if index == blocks - 1:
                # Bounded wait for the server to catch up with what was sent so far.
                for _ in range(200):
                    if _spooled_bytes(spool) >= 40 * MiB:
                        break
                    time.sleep(0.05)
                seen_before_end.append(_spooled_bytes(spool))
            digest.update(BLOCK)
            yield BLOCK
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    headers = {**analyst_headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    with httpx.Client(timeout=120) as http:
        response = http.post(f"{live_url}/api/v1/datasets", content=body(), headers=headers)

    assert response.status_code == 201, response.text
    assert response.json()["size_bytes"] == blocks * len(BLOCK) + len(b"id,name\n")
    assert response.json()["sha256"] == digest.hexdigest()
    assert seen_before_end[0] >= 40 * MiB
    assert _spooled_bytes(spool) == 0
