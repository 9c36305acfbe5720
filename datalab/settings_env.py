"""Reading the settings for a process: older services' variable names, and problems without values.

Operators moving from the platform's older services bring their environment along. Each
variable in `ALIASES` is read when Datalab's own name is not set; each in `RETIRED` is
not read, and a start-up warning names the variable to use instead. This is the one table
of them; docs/first-run.md shows it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values
from pydantic import ValidationError
from pydantic_settings import SettingsError
from sqlalchemy.engine import URL


@dataclass(frozen=True)
class Alias:
    """An older variable read as one of ours, converted by `convert` (None: taken as it is)."""

    name: str
    setting: str
    convert: Callable[[str], str] | None = None
    note: str = ""


def _minutes(value: str) -> str:
    return str(int(value) * 60) if value.strip().isdigit() else value


def _days(value: str) -> str:
    return str(int(value) * 86_400) if value.strip().isdigit() else value


# Datalab's own name always wins; among aliases of one setting the first listed wins.
ALIASES = (
    Alias("JWT_SECRET", "JWT_SECRET_KEY"),
    Alias("SECRET_KEY", "JWT_SECRET_KEY", note="Flask-JWT-Extended's fallback"),
    Alias("JWT_ACCESS_TOKEN_EXPIRES", "ACCESS_TTL", note="seconds"),
    Alias("ACCESS_TOKEN_EXPIRE_MINUTES", "ACCESS_TTL", _minutes, "minutes, converted to seconds"),
    Alias("JWT_REFRESH_TOKEN_EXPIRES", "REFRESH_TTL", note="seconds"),
    Alias("REFRESH_TOKEN_EXPIRE_DAYS", "REFRESH_TTL", _days, "days, converted to seconds"),
    Alias("SQLALCHEMY_DATABASE_URI", "DATABASE_URL"),
    Alias("ENCRYPTION_KEY", "DATA_ENCRYPTION_KEYS"),
    Alias("CORS_ALLOWED_ORIGINS", "CORS_ORIGINS"),
)
# Names Datalab itself already accepts for a setting (pydantic AliasChoices in Settings).
OTHER_NAMES = {"DATA_ENCRYPTION_KEYS": "ENCRYPTION_KEYS"}
# Built from parts when the whole URL is not set.
POSTGRES_PARTS = ("POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD")
REDIS_PARTS = ("REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_PASSWORD")
# Not read: no clean mapping. The value says what to set instead.
RETIRED = {
    "FLASK_ENV": "ENV (development, test or production)",
    "FLASK_DEBUG": "ENV=development (the dev server: uv run dev_server.py --reload)",
    "DEBUG": "ENV=development",
    "PORT": "the --port option of `datalab serve`",
    "WORKERS": "WEB_CONCURRENCY or `datalab serve --workers N`",
    "RATELIMIT_STORAGE_URI": "REDIS_URL",
    "ALLOWED_ORIGINS": "CORS_ORIGINS",
    "JWT_TOKEN_LOCATION": "nothing: tokens are read from the Authorization header",
}


# The settings' parts (datalab.settings): errors located at a part name no variable.
GROUPS = frozenset(
    {
        "database",
        "security",
        "mail",
        "connectors",
        "edges",
        "migration",
        "storage",
        "tasks",
        "gateway",
        "tracing",
    }
)


class SettingsProblems(Exception):
    """The settings are not usable; `lines` names each variable and its rule, never a value."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def environment(env_file: Path | None = Path(".env")) -> dict[str, str]:
    """Return the variables a process sees: `.env` overridden by the real environment."""
    values: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ)
    return {k: v for k, v in values.items() if v != ""}


def alias_values(env: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Return the values older variables give to unset settings, and which variable gave each."""
    values: dict[str, str] = {}
    origin: dict[str, str] = {}
    own = {k.upper() for k in env}
    own |= {ours for ours, other in OTHER_NAMES.items() if other in own}
    for alias in ALIASES:
        if alias.name in env and alias.setting not in own and alias.setting not in values:
            raw = env[alias.name]
            values[alias.setting] = alias.convert(raw) if alias.convert else raw
            origin[alias.setting] = alias.name
    if "DATABASE_URL" not in own and "DATABASE_URL" not in values and "POSTGRES_DB" in env:
        values["DATABASE_URL"] = _postgres_url(env)
        origin["DATABASE_URL"] = "POSTGRES_HOST/PORT/DB/USER/PASSWORD"
    if "REDIS_URL" not in own and "REDIS_HOST" in env:
        values["REDIS_URL"] = _redis_url(env)
        origin["REDIS_URL"] = "REDIS_HOST/PORT/DB/PASSWORD"
    return values, origin


def _postgres_url(env: Mapping[str, str]) -> str:
    port = env.get("POSTGRES_PORT", "5432")
    url = URL.create(
        "postgresql+psycopg2",
        username=env.get("POSTGRES_USER", "postgres"),
        password=env.get("POSTGRES_PASSWORD"),
        host=env.get("POSTGRES_HOST", "127.0.0.1"),
        port=int(port) if port.isdigit() else None,
        database=env["POSTGRES_DB"],
    )
    return url.render_as_string(hide_password=False)


def _redis_url(env: Mapping[str, str]) -> str:
    port = env.get("REDIS_PORT", "6379")
    url = URL.create(
        "redis",
        password=env.get("REDIS_PASSWORD"),
        host=env["REDIS_HOST"],
        port=int(port) if port.isdigit() else None,
        database=env.get("REDIS_DB", "0"),
    )
    return url.render_as_string(hide_password=False)


def startup_warnings(env: Mapping[str, str]) -> list[str]:
    """Return one line per older variable set: read under our name, or not read at all."""
    _, origin = alias_values(env)
    lines = [f"{old} is read as {ours}; rename it to {ours}" for ours, old in origin.items()]
    retired = [old for old in RETIRED if old in env]
    lines += [f"{old} is not read by Datalab; set {RETIRED[old]}" for old in retired]
    return lines


def problem_lines(exc: ValidationError, origin: Mapping[str, str]) -> list[str]:
    """Describe each validation error as `VARIABLE: rule`, without the value that broke it.

    `origin` maps a variable to the older one it was read from, so the line names what the
    operator actually set.
    """
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        rule = error["msg"].removeprefix("Value error, ")
        loc = error["loc"]
        # (group, field) for a setting, (group,) for a rule across a group, () across all settings.
        if len(loc) < 2 and (not loc or str(loc[0]) in GROUPS):
            lines += rule.splitlines()  # such a rule names its variables itself
            continue
        name = str(loc[-1] if len(loc) >= 2 else loc[0]).upper()
        first, _, rest = rule.partition(" ")
        if first.isupper() and first.replace("_", "").isalpha():
            name, rule = first, rest  # the rule names its variable itself (the documented name)
        given_as = origin.get(name)
        label = f"{given_as} (read as {name})" if given_as else name
        lines.append(f"{label}: {rule}")
    return lines


def settings_error_lines(exc: SettingsError) -> list[str]:
    """Describe a pydantic-settings source error without its value."""
    return [f"the settings could not be read: {type(exc.__cause__ or exc).__name__}"]
