"""Names as each database reads them: PostgreSQL's U& escapes, quoting, case folding, truncation.

The guard compares a function or table name only after applying the dialect's own identifier
rules, so `U&"pg\\005fread\\005ffile"`, `"pg_read_file"`, `PG_READ_FILE` and
`pg_catalog.pg_read_file` are one name to it, as they are to the server.
"""

from __future__ import annotations

import re

from sqlglot import Token, TokenType

from datalab.connectors.base import ConnectorError

# PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes.
_PG_NAME_BYTES = 63
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# PostgreSQL refuses these as UESCAPE characters: hex digits, +, quotes and white space.
_BAD_ESCAPES = "0123456789abcdefABCDEF+'\" \t\n\r"
_QUOTES = {'"': '"', "`": "`", "[": "]"}


def _refuse(message: str) -> ConnectorError:
    return ConnectorError("QUERY_REFUSED", message)


def fold(name: str) -> str:
    """Lower-case ASCII letters only, as PostgreSQL, SQLite and DuckDB fold unquoted names."""
    return name.translate(_ASCII_LOWER)


def identifier(raw: str, dialect: str) -> str:
    """Return the name the server sees for one identifier token as written (quotes included)."""
    opener = raw[:1]
    closer = _QUOTES.get(opener)
    if closer and len(raw) >= 2 and raw.endswith(closer):
        name = raw[1:-1].replace(closer * 2, closer)
        # PostgreSQL keeps the case of a quoted name; the others compare names case-insensitively.
        name = name if dialect == "postgresql" else fold(name)
    else:
        name = fold(raw)
    if dialect == "postgresql":
        name = name.encode()[:_PG_NAME_BYTES].decode(errors="ignore")
    return name


def decode_unicode_escapes(body: str, escape: str) -> str:
    """Decode a U& literal's body: `<e>XXXX`, `<e>+XXXXXX`, `<e><e>` for the escape character <e>."""
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != escape:
            out.append(ch)
            i += 1
            continue
        if body[i + 1 : i + 2] == escape:
            out.append(escape)
            i += 2
            continue
        long = body[i + 1 : i + 2] == "+"
        digits = body[i + 2 : i + 8] if long else body[i + 1 : i + 5]
        if not re.fullmatch(r"[0-9A-Fa-f]{6}" if long else r"[0-9A-Fa-f]{4}", digits):
            raise _refuse("The query has an invalid Unicode escape.")
        code = int(digits, 16)
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise _refuse("The query has an invalid Unicode escape.")
        out.append(chr(code))
        i += 8 if long else 5
    return "".join(out)


def _adjacent(a: Token, b: Token) -> bool:
    return a.end + 1 == b.start


def _escape_character(tokens: list[Token], at: int) -> tuple[str, int]:
    """Read an optional `UESCAPE 'c'` after token `at`; return the escape character and last index."""
    if at + 2 < len(tokens) and tokens[at + 1].text.upper() == "UESCAPE":
        value = tokens[at + 2]
        if value.token_type != TokenType.STRING or len(value.text) != 1 or value.text in _BAD_ESCAPES:
            raise _refuse("The query has an invalid UESCAPE character.")
        return value.text, at + 2
    return "\\", at


def rewrite_unicode_identifiers(sql: str, tokens: list[Token], dialect: str) -> str:
    """Replace each `U&"..." [UESCAPE 'c']` with the plain quoted name it stands for, for analysis only.

    The server runs the original text; the guard reads this equivalent one, which sqlglot parses
    (it reads `U&"x"` as `U & "x"` and fails on UESCAPE).
    """
    pieces: list[str] = []
    last = 0
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        is_u = tok.token_type == TokenType.VAR and tok.text in ("U", "u")
        if is_u and i + 2 < len(tokens) and tokens[i + 1].token_type == TokenType.AMP:
            amp, name = tokens[i + 1], tokens[i + 2]
            if _adjacent(tok, amp) and _adjacent(amp, name) and sql[name.start] == '"':
                if dialect != "postgresql":
                    raise _refuse("U&-escaped identifiers are not allowed.")
                escape, end = _escape_character(tokens, i + 2)
                decoded = decode_unicode_escapes(name.text, escape)
                pieces.append(sql[last : tok.start])
                pieces.append('"' + decoded.replace('"', '""') + '"')
                last = tokens[end].end + 1
                i = end + 1
                continue
        i += 1
    pieces.append(sql[last:])
    return "".join(pieces)
