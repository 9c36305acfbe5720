"""Data sources: owned connection configs, stored encrypted, deleted softly."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, cast, exists, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from datalab import audit, permissions
from datalab.connectors.configs import fits_some_type, validate_config
from datalab.crypto import ConfigCipher
from datalab.destinations import keep_only_at_same_destination, source_destination
from datalab.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from datalab.inputs import DataSourceCreate, DataSourceUpdate
from datalab.masking import Path, mask_secrets, merge_masked
from datalab.permissions import Action
from datalab.services import projects
from datalab.services.pages import Page, PageRequest, paginate_rows, valid_id
from shared_models import DataSource, Role, SourceStatus, SourceType, User

NAME_TAKEN = "A data source with this name already exists"
# What a list page reads: every column, as plain rows (`paginate_rows`), never ORM entities.
LISTED = tuple(DataSource.__table__.c)


@dataclass(frozen=True)
class SourceQuota:
    """What one user may store: active sources (MAX_SOURCES_PER_USER), config bytes (CONFIG_MAX_BYTES)."""

    max_sources: int = 100
    config_max_bytes: int = 64 * 1024


class ConfigTooLarge(DomainError):
    """A config larger, written as JSON, than CONFIG_MAX_BYTES."""

    status_code = 413
    code = "CONFIG_TOO_LARGE"

    def __init__(self, limit: int) -> None:
        super().__init__(f"config: larger than {limit} bytes as JSON")


def _check_config_size(config: dict[str, Any], quota: SourceQuota) -> None:
    # Measured before any per-type check, as stored (compact JSON): the body limit alone lets a
    # config of a megabyte through, encrypted, masked and decrypted again on every read.
    if len(json.dumps(config, separators=(",", ":")).encode()) > quota.config_max_bytes:
        raise ConfigTooLarge(quota.config_max_bytes)


def _check_source_count(session: Session, owner: User, quota: SourceQuota) -> None:
    # The owner's row is locked (PostgreSQL) so two concurrent creates cannot both pass the count.
    session.execute(select(User.id).where(User.id == owner.id).with_for_update())
    active = session.scalar(
        select(func.count())
        .select_from(DataSource)
        .where(DataSource.owner_id == owner.id, DataSource.is_active.is_(True))
    )
    if (active or 0) >= quota.max_sources:
        raise Conflict(
            f"You already have {quota.max_sources} data sources, the most allowed; delete one first",
            code="TOO_MANY_SOURCES",
        )


def visible_to(actor: User) -> Select[DataSource]:
    """Select the active sources `actor` may see: personal ones they own, or in their projects."""
    return select(DataSource).where(
        DataSource.is_active.is_(True), permissions.visible(actor, DataSource.owner_id, DataSource.project_id)
    )


def get_visible(session: Session, actor: User, source_id: int) -> DataSource:
    """Return a source the actor may see (v1: personal or shared by a project); else NotFound."""
    return _one(session, visible_to(actor), source_id)


def get_owned(session: Session, actor: User, source_id: int) -> DataSource:
    """Return a source the actor owns and may still see (or any, for an admin); anything else is NotFound."""
    statement = select(DataSource).where(
        DataSource.is_active.is_(True),
        permissions.owned_and_visible(actor, DataSource.owner_id, DataSource.project_id),
    )
    return _one(session, statement, source_id)


def _one(session: Session, statement: Select[DataSource], source_id: int) -> DataSource:
    statement = statement.where(DataSource.id == source_id)
    source = session.scalars(statement).one_or_none() if valid_id(source_id) else None
    if source is None:
        raise NotFound("Data source not found")
    return source


def list_own(
    session: Session, owner: User, request: PageRequest, *, source_type: SourceType | None = None
) -> Page[Row[Any]]:
    """Return one page of the owner's active sources, newest first (the legacy API's list)."""
    mine = permissions.owned_and_visible(owner, DataSource.owner_id, DataSource.project_id)
    statement = select(*LISTED).where(DataSource.is_active.is_(True), DataSource.owner_id == owner.id)
    statement = statement.where(mine)
    if source_type is not None:
        statement = statement.where(DataSource.type == source_type.value)
    # One owner's active sources: at most MAX_SOURCES_PER_USER rows, so the count rides along.
    return paginate_rows(session, statement.order_by(DataSource.id.desc()), request, bounded=True)


def list_sources(
    session: Session,
    actor: User,
    request: PageRequest,
    *,
    everyone: bool = False,
    source_type: SourceType | None = None,
    status: SourceStatus | None = None,
    tag: str | None = None,
    name_contains: str | None = None,
    project_id: int | None = None,
) -> Page[Row[Any]]:
    """Return one page of active sources, newest first.

    Without `project_id`: the actor's personal ones (everyone's for an admin asking `everyone`);
    with it: that project's, to its members (a non-member gets NotFound).
    """
    if everyone and actor.role != Role.ADMIN:
        raise Forbidden("Insufficient permissions")
    statement = select(*LISTED).where(DataSource.is_active.is_(True))
    if project_id is not None:
        projects.get_visible(session, actor, project_id)
        statement = statement.where(DataSource.project_id == project_id)
    elif not everyone:
        statement = statement.where(DataSource.owner_id == actor.id, DataSource.project_id.is_(None))
    if source_type is not None:
        statement = statement.where(DataSource.type == source_type.value)
    if status is not None:
        statement = statement.where(DataSource.status == status.value)
    if tag is not None:
        statement = statement.where(_has_tag(session, tag))
    if name_contains:
        statement = statement.where(
            func.lower(DataSource.name).contains(name_contains.lower(), autoescape=True)
        )
    # Personal sources are bounded by the owner's quota; a project's or everyone's are not.
    personal = project_id is None and not everyone
    return paginate_rows(session, statement.order_by(DataSource.id.desc()), request, bounded=personal)


def _has_tag(session: Session, tag: str) -> ColumnElement[bool]:
    # Tags are a JSON array; each database spells "array contains" its own way.
    if session.get_bind().dialect.name == "postgresql":
        return cast(DataSource.tags, JSONB).contains([tag])
    items = func.json_each(DataSource.tags).table_valued("value")
    return exists(select(1).select_from(items).where(items.c.value == tag))


def create(
    session: Session,
    cipher: ConfigCipher,
    owner: User,
    data: DataSourceCreate,
    *,
    quota: SourceQuota = SourceQuota(),  # noqa: B008 - frozen, shared safely
    project_id: int | None = None,
) -> DataSource:
    """Create a source for `owner`, personal or in a project they may add to; its config is encrypted.

    Refused past the owner's quota: 413 ConfigTooLarge, 409 TOO_MANY_SOURCES.
    """
    if project_id is not None:
        projects.get_visible(session, owner, project_id)
        permissions.require(session, owner, project_id, Action.CHANGE_SOURCE)
    _check_config_size(data.config, quota)
    config = validate_config(data.type, data.config)
    _ensure_name_free(session, owner.id, data.name)
    _check_source_count(session, owner, quota)
    source = DataSource(
        owner_id=owner.id,
        project_id=project_id,
        name=data.name,
        type=data.type.value,
        description=data.description,
        tags=list(data.tags),
        config_encrypted=cipher.encrypt(config),
    )
    session.add(source)
    _flush_unique(session)
    audit.record(
        session,
        "data_source.create",
        user_id=owner.id,
        resource_type="data_source",
        resource_id=source.id,
        details={"name": source.name, "type": source.type, "project_id": project_id},
    )
    return source


def update(
    session: Session,
    cipher: ConfigCipher,
    actor: User,
    source: DataSource,
    data: DataSourceUpdate,
    *,
    quota: SourceQuota = SourceQuota(),  # noqa: B008 - frozen, shared safely
) -> DataSource:
    """Apply the fields that were sent; a masked secret keeps the stored one.

    The config that results (the one sent, merged over the stored secrets, or the stored one
    when only the type changes) must fit the source's new type.
    """
    permissions.require(session, actor, source.project_id, Action.CHANGE_SOURCE)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    new_type = SourceType(changes["type"]) if changes.get("type") is not None else SourceType(source.type)
    new_config: dict[str, Any] | None = None
    if changes.get("config") is not None:
        _check_config_size(changes["config"], quota)
        stored = cipher.decrypt(source.config_encrypted)
        merged, kept = merge_masked(stored, changes["config"])
        new_config = _fitting(new_type, merged, sent=changes["config"])
        _same_destination(kept, SourceType(source.type), stored, new_type, new_config)
    elif new_type != source.type:
        stored = cipher.decrypt(source.config_encrypted)
        _fitting(new_type, stored, sent=None)
        # The stored config serves the new type as if sent back masked: its secrets are kept.
        kept = merge_masked(stored, mask_secrets(stored)).kept
        _same_destination(kept, SourceType(source.type), stored, new_type, stored)
    if changes.get("name") not in (None, source.name):
        _ensure_name_free(session, source.owner_id, changes["name"])
    # A null name, type, tags or config means "unchanged"; only the description may be cleared.
    if changes.get("name") is not None:
        source.name = changes["name"]
    changed = new_config is not None or new_type != source.type
    if changed and source.status != SourceStatus.DISABLED.value:
        # Changed connection details have not been tested yet.
        source.status = SourceStatus.PENDING.value
        source.error_message = None
    source.type = new_type.value
    if changes.get("tags") is not None:
        source.tags = list(changes["tags"])
    if "description" in changes:
        source.description = changes["description"]
    if new_config is not None:
        source.config_encrypted = cipher.encrypt(new_config)
    _flush_unique(session)
    audit.record(
        session,
        "data_source.update",
        user_id=actor.id,
        resource_type="data_source",
        resource_id=source.id,
        details={"fields": sorted(changes)},
    )
    return source


def _same_destination(
    kept: list[Path], old_type: SourceType, old: dict[str, Any], new_type: SourceType, new: dict[str, Any]
) -> None:
    before, after = source_destination(old_type, old), source_destination(new_type, new)
    keep_only_at_same_destination(kept, before, after)


def _fitting(
    source_type: SourceType, config: dict[str, Any], *, sent: dict[str, Any] | None
) -> dict[str, Any]:
    try:
        return validate_config(source_type, config)
    except InvalidInput as exc:
        # A config valid for another type (or none sent at all) is not malformed: it clashes
        # with the source's type, which only the stored state decides.
        if sent is None or fits_some_type(sent):
            raise Conflict(
                f"{exc.message} (for a {source_type.value} source)", code="CONFIG_TYPE_MISMATCH"
            ) from None
        raise


def soft_delete(session: Session, actor: User, source: DataSource) -> None:
    """Deactivate a source; it is then NotFound everywhere."""
    permissions.require(session, actor, source.project_id, Action.CHANGE_SOURCE)
    source.is_active = False
    audit.record(
        session,
        "data_source.delete",
        user_id=actor.id,
        resource_type="data_source",
        resource_id=source.id,
        details={"name": source.name},
    )
    session.flush()


def _ensure_name_free(session: Session, owner_id: int, name: str) -> None:
    clash = session.scalar(
        select(DataSource.id).where(
            DataSource.owner_id == owner_id, DataSource.name == name, DataSource.is_active.is_(True)
        )
    )
    if clash is not None:
        raise Conflict(NAME_TAKEN, code="NAME_TAKEN")


def _flush_unique(session: Session) -> None:
    try:
        # A concurrent create of the same name: the partial unique index decides.
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(NAME_TAKEN, code="NAME_TAKEN") from None
