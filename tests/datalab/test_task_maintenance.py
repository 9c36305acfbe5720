"""Maintenance jobs and the task commands: `datalab maintenance`, `datalab tasks`, `datalab worker`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from datalab.cli import main
from datalab.settings import Settings, get_settings
from datalab.storage import open_storage
from datalab.storage.base import FINAL_PREFIX
from shared_models import AnalysisTask, AuditLog, PasswordResetToken, RevokedToken, ShadowMismatch, User

OLD = datetime.now(UTC) - timedelta(days=400)


def _arrange_old_rows(session: Session, user: User) -> None:
    session.add_all(
        [
            AuditLog(action="user.login", user_id=user.id, details={}, created_at=OLD),
            AuditLog(action="user.login", user_id=user.id, details={}),
            ShadowMismatch(route="GET /api/users/me", diff="x", created_at=OLD),
            RevokedToken(jti="old-jti", token_type="access", user_id=user.id, expires_at=OLD),
            PasswordResetToken(user_id=user.id, token_hash="a" * 64, expires_at=OLD),
            PasswordResetToken(
                user_id=user.id, token_hash="b" * 64, expires_at=datetime.now(UTC) + timedelta(hours=1)
            ),
        ]
    )
    session.commit()


def _count(session: Session, model: type) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_maintenance_purges_expired_rows_and_keeps_audit_without_retention(
    session: Session, user: User, cli_env: dict[str, str]
) -> None:
    _arrange_old_rows(session, user)
    result = CliRunner().invoke(main, ["maintenance"], env=cli_env)
    assert result.exit_code == 0, result.output
    assert "purge_tokens: 1 rows removed" in result.output
    assert (_count(session, RevokedToken), _count(session, PasswordResetToken)) == (0, 1)
    assert (_count(session, AuditLog), _count(session, ShadowMismatch)) == (2, 1)


def test_audit_retention_deletes_only_older_rows(
    session: Session, user: User, cli_env: dict[str, str]
) -> None:
    _arrange_old_rows(session, user)
    result = CliRunner().invoke(main, ["maintenance"], env={**cli_env, "AUDIT_RETENTION_DAYS": "365"})
    assert result.exit_code == 0, result.output
    assert "audit_retention: 2 rows removed" in result.output
    assert (_count(session, AuditLog), _count(session, ShadowMismatch)) == (1, 0)


def test_maintenance_collects_storage_garbage_past_the_grace_period(
    session: Session, user: User, cli_env: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    store = open_storage(settings)
    orphan = f"{FINAL_PREFIX}orphan-{uuid.uuid4().hex}"
    local = tmp_path / "orphan"
    local.write_bytes(b"nobody names me")
    store.commit(store.put_temp(local), orphan)
    try:
        kept = CliRunner().invoke(main, ["maintenance"], env=cli_env)
        assert "storage_gc: 0 rows removed" in kept.output, kept.output
        get_settings.cache_clear()  # the CLI reads its settings once per process
        gone = CliRunner().invoke(main, ["maintenance"], env={**cli_env, "STORAGE_GC_GRACE_S": "0"})
        assert gone.exit_code == 0, gone.output
        assert "storage_gc: 1 rows removed" in gone.output
        assert orphan not in {item.key for item in store.list(FINAL_PREFIX)}
    finally:
        store.delete(orphan)


def test_tasks_command_lists_recent_tasks(
    client: TestClient, session: Session, user: User, cli_env: dict[str, str]
) -> None:
    session.add_all(
        [
            AnalysisTask(owner_id=user.id, kind="query", status="queued", query="SELECT 1", params={}),
            AnalysisTask(
                owner_id=user.id,
                kind="query",
                status="failed",
                query="SELECT 2",
                params={},
                error_code="WORKER_LOST",
            ),
        ]
    )
    session.commit()
    result = CliRunner().invoke(main, ["tasks", "--limit", "5"], env=cli_env)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].split()[:3] == ["id", "status", "kind"]
    assert lines[1].split()[1] == "failed"
    assert lines[1].endswith("WORKER_LOST")
    assert lines[2].split()[1] == "queued"
    only = CliRunner().invoke(main, ["tasks", "--status", "queued"], env=cli_env)
    assert len(only.output.strip().splitlines()) == 2


def test_worker_without_a_broker_says_why(cli_env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["worker"], env=cli_env)
    assert result.exit_code != 0
    assert "TASK_BROKER_URL is not set" in result.output
