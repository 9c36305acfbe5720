"""Field types of data-source configs and queries: one pattern each, enforced and published."""

from __future__ import annotations

from datalab.fields import text, whole_number

# A DNS name (labels of letters, digits and hyphens) or an IPv4/IPv6 literal, no brackets.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_PATTERN = rf"^(?:{_LABEL}(?:\.{_LABEL})*\.?|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$(?!\n)"
NAME_PATTERN = r"^[^\x00-\x1f\x7f]+$(?!\n)"
SECRET_PATTERN = r"^[^\x00]*$"  # noqa: S105 - a rule, not a secret
# Relative, forward slashes, no `..` segment, no control characters and no backslash.
PATH_PATTERN = r"^(?![/~])(?!(?:.*/)?\.\.(?:/|$))[^\x00-\x1f\x7f\\]+$(?!\n)"
_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
_URL_PATH = r"(?:/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?"
# http or https, a host name or IPv4 address (an IPv6 host needs a DNS name), an optional port and
# path; no user info, query or fragment.
BASE_URL_PATTERN = rf"^https?://{_LABEL}(?:\.{_LABEL})*(?::{_PORT})?{_URL_PATH}$(?!\n)"
# An RFC 9110 token, except the headers the client itself must control.
HEADER_NAME_PATTERN = (
    r"^(?![Hh][Oo][Ss][Tt]$|[Cc][Oo][Nn][Tt][Ee][Nn][Tt]-[Ll][Ee][Nn][Gg][Tt][Hh]$"
    r"|[Tt][Rr][Aa][Nn][Ss][Ff][Ee][Rr]-[Ee][Nn][Cc][Oo][Dd][Ii][Nn][Gg]$"
    r"|[Cc][Oo][Nn][Nn][Ee][Cc][Tt][Ii][Oo][Nn]$)[!#$%&'*+.^_`|~0-9A-Za-z-]+$(?!\n)"
)
# Visible ASCII with inner spaces: what h11 sends without complaint.
HEADER_VALUE_PATTERN = r"^(?:[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?)?$(?!\n)"
MAX_HEADERS = 32
HEADERS_SCHEMA = {
    "type": "object",
    "maxProperties": MAX_HEADERS,
    "propertyNames": {"pattern": HEADER_NAME_PATTERN, "minLength": 1, "maxLength": 100},
    "additionalProperties": {"type": "string", "pattern": HEADER_VALUE_PATTERN, "maxLength": 4096},
    "description": "Sent with every request; values of secret-named headers read ********",
}

Host = text(HOST_PATTERN, "must be a host name or an IP address", min_length=1, max_length=253)
DatabaseName = text(NAME_PATTERN, "must not contain control characters", min_length=1, max_length=128)
UserName = text(NAME_PATTERN, "must not contain control characters", min_length=1, max_length=128)
Secret = text(SECRET_PATTERN, "must not contain NUL characters", max_length=1024)
FilePath = text(
    PATH_PATTERN,
    "must be a path relative to the data folder, without '..' or control characters",
    min_length=1,
    max_length=1024,
)
BaseUrl = text(
    BASE_URL_PATTERN,
    "must be an http or https URL without user info, query or fragment",
    min_length=8,
    max_length=2048,
)
HeaderName = text(
    HEADER_NAME_PATTERN, "must be an HTTP header name a client may set", min_length=1, max_length=100
)
HeaderValue = text(HEADER_VALUE_PATTERN, "must be visible ASCII without surrounding spaces", max_length=4096)
# Ample for a query, and short enough that schema-driven fuzzers can build boundary examples
# (schemathesis sent a non-object body, counted as valid, at 100 000).
MAX_QUERY_CHARS = 10_000
QueryText = text(
    r"^[^\x00]*\S[^\x00]*$",
    "must not be blank or contain NUL characters",
    min_length=1,
    max_length=MAX_QUERY_CHARS,
)
MAX_QUERY_LIMIT = 100_000
QueryLimit = whole_number(1, MAX_QUERY_LIMIT)
Port = whole_number(1, 65_535)
