"""What the gateway costs: a small JSON route direct vs through the gateway, and a 100 MB download's RSS.

    uv run python benchmarks/gateway.py [--duration 10] [--rounds 3] [--requests 500]

One run starts the test upstream (`tests.gateway_upstreams`) under uvicorn and the
combined app under uvicorn with that upstream as the `analysis` service, on a scratch
SQLite database in a temporary folder. The gateway is pinned to CPU 0; the upstream and
the load generator share CPU 1, so the direct and gateway runs give the upstream the same
room. Added latency is measured with sequential keep-alive requests (no queueing), both
sides alternating; throughput with wrk (1 thread, 16 connections); the gateway's RSS is
sampled every 20 ms during a 100 MB download through it. Results go to
`benchmarks/gateway_results.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from benchmarks.load import Load, find_wrk
from benchmarks.profiling import PROFILES, record, summarise
from benchmarks.results import machine, now, read_proc
from benchmarks.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
OUT = Path(__file__).resolve().parent / "gateway_results.md"
DOWNLOAD = 100 * 1024 * 1024
PASSWORD = "Bench-Password-1"  # noqa: S105 - a scratch account in a scratch database


@contextmanager
def server(app: str, port: int, cpu: int, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """Run uvicorn for `app` pinned to `cpu` until the block ends."""
    command = ["taskset", "-c", str(cpu), str(BIN / "uvicorn"), app, "--port", str(port)]
    command += ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)  # noqa: S603
    try:
        for _ in range(600):
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


def rss_kib(pid: int) -> int:
    """Return the resident set size of `pid` in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def sequential_ms(client: httpx.Client, url: str, headers: dict[str, str], count: int) -> list[float]:
    """Time `count` sequential GETs of `url`, in ms."""
    times = []
    for _ in range(count):
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.text
    return times


def pct(values: list[float], q: int) -> float:
    """Return the q-th percentile of `values`."""
    return statistics.quantiles(values, n=100)[q - 1]


def download(url: str, headers: dict[str, str], pid: int | None) -> tuple[float, int, int, int]:
    """Stream DOWNLOAD bytes from `url`; return seconds and the RSS (KiB) of `pid` before, at peak, after."""
    before = rss_kib(pid) if pid else 0
    peak, done = before, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_kib(pid)) if pid else 0
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    start, got = time.perf_counter(), 0
    with httpx.stream("GET", f"{url}?size={DOWNLOAD}", headers=headers, timeout=120) as response:
        for chunk in response.iter_raw(256 * 1024):
            got += len(chunk)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    assert got == DOWNLOAD
    return seconds, before, peak, rss_kib(pid) if pid else 0


def prepare(env: dict[str, str]) -> None:
    """Migrate the scratch database and create the bench user."""
    datalab = str(BIN / "datalab")
    subprocess.run([datalab, "db", "upgrade"], env=env, check=True, capture_output=True)  # noqa: S603
    create = [datalab, "create-user", "--email", "bench@example.com", "--role", "analyst"]
    subprocess.run(create, env=env, check=True, capture_output=True, input=PASSWORD.encode())  # noqa: S603


def main(argv: list[str] | None = None) -> None:
    """Run the gateway benchmark once and write its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of wrk per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=500, help="sequential requests per side per round")
    parser.add_argument("--profile", action="store_true", help="only profile the gateway under wrk (py-spy)")
    args = parser.parse_args(argv)
    wrk = Load(find_wrk(), cpu=1)
    up_port, gw_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            "ENV": "production",
            "VAR_DIR": folder,
            "DATABASE_URL": f"sqlite:///{folder}/bench.db",
            "JWT_SECRET_KEY": secrets.token_urlsafe(48),
            "DATA_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "BCRYPT_ROUNDS": "10",
            "RATE_LIMIT_ENABLED": "false",
            "LOG_LEVEL": "WARNING",
            "HEALTH_CHECK_INTERVAL": "60",
            "SERVICES": json.dumps([{"name": "analysis", "urls": [f"http://127.0.0.1:{up_port}"]}]),
        }
        prepare(env)
        with (
            server("tests.gateway_upstreams:app", up_port, 1, env),
            server("fastapi_app.asgi:app", gw_port, 0, env) as gateway,
        ):
            direct, through = f"http://127.0.0.1:{up_port}", f"http://127.0.0.1:{gw_port}"
            if args.profile:
                profile(args, wrk, through, gateway.pid)
            else:
                run(args, wrk, direct, through, gateway.pid)


def profile(args: argparse.Namespace, wrk: Load, gateway: str, pid: int) -> None:
    """Sample the gateway's GIL-holding thread with py-spy while wrk drives the forwarded route."""
    login = {"email": "bench@example.com", "password": PASSWORD}
    token = httpx.post(f"{gateway}/api/v1/auth/login", json=login, timeout=30).json()["access_token"]
    raw = PROFILES / "gateway.collapsed"
    PROFILES.mkdir(exist_ok=True)
    sampler = record(pid, args.duration - 1, raw, cpu=1, gil=True)
    wrk.run(f"{gateway}/api/v1/analysis/json", args.duration, token=token)
    sampler.wait(timeout=60)
    summary = summarise(raw.read_text())
    (PROFILES / "gateway.md").write_text(f"# Gateway under wrk, GIL samples\n\n{summary}\n")
    print(summary)


