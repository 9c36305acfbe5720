"""Benchmark every configuration of issue 7 with wrk and write benchmarks/results.md.

    uv run python benchmarks/run.py [--duration 10] [--rounds 3] [--only NAME ...]
    uv run python benchmarks/run.py --profile NAME     # py-spy profile into benchmarks/profiles/

It finds wrk (installing Debian's package when root), creates the scratch PostgreSQL
database `datalab_bench`, migrates and seeds it, then runs each group of configurations:
their servers start on free 127.0.0.1 ports pinned to one core (`taskset`), each route is
checked once (200, the expected body, `X-Served-By`), warmed, and driven by wrk pinned to
another core, rounds alternating between the group's configurations. A configuration
this build cannot serve is recorded as not available. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if sys.path[0] == str(ROOT / "benchmarks"):  # run as a script: import the package, not its modules
    sys.path[0] = str(ROOT)

import psycopg2  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from benchmarks import configs, cpu, load, profiling, results, seed, servers  # noqa: E402
from benchmarks.configs import Group, Measurement, Server  # noqa: E402
from benchmarks.load import Sample  # noqa: E402
from benchmarks.results import Outcome  # noqa: E402
from datalab.settings import Settings  # noqa: E402

SMOKE_BELOW_S = 10  # shorter runs are smoke runs: they prove the harness, they measure nothing


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds of load per round (default 10)")
    parser.add_argument(
        "--warmup", type=float, default=3, help="seconds of load before measuring (default 3)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds per configuration (default 3)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    names = configs.names()
    only = "run only this configuration (repeatable); the README is left alone"
    parser.add_argument("--only", action="append", choices=names, metavar="NAME", help=only)
    profile = "record a py-spy profile of one configuration under load instead"
    parser.add_argument("--profile", choices=names, metavar="NAME", help=profile)
    parser.add_argument("--gil", action="store_true", help="profile only the thread holding the GIL")
    parser.add_argument("--database", default="datalab_bench", help="scratch database (datalab_bench*)")
    parser.add_argument("--keep-database", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--load-cpu", type=int, default=1)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results.md")
    return parser.parse_args(argv)


def server_env(database: str) -> dict[str, str]:
    """Return the environment every server shares: production mode on the scratch database."""
    return {
        "ENV": "production",
        "DATABASE_URL": seed.database_url(database),
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "WSGI_WORKERS": str(configs.WORKERS),
        "ACCESS_TTL": "86400",  # one token lasts the whole run
        "BCRYPT_ROUNDS": "10",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_ENABLED": "false",  # issue 6's limits would answer the load with 429s
        "PYTHONUNBUFFERED": "1",
    }


def settings_for(env: dict[str, str]) -> Settings:
    """Return the settings the servers will read, for migrating and seeding."""
    return Settings(
        _env_file=None,
        env="production",
        database_url=env["DATABASE_URL"],
        jwt_secret_key=env["JWT_SECRET_KEY"],
        encryption_keys=env["ENCRYPTION_KEYS"],
    )


@contextmanager
def started(
    group_servers: list[Server], env: dict[str, str], cpu_no: int
) -> Iterator[dict[str, servers.Running | str]]:
    """Start each server (a failure is kept as its reason) and stop them all at the end."""
    running: dict[str, servers.Running | str] = {}
    try:
        for server in group_servers:
            try:
                named = {**env, "DB_APPLICATION_NAME": server_env_name(server)}
                running[server.name] = servers.start(server, named, cpu_no)
            except servers.Unavailable as reason:
                running[server.name] = str(reason)
        yield running
    finally:
        for value in running.values():
            if isinstance(value, servers.Running):
                value.stop()


def request_of(running: servers.Running, m: Measurement) -> dict[str, Any]:
    """Return wrk's method, token, body and connections for `m`."""
    if m.login_email:
        body = json.dumps(servers.login_body(m.login_email))
        return {"method": "POST", "token": "", "body": body, "connections": m.connections}
    return {"method": m.method, "token": running.token, "body": "", "connections": m.connections}


