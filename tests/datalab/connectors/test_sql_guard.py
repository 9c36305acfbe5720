"""The read-only check: what it lets through and everything it must refuse, per dialect."""

from __future__ import annotations

import pytest

from datalab.connectors import ConnectorError
from datalab.connectors.sql_guard import MAX_SQL_CHARS, check_read_only

DIALECTS = ["postgresql", "mysql", "sqlite", "duckdb"]

READS = [
    "SELECT 1",
    "select * from customers where id = 1",
    "SELECT name, count(*) FROM customers GROUP BY name HAVING count(*) > 1 ORDER BY 2 DESC LIMIT 5",
    "SELECT a.id FROM customers a JOIN orders o ON o.customer_id = a.id",
    "WITH big AS (SELECT * FROM orders WHERE amount > 5) SELECT count(*) FROM big",
    "SELECT 1 UNION ALL SELECT 2",
    "SELECT id FROM customers INTERSECT SELECT customer_id FROM orders",
    "(SELECT 1)",
    "SELECT * FROM (SELECT id FROM customers) AS sub",
    "SELECT 1; ",
    "-- a comment\nSELECT 1 /* inline */",
]

# (dialects, statement): every kind of write, command, lock and file or server access.
REFUSED: list[tuple[list[str], str]] = [
    (DIALECTS, "INSERT INTO customers (email) VALUES ('x@example.com')"),
    (DIALECTS, "UPDATE customers SET name = 'x'"),
    (DIALECTS, "DELETE FROM customers"),
    (DIALECTS, "DROP TABLE customers"),
    (DIALECTS, "CREATE TABLE x (id int)"),
    (DIALECTS, "ALTER TABLE customers ADD COLUMN x int"),
    (DIALECTS, "TRUNCATE TABLE customers"),
    (DIALECTS, "SELECT 1; DELETE FROM customers"),
    (DIALECTS, "SELECT 1; SELECT 2"),
    (DIALECTS, "select 1;\n\nupdate customers set name = 'x'"),
    (DIALECTS, "CREATE VIEW v AS SELECT 1"),
    (["postgresql"], "WITH d AS (DELETE FROM customers RETURNING *) SELECT * FROM d"),
    (["postgresql"], "WITH u AS (UPDATE customers SET name = 'x' RETURNING id) SELECT count(*) FROM u"),
    (["postgresql"], "WITH i AS (INSERT INTO customers (email) VALUES ('a') RETURNING id) SELECT * FROM i"),
    (["postgresql"], "SELECT * INTO copy_of_customers FROM customers"),
    (["postgresql", "mysql"], "SELECT * FROM customers FOR UPDATE"),
    (["postgresql"], "SELECT * FROM customers FOR SHARE"),
    (["postgresql"], "SELECT pg_read_file('/etc/passwd')"),
    (["postgresql"], "SELECT pg_read_binary_file('/etc/passwd')"),
    (["postgresql"], "SELECT * FROM pg_ls_dir('.')"),
    (["postgresql"], "SELECT lo_import('/etc/passwd')"),
    (["postgresql"], "SELECT lo_export(1, '/tmp/x')"),
    (["postgresql"], "SELECT dblink('host=10.0.0.1', 'select 1')"),
    (["postgresql"], "SELECT query_to_xml('delete from customers', true, true, '')"),
    (["postgresql"], "SELECT set_config('default_transaction_read_only', 'off', false)"),
    (["postgresql"], "SELECT nextval('counter')"),
    (["postgresql"], "SELECT pg_terminate_backend(1)"),
    (["postgresql"], "COPY customers TO '/tmp/out.csv'"),
    (["postgresql"], "COPY (SELECT 1) TO PROGRAM 'id'"),
    (["postgresql"], "CALL do_something()"),
    (["postgresql"], "DO $$ BEGIN DELETE FROM customers; END $$"),
    (["postgresql"], "SET default_transaction_read_only = off"),
    (["postgresql"], "RESET ALL"),
    (["postgresql"], "BEGIN"),
    (["postgresql"], "COMMIT"),
    (["postgresql"], "EXPLAIN ANALYZE DELETE FROM customers"),
    (["postgresql"], "LOCK TABLE customers"),
    (["postgresql"], "GRANT ALL ON customers TO public"),
    (["postgresql"], "VACUUM customers"),
    (["postgresql"], "VALUES (1)"),
    (["postgresql"], "PREPARE p AS DELETE FROM customers"),
    (["postgresql"], "LISTEN x"),
    (["mysql"], "SELECT LOAD_FILE('/etc/passwd')"),
    (["mysql"], "SELECT * FROM customers INTO OUTFILE '/tmp/out.txt'"),
    (["mysql"], "SELECT 'x' INTO DUMPFILE '/tmp/out.bin'"),
    (["mysql"], "SELECT 1 INTO @v"),
    (["mysql"], "LOAD DATA INFILE '/etc/passwd' INTO TABLE customers"),
    (["mysql"], "SELECT BENCHMARK(100000000, MD5('x'))"),
    (["mysql"], "SELECT GET_LOCK('x', 10)"),
    (["mysql"], "REPLACE INTO customers (id, email) VALUES (1, 'x')"),
    (["mysql"], "HANDLER customers OPEN"),
    (["mysql"], "SET SESSION TRANSACTION READ WRITE"),
    (["mysql"], "START TRANSACTION"),
    (["mysql"], "SHOW GRANTS"),
    (["mysql"], "USE mysql"),
    (["mysql"], "KILL 1"),
    (["mysql"], "SELECT 1 /*! , LOAD_FILE('/etc/passwd') */"),
    (["mysql"], "SELECT * FROM customers /*!50000 INTO OUTFILE '/tmp/out.txt' */"),
    (["mysql"], "SELECT 1 /*M! , SLEEP(1) */"),
    (["sqlite"], "ATTACH DATABASE '/etc/passwd' AS p"),
    (["sqlite"], "DETACH DATABASE p"),
    (["sqlite"], "SELECT load_extension('/tmp/evil.so')"),
    (["sqlite"], "PRAGMA query_only = 0"),
    (["sqlite"], "PRAGMA writable_schema = 1"),
    (["sqlite"], "VACUUM INTO '/tmp/copy.db'"),
    (["sqlite"], "SELECT readfile('/etc/passwd')"),
    (["sqlite"], "REPLACE INTO customers (id, email) VALUES (1, 'x')"),
    (["duckdb"], "SELECT * FROM read_csv('/etc/passwd')"),
    (["duckdb"], "SELECT * FROM read_csv_auto('/etc/passwd')"),
    (["duckdb"], "SELECT * FROM read_parquet('s3://bucket/x.parquet')"),
    (["duckdb"], "SELECT * FROM read_json('https://example.com/x.json')"),
    (["duckdb"], "SELECT * FROM read_text('/etc/passwd')"),
    (["duckdb"], "SELECT * FROM read_blob('/etc/passwd')"),
    (["duckdb"], "SELECT * FROM glob('/etc/*')"),
    (["duckdb"], "SELECT * FROM '/etc/passwd'"),
    (["duckdb"], "SELECT * FROM 'other.csv'"),
    (["duckdb"], 'SELECT * FROM "other.csv"'),
    (["duckdb"], "SELECT * FROM query('DELETE FROM data')"),
    (["duckdb"], "SELECT getenv('HOME')"),
    (["duckdb"], "COPY data TO '/tmp/out.csv'"),
    (["duckdb"], "INSTALL httpfs"),
    (["duckdb"], "LOAD httpfs"),
    (["duckdb"], "ATTACH '/tmp/x.db' AS x"),
    (["duckdb"], "SET enable_external_access = true"),
    (["duckdb"], "EXPORT DATABASE '/tmp/dump'"),
]

