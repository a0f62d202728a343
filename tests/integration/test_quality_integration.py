"""The gated transform on DuckDB: every generator anomaly is stopped by the right gate, Gold stays
exactly as it was, and a clean batch is published.

One module-scoped warehouse is built once: 10 days of generated events (anomalies injected at 1 %)
are split into the anomalies by kind and the clean rest; the clean events up to a day ago are loaded
and the flow publishes them (the baseline). Each test copies that warehouse, loads the last day of
clean events plus one kind of anomaly, runs ``dbt_transform_and_test`` and compares Gold with the
baseline. dbt runs in-process through plain dbtRunner (CARDFLOW_DBT_NODE_TASKS=false): the
PrefectDbtRunner path is the dbt part's to test, and it costs minutes per run here.
"""

from __future__ import annotations

import shutil
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from cardflow.errors import QualityGateFailed
from cardflow.settings import Settings, load_settings
from cardflow.sqlfiles import read_sql, split_statements
from flows.transform import dbt_transform_and_test
from tests.raw_factory import generate, insert_raw_duckdb, raw_rows

pytestmark = pytest.mark.integration

GOLD = ("dim_card", "dim_card_history", "fct_batch_performance", "fct_orders", "fct_sku_supply_demand")


@dataclass
class Scenario:
    """The baseline warehouse and the events the tests add to copies of it."""

    baseline_dir: Path
    gold: dict[str, list[tuple]]
    last_day: list[dict[str, Any]]
    anomalies: dict[str, list[dict[str, Any]]]


def _kind(event: dict[str, Any], seen: set[tuple[str, str]]) -> str | None:
    """The generator anomaly an event carries, judged from the event itself (None = clean)."""
    payload = event["payload"]
    if not isinstance(payload, dict):
        return None  # malformed: Silver rejects it into int_events_rejected, not a gate matter
    if event["event_type"] == "OrderCreated":
        if payload.get("quantity", 0) < 0:
            return "negative_quantity"
        if str(payload.get("sku", "")).startswith("UNK-"):
            return "unknown_sku"
        key = (payload["order_id"], payload["status"])
        if key in seen:
            return "duplicate_delivery"
        seen.add(key)
    if event["event_type"] == "ManufacturingBatch":
        if payload.get("quantity_produced", 0) < 0:
            return "negative_quantity"
        rate = payload.get("defect_rate_estimate") or {"units": 0, "scale": 0}
        if Decimal(rate["units"]).scaleb(-rate["scale"]) > 1:
            return "defect_rate_above_one"
    return None


def _gold(settings: Settings) -> dict[str, list[tuple]]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        return {m: con.execute(f"SELECT * FROM GOLD.{m} ORDER BY ALL").fetchall() for m in GOLD}


def _settings(data_dir: Path, **overrides: Any) -> Settings:
    return load_settings(data_dir=data_dir, dbt_node_tasks=False, dbt_threads=2, **overrides)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    now = datetime.now(UTC)
    events, _ = generate(events=4_000, seed=11, anomalies=True, anomaly_rate=0.01, days=10, end=now)
    seen: set[tuple[str, str]] = set()
    anomalies: dict[str, list[dict[str, Any]]] = defaultdict(list)
    clean = []
    for event in sorted(events, key=lambda e: e["inserted_at"]):
        kind = _kind(event, seen)
        (anomalies[kind] if kind else clean).append(event)
    assert {"negative_quantity", "defect_rate_above_one", "duplicate_delivery", "unknown_sku"} <= set(anomalies)
    cutoff = now - timedelta(days=1)
    baseline_dir = tmp_path_factory.mktemp("baseline")
    # the baseline's newest event is about a day old: relax freshness for this one run only
    settings = _settings(baseline_dir, raw_events_freshness_warn_hours=30, raw_events_freshness_error_hours=48)
    insert_raw_duckdb(
        settings.duckdb_path, raw_rows([e for e in clean if e["inserted_at"] < cutoff], file_prefix="base")
    )
    result = dbt_transform_and_test(settings=settings)
    assert set(result.layers) == {"silver", "gold"}
    return Scenario(baseline_dir, _gold(settings), [e for e in clean if e["inserted_at"] >= cutoff], dict(anomalies))


def _run_on_copy(scenario: Scenario, tmp_path: Path, events: list[dict[str, Any]], **overrides: Any) -> Settings:
    data_dir = tmp_path / "data"
    shutil.copytree(scenario.baseline_dir, data_dir)
    settings = _settings(data_dir, **overrides)
    if events:
        insert_raw_duckdb(settings.duckdb_path, raw_rows(events, file_prefix="run2"))
    return settings


