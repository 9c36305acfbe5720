"""Measure what serving a route through the mounted Flask app costs, against FastAPI serving the same work.

Both routes below validate the same bearer token with the same module, read the same
user row and return the same fields: GET /api/users/me (Flask, through a2wsgi) and
GET /api/v1/auth/profile (FastAPI). A third pair compares the two health routes.

The server is `dev_server.py` on SQLite in a temporary folder, on 127.0.0.1 only. Rounds
alternate between the routes so both see the same machine noise; the run is bounded
(ROUNDS x REQUESTS requests per route) and stops by itself.

    uv run python benchmarks/mount_overhead.py [--rounds 5] [--requests 400] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PAIRS = {
    "profile": ("/api/users/me", "/api/v1/auth/profile"),
    "health": ("/api/health", "/api/v1/health"),
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _round(
    client: httpx.AsyncClient, path: str, requests: int, concurrency: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue = iter(range(requests))

    async def worker() -> None:
        for _ in queue:
            started = time.perf_counter()
            response = await client.get(path)
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return requests / (time.perf_counter() - started), latencies


async def _measure(base: str, token: str, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        for name, (legacy, v1) in PAIRS.items():
            for path in (legacy, v1):  # warm-up
                await _round(client, path, 50, args.concurrency)
            rates: dict[str, list[float]] = {legacy: [], v1: []}
            lat: dict[str, list[float]] = {legacy: [], v1: []}
            for _ in range(args.rounds):
                for path in (legacy, v1):
                    rate, latencies = await _round(client, path, args.requests, args.concurrency)
                    rates[path].append(rate)
                    lat[path].extend(latencies)
            for path in (legacy, v1):
                ordered = sorted(lat[path])
                results[path] = {
                    "req_per_s": statistics.median(rates[path]),
                    "p50_ms": 1000 * ordered[len(ordered) // 2],
                    "p95_ms": 1000 * ordered[int(len(ordered) * 0.95)],
                }
            results[name] = {
                "legacy_over_v1_throughput": results[legacy]["req_per_s"] / results[v1]["req_per_s"]
            }
    return results


def main() -> None:
    """Start the server, measure each pair side by side, print and save the results."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as var_dir:
        env = {**os.environ, "VAR_DIR": var_dir, "BCRYPT_ROUNDS": "10", "LOG_LEVEL": "WARNING"}
        env.pop("DATABASE_URL", None)
        server = subprocess.Popen(  # noqa: S603 - our own script
            [sys.executable, str(ROOT / "dev_server.py"), "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    httpx.get(f"{base}/api/health", timeout=1).raise_for_status()
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            account = {"email": "bench@example.com", "password": "Bench-Pass-1"}
            httpx.post(f"{base}/api/auth/register", json=account).raise_for_status()
            token = httpx.post(f"{base}/api/auth/login", json=account).json()["access_token"]
            results = asyncio.run(_measure(base, token, args))
        finally:
            server.terminate()
            server.wait(timeout=10)

    print(f"{'route':28} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8}")
    for path, row in results.items():
        if "req_per_s" in row:
            print(f"{path:28} {row['req_per_s']:8.0f} {row['p50_ms']:8.2f} {row['p95_ms']:8.2f}")
    for name in PAIRS:
        print(f"{name}: legacy/v1 throughput ratio {results[name]['legacy_over_v1_throughput']:.2f}")
    meta = {
        "rounds": args.rounds,
        "requests": args.requests,
        "concurrency": args.concurrency,
        "cpus": os.cpu_count(),
    }
    out = ROOT / "benchmarks" / "results" / "mount_overhead.json"
    out.write_text(json.dumps({"settings": meta, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
