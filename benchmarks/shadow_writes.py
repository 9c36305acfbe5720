"""Latency a shadowed write adds: PUT /api/users/me served by Flask alone, and rehearsed on its port first.

uv run python benchmarks/shadow_writes.py   (SQLite in a temporary folder; DATABASE_URL for another)

One app per mode over one database, alternating rounds of sequential requests so both
see the same machine noise. In shadow with `shadow_writes` the client waits for the
port's rolled-back run before Flask's, so the difference is the rehearsal's cost.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from datalab.migrate import upgrade
from datalab.settings import Settings
from fastapi_app.main import create_app
from fastapi_app.migration.registry import DEFAULT_FILE

ROUNDS, REQUESTS = 6, 100
ROUTE = "PUT /api/users/me"
PASSWORD = "Bench-Passw0rd"  # noqa: S105 - a throwaway account's password


def _round_ms(client: TestClient, headers: dict[str, str]) -> list[float]:
    times = []
    for n in range(REQUESTS):
        start = time.perf_counter()
        response = client.put("/api/users/me", json={"first_name": f"Bench {n}"}, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.text
    return times


def main() -> None:
    """Print the median time of the write in each mode, and the difference."""
    folder = Path(tempfile.mkdtemp())
    base: dict[str, Any] = {"_env_file": None, "env": "test", "var_dir": folder, "log_level": "ERROR"}
    if os.environ.get("DATABASE_URL"):
        base["database_url"] = os.environ["DATABASE_URL"]
    routes = folder / "routes.toml"
    head = f'[routes."{ROUTE}"]\n'
    routes.write_text(DEFAULT_FILE.read_text(encoding="utf-8").replace(head, head + "shadow_writes = true\n"))
    legacy = Settings(**base, rate_limit_enabled=False)
    upgrade(legacy)
    shadow = legacy.model_copy(update={"routes_file": routes, "route_states": {ROUTE: "shadow"}})
    with TestClient(create_app(legacy)) as alone, TestClient(create_app(shadow)) as shadowed:
        account = {"email": "bench@example.com", "password": PASSWORD}
        created = alone.post("/api/v1/auth/register", json=account)
        assert created.status_code == 201, created.text
        login = alone.post("/api/auth/login", json=account)
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        times: dict[str, list[float]] = {"flask alone": [], "rehearsed first": []}
        for n in range(ROUNDS):
            pair = [("flask alone", alone), ("rehearsed first", shadowed)]
            for mode, client in pair if n % 2 else reversed(pair):
                times[mode].extend(_round_ms(client, headers))
        mismatches = shadowed.app.state.migration.counter.pending()[1]  # type: ignore[attr-defined]
    a, r = statistics.median(times["flask alone"]), statistics.median(times["rehearsed first"])
    print(f"{ROUTE}, Flask alone:     {a:.2f} ms (median of {ROUNDS} x {REQUESTS})")
    print(f"{ROUTE}, rehearsed first: {r:.2f} ms")
    print(f"added by the rehearsal:        {r - a:+.2f} ms ({(r - a) / a:+.0%})")
    print(f"shadow mismatches:             {len(mismatches)}")


if __name__ == "__main__":
    main()
