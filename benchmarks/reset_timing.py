"""Time of a password-reset request for a known and an unknown email (the account oracle).

uv run python benchmarks/reset_timing.py   (SQLite in a temporary folder; DATABASE_URL for another)

Requests interleave the two emails so both see the same machine noise; the mail of
the known email goes to the log mailer after the answer, as in development. The suite
proves the two do the same work (tests/fastapi_app/test_accounts.py); this measures it.
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

ROUNDS, REQUESTS = 5, 100
PASSWORD = "Bench-Passw0rd"  # noqa: S105 - a throwaway account's password


def _time_ms(client: TestClient, email: str) -> float:
    start = time.perf_counter()
    response = client.post("/api/v1/auth/reset-password", json={"email": email})
    elapsed = (time.perf_counter() - start) * 1000
    assert response.status_code == 202, response.text
    return elapsed


def _medians_ms(client: TestClient, emails: tuple[str, str]) -> tuple[float, float]:
    # Interleaved, first one then the other first, so neither always follows the same request.
    times: dict[str, list[float]] = {email: [] for email in emails}
    for n in range(REQUESTS):
        for email in emails if n % 2 else reversed(emails):
            times[email].append(_time_ms(client, email))
    first, second = (statistics.median(times[email]) for email in emails)
    return first, second


def main() -> None:
    """Print the median time of each kind of request, and their difference."""
    folder = Path(tempfile.mkdtemp())
    base: dict[str, Any] = {"_env_file": None, "env": "test", "var_dir": folder, "log_level": "ERROR"}
    if os.environ.get("DATABASE_URL"):
        base["database_url"] = os.environ["DATABASE_URL"]
    settings = Settings(**base, rate_limit_enabled=False)
    upgrade(settings)
    with TestClient(create_app(settings)) as client:
        created = client.post(
            "/api/v1/auth/register", json={"email": "known@example.com", "password": PASSWORD}
        )
        assert created.status_code == 201, created.text
        known, unknown = [], []
        for _ in range(ROUNDS):
            medians = _medians_ms(client, ("known@example.com", "nobody@example.com"))
            known.append(medians[0])
            unknown.append(medians[1])
    k, u = statistics.median(known), statistics.median(unknown)
    print(f"reset request, known email:   {k:.2f} ms (median of {ROUNDS} x {REQUESTS})")
    print(f"reset request, unknown email: {u:.2f} ms")
    print(f"difference:                   {k - u:+.2f} ms ({(k - u) / u:+.0%})")


if __name__ == "__main__":
    main()
