"""``named_queries`` reads ``-- name:`` blocks and maps schema names written either way."""

from __future__ import annotations

import pytest

from cardflow import sqlfiles
from cardflow.sqlfiles import named_queries, qualify_schemas


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("select * from gold.fct_orders", "select * from ANALYTICS.fct_orders"),
        ("select * from GOLD.fct_orders g join Gold.dim_card c on 1=1",
         "select * from ANALYTICS.fct_orders g join ANALYTICS.dim_card c on 1=1"),
        ("select * from x.gold.fct_orders", "select * from x.gold.fct_orders"),  # a database-qualified name
        ("select goldfish.a from goldfish", "select goldfish.a from goldfish"),  # only the whole word
        ("select 'gold.standard', parallel from gold.dim_card where parallel = 'Gold /50'",
         "select 'gold.standard', parallel from ANALYTICS.dim_card where parallel = 'Gold /50'"),
        ("select 'it''s gold.x' from gold.t", "select 'it''s gold.x' from ANALYTICS.t"),
        ("select gold. from t", "select gold. from t"),  # not followed by an identifier
    ],
)
def test_literal_schema_references_are_rewritten(sql: str, expected: str) -> None:
    assert qualify_schemas(sql, gold="ANALYTICS") == expected


def test_default_names_leave_the_text_alone() -> None:
    sql = "select * from gold.fct_orders join raw.events on true"
    assert qualify_schemas(sql, gold="GOLD", raw="RAW") == sql


@pytest.fixture
def sql_dir(tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sqlfiles, "SQL_DIR", tmp_path)
    sqlfiles.read_sql.cache_clear()
    yield tmp_path
    sqlfiles.read_sql.cache_clear()


def test_named_queries_fill_placeholders_and_literals(sql_dir) -> None:
    (sql_dir / "q.sql").write_text(
        "-- header comment\n"
        "-- name: one\n-- what it does\nselect * from {gold}.a;\n\n"
        "-- name: two\nselect *\n-- inline comment line\nfrom gold.b\nwhere x = 'gold.c';\n",
        encoding="utf-8",
    )
    assert named_queries("q.sql", gold="G2") == {
        "one": "select * from G2.a",
        "two": "select *\nfrom G2.b\nwhere x = 'gold.c'",
    }
