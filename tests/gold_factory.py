"""Small demo-like Gold layers for tests of what reads Gold (starter queries, the HTML report).

``build_gold_duckdb`` generates events (the demo's generator, no anomalies), writes them to
RAW.EVENTS with the dbt helper's factory and runs the real dbt project on DuckDB. The result is
cached per process: the example-query and report tests share one build.

``copy_gold_to_snowflake`` recreates the GOLD tables of a DuckDB file on a Snowflake connection
(the fakesnow server in tests) with Snowflake column types, so the same SQL can run on both.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cardflow.settings import load_settings
from cardflow.transform.dbt import dbt_env
from tests import raw_factory

REPO = Path(__file__).resolve().parents[1]
DBT_PROJECT = REPO / "dbt"
GOLD_TABLES = ("dim_card", "dim_card_history", "fct_orders", "fct_batch_performance", "fct_sku_supply_demand")


@dataclass(frozen=True)
class GoldBuild:
    """A DuckDB warehouse with RAW, Silver and Gold built by dbt, and the events behind it."""

    duckdb_path: Path
    events: list[dict[str, Any]]


_builds: dict[tuple[int, int, int], GoldBuild] = {}


def build_gold_duckdb(workdir: Path, *, events: int = 4_000, seed: int = 7, days: int = 14) -> GoldBuild:
    """Generate ``events``, load them into RAW.EVENTS and ``dbt run`` Silver and Gold (cached).

    Raises:
        RuntimeError: dbt failed (its output is in the message).
    """
    key = (events, seed, days)
    if key in _builds:
        return _builds[key]
    generated, _ = raw_factory.generate(events=events, seed=seed, days=days, anomalies=False)
    path = workdir / "warehouse.duckdb"
    raw_factory.insert_raw_duckdb(path, raw_factory.raw_rows(generated))
    settings = load_settings(data_dir=workdir, duckdb_path_override=path, warehouse_choice="duckdb")
    env = {
        **os.environ,
        **dbt_env(settings),  # the same settings -> dbt variables the transform flow uses
        "DBT_TARGET_PATH": str(workdir / "dbt-target"),
        "DBT_LOG_PATH": str(workdir / "dbt-logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    dbt = Path(sys.executable).with_name("dbt")
    result = subprocess.run(
        [str(dbt), "run", "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT)],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"dbt run failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}")
    _builds[key] = GoldBuild(path, generated)
    return _builds[key]


def _snowflake_type(duckdb_type: str) -> str:
    t = duckdb_type.upper()
    if t.startswith("DECIMAL"):
        return t.replace("DECIMAL", "NUMBER")
    if t in ("BIGINT", "INTEGER", "HUGEINT", "SMALLINT", "TINYINT", "UBIGINT"):
        return "NUMBER(38, 0)"
    if t == "TIMESTAMP WITH TIME ZONE":
        return "TIMESTAMP_TZ"
    if t == "TIMESTAMP":
        return "TIMESTAMP_NTZ"
    if t in ("DATE", "BOOLEAN", "VARCHAR", "DOUBLE"):
        return t
    raise ValueError(f"no Snowflake type for DuckDB type {duckdb_type!r}")


def copy_gold_to_snowflake(duckdb_path: Path, conn: Any, database: str, csv_dir: Path,
                           gold_schema: str = "GOLD") -> dict[str, int]:
    """Create ``database.gold_schema.<table>`` for every Gold table with the DuckDB file's rows.

    Rows travel as CSV files through ``COPY INTO`` from a ``file://`` location (one statement per
    table; row-by-row INSERTs through fakesnow's SQL translation take half a minute). Returns rows
    copied per table.
    """
    import duckdb

    csv_dir.mkdir(parents=True, exist_ok=True)
    cur = conn.cursor()
    cur.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {database}.{gold_schema}")
    copied: dict[str, int] = {}
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        for table in GOLD_TABLES:
            columns = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [gold_schema, table],
            ).fetchall()
            ddl = ", ".join(f"{name} {_snowflake_type(t)}" for name, t in columns)
            target = f"{database}.{gold_schema}.{table}"
            cur.execute(f"CREATE OR REPLACE TABLE {target} ({ddl})")
            csv_file = csv_dir / f"{table}.csv"
            con.execute(f"COPY (select * from {gold_schema}.{table}) TO '{csv_file}' (HEADER, DELIMITER ',')")
            cur.execute(
                f"COPY INTO {target} FROM '{csv_dir.as_uri()}/' FILES = ('{csv_file.name}') "
                "FILE_FORMAT = (TYPE = CSV SKIP_HEADER = 1 FIELD_OPTIONALLY_ENCLOSED_BY = '\"')"
            )
            cur.execute(f"SELECT count(*) FROM {target}")
            copied[table] = cur.fetchone()[0]
    return copied


def connect_fakesnow(port: int) -> Any:
    """A real snowflake-connector connection to the fakesnow server on ``port`` (session in UTC)."""
    import snowflake.connector

    return snowflake.connector.connect(
        account="fakesnow", user="fake", password="fake", host="localhost", port=port, protocol="http",
        session_parameters={"TIMEZONE": "UTC"},
    )


def build_gold_snowflake(gold: GoldBuild, port: int, database: str, workdir: Path) -> dict[str, int]:
    """Gold (copied from the DuckDB build) and RAW.EVENTS (the same events) in ``database`` on fakesnow."""
    conn = connect_fakesnow(port)
    try:
        copied = copy_gold_to_snowflake(gold.duckdb_path, conn, database, workdir / "gold-csv")
        raw_factory.create_raw_snowflake(conn, database)
        copied["RAW.EVENTS"] = raw_factory.insert_raw_snowflake(
            conn, raw_factory.raw_rows(gold.events), database, workdir / "raw-csv"
        )
        return copied
    finally:
        conn.close()
