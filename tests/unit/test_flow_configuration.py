"""Every flow checks its configuration first: an incomplete or contradictory one fails before any data
moves, naming every missing variable in one message."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cardflow.errors import ConfigurationError, ConflictingConfiguration, MissingConfiguration
from cardflow.settings import Settings, load_settings
from flows.backfill import events_backfill_to_s3
from flows.load import s3_to_snowflake_load_raw
from flows.pipeline import medallion_pipeline
from flows.realtime import mq_realtime_landing
from flows.replay import bronze_replay
from flows.transform import dbt_transform_and_test


def _untouched(settings: Settings) -> None:
    """Nothing was read or written: no embedded event store, no Bronze, no warehouse file."""
    assert not settings.pgdata_dir.exists()
    assert not settings.lake_dir.exists()
    assert not settings.duckdb_path.exists()


def test_pipeline_fails_before_the_backfill_naming_every_missing_snowflake_setting(tmp_path: Path) -> None:
    """SNOWFLAKE_USER and SNOWFLAKE_PASSWORD unset with CARDFLOW_WAREHOUSE=snowflake (SNOWFLAKE_ROLE is
    optional): one message with both names, and the backfill never started."""
    settings = load_settings(
        data_dir=tmp_path, warehouse_choice="snowflake", snowflake_account="acct", s3_bucket="lake"
    )
    with pytest.raises(MissingConfiguration) as caught:
        medallion_pipeline(settings=settings, retries=0)
    assert caught.value.variables == ["SNOWFLAKE_USER", "SNOWFLAKE_PASSWORD"]
    assert "SNOWFLAKE_USER, SNOWFLAKE_PASSWORD" in str(caught.value)
    _untouched(settings)


@pytest.mark.parametrize(
    "run",
    [
        lambda s: s3_to_snowflake_load_raw(settings=s),
        lambda s: bronze_replay(date(2026, 1, 1), date(2026, 1, 2), settings=s),
        lambda s: dbt_transform_and_test(settings=s),
    ],
    ids=["load", "replay", "transform"],
)
def test_warehouse_flows_fail_at_start_naming_every_missing_variable(run, tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, warehouse_choice="snowflake")
    with pytest.raises(MissingConfiguration) as caught:
        run(settings)
    assert {"SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "SNOWFLAKE_PASSWORD"} <= set(caught.value.variables)
    _untouched(settings)


@pytest.mark.parametrize(
    "run",
    [
        lambda s: events_backfill_to_s3(settings=s),
        lambda s: mq_realtime_landing("bronze/_manifests/origin=mq/none.json", settings=s),
    ],
    ids=["backfill", "realtime"],
)
def test_bronze_flows_fail_at_start_on_an_unknown_block(run, tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, s3_bucket_block="no-such-bucket-block")
    with pytest.raises(ConfigurationError) as caught:
        run(settings)
    assert caught.value.variable == "CARDFLOW_S3_BUCKET_BLOCK"
    _untouched(settings)


def test_contradictory_warehouse_choice_fails_the_pipeline_at_start(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, warehouse_choice="duckdb", snowflake_connector_block="prod")
    with pytest.raises(ConflictingConfiguration, match="CARDFLOW_WAREHOUSE, CARDFLOW_SNOWFLAKE_BLOCK"):
        medallion_pipeline(settings=settings, retries=0)
    _untouched(settings)
