"""A canary sends a sticky share of callers to the port; the guard rolls a failing port back by itself."""

from __future__ import annotations

from collections import Counter

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from datalab.tokens import issue_token
from fastapi_app.migration.live import LiveRoute
from fastapi_app.migration.ports import users as user_ports
from shared_models import Role
from tests.fastapi_app.migration.conftest import Build, migration_of
from tests.helpers import Accounts, audit_entries, bearer

ME = "GET /api/users/me"
CALLERS = 1_000


def test_a_canary_serves_its_share_of_callers_each_always_on_one_side(
    build: Build, accounts: Accounts
) -> None:
    built, client = build(route_states={ME: "canary:30"})
    settings = built.state.settings
    # Distinct callers: signed tokens of users that do not exist, which both sides refuse alike.
    headers = [
        bearer(issue_token(settings, user_id=10_000 + i, kind="access", session_id="canary").token)
        for i in range(CALLERS)
    ]

    sides: list[str] = []
    answers: set[tuple[int, bytes]] = set()
    for caller in headers:
        response = client.get("/api/users/me", headers=caller)
        sides.append(response.headers["X-Served-By"])
        answers.add((response.status_code, response.content))

    assert 0.25 <= sides.count("fastapi") / CALLERS <= 0.35
    assert set(sides) == {"fastapi", "legacy_flask"}
    assert len(answers) == 1  # whichever side served, the caller got the same answer
    again = {i: [client.get("/api/users/me", headers=headers[i]).headers["X-Served-By"] for _ in range(3)]
             for i in range(0, CALLERS, 50)}  # fmt: skip
    assert again == {i: [sides[i]] * 3 for i in again}
    anonymous = [client.get("/api/users/me").headers["X-Served-By"] for _ in range(5)]
    assert len(set(anonymous)) == 1  # no token: one client address, one side

    migration_of(built).counter.flush()
    admin = accounts.headers(accounts.create("boss@example.com", Role.ADMIN))
    lines = client.get("/api/v1/admin/migration", headers=admin).json()["routes"]
    line = next(line for line in lines if line["route"] == ME)
    assert (line["state"], line["percent"]) == ("canary", 30)
    served = Counter(sides + [side for repeated in again.values() for side in repeated] + anonymous)
    assert (line["served_fastapi"], line["served_legacy_flask"]) == (
        served["fastapi"],
        served["legacy_flask"],
    )
    assert line["fastapi_share"] == round(100 * served["fastapi"] / served.total(), 1)


def test_a_failing_canary_port_rolls_back_by_itself(
    build: Build, accounts: Accounts, monkeypatch: pytest.MonkeyPatch, session: Session
) -> None:
    least = 10
    built, _ = build(
        route_states={ME: "canary:50"},
        rollback_enabled=True,
        rollback_min_requests=least,
        rollback_window_requests=50,
    )
    migration = migration_of(built)
    users = [accounts.create(f"c{i}@example.com") for i in range(30)]
    headers = [accounts.headers(user) for user in users]

    def broken(user: object) -> dict[str, object]:
        raise RuntimeError("a bug in the port only")

    monkeypatch.setattr(user_ports, "user_json", broken)
    failures = 0
    with TestClient(built, raise_server_exceptions=False) as client:
        assert client.portal is not None
        for _ in range(10):  # bounded: rounds over every caller until the route is back on Flask
            for user, caller in zip(users, headers, strict=True):
                response = client.get("/api/users/me", headers=caller)
                client.portal.call(migration.guard.drain)
                if response.headers["X-Served-By"] == "fastapi":
                    assert response.status_code == 500
                    failures += 1
                else:  # the callers Flask serves never notice
                    assert (response.status_code, response.json()["email"]) == (200, user.email)
            if migration.live.current.of(ME) == LiveRoute("legacy"):
                break

        assert migration.live.current.of(ME) == LiveRoute("legacy")
        assert failures == least  # judged as soon as the window held the minimum sample
        for user, caller in zip(users, headers, strict=True):
            response = client.get("/api/users/me", headers=caller)
            assert (response.status_code, response.headers["X-Served-By"]) == (200, "legacy_flask")
            assert response.json()["email"] == user.email

    [entry] = audit_entries(session, "route.rolled_back")
    assert entry.user_id is None
    details = entry.details
    assert (details["from"], details["to"], details["by"], details["rule"]) == (
        "canary:50",
        "legacy",
        "rollback guard",
        "5xx",
    )
    assert (details["port_requests"], details["port_5xx_percent"]) == (least, 100.0)
    exposition = built.state.metrics.exposition().decode()
    assert f'datalab_route_rollbacks_total{{route="{ME}"}} 1.0' in exposition
