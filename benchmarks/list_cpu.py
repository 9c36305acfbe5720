"""CPU per request of the list route, legacy vs migrated vs v1, in one process: steady on a busy machine.

    uv run python benchmarks/list_cpu.py [--requests 200] [--rounds 3]

wrk's req/s on a shared 2-core machine measures the scheduler's share more than the route;
CPU seconds per request do not move with other load. Here the three implementations run
in one process, on one scratch PostgreSQL database (`datalab_bench_cpu`, the caller's 50
sources from `benchmarks.seed`), each app built by `create_app` and driven one request at
a time through httpx's ASGI transport (the whole middleware stack, no sockets), rounds
alternating. CPU is the process's (`time.process_time`, every thread: a2wsgi's too).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if sys.path[0] == str(ROOT / "benchmarks"):  # run as a script: import the package, not its modules
    sys.path[0] = str(ROOT)

import httpx  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from fastapi import FastAPI  # noqa: E402

from benchmarks import seed  # noqa: E402
from benchmarks.configs import LIST_ROUTE  # noqa: E402
from benchmarks.servers import login_body  # noqa: E402
from datalab.settings import Settings  # noqa: E402
from fastapi_app.main import create_app  # noqa: E402

DATABASE = "datalab_bench_cpu"
ROUTES = {
    "legacy": ("legacy", "/api/data-sources?per_page=50"),
    "migrated": ("migrated", "/api/data-sources?per_page=50"),
    "v1": ("legacy", "/api/v1/data-sources?limit=50"),
}
KEY = secrets.token_urlsafe(48)
FERNET = Fernet.generate_key().decode()


def settings_for(state: str) -> Settings:
    """Return production settings on the scratch database with the list route in `state`."""
    return Settings(
        _env_file=None,
        env="production",
        database_url=seed.database_url(DATABASE),
        jwt_secret_key=KEY,
        encryption_keys=FERNET,
        bcrypt_rounds=10,
        access_ttl=86400,
        log_level="WARNING",
        rate_limit_enabled=False,
        route_states=json.dumps({LIST_ROUTE: state}),
    )


async def cpu_ms_per_request(app: FastAPI, path: str, token: str, requests: int) -> float:
    """Return CPU ms per request of `requests` sequential GETs of `path` (each checked: 200)."""
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        await client.get(path, headers=headers)  # warm: statement caches, masked-config cache
        started = time.process_time()
        for _ in range(requests):
            response = await client.get(path, headers=headers)
            assert response.status_code == 200, response.text
        return (time.process_time() - started) * 1000 / requests


async def measure(requests: int, rounds: int) -> dict[str, list[float]]:
    """Run the rounds, implementations alternating, and return CPU ms per request of each."""
    apps = {state: create_app(settings_for(state)) for state in ("legacy", "migrated")}
    results: dict[str, list[float]] = {name: [] for name in ROUTES}
    async with apps["legacy"].router.lifespan_context(apps["legacy"]):
        async with apps["migrated"].router.lifespan_context(apps["migrated"]):
            transport = httpx.ASGITransport(app=apps["legacy"])
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
                login = await client.post("/api/v1/auth/login", json=login_body(seed.USER_EMAIL))
                token = login.json()["access_token"]
            for _ in range(rounds):
                for name, (state, path) in ROUTES.items():
                    results[name].append(await cpu_ms_per_request(apps[state], path, token, requests))
    return results


def main() -> None:
    """Seed, measure, print, drop."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200, help="requests per round (default 200)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    args = parser.parse_args()
    seed.create_database(DATABASE)
    try:
        seed.seed(settings_for("legacy"), DATABASE).connection.close()
        results = asyncio.run(measure(args.requests, args.rounds))
    finally:
        seed.drop_database(DATABASE)
    legacy = min(results["legacy"])
    for name, values in results.items():
        rounds = ", ".join(f"{v:.2f}" for v in values)
        best = min(values)
        print(f"{name:9} CPU ms/request: best {best:.2f} (rounds {rounds}); x legacy {best / legacy:.2f}")


if __name__ == "__main__":
    main()
