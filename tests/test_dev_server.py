"""`uv run dev_server.py` on a fresh checkout: migrates SQLite in var/ and serves both APIs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - a loopback URL we built
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_dev_server_creates_database_and_serves_both_apis(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "JWT_SECRET_KEY", "ENV"}}
    env["VAR_DIR"] = str(tmp_path / "var")
    server = subprocess.Popen(  # noqa: S603 - our own script with fixed arguments
        [sys.executable, str(ROOT / "dev_server.py"), "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        legacy = None
        while time.monotonic() < deadline and legacy is None:
            try:
                legacy = _get_json(f"http://127.0.0.1:{port}/api/health")
            except OSError:
                assert server.poll() is None, "dev server exited early"
                time.sleep(0.2)
        assert legacy == {"status": "ok", "service": "legacy_flask"}
        assert _get_json(f"http://127.0.0.1:{port}/api/v1/health")["status"] == "ok"
        assert (tmp_path / "var" / "datalab.db").is_file()
        assert (tmp_path / "var" / "jwt_secret").is_file()
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/docs" in output
    assert f"http://127.0.0.1:{port}/api" in output
    # The folder file sources live in is made on the first start and named in the banner.
    assert (tmp_path / "var" / "data").is_dir()
    assert f"data folder  {tmp_path / 'var' / 'data'}" in output
