"""The warehouse interface: SQL rendering, DDL safety, COPY result parsing (backend choice: test_backends_chooser)."""

from __future__ import annotations

import re

import pytest

from cardflow.errors import ConfigurationError, UnsafeSqlText
from cardflow.settings import load_settings
from cardflow.sqlfiles import read_sql, split_statements
from cardflow.warehouse import snowflake as snowflake_module
from cardflow.warehouse.base import (
    ddl_statements,
    plain_identifier,
    quote_literal,
    render_sql,
    sql_values,
    statement_kind,
)
from cardflow.warehouse.snowflake import parse_copy_results


def _snowflake_statements() -> list[str]:
    settings = load_settings(
        s3_bucket="lake-bucket", snowflake_storage_aws_role_arn="arn:aws:iam::123456789012:role/x"
    )
    values = sql_values(
        settings, stage_url="s3://lake-bucket/bronze/", aws_role_arn="arn:aws:iam::123456789012:role/x"
    )
    return ddl_statements("snowflake_ddl.sql", values)


def test_snowflake_ddl_is_idempotent_and_never_drops() -> None:
    """Every statement creates only if missing; nothing drops, replaces or truncates."""
    statements = _snowflake_statements()
    assert [statement_kind(s) for s in statements] == [
        "CREATE WAREHOUSE",
        "CREATE DATABASE",
        "CREATE SCHEMA",
        "CREATE SCHEMA",
        "CREATE SCHEMA",
        "CREATE STORAGE INTEGRATION",
        "CREATE FILE FORMAT",
        "CREATE STAGE",
        "CREATE TABLE",
    ]
    for statement in statements:
        assert "IF NOT EXISTS" in statement, statement
        assert not re.search(r"\b(DROP|REPLACE|TRUNCATE|DELETE)\b", statement, re.I), statement
        assert "{" not in statement, f"unrendered placeholder in {statement}"


def test_snowflake_ddl_uses_settings_names_and_no_keys() -> None:
    text = "\n".join(_snowflake_statements())
    assert "CREATE STAGE IF NOT EXISTS SPORTS_CARD_ANALYTICS.RAW.BRONZE_STAGE" in text
    assert "URL = 's3://lake-bucket/bronze/'" in text
    assert "STORAGE_INTEGRATION = CARDFLOW_S3_INTEGRATION" in text
    assert "CREATE WAREHOUSE IF NOT EXISTS ANALYTICS_WH" in text  # the original system's names
    assert "AUTO_SUSPEND = 60" in text
    assert "PAYLOAD         VARIANT" in text and "CLUSTER BY (EVENT_TYPE, TO_DATE(INSERTED_AT))" in text
    assert not re.search(r"AWS_KEY_ID|AWS_SECRET_KEY|CREDENTIALS\s*=", text, re.I)


def test_duckdb_ddl_is_idempotent() -> None:
    for statement in split_statements(read_sql("duckdb_ddl.sql")):
        assert "IF NOT EXISTS" in statement
        assert not re.search(r"\b(DROP|REPLACE|TRUNCATE)\b", statement, re.I)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("snowflake_database", "CARDFLOW; DROP TABLE X"),
        ("snowflake_raw_schema", "raw-schema"),
        ("snowflake_stage", "a b"),
        ("snowflake_stage_url_override", "s3://bucket/x' OR '1"),
        ("snowflake_storage_aws_role_arn", "arn:aws:iam::1:role/x"),
    ],
)
def test_names_in_sql_are_validated(field: str, value: str) -> None:
    with pytest.raises(ConfigurationError):
        load_settings(**{field: value})


def test_render_sql_rejects_unknown_placeholders_and_keeps_literal_braces() -> None:
    assert render_sql("SELECT {{'a': 1}} FROM {raw}.t", {"raw": "RAW"}) == "SELECT {'a': 1} FROM RAW.t"
    with pytest.raises(ConfigurationError, match="nope"):
        render_sql("SELECT {nope}", {})
    assert quote_literal("it's", "duckdb") == "'it''s'"


def test_copy_into_names_files_and_states_on_error() -> None:
    settings = load_settings(s3_bucket="b")
    template = split_statements(read_sql("snowflake_copy_into.sql", snowflake_module.__file__))[0]
    sql = render_sql(template, sql_values(settings, files="'a.json.gz'", force=""))
    assert "FILES = ('a.json.gz')" in sql
    assert "ON_ERROR = ABORT_STATEMENT" in sql
    assert "METADATA$FILENAME" in sql and "METADATA$FILE_ROW_NUMBER" in sql
    assert "FORCE" not in sql and "--" not in sql


def test_parse_copy_results() -> None:
    rows = [
        ("s3://b/bronze/x.json.gz", "LOADED", 10, 10, 1, 0, None, None, None, None),
        ("s3://b/bronze/y.json.gz", "LOAD_FAILED", 5, 0, 1, 1, "bad json", 3, 7, "EVENTS"),
    ]
    parsed = parse_copy_results(rows)
    assert parsed[0]["status"] == "LOADED" and parsed[0]["rows_loaded"] == 10
    assert parsed[1]["first_error"] == "bad json" and parsed[1]["first_error_line"] == 3
    assert parse_copy_results([("Copy executed with 0 files processed.",)]) == []


@pytest.mark.parametrize(
    ("value", "dialect", "expected"),
    [
        ("it's", "snowflake", "'it''s'"),
        ("a\\b", "snowflake", "'a\\\\b'"),  # Snowflake reads \\ as one backslash
        ("a\\b", "duckdb", "'a\\b'"),  # DuckDB has no backslash escapes
        ("x\\', 'y", "snowflake", "'x\\\\'', ''y'"),  # cannot close the literal early
        ("x\\', 'y", "duckdb", "'x\\'', ''y'"),
        ("dt=2026-01-01/part-\u00e9.json.gz", "snowflake", "'dt=2026-01-01/part-\u00e9.json.gz'"),
    ],
)
def test_quote_literal_escapes_per_dialect(value: str, dialect: str, expected: str) -> None:
    assert quote_literal(value, dialect) == expected


def test_duckdb_reads_its_literal_back_exactly() -> None:
    import duckdb

    for value in ["it's", "a\\b\\", "x\\', 'y", "\\'; DROP TABLE t; --"]:
        with duckdb.connect() as conn:
            assert conn.execute("SELECT " + quote_literal(value, "duckdb")).fetchone() == (value,)


@pytest.mark.parametrize("value", ["a\x00b", "line\nbreak", "tab\there", "del\x7f"])
def test_quote_literal_refuses_control_characters(value: str) -> None:
    for dialect in ("duckdb", "snowflake"):
        with pytest.raises(UnsafeSqlText, match="control character"):
            quote_literal(value, dialect)


def test_plain_identifier_passes_names_and_refuses_the_rest() -> None:
    assert plain_identifier("fct_orders") == "fct_orders"
    for bad in ["", "a.b", 'x"y', "drop table; --", "1abc", "a b"]:
        with pytest.raises(UnsafeSqlText):
            plain_identifier(bad)
