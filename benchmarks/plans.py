"""The list route's query plans: run the service as the route does and EXPLAIN what it sent."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session

from datalab.services import data_sources
from datalab.services.pages import PageRequest
from shared_models import User


def explain_list(url: str, user_id: int, per_page: int = 50) -> list[tuple[str, str]]:
    """Return (SQL, EXPLAIN ANALYZE output) for each query of one page of `user_id`'s sources."""
    engine = create_engine(url)
    sent: list[tuple[str, Any]] = []

    def capture(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        sent.append((statement, parameters))

    try:
        with Session(engine) as session:
            user = session.get_one(User, user_id)
            event.listen(engine, "before_cursor_execute", capture)
            data_sources.list_own(session, user, PageRequest(limit=per_page))
            event.remove(engine, "before_cursor_execute", capture)
            plans = []
            for statement, parameters in sent:
                rows = session.connection().exec_driver_sql(
                    "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters
                )
                plans.append((statement, "\n".join(row[0] for row in rows)))
            session.rollback()
        return plans
    finally:
        engine.dispose()
