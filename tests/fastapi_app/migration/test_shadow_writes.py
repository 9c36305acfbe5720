"""Shadowed writes: the port rehearses each write, rolled back, before Flask serves it; no trace is left.

The write routes come from the registry (every ported POST/PUT/PATCH/DELETE), so a route
ported later is covered, and must be exercised by the scenario of test_switch.py.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, Integer, func, select
from sqlalchemy.orm import Session, object_session

from datalab.blocking import wait_for
from datalab.connectors.service import ConnectorRunner
from datalab.crypto import ConfigCipher
from datalab.legacy_json import user_json
from datalab.mail import Mail, SmtpMailer
from datalab.rehearsal import OutsideEffectRefused, rehearsal
from datalab.settings import Settings
from fastapi_app.main import create_app
from fastapi_app.migration.ports import PORTED, REACHES_OUTSIDE
from fastapi_app.migration.ports import data_sources as data_source_ports
from fastapi_app.migration.ports import users as user_ports
from fastapi_app.migration.registry import DEFAULT_FILE, WRITE_METHODS, RegistryError, load_registry
from legacy_flask import users as legacy_users
from shared_models import AuditLog, Base, SourceType, User
from tests.fastapi_app.migration.conftest import Build, drain, migration_of
from tests.fastapi_app.migration.test_switch import Seen, scenario
from tests.fastapi_app.test_accounts import Inbox, inbox, smtp_settings  # noqa: F401 (inbox: a fixture)
from tests.helpers import PASSWORD, Accounts, valid_config
from tests.tables import empty_tables

# Tables of the migration's own bookkeeping: the shadow run counts comparisons (and seeds its states) there.
BOOKKEEPING = ("route_stats", "shadow_mismatch", "route_states")
# Values no two runs of one scenario share, shadowed or not: salts, nonces, random ids, request ids.
RANDOM = {"password_hash", "token_hash", "refresh_jti", "jti", "request_id"}
# audit_log.resource_type -> the table its resource_id is an id of.
RESOURCE_TABLES = {"data_source": "data_source", "user": "user_account", "integration": "integration"}
# Ids and references to them, as the audit log's entries carry them too (`"resource_id":"4"`).
NUMBER_ID = re.compile(rb'"(id|user_id|resource_id)":"?\d+"?')
PATH_ID = re.compile(r"/\d+")
Rehearsing = tuple[FastAPI, TestClient]


def write_routes(settings: Settings) -> list[str]:
    """Every ported write route of the registry."""
    registry = load_registry(settings, ported=PORTED)
    return [e.name for e in registry.routes.values() if e.method in WRITE_METHODS and e.name in PORTED]


def registry_with_shadow_writes(path: Path, routes: list[str]) -> Path:
    """Write a copy of the registry with `shadow_writes = true` on `routes`; return its path."""
    text = DEFAULT_FILE.read_text(encoding="utf-8")
    for name in routes:
        head = f'[routes."{name}"]\n'
        assert head in text, name
        text = text.replace(head, head + "shadow_writes = true\n")
    path.write_text(text, encoding="utf-8")
    return path


def shadow_writes(settings: Settings, folder: Path) -> dict[str, Any]:
    """Settings overrides: every ported route in shadow, writes rehearsed on every ported write route."""
    rehearsable = [name for name in write_routes(settings) if name not in REACHES_OUTSIDE]
    return {
        "routes_file": registry_with_shadow_writes(folder / "routes.toml", rehearsable),
        "route_states": dict.fromkeys(PORTED, "shadow"),
    }


@pytest.fixture(scope="module")
def rehearsing_app(
    settings: Settings, migrated: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FastAPI]:
    """One app for the module, every ported route in shadow and writes rehearsed (apps are slow to build)."""
    overrides = shadow_writes(settings, tmp_path_factory.mktemp("routes"))
    built = create_app(settings.model_copy(update={"migration_flush_seconds": 300.0, **overrides}))
    yield built
    built.state.engine.dispose()


@pytest.fixture
def rehearsing(rehearsing_app: FastAPI, client: TestClient) -> Iterator[Rehearsing]:
    """The rehearsing app with no counts pending, and a client for it (tables emptied after)."""
    migration_of(rehearsing_app).counter.flush()
    with TestClient(rehearsing_app) as rehearsing_client:
        yield rehearsing_app, rehearsing_client


def dump(engine: Engine, cipher: ConfigCipher) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the bookkeeping, with what differs between any two runs normalised.

    Times and RANDOM columns become placeholders; configs are compared decrypted (Fernet
    tokens are random); integer ids (and the references to them) become their rank in
    their table, since PostgreSQL's sequences are not rolled back with a rehearsal.
    """
    tables = [t for t in Base.metadata.sorted_tables if t.name not in BOOKKEEPING]
    with engine.connect() as connection:
        rows = {t.name: [dict(r._mapping) for r in connection.execute(select(t))] for t in tables}
    # A server started in shadow audits its routes' move there (route.*): bookkeeping, not the scenario's.
    rows["audit_log"] = [r for r in rows["audit_log"] if not str(r["action"]).startswith("route.")]
    ranks = {
        t.name: {row["id"]: rank for rank, row in enumerate(sorted(rows[t.name], key=lambda r: r["id"]))}
        for t in tables
        if "id" in t.c and isinstance(t.c.id.type, Integer)
    }
    dumped: dict[str, list[tuple[Any, ...]]] = {}
    for table in tables:
        normalised = []
        for row in rows[table.name]:
            values: list[Any] = []
            for column in table.c:
                value = row[column.name]
                target = next((fk.column.table.name for fk in column.foreign_keys), None)
                if value is None:
                    pass
                elif isinstance(value, datetime):
                    value = "<time>"
                elif column.name in RANDOM or (column.name == "id" and table.name not in ranks):
                    value = "<random>"
                elif column.name == "config_encrypted":
                    value = cipher.decrypt(value)
                elif column.name == "id" or target in ranks:
                    value = ranks[target or table.name][value]
                elif table.name == "audit_log" and column.name == "resource_id":
                    resource = RESOURCE_TABLES.get(row["resource_type"])
                    value = ranks[resource][int(value)] if resource else "<random>"
                values.append(value)
            normalised.append(tuple(values))
        dumped[table.name] = sorted(normalised, key=repr)
    return dumped


