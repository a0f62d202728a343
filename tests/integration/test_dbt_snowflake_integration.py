"""The same dbt project on Snowflake (fakesnow server + dbt-snowflake): Gold equals DuckDB's Gold.

RAW.EVENTS is created on the fakesnow server with a VARIANT payload and filled with the same rows
as a DuckDB file; both get a full `dbt build`, then every Gold table is compared row by row.

fakesnow limitations met, and what the project does about them:
- database-qualified TEMPORARY tables/views fail: incremental models stage batches in transient
  tables (tmp_relation_type: transient), which real Snowflake supports as well;
- its MERGE cannot run dbt's merge statement: incremental models use delete+insert on both engines;
- IS_OBJECT is missing: the JSON-object check uses LEFT(TO_JSON(payload), 1) = '{';
- dbt unit tests create TEMPORARY tables, so they are excluded here (they run on DuckDB).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from cardflow.backends.chooser import resolve_backends
from cardflow.settings import load_settings
from cardflow.transform.dbt import invoke_dbt
from cardflow.warehouse.connection import DuckDBTarget
from tests.raw_factory import (
    create_raw_snowflake,
    generate,
    insert_raw_duckdb,
    insert_raw_snowflake,
    raw_rows,
    redeliver,
)

pytestmark = pytest.mark.integration

GOLD = {
    "fct_orders": "order_id",
    "fct_batch_performance": "batch_id",
    "dim_card": "sku",
    "dim_card_history": "card_version_id",
    "fct_sku_supply_demand": "sku",
}


# fakesnow's server returns a NULL TIMESTAMP_TZ as 1970-01-01 to the connector (a result-encoding
# artifact; SQL sees NULL: is_current is true on those rows), so open intervals are compared through a
# sentinel computed in SQL on both engines.
SELECT_OVERRIDES = {
    "dim_card_history": (
        "card_version_id, sku, version_number, card_name, sport, player_name, team_name, parallel, "
        "print_run, valid_from, coalesce(valid_to, cast('9999-12-31 00:00:00+00:00' as {ts})) as valid_to, "
        "is_current, "
        "source_event_id"
    ),
}


def _select(table: str, ts_type: str) -> str:
    return SELECT_OVERRIDES.get(table, "*").format(ts=ts_type)


def _normalize(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Same values, engine-neutral: aware datetimes in UTC."""
    return [
        tuple(v.astimezone(UTC) if isinstance(v, datetime) and v.tzinfo else v for v in row) for row in rows
    ]


def test_snowflake_build_equals_duckdb(fakesnow_port: int, tmp_path: Path) -> None:
    import snowflake.connector

    events, _ = generate(events=1_500, seed=21, anomaly_rate=0.01)
    rows = raw_rows(events)
    rows += redeliver(rows, 30)
    database = "CARDFLOW_DBT_TEST"
    conn = snowflake.connector.connect(
        account="fake",
        user="cardflow",
        password="fakesnow-password",
        host="localhost",
        port=fakesnow_port,
        protocol="http",
        database=database,
    )
    create_raw_snowflake(conn, database)
    insert_raw_snowflake(conn, rows, database, tmp_path / "stage")

    sf = load_settings(
        data_dir=tmp_path / "sf",
        warehouse_choice="snowflake",
        snowflake_account="fake",
        snowflake_user="cardflow",
        snowflake_password="fakesnow-password",
        snowflake_database=database,
        snowflake_host="localhost",
        snowflake_port=fakesnow_port,
        snowflake_protocol="http",
    )
    summary = invoke_dbt(
        ["build", "--exclude-resource-type", "unit_test", "--target-path", str(tmp_path / "target-sf")],
        sf,
        resolve_backends(sf, needs={"warehouse"}).target,
    )
    assert not summary.failed, [n.describe() for n in summary.failed]
    assert not any("fakesnow-password" in value for value in os.environ.values())  # profile only
    assert sum(1 for n in summary.nodes if n.resource_type == "model" and n.status == "success") == 10

    duck_path = tmp_path / "duck.duckdb"
    insert_raw_duckdb(duck_path, rows)
    dk = load_settings(data_dir=tmp_path / "dk", duckdb_path_override=duck_path)
    duck_summary = invoke_dbt(
        ["build", "--target-path", str(tmp_path / "target-dk")], dk, DuckDBTarget(dk.duckdb_path)
    )
    assert not duck_summary.failed

    # the same warnings on both engines (business rules at warn)
    assert sorted(n.name for n in summary.warnings) == sorted(
        n.name for n in duck_summary.warnings if n.resource_type != "unit_test"
    )
    cur = conn.cursor()
    with duckdb.connect(str(duck_path), read_only=True) as con:
        for table, key in GOLD.items():
            cur.execute(
                f"SELECT {_select(table, 'timestamp_tz')} FROM {database}.GOLD.{table.upper()} ORDER BY {key}"
            )
            snow = _normalize(cur.fetchall())
            duck = _normalize(
                con.execute(
                    f"SELECT {_select(table, 'timestamptz')} FROM GOLD.{table} ORDER BY {key}"
                ).fetchall()
            )
            assert len(snow) == len(duck) > 0, table
            assert snow == duck, table
    conn.close()
