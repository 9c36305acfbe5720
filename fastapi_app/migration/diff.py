"""Comparing two answers to one request: status, chosen headers and JSON body, as a readable diff.

A small JSON-path differ rather than a library: the paths it prints (`data_sources[0].name`)
are the very paths the registry's `ignore` patterns are written in, and it never prints the
value of a secret-named key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from datalab.masking import MASK, is_secret_key

Segment = str | int
MAX_LINES = 20
MAX_VALUE = 80


@dataclass
class Answer:
    """One implementation's answer: status, headers (lower-case names) and body."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def compare(expected: Answer, actual: Answer, *, headers: Sequence[str], ignore: Sequence[str]) -> str | None:
    """Return a readable diff of `actual` (the port) against `expected` (Flask), or None if they agree."""
    lines: list[str] = []
    if expected.status != actual.status:
        lines.append(f"status: flask {expected.status}, fastapi {actual.status}")
    for name in headers:
        ours, theirs = expected.headers.get(name), actual.headers.get(name)
        if ours != theirs:
            lines.append(f"header {name}: flask {ours!r}, fastapi {theirs!r}")
    lines.extend(_body_lines(expected.body, actual.body, [_pattern(p) for p in ignore]))
    if not lines:
        return None
    if len(lines) > MAX_LINES:
        lines = [*lines[:MAX_LINES], f"... and {len(lines) - MAX_LINES} more differences"]
    return "\n".join(lines)


def _body_lines(expected: bytes, actual: bytes, ignore: list[list[str]]) -> list[str]:
    try:
        ours, theirs = json.loads(expected or b"null"), json.loads(actual or b"null")
    except ValueError:
        same = expected == actual
        return [] if same else [f"body: not JSON and different ({len(expected)} and {len(actual)} bytes)"]
    return list(_diff(ours, theirs, (), ignore))


def _diff(ours: Any, theirs: Any, path: tuple[Segment, ...], ignore: list[list[str]]) -> Iterator[str]:
    if _ignored(path, ignore):
        return
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key in ours:  # in Flask's key order, so diffs read the same every time
            if key in theirs:
                yield from _diff(ours[key], theirs[key], (*path, key), ignore)
            elif not _ignored((*path, key), ignore):
                yield f"{_show_path((*path, key))}: only flask has it ({_show(ours[key], key)})"
        for key in theirs:
            if key not in ours and not _ignored((*path, key), ignore):
                yield f"{_show_path((*path, key))}: only fastapi has it ({_show(theirs[key], key)})"
        return
    if isinstance(ours, list) and isinstance(theirs, list):
        if len(ours) != len(theirs):
            yield f"{_show_path(path)}: flask has {len(ours)} items, fastapi {len(theirs)}"
        for index, (left, right) in enumerate(zip(ours, theirs, strict=False)):
            yield from _diff(left, right, (*path, index), ignore)
        return
    # bool is an int in Python; `1 == True` must still count as a difference here.
    if ours != theirs or type(ours) is not type(theirs):
        key = path[-1] if path else ""
        yield f"{_show_path(path)}: flask {_show(ours, key)}, fastapi {_show(theirs, key)}"


def _ignored(path: tuple[Segment, ...], ignore: list[list[str]]) -> bool:
    return any(_matches(pattern, path) for pattern in ignore)


def _pattern(text: str) -> list[str]:
    return [part for part in text.replace("[", ".").replace("]", "").split(".") if part]


def _matches(pattern: list[str], path: tuple[Segment, ...]) -> bool:
    if not pattern:
        return not path
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_matches(rest, path[skip:]) for skip in range(len(path) + 1))
    if not path:
        return False
    return (head == "*" or head == str(path[0])) and _matches(rest, path[1:])


def _show_path(path: tuple[Segment, ...]) -> str:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    return text or "body"


def _show(value: Any, key: Segment) -> str:
    if isinstance(key, str) and is_secret_key(key) and value not in (None, MASK):
        return "(a secret, not shown)"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 3] + "..."
