"""Checking a data-source type's config against its model, and publishing the model's JSON schema.

The models (config_models.py, chosen per type in registry.py) are both the check
(`validate_config`) and the published JSON schema (`config_schema`), so the v1 OpenAPI document
says exactly what the server accepts.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from datalab.connectors.config_models import SourceConfig
from datalab.connectors.registry import KINDS, kind_of
from datalab.errors import InvalidInput


def validate_config(source_type: str, config: dict[str, Any]) -> dict[str, Any]:
    """Return `config` as sent if it fits `source_type`, or raise InvalidInput naming `config.<key>`."""
    return _model(source_type, config).model_dump(mode="json", exclude_unset=True)


def connection_config(source_type: str, config: dict[str, Any]) -> dict[str, Any]:
    """Return a stored config checked again and completed with every default, for a connector."""
    return _model(source_type, config).model_dump(mode="json", exclude_none=True)


def fits_some_type(config: dict[str, Any]) -> bool:
    """Tell whether `config` is a valid config of at least one type."""
    for model in {kind.config_model for kind in KINDS.values()}:
        try:
            model.model_validate(config)
        except ValidationError:
            continue
        return True
    return False


def _model(source_type: str, config: dict[str, Any]) -> SourceConfig:
    try:
        return kind_of(source_type).config_model.model_validate(config)
    except ValidationError as exc:
        raise _invalid(exc) from None


def config_schema(source_type: str) -> dict[str, Any]:
    """Return the JSON schema of a config of `source_type`, self-contained (no references)."""
    schema = kind_of(source_type).config_model.model_json_schema()
    schema.pop("title", None)
    schema["description"] = f"Connection settings of a {source_type} source"
    return schema


def _invalid(exc: ValidationError) -> InvalidInput:
    error = exc.errors()[0]
    field = ".".join(["config", *(str(part) for part in error["loc"])])
    if error["type"] == "extra_forbidden":
        return InvalidInput(field, "unknown field")
    if error["type"] == "missing":
        return InvalidInput(field, "is required")
    reason = error["msg"].removeprefix("Value error, ")
    return InvalidInput(field, reason[:1].lower() + reason[1:])
