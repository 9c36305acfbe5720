"""What the route migration has seen: requests per route and implementation, and shadow mismatches."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared_models.base import Base, UTCDateTime, utcnow


class RouteStats(Base):
    """Running counts for one legacy route, summed over every server process.

    Each process buffers its increments and adds them here every few seconds, so
    the `datalab routes` command, a separate process, can report them.
    """

    __tablename__ = "route_stats"

    route: Mapped[str] = mapped_column(String(200), primary_key=True)
    served_legacy_flask: Mapped[int] = mapped_column(BigInteger, default=0)
    served_fastapi: Mapped[int] = mapped_column(BigInteger, default=0)
    shadow_compared: Mapped[int] = mapped_column(BigInteger, default=0)
    shadow_mismatches: Mapped[int] = mapped_column(BigInteger, default=0)
    shadow_skipped: Mapped[int] = mapped_column(BigInteger, default=0)
    # The state the last server process to write here was running the route in.
    live_state: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ShadowMismatch(Base):
    """One shadow comparison where the FastAPI port did not answer as Flask did."""

    __tablename__ = "shadow_mismatch"

    id: Mapped[int] = mapped_column(primary_key=True)
    route: Mapped[str] = mapped_column(String(200), index=True)
    request_id: Mapped[str | None] = mapped_column(String(64))
    diff: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class RouteState(Base):
    """Who serves one legacy route now: the live state every server process follows.

    Seeded from the registry at first start; changed at run time by the admin API, the
    CLI and the rollback guard. `version` grows with every change (one number for the
    whole table), so a server sees a change by reading `max(version)` alone.
    """

    __tablename__ = "route_states"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    percent: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(BigInteger, default=0, index=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    changed_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
