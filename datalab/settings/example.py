"""Write `.env.example` from the settings: `uv run python -m datalab.settings.example > .env.example`."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from datalab.settings import Settings
from datalab.settings.sources import variable_names

HEADER = """\
# Datalab settings. Copy to .env (git-ignored) or set them in the environment.
# Every setting is optional in development; ENV=production refuses to start without
# JWT_SECRET_KEY, DATA_ENCRYPTION_KEYS and DATABASE_URL.
# Generated from datalab/settings: uv run python -m datalab.settings.example > .env.example
"""


def render() -> str:
    """Return the text of `.env.example`: every variable with its description and default."""
    parts = [HEADER]
    top = [(name, field) for name, field in Settings.model_fields.items() if not _is_group(field)]
    parts.append(_section("General", top))
    for field in Settings.model_fields.values():
        if _is_group(field):
            group: type[BaseModel] = field.annotation  # type: ignore[assignment]
            title = (group.__doc__ or "").strip().splitlines()[0].rstrip(".")
            parts.append(_section(title, list(group.model_fields.items())))
    return "\n".join(parts)


def _is_group(field: FieldInfo) -> bool:
    return isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)


def _section(title: str, fields: list[tuple[str, FieldInfo]]) -> str:
    lines = [f"# --- {title}"]
    for name, field in fields:
        lines.append("")
        description = field.description or ""
        lines += textwrap.wrap(description, 98, initial_indent="# ", subsequent_indent="# ")
        variable = variable_names(name, field)[0].upper()
        value = _shown(field.default)
        if value is None:
            example = field.examples[0] if field.examples else ""
            lines.append(f"# {variable}={example}")
        else:
            lines.append(f"{variable}={value}")
    return "\n".join(lines) + "\n"


def _shown(default: Any) -> str | None:
    # Secrets, unset values and empty lists are left commented out: the variable stays unset.
    if (
        default is None
        or default is PydanticUndefined
        or isinstance(default, SecretStr)
        or default in ([], {}, "")
    ):
        return None
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, list):
        return ",".join(str(item) for item in default)
    if isinstance(default, dict):
        return json.dumps(default)
    if isinstance(default, Path):
        return default.as_posix()
    return str(default)


if __name__ == "__main__":
    print(render(), end="")  # noqa: T201