UNPARSEABLE = ["SELEC 1", "SELECT FROM WHERE", "DELETE", ")", "SELECT 'unterminated"]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("sql", READS)
def test_reads_pass(sql: str, dialect: str) -> None:
    if dialect == "duckdb":  # a csv/json source has one table, `data`
        sql = sql.replace("customers", "data").replace("orders", "data")
    assert check_read_only(sql, dialect).rstrip(";").strip()


def test_trailing_semicolon_is_dropped() -> None:
    assert check_read_only("SELECT 1 ; ", "postgresql") == "SELECT 1"


@pytest.mark.parametrize(
    ("dialect", "sql"), [(d, sql) for dialects, sql in REFUSED for d in dialects], ids=lambda v: str(v)[:60]
)
def test_writes_and_commands_refused(dialect: str, sql: str) -> None:
    with pytest.raises(ConnectorError) as caught:
        check_read_only(sql, dialect)
    assert caught.value.code == "QUERY_REFUSED"
    assert caught.value.message


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    "sql", ["SELECT pg_read_file('/etc/passwd')", "SELECT LOAD_FILE('/x')", "SELECT load_extension('x')"]
)
def test_file_functions_refused_in_every_dialect(sql: str, dialect: str) -> None:
    with pytest.raises(ConnectorError, match="not allowed"):
        check_read_only(sql, dialect)


@pytest.mark.parametrize("sql", UNPARSEABLE)
def test_unparseable_sql_refused_clearly(sql: str) -> None:
    with pytest.raises(ConnectorError) as caught:
        check_read_only(sql, "postgresql")
    assert caught.value.code == "QUERY_REFUSED"


