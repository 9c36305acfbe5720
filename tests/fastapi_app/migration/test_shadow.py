"""Shadow mode: the client always gets Flask's answer; the port's is compared and differences recorded."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.types import Receive, Scope, Send

from datalab.blocking import wait_for
from fastapi_app.migration.ports import data_sources as data_source_ports
from fastapi_app.migration.ports import users as user_ports
from shared_models import RouteStats, ShadowMismatch, User
from tests.fastapi_app.migration.conftest import Build, drain, migration_of
from tests.helpers import Accounts

ME = "GET /api/users/me"
SHADOW_ME = {"route_states": {ME: "shadow"}}


def tampered_user_json(user: User) -> dict[str, Any]:
    """The port's serializer with a bug: the wrong role."""
    from datalab.legacy_json import user_json

    return {**user_json(user), "role": "admin"}


def stored_mismatches(session: Session) -> list[ShadowMismatch]:
    """Return the recorded mismatches, oldest first."""
    session.expire_all()
    return list(session.scalars(select(ShadowMismatch).order_by(ShadowMismatch.id)))


def stats_of(session: Session, route: str) -> RouteStats:
    """Return the stored counts of `route`."""
    session.expire_all()
    row = session.get(RouteStats, route)
    assert row is not None
    return row


def test_shadow_agrees_and_counts_comparisons(build: Build, accounts: Accounts, session: Session) -> None:
    app, client = build(**SHADOW_ME)
    headers = accounts.headers(accounts.create("same@example.com"))

    for _ in range(3):
        assert client.get("/api/users/me", headers=headers).status_code == 200
    drain(client, app)
    migration_of(app).counter.flush()

    row = stats_of(session, ME)
    assert (row.served_legacy_flask, row.served_fastapi) == (3, 0)
    assert (row.shadow_compared, row.shadow_mismatches) == (3, 0)
    assert row.live_state == "shadow"
    assert stored_mismatches(session) == []


def test_injected_difference_is_caught_and_client_gets_flask_answer(
    build: Build, accounts: Accounts, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client = build(**SHADOW_ME)
    user = accounts.create("caught@example.com")
    headers = accounts.headers(user)
    monkeypatch.setattr(user_ports, "user_json", tampered_user_json)

    response = client.get("/api/users/me", headers=headers)
    drain(client, app)
    migration_of(app).counter.flush()

    assert response.status_code == 200
    assert response.headers["X-Served-By"] == "legacy_flask"
    assert response.json()["role"] == "user"
    [mismatch] = stored_mismatches(session)
    assert mismatch.route == ME
    assert mismatch.request_id == response.headers["X-Request-ID"]
    assert mismatch.diff == 'role: flask "user", fastapi "admin"'
    assert stats_of(session, ME).shadow_mismatches == 1


def test_port_exception_is_a_mismatch_never_a_failed_request(
    build: Build, accounts: Accounts, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client = build(**SHADOW_ME)
    headers = accounts.headers(accounts.create("boom@example.com"))

    def explode(user: User) -> dict[str, Any]:
        raise RuntimeError("secret detail that must not be stored")

    monkeypatch.setattr(user_ports, "user_json", explode)
    response = client.get("/api/users/me", headers=headers)
    drain(client, app)
    migration_of(app).counter.flush()

    assert response.status_code == 200
    assert response.json()["email"] == "boom@example.com"
    [mismatch] = stored_mismatches(session)
    assert mismatch.diff == "the port raised RuntimeError"
    assert "secret detail" not in mismatch.diff


def test_slow_port_times_out_as_a_mismatch(
    build: Build, accounts: Accounts, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client = build(shadow_timeout=0.2, **SHADOW_ME)
    headers = accounts.headers(accounts.create("slow@example.com"))
    release, finished = threading.Event(), threading.Event()

    waiter = ThreadPoolExecutor(max_workers=1)

    def slow(user: User) -> dict[str, Any]:
        # Blocked until the test has its answer and the shadow call has given up: ordering, not timing.
        # The port runs on the event loop (run_sync), so it waits the way a slow source would: awaited.
        wait_for(waiter.submit(release.wait, 30), 31)
        finished.set()
        return tampered_user_json(user)

    monkeypatch.setattr(user_ports, "user_json", slow)
    try:
        response = client.get("/api/users/me", headers=headers)
        assert not finished.is_set()  # the client got its answer while the port was still blocked
        drain(client, app)  # ends only by the shadow timeout: the port is blocked still
        assert not finished.is_set()
    finally:
        release.set()
        waiter.shutdown(wait=True)
    migration_of(app).counter.flush()

    assert response.status_code == 200
    [mismatch] = stored_mismatches(session)
    assert mismatch.diff == "the port did not answer within 0.2s"


def test_ignored_paths_are_not_compared(
    build: Build, accounts: Accounts, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client = build(route_states={"GET /api/data-sources": "shadow"})
    headers = accounts.headers(accounts.create("noise@example.com"))
    created = client.post(
        "/api/data-sources", json={"name": "n", "type": "csv", "config": {"path": "a.csv"}}, headers=headers
    )
    assert created.status_code == 201
    from datalab.legacy_json import data_source_json as real

    def noisy(source: Any, cipher: Any, **options: Any) -> dict[str, Any]:
        noise = {"updated_at": "2000-01-01T00:00:00+00:00", "usage_count": 7}
        return {**real(source, cipher, **options), **noise}

    monkeypatch.setattr(data_source_ports, "data_source_json", noisy)
    assert client.get("/api/data-sources", headers=headers).status_code == 200
    drain(client, app)
    migration_of(app).counter.flush()

    # updated_at is ignored by the registry; usage_count is not.
    [mismatch] = stored_mismatches(session)
    assert mismatch.diff == "data_sources[0].usage_count: flask 0, fastapi 7"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"last_used": "2000-01-01T00:00:00+00:00"}, []),  # ignored by the registry (**.last_used)
        ({"last_used": "t", "debug": 1}, ["debug: only fastapi has it (1)"]),
    ],
    ids=["ignored", "not-ignored"],
)
def test_keys_only_the_port_answers_are_compared_unless_ignored(
    build: Build,
    accounts: Accounts,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
    extra: dict[str, Any],
    expected: list[str],
) -> None:
    app, client = build(**SHADOW_ME)
    headers = accounts.headers(accounts.create("extra@example.com"))
    from datalab.legacy_json import user_json as real

    monkeypatch.setattr(user_ports, "user_json", lambda user: {**real(user), **extra})
    assert client.get("/api/users/me", headers=headers).status_code == 200
    drain(client, app)
    migration_of(app).counter.flush()

    assert [mismatch.diff for mismatch in stored_mismatches(session)] == expected
    assert stats_of(session, ME).shadow_compared == 1


