"""Rehearsals: running a request's code for comparison only, with every lasting effect withheld.

Shadowed writes run a FastAPI port on a real write request before Flask serves it. While
a rehearsal is bound (a context variable, so only the task running the port sees it),
the session dependency rolls the port's transaction back whatever happens, mail is
dropped and connectors refuse to reach a source. Flask, on its own thread and context,
never sees the flag.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_rehearsing: ContextVar[bool] = ContextVar("datalab_rehearsing", default=False)


class OutsideEffectRefused(RuntimeError):
    """A rehearsal tried to reach beyond the database (a connector); its route must not shadow writes."""


def rehearsing() -> bool:
    """Return whether the code running is a rehearsal whose effects must not last."""
    return _rehearsing.get()


@contextmanager
def rehearsal() -> Iterator[None]:
    """Mark everything run inside as a rehearsal (this context only)."""
    token = _rehearsing.set(True)
    try:
        yield
    finally:
        _rehearsing.reset(token)


def refuse_outside_effect(what: str) -> None:
    """Raise OutsideEffectRefused if a rehearsal is about to reach `what` (a source, a server)."""
    if rehearsing():
        raise OutsideEffectRefused(f"a shadowed write may not reach {what}")
