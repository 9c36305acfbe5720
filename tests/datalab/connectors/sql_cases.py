"""Tables of queries for the read-only guard: legitimate analytics that must pass, hostile ones that must not.

Each dialect's tables run against the real test sources (customers, orders; DuckDB's `data`).
"""

# Hostile SQL is built here on purpose (S608), names targets under /tmp that must stay absent
# (S108), and keeps each statement on one line so it reads as an attacker would send it (E501).
# ruff: noqa: S608, S108, E501

from __future__ import annotations

# Legitimate analytic queries: joins, CTEs, windows, aggregates, JSON, date math, CASE, casts.
LEGIT: dict[str, list[str]] = {
    "postgresql": [
        "SELECT c.name, sum(o.amount) AS total FROM customers c JOIN orders o ON o.customer_id = c.id"
        " GROUP BY c.name ORDER BY total DESC",
        "WITH t AS (SELECT customer_id, amount FROM orders) SELECT customer_id, avg(amount) FROM t GROUP BY 1",
        "SELECT id, amount, row_number() OVER (PARTITION BY customer_id ORDER BY amount DESC) AS rn FROM orders",
        "SELECT id, lag(amount) OVER (ORDER BY id), sum(amount) OVER (ORDER BY id ROWS 1 PRECEDING) FROM orders",
        "SELECT count(*), count(DISTINCT customer_id), min(amount), max(amount), stddev(amount) FROM orders",
        "SELECT string_agg(email, ',' ORDER BY email), array_agg(id) FROM customers",
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) FROM orders",
        "SELECT count(*) FILTER (WHERE amount > 5) FROM orders",
        "SELECT jsonb_build_object('id', id, 'email', email) ->> 'email' FROM customers",
        "SELECT '{\"a\": {\"b\": 2}}'::jsonb -> 'a' -> 'b', '[1,2]'::json ->> 1",
        "SELECT * FROM jsonb_each('{\"a\": 1}'::jsonb)",
        "SELECT json_agg(row_to_json(c)) FROM customers c",
        "SELECT date_trunc('month', now()) - interval '1 day', now()::date + 7",
        "SELECT extract(year FROM current_date), age(timestamp '2024-01-01'), to_char(now(), 'YYYY-MM')",
        "SELECT CASE WHEN amount > 50 THEN 'big' WHEN amount > 5 THEN 'mid' ELSE 'small' END FROM orders",
        "SELECT amount::int, CAST(amount AS text), id::bigint, 'orders'::regclass, '1'::numeric(10, 2) FROM orders",
        "SELECT coalesce(name, 'none'), nullif(name, ''), greatest(1, 2), least(3, 4) FROM customers",
        "SELECT upper(email), lower(name), length(email), substring(email FROM 1 FOR 3), split_part(email, '@', 2)"
        " FROM customers",
        "SELECT regexp_replace(email, '@.*', ''), email LIKE '%example%', email ILIKE 'A%' FROM customers",
        "SELECT name || ' <' || email || '>', concat_ws(' ', name, email), format('%s', id) FROM customers",
        "SELECT round(avg(amount), 2), abs(-1), ceil(1.2), floor(1.8), power(2, 3), sqrt(16), mod(7, 3)"
        " FROM orders",
        "SELECT g, g % 2 = 0 FROM generate_series(1, 10) AS g(g)",
        "SELECT * FROM unnest(ARRAY[1, 2, 3]) AS u(x)",
        "SELECT id FROM customers WHERE id IN (SELECT customer_id FROM orders WHERE amount > 5)",
        "SELECT id FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)",
        "SELECT id FROM customers WHERE id BETWEEN 1 AND 2 AND name IS NOT NULL",
        "SELECT id FROM customers WHERE id = ANY(ARRAY(SELECT customer_id FROM orders))",
        "SELECT count(*) FROM orders TABLESAMPLE SYSTEM (100)",
        "SELECT DISTINCT ON (customer_id) customer_id, amount FROM orders ORDER BY customer_id, amount DESC",
        "SELECT customer_id FROM orders GROUP BY ROLLUP (customer_id)",
        "SELECT id FROM customers UNION SELECT customer_id FROM orders EXCEPT SELECT 3",
        "SELECT * FROM orders ORDER BY amount DESC NULLS LAST LIMIT 2 OFFSET 1",
        "SELECT * FROM orders FETCH FIRST 2 ROWS ONLY",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT sum(n) FROM r",
        "SELECT c.id, x.total FROM customers c"
        " CROSS JOIN LATERAL (SELECT sum(amount) AS total FROM orders o WHERE o.customer_id = c.id) x",
        "SELECT c.id FROM customers c LEFT JOIN orders o ON o.customer_id = c.id WHERE o.id IS NULL",
        "SELECT id FROM customers FULL OUTER JOIN orders USING (id)",
        "SELECT pg_catalog.upper(email) FROM public.customers",
        "SELECT * FROM pg_catalog.generate_series(1, 3) AS g",
        'SELECT "name", "Customers".id FROM customers AS "Customers"',
        "SELECT array_length(ARRAY[1, 2], 1), (ARRAY[1, 2])[1], ARRAY[1] || 2",
        "SELECT md5(email), encode(sha256(email::bytea), 'hex') FROM customers",
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'orders'",
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
        "SELECT relname FROM pg_catalog.pg_class WHERE relkind = 'r' LIMIT 1",
        "SELECT date_part('dow', now()), make_date(2024, 1, 31), now() AT TIME ZONE 'UTC'",
        "SELECT rank() OVER w, dense_rank() OVER w FROM orders WINDOW w AS (ORDER BY amount)",
        "SELECT ntile(2) OVER (ORDER BY id), first_value(amount) OVER (ORDER BY id) FROM orders",
        "SELECT TRUE AND NOT FALSE, 1 <> 2, 2 >= 1, NULL IS NULL",
        "SELECT pg_typeof(amount) FROM orders LIMIT 1",
        "SELECT (email).length FROM customers c",
        "SELECT id FROM customers WHERE EXISTS (TABLE orders) AND email ^@ 'a'",
        "SELECT 1 FROM customers GROUP BY GROUPING SETS ((id), ())",
        "SELECT to_jsonb(c) - 'email' FROM customers c",
        "SELECT '2024-01-01'::date, '10:00'::time, '1 day'::interval, 'x'::varchar(5), 1::float8",
    ],
    "mysql": [
        "SELECT c.name, SUM(o.amount) AS total FROM customers c JOIN orders o ON o.customer_id = c.id"
        " GROUP BY c.name ORDER BY total DESC",
        "WITH t AS (SELECT customer_id, amount FROM orders) SELECT customer_id, AVG(amount) FROM t GROUP BY 1",
        "SELECT id, ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY amount DESC) AS rn FROM orders",
        "SELECT id, LAG(amount) OVER (ORDER BY id), SUM(amount) OVER (ORDER BY id) FROM orders",
        "SELECT COUNT(*), COUNT(DISTINCT customer_id), MIN(amount), MAX(amount), STDDEV(amount) FROM orders",
        "SELECT GROUP_CONCAT(email ORDER BY email SEPARATOR ',') FROM customers",
        "SELECT JSON_EXTRACT('{\"a\": 1}', '$.a'), JSON_OBJECT('id', 1), JSON_ARRAY(1, 2)",
        "SELECT JSON_UNQUOTE(JSON_EXTRACT(JSON_OBJECT('e', email), '$.e')) FROM customers",
        "SELECT DATE_ADD(NOW(), INTERVAL 1 DAY), DATEDIFF('2024-02-01', '2024-01-01'), CURDATE()",
        "SELECT DATE_FORMAT(NOW(), '%Y-%m'), YEAR(NOW()), MONTH(CURRENT_DATE), EXTRACT(DAY FROM NOW())",
        "SELECT CASE WHEN amount > 50 THEN 'big' ELSE 'small' END FROM orders",
        "SELECT CAST(amount AS SIGNED), CAST(id AS CHAR), CONVERT(amount, DECIMAL(10, 1)) FROM orders",
        "SELECT COALESCE(name, 'none'), IFNULL(name, '-'), NULLIF(name, ''), IF(id > 1, 'a', 'b') FROM customers",
        "SELECT UPPER(email), LOWER(name), LENGTH(email), SUBSTRING(email, 1, 3),"
        " SUBSTRING_INDEX(email, '@', -1) FROM customers",
        "SELECT CONCAT(name, ' <', email, '>'), CONCAT_WS(' ', name, email), REPLACE(email, '@', ' at ')"
        " FROM customers",
        "SELECT ROUND(AVG(amount), 2), ABS(-1), CEIL(1.2), FLOOR(1.8), POWER(2, 3), SQRT(16), MOD(7, 3)"
        " FROM orders",
        "SELECT id FROM customers WHERE id IN (SELECT customer_id FROM orders WHERE amount > 5)",
        "SELECT id FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)",
        "SELECT id FROM customers WHERE id BETWEEN 1 AND 2 AND name IS NOT NULL AND email LIKE '%e%'",
        "SELECT id FROM customers UNION SELECT customer_id FROM orders",
        "SELECT * FROM orders ORDER BY amount DESC LIMIT 2 OFFSET 1",
        "WITH RECURSIVE r (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT SUM(n) FROM r",
        "SELECT c.id FROM customers c LEFT JOIN orders o ON o.customer_id = c.id WHERE o.id IS NULL",
        "SELECT `name`, `c`.`id` FROM `customers` AS `c`",
        "SELECT MD5(email), SHA2(email, 256) FROM customers",
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()",
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_NAME = 'orders'",
        "SELECT customer_id, COUNT(*) FROM orders GROUP BY customer_id HAVING COUNT(*) > 1",
        "SELECT RANK() OVER w, DENSE_RANK() OVER w FROM orders WINDOW w AS (ORDER BY amount)",
        "SELECT TIMESTAMPDIFF(DAY, '2024-01-01', NOW()), UNIX_TIMESTAMP('2024-01-01')",
        "SELECT GREATEST(1, 2), LEAST(3, 4), 7 DIV 2, 7 % 2",
        "SELECT REGEXP_REPLACE(email, '@.*', ''), LPAD(id, 3, '0') FROM customers",
    ],
    "sqlite": [
        "SELECT c.name, sum(o.amount) AS total FROM customers c JOIN orders o ON o.customer_id = c.id"
        " GROUP BY c.name ORDER BY total DESC",
        "WITH t AS (SELECT customer_id, amount FROM orders) SELECT customer_id, avg(amount) FROM t GROUP BY 1",
        "SELECT id, row_number() OVER (PARTITION BY customer_id ORDER BY amount DESC) AS rn FROM orders",
        "SELECT id, lag(amount) OVER (ORDER BY id), sum(amount) OVER (ORDER BY id) FROM orders",
        "SELECT count(*), count(DISTINCT customer_id), min(amount), max(amount), total(amount) FROM orders",
        "SELECT group_concat(email, ',') FROM customers",
        "SELECT json_extract('{\"a\": 1}', '$.a'), json_object('id', 1), json_array(1, 2)",
        "SELECT json_group_array(id), json_group_object(email, id) FROM customers",
        "SELECT date('now', '+1 day'), strftime('%Y-%m', 'now'), julianday('2024-02-01') - julianday('2024-01-01')",
        "SELECT CASE WHEN amount > 50 THEN 'big' ELSE 'small' END FROM orders",
        "SELECT CAST(amount AS INTEGER), CAST(id AS TEXT) FROM orders",
        "SELECT coalesce(name, 'none'), ifnull(name, '-'), nullif(name, ''), iif(id > 1, 'a', 'b') FROM customers",
        "SELECT upper(email), lower(name), length(email), substr(email, 1, 3), instr(email, '@') FROM customers",
        "SELECT name || ' <' || email || '>', replace(email, '@', ' at ') FROM customers",
        "SELECT round(avg(amount), 2), abs(-1), max(1, 2), min(3, 4) FROM orders",
        "SELECT id FROM customers WHERE id IN (SELECT customer_id FROM orders WHERE amount > 5)",
        "SELECT id FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)",
        "SELECT id FROM customers WHERE id BETWEEN 1 AND 2 AND name IS NOT NULL AND email LIKE '%e%'",
        "SELECT id FROM customers UNION SELECT customer_id FROM orders",
        "SELECT * FROM orders ORDER BY amount DESC LIMIT 2 OFFSET 1",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT sum(n) FROM r",
        "SELECT c.id FROM customers c LEFT JOIN orders o ON o.customer_id = c.id WHERE o.id IS NULL",
        'SELECT "name", [id], `email` FROM customers',
        "SELECT name FROM sqlite_master WHERE type = 'table'",
        "SELECT customer_id, count(*) FROM orders GROUP BY customer_id HAVING count(*) > 1",
        "SELECT rank() OVER w, dense_rank() OVER w FROM orders WINDOW w AS (ORDER BY amount)",
        "SELECT typeof(amount), hex('a'), printf('%05d', id) FROM orders",
        "SELECT email GLOB '*@example.com' FROM customers",
        "SELECT main.customers.id FROM main.customers",
    ],
    "duckdb": [
        "SELECT name, count(*) FROM data GROUP BY name ORDER BY 2 DESC",
        "WITH t AS (SELECT id, email FROM data) SELECT count(*) FROM t",
        "SELECT id, row_number() OVER (ORDER BY id DESC) AS rn FROM data",
        "SELECT id, lag(id) OVER (ORDER BY id), sum(id) OVER (ORDER BY id) FROM data",
        "SELECT count(*), count(DISTINCT name), min(id), max(id), median(id), avg(id) FROM data",
        "SELECT string_agg(email, ','), list(id) FROM data",
        "SELECT a.id FROM data a JOIN data b ON a.id = b.id",
        "SELECT json_extract('{\"a\": 1}', '$.a'), to_json({'a': 1})",
        "SELECT current_date + INTERVAL 1 DAY, date_trunc('month', DATE '2024-03-15'),"
        " date_diff('day', DATE '2024-01-01', current_date)",
        "SELECT CASE WHEN id > 1 THEN 'a' ELSE 'b' END FROM data",
        "SELECT CAST(id AS VARCHAR), id::DOUBLE, TRY_CAST(email AS INTEGER) FROM data",
        "SELECT coalesce(name, 'none'), nullif(name, ''), greatest(1, 2), least(3, 4) FROM data",
        "SELECT upper(email), lower(name), length(email), substring(email, 1, 3), split_part(email, '@', 2)"
        " FROM data",
        "SELECT regexp_replace(email, '@.*', ''), email LIKE '%e%', contains(email, 'ada') FROM data",
        "SELECT name || '!' , concat_ws(' ', name, email) FROM data",
        "SELECT round(avg(id), 2), abs(-1), ceil(1.2), floor(1.8), pow(2, 3), sqrt(16) FROM data",
        "SELECT * FROM range(5)",
        "SELECT unnest([1, 2, 3])",
        "SELECT id FROM data WHERE id IN (SELECT id FROM data WHERE id > 1)",
        "SELECT id FROM data WHERE id BETWEEN 1 AND 2 AND name IS NOT NULL",
        "SELECT id FROM data UNION SELECT 9",
        "SELECT * FROM data ORDER BY id DESC LIMIT 2 OFFSET 1",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT sum(n) FROM r",
        "SELECT list_sort([3, 1, 2]), [1, 2][1], {'a': 1}.a",
        "SELECT strftime(now(), '%Y'), year(now()), epoch_ms(0)",
        "SELECT table_name FROM information_schema.tables",
        "SELECT id FROM data QUALIFY row_number() OVER (ORDER BY id) = 1",
        "SELECT md5(email), hash(id) FROM data",
    ],
}

