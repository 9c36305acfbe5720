"""A live switch on `datalab serve --workers 2` on PostgreSQL: both workers follow within 2 s."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from datalab import migrate
from datalab.cli import main
from datalab.settings import Settings, get_settings
from tests.postgres import scratch_postgres
from tests.serving import Server, call, production_server

ME = "GET /api/users/me"
DEADLINE = 2.0


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The production environment of a server on a scratch PostgreSQL database, migrated."""
    with scratch_postgres("datalab_live") as url:
        migrate.upgrade(Settings(_env_file=None, env="test", database_url=url, var_dir=Path("/nonexistent")))
        folder = tmp_path_factory.mktemp("live")
        (folder / "prometheus").mkdir()
        yield {
            **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "VIRTUAL_ENV"}},
            "ENV": "production",
            "VAR_DIR": str(folder),
            "DATABASE_URL": url,
            "JWT_SECRET_KEY": Fernet.generate_key().decode(),
            "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "ALLOWED_HOSTS": "127.0.0.1",
            "RATE_LIMIT_ENABLED": "false",
            "PROMETHEUS_MULTIPROC_DIR": str(folder / "prometheus"),
            "DB_POOL_SIZE": "3",
        }


@pytest.fixture(scope="module")
def server(environment: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The production command with 2 workers on that database."""
    with production_server(environment, tmp_path_factory.mktemp("live-server")) as running:
        yield running


def set_state(environment: dict[str, str], state: str) -> None:
    """Move ME to `state` with the CLI, as an operator would."""
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["routes", "set", ME, state, "--reason", "live"], env=environment)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output


@pytest.mark.postgres
def test_a_switch_reaches_both_workers_within_2_s(server: Server, environment: dict[str, str]) -> None:
    pids: set[int] = set()
    connections = []
    for _ in range(200):  # new connections until both workers hold one (bounded)
        connection, pid = server.connect()
        if pid in pids:
            connection.close()
            continue
        pids.add(pid)
        connections.append((pid, connection))
        if len(pids) == 2:
            break
    assert len(connections) == 2

    for state, expected in (("migrated", "fastapi"), ("legacy", "legacy_flask")):
        set_state(environment, state)
        changed = time.monotonic()
        seen: dict[int, float] = {}
        while len(seen) < 2 and time.monotonic() - changed < 2 * DEADLINE:
            for pid, connection in connections:
                answer = call(connection, "GET", "/api/users/me")
                assert answer.status == 401  # no token: both sides refuse alike
                if pid not in seen and answer.headers["x-served-by"] == expected:
                    seen[pid] = time.monotonic() - changed
            time.sleep(0.02)
        assert set(seen) == pids, f"{state}: only {seen} switched"
        assert max(seen.values()) < DEADLINE, f"{state}: {seen}"
    for _, connection in connections:
        with closing(connection):
            pass
