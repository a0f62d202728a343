"""Write-audit-publish on DuckDB: two audit slots per layer, published as views, nothing copied.

The contract: a build goes to the slot analysts do not read; it starts from the version published
before (kept, not copied) unless that slot holds an unpublished build (then it is re-synced); the
publish repoints every view of Silver and Gold in one transaction, so a crash half-way leaves the
old layers readable.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

import cardflow.transform.wap as wap
from cardflow.backends.chooser import resolve_backends
from cardflow.settings import Settings, load_settings
from cardflow.transform.build_stamp import BuildStamp, published_stamp
from cardflow.transform.wap import (
    audit_schema,
    audit_settings,
    layer_models,
    layer_schemas,
    prepare_audit,
    publish,
    slot_state,
)


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


def _kind(settings: Settings, schema: str, table: str) -> str:
    with duckdb.connect(str(settings.duckdb_path)) as con:
        return con.execute(
            "SELECT table_type FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchone()[0]


def _session(settings: Settings):
    return resolve_backends(settings).open_session()


def test_audit_schema_names_and_dbt_settings(settings: Settings) -> None:
    gold = layer_schemas(settings, "gold")
    assert layer_schemas(settings, "silver").audit == "SILVER_AUDIT"
    assert gold.published == "GOLD" and gold.slots == ("GOLD_AUDIT", "GOLD_AUDIT_B")
    silver = audit_settings(settings, "silver", "SILVER_AUDIT_B")
    assert (silver.snowflake_silver_schema, silver.snowflake_gold_schema) == ("SILVER_AUDIT_B", "GOLD")
    gold_build = audit_settings(settings, "gold", "GOLD_AUDIT", silver="SILVER_AUDIT_B")
    assert (gold_build.snowflake_silver_schema, gold_build.snowflake_gold_schema) == ("SILVER_AUDIT_B", "GOLD_AUDIT")


def test_layer_models_come_from_the_dbt_project() -> None:
    assert {"stg_order_created", "int_events_rejected"} <= set(layer_models("silver"))
    assert {"dim_card", "fct_orders", "fct_sku_supply_demand"} <= set(layer_models("gold"))


def test_first_build_starts_from_nothing(settings: Settings) -> None:
    gold = layer_schemas(settings, "gold")
    with _session(settings) as wh:
        assert prepare_audit(wh, gold, ["a"]) == {"a": "dropped"}
        assert audit_schema(wh, gold) == "GOLD_AUDIT"
        assert slot_state(wh, "gold") == wap.SlotState(None, "GOLD_AUDIT")


def test_publish_turns_tables_into_views_and_the_next_build_copies_nothing(settings: Settings) -> None:
    gold = layer_schemas(settings, "gold")
    _make(settings, "GOLD.a", "(1, 'legacy table')")  # published by an earlier cardflow
    with _session(settings) as wh:
        assert prepare_audit(wh, gold, ["a"]) == {"a": "resynced"}  # unknown slot: start from published
    _make(settings, "GOLD_AUDIT.a", "(1, 'v1')")  # what the build wrote
    with _session(settings) as wh:
        assert publish(wh, [(gold, ["a"])], settings) == {"gold": {"a": "view -> GOLD_AUDIT"}}
    assert _kind(settings, "GOLD", "a") == "VIEW" and _rows(settings, "GOLD.a") == [(1, "v1")]

    _make(settings, "GOLD_AUDIT_B.a", "(0, 'v0, published before v1')")
    with _session(settings) as wh:
        assert prepare_audit(wh, gold, ["a"]) == {"a": "kept"}  # the build catches up from v0
        assert audit_schema(wh, gold) == "GOLD_AUDIT_B"
    assert _rows(settings, "GOLD_AUDIT_B.a") == [(0, "v0, published before v1")]
    _make(settings, "GOLD_AUDIT_B.a", "(2, 'v2')")
    with _session(settings) as wh:
        publish(wh, [(gold, ["a"])], settings)
        assert slot_state(wh, "gold") == wap.SlotState("GOLD_AUDIT_B", None)
    assert _rows(settings, "GOLD.a") == [(2, "v2")]


def test_an_unpublished_build_is_resynced_from_published(settings: Settings) -> None:
    gold = layer_schemas(settings, "gold")
    _make(settings, "GOLD_AUDIT.a", "(1, 'v1')")
    with _session(settings) as wh:
        prepare_audit(wh, gold, ["a"], full_refresh=True)
    _make(settings, "GOLD_AUDIT.a", "(1, 'v1')")
    with _session(settings) as wh:
        publish(wh, [(gold, ["a"])], settings)
        assert prepare_audit(wh, gold, ["a"]) == {"a": "resynced"}  # slot B used for the first time
    _make(settings, "GOLD_AUDIT_B.a", "(9, 'failed the gate')")  # built, never published
    with _session(settings) as wh:
        assert prepare_audit(wh, gold, ["a"]) == {"a": "resynced"}
        assert audit_schema(wh, gold) == "GOLD_AUDIT_B"
    assert _rows(settings, "GOLD_AUDIT_B.a") == [(1, "v1")]


def test_silver_and_gold_publish_is_atomic(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash between two view switches leaves both old layers readable, and the state unchanged:
    the slots and the record of what the published build read."""
    old_stamp = BuildStamp(10, datetime(2026, 12, 1, tzinfo=UTC), 0, "old")
    new_stamp = BuildStamp(12, datetime(2026, 12, 2, tzinfo=UTC), 0, "old")
    silver, gold = layer_schemas(settings, "silver"), layer_schemas(settings, "gold")
    layers = [(silver, ["s1", "s2"]), (gold, ["g1"])]
    with _session(settings) as wh:
        for schemas, models in layers:
            prepare_audit(wh, schemas, models, full_refresh=True)
    for schemas, models in layers:
        for model in models:
            _make(settings, f"{schemas.audit}.{model}", "(1, 'old')")
    with _session(settings) as wh:
        publish(wh, layers, settings, old_stamp)
        for schemas, models in layers:
            prepare_audit(wh, schemas, models)
    for schemas, models in layers:
        for model in models:
            _make(settings, f"{schemas.audit}_B.{model}", "(2, 'new')")

    calls = []
    real_step = wap._publish_step

    def crash_on_third(warehouse, published, audit):
        calls.append(published)
        if len(calls) == 3:
            raise KeyboardInterrupt("killed between swap steps")
        real_step(warehouse, published, audit)

    monkeypatch.setattr(wap, "_publish_step", crash_on_third)
    with _session(settings) as wh, pytest.raises(KeyboardInterrupt):
        publish(wh, layers, settings, new_stamp)
    assert calls == ["SILVER.s1", "SILVER.s2", "GOLD.g1"]
    for table in ("SILVER.s1", "SILVER.s2", "GOLD.g1"):
        assert _rows(settings, table) == [(1, "old")]
    with _session(settings) as wh:
        assert slot_state(wh, "silver") == wap.SlotState("SILVER_AUDIT", "SILVER_AUDIT_B")
        assert published_stamp(wh, settings) == old_stamp  # the next run builds again

    monkeypatch.setattr(wap, "_publish_step", real_step)
    with _session(settings) as wh:
        publish(wh, layers, settings, new_stamp)
        assert published_stamp(wh, settings) == new_stamp
    for table in ("SILVER.s1", "SILVER.s2", "GOLD.g1"):
        assert _rows(settings, table) == [(2, "new")]