# Files a hostile statement names as a target; none may exist after the run.
OUT_FILES = ["/tmp/datalab_guard_out.csv", "/tmp/datalab_guard_out.bin", "/tmp/datalab_guard_copy.db"]


def _unicode_escaped(name: str, escape: str = "\\") -> str:
    """Spell `name` as a PostgreSQL U& identifier, escaping underscores and the first letter."""
    body = "".join(f"{escape}{ord(c):04x}" if c == "_" or i == 0 else c for i, c in enumerate(name))
    suffix = f" UESCAPE '{escape}'" if escape != "\\" else ""
    return f'U&"{body}"{suffix}'


def _spellings(name: str, args: str, dialect: str) -> list[str]:
    """Every way a dialect lets one write a call to `name`: case, quotes, schema, U& escapes."""
    calls = [f"{name}({args})", f"{name.upper()}({args})"]
    if dialect == "postgresql":
        calls += [
            f'"{name}"({args})',
            f"pg_catalog.{name}({args})",
            f'"pg_catalog"."{name}"({args})',
            f"{_unicode_escaped(name)}({args})",
            f"{_unicode_escaped(name, '!')}({args})",
            f"pg_catalog.{_unicode_escaped(name, '#')}({args})",
        ]
    elif dialect == "mysql":
        calls += [f"`{name}`({args})", f"{name} ({args})"]
    elif dialect == "sqlite":
        calls += [f'"{name}"({args})', f"[{name}]({args})"]
    else:
        calls += [f'"{name}"({args})']
    return [f"SELECT {call}" for call in calls]


