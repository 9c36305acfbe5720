"""wrk's command line and the result line our Lua script prints."""

from __future__ import annotations

import pytest

from benchmarks.load import SCRIPT, Load, LoadError, parse_output

WRK_STDOUT = """Running 2s test @ http://127.0.0.1:5000/api/health
  1 threads and 16 connections
  Latency Distribution
     50%    1.20ms
     99%    4.00ms
  1000 requests in 2.00s, 200.00KB read
BENCH_JSON {"requests": 1000, "duration_us": 2000000, "p50_us": 1200, "p99_us": 4000, "max_us": 9000, \
"errors": {"connect": 0, "read": 1, "write": 0, "status": 3, "timeout": 2}}
"""


def test_parse_output_reads_rate_percentiles_and_failures() -> None:
    sample = parse_output(WRK_STDOUT)
    assert sample.rps == pytest.approx(500)
    assert (sample.p50_ms, sample.p99_ms, sample.max_ms) == (1.2, 4.0, 9.0)
    assert (sample.errors, sample.bad_status) == (3, 3)


def test_parse_output_without_result_line_is_an_error() -> None:
    with pytest.raises(LoadError, match="no result line"):
        parse_output("Running 2s test @ http://127.0.0.1:1/\n")


def test_command_pins_wrk_and_asks_for_latency() -> None:
    load = Load("/usr/bin/wrk", cpu=1, threads=2, connections=16)
    command = load.command("http://127.0.0.1:5000/x", 10)
    assert command[:4] == ["taskset", "-c", "1", "/usr/bin/wrk"]
    assert {"-t2", "-c16", "-d10s", "--latency", str(SCRIPT)} <= set(command)
    assert command[-1] == "http://127.0.0.1:5000/x"


def test_command_with_fewer_connections_than_threads_uses_fewer_threads() -> None:
    command = Load("/usr/bin/wrk", cpu=1, threads=2).command("http://127.0.0.1:5000/x", 10, connections=1)
    assert {"-t1", "-c1"} <= set(command)


def test_lua_script_takes_the_request_from_the_environment() -> None:
    lua = SCRIPT.read_text()
    for name in ("BENCH_METHOD", "BENCH_TOKEN", "BENCH_BODY", "BENCH_JSON"):
        assert name in lua
