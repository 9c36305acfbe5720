"""Checks before a server starts: each returns the one line that refuses the start, or None."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from datalab.db import make_engine
from datalab.migrate import SchemaState, schema_state
from datalab.settings import Settings

MIGRATE_HINT = "run `datalab serve --migrate` (or `datalab db upgrade`) first"


def read_schema_state(settings: Settings) -> SchemaState | None:
    """Return where the schema stands, or None when the database does not answer."""
    engine = make_engine(settings)
    try:
        with engine.connect() as connection:
            return schema_state(connection)
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()


def schema_refusal(state: SchemaState | None) -> str | None:
    """Return why a production server must not start on this schema, or None."""
    if state is None or state.status != "behind":
        return None
    if state.current is None:
        return f"the database has no schema yet (the code needs revision {state.head}); {MIGRATE_HINT}"
    return f"the database schema is at revision {state.current}, the code needs {state.head}; {MIGRATE_HINT}"


def rate_limit_refusal(settings: Settings, workers: int) -> str | None:
    """Refuse per-process rate-limit counters behind several production workers, unless chosen."""
    if settings.env != "production" or workers <= 1 or not settings.edges.rate_limit_enabled:
        return None
    if settings.edges.redis_url or settings.edges.rate_limit_storage == "memory":
        return None
    return (
        f"{workers} workers would each count rate limits in their own memory ({workers} times the "
        "configured limits); set REDIS_URL, or RATE_LIMIT_STORAGE=memory to accept that"
    )