def test_only_safe_methods_are_shadowed(build: Build, accounts: Accounts, session: Session) -> None:
    app, client = build(route_states={"PUT /api/users/me": "shadow"})
    headers = accounts.headers(accounts.create("put@example.com"))

    assert client.put("/api/users/me", json={"first_name": "Once"}, headers=headers).status_code == 200
    drain(client, app)
    migration_of(app).counter.flush()

    row = stats_of(session, "PUT /api/users/me")
    assert (row.served_legacy_flask, row.shadow_compared) == (1, 0)


def test_sample_rate_zero_shadows_nothing(build: Build, accounts: Accounts, session: Session) -> None:
    app, client = build(shadow_sample_rate=0.0, **SHADOW_ME)
    headers = accounts.headers(accounts.create("none@example.com"))

    for _ in range(3):
        client.get("/api/users/me", headers=headers)
    drain(client, app)
    migration_of(app).counter.flush()

    row = stats_of(session, ME)
    assert (row.served_legacy_flask, row.shadow_compared) == (3, 0)


def test_shadow_calls_beyond_the_limit_are_skipped_and_counted(
    build: Build, accounts: Accounts, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client = build(shadow_max_concurrent=1, shadow_timeout=30.0, **SHADOW_ME)
    headers = accounts.headers(accounts.create("busy@example.com"))
    shadow = migration_of(app).shadow
    ports_app = shadow.ports_app
    release = threading.Event()

    async def held(scope: Scope, receive: Receive, send: Send) -> None:
        # The first shadow call stays under way until both requests are in; it waits on a thread,
        # not on the event loop, which also serves the client's requests.
        await asyncio.to_thread(release.wait, 30)
        await ports_app(scope, receive, send)

    monkeypatch.setattr(shadow, "ports_app", held)
    try:
        for _ in range(2):
            assert client.get("/api/users/me", headers=headers).status_code == 200
    finally:
        release.set()
    drain(client, app)
    migration_of(app).counter.flush()

    row = stats_of(session, ME)
    assert (row.shadow_compared, row.shadow_skipped, row.shadow_mismatches) == (1, 1, 0)


def test_counts_from_several_flushes_add_up(build: Build, accounts: Accounts, session: Session) -> None:
    app, client = build(route_states={ME: "migrated"})
    headers = accounts.headers(accounts.create("sum@example.com"))
    counter = migration_of(app).counter

    client.get("/api/users/me", headers=headers)
    counter.flush()
    client.get("/api/users/me", headers=headers)
    client.get("/api/users/me", headers=headers)
    counter.flush()

    row = stats_of(session, ME)
    assert (row.served_fastapi, row.served_legacy_flask) == (3, 0)
    assert row.live_state == "migrated"


def test_counts_are_written_at_shutdown(build: Build, accounts: Accounts, session: Session) -> None:
    app, client = build()
    headers = accounts.headers(accounts.create("bye@example.com"))
    client.get("/api/users/me", headers=headers)
    client.get("/api/data-sources/12345", headers=headers)

    client.__exit__(None, None, None)  # what the server does when it stops

    assert stats_of(session, ME).served_legacy_flask == 1
    assert stats_of(session, "GET /api/data-sources/<id>").served_legacy_flask == 1