def run_group(
    group: Group, args: argparse.Namespace, env: dict[str, str], data: seed.Dataset, wrk: load.Load
) -> list[Outcome]:
    """Run one group's configurations side by side, rounds alternating."""
    chosen = [m for m in group.measurements if not args.only or m.name in args.only]
    outcomes = {m.name: Outcome(m) for m in chosen}
    wanted = list({m.server.name: m.server for m in chosen}.values())
    with started(wanted, env, args.server_cpu) as running:
        live: list[tuple[Measurement, servers.Running]] = []
        for m in chosen:
            server = running[m.server.name]
            try:
                if not isinstance(server, servers.Running):
                    raise servers.Unavailable(str(server))
                data.resize(m.rows)
                outcomes[m.name].route = servers.resolve(server, m).path
                live.append((m, server))
            except servers.Unavailable as reason:
                outcomes[m.name].unavailable = str(reason)
                print(f"  {m.name}: not available in this build: {str(reason)[:300]}")
        for m, server in live:
            data.resize(m.rows)
            drive(outcomes[m.name], server, args.warmup, wrk, "warm-up")
        for round_no in range(1, args.rounds + 1):
            for m, server in live:
                if outcomes[m.name].failed:
                    continue
                data.resize(m.rows)
                sample = drive(outcomes[m.name], server, args.duration, wrk, f"round {round_no}")
                if sample is not None:
                    outcomes[m.name].samples.append(sample)
                    print(f"  round {round_no} {m.name:16} {describe(sample)}")
        time.sleep(1)  # the last answers are sent: what each server still holds is its pools at rest
        for m, server in live:
            outcomes[m.name].connections = m.connections or args.connections
            outcomes[m.name].pg_connections = cpu.connections_of(
                seed.ADMIN_DSN, server_env_name(server.server)
            )
    return list(outcomes.values())


def server_env_name(server: Server) -> str:
    """Return the application_name a server's database connections carry (DB_APPLICATION_NAME)."""
    return f"bench-{server.name}"


def drive(
    outcome: Outcome, server: servers.Running, seconds: float, wrk: load.Load, label: str
) -> Sample | None:
    """Load one configuration for `seconds`; if wrk breaks off, mark it failed and return None."""
    m = outcome.measurement
    try:
        user, system = cpu.tree_cpu_seconds(server.process.pid)
        sample = wrk.run(server.base + server.routes[m.name].path, seconds, **request_of(server, m))
        user_after, system_after = cpu.tree_cpu_seconds(server.process.pid)
        used, kernel = user_after + system_after - user - system, system_after - system
        return dataclasses.replace(sample, cpu_s=used, system_s=kernel)
    except load.LoadError as error:
        outcome.failed = str(error)
        print(f"  {label} {m.name}: FAILED: {error}")
        return None


def describe(sample: Sample) -> str:
    """Return one round's numbers as a line of the run's output."""
    failed = sample.errors + sample.bad_status
    cpu_ms = "-" if sample.cpu_ms is None else f"{sample.cpu_ms:.2f}"
    kernel = "" if sample.system_share is None else f" ({sample.system_share:.0%} kernel)"
    return (
        f"{sample.rps:8.1f} req/s  p50 {sample.p50_ms:7.1f} ms  p99 {sample.p99_ms:7.1f} ms"
        f"  CPU {cpu_ms} ms/req{kernel}" + (f", {failed} FAILED" if failed else "")
    )


def profile(args: argparse.Namespace, env: dict[str, str], data: seed.Dataset, wrk: load.Load) -> Path:
    """Record a py-spy profile of one configuration under `args.duration` seconds of load."""
    m = configs.measurement(args.profile)
    data.resize(m.rows)
    profiling.PROFILES.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    out = profiling.PROFILES / f"{m.name}{'-gil' if args.gil else ''}-{stamp}.collapsed.txt"
    with started([m.server], env, args.server_cpu) as running:
        server = running[m.server.name]
        if not isinstance(server, servers.Running):
            raise SystemExit(f"{m.name} is not available in this build: {server}")
        route = servers.resolve(server, m)
        wrk.run(server.base + route.path, args.warmup, **request_of(server, m))
        spy = profiling.record(server.process.pid, args.duration, out, args.load_cpu, gil=args.gil)
        sample = wrk.run(server.base + route.path, args.duration, **request_of(server, m))
        spy_output = spy.communicate(timeout=args.duration + 60)[0].decode(errors="replace")
    if not out.exists():
        raise SystemExit(f"py-spy wrote no profile (it needs ptrace: run as root):\n{spy_output}")
    summary = out.with_name(out.name.replace(".collapsed.txt", ".md"))
    summary.write_text(
        f"# Profile of `{m.name}` ({m.about})\n\n`{m.method} {route.path}` for {args.duration:.0f} s"
        f" ({'GIL holder only' if args.gil else 'every busy thread'}),"
        f" {sample.rps:.0f} req/s while sampled. Stacks: `{out.name}` (speedscope, flamegraph.pl).\n\n"
        + profiling.summarise(out.read_text())
    )
    return summary


