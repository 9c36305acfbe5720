"""Masking of secrets in configs, for responses and audit details alike.

A value is a secret by its key's name (`password`, `X-Api-Key`, `sessionId`...) or by its
shape, whatever its key: a URL with user info, a webhook URL, a connection string's
password, a well-known token. Sending back exactly what was shown keeps the stored value.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from datalab.errors import InvalidInput

MASK = "********"
SEND_AGAIN = "send the secret again when the destination changes"
Path = tuple[str | int, ...]

_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
# Inside any word of a key, in any case; `auth` but not `author` or `authority`.
_SECRET_PART = re.compile(
    r"auth(?!or(?!i[sz]))|token|secret|signature|session|cookie|passcode|credential|passw|passphrase"
    r"|pwd|private|dsn"
)
# `key` only as a word of its own or after a word that makes it one (`apikey`, `AccountKey`), so
# that `monkey` and `keyspace` stay readable.
_KEY_WORD = re.compile(
    r"(?:api|access|private|secret|signing|master|client|app|license|encryption|subscription|shared"
    r"|account|storage|function|sas|x)?keys?"
)
# Query and connection-string parameters that hold a secret under a name of their own.
_SECRET_PARAMS = frozenset({"sig", "code", "pw", "pass"})

# Values that are a secret as a whole: webhook URLs (the URL is the credential) and tokens.
# Each pattern runs only where a cheap look finds what it needs, so a 4 KiB text costs
# well under a millisecond (answers mask every config they show).
_WEBHOOK = re.compile(
    r"(?i)hooks\.slack\.com/(?:services|workflows|triggers)/"
    r"|\.webhook\.office\.com/|outlook\.office(?:365)?\.com/webhook"
    r"|discord(?:app)?\.com/api/webhooks/|hooks\.zapier\.com/hooks/|api\.telegram\.org/bot"
    r"|maker\.ifttt\.com/trigger/"
)
_SCHEME_WORD = re.compile(r"(?i)\b(?:bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}")
# Prefixes of well-known tokens, case as issued: GitHub, GitLab, Slack, Stripe, OpenAI, Google,
# SendGrid, npm, PyPI, AWS; JSON Web Tokens; PEM private keys.
_TOKEN = re.compile(
    r"(?<![\w-])(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}|glpat-[\w-]{16,}|xox[abposr]-[\w-]{10,}"
    r"|[sr]k_(?:live|test)_\w{10,}|sk-[\w-]{20,}|AIza[\w-]{30,}|SG\.[\w-]{16,}\.[\w-]{16,}"
    r"|npm_\w{30,}|pypi-[\w-]{30,}|AKIA[0-9A-Z]{16}|eyJ[\w-]{5,}\.[\w-]+\.)"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)
_TOKEN_MARKS = (
    "gh",
    "glpat-",
    "xox",
    "k_live_",
    "k_test_",
    "sk-",
    "AIza",
    "SG.",
    "npm_",
    "pypi-",
    "AKIA",
    "eyJ",
    "-----BEGIN",
)
# scheme://user:password@ or scheme://token@ (user info is a credential either way).
_USER_INFO = re.compile(r"(?i)(?<![a-z0-9+.-])([a-z][a-z0-9+.-]{0,31}://)(?:([^:/?#@\s]*):)?([^/?#@\s]+)@")
# name=value in query strings, `Server=h;Password=p` and `host=h password=p` connection strings.
_PARAM = re.compile(
    r"(?<![\w.-])([A-Za-z][\w.-]{0,99}(?: [A-Za-z]{1,30})?)(\s*=\s*)"
    r"('[^']*'|\"[^\"]*\"|\{[^}]*\}|[^;&\s'\"]+)"
)


def is_secret_key(key: str) -> bool:
    """Tell whether a config key or header name names a secret."""
    words = [word.lower() for word in _WORD.findall(key)]
    return any(_SECRET_PART.search(word) or _KEY_WORD.fullmatch(word) for word in words)


def mask_text(text: str) -> str:
    """Return `text` with the secrets its shape shows replaced by the mask (all of it, for some)."""
    if _whole_secret(text):
        return MASK
    if "://" in text and "@" in text:
        text = _USER_INFO.sub(_masked_user_info, text)
    return _PARAM.sub(_masked_param, text) if "=" in text else text


def _whole_secret(text: str) -> bool:
    lowered = text.lower()
    if "://" in text and _WEBHOOK.search(text):
        return True
    if any(word in lowered for word in ("bearer", "basic", "token")) and _SCHEME_WORD.search(text):
        return True
    return any(mark in text for mark in _TOKEN_MARKS) and _TOKEN.search(text) is not None


def _masked_user_info(match: re.Match[str]) -> str:
    scheme, user = match.group(1), match.group(2)
    return f"{scheme}{MASK}@" if user is None else f"{scheme}{user}:{MASK}@"


def _masked_param(match: re.Match[str]) -> str:
    name = match.group(1)
    if is_secret_key(name) or name.lower() in _SECRET_PARAMS:
        return f"{name}{match.group(2)}{MASK}"
    return match.group(0)


def mask_secrets(value: Any) -> Any:
    """Return a copy of `value` with secrets replaced: by key name, and by the shape of each text."""
    if isinstance(value, dict):
        return {k: MASK if is_secret_key(str(k)) else mask_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v) for v in value]
    if isinstance(value, str):
        return mask_text(value)
    return value


class Merged(NamedTuple):
    """A config sent over a stored one, and the paths where a masked secret kept the stored value."""

    config: dict[str, Any]
    kept: list[Path]


def merge_masked(stored: dict[str, Any], incoming: dict[str, Any]) -> Merged:
    """Apply `incoming` over `stored`, keeping the stored secret wherever the mask was sent back.

    A text that shows a mask but is not what the stored value reads masked (say, the user
    info of a URL kept while its host changed) is refused: the secret must be sent again.
    """
    kept: list[Path] = []
    merged = _merge_object(stored, incoming, (), kept)
    return Merged(merged, kept)


def _merge_object(
    stored: dict[str, Any], incoming: dict[str, Any], path: Path, kept: list[Path]
) -> dict[str, Any]:
    return {
        key: _merge_value(stored[key], value, (*path, key), kept) if key in stored else value
        for key, value in incoming.items()
    }


def _merge_value(old: Any, new: Any, path: Path, kept: list[Path]) -> Any:
    if new == MASK and old != MASK:
        kept.append(path)
        return old
    if isinstance(new, dict) and isinstance(old, dict):
        return _merge_object(old, new, path, kept)
    if isinstance(new, list) and isinstance(old, list) and len(new) == len(old):
        # A config read back and sent unchanged keeps the secrets inside its lists too.
        return [_merge_value(o, n, (*path, i), kept) for i, (o, n) in enumerate(zip(old, new, strict=True))]
    if isinstance(new, str) and isinstance(old, str) and MASK in new and new != old:
        shown = mask_text(old)
        if shown == old:
            return new  # the stored text held no secret to keep
        if shown != new:
            raise InvalidInput(field_name(path), SEND_AGAIN, code="SECRET_REQUIRED")
        kept.append(path)
        return old
    return new


def field_name(path: Path, prefix: str = "config") -> str:
    """Return the dotted name of a config path, as error messages name fields."""
    return ".".join([prefix, *(str(part) for part in path)])
