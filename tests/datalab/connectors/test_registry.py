"""The registry of source types: every entry whole, and every per-type table in step with it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import CheckConstraint
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from datalab.connectors import SOURCE_TYPES, Limits, open_connector
from datalab.connectors.config_models import SourceConfig
from datalab.connectors.configs import config_schema
from datalab.connectors.registry import KINDS, kind_of
from datalab.connectors.service import DEFAULT_PORTS
from datalab.connectors.sql_rules import DIALECTS
from datalab.tasks.streams import STREAMS
from shared_models import Base, DataSource, SourceType, User
from tests.helpers import valid_config
from tests.source_files import MALFORMED, TABULAR, WRITERS


@pytest.mark.parametrize("name", KINDS)
def test_every_kind_has_all_its_parts(name: str) -> None:
    kind = KINDS[name]
    assert kind.name == name
    assert issubclass(kind.config_model, SourceConfig)
    assert kind.dialect is None or kind.dialect in DIALECTS
    # Its secrets' destination is named by fields its config really has.
    assert set(kind.destination_fields) <= set(kind.config_model.model_fields)
    assert kind.is_file == ("path" in kind.config_model.model_fields)
    assert (kind.default_port is None) == ("port" not in kind.config_model.model_fields)
    assert config_schema(name)["description"] == f"Connection settings of a {name} source"
    connector = kind.opener(valid_config(name, "Pw-1"), Limits())
    assert all(callable(getattr(connector, part)) for part in ("test", "schema", "query", "close"))
    connector.close()


def test_stored_enum_matches_the_registry() -> None:
    assert [t.value for t in SourceType] == list(KINDS) == list(SOURCE_TYPES)


def test_model_check_constraint_lists_every_kind() -> None:
    check = next(
        c
        for c in Base.metadata.tables["data_source"].constraints
        if isinstance(c, CheckConstraint) and str(c.name).endswith("type_known")
    )
    assert re.findall(r"'([a-z_]+)'", str(check.sqltext)) == list(KINDS)


def test_tables_derived_from_the_registry_cover_every_kind() -> None:
    assert set(STREAMS) == set(KINDS)
    ports = {name: kind.default_port for name, kind in KINDS.items() if kind.default_port is not None}
    assert {name: DEFAULT_PORTS[name] for name in ports} == ports
    # Test data for every file type DuckDB reads, good and malformed.
    assert set(TABULAR) <= set(WRITERS) & set(MALFORMED)


def test_unknown_type_refused() -> None:
    with pytest.raises(ValueError, match="unknown data source type"):
        kind_of("oracle")
    with pytest.raises(ValueError, match="unknown data source type"):
        open_connector("oracle", {}, Limits())


def test_migrated_database_accepts_every_kind_and_no_other(session: Session, user: User) -> None:
    for name in KINDS:
        session.add(DataSource(owner_id=user.id, name=name, type=name, config_encrypted="-"))
    session.flush()
    session.add(DataSource(owner_id=user.id, name="oracle", type="oracle", config_encrypted="-"))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