def main(argv: list[str] | None = None) -> None:
    """Benchmark (or profile) and write the results."""
    args = parse_args(argv)
    try:
        wrk = load.Load(
            load.find_wrk(), cpu=args.load_cpu, threads=args.threads, connections=args.connections
        )
    except load.LoadError as error:
        raise SystemExit(str(error)) from None
    env = server_env(args.database)
    machine = results.machine()
    print(f"Seeding {args.database} ...")
    try:
        seed.create_database(args.database)
    except psycopg2.OperationalError as error:
        raise SystemExit(f"PostgreSQL must answer at 127.0.0.1:5432 as user postgres: {error}") from None
    data = seed.seed(settings_for(env), args.database)
    machine["postgresql"] = data.server_version()
    try:
        if args.profile:
            print(f"Profile written: {profile(args, env, data, wrk).relative_to(ROOT)}")
            return
        outcomes: list[Outcome] = []
        for group in configs.GROUPS:
            if args.only and not any(m.name in args.only for m in group.measurements):
                continue
            print(f"Group {group.name}:")
            outcomes += run_group(group, args, env, data, wrk)
        data.resize(100_000)
        explained = plans_section(data)
    finally:
        data.connection.close()
        if not args.keep_database:
            seed.drop_database(args.database)
    report(args, machine, wrk, outcomes, explained)


def plans_section(data: seed.Dataset) -> str:
    """Return the query plans of the list route at 100,000 rows, as Markdown."""
    from benchmarks.plans import explain_list  # imported late: it builds an engine

    plans = explain_list(seed.database_url(data.database), data.user_id)
    body = "\n\n".join(f"```\n{sql}\n\n{plan}\n```" for sql, plan in plans)
    return f"## Query plans of the list route at {data.rows:,} rows\n\n{body}\n\n"


def report(
    args: argparse.Namespace, machine: dict[str, str], wrk: load.Load, outcomes: list[Outcome], explained: str
) -> None:
    """Write results.md (and the README's table when every configuration ran)."""
    run = {
        "date": results.now(),
        "smoke": args.duration < SMOKE_BELOW_S,
        "machine": {**machine, "load average at end": results.read_proc("/proc/loadavg").strip()},
        "settings": {
            "load": f"{load.wrk_version(wrk.wrk)}, {wrk.threads} thread(s),"
            f" {wrk.connections} connections (logins: 2), pinned to CPU {wrk.cpu}",
            "servers": f"one process each, pinned to CPU {args.server_cpu}; WSGI_WORKERS={configs.WORKERS}"
            " (a2wsgi threads; gunicorn gthread --threads); uvicorn without access log; ENV=production",
            "database": "PostgreSQL at 127.0.0.1 (shared by every configuration; not pinned)",
            "rounds": f"{args.rounds} x {args.duration:.0f} s per configuration"
            f" after {args.warmup:.0f} s warm-up",
        },
    }
    verdicts = results.judge(configs.RATIOS, {o.measurement.name: o for o in outcomes})
    results.write(args.output, run, outcomes, verdicts, explained)
    print(results.targets(verdicts, run["smoke"]))
    print(f"Wrote {args.output}")
    if not args.only and results.update_readme(ROOT / "README.md", run, outcomes, verdicts):
        print("Updated the README's table")


if __name__ == "__main__":
    main()
