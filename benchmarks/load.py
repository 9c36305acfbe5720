"""The load generator: find or install wrk, drive one URL with it, read its numbers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "wrk.lua"
MARKER = "BENCH_JSON "
INSTALL_HINT = "install it with `sudo apt-get install -y wrk` (Debian/Ubuntu) and run again"


class LoadError(RuntimeError):
    """wrk is missing, failed, or printed no result."""


@dataclass(frozen=True)
class Sample:
    """What one wrk run measured."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    bad_status: int
    cpu_s: float | None = None  # the server's CPU seconds over the run (its process tree)
    system_s: float | None = None  # the part of cpu_s spent in the kernel (sockets, wake-ups)

    @property
    def rps(self) -> float:
        """Requests per second over the run."""
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms(self) -> float | None:
        """Server CPU milliseconds per request served."""
        return self.cpu_s * 1000 / self.requests if self.cpu_s is not None and self.requests else None

    @property
    def system_share(self) -> float | None:
        """The kernel's share of the server's CPU time."""
        return self.system_s / self.cpu_s if self.system_s is not None and self.cpu_s else None


@dataclass(frozen=True)
class Load:
    """How to drive a server: wrk's path, its pinned core, threads, connections and timeout."""

    wrk: str
    cpu: int
    threads: int = 1
    connections: int = 16
    timeout_s: int = 30

    def command(self, url: str, seconds: float, connections: int | None = None) -> list[str]:
        """Return the pinned wrk command line for `seconds` of load on `url`."""
        connections = connections or self.connections
        return [
            "taskset",
            "-c",
            str(self.cpu),
            self.wrk,
            f"-t{min(self.threads, connections)}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            f"--timeout={self.timeout_s}s",
            "--latency",
            "-s",
            str(SCRIPT),
            url,
        ]

    def run(
        self,
        url: str,
        seconds: float,
        *,
        method: str = "GET",
        token: str = "",
        body: str = "",
        connections: int | None = None,
    ) -> Sample:
        """Drive `url` for `seconds` and return what wrk measured."""
        env = {**os.environ, "BENCH_METHOD": method, "BENCH_TOKEN": token, "BENCH_BODY": body}
        done = subprocess.run(  # noqa: S603 - a fixed command of our own
            self.command(url, seconds, connections),
            env=env,
            capture_output=True,
            text=True,
            timeout=seconds + self.timeout_s + 30,
            check=False,
        )
        if done.returncode != 0:
            raise LoadError(f"wrk exited {done.returncode}: {done.stderr.strip() or done.stdout.strip()}")
        return parse_output(done.stdout)


def parse_output(stdout: str) -> Sample:
    """Read the JSON line that wrk.lua's done() prints."""
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            raw = json.loads(line[len(MARKER) :])
            errors = raw["errors"]
            return Sample(
                requests=raw["requests"],
                seconds=raw["duration_us"] / 1e6,
                p50_ms=raw["p50_us"] / 1000,
                p99_ms=raw["p99_us"] / 1000,
                max_ms=raw["max_us"] / 1000,
                errors=sum(errors[k] for k in ("connect", "read", "write", "timeout")),
                bad_status=errors["status"],
            )
    raise LoadError(f"wrk printed no result line:\n{stdout}")


def find_wrk(install: bool = True) -> str:
    """Return wrk's path, installing Debian's package first when we are root and it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if not install or os.geteuid() != 0 or not shutil.which("apt-get"):
        raise LoadError(f"wrk is not installed; {INSTALL_HINT}")
    for step in (["apt-get", "update"], ["apt-get", "install", "-y", "wrk"]):
        done = subprocess.run(step, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0 and step[1] == "install":
            raise LoadError(f"apt-get could not install wrk ({done.stderr.strip()[-300:]}); {INSTALL_HINT}")
    found = shutil.which("wrk")
    if not found:
        raise LoadError(f"wrk is still missing after apt-get; {INSTALL_HINT}")
    return found


def wrk_version(wrk: str) -> str:
    """Return wrk's version line."""
    done = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)  # noqa: S603
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0].split(" Copyright")[0].strip() if text else "?"