_PG_FUNCTIONS = [
    ("pg_read_file", "'/etc/passwd'"),
    ("pg_read_binary_file", "'/etc/passwd'"),
    ("pg_ls_dir", "'.'"),
    ("pg_stat_file", "'PG_VERSION'"),
    ("lo_import", "'/etc/passwd'"),
    ("lo_export", "1, '/tmp/datalab_guard_out.bin'"),
    ("lo_from_bytea", "0, 'x'"),
    ("lo_create", "0"),
    ("lo_unlink", "1"),
    ("set_config", "'default_transaction_read_only', 'off', false"),
    ("current_setting", "'data_directory'"),
    ("pg_terminate_backend", "pg_backend_pid()"),
    ("pg_cancel_backend", "1"),
    ("pg_reload_conf", ""),
    ("pg_rotate_logfile", ""),
    ("pg_create_physical_replication_slot", "'datalab_guard_slot'"),
    ("pg_create_logical_replication_slot", "'datalab_guard_slot2', 'test_decoding'"),
    ("pg_drop_replication_slot", "'datalab_guard_slot'"),
    ("pg_replication_origin_create", "'datalab_guard_origin'"),
    ("pg_stat_reset", ""),
    ("pg_stat_reset_shared", "'bgwriter'"),
    ("pg_logical_emit_message", "true, 'datalab', 'x'"),
    ("txid_current", ""),
    ("pg_current_xact_id", ""),
    ("pg_export_snapshot", ""),
    ("nextval", "'counter'"),
    ("setval", "'counter', 99"),
    ("pg_advisory_lock", "1"),
    ("pg_try_advisory_xact_lock", "1"),
    ("pg_notify", "'channel', 'x'"),
    ("query_to_xml", "'delete from orders', true, true, ''"),
    ("dblink_exec", "'dbname=postgres', 'select 1'"),
    ("pg_backend_pid", ""),
    ("inet_server_addr", ""),
    ("version", ""),
    ("pg_switch_wal", ""),
    ("pg_create_restore_point", "'x'"),
    ("pg_stat_get_activity", "NULL"),
    ("setseed", "0.5"),
    ("my_own_function", "1"),
]
_PG_RELATIONS = [
    "pg_authid",
    "pg_shadow",
    "pg_stat_activity",
    "pg_hba_file_rules",
    "pg_file_settings",
    "pg_user_mappings",
    "pg_settings",
    "pg_roles",
    "pg_user",
    "pg_stat_replication",
    "pg_replication_slots",
    "pg_largeobject",
    "pg_db_role_setting",
    "pg_statistic",
    "pg_stat_ssl",
    "pg_ident_file_mappings",
]
_PG_STATEMENTS = [
    "WITH m AS (MERGE INTO customers c USING orders o ON c.id = o.id WHEN MATCHED THEN DELETE RETURNING *)"
    " SELECT * FROM m",
    "WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d",
    "SELECT * INTO stolen FROM customers",
    "SELECT * FROM customers FOR UPDATE",
    "SELECT 1; COMMIT; DELETE FROM orders",
    "COPY customers TO '/tmp/datalab_guard_out.csv'",
    "COPY (SELECT 1) TO PROGRAM 'id'",
    "DO $$ BEGIN DELETE FROM orders; END $$",
    "SET default_transaction_read_only = off",
    "SELECT 'x'::lo",
    "SELECT * FROM information_schema.user_mappings",
    "SELECT * FROM information_schema.role_table_grants",
    "SELECT U&\"pg_read_file\"('/etc/passwd')",
    "SELECT * FROM (SELECT * FROM pg_catalog.pg_read_file('/etc/passwd')) AS f",
    "SELECT (SELECT pg_read_file('/etc/passwd')) AS f",
    "SELECT * FROM customers WHERE pg_read_file('/etc/passwd') IS NOT NULL",
    "SELECT * FROM customers ORDER BY lo_import('/etc/passwd')",
    "SELECT * FROM customers c JOIN LATERAL pg_ls_dir('.') d ON true",
    "SELECT count(*) FILTER (WHERE pg_terminate_backend(1)) FROM customers",
    "SELECT * FROM public.my_table_function()",
    "SELECT * FROM public.generate_series(1, 3)",
    "SELECT * FROM public.unnest(ARRAY[1])",
    "SELECT public.upper('x')",
    "SELECT ('/etc/passwd'::text).pg_read_file",
    "SELECT (email).pg_read_file FROM customers",
    "SELECT ('.'::text).\"pg_ls_dir\"",
    "SELECT ('/etc/passwd'::text).U&\"pg\\005fread\\005ffile\"",
    "SELECT ('counter'::regclass).nextval",
    "SELECT (1::bigint).pg_advisory_lock",
    "SELECT (pg_backend_pid()).pg_terminate_backend",
    "TABLE pg_authid",
    "SELECT 1 WHERE EXISTS (TABLE pg_shadow)",
    "SELECT 1 OPERATOR(public.+) 2",
    "SELECT 1 /* /* */ */ , pg_read_file('/etc/passwd')",
    "SELECT $$ ' $$, pg_read_file('/etc/passwd') -- '",
    "SELECT E'\\'', pg_read_file('/etc/passwd') -- '",
    "SELECT pg_read_file/**/('/etc/passwd')",
    "SELECT " + "(" * 5000 + "1" + ")" * 5000,
    "SELECT * FROM " + "(SELECT * FROM " * 3000 + "customers" + ") AS s" * 3000,
    "SELECT " + "CASE WHEN true THEN " * 3000 + "1" + " END" * 3000,
]


