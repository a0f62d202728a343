"""The gated transform on the Snowflake path, against a fakesnow server.

Production runs the gates through GX's Snowflake SQL datasource (snowflake-sqlalchemy over the real
connector), so every metric is computed by the warehouse; fakesnow answers those queries here. What
fakesnow cannot do is ``ALTER TABLE ... SWAP WITH`` (its parser rejects SWAP), so these tests
publish with CARDFLOW_SNOWFLAKE_PUBLISH_MODE=clone (``CREATE OR REPLACE TABLE ... CLONE``, also a
real Snowflake statement); the SWAP statements are covered by test_snowflake_publish_statements.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import snowflake.connector

from cardflow.backends.blocks import save_blocks
from cardflow.backends.chooser import clear_block_cache, resolve_backends
from cardflow.errors import QualityGateFailed
from cardflow.quality import raw_checks
from cardflow.settings import Settings, load_settings
from cardflow.sqlfiles import named_statements, read_sql, split_statements
from cardflow.transform import wap
from cardflow.transform.wap import layer_schemas, prepare_audit, publish
from flows.transform import dbt_transform_and_test
from tests.raw_factory import create_raw_snowflake, generate, insert_raw_snowflake, raw_rows

pytestmark = pytest.mark.integration

GOLD = ("DIM_CARD", "DIM_CARD_HISTORY", "FCT_BATCH_PERFORMANCE", "FCT_ORDERS", "FCT_SKU_SUPPLY_DEMAND")


def _settings(tmp_path: Path, port: int, database: str, **overrides: Any) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data",
        warehouse_choice="snowflake",
        snowflake_account="fake-account",
        snowflake_user="fake",
        snowflake_password="fake",
        snowflake_role="FAKE_ROLE",
        snowflake_database=database,
        snowflake_host="localhost",
        snowflake_port=port,
        snowflake_protocol="http",
        snowflake_publish_mode="clone",
        dbt_node_tasks=False,
        dbt_skip_unit_tests=True,
        dbt_threads=1,
        **overrides,
    )


def _connect(settings: Settings) -> Any:
    resolved = resolve_backends(settings, needs={"warehouse"}).snowflake
    assert resolved is not None
    params = resolved.connect_kwargs("cardflow-test")
    database = params.pop("database")
    conn = snowflake.connector.connect(**params)
    conn.cursor().execute(f"CREATE DATABASE IF NOT EXISTS {database}")
    conn.cursor().execute(f"USE DATABASE {database}")  # fakesnow keeps COPY history per current database
    return conn


def _gold(settings: Settings) -> dict[str, list[tuple]]:
    with _connect(settings) as conn:
        cur = conn.cursor()
        return {
            t: sorted(
                map(tuple, cur.execute(f"SELECT * FROM {settings.snowflake_database}.GOLD.{t}").fetchall()),
                key=repr,
            )
            for t in GOLD
        }


@pytest.fixture
def fakesnow_settings(tmp_path: Path, fakesnow_port: int) -> Settings:
    """A fresh database on the fakesnow server with 10 days of clean events up to now in RAW."""
    settings = _settings(tmp_path, fakesnow_port, f"CF_{uuid.uuid4().hex[:8].upper()}")
    events, _ = generate(events=1_500, seed=3, anomalies=False, days=10, end=datetime.now(UTC))
    with _connect(settings) as conn:
        create_raw_snowflake(conn, settings.snowflake_database)
        insert_raw_snowflake(conn, raw_rows(events), settings.snowflake_database, tmp_path / "stage")
    return settings


def test_gated_transform_on_snowflake_publishes_then_blocks_bad_batch(
    fakesnow_settings: Settings, tmp_path: Path
) -> None:
    settings = fakesnow_settings
    result = dbt_transform_and_test(settings=settings)
    assert result.raw_checks == {"freshness": "ok", "volume": "ok"}
    assert result.layers["gold"]["expectations"] > 50
    published = _gold(settings)
    assert all(published[t] for t in GOLD)

    # a batch with an impossible defect rate: the Silver gate (run in the warehouse) stops it
    bad, _ = generate(events=200, seed=99, anomalies=True, anomaly_rate=0.05, days=1, end=datetime.now(UTC))
    with _connect(settings) as conn:
        insert_raw_snowflake(conn, raw_rows(bad, file_prefix="bad"), settings.snowflake_database, tmp_path / "stage2")
    with pytest.raises(QualityGateFailed) as err:
        dbt_transform_and_test(settings=settings)
    assert err.value.gate == "silver"
    assert any("expect_column_values_to_be_between(defect_rate_estimate)" in f for f in err.value.failures)
    assert _gold(settings) == published


def test_adhoc_checks_and_raw_metrics_run_on_fakesnow(fakesnow_settings: Settings) -> None:
    """sql/data_quality_checks.sql runs as-is (RAW part here; Silver/Gold after a flow run)."""
    settings = fakesnow_settings
    dbt_transform_and_test(settings=settings)
    with _connect(settings) as conn:
        cur = conn.cursor()
        cur.execute(f"USE DATABASE {settings.snowflake_database}")
        results = [cur.execute(s).fetchall() for s in split_statements(read_sql("data_quality_checks.sql"))]
        metrics = named_statements("quality_raw_metrics.sql", raw_checks.__file__)
        freshness = cur.execute(metrics["freshness"].format(raw="RAW")).fetchall()
    assert results[0][0][3] == "ok"
    assert results[1][0][2] == "ok"
    assert results[6] == [] and results[7] == []
    assert freshness[0][3] == 1_500


def test_snowflake_publish_statements(fakesnow_settings: Settings) -> None:
    """Production publishes with SWAP WITH (RENAME TO on a first publish). fakesnow has no SWAP and
    its RENAME TO cannot move a table to another schema, so those two statements are checked as
    text and for their effect on failure (SWAP raises, the published table is untouched); the clone
    path and the audit preparation are executed for real."""
    statements = named_statements("wap.sql", wap.__file__)
    assert statements["snowflake_publish_swap"] == "ALTER TABLE {audit} SWAP WITH {published}"
    assert statements["snowflake_publish_rename"] == "ALTER TABLE {audit} RENAME TO {published}"
    clone = fakesnow_settings
    swap = clone.model_copy(update={"snowflake_publish_mode": "swap"})
    db = clone.snowflake_database
    schemas = layer_schemas(clone, "gold")
    with resolve_backends(clone, needs={"warehouse"}).open_session() as wh:
        wh.execute(f"CREATE SCHEMA IF NOT EXISTS {db}.GOLD_AUDIT")
        wh.execute(f"CREATE OR REPLACE TABLE {db}.GOLD_AUDIT.T1 AS SELECT 1 AS k")
        assert publish(wh, [(schemas, ["T1"])], clone) == {"gold": {"T1": "cloned"}}
        assert wh.query(f"SELECT k FROM {db}.GOLD.T1") == [(1,)]
        assert prepare_audit(wh, schemas, ["T1"]) == {"T1": "cloned"}
        assert wh.query(f"SELECT k FROM {db}.GOLD_AUDIT.T1") == [(1,)]
        wh.execute(f"INSERT INTO {db}.GOLD_AUDIT.T1 VALUES (2)")
        with pytest.raises(snowflake.connector.errors.ProgrammingError):  # fakesnow: no SWAP
            publish(wh, [(schemas, ["T1"])], swap)
        assert wh.query(f"SELECT k FROM {db}.GOLD.T1") == [(1,)]
        assert publish(wh, [(schemas, ["T1"])], clone) == {"gold": {"T1": "cloned"}}
        assert sorted(wh.query(f"SELECT k FROM {db}.GOLD.T1")) == [(1,), (2,)]


def _save_block(settings: Settings) -> str:
    """Save the Snowflake settings as blocks the way ``cardflow blocks`` does; returns the name."""
    name = f"snow-{uuid.uuid4().hex[:8]}"
    save_blocks(settings.model_copy(update={"snowflake_connector_block": name, "s3_bucket": None}))
    clear_block_cache()
    return name


def test_block_only_worker_with_the_original_names(fakesnow_port: int, tmp_path: Path) -> None:
    """A worker holding only CARDFLOW_SNOWFLAKE_BLOCK (no SNOWFLAKE_* credentials, no database name):
    dbt, the gates' GX datasource, write-audit-publish and the report all reach the block's warehouse,
    the database is the original system's SPORTS_CARD_ANALYTICS, and its starter queries and
    data-quality checks then run unchanged (unqualified by database) against Gold."""
    admin = _settings(tmp_path, fakesnow_port, "SPORTS_CARD_ANALYTICS")
    events, _ = generate(events=1_500, seed=4, anomalies=False, days=10, end=datetime.now(UTC))
    with _connect(admin) as conn:  # the database is created on this session-wide server once
        create_raw_snowflake(conn, "SPORTS_CARD_ANALYTICS")
        insert_raw_snowflake(conn, raw_rows(events), "SPORTS_CARD_ANALYTICS", tmp_path / "stage")
    block = _save_block(admin)
    settings = load_settings(
        data_dir=tmp_path / "worker",
        snowflake_connector_block=block,
        snowflake_publish_mode="clone",
        dbt_node_tasks=False,
        dbt_skip_unit_tests=True,
        dbt_threads=1,
    )
    assert settings.snowflake_account is None and settings.warehouse == "snowflake"
    result = dbt_transform_and_test(settings=settings)
    assert result.target == "snowflake"
    assert result.layers["gold"]["expectations"] > 50
    assert all(_gold(admin).values())  # published in the block's database
    report = (tmp_path / "worker" / "report" / "index.html").read_text(encoding="utf-8")
    assert "from the snowflake warehouse" in report
    assert not (tmp_path / "worker" / "warehouse.duckdb").exists()  # no silent DuckDB fallback

    params = resolve_backends(settings, needs={"warehouse"}).snowflake
    assert params is not None and params.database == "SPORTS_CARD_ANALYTICS"
    conn = params.connect("analyst")
    try:
        cur = conn.cursor()
        checks = [cur.execute(s).fetchall() for s in split_statements(read_sql("data_quality_checks.sql"))]
        examples = {k: cur.execute(q).fetchall() for k, q in named_statements("examples.sql").items()}
    finally:
        conn.close()
    assert checks[0][0][3] == "ok" and checks[6] == [] and checks[7] == []
    assert examples["top_skus_by_revenue"] and examples["defect_rate_by_batch"]


def test_the_published_build_stamp_round_trips_on_snowflake(fakesnow_settings: Settings, tmp_path: Path) -> None:
    """RAW.PUBLISHED_BUILDS on the Snowflake stand-in: a recorded stamp reads back equal (so a run
    with nothing new builds nothing there too), and one more RAW row makes a build pending."""
    from cardflow.transform.build_stamp import ensure_published_builds, pending_build, record_published

    settings = fakesnow_settings
    open_session = resolve_backends(settings, needs={"warehouse"}).open_session
    with open_session() as warehouse:
        first = pending_build(warehouse, settings, "fingerprint", held_table="EVENTS_HELD")
        assert first.stamp.raw_rows == 1_500 and first.reasons == ["no published build is recorded"]
        ensure_published_builds(warehouse, settings)
        record_published(warehouse, settings, first.stamp)
        assert pending_build(warehouse, settings, "fingerprint", held_table="EVENTS_HELD").nothing_new
    events, _ = generate(events=1, seed=99, anomalies=False, days=1, end=datetime.now(UTC))
    with _connect(settings) as conn:
        insert_raw_snowflake(conn, raw_rows(events, file_prefix="more"), settings.snowflake_database, tmp_path / "more")
    with open_session() as warehouse:
        again = pending_build(warehouse, settings, "fingerprint", held_table="EVENTS_HELD")
    assert again.stamp.raw_rows == 1_501 and not again.nothing_new