def client_view(log: list[Seen]) -> list[Seen]:
    """What the client saw, ids as placeholders.

    On PostgreSQL a rehearsal uses up a sequence value; on both, a server started in shadow writes
    audit rows (route.state_changed) that the run without shadow may not have, which moves the ids
    of the audit entries the scenario reads. The database dump compares ids by rank instead.
    """
    return [
        replace(
            s,
            request=PATH_ID.sub("/<id>", s.request),
            # Link: </api/v1/.../2>; an id's digits change the length.
            headers=tuple((k, PATH_ID.sub("/<id>", v)) for k, v in s.headers if k != "content-length"),
            body=NUMBER_ID.sub(rb'"\1":<id>', s.body),
        )
        for s in log
    ]


def test_every_write_route_is_rehearsed_without_mismatch_and_leaves_what_flask_alone_leaves(
    client: TestClient,
    rehearsing: Rehearsing,
    app: FastAPI,
    accounts: Accounts,
    settings: Settings,
) -> None:
    engine, cipher = app.state.engine, app.state.runtime.cipher
    alone, _ = scenario(client, accounts)  # the session's app: every route legacy
    flask_alone = dump(engine, cipher)

    shadowed, shadowed_client = rehearsing
    empty_tables(engine)
    seen, served = scenario(shadowed_client, Accounts(shadowed, accounts.session))
    drain(shadowed_client, shadowed)
    counts, mismatches = migration_of(shadowed).counter.pending()

    assert not mismatches, [m.diff for m in mismatches]
    assert dump(engine, cipher) == flask_alone
    assert client_view(seen) == client_view(alone)
    assert set(served.values()) == {"legacy_flask"}
    for name in write_routes(settings):
        # The shadow runs are not served requests; every ported write route was rehearsed.
        assert counts.get((name, "served_fastapi"), 0) == 0, name
        if name not in REACHES_OUTSIDE:
            compared = counts.get((name, "shadow_compared"), 0)
            assert compared > 0, f"{name}: add it to the scenario in test_switch.py"
            assert compared == counts.get((name, "served_legacy_flask")), name


