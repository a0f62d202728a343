"""The DuckDB gate engine: exact verdicts on the increment, whole-table uniqueness by SQL, failures named."""

from __future__ import annotations

from pathlib import Path

import pytest

from cardflow.backends.chooser import resolve_backends
from cardflow.quality.duckdb_engine import PandasValidator, validate_model_duckdb
from cardflow.quality.results import ModelResult
from cardflow.quality.suites import load_suites
from cardflow.settings import Settings, load_settings
from tests.quality_tables import create_audit_orders, run_sql


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = load_settings(data_dir=tmp_path / "data")
    create_audit_orders(s)
    return s


def _run(settings: Settings, chunk_rows: int = 1_000) -> ModelResult:
    spec = load_suites()["stg_order_created"]
    with resolve_backends(settings).open_session() as wh:
        return validate_model_duckdb(
            wh,
            PandasValidator(),
            spec,
            "SILVER_AUDIT",
            {},
            chunk_rows,
        )


def _failures(model: ModelResult) -> list[str]:
    return [o.summary() for o in model.failed]


def test_clean_increment_passes_in_chunks(settings: Settings) -> None:
    model = _run(settings, chunk_rows=300)
    assert model.success, _failures(model)
    assert model.rows == 1_000 and model.chunks > 1  # the latest run's rows (processed_at), not 5,000
    assert len(model.outcomes) == len(load_suites()["stg_order_created"].expectations)


def test_bad_row_in_the_increment_stops_the_gate(settings: Settings) -> None:
    run_sql(settings, "UPDATE SILVER_AUDIT.stg_order_created SET quantity = -4 WHERE event_id = 'evt-4321'")
    model = _run(settings)
    assert _failures(model) == [
        "stg_order_created: expect_column_values_to_be_between(quantity): 1 of 1000 rows unexpected (e.g. -4)"
    ]
    failed = model.failed[0]
    assert failed.sample_rows[0]["event_id"] == "evt-4321"
    assert failed.partial_unexpected == [-4] and "negative quantity" in failed.why


def test_decimals_are_compared_as_decimals(settings: Settings) -> None:
    """0.0001 below zero is negative: a float conversion must not round it away."""
    run_sql(
        settings,
        "UPDATE SILVER_AUDIT.stg_order_created SET unit_price = CAST(-0.0001 AS DECIMAL(38, 4)) "
        "WHERE event_id = 'evt-4999'",
    )
    failed = _run(settings).failed
    assert [o.name for o in failed] == ["expect_column_values_to_be_between(unit_price)"]
    assert str(failed[0].partial_unexpected[0]) == "-0.0001"


def test_duplicate_with_an_earlier_run_is_found(settings: Settings) -> None:
    """Uniqueness is a whole-table fact: a key of the increment that repeats an older row fails."""
    run_sql(
        settings,
        "UPDATE SILVER_AUDIT.stg_order_created SET order_id = 'ORD-0', status = 'CREATED' "
        "WHERE event_id = 'evt-4998'",
    )
    model = _run(settings, chunk_rows=1_000)
    assert any(
        "expect_compound_columns_to_be_unique(order_id, status): 2 of 5000 rows unexpected" in f
        for f in _failures(model)
    ), _failures(model)


def test_missing_table_fails_every_expectation(settings: Settings) -> None:
    run_sql(settings, "DROP TABLE SILVER_AUDIT.stg_order_created")
    model = _run(settings)
    assert not model.success and "does not exist" in _failures(model)[0]



GOLD_ORDERS = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE OR REPLACE TABLE {schema}.fct_orders AS
SELECT 'ORD-' || i AS order_id, TIMESTAMPTZ '2026-10-01 10:00:00+00' AS order_ts, 'C1' AS customer_id,
       'SKU-1' AS sku, 2 AS quantity, CAST(1.5 AS DECIMAL(38, 18)) AS unit_price,
       CAST(3 AS DECIMAL(38, 18)) AS order_total, 'PAID' AS status,
       TIMESTAMPTZ '2026-10-01 10:00:01+00' AS event_inserted_at
FROM range(2000) AS t(i);
"""


def _run_gold(settings: Settings, baseline: str | None) -> ModelResult:
    spec = load_suites()["fct_orders"]
    parameters = {"silver_order_events": 10_000, "known_skus_relation": "GOLD_AUDIT.known"}
    with resolve_backends(settings).open_session() as wh:
        return validate_model_duckdb(wh, PandasValidator(), spec, "GOLD_AUDIT", parameters, 500, baseline=baseline)


@pytest.fixture
def gold_settings(tmp_path: Path) -> Settings:
    """A published fct_orders (GOLD) and its audited rebuild (GOLD_AUDIT), identical so far."""
    s = load_settings(data_dir=tmp_path / "data")
    run_sql(
        s,
        *GOLD_ORDERS.format(schema="GOLD").strip().split(";\n")[:2],
        *GOLD_ORDERS.format(schema="GOLD_AUDIT").strip().split(";\n")[:2],
        "CREATE TABLE GOLD_AUDIT.known AS SELECT 'SKU-1' AS sku",
    )
    return s


def test_gold_checks_only_rows_that_differ_from_the_published_version(gold_settings: Settings) -> None:
    """A Gold build that changed two orders and added one is row-checked on those three rows; the row
    count, aggregates and uniqueness still cover the whole table."""
    run_sql(
        gold_settings,
        "UPDATE GOLD_AUDIT.fct_orders SET status = 'SHIPPED' WHERE order_id IN ('ORD-7', 'ORD-8')",
        "INSERT INTO GOLD_AUDIT.fct_orders SELECT 'ORD-new', order_ts, customer_id, sku, quantity, unit_price, "
        "order_total, status, event_inserted_at FROM GOLD_AUDIT.fct_orders WHERE order_id = 'ORD-1'",
    )
    model = _run_gold(gold_settings, baseline="GOLD")
    assert model.success, _failures(model)
    assert model.rows == 3
    rowcount = next(o for o in model.outcomes if o.config["type"] == "expect_table_row_count_to_be_between")
    assert rowcount.observed_value == 2_001
    assert _run_gold(gold_settings, baseline=None).rows == 2_001  # no published version: everything


def test_bad_row_in_the_gold_increment_stops_the_gate(gold_settings: Settings) -> None:
    run_sql(gold_settings, "UPDATE GOLD_AUDIT.fct_orders SET quantity = -1 WHERE order_id = 'ORD-42'")
    model = _run_gold(gold_settings, baseline="GOLD")
    assert model.rows == 1
    assert [o.name for o in model.failed] == [
        "expect_column_values_to_be_between(quantity)",
        "expect_column_pair_values_to_be_equal(order_total, expected_order_total)",  # 3 != -1 * 1.5
    ]
    assert _failures(model)[0].endswith("1 of 1 rows unexpected (e.g. -1)")


def test_gold_membership_is_checked_on_the_whole_table(gold_settings: Settings) -> None:
    """An unchanged row whose SKU is no longer known still fails: the known set is a whole-table fact."""
    run_sql(gold_settings, "DELETE FROM GOLD_AUDIT.known")
    model = _run_gold(gold_settings, baseline="GOLD")
    assert model.rows == 0
    assert [o.name for o in model.failed] == ["expect_column_values_to_be_in_set(sku)"]
