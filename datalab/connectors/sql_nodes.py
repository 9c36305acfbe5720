"""The syntax a read-only query may use: an allow-list of sqlglot node types.

A node type not listed here (a write, a command, a lock, a session variable, an assignment,
an operator sqlglot does not know) is refused, so a new sqlglot node is refused until reviewed.
"""

from __future__ import annotations

from sqlglot import exp

from datalab.connectors.base import ConnectorError

_ALLOWED: tuple[type[exp.Expr], ...] = (
    # Query structure.
    exp.Select,
    exp.Union,
    exp.Intersect,
    exp.Except,
    exp.Subquery,
    exp.With,
    exp.CTE,
    exp.From,
    exp.Join,
    exp.Where,
    exp.Group,
    exp.Having,
    exp.Qualify,
    exp.Order,
    exp.Ordered,
    exp.Limit,
    exp.Offset,
    exp.Fetch,
    exp.LimitOptions,
    exp.Distinct,
    exp.Window,
    exp.WindowSpec,
    exp.Lateral,
    exp.TableSample,
    exp.Comprehension,
    exp.Introducer,
    exp.Table,
    exp.TableAlias,
    exp.Alias,
    exp.Aliases,
    exp.Column,
    exp.Identifier,
    exp.Star,
    exp.Dot,
    exp.Values,
    exp.Tuple,
    exp.Paren,
    exp.Rollup,
    exp.Cube,
    exp.GroupingSets,
    exp.Filter,
    exp.WithinGroup,
    exp.IgnoreNulls,
    exp.RespectNulls,
    exp.Var,
    exp.Slice,
    exp.Bracket,
    exp.Lambda,
    exp.PropertyEQ,
    # Values and types.
    exp.Literal,
    exp.Null,
    exp.Boolean,
    exp.DataType,
    exp.DataTypeParam,
    exp.Interval,
    exp.ColumnDef,
    exp.UnicodeString,
    exp.ByteString,
    exp.HexString,
    exp.BitString,
    exp.RawString,
    exp.National,
    exp.Kwarg,
    exp.JSONKeyValue,
    exp.JSONPath,
    exp.JSONPathRoot,
    exp.JSONPathKey,
    exp.JSONPathSubscript,
    exp.JSONPathWildcard,
    exp.Collate,
    exp.Escape,
    exp.Between,
    exp.In,
    exp.Is,
    exp.Not,
    exp.Neg,
    exp.BitwiseNot,
    exp.Any,
    exp.All,
    exp.Exists,
    exp.Case,
    exp.If,
    exp.AtTimeZone,
    exp.Unnest,
    exp.TimeUnit,
)
# Operators are allowed as a family (arithmetic, comparison, logic, concatenation, JSON access);
# each is a built-in operator on values. (MySQL's `:=` is refused below: it assigns a variable.)
_OPERATORS: tuple[type[exp.Expr], ...] = (exp.Binary, exp.Predicate)


def _refuse(message: str) -> ConnectorError:
    return ConnectorError("QUERY_REFUSED", message)


def check_node(node: exp.Expr, dialect: str) -> None:
    """Refuse a node that is not plain read-only syntax (Func nodes are checked by name elsewhere)."""
    if isinstance(node, exp.Into):
        raise _refuse("SELECT INTO is not allowed: queries are read-only.")
    if isinstance(node, exp.Lock):
        raise _refuse("Locking clauses (FOR UPDATE / FOR SHARE) are not allowed.")
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.USERDEFINED:
        # A type the server resolves by name: a domain or extension type (lo...) may run its own code.
        raise _refuse(f"Casts to the type {node.sql()} are not allowed; use a built-in type.")
    if isinstance(node, exp.Operator):
        # OPERATOR(schema.op) names an operator, and with it the function behind it, in any schema.
        raise _refuse("OPERATOR(...) is not allowed in read-only queries; write the operator itself.")
    if isinstance(node, exp.PropertyEQ) and dialect == "mysql":
        raise _refuse("Assignments (:=) are not allowed in read-only queries.")
    if isinstance(node, (exp.Func, *_ALLOWED)):
        return
    if isinstance(node, _OPERATORS):
        return
    if isinstance(node, exp.DML | exp.DDL | exp.Command):
        raise _refuse("Only read-only queries are allowed; the query contains a write or a command.")
    raise _refuse(f"The query uses syntax that is not allowed in read-only queries ({node.key}).")