def _slots(settings: Settings) -> dict[str, Any]:
    """Per layer, the audit slot its views point at (live) and the one a build left unpublished."""
    from cardflow.backends.chooser import resolve_backends
    from cardflow.transform.wap import slot_state

    with resolve_backends(settings).open_session() as warehouse:
        return {layer: slot_state(warehouse, layer) for layer in ("silver", "gold")}


def _tables(settings: Settings, schema: str) -> set[str]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        rows = con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [schema])
        return {r[0] for r in rows.fetchall()}


@pytest.mark.parametrize(
    ("kind", "gate", "expectation"),
    [
        ("negative_quantity", "silver", "expect_column_values_to_be_between(quantity"),
        (
            "defect_rate_above_one",
            "silver",
            "stg_manufacturing_batch: expect_column_values_to_be_between(defect_rate_estimate)",
        ),
        (
            "duplicate_delivery",
            "silver",
            "stg_order_created: expect_compound_columns_to_be_unique(order_id, status)",
        ),
        ("unknown_sku", "gold", "fct_orders: expect_column_values_to_be_in_set(sku)"),
    ],
)
def test_anomaly_stops_the_right_gate_and_gold_is_unchanged(
    scenario: Scenario, tmp_path: Path, kind: str, gate: str, expectation: str
) -> None:
    settings = _run_on_copy(scenario, tmp_path, scenario.last_day + scenario.anomalies[kind])
    with pytest.raises(QualityGateFailed) as err:
        dbt_transform_and_test(settings=settings)
    assert err.value.gate == gate
    assert any(expectation in f for f in err.value.failures), err.value.failures
    assert _gold(settings) == scenario.gold
    # the failed build stays for inspection, in the slot the published views do not point at
    slots = _slots(settings)
    assert slots["silver"].live == "SILVER_AUDIT"  # what the baseline run published, still live
    assert slots["silver"].building == "SILVER_AUDIT_B"
    assert "stg_order_created" in _tables(settings, slots["silver"].building)
    if gate == "gold":
        assert "fct_orders" in _tables(settings, slots["gold"].building)
        assert any(
            "fct_sku_supply_demand: expect_column_values_to_be_in_set(is_known_sku)" in f for f in err.value.failures
        )


def test_stale_data_fails_before_building(scenario: Scenario, tmp_path: Path) -> None:
    settings = _run_on_copy(scenario, tmp_path, [])  # nothing new: the newest event is a day old
    with pytest.raises(QualityGateFailed, match="stale data") as err:
        dbt_transform_and_test(settings=settings)
    assert err.value.gate == "raw_events"
    assert _gold(settings) == scenario.gold


def test_volume_drop_fails_before_building(scenario: Scenario, tmp_path: Path) -> None:
    settings = _run_on_copy(scenario, tmp_path, scenario.last_day[::5])  # a fifth of a day's events
    with pytest.raises(QualityGateFailed, match="volume drop") as err:
        dbt_transform_and_test(settings=settings)
    assert err.value.gate == "raw_events"
    assert _gold(settings) == scenario.gold


def test_clean_batch_passes_and_is_published(scenario: Scenario, tmp_path: Path) -> None:
    settings = _run_on_copy(scenario, tmp_path, scenario.last_day)
    result = dbt_transform_and_test(settings=settings)
    assert result.raw_checks == {"freshness": "ok", "volume": "ok"}
    gold = _gold(settings)
    assert len(gold["fct_orders"]) > len(scenario.gold["fct_orders"])
    audit = _slots(settings)["gold"].live
    assert audit == "GOLD_AUDIT_B" and _slots(settings)["gold"].building is None
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        for model in GOLD:  # published == what the gate validated
            assert con.execute(f"SELECT * FROM GOLD.{model} EXCEPT SELECT * FROM {audit}.{model}").fetchall() == []
            assert con.execute(f"SELECT * FROM {audit}.{model} EXCEPT SELECT * FROM GOLD.{model}").fetchall() == []
        newest = con.execute("SELECT max(event_inserted_at) FROM GOLD.fct_orders").fetchone()[0]
    assert newest >= max(e["inserted_at"] for e in scenario.last_day if e["event_type"] == "OrderCreated")
    assert (
        settings.resolved_data_dir / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    ).is_file()


def test_adhoc_checks_run_on_duckdb(scenario: Scenario) -> None:
    """Every statement of sql/data_quality_checks.sql runs as-is on the published warehouse."""
    settings = _settings(scenario.baseline_dir)
    statements = split_statements(read_sql("data_quality_checks.sql"))
    assert len(statements) >= 10
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        results = [con.execute(s).fetchall() for s in statements]
    assert results[0][0][3] in ("warn", "error")  # baseline's newest event is a day old
    assert results[6] == [] and results[7] == []  # clean baseline: no order_total mismatch, no unknown SKU