def test_a_port_that_commits_is_rolled_back_all_the_same(
    rehearsing: Rehearsing,
    accounts: Accounts,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, client = rehearsing
    user = accounts.create("commits@example.com")
    headers = accounts.headers(user)

    def committing_user_json(changed: User) -> dict[str, Any]:
        changed.last_name = "Port"
        db = object_session(changed)
        assert db is not None
        db.commit()  # joined in "rollback_only": flushed, then undone with the rehearsal
        return user_json(changed)

    monkeypatch.setattr(user_ports, "user_json", committing_user_json)
    response = client.put("/api/users/me", json={"first_name": "Flask"}, headers=headers)
    drain(client, app)

    assert response.status_code == 200
    assert response.headers["X-Served-By"] == "legacy_flask"
    session.expire_all()
    assert (user.first_name, user.last_name) == ("Flask", None)
    assert len(audit_rows(session, "user.update")) == 1  # Flask's; the port's left with its transaction
    _, [mismatch] = migration_of(app).counter.pending()
    assert mismatch.diff == 'last_name: flask null, fastapi "Port"'


def audit_rows(session: Session, action: str) -> list[AuditLog]:
    """Return the audit rows of `action`."""
    session.expire_all()
    return list(session.scalars(select(AuditLog).where(AuditLog.action == action)))


def test_a_port_that_fails_after_auditing_leaves_no_audit_row(
    rehearsing: Rehearsing,
    accounts: Accounts,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, client = rehearsing
    headers = accounts.headers(accounts.create("audit@example.com"))

    def failing_json(*_: Any) -> dict[str, object]:
        raise RuntimeError("after the audit row was written")

    monkeypatch.setattr(data_source_ports, "_json", failing_json)
    body = {"name": "audited", "type": "postgresql", "config": valid_config("postgresql", "Pw-1")}
    response = client.post("/api/data-sources", json=body, headers=headers)
    drain(client, app)

    assert response.status_code == 201
    [row] = audit_rows(session, "data_source.create")
    assert row.request_id == response.headers["X-Request-ID"]
    of_request = select(func.count()).where(AuditLog.request_id == row.request_id)
    assert session.scalar(of_request) == 1  # the port audits with the same request id: none of its survived
    _, [mismatch] = migration_of(app).counter.pending()
    assert mismatch.diff == "the port raised RuntimeError"


def test_a_slow_rehearsal_is_cut_off_and_flask_serves_without_waiting_on_its_lock(
    rehearsing: Rehearsing, accounts: Accounts, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client = rehearsing
    user = accounts.create("slow-write@example.com")
    headers = accounts.headers(user)
    release = threading.Event()
    waiter = ThreadPoolExecutor(max_workers=1)

    def slow_user_json(changed: User) -> dict[str, Any]:
        # Blocked (awaited, as a slow source would be) with the port's write done and its lock held.
        wait_for(waiter.submit(release.wait, 30), 31)
        return user_json(changed)

    monkeypatch.setattr(user_ports, "user_json", slow_user_json)
    try:
        response = client.put("/api/users/me", json={"first_name": "Served"}, headers=headers)
    finally:
        release.set()
        waiter.shutdown(wait=True)
    drain(client, app)

    assert response.status_code == 200
    assert response.json()["first_name"] == "Served"
    session.expire_all()
    assert user.first_name == "Served"
    assert len(audit_rows(session, "user.update")) == 1
    timeout = app.state.settings.migration.shadow_timeout
    _, [mismatch] = migration_of(app).counter.pending()
    assert mismatch.diff == f"the port did not answer within {timeout:g}s"


def test_mail_is_sent_once_never_by_the_rehearsal(
    rehearsing: Rehearsing,
    accounts: Accounts,
    monkeypatch: pytest.MonkeyPatch,
    inbox: Inbox,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    app, client = rehearsing
    mailer = SmtpMailer(smtp_settings(tmp_path, inbox.port))

    def mailing_user_json(user: User) -> dict[str, Any]:
        mailer.send(Mail(to=user.email, subject="Profile changed", body="Your profile changed."))
        return user_json(user)

    # Both implementations mail (as a route that notifies would): the client's request mails once.
    monkeypatch.setattr(user_ports, "user_json", mailing_user_json)
    monkeypatch.setattr(legacy_users, "user_json", mailing_user_json)
    headers = accounts.headers(accounts.create("mail@example.com"))

    response = client.put("/api/users/me", json={"first_name": "M"}, headers=headers)
    drain(client, app)

    assert response.status_code == 200
    assert len(inbox.envelopes) == 1  # Flask's; the rehearsal's would be a second
    counts, mismatches = migration_of(app).counter.pending()
    assert counts[("PUT /api/users/me", "shadow_compared")] == 1
    assert mismatches == []


def test_only_opted_in_writes_are_rehearsed_and_the_rate_limit_counts_each_login_once(
    build: Build, accounts: Accounts, tmp_path: Path
) -> None:
    routes_file = registry_with_shadow_writes(tmp_path / "routes.toml", ["POST /api/auth/login"])
    app, client = build(
        routes_file=routes_file,
        route_states=dict.fromkeys(PORTED, "shadow"),
        rate_limit_enabled=True,
        rate_limit_login="2/minute",
    )
    user = accounts.create("limited@example.com")
    login = {"email": "limited@example.com", "password": PASSWORD}

    statuses = [client.post("/api/auth/login", json=login).status_code for _ in range(3)]
    put = client.put("/api/users/me", json={"first_name": "O"}, headers=accounts.headers(user))
    drain(client, app)

    assert statuses == [200, 200, 429]  # a rehearsal that counted would refuse the second one
    assert put.status_code == 200
    counts = migration_of(app).counter.pending()[0]
    assert counts[("POST /api/auth/login", "shadow_compared")] == 2  # the refused one never reached a half
    assert ("PUT /api/users/me", "shadow_compared") not in counts  # in shadow, but not opted in


def test_write_sample_rate_zero_rehearses_nothing(
    build: Build, accounts: Accounts, settings: Settings, tmp_path: Path
) -> None:
    app, client = build(shadow_write_sample_rate=0.0, **shadow_writes(settings, tmp_path))
    headers = accounts.headers(accounts.create("unsampled@example.com"))

    assert client.put("/api/users/me", json={"first_name": "U"}, headers=headers).status_code == 200
    assert client.get("/api/users/me", headers=headers).status_code == 200
    drain(client, app)

    counts = migration_of(app).counter.pending()[0]
    assert ("PUT /api/users/me", "shadow_compared") not in counts
    assert counts[("GET /api/users/me", "shadow_compared")] == 1


def test_connectors_refuse_to_run_in_a_rehearsal(settings: Settings) -> None:
    runner = ConnectorRunner(settings)
    opened: list[bool] = []

    def work(_: object) -> None:
        opened.append(True)

    with rehearsal(), pytest.raises(OutsideEffectRefused):
        runner.run_with(lambda: opened.append(True), work)  # type: ignore[arg-type,return-value]
    with rehearsal(), pytest.raises(OutsideEffectRefused):
        runner.run(SourceType.POSTGRESQL, valid_config("postgresql", "Pw-1"), work)
    assert opened == []


@pytest.mark.parametrize(
    ("route", "extra", "message"),
    [
        ("GET /api/users/me", "shadow_writes = true", "shadow_writes is for POST, PUT, PATCH and DELETE"),
        ("POST /api/auth/register", "shadow_writes = true", "shadow_writes needs a FastAPI port"),
        ("PUT /api/users/me", 'shadow_writes = "yes"', "shadow_writes must be true or false"),
    ],
)
def test_registry_refuses_bad_shadow_writes(
    settings: Settings, tmp_path: Path, route: str, extra: str, message: str
) -> None:
    path = tmp_path / "routes.toml"
    head = f'[routes."{route}"]\n'
    path.write_text(
        DEFAULT_FILE.read_text(encoding="utf-8").replace(head, head + extra + "\n"), encoding="utf-8"
    )

    # Every route has a port now: the "no port" case is a registry checked against fewer ports.
    ported = PORTED - {route} if "needs a FastAPI port" in message else PORTED
    with pytest.raises(RegistryError, match=re.escape(f"route {route!r}: {message}")):
        load_registry(settings.model_copy(update={"routes_file": path}), ported=ported)


def test_registry_refuses_shadow_writes_for_a_port_that_reaches_outside(
    settings: Settings, tmp_path: Path
) -> None:
    route = "PUT /api/data-sources/<id>"
    path = registry_with_shadow_writes(tmp_path / "routes.toml", [route])
    update = {"routes_file": path}

    load_registry(settings.model_copy(update=update), ported=PORTED)  # accepted while it stays inside
    with pytest.raises(RegistryError, match="its port reaches beyond the database"):
        load_registry(settings.model_copy(update=update), ported=PORTED, reaches_outside={route})
