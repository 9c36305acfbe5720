"""CPU time a server process tree has used, read from /proc (Linux), and its database connections.

CPU seconds per request served are steadier than requests per second on a shared
machine: other load slows a server down without making each request cost more CPU.
"""

from __future__ import annotations

import os
from pathlib import Path

import psycopg2

TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> tuple[float, float]:
    """Return (user, system) CPU seconds of `pid` and every live descendant (gunicorn's workers)."""
    times = [_own_cpu_seconds(p) for p in _tree(pid)]
    return sum(user for user, _ in times), sum(system for _, system in times)


def _tree(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                pending += [int(child) for child in task.read_text().split()]
            except OSError:
                continue  # the thread ended meanwhile
    return found


def _own_cpu_seconds(pid: int) -> tuple[float, float]:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0, 0.0
    # Fields after the command name (which may hold spaces) closed by ")": utime is 14th, stime 15th.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS


def connections_of(dsn: str, application_name: str) -> int:
    """Count PostgreSQL connections whose application_name is `application_name`."""
    with psycopg2.connect(dsn, connect_timeout=5) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (application_name,)
        )
        row = cursor.fetchone()
    connection.close()
    return int(row[0]) if row else 0
