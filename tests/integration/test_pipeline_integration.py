"""``medallion_pipeline`` end to end: real PostgreSQL (and embedded), local Bronze, DuckDB, dbt.

Gold row counts and revenue must equal what the generator's own events imply.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from cardflow.dev.generator import EventGenerator, GeneratorConfig, current_hour
from cardflow.settings import Settings
from cardflow.sources.eventstore import store as eventstore
from flows.pipeline import medallion_pipeline
from tests.expected import expected_gold

pytestmark = pytest.mark.integration

# ends at the current hour so the freshness check sees recent data
CONFIG = GeneratorConfig(events=6_000, seed=11, days=10, end=current_hour())


def _gold(settings: Settings) -> dict[str, object]:
    gold = settings.snowflake_gold_schema
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        return {
            "skus": con.execute(f"select count(*) from {gold}.dim_card").fetchone()[0],
            "orders": con.execute(f"select count(*) from {gold}.fct_orders").fetchone()[0],
            "batches": con.execute(f"select count(*) from {gold}.fct_batch_performance").fetchone()[0],
            "revenue": con.execute(f"select sum(order_total) from {gold}.fct_orders").fetchone()[0],
            "units_produced": con.execute(
                f"select sum(quantity_produced) from {gold}.fct_batch_performance"
            ).fetchone()[0],
        }


def _run_and_check(settings: Settings) -> None:
    eventstore.bootstrap_event_store(settings)
    with eventstore.connect(settings) as conn:
        eventstore.insert_events(conn, EventGenerator(CONFIG), settings)
    expected = expected_gold(EventGenerator(CONFIG))

    medallion_pipeline(settings=settings)
    gold = _gold(settings)
    assert gold["skus"] == expected.skus
    assert gold["orders"] == expected.orders
    assert gold["batches"] == expected.batches
    assert Decimal(str(gold["revenue"])) == expected.revenue
    assert gold["units_produced"] == expected.units_produced

    # a re-run with nothing new changes nothing
    medallion_pipeline(settings=settings)
    assert _gold(settings) == gold


def test_pipeline_on_real_postgres(pg_settings: Settings) -> None:
    _run_and_check(pg_settings)


def test_pipeline_on_embedded_postgres(local_settings: Settings) -> None:
    assert local_settings.uses_embedded_postgres
    _run_and_check(local_settings)