def _pg_hostile() -> list[str]:
    statements = [s for name, args in _PG_FUNCTIONS for s in _spellings(name, args, "postgresql")]
    for relation in _PG_RELATIONS:
        statements += [
            f"SELECT * FROM {relation}",
            f'SELECT * FROM pg_catalog."{relation}"',
            f"SELECT * FROM {_unicode_escaped(relation)}",
            f"SELECT * FROM customers WHERE EXISTS (SELECT 1 FROM {relation.upper()})",
        ]
    return statements + _PG_STATEMENTS


_MYSQL_FUNCTIONS = [
    ("load_file", "'/etc/passwd'"),
    ("benchmark", "100000000, MD5('x')"),
    ("get_lock", "'datalab', 1"),
    ("release_lock", "'datalab'"),
    ("is_used_lock", "'datalab'"),
    ("master_pos_wait", "'x', 1"),
    ("master_gtid_wait", "'0-1-1', 1"),
    ("sys_exec", "'id'"),
    ("sys_eval", "'id'"),
    ("last_insert_id", "5"),
    ("version", ""),
    ("user", ""),
    ("connection_id", ""),
    ("nextval", "counter"),
    ("setval", "counter, 99"),
    ("password", "'x'"),
    ("my_own_function", "1"),
]
_MYSQL_RELATIONS = [
    "mysql.user",
    "mysql.db",
    "mysql.global_priv",
    "mysql.tables_priv",
    "mysql.columns_priv",
    "mysql.procs_priv",
    "mysql.proxies_priv",
    "mysql.roles_mapping",
    "mysql.servers",
    "mysql.plugin",
    "mysql.func",
    "information_schema.processlist",
    "information_schema.user_privileges",
    "information_schema.schema_privileges",
    "information_schema.plugins",
    "information_schema.global_variables",
    "information_schema.session_variables",
    "performance_schema.threads",
    "performance_schema.session_variables",
    "sys.processlist",
]
_MYSQL_STATEMENTS = [
    "SELECT @@datadir",
    "SELECT @@GLOBAL.secure_file_priv",
    "SELECT @@hostname",
    "SELECT @a := 1",
    "SELECT 1 INTO @v",
    "SELECT * FROM customers INTO OUTFILE '/tmp/datalab_guard_out.csv'",
    "SELECT 'x' INTO DUMPFILE '/tmp/datalab_guard_out.bin'",
    "SELECT 1 /*! , LOAD_FILE('/etc/passwd') */",
    "SELECT 1 /*M! , SLEEP(1) */",
    "SELECT * FROM customers FOR UPDATE",
    "SELECT * FROM customers LOCK IN SHARE MODE",
    "SELECT 1; DELETE FROM orders",
    "REPLACE INTO customers (id, email) VALUES (1, 'x')",
    "SET GLOBAL max_connections = 1",
    "SET PASSWORD = PASSWORD('x')",
    "CREATE USER datalab_guard_user",
    "GRANT ALL ON *.* TO CURRENT_USER",
    "HANDLER customers OPEN",
    "DO SLEEP(1)",
    "CALL mysql.some_procedure()",
    "SELECT mydb.my_function(1)",
    "SELECT 1 /* /* */ , LOAD_FILE('/etc/passwd') -- */",
    "SELECT '\\'', LOAD_FILE('/etc/passwd') -- '",
    "SELECT 1 # comment\n, LOAD_FILE('/etc/passwd')",
    "SELECT {fn LOAD_FILE('/etc/passwd')}",
    "SELECT * FROM customers WHERE LOAD_FILE('/etc/passwd') IS NOT NULL",
    "SELECT (SELECT `LOAD_FILE`('/etc/passwd')) AS f",
    "SELECT " + "(" * 5000 + "1" + ")" * 5000,
    "SELECT * FROM " + "(SELECT * FROM " * 3000 + "customers" + ") AS s" * 3000,
]


