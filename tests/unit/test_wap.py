"""Write-audit-publish on DuckDB: audit starts from published, publish is all-or-nothing."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from cardflow.backends.chooser import resolve_backends
from cardflow.settings import Settings, load_settings
from cardflow.transform.wap import audit_settings, layer_models, layer_schemas, prepare_audit, publish


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = load_settings(data_dir=tmp_path / "data")
    s.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    return s


def _rows(settings: Settings, table: str) -> list[tuple]:
    with duckdb.connect(str(settings.duckdb_path)) as con:
        return con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


def _make(settings: Settings, table: str, values: str) -> None:
    schema = table.split(".")[0]
    with duckdb.connect(str(settings.duckdb_path)) as con:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM (VALUES {values}) AS t(k, v)")


def test_audit_schema_names_and_dbt_settings(settings: Settings) -> None:
    assert layer_schemas(settings, "silver").audit == "SILVER_AUDIT"
    assert layer_schemas(settings, "gold").published == "GOLD"
    silver = audit_settings(settings, "silver")
    assert (silver.snowflake_silver_schema, silver.snowflake_gold_schema) == ("SILVER_AUDIT", "GOLD")
    gold = audit_settings(settings, "gold")
    assert (gold.snowflake_silver_schema, gold.snowflake_gold_schema) == ("SILVER", "GOLD_AUDIT")


def test_layer_models_come_from_the_dbt_project() -> None:
    assert {"stg_order_created", "int_events_rejected"} <= set(layer_models("silver"))
    assert {"dim_card", "fct_orders", "fct_sku_supply_demand"} <= set(layer_models("gold"))


def test_prepare_clones_published_and_drops_leftovers(settings: Settings) -> None:
    _make(settings, "GOLD.a", "(1, 'published')")
    _make(settings, "GOLD_AUDIT.a", "(9, 'stale audit')")
    _make(settings, "GOLD_AUDIT.b", "(9, 'failed run leftover')")
    schemas = layer_schemas(settings, "gold")
    with resolve_backends(settings).open_session() as wh:
        done = prepare_audit(wh, schemas, ["a", "b"])
        assert done == {"a": "cloned", "b": "dropped"}
        assert not wh.table_exists("GOLD_AUDIT", "b")
    assert _rows(settings, "GOLD_AUDIT.a") == [(1, "published")]


def test_full_refresh_starts_from_nothing(settings: Settings) -> None:
    _make(settings, "GOLD.a", "(1, 'published')")
    with resolve_backends(settings).open_session() as wh:
        assert prepare_audit(wh, layer_schemas(settings, "gold"), ["a"], full_refresh=True) == {
            "a": "dropped"
        }


def test_publish_replaces_every_table_of_the_layer(settings: Settings) -> None:
    _make(settings, "GOLD.a", "(1, 'old')")
    _make(settings, "GOLD_AUDIT.a", "(1, 'new'), (2, 'new')")
    _make(settings, "GOLD_AUDIT.b", "(3, 'first publish')")
    with resolve_backends(settings).open_session() as wh:
        assert publish(wh, layer_schemas(settings, "gold"), ["a", "b"], settings) == {
            "a": "replaced",
            "b": "replaced",
        }
    assert _rows(settings, "GOLD.a") == [(1, "new"), (2, "new")]
    assert _rows(settings, "GOLD.b") == [(3, "first publish")]


def test_publish_is_all_or_nothing(settings: Settings) -> None:
    _make(settings, "GOLD.a", "(1, 'old')")
    _make(settings, "GOLD.b", "(2, 'old')")
    _make(settings, "GOLD_AUDIT.a", "(1, 'new')")
    # b's audit table has an incompatible shape halfway through the layer: its replace fails
    with duckdb.connect(str(settings.duckdb_path)) as con:
        con.execute("CREATE OR REPLACE VIEW GOLD_AUDIT.b AS SELECT 1 / 0 AS k, error('boom') AS v")
    with resolve_backends(settings).open_session() as wh, pytest.raises(duckdb.Error):
        publish(wh, layer_schemas(settings, "gold"), ["a", "b"], settings)
    assert _rows(settings, "GOLD.a") == [(1, "old")]
    assert _rows(settings, "GOLD.b") == [(2, "old")]


def test_publish_refuses_when_an_audit_table_is_missing(settings: Settings) -> None:
    _make(settings, "GOLD.a", "(1, 'old')")
    _make(settings, "GOLD_AUDIT.a", "(1, 'new')")
    with resolve_backends(settings).open_session() as wh, pytest.raises(RuntimeError, match="b missing in GOLD_AUDIT"):
        publish(wh, layer_schemas(settings, "gold"), ["a", "b"], settings)
    assert _rows(settings, "GOLD.a") == [(1, "old")]