def run(args: argparse.Namespace, wrk: Load, direct: str, gateway: str, pid: int) -> None:
    """Measure both sides and write the results."""
    login = {"email": "bench@example.com", "password": PASSWORD}
    token = httpx.post(f"{gateway}/api/v1/auth/login", json=login, timeout=30).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    urls = {"direct": f"{direct}/json", "gateway": f"{gateway}/api/v1/analysis/json"}
    # Two floors of the gateway's cost: its middleware alone, and middleware plus the token check.
    floors = {"floor": (f"{gateway}/health/live", {}), "token": (f"{gateway}/api/v1/auth/profile", auth)}
    latency: dict[str, list[float]] = {"direct": [], "gateway": [], "floor": [], "token": []}
    rps: dict[str, list[float]] = {"direct": [], "gateway": [], "token": []}
    with httpx.Client(timeout=30) as client:
        for side in ("direct", "gateway"):
            sequential_ms(client, urls[side], auth, 50)  # warm-up
        for _ in range(args.rounds):
            for side in ("direct", "gateway"):
                latency[side] += sequential_ms(client, urls[side], auth, args.requests)
            for name, (url, headers) in floors.items():
                latency[name] += sequential_ms(client, url, headers, args.requests)
    urls["token"] = floors["token"][0]
    for _ in range(args.rounds):
        for side in ("direct", "gateway", "token"):
            sample = wrk.run(urls[side], args.duration, token=token)
            assert sample.errors == 0, sample
            assert sample.bad_status == 0, sample
            rps[side].append(sample.rps)
    direct_dl = download(f"{direct}/bytes", auth, None)
    gateway_dl = download(f"{gateway}/api/v1/analysis/bytes", auth, pid)
    write(args, latency, rps, direct_dl, gateway_dl)


def write(
    args: argparse.Namespace,
    latency: dict[str, list[float]],
    rps: dict[str, list[float]],
    direct_dl: tuple[float, int, int, int],
    gateway_dl: tuple[float, int, int, int],
) -> None:
    """Print and save the results table."""
    p50 = {side: pct(values, 50) for side, values in latency.items()}
    p99 = {side: pct(values, 99) for side, values in latency.items()}
    median_rps = {side: statistics.median(values) for side, values in rps.items()}
    added50, added99 = p50["gateway"] - p50["direct"], p99["gateway"] - p99["direct"]
    ratio = median_rps["gateway"] / median_rps["direct"]
    seconds, before, peak, after = gateway_dl
    info = machine()
    load = " ".join(read_proc("/proc/loadavg").split(" ")[:3])
    verdict = {True: "met", False: "**missed**"}
    command = "uv run python benchmarks/gateway.py"
    lines = [
        "# Gateway benchmark",
        "",
        f"Run {now()} on {info.get('cpu', '?')} ({info.get('cores', '?')} cores), load average "
        f"{load} at the end (the machine is shared). `{command} "
        f"--duration {args.duration:g} --rounds {args.rounds} --requests {args.requests}`.",
        "",
        "| measure | direct | through the gateway | difference | target | status |",
        "|---|---:|---:|---:|---:|---|",
        f"| p50 latency, small JSON, sequential (ms) | {p50['direct']:.2f} | {p50['gateway']:.2f} "
        f"| +{added50:.2f} | <= +1 ms | {verdict[added50 <= 1]} |",
        f"| p99 latency, small JSON, sequential (ms) | {p99['direct']:.2f} | {p99['gateway']:.2f} "
        f"| +{added99:.2f} |  | info |",
        f"| req/s, small JSON, wrk 16 connections (median of {args.rounds}) | {median_rps['direct']:.0f} "
        f"| {median_rps['gateway']:.0f} | {ratio:.2f}x | >= 0.70x | {verdict[ratio >= 0.7]} |",
        f"| 100 MB download (s) | {direct_dl[0]:.2f} | {seconds:.2f} "
        f"| {seconds / direct_dl[0]:.2f}x |  | info |",
        f"| gateway RSS before / peak during / after the download (MiB) |  | {before / 1024:.1f} / "
        f"{peak / 1024:.1f} / {after / 1024:.1f} | +{(peak - before) / 1024:.1f} | flat "
        f"| {verdict[peak - before < 32 * 1024]} |",
        "",
        "Where the gateway's time goes, measured in the same run on the gateway process:",
        "",
        "| route on the gateway | what it does | p50 ms | p99 ms | req/s |",
        "|---|---|---:|---:|---:|",
        f"| `GET /health/live` | the middleware stack alone | {p50['floor']:.2f} | {p99['floor']:.2f} |  |",
        f"| `GET /api/v1/auth/profile` | middleware + the token check (user and session read from the "
        f"database) | {p50['token']:.2f} | {p99['token']:.2f} | {median_rps['token']:.0f} |",
        f"| `GET /api/v1/analysis/json` | middleware + token check + forwarding | {p50['gateway']:.2f} "
        f"| {p99['gateway']:.2f} | {median_rps['gateway']:.0f} |",
        "",
    ]
    text = "\n".join(lines)
    OUT.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
