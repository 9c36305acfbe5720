"""The `datalab` command: create users and drive migrations without starting the server."""

from __future__ import annotations

import json
import sys

import click
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.progress import Progress
from sqlalchemy.exc import OperationalError, ProgrammingError

from datalab import audit, migrate, startup
from datalab.crypto import ConfigCipher
from datalab.db import make_engine, make_sessionmaker
from datalab.errors import DomainError
from datalab.fields import Email
from datalab.passwords import PasswordHasher
from datalab.services import key_rotation, sessions, users
from datalab.settings import get_settings
from datalab.settings_env import SettingsProblems
from shared_models import Role

SETTINGS_EXIT = 2


def refuse(line: str, *, status: int = SETTINGS_EXIT) -> None:
    """Print one `datalab: ...` line on standard error and exit with `status`."""
    click.echo(f"datalab: {line}", err=True)
    sys.exit(status)


def report_settings_problems(problems: SettingsProblems) -> None:
    """Print each settings problem on its own line and exit 2."""
    for line in problems.lines:
        click.echo(f"datalab: setting {line}", err=True)
    sys.exit(SETTINGS_EXIT)


@click.group()
@click.version_option(package_name="datalab", prog_name="datalab")
def main() -> None:
    """Manage a Datalab installation (settings come from the environment and .env)."""
    # Read before any command runs, so a bad setting is one line per problem, never a traceback.
    try:
        get_settings()
    except SettingsProblems as problems:
        report_settings_problems(problems)


@main.command("create-user")
@click.option("--email", required=True, help="The new user's email address.")
@click.option(
    "--role", type=click.Choice([r.value for r in Role]), default=Role.USER.value, show_default=True
)
@click.option("--first-name", default=None)
@click.option("--last-name", default=None)
def create_user(email: str, role: str, first_name: str | None, last_name: str | None) -> None:
    """Create a user; the password is prompted for, or read from standard input when piped."""
    try:
        email = TypeAdapter(Email).validate_python(email)
    except ValidationError as exc:
        raise click.BadParameter(
            exc.errors()[0]["msg"].removeprefix("Value error, "), param_hint="--email"
        ) from None
    password = _read_password()
    settings = get_settings()
    engine = make_engine(settings)
    try:
        with make_sessionmaker(engine)() as session, session.begin():
            user = users.create_user(
                session,
                PasswordHasher(settings.bcrypt_rounds),
                email=email,
                password=password,
                role=Role(role),
                first_name=first_name,
                last_name=last_name,
            )
            audit.record(
                session,
                "user.register",
                user_id=user.id,
                resource_type="user",
                resource_id=user.id,
                details={"via": "cli"},
            )
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    except (OperationalError, ProgrammingError):
        raise click.ClickException("the database is not ready; run `datalab db upgrade` first") from None
    finally:
        engine.dispose()
    click.echo(f"created user {user.id} <{user.email}> with role {user.role}")


def _read_password() -> str:
    if sys.stdin.isatty():
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise click.ClickException("no password on standard input")
    return password


@main.group()
def db() -> None:
    """Apply or inspect database migrations (Alembic)."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate up to REVISION (default: head), printing each revision applied."""
    if migrate.upgrade(get_settings(), revision, report=click.echo) == 0:
        click.echo(f"already at {revision}; nothing to apply")


@db.command("downgrade")
@click.argument("revision")
@click.option("--yes", is_flag=True, help="Do not ask before reverting more than one revision.")
def db_downgrade(revision: str, yes: bool) -> None:
    """Migrate down to REVISION (`base` removes every table), printing each revision reverted."""
    settings = get_settings()
    steps = migrate.downgrade_steps(settings, revision)
    if (revision == "base" or steps > 1) and not yes:
        question = f"Revert {steps} revisions down to {revision}? Tables and their rows may be dropped."
        if not sys.stdin.isatty():
            raise click.ClickException(f"{question} Not confirmed: pass --yes to run without a terminal.")
        click.confirm(question, abort=True)
    if migrate.downgrade(settings, revision, report=click.echo) == 0:
        click.echo(f"already at {revision}; nothing to revert")


@db.command("current")
def db_current() -> None:
    """Print the revision the database is at."""
    migrate.current(get_settings())


