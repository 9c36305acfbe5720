"""Read grouped settings from flat variables: QUERY_TIMEOUT_S fills `connectors.query_timeout_s`."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from pydantic import AliasChoices, BaseModel
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource


def variable_names(name: str, field: FieldInfo) -> list[str]:
    """Return the lower-cased variables a field reads, preferred first."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [alias] if isinstance(alias, str) else [name]


def groups(settings_cls: type[BaseModel]) -> Iterator[tuple[str | None, str, FieldInfo]]:
    """Yield (group, field name, field) for every leaf setting; group is None at the top level."""
    for name, field in settings_cls.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            for leaf, info in field.annotation.model_fields.items():
                if not info.exclude:  # set by Settings itself, never from a variable
                    yield name, leaf, info
        else:
            yield None, name, field


def fold(settings_cls: type[BaseModel], values: Mapping[str, Any]) -> dict[str, Any]:
    """Move flat keys (as the variables name them) into their groups; unknown keys stay put."""
    where = {
        variable: group
        for group, name, field in groups(settings_cls)
        if group is not None
        for variable in variable_names(name, field)
    }
    folded: dict[str, Any] = {}
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if key.lower() in where:
            flat[key.lower()] = value
        else:
            folded[key] = dict(value) if isinstance(value, Mapping) else value
    # Flat names win over a whole group given alongside (a dump of settings plus overrides).
    for key, value in flat.items():
        part = folded.setdefault(where[key], {})
        if isinstance(part, dict):
            part[key] = value
    return folded


class FlatVariables(PydanticBaseSettingsSource):
    """The environment and the .env file, read by each leaf's own variable name."""

    def __init__(self, settings_cls: type[BaseSettings], env_file: Path | str | None) -> None:
        super().__init__(settings_cls)
        found: dict[str, str] = {}
        if env_file is not None and Path(env_file).is_file():
            found.update({k.lower(): v for k, v in dotenv_values(env_file).items() if v})
        found.update({k.lower(): v for k, v in os.environ.items() if v})  # empty counts as unset
        self.found = found

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: __call__ reads every leaf at once."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for group, name, field in groups(self.settings_cls):
            for variable in variable_names(name, field):
                if variable in self.found:
                    raw = self.found[variable]
                    value = (
                        self.decode_complex_value(name, field, raw) if self.field_is_complex(field) else raw
                    )
                    target = values if group is None else values.setdefault(group, {})
                    target[variable] = value
                    break
        return values


def variables(settings_cls: type[BaseModel]) -> list[str]:
    """Return every environment variable the settings read, upper-cased, aliases included."""
    return [name.upper() for _, leaf, field in groups(settings_cls) for name in variable_names(leaf, field)]
