"""A small audited Silver table for the quality-gate tests (DuckDB): clean unless a test breaks it."""

from __future__ import annotations

import duckdb

from cardflow.settings import Settings

ORDERS = """
CREATE OR REPLACE TABLE SILVER_AUDIT.stg_order_created AS
SELECT 'evt-' || range AS event_id, 'ORD-' || range AS order_id, 'CUST-1' AS customer_id,
       'SKU-' || (range % 7) AS sku,
       1 + range % 3 AS quantity, CAST(2.5 AS DECIMAL(38, 4)) AS unit_price,
       CASE WHEN range % 2 = 0 THEN 'CREATED' ELSE 'PAID' END AS status,
       now() - INTERVAL 2 HOUR AS order_ts, now() - INTERVAL 1 HOUR AS event_inserted_at,
       -- two dbt runs: the last fifth of the rows is the latest run's increment
       CASE WHEN range >= {n} * 4 // 5 THEN TIMESTAMPTZ '2026-11-02 00:00:00+00'
            ELSE TIMESTAMPTZ '2026-11-01 00:00:00+00' END AS processed_at
FROM range({n})
"""


def run_sql(settings: Settings, *statements: str) -> None:
    """Run ``statements`` on the settings' DuckDB file (created with its folder when missing)."""
    settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.duckdb_path)) as con:
        for sql in statements:
            con.execute(sql)


def create_audit_orders(settings: Settings, rows: int = 5_000) -> None:
    """SILVER_AUDIT.stg_order_created with ``rows`` clean orders (every stg_order_created check passes)."""
    run_sql(settings, "CREATE SCHEMA IF NOT EXISTS SILVER_AUDIT", ORDERS.format(n=rows))