@pytest.mark.parametrize("sql", ["", "   ", ";", "-- only a comment"])
def test_empty_query_refused(sql: str) -> None:
    with pytest.raises(ConnectorError, match="empty|parsed"):
        check_read_only(sql, "postgresql")


def test_overlong_query_refused_before_parsing() -> None:
    with pytest.raises(ConnectorError, match="longer"):
        check_read_only("SELECT " + "1 + " * MAX_SQL_CHARS + "1", "postgresql")


@pytest.mark.parametrize("sql", ["SELECT 1; DELETE FROM customers", "SELECT 1; SELECT 2"])
def test_several_statements_named_in_message(sql: str) -> None:
    with pytest.raises(ConnectorError, match="one statement"):
        check_read_only(sql, "postgresql")


def test_sleep_is_allowed_because_the_database_timeout_bounds_it() -> None:
    assert check_read_only("SELECT pg_sleep(1)", "postgresql")
    assert check_read_only("SELECT SLEEP(1)", "mysql")


def test_sqlglot_misreads_unicode_identifiers_so_the_guard_decodes_them() -> None:
    """sqlglot reads U&"x" as `U & "x"` and fails on UESCAPE; if that changes, revisit sql_names."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError

    tree = sqlglot.parse_one('SELECT U&"pg\\005fsleep"(1)', read="postgres")
    assert isinstance(tree, exp.Select)
    assert isinstance(tree.selects[0], exp.BitwiseAnd)
    with pytest.raises(ParseError):
        sqlglot.parse_one("SELECT U&\"pg!005fsleep\" UESCAPE '!' (1)", read="postgres")


@pytest.mark.parametrize(
    ("body", "escape", "expected"),
    [
        ("pg\\005fread\\005ffile", "\\", "pg_read_file"),
        ("pg!005fread!005ffile", "!", "pg_read_file"),
        ("\\+000070g_sleep", "\\", "pg_sleep"),
        ("a\\\\b", "\\", "a\\b"),
        ("caf\\00e9", "\\", "café"),
    ],
)
def test_unicode_escapes_decoded_as_postgresql_does(
    pg_source: dict[str, object], body: str, escape: str, expected: str
) -> None:
    from datalab.connectors.sql_names import decode_unicode_escapes
    from tests.datalab.connectors.conftest import pg_admin

    assert decode_unicode_escapes(body, escape) == expected
    conn = pg_admin()
    try:
        with conn.cursor() as cur:
            uescape = f" UESCAPE '{escape}'" if escape != "\\" else ""
            cur.execute(f"SELECT U&'{body}'{uescape}")  # the same rules apply to U& strings
            assert cur.fetchone() == (expected,)
    finally:
        conn.close()


@pytest.mark.parametrize(
    "sql",
    [
        'SELECT U&"pg\\zzzzread"(1)',
        'SELECT U&"pg\\d800"(1)',
        "SELECT U&\"x\" UESCAPE 'a' (1)",
        "SELECT U&\"x\" UESCAPE '' (1)",
    ],
)
def test_malformed_unicode_escapes_refused(sql: str) -> None:
    with pytest.raises(ConnectorError, match="Unicode escape|UESCAPE|parsed"):
        check_read_only(sql, "postgresql")


def test_unicode_escaped_allowed_function_passes() -> None:
    assert check_read_only('SELECT U&"c\\006fu\\+00006Et"(*) FROM customers', "postgresql")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_unknown_functions_refused_by_name(dialect: str) -> None:
    with pytest.raises(ConnectorError, match=r"my_function\(\) is not allowed"):
        check_read_only("SELECT my_function(1)", dialect)


def test_extra_functions_allowed_but_never_the_hard_refused_ones() -> None:
    assert check_read_only("SELECT my_function(1)", "postgresql", {"my_function"})
    assert check_read_only("SELECT analytics.score(1)", "postgresql", {"analytics.score"})
    for name in ("pg_read_file", "set_config", "lo_import", "pg_advisory_lock", "dblink_exec"):
        with pytest.raises(ConnectorError, match=f"{name}"):
            check_read_only(f"SELECT {name}('x')", "postgresql", {name})


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_hostile_statement_refused_by_the_guard_itself(dialect: str) -> None:
    """The parser's lock alone, before any database: the connector tests then show nothing changed."""
    from tests.datalab.connectors.sql_cases import HOSTILE

    outcomes: dict[str, str] = {}
    for sql in HOSTILE[dialect]:
        try:
            check_read_only(sql, dialect)
        except ConnectorError as exc:
            outcomes[sql[:80]] = exc.code
        else:
            outcomes[sql[:80]] = "PASSED"
    assert {sql: code for sql, code in outcomes.items() if code != "QUERY_REFUSED"} == {}
