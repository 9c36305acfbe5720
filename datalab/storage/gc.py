"""Removing what no row references: dead uploads, deleted datasets' objects, deleted tasks' results.

A task result is live while its task's `analysis_results` row names it; an attempt that lost to
another, or a task deleted with its owner, leaves an object no row names. Everything younger
than the grace period is left alone, so an upload in flight (its row not yet committed, or its
object not yet renamed) is never taken for garbage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from datalab.services import datasets
from datalab.storage.base import FINAL_PREFIX, RESULTS_PREFIX, TEMP_PREFIX, ObjectStore
from datalab.tasks import results


@dataclass(frozen=True)
class GcReport:
    """What one run removed."""

    pending_versions: int
    objects: int


def collect_garbage(
    sessions: sessionmaker[Session], store: ObjectStore, grace_s: int, now: datetime | None = None
) -> GcReport:
    """Drop stale pending versions, then every object older than the grace period that no row names."""
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=grace_s)
    with sessions() as session, session.begin():
        stale = datasets.stale_pending(session, cutoff)
        for version in stale:
            datasets.discard(session, version.id)
    with sessions() as session:
        referenced = datasets.referenced_keys(session) | results.referenced_keys(session)
    removed = 0
    for prefix in (TEMP_PREFIX, FINAL_PREFIX, RESULTS_PREFIX):
        for item in list(store.list(prefix)):
            if item.key not in referenced and item.modified < cutoff:
                store.delete(item.key)
                removed += 1
    return GcReport(pending_versions=len(stale), objects=removed)
