"""Accounts: registration, profiles, roles and deactivation."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from datalab import audit
from datalab.errors import Conflict, Forbidden, InvalidInput, NotFound
from datalab.passwords import PasswordHasher, password_problem
from datalab.services import sessions
from datalab.services.pages import Page, PageRequest, paginate, valid_id
from shared_models import Role, User

EMAIL_TAKEN = "Email already registered"


def find_by_email(session: Session, email: str) -> User | None:
    """Return the user with `email` (already lower-cased), if any."""
    return session.scalars(select(User).where(User.email == email)).one_or_none()


def create_user(
    session: Session,
    passwords: PasswordHasher,
    *,
    email: str,
    password: str,
    role: Role = Role.USER,
    first_name: str | None = None,
    last_name: str | None = None,
) -> User:
    """Create an account after checking the password policy and that the email is free."""
    problem = password_problem(password)
    if problem:
        raise InvalidInput("password", problem, code="WEAK_PASSWORD")
    if find_by_email(session, email) is not None:
        raise Conflict(EMAIL_TAKEN, code="EMAIL_TAKEN")
    user = User(
        email=email,
        password_hash=passwords.hash(password),
        role=role.value,
        first_name=first_name,
        last_name=last_name,
    )
    session.add(user)
    try:
        # Two sign-ups racing for one email: the unique index decides, the loser gets 409.
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(EMAIL_TAKEN, code="EMAIL_TAKEN") from None
    return user


def register(session: Session, passwords: PasswordHasher, **fields: Any) -> User:
    """Sign a new user up with the `user` role and audit it."""
    user = create_user(session, passwords, **fields)
    audit.record(session, "user.register", user_id=user.id, resource_type="user", resource_id=user.id)
    return user


def get_user(session: Session, user_id: int) -> User:
    """Return the user with `user_id` or raise NotFound."""
    user = session.get(User, user_id) if valid_id(user_id) else None
    if user is None:
        raise NotFound("User not found")
    return user


def list_users(
    session: Session,
    request: PageRequest,
    *,
    role: Role | None = None,
    is_active: bool | None = None,
    email_contains: str | None = None,
) -> Page[User]:
    """Return one page of users, oldest first, filtered by role, active flag or part of the email."""
    statement = select(User).order_by(User.id)
    if role is not None:
        statement = statement.where(User.role == role.value)
    if is_active is not None:
        statement = statement.where(User.is_active.is_(is_active))
    if email_contains:
        statement = statement.where(User.email.contains(email_contains.lower(), autoescape=True))
    return paginate(session, statement, request)


def update_profile(session: Session, user: User, changes: dict[str, Any]) -> User:
    """Apply profile changes that were already validated, and audit which fields changed."""
    for field, value in changes.items():
        setattr(user, field, value)
    audit.record(
        session,
        "user.update",
        user_id=user.id,
        resource_type="user",
        resource_id=user.id,
        details={"fields": sorted(changes)},
    )
    session.flush()
    return user


def change_role(session: Session, *, actor: User, user_id: int, role: Role) -> User:
    """Give a user a new role; every token they hold stops working."""
    if user_id == actor.id:
        raise Forbidden("You cannot change your own role", code="OWN_ROLE")
    user = get_user(session, user_id)
    old = user.role
    user.role = role.value
    if old != role.value:
        sessions.revoke_all(session, user.id, reason="role_change")
    audit.record(
        session,
        "user.role_change",
        user_id=actor.id,
        resource_type="user",
        resource_id=user.id,
        details={"old_role": old, "new_role": role.value},
    )
    session.flush()
    return user


def set_active(session: Session, *, actor: User | None, user_id: int, active: bool) -> User:
    """Activate or deactivate a user; deactivation ends every session they have."""
    if actor is not None and user_id == actor.id and not active:
        raise Forbidden("You cannot deactivate yourself", code="OWN_ACCOUNT")
    user = get_user(session, user_id)
    user.is_active = active
    if not active:
        sessions.revoke_all(session, user.id, reason="deactivated")
    audit.record(
        session,
        "user.update",
        user_id=actor.id if actor else None,
        resource_type="user",
        resource_id=user.id,
        details={"fields": ["is_active"], "is_active": active},
    )
    session.flush()
    return user


def change_password(
    session: Session,
    passwords: PasswordHasher,
    user: User,
    new_password: str,
    *,
    keep_session: str | None = None,
) -> None:
    """Set a new password and end every session of the user except `keep_session`."""
    problem = password_problem(new_password)
    if problem:
        raise InvalidInput("new_password", problem, code="WEAK_PASSWORD")
    user.password_hash = passwords.hash(new_password)
    sessions.revoke_all(session, user.id, reason="password_change", keep=keep_session)
    audit.record(session, "user.password_change", user_id=user.id, resource_type="user", resource_id=user.id)
    session.flush()
