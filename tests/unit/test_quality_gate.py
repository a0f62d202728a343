"""The gate entry point on DuckDB: every suite of a layer, its parameters, the verdict and its report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cardflow.backends.chooser import resolve_backends
from cardflow.errors import QualityGateFailed
from cardflow.quality.gate import gate_layer, gate_parameters, validate_layer
from cardflow.quality.suites import load_suites, suites_for
from cardflow.settings import Settings, load_settings
from cardflow.transform.wap import layer_schemas
from tests.quality_tables import create_audit_orders, run_sql


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = load_settings(data_dir=tmp_path / "data")
    create_audit_orders(s)
    return s


def test_failed_gate_names_the_row_and_raises_with_the_layer(settings: Settings) -> None:
    run_sql(settings, "UPDATE SILVER_AUDIT.stg_order_created SET quantity = -4 WHERE event_id = 'evt-4321'")
    with resolve_backends(settings).open_session() as wh:
        result = validate_layer(
            wh,
            [load_suites()["stg_order_created"]],
            "SILVER_AUDIT",
            "silver",
            {"freshness_floor": datetime.now(UTC) - timedelta(hours=24)},
            chunk_rows=1_000,
        )
    assert not result.success and result.engine.startswith("pandas (DuckDB")
    markdown = result.to_markdown()
    assert "FAILED" in markdown and "evt-4321" in markdown and "negative quantity" in markdown
    with pytest.raises(QualityGateFailed) as err:
        result.raise_if_failed()
    assert err.value.gate == "silver" and "quantity" in str(err.value)


def test_gate_layer_runs_every_suite_of_the_layer_and_writes_docs(settings: Settings) -> None:
    silver = layer_schemas(settings, "silver")
    result = gate_layer(
        resolve_backends(settings).open_session,
        "silver",
        settings,
        audit_schema=silver.audit,
        silver_schema=silver.published,
        gold_audit_schema=layer_schemas(settings, "gold").audit,
    )
    verdicts = {m.model: m.success for m in result.models}
    assert set(verdicts) == {s.name for s in suites_for("silver")}
    assert verdicts.pop("stg_order_created") is True
    assert verdicts and not any(verdicts.values())  # the models never built fail, named as missing
    assert all("does not exist" in f for f in result.failures())
    assert "freshness_floor" in result.parameters
    assert result.docs_index is not None
    assert Path(result.docs_index).is_relative_to(settings.resolved_data_dir / "gx")
    assert Path(result.docs_index).is_file()


def test_gold_parameters_read_built_silver_and_audited_dim_card(settings: Settings) -> None:
    run_sql(
        settings,
        "CREATE SCHEMA SILVER",
        "CREATE SCHEMA GOLD_AUDIT",
        "CREATE TABLE SILVER.stg_order_created AS SELECT range AS id FROM range(7)",
        "CREATE TABLE SILVER.stg_manufacturing_batch AS SELECT range AS id FROM range(3)",
        "CREATE TABLE SILVER.stg_card_catalog_entry_inserted AS SELECT range AS id FROM range(2)",
        "CREATE TABLE GOLD_AUDIT.dim_card AS SELECT * FROM (VALUES ('SKU-2'), ('SKU-1'), ('SKU-2')) t(sku)",
    )
    with resolve_backends(settings).open_session() as wh:
        parameters = gate_parameters(wh, "gold", settings, silver_schema="SILVER", gold_audit_schema="GOLD_AUDIT")
    assert parameters == {
        "known_skus_relation": "GOLD_AUDIT.dim_card",  # anti-joined by the DuckDB engine
        "silver_order_events": 7,
        "silver_batch_events": 3,
        "silver_catalog_events": 2,
    }


def test_silver_freshness_floor_follows_the_error_threshold(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, raw_events_freshness_error_hours=6)
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    with resolve_backends(settings).open_session() as wh:
        parameters = gate_parameters(
            wh, "silver", settings, silver_schema="SILVER", gold_audit_schema="GOLD_AUDIT", now=now
        )
    assert parameters == {"freshness_floor": datetime(2026, 11, 25, 6, 0, tzinfo=UTC)}
