"""`limit` and `offset` on every v1 list, and the list answer they give."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field

from datalab.services.pages import MAX_LIMIT, MAX_OFFSET, PageRequest

T = TypeVar("T")


async def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per answer")] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip")] = 0,
) -> PageRequest:
    """Read `limit` and `offset`; out-of-range values are a 422, never silently clamped (no thread hop)."""
    return PageRequest(limit=limit, offset=offset)


PageDep = Annotated[PageRequest, Depends(page_request)]


class Paginated(BaseModel, Generic[T]):
    """One slice of a list and the total across the whole list."""

    items: list[T]
    total: int = Field(description="Items across all pages")
    limit: int
    offset: int
