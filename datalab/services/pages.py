"""Listing one slice of rows with the total across all of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Row, Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")
MAX_LIMIT = 100
MAX_PAGE = 1_000_000
MAX_OFFSET = MAX_PAGE * MAX_LIMIT
MAX_ID = 2**31 - 1
TOTAL = "total_rows_"  # the window count's label in `paginate_rows`; no table has such a column


@dataclass(frozen=True)
class PageRequest:
    """Which rows of a list to return: `limit` rows after skipping `offset`."""

    limit: int = 20
    offset: int = 0

    @classmethod
    def numbered(cls, page: int, per_page: int) -> PageRequest:
        """Return the request for page `page` (from 1) of `per_page` rows."""
        return cls(limit=per_page, offset=(page - 1) * per_page)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One slice of rows and the total across all of them."""

    items: list[T]
    total: int
    limit: int
    offset: int


def paginate(session: Session, statement: Select[Any], request: PageRequest) -> Page[Any]:
    """Run `statement` for one slice, counting every matching row."""
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    rows = session.scalars(statement.limit(request.limit).offset(request.offset)).all()
    return Page(items=list(rows), total=total or 0, limit=request.limit, offset=request.offset)


def paginate_rows(
    session: Session, statement: Select[Any], request: PageRequest, *, bounded: bool
) -> Page[Row[Any]]:
    """Run a select of plain columns for one slice, with the total across every matching row.

    Rows, not ORM entities: for a read-only list they carry the same values at a fraction
    of the cost (no identity map, no instance state), and read the same by attribute.
    When the matching rows are `bounded` (one owner's, under a quota), the total comes with
    the slice as a window count (computed before LIMIT), so a page is one round trip; only a
    slice past the end, which has no row to carry it, counts apart. Unbounded lists count
    apart always: a window would read every matching row in full to count them.
    """
    if not bounded:
        rows = session.execute(statement.limit(request.limit).offset(request.offset)).all()
        return Page(
            items=list(rows), total=_count(session, statement), limit=request.limit, offset=request.offset
        )
    counted = statement.add_columns(func.count().over().label(TOTAL))
    rows = session.execute(counted.limit(request.limit).offset(request.offset)).all()
    if rows:
        total = int(rows[0][-1])
    else:
        total = _count(session, statement) if request.offset else 0
    return Page(items=list(rows), total=total, limit=request.limit, offset=request.offset)


def _count(session: Session, statement: Select[Any]) -> int:
    return session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0


def valid_id(value: int) -> bool:
    """Tell whether `value` can be a row id, so larger numbers are NotFound, not a database error."""
    return 0 < value <= MAX_ID
