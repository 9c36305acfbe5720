"""Memory and CPU of hostile data-source answers: the byte cap and the REST connector's work.

uv run python benchmarks/connector_limits.py   (PostgreSQL at 127.0.0.1:5432, user postgres)

Each case runs in a fresh process: the whole app in process (TestClient, SQLite app database
in a temporary folder), one small query first so every import and pool is warm, then the
hostile request. It reports the answer's status and size, the process's resident memory
before the request and its peak during it (VmHWM), and the CPU seconds the request took.
The target (issue 11): the peak grows by less than 3x QUERY_MAX_BYTES.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg2
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

SCRATCH_DB = "datalab_bench_limits"
CASES: dict[str, tuple[str, str]] = {
    "postgresql": ("postgresql", "SELECT repeat('x', 100000000) FROM generate_series(1, 4)"),
    "sqlite": (
        "sqlite",
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4)"
        " SELECT zeroblob(100000000) FROM n",
    ),
    "duckdb": ("csv", "SELECT repeat('x', 100000000) FROM range(4)"),
    "postgresql-many-rows": ("postgresql", "SELECT g, repeat('y', 2000) FROM generate_series(1, 100000) g"),
    "rest-100k-keys": ("rest_api", "/wide?n=100000"),
}


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _scratch_database() -> dict[str, Any]:
    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres", connect_timeout=3)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {SCRATCH_DB}")
    admin.close()
    return {"host": "127.0.0.1", "port": 5432, "database": SCRATCH_DB, "username": "postgres", "password": ""}


def run_case(name: str) -> dict[str, Any]:
    """Run one case in this process and return what it measured."""
    from datalab.settings import Settings
    from fastapi_app.main import create_app
    from shared_models import Role
    from tests.datalab.connectors.rest_server import RestServer
    from tests.helpers import Accounts

    source_type, query = CASES[name]
    folder = Path(tempfile.mkdtemp(prefix="datalab-limits-"))
    data = folder / "data"
    data.mkdir()
    (data / "one.csv").write_text("a\n1\n")
    (data / "one.db").touch()
    settings = Settings(
        _env_file=None,
        env="test",
        var_dir=folder,
        database_url=f"sqlite:///{folder / 'app.db'}",
        jwt_secret_key=Fernet.generate_key().decode(),
        encryption_keys=Fernet.generate_key().decode(),
        bcrypt_rounds=10,
        rate_limit_enabled=False,
        data_dir=data,
        data_source_allow_networks="127.0.0.0/8",
        query_timeout_s=60,
        query_max_rows=100_000,
        log_level="WARNING",
    )
    from datalab import migrate

    migrate.upgrade(settings)
    app = create_app(settings)
    server = RestServer()
    configs = {
        "postgresql": _scratch_database() if source_type == "postgresql" else {},
        "sqlite": {"path": "one.db"},
        "csv": {"path": "one.csv"},
        "rest_api": {"base_url": server.url, "headers": {}},
    }
    warm = {"postgresql": "SELECT 1", "sqlite": "SELECT 1", "csv": "SELECT 1", "rest_api": "/wide?n=3"}
    with TestClient(app) as client, app.state.sessionmaker() as session:
        accounts = Accounts(app, session)
        headers = accounts.headers(accounts.create("bench@example.com", Role.ANALYST))
        body = {"name": "bench", "type": source_type, "config": configs[source_type]}
        source_id = client.post("/api/v1/data-sources", json=body, headers=headers).json()["id"]
        url = f"/api/v1/data-sources/{source_id}/query"
        client.post(url, json={"query": warm[source_type]}, headers=headers)
        before, cpu = _status("VmRSS"), time.process_time()
        response = client.post(url, json={"query": query, "limit": 100000}, headers=headers)
        cpu = time.process_time() - cpu
        peak = _status("VmHWM")
    server.close()
    answer = response.json()
    return {
        "case": name,
        "status": response.status_code,
        "rows": answer.get("row_count"),
        "truncated": answer.get("truncated") or answer.get("error", {}).get("code"),
        "answer_bytes": len(response.content),
        "cap_bytes": getattr(settings, "query_max_bytes", None),  # absent before issue 11
        "rss_before_mb": round(before / 2**20, 1),
        "peak_growth_mb": round((peak - before) / 2**20, 1),
        "cpu_s": round(cpu, 2),
    }


def main() -> None:
    """Run every case in its own process and print a table."""
    if len(sys.argv) == 3 and sys.argv[1] == "--case":
        print(json.dumps(run_case(sys.argv[2])))  # noqa: T201
        return
    print("| case | status | rows | truncated (or error code) | answer bytes | peak RSS growth MB | CPU s |")  # noqa: T201
    print("|---|---:|---:|---|---:|---:|---:|")  # noqa: T201
    for name in CASES:
        done = subprocess.run(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-m", "benchmarks.connector_limits", "--case", name],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        lines = done.stdout.strip().splitlines()
        if done.returncode or not lines:
            print(f"| {name} | failed: {done.stderr.strip().splitlines()[-1:]} |")  # noqa: T201
            continue
        r = json.loads(lines[-1])
        print(  # noqa: T201
            f"| {r['case']} | {r['status']} | {r['rows']} | {r['truncated']} | {r['answer_bytes']:,} |"
            f" {r['peak_growth_mb']} | {r['cpu_s']} |"
        )


if __name__ == "__main__":
    main()
