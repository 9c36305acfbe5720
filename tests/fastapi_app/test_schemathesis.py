"""Schemathesis, with its default checks and every phase, against all /api/v1 operations.

It runs in process through the tool's own engine (what its CLI runs), signed in as an
admin so that every operation is reachable. Each request gets a token of its own,
because logout and change-password end sessions on purpose. The pytest plugin
(`schemathesis.pytest.from_fixture`) is not used: it reads `Item._nodeid`, which
pytest 9.2 removed.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi import FastAPI
from schemathesis.config import HealthCheck, SchemathesisConfig
from schemathesis.engine import events, from_schema

from shared_models import Role
from tests.helpers import Accounts

# Every phase runs (coverage included); more examples per operation buy little and cost minutes per pass.
MAX_EXAMPLES = 10


def _operations(app: FastAPI) -> set[str]:
    return {f"{method.upper()} {path}" for path, item in app.openapi()["paths"].items() for method in item}


# A file's content is what no schema describes: an upload whose bytes are not the declared format
# is refused with 422 DATASET_INVALID (issue 15), so "schema-valid request rejected" is expected
# there. So are route names (the registry file is a setting) and which routes have a port (issue 17).
CONTENT_CHECKED = {
    ("POST", "/api/v1/datasets"),
    ("POST", "/api/v1/datasets/{dataset_id}/versions"),
    ("PATCH", "/api/v1/admin/migration"),
}


def _failures(event: events.ScenarioFinished) -> list[str]:
    found = []
    for case_id, checks in event.recorder.checks.items():
        case = event.recorder.cases[case_id].value
        for check in checks:
            content_checked = (case.method.upper(), case.operation.path) in CONTENT_CHECKED
            if check.name == "positive_data_acceptance" and content_checked:
                continue
            if check.status.name == "FAILURE" and check.failure_info is not None:
                failure = check.failure_info.failure
                found.append(
                    f"[{event.phase}] {event.label}: {check.name}: {failure.title}\n"
                    f"    {failure.message.strip()[:300]}\n"
                    f"    {case.method} {case.formatted_path} query={case.query} body={str(case.body)[:200]}"
                )
    return found


def test_v1_operations_pass_every_default_check(app: FastAPI, accounts: Accounts) -> None:
    admin = accounts.create("fuzz-admin@example.com", Role.ADMIN)
    # filter_too_much is Hypothesis judging its own generator (the password rule's lookaheads make
    # it discard many drafts), not the API: suppressing it drops no check of the responses.
    config = SchemathesisConfig(suppress_health_check=[HealthCheck.filter_too_much])
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app, config=config)
    schema.config.generation.update(max_examples=MAX_EXAMPLES)
    # 502 and 504 are documented answers of the data-source routes (the source failed or did not
    # answer in time), not errors of this server; any other 5xx still fails the run.
    schema.config.checks.not_a_server_error.expected_statuses = ["2xx", "3xx", "4xx", "502", "504"]

    @schema.auth(refresh_interval=None)
    class AdminToken:
        def get(self, case: Any, context: Any) -> str:
            return accounts.tokens(admin).access.token

        def set(self, case: Any, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    failures: list[str] = []
    errors: list[str] = []
    tested: set[str] = set()
    finished = False
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            tested.add(event.label or "")
            failures.extend(_failures(event))
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.value!r}"[:500])
        elif isinstance(event, events.FatalError):
            errors.append(repr(event.exception)[:500])
        elif isinstance(event, events.EngineFinished):
            finished = event.stop_reason.name == "COMPLETED"

    assert not errors, "schemathesis could not run:\n" + "\n".join(errors)
    assert not failures, f"{len(failures)} check failures:\n" + "\n".join(failures)
    assert finished
    assert tested >= _operations(app), f"operations never exercised: {_operations(app) - tested}"
