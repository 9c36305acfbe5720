"""The declared servers: pinned, on 127.0.0.1, with the worker count the app uses."""

from __future__ import annotations

from benchmarks.configs import BARE, COMBINED, FLASK_ALONE, GROUPS, WORKERS
from datalab.settings.groups import EdgeSettings


def test_every_server_is_pinned_and_local() -> None:
    for server in (FLASK_ALONE, COMBINED, BARE):
        command = server.command(5000, 0)
        assert command[:3] == ["taskset", "-c", "0"]
        line = " ".join(command)
        assert "127.0.0.1:5000" in line or "--host 127.0.0.1 --port 5000" in line


def test_flask_alone_runs_gunicorn_gthread_with_the_apps_thread_count() -> None:
    command = FLASK_ALONE.command(5000, 0)
    assert ["--worker-class", "gthread"] == command[command.index("--worker-class") :][:2]
    assert command[command.index("--workers") + 1] == "1"
    assert (
        command[command.index("--threads") + 1]
        == str(WORKERS)
        == str(EdgeSettings.model_fields["wsgi_workers"].default)
    )
    assert command[-1] == "legacy_flask.wsgi:app"


def test_bare_server_uses_the_benchmark_factory() -> None:
    command = BARE.command(5000, 0)
    assert command[command.index("--factory") + 1] == "benchmarks.bare_asgi:create_app"


def test_only_the_full_combined_stack_is_expected_to_name_its_half() -> None:
    assert COMBINED.names_server
    assert not FLASK_ALONE.names_server
    assert not BARE.names_server


def test_groups_cover_the_issues_configurations() -> None:
    by_group = {g.name: [m.name for m in g.measurements] for g in GROUPS}
    assert by_group == {
        "mount": ["flask-alone", "combined"],
        "migration": ["legacy", "migrated", "v1"],
        "migration-64": ["legacy-64", "migrated-64", "v1-64"],
        "middleware": ["with-middleware", "no-middleware"],
        "rows": ["rows-1k", "rows-10k", "rows-100k"],
        "login": ["login-10", "login-12"],
    }
