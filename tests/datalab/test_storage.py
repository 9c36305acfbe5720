"""The object stores (a folder, and S3 through moto's server) and garbage collection of unnamed objects."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from datalab.cli import main
from datalab.settings import Settings
from datalab.storage import FINAL_PREFIX, TEMP_PREFIX, LocalStore, ObjectStore, open_storage
from datalab.storage.gc import collect_garbage
from datalab.storage.s3 import S3Store
from shared_models import Dataset, DatasetVersion, User, VersionState
from tests.conftest import S3_BUCKET, S3_CREDENTIALS
from tests.dataset_files import good_file
from tests.helpers import count

MiB = 1024 * 1024


def _file(folder: Path, size: int) -> Path:
    path = folder / "payload.bin"
    with path.open("wb") as out:
        block = os.urandom(MiB)
        for _ in range(size // MiB):
            out.write(block)
        out.write(b"tail")
    return path


def _keys(store: ObjectStore) -> list[str]:
    return sorted(item.key for prefix in (TEMP_PREFIX, FINAL_PREFIX) for item in store.list(prefix))


def test_store_round_trip_large_object(object_store: ObjectStore, tmp_path: Path) -> None:
    # 40 MiB: above the S3 multipart threshold, so it goes up in parts and is copied in parts.
    source = _file(tmp_path, 40 * MiB)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()

    temp = object_store.put_temp(source)

    assert temp.startswith(TEMP_PREFIX)
    assert not source.exists()
    final = f"{FINAL_PREFIX}1/1-abc"
    object_store.commit(temp, final)
    assert _keys(object_store) == [final]
    chunks = list(object_store.read_chunks(final, 4 * MiB))
    assert max(len(c) for c in chunks) <= 4 * MiB
    assert hashlib.sha256(b"".join(chunks)).hexdigest() == digest
    copy = tmp_path / "copy.bin"
    object_store.fetch(final, copy)
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == digest
    assert object_store.exists(final)
    object_store.delete(final)
    assert not object_store.exists(final)
    assert _keys(object_store) == []


def test_storage_url_picks_the_backend(settings: Settings, tmp_path: Path, s3_endpoint: str) -> None:
    assert isinstance(open_storage(settings), LocalStore)
    folder = open_storage(settings.model_copy(update={"storage_url": tmp_path.as_uri()}))
    assert isinstance(folder, LocalStore)
    assert folder.root == tmp_path.resolve()
    s3 = open_storage(
        settings.model_copy(update={"storage_url": f"s3://{S3_BUCKET}/p", "s3_endpoint_url": s3_endpoint})
    )
    assert isinstance(s3, S3Store)
    assert (s3.bucket, s3.prefix) == (S3_BUCKET, "p/")


def test_default_store_is_outside_the_file_source_jail(settings: Settings) -> None:
    store = open_storage(settings)
    assert isinstance(store, LocalStore)
    assert not store.root.is_relative_to(settings.source_data_dir)


def _pending_version(session: Session, owner: User, store: ObjectStore, tmp_path: Path) -> DatasetVersion:
    """Leave things as an upload that crashed between its row commit and its storage commit."""
    source = tmp_path / "rows.csv"
    source.write_bytes(good_file("csv"))
    temp = store.put_temp(source)
    dataset = Dataset(owner_id=owner.id, name="crashed")
    session.add(dataset)
    session.flush()
    version = DatasetVersion(
        dataset_id=dataset.id,
        version=1,
        state=VersionState.PENDING.value,
        format="csv",
        size_bytes=1,
        sha256="0" * 64,
        row_count=3,
        columns=[],
        storage_key=f"{FINAL_PREFIX}{dataset.id}/1-x",
        temp_key=temp,
        created_at=datetime.now(UTC) - timedelta(hours=2),
    )
    session.add(version)
    session.commit()
    return version


def test_crash_before_storage_commit_leaves_nothing_visible_and_gc_clears_it(
    client: TestClient,
    app: FastAPI,
    session: Session,
    analyst_headers: dict[str, str],
    object_store: ObjectStore,
    tmp_path: Path,
) -> None:
    owner = session.query(User).one()
    version = _pending_version(session, owner, object_store, tmp_path)

    assert client.get(f"/api/v1/datasets/{version.dataset_id}", headers=analyst_headers).status_code == 404
    assert client.get("/api/v1/datasets", headers=analyst_headers).json()["items"] == []
    assert len(_keys(object_store)) == 1

    later = datetime.now(UTC) + timedelta(hours=2)
    report = collect_garbage(app.state.sessionmaker, object_store, grace_s=3600, now=later)

    assert (report.pending_versions, report.objects) == (1, 1)
    assert _keys(object_store) == []
    assert count(session, Dataset) == 0


def test_gc_removes_unreferenced_objects_but_not_young_or_live_ones(
    client: TestClient,
    app: FastAPI,
    analyst_headers: dict[str, str],
    object_store: ObjectStore,
    tmp_path: Path,
) -> None:
    live = client.post(
        "/api/v1/datasets",
        files={"file": ("a.csv", good_file("csv"))},
        data={"name": "a"},
        headers=analyst_headers,
    )
    assert live.status_code == 201
    orphan = tmp_path / "orphan.csv"
    orphan.write_bytes(b"x\n1\n")
    object_store.commit(object_store.put_temp(orphan), f"{FINAL_PREFIX}999/1-orphan")
    young = tmp_path / "young.csv"
    young.write_bytes(b"x\n1\n")
    young_key = object_store.put_temp(young)

    now = datetime.now(UTC)
    assert collect_garbage(app.state.sessionmaker, object_store, grace_s=3600, now=now).objects == 0
    report = collect_garbage(app.state.sessionmaker, object_store, grace_s=3600, now=now + timedelta(hours=2))

    assert report.objects == 2
    assert young_key not in _keys(object_store)
    assert len(_keys(object_store)) == 1
    assert (
        client.get(f"/api/v1/datasets/{live.json()['id']}/download", headers=analyst_headers).status_code
        == 200
    )


def test_storage_gc_command(
    cli_env: dict[str, str], session: Session, s3_endpoint: str, tmp_path: Path
) -> None:
    env = {
        **cli_env,
        "STORAGE_URL": f"s3://{S3_BUCKET}/cli",
        "S3_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": S3_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": S3_CREDENTIALS["aws_secret_access_key"],
        "AWS_REGION": S3_CREDENTIALS["region_name"],
    }
    store = S3Store(
        S3_BUCKET,
        "cli",
        endpoint_url=s3_endpoint,
        region=S3_CREDENTIALS["region_name"],
        access_key_id=S3_CREDENTIALS["aws_access_key_id"],
        secret_access_key=S3_CREDENTIALS["aws_secret_access_key"],
    )
    stray = tmp_path / "stray"
    stray.write_bytes(b"x")
    store.put_temp(stray)

    result = CliRunner().invoke(main, ["storage", "gc", "--grace-seconds", "0"], env=env)

    assert result.exit_code == 0, result.output
    assert "1 objects" in result.output
    assert list(store.list(TEMP_PREFIX)) == []


@pytest.mark.parametrize("key", ["../escape", "/etc/passwd", ""])
def test_local_store_refuses_keys_leaving_its_folder(tmp_path: Path, key: str) -> None:
    from datalab.storage import StorageError

    with pytest.raises(StorageError):
        LocalStore(tmp_path / "store").exists(key)
