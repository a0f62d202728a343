"""The DuckDB gate engine: exact verdicts over chunks, failures named with values and sample rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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


def _run(settings: Settings, chunk_rows: int = 1_000, floor_hours: float = 24) -> ModelResult:
    spec = load_suites()["stg_order_created"]
    with resolve_backends(settings).open_session() as wh:
        return validate_model_duckdb(
            wh,
            PandasValidator(),
            spec,
            "SILVER_AUDIT",
            {"freshness_floor": datetime.now(UTC) - timedelta(hours=floor_hours)},
            chunk_rows,
        )


def _failures(model: ModelResult) -> list[str]:
    return [o.summary() for o in model.failed]


def test_clean_table_passes_in_chunks(settings: Settings) -> None:
    model = _run(settings)
    assert model.success, _failures(model)
    assert model.rows == 5_000 and model.chunks > 1
    assert len(model.outcomes) == len(load_suites()["stg_order_created"].expectations)


def test_negative_quantity_named_with_value_and_sample_row(settings: Settings) -> None:
    run_sql(settings, "UPDATE SILVER_AUDIT.stg_order_created SET quantity = -4 WHERE event_id = 'evt-4321'")
    model = _run(settings)
    assert _failures(model) == [
        "stg_order_created: expect_column_values_to_be_between(quantity): 1 of 5000 rows unexpected (e.g. -4)"
    ]
    failed = model.failed[0]
    assert failed.sample_rows[0]["event_id"] == "evt-4321"
    assert failed.partial_unexpected == [-4] and "negative quantity" in failed.why


def test_duplicate_across_chunks_is_found(settings: Settings) -> None:
    # first and last row of the table: far apart, in different streaming chunks
    run_sql(
        settings,
        "UPDATE SILVER_AUDIT.stg_order_created SET order_id = 'ORD-0', status = 'CREATED' "
        "WHERE event_id = 'evt-4998'",
    )
    model = _run(settings, chunk_rows=1_000)
    assert any("expect_compound_columns_to_be_unique(order_id, status): 2 of" in f for f in _failures(model))


def test_freshness_parameter(settings: Settings) -> None:
    model = _run(settings, floor_hours=0.5)
    assert [o.name for o in model.failed] == ["expect_column_max_to_be_between(event_inserted_at)"]


def test_missing_table_fails_every_expectation(settings: Settings) -> None:
    run_sql(settings, "DROP TABLE SILVER_AUDIT.stg_order_created")
    model = _run(settings)
    assert not model.success and "does not exist" in _failures(model)[0]