def _holds(settings: Settings) -> list[tuple[str, str]]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        return [tuple(r) for r in con.execute("SELECT event_id, reason FROM RAW.EVENTS_HELD ORDER BY 1").fetchall()]


def _corrected(event: dict[str, Any]) -> dict[str, Any]:
    """docs/runbook.md's correction: the same order under a new event_id, a later inserted_at, fixed."""
    payload = dict(event["payload"], quantity=abs(event["payload"]["quantity"]) or 1)
    return {**event, "event_id": str(uuid.uuid4()), "payload": payload,
            "inserted_at": event["inserted_at"] + timedelta(seconds=1)}  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "gate", "reason"),
    [
        ("negative_quantity", "silver", "gate_silver:stg_order_created:expect_column_values_to_be_between(quantity)"),
        ("unknown_sku", "gold", "gate_gold:fct_orders:expect_column_values_to_be_in_set(sku)"),
    ],
)
def test_failed_gate_holds_bad_events_and_the_next_run_publishes_the_rest(
    scenario: Scenario, tmp_path: Path, kind: str, gate: str, reason: str
) -> None:
    """Policy (docs/runbook.md): the failing run holds the offending events with the gate's reason;
    the next run publishes every other event; the runbook's correction then reaches Gold."""
    bad = [e for e in scenario.anomalies[kind] if e["event_type"] == "OrderCreated"]
    settings = _run_on_copy(scenario, tmp_path, scenario.last_day + bad)
    with pytest.raises(QualityGateFailed) as err:
        dbt_transform_and_test(settings=settings)
    assert err.value.gate == gate
    assert _gold(settings) == scenario.gold
    holds = _holds(settings)
    assert {e["event_id"] for e in bad} <= {h[0] for h in holds}
    assert {h[1] for h in holds if h[0] in {e["event_id"] for e in bad}} == {reason}
    assert len(holds) == len(bad)  # nothing valid held

    result = dbt_transform_and_test(settings=settings)  # the next run publishes the rest
    assert set(result.layers) == {"silver", "gold"}
    bad_orders = {e["payload"]["order_id"] for e in bad}
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        published = {r[0] for r in con.execute("SELECT order_id FROM GOLD.fct_orders").fetchall()}
        silver_ids = {r[0] for r in con.execute("SELECT event_id FROM SILVER.stg_order_created").fetchall()}
    want = {
        e["payload"]["order_id"]
        for e in scenario.last_day
        if e["event_type"] == "OrderCreated" and isinstance(e["payload"], dict)
    }
    assert want - bad_orders <= published
    assert not silver_ids & {e["event_id"] for e in bad}

    if kind == "negative_quantity":  # the runbook's correction recipe works
        insert_raw_duckdb(settings.duckdb_path, raw_rows([_corrected(e) for e in bad], file_prefix="fix"))
        dbt_transform_and_test(settings=settings)
        with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
            fixed = dict(con.execute("SELECT order_id, quantity FROM GOLD.fct_orders").fetchall())
        assert all(fixed[e["payload"]["order_id"]] == abs(e["payload"]["quantity"]) for e in bad)


def test_a_run_with_nothing_new_builds_nothing_and_one_new_event_builds_again(
    scenario: Scenario, tmp_path: Path
) -> None:
    """The hourly run that finds RAW unchanged checks RAW, then stops: no audit build, no gate, no
    publish (the slots stay where they were); one more loaded event makes the next run build."""
    from cardflow.reporting.report import read_quality_status

    settings = _run_on_copy(scenario, tmp_path, scenario.last_day)
    assert dbt_transform_and_test(settings=settings).built
    slots, gold = _slots(settings), _gold(settings)

    quiet = dbt_transform_and_test(settings=settings)
    assert not quiet.built and quiet.layers == {}
    assert quiet.raw_checks == {"freshness": "ok", "volume": "ok"}  # freshness still measured
    assert _slots(settings) == slots  # nothing was built into the other slot, nothing published
    assert _gold(settings) == gold
    recorded = read_quality_status(settings)
    assert recorded.status == "passed" and any(g["status"] == "unchanged" for g in recorded.gates)

    order = next(e for e in scenario.last_day if e["event_type"] == "OrderCreated")
    late = {
        **order,
        "event_id": str(uuid.uuid4()),
        "payload": {**order["payload"], "order_id": f"O-{uuid.uuid4()}"},
    }
    insert_raw_duckdb(settings.duckdb_path, raw_rows([late], file_prefix="run3"))
    again = dbt_transform_and_test(settings=settings)
    assert again.built and set(again.layers) == {"silver", "gold"}
    assert _slots(settings)["gold"].live != slots["gold"].live
    assert len(_gold(settings)["fct_orders"]) == len(gold["fct_orders"]) + 1