def _mysql_hostile() -> list[str]:
    statements = [s for name, args in _MYSQL_FUNCTIONS for s in _spellings(name, args, "mysql")]
    for relation in _MYSQL_RELATIONS:
        schema, table = relation.split(".")
        statements += [f"SELECT * FROM {relation}", f"SELECT * FROM `{schema.upper()}`.`{table.upper()}`"]
    return statements + _MYSQL_STATEMENTS


_SQLITE_FUNCTIONS = [
    ("load_extension", "'/tmp/evil.so'"),
    ("readfile", "'/etc/passwd'"),
    ("writefile", "'/tmp/datalab_guard_out.bin', 'x'"),
    ("edit", "'x'"),
    ("fts3_tokenizer", "'simple'"),
    ("sqlite_compileoption_get", "0"),
    ("sqlite_source_id", ""),
    ("changes", ""),
    ("last_insert_rowid", ""),
    ("total_changes", ""),
    ("my_own_function", "1"),
]
_SQLITE_RELATIONS = [
    "pragma_database_list",
    "pragma_compile_options",
    "pragma_function_list",
    "pragma_module_list",
    "pragma_pragma_list",
    "sqlite_dbpage",
    "sqlite_stmt",
    "dbstat",
]
_SQLITE_STATEMENTS = [
    "ATTACH DATABASE '/etc/passwd' AS p",
    "ATTACH DATABASE '/tmp/datalab_guard_copy.db' AS p",
    "DETACH DATABASE main",
    "PRAGMA query_only = 0",
    "PRAGMA writable_schema = 1",
    "PRAGMA journal_mode = DELETE",
    "PRAGMA temp_store_directory = '/tmp'",
    "PRAGMA cache_size = 1",
    "VACUUM",
    "VACUUM INTO '/tmp/datalab_guard_copy.db'",
    "REINDEX",
    "ANALYZE",
    "CREATE TEMP TABLE t (x)",
    "CREATE TRIGGER t AFTER INSERT ON customers BEGIN DELETE FROM orders; END",
    "CREATE VIEW v AS SELECT 1",
    "INSERT INTO customers (email) VALUES ('x@example.com')",
    "UPDATE customers SET name = 'x'",
    "DELETE FROM orders",
    "REPLACE INTO customers (id, email) VALUES (1, 'x')",
    "WITH d AS (SELECT 1) DELETE FROM orders",
    "BEGIN",
    "COMMIT",
    "SAVEPOINT s",
    "SELECT 1; DELETE FROM orders",
    "SELECT * FROM main.pragma_database_list",
    "SELECT * FROM customers WHERE load_extension('/tmp/evil.so') IS NULL",
    "SELECT (SELECT readfile('/etc/passwd'))",
    "SELECT " + "(" * 5000 + "1" + ")" * 5000,
    "SELECT * FROM " + "(SELECT * FROM " * 3000 + "customers" + ")" * 3000,
    "SELECT " + "CASE WHEN 1 THEN " * 3000 + "1" + " END" * 3000,
]