@main.command("purge-tokens")
def purge_tokens() -> None:
    """Delete revoked-token and login-session rows that expired over a day ago."""
    settings = get_settings()
    engine = make_engine(settings)
    try:
        with make_sessionmaker(engine)() as session, session.begin():
            gone = sessions.purge_expired(session)
    finally:
        engine.dispose()
    click.echo(f"purged {gone} expired rows")


# --- connectors (issue 4): rotate-keys goes here.
@main.command("rotate-keys")
@click.option("--dry-run", is_flag=True, help="Count what would be re-encrypted; change nothing.")
def rotate_keys(dry_run: bool) -> None:
    """Re-encrypt every stored config under the first of DATA_ENCRYPTION_KEYS, in one transaction.

    Afterwards the other keys can be removed. Rows that no configured key opens are listed
    by id, left untouched, and make the command exit with status 1.
    """
    settings = get_settings()
    engine = make_engine(settings)
    cipher = ConfigCipher(settings.fernet_keys)
    # Progress on standard error, drawn only on a terminal; the summary below is always printed.
    console = Console(stderr=True)
    try:
        with make_sessionmaker(engine)() as session, session.begin():
            with Progress(console=console, disable=not console.is_terminal, transient=True) as bar:
                task = bar.add_task("re-encrypting configs", total=key_rotation.count_configs(session))
                rotation = key_rotation.rotate_configs(
                    session, cipher, dry_run=dry_run, advance=lambda n: bar.advance(task, n)
                )
    except (OperationalError, ProgrammingError):
        raise click.ClickException("the database is not ready; run `datalab db upgrade` first") from None
    finally:
        engine.dispose()
    verb = "would re-encrypt" if dry_run else "re-encrypted"
    for name, done in rotation.rotated.items():
        click.echo(f"{verb} {done} {name} configs under the first key")
    if dry_run:
        click.echo("dry run: nothing was changed")
    lost = {name: ids for name, ids in rotation.unreadable.items() if ids}
    for name, ids in lost.items():
        listed = ", ".join(map(str, ids))
        click.echo(
            f"{len(ids)} {name} configs no configured key opens, left untouched: ids {listed}", err=True
        )
    if lost:
        sys.exit(1)


# --- edges (issue 6): serve.
@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65_535))
@click.option(
    "--workers",
    default=2,
    show_default=True,
    envvar="WEB_CONCURRENCY",
    type=click.IntRange(1, 64),
    help="Worker processes (or WEB_CONCURRENCY).",
)
@click.option("--migrate", "migrate_first", is_flag=True, help="Upgrade the schema first (under a lock).")
def serve(host: str, port: int, workers: int, migrate_first: bool) -> None:
    """Serve both APIs for production with several worker processes.

    In production the server refuses to start while the database schema is behind the code.
    """
    # Imported here: the rest of the CLI needs neither the web app nor uvicorn.
    from fastapi_app.edges.serving import serve as run_server  # noqa: PLC0415

    settings = get_settings()
    refusal = startup.rate_limit_refusal(settings, workers)
    if refusal:
        refuse(refusal)
    if migrate_first:
        applied = migrate.upgrade(settings, report=lambda line: click.echo(line, err=True))
        click.echo(f"datalab: schema at head ({applied} revisions applied)", err=True)
    state = startup.read_schema_state(settings)
    refusal = startup.schema_refusal(state)
    if refusal and settings.env == "production":
        refuse(refusal)
    if refusal:
        click.echo(f"datalab: warning: {refusal}", err=True)
    run_server(settings, host=host, port=port, workers=workers)


# --- migration (issue 5): routes goes here.


@main.command("routes")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")
def routes(as_json: bool) -> None:
    """Print every legacy route: state, successor, requests per implementation, shadow mismatches, dates."""
    from datalab.migration.registry import RegistryError, load_registry
    from datalab.migration.report import build_report, format_table
    from fastapi_app.legacy_ports import PORTED  # the names only; no app is built

    settings = get_settings()
    try:
        registry = load_registry(settings, ported=PORTED)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    engine = make_engine(settings)
    try:
        with make_sessionmaker(engine)() as session:
            lines = build_report(registry, session)
    except (OperationalError, ProgrammingError):
        raise click.ClickException("the database is not ready; run `datalab db upgrade` first") from None
    finally:
        engine.dispose()
    if as_json:
        payload = {"registry": registry.source, "routes": [line.as_json() for line in lines]}
        click.echo(json.dumps(payload, indent=2))
    else:
        click.echo(format_table(lines))
