"""The scratch database: seeded in bulk, resized, and queried by the list route as the harness claims."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from cryptography.fernet import Fernet

from benchmarks import plans, seed
from datalab.settings import Settings


@pytest.fixture
def dataset(tmp_path: Path) -> Iterator[seed.Dataset]:
    """A seeded `datalab_bench_test_*` database, dropped afterwards."""
    name = f"datalab_bench_test_{uuid.uuid4().hex[:10]}"
    try:
        seed.create_database(name)
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server answers at 127.0.0.1:5432: {exc}".strip())
    settings = Settings(
        _env_file=None,
        env="test",
        var_dir=tmp_path,
        database_url=seed.database_url(name),
        jwt_secret_key=Fernet.generate_key().decode(),
        encryption_keys=Fernet.generate_key().decode(),
    )
    data = seed.seed(settings, name)
    try:
        yield data
    finally:
        data.connection.close()
        seed.drop_database(name)


def _count(data: seed.Dataset, sql: str, *params: object) -> int:
    with data.connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.postgres
def test_seed_gives_the_caller_50_sources_and_resize_grows_and_shrinks(dataset: seed.Dataset) -> None:
    assert dataset.rows == seed.OWN_SOURCES
    assert dataset.server_version()[0].isdigit()
    dataset.resize(3_000)
    assert _count(dataset, "SELECT count(*) FROM data_source") == 3_000
    assert _count(dataset, "SELECT count(DISTINCT owner_id) FROM data_source") == seed.OTHER_OWNERS + 1
    dataset.resize(1_000)
    assert _count(dataset, "SELECT count(*) FROM data_source") == 1_000
    own = "SELECT count(*) FROM data_source WHERE owner_id = %s AND is_active"
    assert _count(dataset, own, dataset.user_id) == seed.OWN_SOURCES


@pytest.mark.postgres
def test_login_accounts_hash_at_their_own_cost(dataset: seed.Dataset) -> None:
    with dataset.connection.cursor() as cursor:
        cursor.execute("SELECT email, password_hash FROM user_account WHERE email LIKE 'login%'")
        hashes = dict(cursor.fetchall())
    assert hashes[seed.LOGIN_EMAILS[10]].startswith("$2b$10$")
    assert hashes[seed.LOGIN_EMAILS[12]].startswith("$2b$12$")


@pytest.mark.postgres
def test_plans_explain_each_query_of_the_list_route(dataset: seed.Dataset) -> None:
    dataset.resize(1_000)
    explained = plans.explain_list(seed.database_url(dataset.database), dataset.user_id)
    assert len(explained) == 1  # one owner's page carries its total: count(*) OVER () in the page query
    assert "count(*) OVER ()" in explained[0][0]
    assert all("Execution Time" in plan for _, plan in explained)


def test_only_scratch_names_are_accepted() -> None:
    with pytest.raises(ValueError, match="datalab_bench"):
        seed.drop_database("datalab")
