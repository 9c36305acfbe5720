"""p50 and p99 per route and implementation, from each process's latest requests, in the admin report."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from fastapi_app.migration.stats import LATENCY_WINDOW, RouteCounter


def test_percentiles_are_nearest_rank_over_the_latest_requests() -> None:
    counter = RouteCounter(create_engine("sqlite://"), {})
    for ms in range(1, 101):  # 1 ms .. 100 ms
        counter.time("GET /api/users/me", "fastapi", ms / 1000)
    counter.time("GET /api/users/me", "legacy_flask", 0.5)
    found = counter.latencies()["GET /api/users/me"]
    assert (found["fastapi"].samples, found["fastapi"].p50_ms, found["fastapi"].p99_ms) == (100, 50.0, 99.0)
    assert (found["legacy_flask"].p50_ms, found["legacy_flask"].p99_ms) == (500.0, 500.0)
    for _ in range(LATENCY_WINDOW):
        counter.time("GET /api/users/me", "fastapi", 0.002)
    assert counter.latencies()["GET /api/users/me"]["fastapi"].p99_ms == 2.0  # the old ones are gone


def test_report_shows_latency_by_implementation(
    app: FastAPI, client: TestClient, user_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    assert client.get("/api/users/me", headers=user_headers).status_code == 200
    report = client.get("/api/v1/admin/migration", headers=admin_headers).json()
    me = next(line for line in report["routes"] if line["route"] == "GET /api/users/me")
    assert me["latency"]["legacy_flask"]["samples"] >= 1
    assert me["latency"]["legacy_flask"]["p99_ms"] >= me["latency"]["legacy_flask"]["p50_ms"] > 0
