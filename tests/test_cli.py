"""The `datalab` command: a fresh install can get its first admin and manage its schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from datalab.cli import main
from shared_models import AuditLog, User
from tests.helpers import count

ADMIN_PASSWORD = "Admin-Pass-42"


def test_create_user_reads_password_from_stdin_and_can_log_in(
    client: TestClient, session: Session, cli_env: dict[str, str]
) -> None:
    result = CliRunner().invoke(
        main,
        ["create-user", "--email", "Root@Example.com", "--role", "admin"],
        input=ADMIN_PASSWORD + "\n",
        env=cli_env,
    )
    assert result.exit_code == 0, result.output
    assert "root@example.com" in result.output
    user = session.scalars(select(User)).one()
    assert (user.email, user.role) == ("root@example.com", "admin")
    assert ADMIN_PASSWORD not in user.password_hash
    entry = session.scalars(select(AuditLog).where(AuditLog.action == "user.register")).one()
    assert entry.details == {"via": "cli"}

    login = client.post("/api/auth/login", json={"email": "root@example.com", "password": ADMIN_PASSWORD})
    assert login.status_code == 200
    assert login.json()["user"]["role"] == "admin"


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--email", "a@example.com"], "weakpass\n", "password: must be 8 to 72 printable ASCII characters"),
        (["--email", "a@example.com"], "\n", "no password on standard input"),
        (["--email", "not-an-email"], ADMIN_PASSWORD + "\n", "valid email address"),
        (["--email", "a@example.com", "--role", "root"], ADMIN_PASSWORD + "\n", "Invalid value for '--role'"),
    ],
)
def test_create_user_refuses_bad_input_and_writes_nothing(
    session: Session, cli_env: dict[str, str], args: list[str], stdin: str, message: str
) -> None:
    result = CliRunner().invoke(main, ["create-user", *args], input=stdin, env=cli_env)
    assert result.exit_code != 0
    assert message in result.output
    assert count(session, User) == 0


def test_create_user_twice_is_refused(session: Session, cli_env: dict[str, str]) -> None:
    runner = CliRunner()
    args = ["create-user", "--email", "twice@example.com"]
    assert runner.invoke(main, args, input=ADMIN_PASSWORD + "\n", env=cli_env).exit_code == 0
    again = runner.invoke(main, [*args[:2], "TWICE@example.com"], input=ADMIN_PASSWORD + "\n", env=cli_env)
    assert again.exit_code == 1
    assert "Email already registered" in again.output
    assert count(session, User) == 1


def test_db_commands_migrate_a_fresh_database(tmp_path: Path, cli_env: dict[str, str]) -> None:
    env = {**cli_env, "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}
    runner = CliRunner()
    upgraded = runner.invoke(main, ["db", "upgrade"], env=env)
    assert upgraded.exit_code == 0
    head = ScriptDirectory("migrations").get_current_head()
    # Each revision applied is named, the last one reaching the head.
    assert "Applied base -> 0001: Initial schema" in upgraded.output
    previous = ScriptDirectory("migrations").get_revision(str(head)).down_revision
    assert upgraded.output.strip().splitlines()[-1].startswith(f"Applied {previous} -> {head}:")
    again = runner.invoke(main, ["db", "upgrade"], env=env)
    assert (again.exit_code, again.output.strip()) == (0, "already at head; nothing to apply")
    current = runner.invoke(main, ["db", "current"], env=env)
    assert f"{head} (head)" in current.output
    assert runner.invoke(main, ["db", "downgrade", "base", "--yes"], env=env).exit_code == 0
    assert str(head) not in runner.invoke(main, ["db", "current"], env=env).output
    refused = runner.invoke(
        main, ["create-user", "--email", "x@example.com"], input=ADMIN_PASSWORD + "\n", env=env
    )
    assert refused.exit_code == 1
    assert "run `datalab db upgrade` first" in refused.output


@pytest.mark.parametrize("target", ["base", "0002"])
def test_db_downgrade_of_several_revisions_needs_yes_without_a_terminal(
    tmp_path: Path, cli_env: dict[str, str], target: str
) -> None:
    env = {**cli_env, "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    refused = runner.invoke(main, ["db", "downgrade", target], env=env)
    assert refused.exit_code == 1
    assert "Not confirmed: pass --yes" in refused.output
    head = ScriptDirectory("migrations").get_current_head()
    assert f"{head} (head)" in runner.invoke(main, ["db", "current"], env=env).output  # nothing reverted
    previous = ScriptDirectory("migrations").get_revision(str(head)).down_revision
    one = runner.invoke(main, ["db", "downgrade", str(previous)], env=env)  # one revision: no question
    assert one.exit_code == 0
    assert one.output.startswith(f"Reverted {head} -> {previous}: ")


def test_version_is_printed_without_settings() -> None:
    result = CliRunner().invoke(main, ["--version"], env={"ENV": "production"})
    assert result.exit_code == 0
    assert result.output.startswith("datalab, version ")
