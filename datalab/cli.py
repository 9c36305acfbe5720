"""The `datalab` command: create users and drive migrations without starting the server."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.progress import Progress
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

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
                PasswordHasher(settings.security.bcrypt_rounds),
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
    cipher = ConfigCipher(settings.security.fernet_keys)
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
    default=None,
    type=click.IntRange(1, 64),
    help="Worker processes (default: WEB_CONCURRENCY, else 2).",
)
@click.option("--migrate", "migrate_first", is_flag=True, help="Upgrade the schema first (under a lock).")
def serve(host: str, port: int, workers: int | None, migrate_first: bool) -> None:
    """Serve both APIs for production with several worker processes.

    In production the server refuses to start while the database schema is behind the code.
    """
    # Imported here: the rest of the CLI needs neither the web app nor uvicorn.
    from fastapi_app.edges.serving import serve as run_server  # noqa: PLC0415

    settings = get_settings()
    workers = workers or settings.edges.web_concurrency or 2
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


# --- gateway (issue 14): legacy-serve.
@main.command("legacy-serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=click.IntRange(1, 65_535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--threads", default=None, type=click.IntRange(1, 200), help="Threads per worker [WSGI_WORKERS]."
)
def legacy_serve(host: str, port: int, workers: int, threads: int | None) -> None:
    """Serve the legacy Flask app alone, for a gateway started with LEGACY_UPSTREAM."""
    from legacy_flask.remote import serve as run_server  # noqa: PLC0415

    settings = get_settings()
    threads = threads or settings.edges.wsgi_workers
    run_server(settings, host=host, port=port, workers=workers, threads=threads)


# --- migration (issue 5): routes goes here.


@main.group("routes", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")
@click.pass_context
def routes(context: click.Context, as_json: bool) -> None:
    """Print every legacy route: live state, successor, requests per side, shadow mismatches, dates."""
    if context.invoked_subcommand is not None:
        return
    from fastapi_app.migration.ports import PORTED  # the names only; no app is built
    from fastapi_app.migration.report import build_report, flask_blockers, format_retirement, format_table

    registry = _route_registry()
    with _report_session() as session:
        lines = build_report(registry, session)
    blockers = flask_blockers(registry, PORTED)
    if as_json:
        payload = {
            "registry": registry.source,
            "routes": [line.as_json() for line in lines],
            "flask_retirable": not blockers,
            "flask_blockers": blockers,
        }
        click.echo(json.dumps(payload, indent=2))
    else:
        click.echo(format_table(lines))
        click.echo(format_retirement(blockers))


@routes.command("set")
@click.argument("route")
@click.argument("state", type=click.Choice(["legacy", "shadow", "canary", "migrated"]))
@click.option("--percent", type=int, default=None, help="For canary: the share of callers the port serves.")
@click.option("--reason", required=True, help="Why; kept in the audit log.")
def routes_set(route: str, state: str, percent: int | None, reason: str) -> None:
    """Move ROUTE (e.g. "GET /api/users/me") to STATE on every running server (within 2 s)."""
    import getpass  # noqa: PLC0415

    from fastapi_app.migration.live import LiveRoute, change_states  # noqa: PLC0415

    registry = _route_registry()
    wanted = {route: LiveRoute(state, percent)}  # type: ignore[arg-type]  # click.Choice checked it
    try:
        with _report_session() as session, session.begin():
            changes = change_states(
                session,
                registry=registry,
                wanted=wanted,
                actor=f"cli:{getpass.getuser()}",
                user_id=None,
                reason=reason,
            )
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    if not changes:
        click.echo(f"{route} is already {wanted[route].label()}")
    for change in changes:
        click.echo(f"{change.route}: {change.before.label()} -> {change.after.label()}")


def _route_registry() -> Any:
    from fastapi_app.migration.ports import PORTED  # noqa: PLC0415 - the names only; no app is built
    from fastapi_app.migration.registry import RegistryError, load_registry  # noqa: PLC0415

    try:
        return load_registry(get_settings(), ported=PORTED)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def _report_session() -> Iterator[Session]:
    engine = make_engine(get_settings())
    try:
        with make_sessionmaker(engine)() as session:
            yield session
    except (OperationalError, ProgrammingError):
        raise click.ClickException("the database is not ready; run `datalab db upgrade` first") from None
    finally:
        engine.dispose()


# --- datasets and storage (issue 15)
@main.group()
def storage() -> None:
    """Maintain the object store datasets are kept in (STORAGE_URL)."""


@storage.command("gc")
@click.option(
    "--grace-seconds",
    type=click.IntRange(min=0),
    default=None,
    help="Leave objects younger than this alone (default: STORAGE_GC_GRACE_S).",
)
def storage_gc(grace_seconds: int | None) -> None:
    """Remove uploads that never completed and objects no dataset version references."""
    from datalab.storage import open_storage
    from datalab.storage.gc import collect_garbage

    settings = get_settings()
    engine = make_engine(settings)
    try:
        grace = settings.storage.storage_gc_grace_s if grace_seconds is None else grace_seconds
        report = collect_garbage(make_sessionmaker(engine), open_storage(settings), grace)
    finally:
        engine.dispose()
    click.echo(f"removed {report.pending_versions} unfinished versions and {report.objects} objects")


# --- tasks (issue 16): worker, beat, tasks.
def _celery_app() -> Any:
    settings = get_settings()
    if settings.tasks.task_broker_url is None:
        raise click.ClickException(
            "TASK_BROKER_URL is not set; without a broker the server runs tasks itself (see docs/tasks.md)"
        )
    from datalab.tasks.celery_app import make_celery  # noqa: PLC0415 - celery loads only for these commands

    return make_celery(settings)


@main.command("worker")
@click.option("--concurrency", "-c", default=2, show_default=True, type=click.IntRange(1, 256))
@click.option("--beat", is_flag=True, help="Also run beat (the maintenance schedule) in this worker.")
@click.option("--loglevel", default="INFO", show_default=True)
@click.option("--hostname", "-n", default=None, help="Node name (default datalab-<pid>@<host>).")
def worker(concurrency: int, beat: bool, loglevel: str, hostname: str | None) -> None:
    """Run a Celery worker for analysis tasks on TASK_BROKER_URL."""
    import os  # noqa: PLC0415

    app = _celery_app()
    settings = get_settings()
    argv = [
        "worker",
        f"--concurrency={concurrency}",
        f"--loglevel={loglevel}",
        f"--queues={settings.tasks.task_queue}",
        f"--hostname={hostname or f'datalab-{os.getpid()}@%h'}",
        # Our tasks use neither revokes nor remote control state: skip the start-up sync.
        "--without-mingle",
        "--without-gossip",
    ]
    if beat:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        argv += ["--beat", f"--schedule={settings.var_dir / 'celerybeat-schedule'}"]
    app.worker_main(argv)


@main.command("beat")
@click.option("--loglevel", default="INFO", show_default=True)
def beat(loglevel: str) -> None:
    """Run Celery beat: sends the maintenance job every TASK_MAINTENANCE_INTERVAL_S (run one only)."""
    app = _celery_app()
    settings = get_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    app.start(["beat", f"--loglevel={loglevel}", f"--schedule={settings.var_dir / 'celerybeat-schedule'}"])


@main.command("maintenance")
def maintenance() -> None:
    """Run the maintenance jobs once, now (what beat schedules)."""
    from datalab.tasks.maintenance import run_maintenance  # noqa: PLC0415

    settings = get_settings()
    engine = make_engine(settings)
    try:
        done = run_maintenance(settings, make_sessionmaker(engine))
    finally:
        engine.dispose()
    for name, count in done.items():
        click.echo(f"{name}: {count} rows removed")


@main.command("tasks")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--status", type=click.Choice(["queued", "running", "succeeded", "failed", "cancelled"]))
def tasks(limit: int, status: str | None) -> None:
    """List recent analysis tasks, newest first."""
    from datalab.tasks.report import recent_tasks  # noqa: PLC0415

    settings = get_settings()
    engine = make_engine(settings)
    try:
        with make_sessionmaker(engine)() as session:
            lines = recent_tasks(session, limit=limit, status=status)
    except (OperationalError, ProgrammingError):
        raise click.ClickException("the database is not ready; run `datalab db upgrade` first") from None
    finally:
        engine.dispose()
    click.echo("\n".join(lines))