_SQLITE_PRAGMAS = [
    "query_only",
    "writable_schema",
    "journal_mode",
    "trusted_schema",
    "foreign_keys",
    "recursive_triggers",
    "mmap_size",
    "locking_mode",
    "secure_delete",
    "database_list",
    "compile_options",
    "user_version",
]


def _sqlite_hostile() -> list[str]:
    statements = [s for name, args in _SQLITE_FUNCTIONS for s in _spellings(name, args, "sqlite")]
    statements += [f"PRAGMA {p} = 0" for p in _SQLITE_PRAGMAS] + [f"PRAGMA main.{p}" for p in _SQLITE_PRAGMAS]
    for relation in _SQLITE_RELATIONS:
        statements += [f"SELECT * FROM {relation}", f'SELECT * FROM "{relation.upper()}"']
    return statements + _SQLITE_STATEMENTS


_DUCKDB_FUNCTIONS = [
    ("read_csv", "'/etc/passwd'"),
    ("read_csv_auto", "'/etc/passwd'"),
    ("read_parquet", "'/tmp/x.parquet'"),
    ("read_json", "'/tmp/x.json'"),
    ("read_json_auto", "'/tmp/x.json'"),
    ("read_text", "'/etc/passwd'"),
    ("read_blob", "'/etc/passwd'"),
    ("glob", "'/etc/*'"),
    ("query", "'SELECT 1'"),
    ("query_table", "'data'"),
    ("getenv", "'HOME'"),
    ("current_setting", "'threads'"),
    ("duckdb_settings", ""),
    ("duckdb_extensions", ""),
    ("duckdb_secrets", ""),
    ("duckdb_databases", ""),
    ("duckdb_functions", ""),
    ("which_secret", "'s3://bucket/x', 's3'"),
    ("sqlite_scan", "'/tmp/x.db', 't'"),
    ("parquet_metadata", "'/tmp/x.parquet'"),
    ("sniff_csv", "'/etc/passwd'"),
    ("getvariable", "'x'"),
    ("version", ""),
    ("pragma_database_size", ""),
    ("my_own_function", "1"),
]
_DUCKDB_RELATIONS = [
    "'/etc/passwd'",
    "'customers.csv'",
    '"customers.csv"',
    "'numbers.csv'",
    "'https://example.com/x.csv'",
    "duckdb_settings",
    "duckdb_tables",
    "sqlite_master",
    "pg_catalog.pg_settings",
    "information_schema.character_sets",
    "other_table",
    "main.other_table",
    "memory.main.data",
]
_DUCKDB_STATEMENTS = [
    "SELECT '/etc/passwd'.read_text()",
    "SELECT 'HOME'.getenv()",
    "WITH duckdb_settings AS (SELECT * FROM duckdb_settings) SELECT * FROM duckdb_settings",
    "COPY data TO '/tmp/datalab_guard_out.csv'",
    "EXPORT DATABASE '/tmp/datalab_guard_dump'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "ATTACH '/tmp/datalab_guard_copy.db' AS x",
    "SET enable_external_access = true",
    "RESET lock_configuration",
    "PRAGMA enable_profiling",
    "CREATE MACRO m(x) AS x",
    "CREATE SECRET s (TYPE s3)",
    "CALL duckdb_settings()",
    "SET VARIABLE x = 1",
    "DESCRIBE data",
    "SUMMARIZE data",
    "DELETE FROM data",
    "SELECT 1; DELETE FROM data",
    "SELECT " + "(" * 5000 + "1" + ")" * 5000,
    "SELECT * FROM " + "(SELECT * FROM " * 3000 + "data" + ")" * 3000,
    "SELECT " + "[" * 5000 + "1" + "]" * 5000,
]


def _duckdb_hostile() -> list[str]:
    statements = [s for name, args in _DUCKDB_FUNCTIONS for s in _spellings(name, args, "duckdb")]
    statements += [f"SELECT * FROM {name}({args})" for name, args in _DUCKDB_FUNCTIONS[:8]]
    statements += [f"SELECT * FROM {relation}" for relation in _DUCKDB_RELATIONS]
    return statements + _DUCKDB_STATEMENTS


HOSTILE: dict[str, list[str]] = {
    "postgresql": _pg_hostile(),
    "mysql": _mysql_hostile(),
    "sqlite": _sqlite_hostile(),
    "duckdb": _duckdb_hostile(),
}
