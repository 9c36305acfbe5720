"""Turning a received upload into a dataset version: check, store temporarily, record, commit.

The order is what makes a crash harmless: the object goes to a temporary key, the `pending`
row is committed, the object is committed to its final key, and the row turns `ready` last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from datalab.datasets.errors import StorageUnavailable
from datalab.datasets.formats import declared_format
from datalab.datasets.reading import inspect
from datalab.datasets.xlsx import XlsxLimits
from datalab.services import datasets
from datalab.settings import Settings
from datalab.storage import ObjectStore, StorageError
from shared_models import Dataset, DatasetVersion, User


@dataclass
class Upload:
    """A file received into the spool folder, with the form fields sent beside it."""

    path: Path
    filename: str
    size: int
    sha256: str
    fields: dict[str, str] = field(default_factory=dict)


def xlsx_limits(settings: Settings) -> XlsxLimits:
    """Return the XLSX bounds from the settings."""
    return XlsxLimits(
        max_entries=settings.storage.xlsx_max_entries,
        max_uncompressed_bytes=settings.storage.xlsx_max_uncompressed_bytes,
        max_ratio=settings.storage.xlsx_max_ratio,
    )


def ingest(
    sessions: sessionmaker[Session],
    store: ObjectStore,
    settings: Settings,
    actor: User,
    upload: Upload,
    *,
    dataset_id: int | None,
    name: str | None = None,
    description: str | None = None,
    project_id: int | None = None,
) -> tuple[Dataset, DatasetVersion]:
    """Check `upload`, keep it in storage and record it; a bad file leaves no row and no object."""
    fmt = declared_format(upload.filename, upload.fields.get("format"))
    try:
        shape = inspect(fmt, upload.path, xlsx_limits(settings))
    finally:
        # XLSX is read through a CSV made beside the upload; it never outlives the check.
        upload.path.with_name(upload.path.name + ".csv").unlink(missing_ok=True)
    try:
        temp_key = store.put_temp(upload.path)
    except StorageError as exc:
        raise StorageUnavailable(str(exc)) from None
    fields = {
        "format": fmt.value,
        "size_bytes": upload.size,
        "sha256": upload.sha256,
        "row_count": shape.row_count,
        "columns": shape.columns,
    }
    try:
        with sessions() as session, session.begin():
            user = session.get_one(User, actor.id)
            if dataset_id is None:
                assert name is not None, "a new dataset has a name"
                dataset = datasets.start_dataset(
                    session, user, name=name, description=description, project_id=project_id
                )
            else:
                dataset = datasets.get_visible(session, user, dataset_id)
            version = datasets.start_version(session, user, dataset, temp_key=temp_key, fields=fields)
    except BaseException:
        store.delete(temp_key)
        raise
    try:
        store.commit(temp_key, version.storage_key)
    except StorageError as exc:
        with sessions() as session, session.begin():
            datasets.discard(session, version.id)
        store.delete(temp_key)
        raise StorageUnavailable(str(exc)) from None
    with sessions() as session, session.begin():
        version = datasets.mark_ready(session, version.id)
    return dataset, version
