"""Password reset by emailed token: random, stored only as a hash, single-use, short-lived."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import String, insert, literal, select, update
from sqlalchemy.orm import Session

from datalab import audit
from datalab.errors import BadCredentials, InvalidInput
from datalab.mail import Mail
from datalab.passwords import PasswordHasher, password_problem
from datalab.services import sessions
from datalab.settings import Settings
from shared_models import PasswordResetToken, User

NO_USER = 0  # ids start at 1: the statements of an unknown email match no row
INVALID_TOKEN = "The reset token is invalid, expired or already used"  # noqa: S105 - a message


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def request_reset(session: Session, settings: Settings, email: str) -> Mail | None:
    """Issue a reset token for an active account and return the mail carrying it, else None.

    Earlier unused tokens of the user stop working: only the newest link counts. Known and
    unknown emails run the very same statements (the token's INSERT selects no user for an
    unknown one), so neither the answer nor its timing tells whether an account exists.
    """
    user = session.scalars(select(User).where(User.email == email)).one_or_none()
    target = user if user is not None and user.is_active else None
    target_id = target.id if target is not None else NO_USER
    now = datetime.now(UTC)
    session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == target_id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    )
    token = secrets.token_urlsafe(32)
    stamp = PasswordResetToken.created_at.type
    issued = select(
        User.id,
        literal(_digest(token), String()),
        literal(now, stamp),
        literal(now + timedelta(seconds=settings.security.reset_ttl), stamp),
    ).where(User.id == target_id)
    session.execute(
        insert(PasswordResetToken).from_select(["user_id", "token_hash", "created_at", "expires_at"], issued)
    )
    audit.record(
        session,
        "user.password_reset_request",
        user_id=user.id if user else None,
        resource_type="user",
        resource_id=user.id if user else None,
        details={"email": email},
    )
    session.flush()
    if target is None:
        return None
    minutes = settings.security.reset_ttl // 60
    link = settings.security.password_reset_url.format(token=token)
    body = (
        f"Someone asked to reset the Datalab password of {target.email}.\n\n{link}\n\n"
        f"The link works once, for {minutes} minutes. If it was not you, ignore this mail."
    )
    return Mail(to=target.email, subject="Reset your Datalab password", body=body)


def confirm_reset(session: Session, passwords: PasswordHasher, token: str, new_password: str) -> User:
    """Set a new password with a valid token, use the token up and end every session of the user."""
    problem = password_problem(new_password)
    if problem:
        raise InvalidInput("new_password", problem, code="WEAK_PASSWORD")
    now = datetime.now(UTC)
    # Claim the token in one conditional UPDATE, so two confirmations cannot both use it.
    claimed = session.execute(
        update(PasswordResetToken)
        .where(
            PasswordResetToken.token_hash == _digest(token),
            PasswordResetToken.used_at.is_(None),
            PasswordResetToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(PasswordResetToken.user_id)
    ).scalar_one_or_none()
    user = session.get(User, claimed) if claimed is not None else None
    if user is None or not user.is_active:
        raise BadCredentials(INVALID_TOKEN, code="INVALID_RESET_TOKEN")
    user.password_hash = passwords.hash(new_password)
    sessions.revoke_all(session, user.id, reason="password_reset")
    audit.record(session, "user.password_reset", user_id=user.id, resource_type="user", resource_id=user.id)
    session.flush()
    return user
