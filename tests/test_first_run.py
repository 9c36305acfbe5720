"""First run and production start, as real processes: settings problems, stale schemas, --migrate.

Every `datalab` here is a subprocess with an environment of its own (nothing from the suite's
process but PATH and HOME), so exit codes and what reaches the terminal are the real ones.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from datalab import migrate
from datalab.settings import Settings
from fastapi_app.edges.logs import configure_logging
from tests.edge_apps import edge_app, edge_client, edge_settings, free_port

ROOT = Path(__file__).resolve().parent.parent
DATALAB = str(Path(sys.executable).parent / "datalab")
# Tails that must never reach the terminal, whatever the problem with the settings.
SECRET_TAIL = "TAILzz91SECRET"
SHORT_SECRET = "short-" + SECRET_TAIL


def clean_env(tmp_path: Path, **values: str) -> dict[str, str]:
    """Return a minimal environment for a `datalab` process run in `tmp_path`, with `values`."""
    kept = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "VIRTUAL_ENV"}}
    return {**kept, "VAR_DIR": str(tmp_path / "var"), "BCRYPT_ROUNDS": "10", **values}


def production_env(tmp_path: Path, database_url: str, **values: str) -> dict[str, str]:
    """Return a complete production environment for `database_url`."""
    return clean_env(
        tmp_path,
        ENV="production",
        DATABASE_URL=database_url,
        JWT_SECRET_KEY=Fernet.generate_key().decode(),
        DATA_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="127.0.0.1",
        **values,
    )


def run(args: list[str], env: Mapping[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a command to its end and return it with its output."""
    return subprocess.run(  # noqa: S603 - our own interpreter's scripts, fixed arguments
        args, env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def assert_refused_cleanly(done: subprocess.CompletedProcess[str], *expected: str) -> list[str]:
    """Check exit 2, no traceback, no secret, and every `expected` text on its own line."""
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "Traceback" not in output
    assert SECRET_TAIL not in output
    assert "input_value" not in output
    lines = done.stderr.strip().splitlines()
    for text_ in expected:
        assert sum(text_ in line for line in lines) == 1, (text_, lines)
    return lines


def test_every_settings_problem_is_one_line_without_its_value(tmp_path: Path) -> None:
    env = clean_env(
        tmp_path,
        ENV="production",
        JWT_SECRET=SHORT_SECRET,
        DATA_ENCRYPTION_KEYS=SHORT_SECRET,
        ACCESS_TTL="5",
        JWT_ALGORITHM="RS256",
        ROUTE_STATES='{"GET /api/users/me": "migrated",, "' + SECRET_TAIL + '"}',
    )
    done = run([DATALAB, "db", "current"], env, tmp_path)
    lines = assert_refused_cleanly(
        done,
        "JWT_SECRET (read as JWT_SECRET_KEY): must be set to at least 32 bytes",
        "DATA_ENCRYPTION_KEYS: must be set to at least 32 bytes",
        "DATABASE_URL: must be set when ENV=production",
        "ACCESS_TTL: Input should be greater than or equal to 60",
        "JWT_ALGORITHM: Input should be 'HS256'",
        "ROUTE_STATES: is not valid JSON: Expecting property name enclosed in double quotes "
        "at line 1 column 34 (char 33)",
    )
    assert len(lines) == 6


def test_serve_and_dev_server_refuse_bad_settings_before_anything_else(tmp_path: Path) -> None:
    env = clean_env(tmp_path, ENV="production", JWT_SECRET_KEY=SHORT_SECRET)
    serve = run([DATALAB, "serve", "--port", str(free_port())], env, tmp_path)
    assert_refused_cleanly(serve, "JWT_SECRET_KEY: must be set to at least 32 bytes")
    dev = run(
        [sys.executable, str(ROOT / "dev_server.py")],
        {**env, "ENV": "development", "ACCESS_TTL": "x"},
        tmp_path,
    )
    assert_refused_cleanly(dev, "ACCESS_TTL: Input should be a valid integer")
    assert "Datalab (" not in dev.stdout  # no banner before the refusal
    assert not (tmp_path / "var" / "datalab.db").exists()


def test_several_workers_refuse_per_process_rate_limits_in_production(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    done = run([DATALAB, "serve", "--workers", "2"], production_env(tmp_path, url), tmp_path)
    assert_refused_cleanly(done, "2 workers would each count rate limits in their own memory")
    by_env = run([DATALAB, "serve"], production_env(tmp_path, url, WEB_CONCURRENCY="3"), tmp_path)
    assert_refused_cleanly(by_env, "set REDIS_URL, or RATE_LIMIT_STORAGE=memory")


@pytest.mark.postgres
def test_concurrent_upgrades_migrate_exactly_once(scratch_postgres_url: str, tmp_path: Path) -> None:
    env = production_env(tmp_path, scratch_postgres_url)
    processes = [
        subprocess.Popen(  # noqa: S603 - our own script, fixed arguments
            [DATALAB, "db", "upgrade"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0]
    applied = [line for output in outputs for line in output.splitlines() if line.startswith("Applied")]
    head, known = migrate.code_revisions()
    assert len(applied) == len(known)  # each revision once, across the three processes
    assert sorted(outputs).count("already at head; nothing to apply\n") == 2
    engine = create_engine(scratch_postgres_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head]
    engine.dispose()


def _get(port: int, path: str) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.postgres
def test_production_refuses_an_empty_database_and_serves_after_migrate(
    scratch_postgres_url: str, tmp_path: Path
) -> None:
    env = production_env(tmp_path, scratch_postgres_url, RATE_LIMIT_STORAGE="memory")
    port = free_port()
    command = [DATALAB, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    refused = run(command, env, tmp_path)
    head, _ = migrate.code_revisions()
    assert_refused_cleanly(refused, f"the database has no schema yet (the code needs revision {head})")
    assert "datalab serve --migrate" in refused.stderr

    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(  # noqa: S603 - our own script, fixed arguments
        [*command, "--migrate"],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        status, body = 0, dict[str, Any]()
        for _ in range(300):  # bounded: 60 s at most
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
            try:
                status, body = _get(port, "/health/ready")
                break
            except OSError:
                time.sleep(0.2)
        assert status == 200, body
        assert body["checks"]["schema"] == {"status": "ok", "current": head, "head": head}
        assert body["checks"]["database"]["status"] == "ok"
        assert "Applied base -> 0001" in (tmp_path / "server.log").read_text()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


@pytest.mark.parametrize(
    ("stored", "status"), [("0003", "behind"), ("9999", "ahead"), (None, "behind"), ("head", "ok")]
)
def test_ready_reports_the_schema_against_the_code(
    settings: Settings, tmp_path: Path, stored: str | None, status: str
) -> None:
    url = f"sqlite:///{tmp_path / 'schema.db'}"
    migrate.upgrade(edge_settings(settings, database_url=url))
    head, _ = migrate.code_revisions()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM alembic_version"))
        if stored is not None:
            version = head if stored == "head" else stored
            connection.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": version})
    engine.dispose()
    with edge_client(settings, database_url=url) as client:
        ready, health = client.get("/health/ready"), client.get("/health")
    current = head if stored == "head" else stored
    assert ready.json()["checks"]["schema"] == {"status": status, "current": current, "head": head}
    assert health.json()["checks"]["schema"]["status"] == status
    expected = 200 if status == "ok" else 503
    assert (ready.status_code, health.status_code) == (expected, expected)


def test_production_warns_when_any_host_is_accepted(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with edge_app(settings, env="production", allowed_hosts=["*"]):
        pass
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    configure_logging(settings)
    warnings = [line["event"] for line in lines if line.get("level") == "warning"]
    assert "ALLOWED_HOSTS is '*': any Host header is accepted; list the served names" in warnings
