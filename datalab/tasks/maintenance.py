"""Maintenance jobs beat runs: purge expired tokens and reset links, retention of old rows, storage gc.

A registry: `JOBS` maps a name to a function of (session, settings) returning rows (or objects) removed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from datalab.services import sessions as login_sessions
from datalab.settings import Settings
from shared_models import AuditLog, PasswordResetToken, ShadowMismatch

Job = Callable[[Session, Settings], int]


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def purge_tokens(session: Session, _settings: Settings) -> int:
    """Delete revoked-token and login-session rows that expired over a day ago."""
    return login_sessions.purge_expired(session)


def purge_reset_links(session: Session, _settings: Settings) -> int:
    """Delete password-reset rows that expired over a day ago (used or not)."""
    grace = datetime.now(UTC) - timedelta(days=1)
    return _count(session.execute(delete(PasswordResetToken).where(PasswordResetToken.expires_at < grace)))


def audit_retention(session: Session, settings: Settings) -> int:
    """Delete audit_log and shadow_mismatch rows older than AUDIT_RETENTION_DAYS; none when unset."""
    if settings.tasks.audit_retention_days is None:
        return 0
    cutoff = datetime.now(UTC) - timedelta(days=settings.tasks.audit_retention_days)
    gone = _count(session.execute(delete(AuditLog).where(AuditLog.created_at < cutoff)))
    return gone + _count(session.execute(delete(ShadowMismatch).where(ShadowMismatch.created_at < cutoff)))


def storage_gc(session: Session, settings: Settings) -> int:
    """Remove unfinished uploads and objects no row names, older than STORAGE_GC_GRACE_S."""
    # Imported here: the collector reads task results, so a module-level import would be circular.
    from datalab.storage import open_storage
    from datalab.storage.gc import collect_garbage

    # The collector runs its own short transactions; this job's session only lends its engine.
    report = collect_garbage(
        sessionmaker(bind=session.get_bind()), open_storage(settings), settings.storage.storage_gc_grace_s
    )
    return report.pending_versions + report.objects


JOBS: dict[str, Job] = {
    "purge_tokens": purge_tokens,
    "purge_reset_links": purge_reset_links,
    "audit_retention": audit_retention,
    "storage_gc": storage_gc,
}


def register(name: str, job: Job) -> None:
    """Add a maintenance job (e.g. storage garbage collection) to every beat run."""
    JOBS[name] = job


def run_maintenance(settings: Settings, sessions: sessionmaker[Session]) -> dict[str, int]:
    """Run every job, each in its own transaction; return rows removed per job."""
    done: dict[str, int] = {}
    for name, job in JOBS.items():
        with sessions.begin() as session:
            done[name] = job(session, settings)
    return done