def test_publish_refuses_when_an_audit_table_is_missing(settings: Settings) -> None:
    gold = layer_schemas(settings, "gold")
    _make(settings, "GOLD.a", "(1, 'old')")
    with _session(settings) as wh:
        prepare_audit(wh, gold, ["a", "b"], full_refresh=True)
    _make(settings, "GOLD_AUDIT.a", "(1, 'new')")
    with _session(settings) as wh, pytest.raises(RuntimeError, match="b missing in GOLD_AUDIT"):
        publish(wh, [(gold, ["a", "b"])], settings)
    assert _rows(settings, "GOLD.a") == [(1, "old")]


def _comment(settings: Settings, schema: str, table: str) -> str | None:
    with duckdb.connect(str(settings.duckdb_path)) as con:
        return con.execute(
            "SELECT comment FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?", [schema, table]
        ).fetchone()[0]


def test_a_resynced_slot_carries_the_published_tables_watermark(settings: Settings) -> None:
    """Silver's table comment says how far into RAW its build looked (the next run's watermark): a
    re-synced slot gets the published table's comment, never keeps the one of the build it replaced."""
    silver = layer_schemas(settings, "silver")
    _make(settings, "SILVER_AUDIT.a", "(1, 'v1')")
    with _session(settings) as wh:
        prepare_audit(wh, silver, ["a"], full_refresh=True)
    _make(settings, "SILVER_AUDIT.a", "(1, 'v1')")
    with duckdb.connect(str(settings.duckdb_path)) as con:
        con.execute("COMMENT ON TABLE SILVER_AUDIT.a IS 'cardflow raw_loaded_through=2026-12-01T10:00:00+00:00'")
    with _session(settings) as wh:
        publish(wh, [(silver, ["a"])], settings)
        assert prepare_audit(wh, silver, ["a"]) == {"a": "resynced"}  # slot B used for the first time
    assert _comment(settings, "SILVER_AUDIT_B", "a") == "cardflow raw_loaded_through=2026-12-01T10:00:00+00:00"
    _make(settings, "SILVER_AUDIT_B.a", "(9, 'failed the gate')")
    with duckdb.connect(str(settings.duckdb_path)) as con:
        con.execute("COMMENT ON TABLE SILVER_AUDIT_B.a IS 'cardflow raw_loaded_through=2026-12-02T10:00:00+00:00'")
    with _session(settings) as wh:
        assert prepare_audit(wh, silver, ["a"]) == {"a": "resynced"}
    assert _rows(settings, "SILVER_AUDIT_B.a") == [(1, "v1")]
    assert _comment(settings, "SILVER_AUDIT_B", "a") == "cardflow raw_loaded_through=2026-12-01T10:00:00+00:00"
