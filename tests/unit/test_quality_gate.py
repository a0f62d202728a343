"""The DuckDB gate engine: exact verdicts over chunks, failures named with values and sample rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from cardflow.backends.chooser import resolve_backends
from cardflow.quality.gate import validate_layer, write_data_docs
from cardflow.quality.suites import load_suites
from cardflow.settings import Settings, load_settings

ORDERS = """
CREATE OR REPLACE TABLE SILVER_AUDIT.stg_order_created AS
SELECT 'evt-' || range AS event_id, 'ORD-' || range AS order_id, 'CUST-1' AS customer_id,
       'SKU-' || (range % 7) AS sku,
       1 + range % 3 AS quantity, CAST(2.5 AS DECIMAL(38, 4)) AS unit_price,
       CASE WHEN range % 2 = 0 THEN 'CREATED' ELSE 'PAID' END AS status,
       now() - INTERVAL 2 HOUR AS order_ts, now() - INTERVAL 1 HOUR AS event_inserted_at
FROM range({n})
"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = load_settings(data_dir=tmp_path / "data")
    s.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(s.duckdb_path)) as con:
        con.execute("CREATE SCHEMA SILVER_AUDIT")
        con.execute(ORDERS.format(n=5_000))
    return s


def _run(settings: Settings, chunk_rows: int = 1_000, floor_hours: float = 24):
    spec = load_suites()["stg_order_created"]
    with resolve_backends(settings).open_session() as wh:
        return validate_layer(
            wh,
            [spec],
            "SILVER_AUDIT",
            "silver",
            {"freshness_floor": datetime.now(UTC) - timedelta(hours=floor_hours)},
            chunk_rows=chunk_rows,
        )


def _sql(settings: Settings, sql: str) -> None:
    with duckdb.connect(str(settings.duckdb_path)) as con:
        con.execute(sql)


def test_clean_table_passes_in_chunks(settings: Settings) -> None:
    result = _run(settings)
    assert result.success, result.failures()
    model = result.models[0]
    assert model.rows == 5_000 and model.chunks > 1
    assert len(model.outcomes) == len(load_suites()["stg_order_created"].expectations)


def test_negative_quantity_named_with_value_and_sample_row(settings: Settings) -> None:
    _sql(settings, "UPDATE SILVER_AUDIT.stg_order_created SET quantity = -4 WHERE event_id = 'evt-4321'")
    result = _run(settings)
    assert result.failures() == [
        "stg_order_created: expect_column_values_to_be_between(quantity): 1 of 5000 rows unexpected (e.g. -4)"
    ]
    failed = result.models[0].failed[0]
    assert failed.sample_rows[0]["event_id"] == "evt-4321"
    markdown = result.to_markdown()
    assert "FAILED" in markdown and "evt-4321" in markdown and "negative quantity" in markdown


def test_duplicate_across_chunks_is_found(settings: Settings) -> None:
    # first and last row of the table: far apart, in different streaming chunks
    _sql(
        settings,
        "UPDATE SILVER_AUDIT.stg_order_created SET order_id = 'ORD-0', status = 'CREATED' "
        "WHERE event_id = 'evt-4998'",
    )
    result = _run(settings, chunk_rows=1_000)
    assert any("expect_compound_columns_to_be_unique(order_id, status): 2 of" in f for f in result.failures())


def test_freshness_parameter(settings: Settings) -> None:
    result = _run(settings, floor_hours=0.5)
    assert [o.name for o in result.models[0].failed] == ["expect_column_max_to_be_between(event_inserted_at)"]


def test_missing_table_fails_every_expectation(settings: Settings) -> None:
    _sql(settings, "DROP TABLE SILVER_AUDIT.stg_order_created")
    result = _run(settings)
    assert not result.success and "does not exist" in result.failures()[0]


def test_data_docs_written(settings: Settings, tmp_path: Path) -> None:
    _sql(settings, "UPDATE SILVER_AUDIT.stg_order_created SET status = 'LOST' WHERE event_id = 'evt-7'")
    result = _run(settings)
    index = write_data_docs(result, [load_suites()["stg_order_created"]], tmp_path / "gx")
    assert index is not None and Path(index).is_file()
    pages = "".join(p.read_text(errors="ignore") for p in (tmp_path / "gx").rglob("*.html"))
    assert "stg_order_created" in pages and "LOST" in pages
