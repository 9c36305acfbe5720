"""The read-only check: one SELECT, built only from allowed syntax, functions and relations.

This is the first of two locks; each connector also runs the statement where the database
itself refuses writes (read-only transaction, read-only file, locked engine), because a parser
can disagree with the server it guards. Everything here is an allow-list: a node, function,
relation or type the guard does not know is refused, and so is anything sqlglot cannot parse.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

import sqlglot
from sqlglot import TokenType, exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError

from datalab.connectors import sql_rules
from datalab.connectors.base import ConnectorError
from datalab.connectors.sql_names import fold, identifier, rewrite_unicode_identifiers
from datalab.connectors.sql_nodes import check_node

# Bounds the parser's CPU and memory, as Superset's SQL_MAX_PARSE_LENGTH does.
MAX_SQL_CHARS = 100_000
# Deeper nesting than any hand-written query needs; sqlglot's parser recurses once per level.
MAX_NESTING = 64

_OPENERS = {TokenType.L_PAREN, TokenType.CASE, TokenType.L_BRACKET}
_CLOSERS = {TokenType.R_PAREN, TokenType.END, TokenType.R_BRACKET}
_EXECUTABLE_COMMENT = re.compile(r"/\*M?!", re.IGNORECASE)
_SQLGLOT = {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite", "duckdb": "duckdb"}
_PLAIN_NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+"|`(?:[^`]|``)+`|\[[^\]]+\]')

log = logging.getLogger(__name__)
# sqlglot logs the text of statements it falls back on; our own refusal message says enough.
logging.getLogger("sqlglot").setLevel(logging.ERROR)


def _refuse(message: str) -> ConnectorError:
    return ConnectorError("QUERY_REFUSED", message)


def check_read_only(sql: str, dialect: str, extra_functions: Iterable[str] = ()) -> str:
    """Refuse anything but one allowed SELECT; return the statement without a trailing `;`."""
    if len(sql) > MAX_SQL_CHARS:
        raise _refuse(f"The query is longer than {MAX_SQL_CHARS} characters.")
    # MySQL and MariaDB run the text of /*! ... */ and /*M! ... */ "comments" that the parser skips.
    if dialect == "mysql" and _EXECUTABLE_COMMENT.search(sql):
        raise _refuse("Executable comments (/*! ... */) are not allowed.")
    try:
        statement, text = _parse(sql, dialect)
        _check_tree(statement, text, dialect, frozenset(extra_functions))
    except RecursionError:
        # A nesting the token count did not see (CASE in CASE...); refused, never a 500.
        log.warning("sql_guard: refused a query nested too deeply to analyse")
        raise _refuse("The query nests too deeply to be checked.") from None
    return sql.strip().rstrip(";").rstrip()


def _parse(sql: str, dialect: str) -> tuple[exp.Expr, str]:
    read = Dialect.get_or_raise(_SQLGLOT[dialect])
    try:
        tokens = read.tokenize(sql)
    except SqlglotError:
        raise _refuse("The query could not be parsed as SQL.") from None
    depth = deepest = 0
    for token in tokens:
        if token.token_type in _OPENERS:
            depth += 1
            deepest = max(deepest, depth)
        elif token.token_type in _CLOSERS:
            depth -= 1
    if deepest > MAX_NESTING:
        log.warning("sql_guard: refused a query nested %d levels deep", deepest)
        raise _refuse(f"The query nests more than {MAX_NESTING} levels deep.")
    text = rewrite_unicode_identifiers(sql, tokens, dialect) if dialect in ("postgresql", "duckdb") else sql
    try:
        statements = [s for s in sqlglot.parse(text, read=read) if s is not None]
    except SqlglotError:
        raise _refuse("The query could not be parsed as SQL.") from None
    statements = [s for s in statements if not isinstance(s, exp.Semicolon)]
    if not statements:
        raise _refuse("The query is empty.")
    if len(statements) > 1:
        raise _refuse("Only one statement is allowed.")
    statement = statements[0]
    root = statement.this if isinstance(statement, exp.Subquery) else statement
    if not isinstance(root, exp.Select | exp.SetOperation):
        raise _refuse("Only SELECT queries (or WITH ... SELECT) are allowed.")
    return statement, text


def _check_tree(statement: exp.Expr, text: str, dialect: str, extra: frozenset[str]) -> None:
    for node in statement.walk():
        check_node(node, dialect)
        if isinstance(node, exp.Func):
            _check_function(node, text, dialect, extra)
        elif isinstance(node, exp.Table) and not isinstance(node.this, exp.Func):
            _check_relation(node, dialect)
        elif isinstance(node, exp.Dot) and dialect == "postgresql":
            _check_field_selection(node, dialect, extra)


def _check_field_selection(node: exp.Dot, dialect: str, extra: frozenset[str]) -> None:
    """PostgreSQL reads `(value).name` as name(value) when no field is called name: a call."""
    if not isinstance(node.expression, exp.Identifier):
        return  # (row).*
    if isinstance(node.this, exp.Identifier | exp.Column | exp.Dot):
        return  # schema.table or table.column: a name path, not a value
    name = _name_of(node.expression, dialect)
    if not sql_rules.function_allowed(name, dialect, extra):
        raise _refuse(
            f"(value).{name} calls the function {name}(), which is not allowed in read-only queries."
        )


def _name_of(ident: exp.Expr, dialect: str) -> str:
    if isinstance(ident, exp.Identifier):
        quoted = "`" if dialect == "mysql" else '"'
        raw = quoted + ident.this.replace(quoted, quoted * 2) + quoted if ident.quoted else ident.this
        return identifier(raw, dialect)
    if isinstance(ident, exp.Column) and not ident.table:
        return _name_of(ident.this, dialect)
    raise _refuse("The query names something the check cannot read.")


def _check_function(node: exp.Func, text: str, dialect: str, extra: frozenset[str]) -> None:
    if isinstance(node, exp.Binary):
        return  # an operator (AND, OR, ||...), allowed by the syntax check
    start, end = node.meta.get("start"), node.meta.get("end")
    if start is None or end is None:
        if isinstance(node, exp.Anonymous):
            raise _refuse("The query calls a function the check cannot name.")
        # Built from syntax (CAST, EXTRACT, CURRENT_DATE...) or by sqlglot around a call it rewrote.
        if type(node).__name__ not in sql_rules.SYNTAX_FUNCTIONS:
            raise _refuse(f"The operation {node.sql_name().lower()} is not allowed in queries.")
        return
    raw = text[start : end + 1]
    if not _PLAIN_NAME.fullmatch(raw):
        raise _refuse("The query calls a function the check cannot name.")
    name = identifier(raw, dialect)
    shown = name
    qualifier = _qualifier_of(node, dialect)
    if qualifier is not None:
        shown = f"{qualifier}.{name}"
        if dialect == "postgresql" and qualifier == "pg_catalog":
            pass  # the built-in schema: the name alone decides
        elif dialect == "duckdb" and not sql_rules.hard_refused(name):
            pass  # `value.fn()` is DuckDB's method-call spelling of fn(value); no user functions exist
        elif shown not in extra or sql_rules.hard_refused(fold(name)):
            raise _refuse(f"The function {shown}() is not allowed: only built-in read-only functions are.")
        else:
            return
    if not sql_rules.function_allowed(name, dialect, extra):
        raise _refuse(f"The function {shown}() is not allowed in read-only queries.")


def _qualifier_of(node: exp.Func, dialect: str) -> str | None:
    """Return the schema (or DuckDB value) a call is qualified with: `s.fn()` or `FROM s.fn()`."""
    parent = node.parent
    if isinstance(parent, exp.Dot) and parent.expression is node:
        return _qualifier(parent.this, dialect)
    if isinstance(parent, exp.Table) and parent.this is node:
        if parent.args.get("catalog") is not None:
            raise _refuse("The query calls a function through a catalog; name it without one.")
        schema = parent.args.get("db")
        return _name_of(schema, dialect) if schema is not None else None
    return None


def _qualifier(node: exp.Expr, dialect: str) -> str:
    if isinstance(node, exp.Identifier | exp.Column) and not (isinstance(node, exp.Column) and node.table):
        return _name_of(node, dialect)
    if dialect == "duckdb":
        return "(value)"
    raise _refuse("The query calls a function through an expression the check cannot read.")


def _check_relation(table: exp.Table, dialect: str) -> None:
    if not isinstance(table.this, exp.Identifier):
        raise _refuse("Reading files or values by name is not allowed; name a table.")
    name = _name_of(table.this, dialect)
    if table.args.get("catalog") is not None and dialect != "postgresql":
        raise _refuse(f"The relation {name} is out of reach: name it without a catalog.")
    schema_node = table.args.get("db")
    schema = _name_of(schema_node, dialect) if schema_node is not None else None
    if schema is None and _cte_in_scope(table, name, dialect):
        return
    refused = sql_rules.relation_refusal(schema, name, dialect)
    if refused:
        raise _refuse(f"The relation {refused} is not allowed: it is not part of the source's data.")


def _cte_in_scope(table: exp.Table, name: str, dialect: str) -> bool:
    """Say whether an unqualified `name` at `table` refers to a WITH query rather than a relation."""
    child: exp.Expr = table
    node = table.parent
    while node is not None:
        if isinstance(node, exp.CTE) and isinstance(node.parent, exp.With):
            ctes = node.parent.expressions
            # Inside a WITH query's own body only the earlier ones are visible (itself if RECURSIVE).
            upto = next(i for i, c in enumerate(ctes) if c is node)
            upto += 1 if node.parent.args.get("recursive") else 0
            if any(_name_of(c.args["alias"].this, dialect) == name for c in ctes[:upto]):
                return True
            owner = node.parent.parent  # the query the WITH belongs to: its other CTEs are not in scope
            if owner is None:
                return False
            child, node = owner, owner.parent
            continue
        with_ = node.args.get("with_") if isinstance(node, exp.Query) else None
        if isinstance(with_, exp.With) and child is not with_:
            if any(_name_of(c.args["alias"].this, dialect) == name for c in with_.expressions):
                return True
        child, node = node, node.parent
    return False
