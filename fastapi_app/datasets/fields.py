"""The text fields sent beside an uploaded file, checked like any v1 input."""

from __future__ import annotations

from pydantic import TypeAdapter, ValidationError

from datalab.errors import InvalidInput
from datalab.fields import Description, ResourceName
from datalab.services.pages import MAX_ID

_NAME: TypeAdapter[str] = TypeAdapter(ResourceName)
_DESCRIPTION: TypeAdapter[str] = TypeAdapter(Description)


def new_dataset_fields(fields: dict[str, str]) -> tuple[str, str | None, int | None]:
    """Return the new dataset's name, description and project id, or raise InvalidInput (422)."""
    if "name" not in fields:
        raise InvalidInput("name", "Field required")
    name = _checked(_NAME, "name", fields["name"])
    description = (
        _checked(_DESCRIPTION, "description", fields["description"]) if "description" in fields else None
    )
    project_id: int | None = None
    if fields.get("project_id"):
        text = fields["project_id"].strip()
        if not text.isdigit() or not 1 <= int(text) <= MAX_ID:
            raise InvalidInput("project_id", "must be a project's id")
        project_id = int(text)
    return name, description, project_id


def _checked(adapter: TypeAdapter[str], field: str, value: str) -> str:
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        raise InvalidInput(field, exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
