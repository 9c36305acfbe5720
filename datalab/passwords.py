"""Password policy and bcrypt hashing, the same on both halves."""

from __future__ import annotations

import re
from functools import cached_property

import bcrypt

from datalab.blocking import ThreadLane
from datalab.fields import PASSWORD_PATTERN, PASSWORD_RULE

# bcrypt reads at most 72 bytes; longer passwords are refused, never silently truncated.
MAX_BYTES = 72
POLICY = PASSWORD_RULE
_POLICY = re.compile(PASSWORD_PATTERN)


def password_problem(password: str) -> str | None:
    """Return why `password` breaks the policy, or None when it is acceptable."""
    return None if _POLICY.search(password) else POLICY


class PasswordHasher:
    """Hash and check passwords with a fixed bcrypt cost, off the event loop for async routes."""

    def __init__(self, rounds: int, threads: int = 4) -> None:
        self.rounds = rounds
        self._lane = ThreadLane(threads)

    def hash(self, password: str) -> str:
        """Hash a password that already passed the policy."""
        return self._lane.call(self._hash, password)

    def verify(self, password: str, hashed: str | None) -> bool:
        """Check `password` against `hashed`; with no hash, spend the same time and say no."""
        return self._lane.call(self._verify, password, hashed)

    def _hash(self, password: str) -> str:
        return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(self.rounds)).decode("ascii")

    def _verify(self, password: str, hashed: str | None) -> bool:
        candidate = _encodable(password)
        if hashed is None or candidate is None:
            # Unknown emails and unhashable passwords cost one bcrypt check like any other.
            bcrypt.checkpw(b"not the password", self._dummy_hash)
            return False
        try:
            return bcrypt.checkpw(candidate, hashed.encode("ascii"))
        except ValueError:
            # A stored value that is not a bcrypt hash (say, an account whose login was disabled).
            return False

    @cached_property
    def _dummy_hash(self) -> bytes:
        return bcrypt.hashpw(b"dummy password for timing", bcrypt.gensalt(self.rounds))


def _encodable(password: str) -> bytes | None:
    try:
        raw = password.encode("utf-8")
    except UnicodeEncodeError:
        return None
    # No accepted password holds NUL; bcrypt implementations disagree on what follows one.
    return raw if len(raw) <= MAX_BYTES and b"\x00" not in raw else None
