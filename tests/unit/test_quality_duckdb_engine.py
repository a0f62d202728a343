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

