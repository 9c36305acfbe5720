"""Dataset upload and download through the API over real HTTP, next to copying the file on disk.

    uv run python -m benchmarks.datasets [--mb 500]

Starts uvicorn in its own process on a scratch SQLite database and folder store, uploads a CSV
of `--mb` megabytes as multipart/form-data with curl, downloads it back, and samples
the server's resident memory (RSS) throughout. Prints throughput in MB/s beside `shutil.copyfile`
of the same file, and the server's RSS growth; results go to benchmarks/datasets_results.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

from benchmarks.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000
CHUNK = 1024 * 1024
EMAIL = "bench-datasets@example.com"
PASSWORD = "Bench-Pass-1"  # noqa: S105 - a scratch account in a scratch database


def _cli(env: dict[str, str], *args: str, stdin: str = "") -> None:
    command = [sys.executable, "-c", "from datalab.cli import main; main()", *args]
    subprocess.run(command, cwd=ROOT, env=env, input=stdin.encode(), check=True, capture_output=True)  # noqa: S603


def _curl(base: str, headers: dict[str, str], *args: str) -> str:
    auth = headers["Authorization"]
    *options, path = args
    command = ["curl", "-sS", "--fail-with-body", "-H", f"Authorization: {auth}", *options, base + path]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout  # noqa: S603


def _make_csv(path: Path, size: int) -> None:
    row = b"123456,abcdefghijklmnopqrstuvwxyz,3.25,2026-11-28\n"
    block = row * (CHUNK // len(row))
    with path.open("wb") as out:
        out.write(b"id,name,score,day\n")
        while out.tell() < size:
            out.write(block)


class RssSampler:
    """Sample a process's RSS every few milliseconds and keep the peak."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def run(size_mb: int, work: Path) -> dict[str, float]:
    """Measure once and return the numbers."""
    var = work / "var"
    env = {
        **os.environ,
        "ENV": "development",
        "VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'bench.db'}",
        "RATE_LIMIT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        "DATASET_MAX_BYTES": str(4 * size_mb * MB),
    }
    var.mkdir(parents=True)
    _cli(env, "db", "upgrade")
    _cli(env, "create-user", "--email", EMAIL, "--role", "analyst", stdin=PASSWORD + "\n")
    source = work / "bench.csv"
    _make_csv(source, size_mb * MB)
    size = source.stat().st_size
    started = time.perf_counter()
    shutil.copyfile(source, work / "copy.csv")
    copy_s = time.perf_counter() - started
    (work / "copy.csv").unlink()

    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "fastapi_app.asgi:app",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        login = httpx.post(f"{base}/api/auth/login", json={"email": EMAIL, "password": PASSWORD}, timeout=30)
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        baseline = psutil.Process(server.pid).memory_info().rss
        # curl is the client: a Python client on the same two cores measured itself, not the server.
        with RssSampler(server.pid) as upload_rss:
            started = time.perf_counter()
            created = json.loads(
                _curl(base, headers, "-F", f"file=@{source}", "-F", "name=bench", "/api/v1/datasets")
            )
            upload_s = time.perf_counter() - started
        target = work / "down.csv"
        with RssSampler(server.pid) as download_rss:
            started = time.perf_counter()
            _curl(base, headers, "-o", str(target), f"/api/v1/datasets/{created['id']}/download")
            download_s = time.perf_counter() - started
        digest = hashlib.sha256()
        with target.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
        assert digest.hexdigest() == created["sha256"], "downloaded bytes differ"
    finally:
        server.terminate()
        server.wait(timeout=30)
    mb = size / MB
    return {
        "file_mb": round(mb, 1),
        "disk_copy_mb_s": round(mb / copy_s, 1),
        "upload_mb_s": round(mb / upload_s, 1),
        "download_mb_s": round(mb / download_s, 1),
        "upload_vs_copy": round(copy_s / upload_s, 3),
        "download_vs_copy": round(copy_s / download_s, 3),
        "server_rss_baseline_mb": round(baseline / MB, 1),
        "server_rss_upload_peak_mb": round(upload_rss.peak / MB, 1),
        "server_rss_upload_growth_mb": round((upload_rss.peak - baseline) / MB, 1),
        "server_rss_download_peak_mb": round(download_rss.peak / MB, 1),
        "server_rss_download_growth_mb": round((download_rss.peak - baseline) / MB, 1),
    }


def main() -> None:
    """Run the benchmark and record its numbers."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=500, help="size of the uploaded file in MB")
    args = parser.parse_args()
    work = Path(
        tempfile.mkdtemp(prefix="bench-datasets-", dir=ROOT / "var" if (ROOT / "var").is_dir() else None)
    )
    try:
        results = run(args.mb, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))
    (ROOT / "benchmarks" / "datasets_results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
