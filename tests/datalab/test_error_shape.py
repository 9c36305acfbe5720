"""The one rule for an error's shape: the v1 envelope under /api/v1 only, `{"msg"}` everywhere else."""

from __future__ import annotations

import pytest

from datalab.error_shape import error_body, is_v1


@pytest.mark.parametrize(
    ("path", "v1"),
    [
        ("/api/v1", True),
        ("/api/v1/", True),
        ("/api/v1/data-sources", True),
        ("/api/v1x", False),
        ("/api/v10/users", False),
        ("/api/v1.json", False),
        ("/api", False),
        ("/api/data-sources", False),
        ("/metrics", False),
        ("/", False),
    ],
)
def test_is_v1_takes_whole_segments_only(path: str, v1: bool) -> None:
    assert is_v1(path) is v1


def test_error_body_is_the_envelope_under_v1() -> None:
    body = error_body("/api/v1/", 413, "PAYLOAD_TOO_LARGE", "Request body too large", request_id="r1")
    error = body["error"]
    assert (error["type"], error["code"], error["message"]) == (
        "payload_too_large",
        "PAYLOAD_TOO_LARGE",
        "Request body too large",
    )
    assert (error["request_id"], error["details"], error["service"]) == ("r1", None, "datalab-api")


def test_error_body_is_msg_elsewhere() -> None:
    assert error_body("/api/v1x", 413, "PAYLOAD_TOO_LARGE", "Request body too large") == {
        "msg": "Request body too large"
    }
