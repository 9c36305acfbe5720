"""Page-numbered listing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")
MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class PageRequest:
    """Which page of a list to return."""

    page: int = 1
    per_page: int = 20

    @property
    def offset(self) -> int:
        """Return the number of rows before this page."""
        return (self.page - 1) * self.per_page


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows and the total across all pages."""

    items: list[T]
    total: int
    page: int
    per_page: int


def paginate(session: Session, statement: Select[Any], request: PageRequest) -> Page[Any]:
    """Run `statement` for one page, counting every matching row."""
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    rows = session.scalars(statement.limit(request.per_page).offset(request.offset)).all()
    return Page(items=list(rows), total=total or 0, page=request.page, per_page=request.per_page)


MAX_ID = 2**31 - 1


def valid_id(value: int) -> bool:
    """Tell whether `value` can be a row id, so larger numbers are NotFound, not a database error."""
    return 0 < value <= MAX_ID
