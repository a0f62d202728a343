"""Asset keys of the lineage chain (tasks/assets.py): one key per asset, whoever materializes it."""

from __future__ import annotations

from pathlib import Path

from cardflow.settings import load_settings
from tasks.assets import bronze_asset, event_store_asset, model_asset, rabbitmq_asset, raw_events_asset


def test_keys_of_the_chain_on_embedded_defaults(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "my data")  # a space: not allowed in asset keys
    assert event_store_asset(settings).key == f"postgres://embedded/{settings.postgres_db}/{settings.events_table}"
    bronze = bronze_asset((settings.lake_dir / settings.s3_prefix).as_uri())
    assert bronze.key.startswith("file:///") and " " not in bronze.key and "%" not in bronze.key
    assert raw_events_asset(settings).key == "duckdb://warehouse/raw/events"
    assert model_asset(settings, "GOLD", "fct_orders").key == "duckdb://warehouse/gold/fct_orders"


def test_keys_on_production_backends_hold_no_secret() -> None:
    settings = load_settings(
        postgres_host="db.internal",
        postgres_port=6432,
        postgres_password="s3cr3t-pw",
        rabbitmq_url="amqps://svc:mq-s3cr3t@mq.internal:5671/prod",
        snowflake_database="SPORTS_CARD_ANALYTICS",
        snowflake_account="acme",
        snowflake_user="svc",
        snowflake_password="sf-s3cr3t",
    )
    assert event_store_asset(settings).key == "postgres://db.internal:6432/cardflow/events".replace(
        "cardflow/events", f"{settings.postgres_db}/{settings.events_table}"
    )
    mq = rabbitmq_asset(settings).key
    assert mq == f"amqp://mq.internal:5671/prod/{settings.rabbitmq_queue}" and "s3cr3t" not in mq
    assert bronze_asset("s3://cardflow-lake/bronze").key == "s3://cardflow-lake/bronze"
    if settings.warehouse == "snowflake":
        assert raw_events_asset(settings).key == "snowflake://sports_card_analytics/raw/events"
