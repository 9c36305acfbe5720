"""Profiles under load: py-spy samples a running server while wrk drives it.

py-spy reads the server's memory with ptrace (root, or CAP_SYS_PTRACE in a container).
It writes collapsed stacks (open them in speedscope or flamegraph.pl) and we add a
summary of where the samples fall, by function, so a missed target has a reason in text.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

PROFILES = Path(__file__).resolve().parent / "profiles"
_LINE = re.compile(r":\d+\)$")


def py_spy() -> str:
    """Return py-spy's path (a dev dependency, installed beside this interpreter)."""
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if not found:
        raise RuntimeError("py-spy is missing: run `uv sync` (it is a dev dependency)")
    return found


def record(pid: int, seconds: float, out: Path, cpu: int, *, gil: bool = False) -> subprocess.Popen[bytes]:
    """Start sampling `pid` and its children for `seconds` into `out` (collapsed stacks).

    By default every thread that is not idle is sampled (where requests wait, the
    database included); with `gil`, only the thread holding the GIL (where the one
    core's Python time goes).
    """
    command = [
        "taskset", "-c", str(cpu), py_spy(), "record", "--pid", str(pid), "--subprocesses",
        "--duration", str(max(1, round(seconds))), "--format", "raw", "--output", str(out), "--nonblocking",
        *(["--gil"] if gil else []),
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # noqa: S603


def summarise(collapsed: str, top: int = 25) -> str:
    """Return Markdown tables of the functions holding most samples, inclusive and self."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        # Lines dropped: a function's samples are one row, not one per line it was caught on.
        frames = [_LINE.sub(")", f) for f in stack.split(";") if not f.startswith("process ")]
        if not frames:
            continue
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    if not total:
        return "No samples: was the server busy, and may py-spy trace it (ptrace)?\n"

    def rows(counter: Counter[str]) -> str:
        return "\n".join(
            f"| {100 * n / total:.1f}% | `{frame.replace('|', '/')}` |"
            for frame, n in counter.most_common(top)
        )

    head = "| share | function |\n|---:|---|\n"
    return (
        f"{total} samples.\n\n### Inclusive (the function and what it calls)\n\n{head}{rows(inclusive)}\n\n"
        f"### Self (the function's own code)\n\n{head}{rows(own)}\n"
    )
