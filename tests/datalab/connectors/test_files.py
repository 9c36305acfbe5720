"""The file jail: paths resolve inside the data directory, never outside, never the app's database."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from datalab.connectors import ConnectorError, Limits, open_connector
from datalab.connectors.files import resolve_source_file
from datalab.connectors.registry import KINDS


@pytest.fixture
def jail(tmp_path: Path) -> Limits:
    """A data directory with one file, a secret file beside it, and symlinks pointing out."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "ok.csv").write_text("a\n1\n")
    (data / "dir").mkdir()
    (tmp_path / "secret.csv").write_text("password\nhunter2\n")
    (data / "escape.csv").symlink_to(tmp_path / "secret.csv")
    (data / "escape_dir").symlink_to(tmp_path)
    (data / "inside_link.csv").symlink_to(data / "ok.csv")
    (data / "dangling.csv").symlink_to(tmp_path / "gone.csv")
    (data / "app.db").write_text("the application's own database")
    return Limits(data_dir=data, own_files=(data / "app.db",))


@pytest.mark.parametrize(
    "path",
    [
        "../secret.csv",
        "dir/../../secret.csv",
        "dir/../ok.csv",
        "./../secret.csv",
        "/etc/passwd",
        "//etc/passwd",
        "escape.csv",
        "escape_dir/secret.csv",
        "app.db",
        "./app.db",
        "dir/../app.db",
        "dir",
        ".",
        "",
        "ok.csv\x00.txt",
    ],
)
def test_escapes_refused(jail: Limits, path: str) -> None:
    with pytest.raises(ConnectorError) as caught:
        resolve_source_file(path, jail)
    assert caught.value.code == "PATH_REFUSED"
    assert "hunter2" not in caught.value.message


def test_absolute_path_inside_the_jail_is_still_refused(jail: Limits) -> None:
    """Only relative paths: an absolute one is refused even when it points inside."""
    with pytest.raises(ConnectorError, match="relative"):
        resolve_source_file(str(jail.data_dir / "ok.csv"), jail)


def test_hard_link_to_own_database_refused(jail: Limits) -> None:
    os.link(jail.data_dir / "app.db", jail.data_dir / "innocent.db")
    with pytest.raises(ConnectorError, match="own database"):
        resolve_source_file("innocent.db", jail)


@pytest.mark.parametrize("path", ["ok.csv", "./ok.csv", "inside_link.csv"])
def test_paths_inside_resolve(jail: Limits, path: str) -> None:
    assert resolve_source_file(path, jail) == (jail.data_dir / "ok.csv").resolve()


@pytest.mark.parametrize("path", ["missing.csv", "dangling.csv"])
def test_missing_file_is_a_clear_error(jail: Limits, path: str) -> None:
    with pytest.raises(ConnectorError) as caught:
        resolve_source_file(path, jail)
    assert caught.value.code == "NO_SUCH_DATABASE"
    assert path in caught.value.message


def test_missing_data_directory_is_a_clear_error(jail: Limits, tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match="data directory does not exist"):
        resolve_source_file("ok.csv", replace(jail, data_dir=tmp_path / "nowhere"))


@pytest.mark.parametrize("source_type", [name for name, kind in KINDS.items() if kind.is_file])
def test_every_file_connector_uses_the_jail(jail: Limits, source_type: str) -> None:
    connector = open_connector(source_type, {"path": "../secret.csv"}, jail)
    result = connector.test()
    connector.close()
    assert not result.success
    assert result.error_code == "PATH_REFUSED"
