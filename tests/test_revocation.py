"""Revoked tokens on both halves: a listed `jti` is refused on its own, and purging keeps what lives.

Each test isolates one rule: the token's session stays open (so only the `jti` list can
refuse it), and purged rows are only those expired over a day ago (so live revocations
and live sessions survive `datalab purge-tokens`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from datalab.cli import main
from datalab.services.sessions import TokenPair, issue_access
from datalab.tokens import IssuedToken
from shared_models import AuthSession, RevokedToken, User
from tests.helpers import Accounts, bearer

REVOKED = "Token has been revoked"
ACCESS_DOORS = [("legacy", "/api/users/me"), ("v1", "/api/v1/auth/profile")]
REFRESH_DOORS = [("legacy", "/api/auth/refresh"), ("v1", "/api/v1/auth/refresh")]


def _revoke_only(session: Session, user: User, token: IssuedToken, token_type: str) -> None:
    # A single token revoked while its login session stays open.
    session.add(
        RevokedToken(jti=token.jti, user_id=user.id, token_type=token_type, expires_at=token.expires_at)
    )
    session.commit()


def _call(client: TestClient, side: str, path: str, token: str) -> tuple[int, str | None]:
    if path.endswith("/refresh"):
        body = {"refresh_token": token} if side == "v1" else None
        headers = {} if side == "v1" else bearer(token)
        response = client.post(path, json=body, headers=headers)
    else:
        response = client.get(path, headers=bearer(token))
    if response.status_code == 200:
        return 200, None
    body = response.json()
    return response.status_code, body["msg"] if side == "legacy" else body["error"]["message"]


def _access_works(client: TestClient, pair: TokenPair) -> bool:
    return all(_call(client, side, path, pair.access.token)[0] == 200 for side, path in ACCESS_DOORS)


@pytest.mark.parametrize(("side", "path"), ACCESS_DOORS + REFRESH_DOORS)
def test_revoked_token_is_refused_while_its_session_is_live(
    client: TestClient, session: Session, accounts: Accounts, side: str, path: str
) -> None:
    user = accounts.create("jti@example.com")
    pair = accounts.tokens(user)
    token, kind = (pair.refresh, "refresh") if path.endswith("/refresh") else (pair.access, "access")
    _revoke_only(session, user, token, kind)

    assert _call(client, side, path, token.token) == (401, REVOKED)
    session.expire_all()
    live = session.get(AuthSession, pair.session_id)
    assert live is not None
    assert live.revoked_at is None, "the session itself was never ended"
    # Another access token of the same session still works: only the jti list refused this one.
    sibling = issue_access(accounts.settings, user, live)
    assert _call(client, side, dict(ACCESS_DOORS)[side], sibling.token) == (200, None)


def _expired_rows(session: Session, user: User) -> tuple[str, str]:
    long_ago = datetime.now(UTC) - timedelta(days=2)
    jti, session_id = str(uuid.uuid4()), str(uuid.uuid4())
    session.add(RevokedToken(jti=jti, user_id=user.id, token_type="access", expires_at=long_ago))
    session.add(
        AuthSession(
            id=session_id,
            user_id=user.id,
            refresh_jti=str(uuid.uuid4()),
            created_at=long_ago - timedelta(days=7),
            last_used_at=long_ago,
            expires_at=long_ago,
        )
    )
    session.commit()
    return jti, session_id


def test_purge_tokens_removes_expired_rows_only(
    client: TestClient, session: Session, accounts: Accounts, cli_env: dict[str, str]
) -> None:
    user = accounts.create("purge@example.com")
    revoked, live = accounts.tokens(user), accounts.tokens(user)
    _revoke_only(session, user, revoked.access, "access")
    old_jti, old_session = _expired_rows(session, user)

    result = CliRunner().invoke(main, ["purge-tokens"], env=cli_env)

    assert result.exit_code == 0, result.output
    assert "purged 2 expired rows" in result.output
    session.expire_all()
    assert (session.get(RevokedToken, old_jti), session.get(AuthSession, old_session)) == (None, None)
    # The live revocation survived: its token is still refused, on both halves.
    for side, path in ACCESS_DOORS:
        assert _call(client, side, path, revoked.access.token) == (401, REVOKED)
    # Live sessions survived: nobody was signed out.
    assert _access_works(client, live)
    assert _call(client, "v1", "/api/v1/auth/refresh", live.refresh.token)[0] == 200
